"""The words ModelGov uses, each defined once: environments, risk tiers, people's roles, deployment roles.

Pages, CLI choices, validation and documentation read these tuples; nothing else spells them out.
"""

from __future__ import annotations

from .errors import InvalidInput

# What a version does (model_versions.task), and the metric each task is judged by (health, alerts, the evidence
# checks against the live champion); AUC-like metrics change in points (×100), the others by ratio or value.
TASKS: tuple[str, ...] = ("binary_classification", "multiclass_classification", "regression")
PRIMARY_METRIC = {"binary_classification": "auc", "multiclass_classification": "auc_ovr_macro",
                  "regression": "rmse"}
AUC_LIKE: tuple[str, ...] = ("auc", "auc_ovr_macro")

# Where a version can be live, most important first (pages and CLI default to the first).
ENVIRONMENTS: tuple[str, ...] = ("production", "staging")
DEFAULT_ENVIRONMENT = ENVIRONMENTS[0]

# How much harm a model can do; policies, approvals needed and re-certification follow the tier.
RISK_TIERS: tuple[str, ...] = ("low", "medium", "high")
RISK_TIERS_HIGHEST_FIRST: tuple[str, ...] = tuple(reversed(RISK_TIERS))

# What a person may do (granted by an administrator or mapped from the identity provider's claims).
VIEWER, DATA_SCIENTIST, RISK_OFFICER, ADMIN = "viewer", "data_scientist", "risk_officer", "admin"
PERSON_ROLES: tuple[str, ...] = (VIEWER, DATA_SCIENTIST, RISK_OFFICER, ADMIN)

# What a live version does in its environment: the champion answers, challengers score in shadow.
CHAMPION, CHALLENGER = "champion", "challenger"
DEPLOYMENT_ROLES: tuple[str, ...] = (CHAMPION, CHALLENGER)


def validate_environment(env: str) -> str:
    if env not in ENVIRONMENTS:
        raise InvalidInput(f"Unknown environment '{env}': use one of {', '.join(ENVIRONMENTS)}.")
    return env


def validate_tier(tier: str) -> str:
    if tier not in RISK_TIERS:
        raise InvalidInput(f"Risk tier {tier!r} is not one of {', '.join(RISK_TIERS)}.")
    return tier


def validate_deployment_role(role: str) -> str:
    if role not in DEPLOYMENT_ROLES:
        raise InvalidInput(f"Unknown role '{role}': use {' or '.join(DEPLOYMENT_ROLES)}.")
    return role


def validate_person_role(role: str) -> str:
    if role not in PERSON_ROLES:
        raise InvalidInput(f"Unknown role {role!r}; choose one of {', '.join(PERSON_ROLES)}.")
    return role
