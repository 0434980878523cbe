"""Policies per risk tier, and the checks a version's evidence is held to.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from typing import Any

from ..audit import canonical_json, record, utcnow
from ..errors import InvalidInput
from ..events import Event, PolicyUpdated
from ..identity import Identity, require
from ..registry.records import CARD_FIELDS, ModelVersion
from ..vocabulary import PRIMARY_METRIC, RISK_TIERS_HIGHEST_FIRST, validate_tier  # noqa: F401 (PRIMARY_METRIC is read as policy.PRIMARY_METRIC)
from ..frozen import frozen_record

POLICY_FIELDS = ("min_auc", "min_r2", "max_drift_share", "required_card_fields", "approvals_needed",
                 "recertify_days", "approval_valid_days", "min_parity_ratio")


def iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (datetime, date)) else value


@frozen_record
class Policy:
    risk_tier: str
    min_auc: float | None
    min_r2: float | None
    max_drift_share: float | None
    required_card_fields: list[str]
    approvals_needed: int
    recertify_days: int
    approval_valid_days: int
    updated_by: str
    updated_at: datetime
    min_parity_ratio: float | None = None  # fairness (migration 0019): each declared attribute's DP ratio ≥ this

    def as_dict(self) -> dict[str, Any]:
        return {k: iso(getattr(self, k)) for k in ("risk_tier",) + POLICY_FIELDS + ("updated_by", "updated_at")}


def policy_tx(con, tier: str) -> Policy:
    r = con.execute("SELECT risk_tier, min_auc, min_r2, max_drift_share, CAST(required_card_fields AS VARCHAR),"
                    " approvals_needed, recertify_days, approval_valid_days, updated_by, updated_at,"
                    " min_parity_ratio FROM policies WHERE risk_tier = ?", [tier]).fetchone()
    return Policy(*r[:4], json.loads(r[4]), *r[5:10], min_parity_ratio=r[10])


def policies(store) -> list[Policy]:
    with store.read() as con:
        return [policy_tx(con, t) for t in RISK_TIERS_HIGHEST_FIRST]


# The words for each policy field, shared by the page, the CLI's sentence and error messages.
POLICY_LABELS = {"min_auc": "minimum AUC", "min_r2": "minimum R²", "max_drift_share": "maximum drifted share",
                 "required_card_fields": "required card fields", "approvals_needed": "approvers",
                 "recertify_days": "re-certify every (days)", "approval_valid_days": "approval valid (days)",
                 "min_parity_ratio": "minimum demographic-parity ratio"}
OPTIONAL_THRESHOLDS = ("min_auc", "min_r2", "max_drift_share", "min_parity_ratio")  # empty (None) = no check


def policy_value_text(key: str, value: Any) -> str:
    """A policy value in words: 'no check' for an empty threshold, card fields by name."""
    if value is None:
        return "no check"
    if key == "required_card_fields":
        return ", ".join(f.replace("_", " ") for f in value) or "none"
    if isinstance(value, float):
        return f"{value:.0%}" if key == "max_drift_share" else f"{value:g}"
    return str(value)


@frozen_record
class PolicyChange:
    """What `change_policy` did: the tier's policy now, and each field that changed {field: {from, to}}."""

    policy: Policy
    changes: dict[str, dict[str, Any]]

    @property
    def sentence(self) -> str:
        """'Policy for high risk: minimum AUC 0.7 → 0.72; approvers 2 → 1.' or '…: nothing changed.'"""
        if not self.changes:
            return f"Policy for {self.policy.risk_tier} risk: nothing changed."
        parts = [f"{POLICY_LABELS[k]} {policy_value_text(k, c['from'])} → {policy_value_text(k, c['to'])}"
                 for k, c in self.changes.items()]
        return f"Policy for {self.policy.risk_tier} risk: " + "; ".join(parts) + "."


def _normalised(key: str, value: Any) -> Any:
    if key == "required_card_fields":
        return list(value)
    if key in OPTIONAL_THRESHOLDS:
        return None if value is None else float(value)
    return int(float(value))


