"""Who is acting, which roles they hold, and the one permission matrix.

Every mutating core function calls `require()` inside its transaction; a page
may call `allowed()` to hide a button, which never replaces `require()`.
"""

from __future__ import annotations

import re
from dataclasses import field

import duckdb

from .errors import Forbidden, InvalidInput
from .vocabulary import ADMIN, DATA_SCIENTIST, PERSON_ROLES, RISK_OFFICER, VIEWER, validate_person_role
from .events import Event
from .frozen import frozen_record

ROLE_LABELS = {
    VIEWER: "Viewer (business stakeholder)",
    DATA_SCIENTIST: "Data scientist",
    RISK_OFFICER: "Risk officer",
    ADMIN: "Administrator",
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


@frozen_record
class Identity:
    """The acting person: an e-mail (the stable id) and the roles they hold now."""

    email: str
    roles: frozenset[str] = field(default_factory=frozenset)
    name: str = ""
    # The ModelGov access token this identity was proven with (its public id, `tok_…`), "" otherwise: every
    # audit event recorded for it carries the id, so a change made through the API names the token used.
    token_id: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email

    def has_role(self, role: str) -> bool:
        return role in self.roles


SYSTEM = Identity("system@modelgov", frozenset(PERSON_ROLES), "ModelGov")


@frozen_record
class Permission:
    """A named action and the roles that may perform it."""

    name: str
    description: str
    roles: frozenset[str]


def _p(name: str, description: str, *roles: str) -> Permission:
    return Permission(name, description, frozenset(roles))


ALL = (VIEWER, DATA_SCIENTIST, RISK_OFFICER, ADMIN)
PERMISSIONS: dict[str, Permission] = {p.name: p for p in [
    _p("view", "Browse models, health, drift, explanations and lineage", *ALL),
    _p("compute-results", "Compute and cache derived results (drift, explanations)", *ALL),
    _p("register-model", "Register models, versions and datasets; edit model cards (a new model's first "
       "risk tier included)", DATA_SCIENTIST),
    _p("set-risk-tier", "Change a model's risk tier, with a reason", RISK_OFFICER),
    _p("log-predictions", "Score data and log predictions and outcomes", DATA_SCIENTIST),
    _p("store-monitoring", "Store the monitoring snapshot health and evidence packs read, and raise its alerts",
       DATA_SCIENTIST),
    _p("edit-lineage", "Add lineage nodes and edges, import OpenLineage events", DATA_SCIENTIST),
    _p("view-approvals", "See deployment requests, evidence packs, decisions and a model's change history",
       DATA_SCIENTIST, RISK_OFFICER, ADMIN),
    _p("request-deployment", "Request deployment of a version", DATA_SCIENTIST),
    _p("approve-deployment", "Approve or reject a deployment request", RISK_OFFICER),
    _p("deploy", "Deploy an approved request", DATA_SCIENTIST, RISK_OFFICER),
    _p("rollback", "Roll an environment back to its previous champion", RISK_OFFICER),
    _p("recertify", "Re-certify a deployed model", RISK_OFFICER),
    _p("manage-alerts", "Acknowledge and resolve alerts", DATA_SCIENTIST, RISK_OFFICER),
    _p("read-audit", "Read and export the audit trail", RISK_OFFICER, ADMIN),
    _p("manage-users", "Grant and revoke roles", ADMIN),
    _p("set-policy", "Set policy thresholds and settings", ADMIN),
    _p("manage-hooks", "Add, remove and test notification hooks (webhooks, e-mail) and read their delivery log",
       ADMIN),
    _p("subscribe-notifications", "Subscribe one's own e-mail address to notifications (a risk officer: requests "
       "waiting for the tiers they approve)", DATA_SCIENTIST, RISK_OFFICER, ADMIN),
]}


def permission_matrix() -> list[dict[str, object]]:
    """The matrix as rows (action, description, one bool per role), for docs and pages."""
    return [
        {"action": p.name, "description": p.description, **{r: r in p.roles for r in PERSON_ROLES}}
        for p in PERMISSIONS.values()
    ]


def allowed(actor: Identity | None, action: str) -> bool:
    """Whether `actor` may perform `action` (a courtesy for hiding controls)."""
    if action not in PERMISSIONS:
        raise KeyError(f"Unknown action {action!r}")
    return actor is not None and bool(actor.roles & PERMISSIONS[action].roles)


def require(actor: Identity | None, action: str, event: type[Event] | str | None = None,
            entity_id: object = "") -> None:
    """Raise `Forbidden` unless `actor` may perform `action` (a permission of the matrix).

    `event` is the audit event the attempt would record (a class from core.events): a refusal is recorded
    under that event's action name, so one filter finds successes and refusals alike. A read that records
    no event passes nothing (the refusal is recorded under the permission's name) or the entity type.
    Call it inside `store.transaction()`: the transaction rolls back and records the refusal.
    """
    if allowed(actor, action):
        return
    if isinstance(event, str) or event is None:
        refused_action, entity_type = action, event or ""
    else:
        refused_action, entity_type = event.action, event.entity_type
    who = actor.email if actor else "anonymous"
    roles = ", ".join(sorted(actor.roles)) if actor and actor.roles else "no role"
    need = " or ".join(sorted(PERMISSIONS[action].roles))
    refused = Forbidden(
        f"{who} ({roles}) may not {action.replace('-', ' ')}: that needs the role {need}; "
        "ask an administrator for it.",
        actor=who, action=refused_action, entity_type=entity_type, entity_id=str(entity_id),
    )
    refused.token_id = actor.token_id if actor else ""
    raise refused


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not _EMAIL.match(email):
        raise InvalidInput(f"{email!r} is not an e-mail address; name people by e-mail, e.g. ada@example.com.")
    return email


def check_role(role: str) -> str:
    return validate_person_role(role)


# Separation of duties: who manages roles does not also approve deployments. Each pair here is never held by
# one person: a grant that would combine them is refused, and an identity that would combine them (claims
# plus grants at sign-in) keeps the first role of the pair only, so it can still undo the situation.
EXCLUSIVE_ROLES: tuple[tuple[str, str], ...] = ((ADMIN, RISK_OFFICER),)


def separate_duties(roles: frozenset[str]) -> frozenset[str]:
    """`roles` without the second role of each exclusive pair it holds both of (see EXCLUSIVE_ROLES)."""
    roles = frozenset(roles)
    for kept, dropped in EXCLUSIVE_ROLES:
        if kept in roles and dropped in roles:
            roles = roles - {dropped}
    return roles


def exclusive_with(role: str) -> list[str]:
    """The roles a holder of `role` may not also hold."""
    return [b if a == role else a for a, b in EXCLUSIVE_ROLES if role in (a, b)]


def granted_roles(con: duckdb.DuckDBPyConnection, email: str) -> frozenset[str]:
    rows = con.execute("SELECT role FROM role_grants WHERE email = ?", [email.lower()]).fetchall()
    return frozenset(r[0] for r in rows)


def identity_for(store, email: str, *, extra_roles: frozenset[str] = frozenset(), name: str = "") -> Identity:
    """The identity of `email` with the roles granted in the store (plus `extra_roles`), duties separated."""
    email = normalise_email(email)
    with store.read() as con:
        roles = granted_roles(con, email)
    return Identity(email, separate_duties(roles | extra_roles), name)