def change_policy(store, actor: Identity, risk_tier: str, **changes: Any) -> PolicyChange:
    """Change a tier's policy; returns the policy and what changed (nothing is written when nothing changed).

    Needs `set-policy` (administrators). Records `policy.update` with the same changes, only when something
    changed. Raises InvalidInput (unknown field, value out of range; `field` names it), Forbidden.
    """
    validate_tier(risk_tier)
    unknown = set(changes) - set(POLICY_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown policy field(s) {', '.join(sorted(unknown))}; use {', '.join(POLICY_FIELDS)}.")
    for key in OPTIONAL_THRESHOLDS:
        v = changes.get(key)
        if v is None:
            continue
        number = _number(key, v)
        # R² may be negative (a model worse than the mean) but never above 1; AUC and shares lie in [0, 1].
        lo = -math.inf if key == "min_r2" else 0.0
        if not (math.isfinite(number) and lo <= number <= 1.0):
            span = "a finite number at most 1" if key == "min_r2" else "between 0 and 1"
            raise InvalidInput(f"The {POLICY_LABELS[key]} must be {span} (or be empty to skip the check); got {v}.",
                               field=key)
    if "required_card_fields" in changes:
        bad = [f for f in changes["required_card_fields"] if f not in CARD_FIELDS]
        if bad:
            raise InvalidInput(f"Unknown model-card field(s) {', '.join(bad)}; use {', '.join(CARD_FIELDS)}.",
                               field="required_card_fields")
    for key, what, lo, hi in (("approvals_needed", "number of approvers", 1, 3),
                              ("recertify_days", "days between re-certifications", 1, 3650),
                              ("approval_valid_days", "days an approval stays valid", 1, 365)):
        if key in changes and not _whole(changes[key], lo, hi):
            raise InvalidInput(f"The {what} must be a whole number from {lo} to {hi}; got {changes[key]}.",
                               field=key)
    with store.transaction() as con:
        require(actor, "set-policy", PolicyUpdated, risk_tier)
        before = policy_tx(con, risk_tier)
        wanted = {k: _normalised(k, v) for k, v in changes.items()}
        changed = {k: v for k, v in wanted.items() if getattr(before, k) != v}
        if not changed:
            return PolicyChange(before, {})
        for key, value in changed.items():
            value = canonical_json(value) if key == "required_card_fields" else value
            con.execute(f"UPDATE policies SET {key} = ? WHERE risk_tier = ?", [value, risk_tier])
        con.execute("UPDATE policies SET updated_by = ?, updated_at = ? WHERE risk_tier = ?",
                    [actor.email, utcnow(), risk_tier])
        after = policy_tx(con, risk_tier)
        diff = {k: {"from": getattr(before, k), "to": getattr(after, k)} for k in POLICY_FIELDS
                if k in changed and getattr(before, k) != getattr(after, k)}
        record(con, actor, PolicyUpdated(risk_tier, diff))
    return PolicyChange(after, diff)


def set_policy(store, actor: Identity, risk_tier: str, **changes: Any) -> Policy:
    """Change a tier's policy (admin) and return it; `change_policy` also says what changed."""
    return change_policy(store, actor, risk_tier, **changes).policy


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool):
        raise InvalidInput(f"The {POLICY_LABELS[key]} must be a number; got {value}.", field=key)
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"The {POLICY_LABELS[key]} must be a number; got {value!r}.", field=key) from None


def _whole(value: Any, lo: int, hi: int) -> bool:
    """`value` is a whole number in [lo, hi]: 2 and 2.0 are, 2.5, nan, inf and True are not."""
    if isinstance(value, bool):
        return False
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return False
    return math.isfinite(number) and number == int(number) and lo <= number <= hi


# The metric a comparison with the live champion is judged on: a challenger significantly worse on it fails.
# PRIMARY_METRIC (core.vocabulary): auc, macro one-vs-rest AUC, rmse.


def policy_checks(version: ModelVersion, card: dict[str, str], policy: Policy, drift: dict | None,
                  drift_missing: str = "no drift result for this version yet", *, role: str = "champion",
                  environment: str = "production", champion_version: int | None = None,
                  comparison: dict | None = None, fairness: dict | None = None,
                  fairness_missing: str = "no sensitive attributes are declared on the model card") -> list[dict]:
    """The checks a version's evidence is held to, each `pass`, `fail` or `not evaluated` with its reason.

    `drift` is the version's own drift in `environment` (None with `drift_missing` saying why);
    `comparison` the latest stored comparison of the version against the live champion `champion_version`;
    `fairness` the version's hold-out fairness section (None with `fairness_missing` saying why).
    """
    checks = []

    def add(name: str, status: str, detail: str, value: Any = None, threshold: Any = None) -> None:
        checks.append({"check": name, "status": status, "detail": detail, "value": value, "threshold": threshold})

    if not version.metrics:
        add("hold-out metrics", "fail", "the version has no hold-out metrics; register it with test data")
    if version.task in ("binary_classification", "multiclass_classification") and policy.min_auc is not None:
        # Multiclass: the tier's minimum AUC holds the macro one-vs-rest AUC (each class against the rest, averaged)
        multi = version.task == "multiclass_classification"
        auc = version.metrics.get("auc_ovr_macro" if multi else "auc")
        word = "macro AUC (one-vs-rest)" if multi else "AUC"
        if auc is not None:
            ok = auc >= policy.min_auc
            add("minimum AUC", "pass" if ok else "fail",
                f"hold-out {word} {auc:.3f} {'≥' if ok else '<'} {policy.min_auc:.3f} required for {policy.risk_tier} risk",
                round(auc, 6), policy.min_auc)
    if version.task == "regression" and policy.min_r2 is not None:
        r2 = version.metrics.get("r2")
        if r2 is not None:
            ok = r2 >= policy.min_r2
            add("minimum R²", "pass" if ok else "fail",
                f"hold-out R² {r2:.3f} {'≥' if ok else '<'} {policy.min_r2:.3f} required for {policy.risk_tier} risk",
                round(r2, 6), policy.min_r2)
    missing = [f for f in policy.required_card_fields if not (card.get(f) or "").strip()]
    add("model card", "fail" if missing else "pass",
        ("missing: " + ", ".join(f.replace("_", " ") for f in missing)) if missing
        else f"all {len(policy.required_card_fields)} required fields filled", len(missing), 0)
    if role == "champion":
        checks.append(comparison_check(version, environment, champion_version, comparison))
    if policy.max_drift_share is not None:
        share = (drift or {}).get("drifted_share")
        if share is None:
            add("maximum drift", "not evaluated", drift_missing, None, policy.max_drift_share)
        else:
            ok = share <= policy.max_drift_share
            rows = drift.get("rows")
            on = f" on {rows:,} rows of its own {environment} traffic" if rows else ""
            add("maximum drift", "pass" if ok else "fail",
                f"{share:.0%} of inputs drifted{on} {'≤' if ok else '>'} {policy.max_drift_share:.0%} allowed",
                share, policy.max_drift_share)
    if policy.min_parity_ratio is not None:
        checks.append(fairness_check(policy, fairness, fairness_missing))
    return checks


def fairness_check(policy: Policy, fairness: dict | None, missing: str) -> dict[str, Any]:
    """Each declared attribute's demographic-parity ratio on the hold-out data against the tier's minimum (the
    four-fifths rule at 0.8); the lowest ratio is the check's value. Failing asks for an override reason."""
    name, threshold = "fairness (demographic parity)", policy.min_parity_ratio
    out = {"check": name, "value": None, "threshold": threshold}
    attrs = (fairness or {}).get("attributes") or []
    if not attrs:
        return {**out, "status": "not evaluated", "detail": missing}
    if fairness.get("task") == "regression":
        return {**out, "status": "pass", "detail": "demographic parity applies to classifiers; the evidence shows "
                                                   "this regression's errors per group"}
    judged = [(a["attribute"], a.get("demographic_parity_ratio")) for a in attrs]
    unknown = [a for a, r in judged if r is None]
    low = [(a, r) for a, r in judged if r is not None and r < threshold]
    worst = min((r for _a, r in judged if r is not None), default=None)
    where = f"on {fairness.get('rows', 0):,} hold-out rows"
    if low:
        parts = ", ".join(f"{a} {r:.2f}" for a, r in low)
        return {**out, "status": "fail", "value": round(worst, 6),
                "detail": f"demographic-parity ratio below {threshold:.2f} required for {policy.risk_tier} risk: "
                          f"{parts} ({where}); approving needs an override reason"}
    if unknown:
        return {**out, "status": "not evaluated", "value": None if worst is None else round(worst, 6),
                "detail": f"no ratio for {', '.join(unknown)}: fewer than two groups large enough to judge ({where})"}
    return {**out, "status": "pass", "value": round(worst, 6),
            "detail": f"every declared attribute's demographic-parity ratio ≥ {threshold:.2f} (lowest {worst:.2f}, "
                      f"{where})"}


def comparison_check(version: ModelVersion, environment: str, champion_version: int | None,
                     comparison: dict | None) -> dict[str, Any]:
    """A version proposed as champion against the live champion's latest stored comparison: significantly worse
    on the task's primary metric (the 95% interval of the difference lies wholly on the worse side) fails."""
    from ..metrics import HIGHER_IS_BETTER, METRIC_LABELS  # with numpy: only where a comparison is judged

    name = "comparison with the live champion"
    metric = PRIMARY_METRIC.get(version.task, "auc")
    label = METRIC_LABELS.get(metric, metric)
    model = version.model

    def out(status: str, detail: str, value: Any = None) -> dict[str, Any]:
        return {"check": name, "status": status, "detail": detail, "value": value, "threshold": 0}

    if champion_version is None:
        return out("pass", f"no champion is live in {environment}: this would be the first, nothing to compare with")
    if champion_version == version.version:
        return out("pass", f"{version.ref} is already the live champion in {environment}")
    if comparison is None:
        return out("not evaluated", f"{version.ref} was never compared with the live champion {model}:"
                   f"{champion_version}; compare them on the Champion vs challenger page (or 'modelgov compare "
                   f"{model}:{champion_version} {version.ref} --data FILE') and request again")
    d = (comparison.get("result") or {}).get("difference", {}).get(metric)
    values = [None if d is None else d.get(k) for k in ("estimate", "ci_low", "ci_high")]
    if any(v is None for v in values):
        return out("not evaluated", f"comparison {comparison['id']} has no {label} interval on its rows; compare "
                   "on data with both outcomes")
    est, lo, hi = values
    sign = 1 if HIGHER_IS_BETTER[metric] else -1
    gain_lo, gain_hi = sorted((sign * lo, sign * hi))
    where = f"comparison {comparison['id']} on {comparison.get('rows') or 0:,} rows"
    fmt = (lambda x: f"{x:.4g}") if metric in ("rmse", "mae") else (lambda x: f"{x:.3f}")
    ci = f"95% CI {fmt(lo)} to {fmt(hi)}"
    if gain_hi < 0:
        return out("fail", f"{version.ref} is significantly worse than the live champion {model}:{champion_version} "
                   f"on {label}: {fmt(est)} difference ({ci}), {where}", round(est, 6))
    if gain_lo > 0:
        return out("pass", f"{version.ref} is significantly better than the live champion {model}:{champion_version}"
                   f" on {label}: {fmt(est)} difference ({ci}), {where}", round(est, 6))
    return out("pass", f"{version.ref} is not significantly worse than the live champion {model}:{champion_version}"
               f" on {label}: {fmt(est)} difference ({ci}), {where}", round(est, 6))


def checks_verdict(checks: list[dict]) -> dict[str, Any]:
    """One answer for pages, report and CLI: `fail` when any check fails, `incomplete` when any could not be
    evaluated, `pass` only when every check was evaluated and passed; with the sentence to show."""
    failing = [c["check"] for c in checks if c["status"] == "fail"]
    unknown = [c["check"] for c in checks if c["status"] not in ("pass", "fail")]
    if failing:
        sentence = (f"{len(failing)} policy check{'s' if len(failing) > 1 else ''} fail{'' if len(failing) > 1 else 's'}"
                    f" ({', '.join(failing)}): approving needs an override reason, which is recorded.")
        if unknown:
            sentence += f" {len(unknown)} could not be evaluated ({', '.join(unknown)})."
        return {"status": "fail", "failing": failing, "not_evaluated": unknown, "sentence": sentence}
    if unknown:
        return {"status": "incomplete", "failing": [], "not_evaluated": unknown,
                "sentence": (f"{len(unknown)} policy check{'s' if len(unknown) > 1 else ''} could not be evaluated "
                             f"({', '.join(unknown)}); the table says why and what to run. The others pass.")}
    return {"status": "pass", "failing": [], "not_evaluated": [], "sentence": "Every policy check passes."}


def refusal(actor: Identity, error: type, message: str, event: type[Event], entity_id: Any,
            field: str | None = None) -> Exception:
    """A refused attempt at `event`'s action, recorded under the same action name as its success; `field` names
    the input that would have let it through (see `CoreError.field`)."""
    return error(message, actor=actor.email, action=event.action, entity_type=event.entity_type,
                 entity_id=str(entity_id), field=field)
