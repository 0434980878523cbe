"""Deployment approval: request → frozen evidence pack → four-eyes decision → deploy exactly once.

State machine of a request (every other transition is refused and audited):

    pending ──approve (enough distinct risk officers)──▶ approved ──deploy──▶ deployed
       │                                                    │
       └──reject──▶ rejected                                └──(not deployed in time)──▶ expired

Rules that live here, not in the pages:
- a data scientist requests; a risk officer decides; nobody decides a request
  they made or on a version they created; a tier may need two distinct approvers;
- a failing policy check blocks approval unless the approver gives an override reason;
- the evidence pack is assembled and frozen (canonical JSON + SHA-256) at request
  time; later changes to the model never alter it;
- deploying makes the version the environment's champion (the previous one is
  retired and kept) or a challenger; a risk officer may roll back to the previous
  champion; every live champion has a re-certification due date by risk tier.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from . import lineage
from .audit import AuditEvent, canonical_json, record, utcnow
from .deployments import ROLES, active_tx, validate_environment
from .errors import CheckFailed, Conflict, Forbidden, InvalidInput, NotFound
from .identity import SYSTEM, Identity, require
from .registry import CARD_FIELDS, ModelVersion, get_model_tx, get_model_version_tx, get_version_by_id

STATUSES = ("pending", "approved", "rejected", "deployed", "expired")
EVIDENCE_SCHEMA = "modelgov.evidence/1"
POLICY_FIELDS = ("min_auc", "min_r2", "max_drift_share", "required_card_fields", "approvals_needed",
                 "recertify_days", "approval_valid_days")


# --- records -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Decision:
    decided_by: str
    decision: str
    decided_at: datetime
    comment: str
    override_reason: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"decided_by": self.decided_by, "decision": self.decision, "decided_at": _iso(self.decided_at),
                "comment": self.comment, "override_reason": self.override_reason}


@dataclass(frozen=True)
class Request:
    id: int
    model: str
    version: int
    environment: str
    role: str
    reason: str
    status: str
    requested_by: str
    requested_at: datetime
    approvals_needed: int
    evidence_sha256: str
    checks_failed: int
    decided_at: datetime | None
    expires_at: datetime | None
    deployment_id: int | None
    deployed_at: datetime | None
    deployed_by: str | None
    risk_tier: str
    decisions: list[Decision] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.model}:{self.version}"

    @property
    def approvals(self) -> list[Decision]:
        return [d for d in self.decisions if d.decision == "approve"]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "model": self.model, "version": self.version, "environment": self.environment,
                "role": self.role, "reason": self.reason, "status": self.status,
                "requested_by": self.requested_by, "requested_at": _iso(self.requested_at),
                "risk_tier": self.risk_tier, "approvals_needed": self.approvals_needed,
                "approvals": len(self.approvals), "checks_failed": self.checks_failed,
                "evidence_sha256": self.evidence_sha256, "decided_at": _iso(self.decided_at),
                "expires_at": _iso(self.expires_at), "deployment_id": self.deployment_id,
                "deployed_at": _iso(self.deployed_at), "deployed_by": self.deployed_by,
                "decisions": [d.as_dict() for d in self.decisions]}


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (datetime, date)) else value


_REQUEST_COLS = """r.id, m.name, v.version, r.environment, r.role, r.reason,
    CASE WHEN r.status = 'approved' AND r.expires_at < ? THEN 'expired' ELSE r.status END,
    r.requested_by, r.requested_at, r.approvals_needed, r.evidence_sha256, r.checks_failed, r.decided_at,
    r.expires_at, r.deployment_id, r.deployed_at, r.deployed_by, m.risk_tier"""
_REQUEST_FROM = (" FROM approval_requests r JOIN model_versions v ON v.id = r.version_id"
                 " JOIN models m ON m.id = v.model_id")


def _decisions(con, request_id: int) -> list[Decision]:
    rows = con.execute("SELECT decided_by, decision, decided_at, comment, override_reason FROM approval_decisions"
                       " WHERE request_id = ? ORDER BY decided_at, decided_by", [request_id]).fetchall()
    return [Decision(*r) for r in rows]


def get_request_tx(con, request_id: int) -> Request:
    r = con.execute(f"SELECT {_REQUEST_COLS}{_REQUEST_FROM} WHERE r.id = ?", [utcnow(), request_id]).fetchone()
    if r is None:
        raise NotFound(f"Approval request {request_id} not found; 'modelgov approvals list' shows the requests.")
    return Request(*r, decisions=_decisions(con, request_id))


def get_request(store, request_id: int) -> Request:
    with store.read() as con:
        return get_request_tx(con, int(request_id))


def list_requests(store, *, status: str | None = None, requested_by: str | None = None,
                  model: str | None = None, limit: int = 500) -> list[Request]:
    """Requests newest first; `status` filters on the effective status (an overdue approval is `expired`)."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"Unknown status '{status}': use one of {', '.join(STATUSES)}.")
    where, params = [], [utcnow()]
    if status:
        where.append("(CASE WHEN r.status = 'approved' AND r.expires_at < ? THEN 'expired' ELSE r.status END) = ?")
        params += [utcnow(), status]
    if requested_by:
        where.append("r.requested_by = ?")
        params.append(requested_by.lower())
    if model:
        where.append("m.name = ?")
        params.append(model)
    sql = f"SELECT {_REQUEST_COLS}{_REQUEST_FROM}" + (" WHERE " + " AND ".join(where) if where else "")
    with store.read() as con:
        rows = con.execute(sql + f" ORDER BY r.id DESC LIMIT {int(limit)}", params).fetchall()
        return [Request(*r, decisions=_decisions(con, r[0])) for r in rows]


def evidence(store, request_id: int) -> dict[str, Any]:
    """The frozen evidence pack of a request, after checking it still hashes to its recorded SHA-256."""
    with store.read() as con:
        row = con.execute("SELECT CAST(evidence AS VARCHAR), evidence_sha256 FROM approval_requests WHERE id = ?",
                          [int(request_id)]).fetchone()
    if row is None:
        raise NotFound(f"Approval request {request_id} not found; 'modelgov approvals list' shows the requests.")
    text, digest = row
    if hashlib.sha256(text.encode()).hexdigest() != digest:
        raise CheckFailed(f"The evidence pack of request {request_id} no longer matches its SHA-256 {digest[:12]}…:"
                          " it was altered in the store; run 'modelgov audit verify' and investigate.")
    return json.loads(text)


# --- policies ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
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

    def as_dict(self) -> dict[str, Any]:
        return {k: _iso(getattr(self, k)) for k in ("risk_tier",) + POLICY_FIELDS + ("updated_by", "updated_at")}


def _policy_tx(con, tier: str) -> Policy:
    r = con.execute("SELECT risk_tier, min_auc, min_r2, max_drift_share, CAST(required_card_fields AS VARCHAR),"
                    " approvals_needed, recertify_days, approval_valid_days, updated_by, updated_at"
                    " FROM policies WHERE risk_tier = ?", [tier]).fetchone()
    return Policy(*r[:4], json.loads(r[4]), *r[5:])


def policies(store) -> list[Policy]:
    with store.read() as con:
        return [_policy_tx(con, t) for t in ("high", "medium", "low")]


def set_policy(store, actor: Identity, risk_tier: str, **changes: Any) -> Policy:
    """Change a tier's policy (admin); unknown fields and out-of-range values are refused."""
    if risk_tier not in ("low", "medium", "high"):
        raise InvalidInput(f"Unknown risk tier '{risk_tier}': use low, medium or high.")
    unknown = set(changes) - set(POLICY_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown policy field(s) {', '.join(sorted(unknown))}; use {', '.join(POLICY_FIELDS)}.")
    for key in ("min_auc", "min_r2", "max_drift_share"):
        v = changes.get(key)
        if v is not None and not (0.0 <= float(v) <= 1.0) and key != "min_r2":
            raise InvalidInput(f"{key} must lie between 0 and 1 (or be empty to skip the check); got {v}.")
    if "required_card_fields" in changes:
        bad = [f for f in changes["required_card_fields"] if f not in CARD_FIELDS]
        if bad:
            raise InvalidInput(f"Unknown model-card field(s) {', '.join(bad)}; use {', '.join(CARD_FIELDS)}.")
    for key, lo, hi in (("approvals_needed", 1, 3), ("recertify_days", 1, 3650), ("approval_valid_days", 1, 365)):
        if key in changes and not (lo <= int(changes[key]) <= hi):
            raise InvalidInput(f"{key} must be a whole number from {lo} to {hi}; got {changes[key]}.")
    with store.transaction() as con:
        require(actor, "set-policy", "policy", risk_tier)
        before = _policy_tx(con, risk_tier)
        for key, value in changes.items():
            value = canonical_json(list(value)) if key == "required_card_fields" else value
            con.execute(f"UPDATE policies SET {key} = ? WHERE risk_tier = ?", [value, risk_tier])
        con.execute("UPDATE policies SET updated_by = ?, updated_at = ? WHERE risk_tier = ?",
                    [actor.email, utcnow(), risk_tier])
        after = _policy_tx(con, risk_tier)
        diff = {k: {"from": getattr(before, k), "to": getattr(after, k)} for k in changes
                if getattr(before, k) != getattr(after, k)}
        record(con, actor, AuditEvent("policy.update", "policy", risk_tier, {"changes": diff}))
    return after


# --- the evidence pack -------------------------------------------------------------------------------

# Sections other areas contribute (each returns None when it has nothing for the version yet).
OPTIONAL_SECTIONS = (
    ("drift", "core.monitoring", "evidence_for"),
    ("explanations", "core.explain", "evidence_for"),
)


def _optional(store, module: str, function: str, *args) -> dict[str, Any] | None:
    return getattr(importlib.import_module(module), function)(store, *args)


def _json_safe(value: Any) -> Any:
    return json.loads(canonical_json(value))


def _checks(version: ModelVersion, card: dict[str, str], policy: Policy, drift: dict | None) -> list[dict]:
    checks = []

    def add(name: str, status: str, detail: str, value: Any = None, threshold: Any = None) -> None:
        checks.append({"check": name, "status": status, "detail": detail, "value": value, "threshold": threshold})

    if not version.metrics:
        add("hold-out metrics", "fail", "the version has no hold-out metrics; register it with --test-data")
    if version.task == "binary_classification" and policy.min_auc is not None:
        auc = version.metrics.get("auc")
        if auc is not None:
            ok = auc >= policy.min_auc
            add("minimum AUC", "pass" if ok else "fail",
                f"hold-out AUC {auc:.3f} {'≥' if ok else '<'} {policy.min_auc:.3f} required for {policy.risk_tier} risk",
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
    if policy.max_drift_share is not None:
        share = (drift or {}).get("drifted_share")
        if share is None:
            add("maximum drift", "not evaluated", "no drift result for this version yet", None,
                policy.max_drift_share)
        else:
            ok = share <= policy.max_drift_share
            add("maximum drift", "pass" if ok else "fail",
                f"{share:.0%} of inputs drifted {'≤' if ok else '>'} {policy.max_drift_share:.0%} allowed",
                share, policy.max_drift_share)
    return checks


def _lineage_summary(con, version: ModelVersion) -> dict[str, Any]:
    node = lineage.model_node_id(version.model, version.version)
    rows = con.execute("""
        WITH RECURSIVE up(id, depth, path) AS (
            SELECT src, 1, [src] FROM lineage_edges WHERE dst = ?
            UNION ALL
            SELECT e.src, up.depth + 1, list_append(up.path, e.src) FROM lineage_edges e JOIN up ON e.dst = up.id
            WHERE up.depth < 10 AND NOT list_contains(up.path, e.src))
        SELECT n.id, n.kind, n.name, min(up.depth) FROM up JOIN lineage_nodes n ON n.id = up.id
        GROUP BY ALL ORDER BY 4, 1 LIMIT 50""", [node]).fetchall()
    return {"node": node, "upstream": [{"id": i, "kind": k, "name": n, "depth": d} for i, k, n, d in rows],
            "code_ref": version.code_ref}


def assemble_evidence(store, con, version: ModelVersion, environment: str, role: str, reason: str,
                      actor: Identity, now: datetime) -> tuple[dict[str, Any], Policy]:
    model = get_model_tx(con, version.model)
    policy = _policy_tx(con, model.risk_tier)
    card = {f: model.card.get(f, "") for f in CARD_FIELDS}
    filled = sum(1 for v in card.values() if (v or "").strip())
    optional = {key: _optional(store, module, fn, version.model, version.version)
                for key, module, fn in OPTIONAL_SECTIONS}
    comparison = _optional(store, "core.compare", "comparison_for_evidence", version)
    champion = next((d for d in active_tx(con, version.model, environment) if d.role == "champion"), None)
    checks = _checks(version, card, policy, optional.get("drift"))
    pack = {
        "schema": EVIDENCE_SCHEMA,
        "assembled_at": now.isoformat(),
        "request": {"environment": environment, "role": role, "reason": reason, "requested_by": actor.email},
        "model": {"name": model.name, "owner": model.owner, "risk_tier": model.risk_tier,
                  "business_unit": model.business_unit, "description": model.description, "tags": model.tags},
        "version": {"version": version.version, "sha256": version.sha256, "estimator": version.estimator,
                    "task": version.task, "target": version.target, "created_by": version.created_by,
                    "created_at": _iso(version.created_at), "code_ref": version.code_ref,
                    "parameters": version.parameters, "signature": version.signature},
        "metrics": version.metrics,
        "model_card": {"fields": card, "completeness": round(filled / len(CARD_FIELDS), 4)},
        "policy": policy.as_dict(),
        "checks": checks,
        "lineage": _lineage_summary(con, version),
        "current_champion": None if champion is None else {
            "version": champion.version, "since": _iso(champion.since), "deployment_id": champion.id},
        "drift": optional.get("drift"),
        "explanations": optional.get("explanations"),
        "comparison": comparison,
    }
    return _json_safe(pack), policy


# --- actions -----------------------------------------------------------------------------------------

def _refuse(actor: Identity, error: type, message: str, action: str, request_id: Any) -> Exception:
    return error(message, actor=actor.email, action=action, entity_type="approval", entity_id=str(request_id))


def request_deployment(store, actor: Identity, model: str, version: int, environment: str, role: str,
                       reason: str) -> Request:
    """A data scientist asks to deploy MODEL:VERSION to `environment` as `role`; the evidence pack is frozen now."""
    validate_environment(environment)
    if role not in ROLES:
        raise InvalidInput(f"Unknown role '{role}': use champion or challenger.")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give a justification for the deployment (--reason TEXT): the risk officer reads it.")
    with store.transaction() as con:
        require(actor, "request-deployment", "model_version", f"{model}:{version}")
        v = get_model_version_tx(con, model, int(version))
        if v.status == "archived":
            raise _refuse(actor, Conflict, f"{v.ref} is archived; register a new version instead.",
                          "approval.request", v.ref)
        live = [d for d in active_tx(con, model, environment) if d.version == v.version]
        if any(d.role == role for d in live) or (role == "challenger" and live):
            raise _refuse(actor, Conflict, f"{v.ref} is already live in {environment} as {live[0].role}; "
                          "nothing to request.", "approval.request", v.ref)
        open_ = con.execute("SELECT id, status FROM approval_requests WHERE version_id = ? AND environment = ?"
                            " AND role = ? AND (status = 'pending' OR (status = 'approved' AND expires_at >= ?))",
                            [v.id, environment, role, utcnow()]).fetchone()
        if open_:
            raise _refuse(actor, Conflict, f"Request {open_[0]} for {v.ref} to {environment} as {role} is already "
                          f"{open_[1]}; follow it up instead of asking twice.", "approval.request", v.ref)
        now = utcnow()
        pack, policy = assemble_evidence(store, con, v, environment, role, reason, actor, now)
        text = canonical_json(pack)
        digest = hashlib.sha256(text.encode()).hexdigest()
        failed = sum(1 for c in pack["checks"] if c["status"] == "fail")
        rid = con.execute(
            "INSERT INTO approval_requests (version_id, environment, role, reason, status, requested_by, requested_at,"
            " approvals_needed, evidence, evidence_sha256, checks_failed) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?,"
            " ?, ?) RETURNING id",
            [v.id, environment, role, reason, actor.email, now, policy.approvals_needed, text, digest, failed],
        ).fetchone()[0]
        record(con, actor, AuditEvent("approval.request", "approval", str(rid), {
            "model": model, "version": v.version, "environment": environment, "role": role, "reason": reason,
            "evidence_sha256": digest, "checks_failed": failed}))
        return get_request_tx(con, rid)


def decide(store, actor: Identity, request_id: int, decision: str, comment: str,
           override_reason: str | None = None) -> Request:
    """A risk officer approves or rejects; four eyes, policy overrides, exactly one decision per state."""
    if decision not in ("approve", "reject"):
        raise InvalidInput("A decision is approve or reject.")
    comment = (comment or "").strip()
    if not comment:
        raise InvalidInput("Give a comment with your decision (--comment TEXT): it goes into the record.")
    override_reason = (override_reason or "").strip() or None
    action = f"approval.{decision}"
    with store.transaction() as con:
        require(actor, "approve-deployment", "approval", request_id)
        r = get_request_tx(con, int(request_id))
        if r.status != "pending":
            by = ", ".join(f"{d.decided_by} ({d.decision})" for d in r.decisions) or "nobody"
            raise _refuse(actor, Conflict, f"Request {r.id} is already {r.status} (decided by {by}); it can no longer "
                          f"be {'approved' if decision == 'approve' else 'rejected'}.", action, r.id)
        if r.requested_by == actor.email:
            raise _refuse(actor, Forbidden, f"You requested {r.ref} yourself (request {r.id}); four eyes: another "
                          "risk officer must decide it.", action, r.id)
        v = get_model_version_tx(con, r.model, r.version)
        if v.created_by == actor.email:
            raise _refuse(actor, Forbidden, f"You created {r.ref}; four eyes: a risk officer who did not build "
                          f"it must decide request {r.id}.", action, r.id)
        if any(d.decided_by == actor.email for d in r.decisions):
            raise _refuse(actor, Conflict, f"You already approved request {r.id}; it needs "
                          f"{r.approvals_needed - len(r.approvals)} more approval(s) from another risk officer.",
                          action, r.id)
        now = utcnow()
        failing = [c for c in evidence_checks_tx(con, r.id) if c["status"] == "fail"]
        if decision == "approve" and failing and not override_reason:
            names = "; ".join(f"{c['check']}: {c['detail']}" for c in failing)
            raise _refuse(actor, CheckFailed, f"Request {r.id} fails its policy checks ({names}); approve only with "
                          "an override reason (--override-reason TEXT), which is recorded.", action, r.id)
        con.execute("INSERT INTO approval_decisions VALUES (?, ?, ?, ?, ?, ?)",
                    [r.id, actor.email, decision, now, comment,
                     override_reason if decision == "approve" and failing else None])
        if decision == "reject":
            new_status = "rejected"
        else:
            new_status = "approved" if len(r.approvals) + 1 >= r.approvals_needed else "pending"
        if new_status != "pending":
            policy = _policy_tx(con, r.risk_tier)
            expires = now + timedelta(days=policy.approval_valid_days) if new_status == "approved" else None
            # The state guard makes a concurrent second decision affect nothing; it is then refused below.
            changed = con.execute("UPDATE approval_requests SET status = ?, decided_at = ?, expires_at = ? "
                                  "WHERE id = ? AND status = 'pending' RETURNING id",
                                  [new_status, now, expires, r.id]).fetchall()
            if not changed:
                raise Conflict(f"Request {r.id} was decided by someone else at the same moment; reload it.")
        record(con, actor, AuditEvent(action, "approval", str(r.id), {
            "model": r.model, "version": r.version, "environment": r.environment, "role": r.role,
            "comment": comment, "override_reason": override_reason if failing else None,
            "failing_checks": [c["check"] for c in failing], "status": new_status,
            "evidence_sha256": r.evidence_sha256}))
        return get_request_tx(con, r.id)


def approve(store, actor: Identity, request_id: int, comment: str, override_reason: str | None = None) -> Request:
    return decide(store, actor, request_id, "approve", comment, override_reason)


def reject(store, actor: Identity, request_id: int, comment: str) -> Request:
    return decide(store, actor, request_id, "reject", comment)


def evidence_checks_tx(con, request_id: int) -> list[dict[str, Any]]:
    text = con.execute("SELECT CAST(evidence AS VARCHAR) FROM approval_requests WHERE id = ?",
                       [request_id]).fetchone()[0]
    return json.loads(text)["checks"]


def _refresh_version_status(con, version_id: int) -> None:
    """A version's status follows its live deployments."""
    roles = {(e, r) for e, r in con.execute("SELECT environment, role FROM deployments WHERE version_id = ? AND "
                                            "until IS NULL", [version_id]).fetchall()}
    ever = con.execute("SELECT count(*) FROM deployments WHERE version_id = ?", [version_id]).fetchone()[0]
    if ("production", "champion") in roles:
        status = "production"
    elif any(r == "challenger" for _, r in roles):
        status = "challenger"
    elif roles:
        status = "staging"
    else:
        status = "retired" if ever else "registered"
    con.execute("UPDATE model_versions SET status = ? WHERE id = ? AND status <> 'archived'", [status, version_id])


def _end(con, actor: Identity, deployment, reason: str, now: datetime) -> None:
    con.execute("UPDATE deployments SET until = ?, end_reason = ? WHERE id = ?", [now, reason, deployment.id])
    lineage.upsert_node(con, lineage.deployment_node_id(deployment.model, deployment.environment, deployment.id),
                        "deployment", f"{deployment.model}:{deployment.version} in {deployment.environment}",
                        {"status": "retired"})
    _refresh_version_status(con, deployment.version_id)


def _start(con, actor: Identity, version: ModelVersion, environment: str, role: str, approval_id: int | None,
           now: datetime) -> int:
    dep_id = con.execute("INSERT INTO deployments (version_id, environment, role, since, deployed_by, approval_id)"
                         " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                         [version.id, environment, role, now, actor.email, approval_id]).fetchone()[0]
    lineage.record_deployment_tx(con, actor, version.model, version.version, environment, dep_id, role)
    _refresh_version_status(con, version.id)
    return dep_id


def deploy(store, actor: Identity, request_id: int) -> Request:
    """Deploy an approved request, exactly once."""
    with store.transaction() as con:
        require(actor, "deploy", "approval", request_id)
        r = get_request_tx(con, int(request_id))
        if r.status != "approved":
            why = {"pending": f"it is still pending ({len(r.approvals)} of {r.approvals_needed} approvals)",
                   "rejected": "it was rejected", "deployed": f"it was already deployed by {r.deployed_by} at "
                   f"{_iso(r.deployed_at)}", "expired": f"its approval expired at {_iso(r.expires_at)}; request "
                   "again"}[r.status]
            raise _refuse(actor, Conflict, f"Request {r.id} cannot be deployed: {why}.", "deploy", r.id)
        now = utcnow()
        v = get_model_version_tx(con, r.model, r.version)
        live = active_tx(con, r.model, r.environment)
        ended = []
        for d in live:
            if r.role == "champion" and (d.role == "champion" or d.version == v.version):
                _end(con, actor, d, f"replaced by {v.ref} (request {r.id})" if d.version != v.version
                     else f"promoted to champion (request {r.id})", now)
                ended.append({"deployment_id": d.id, "version": d.version, "role": d.role})
            elif r.role == "challenger" and d.version == v.version:
                raise _refuse(actor, Conflict, f"{v.ref} is already live in {r.environment} as {d.role}.", "deploy",
                              r.id)
        dep_id = _start(con, actor, v, r.environment, r.role, r.id, now)
        changed = con.execute("UPDATE approval_requests SET status = 'deployed', deployment_id = ?, deployed_at = ?,"
                              " deployed_by = ? WHERE id = ? AND status = 'approved' RETURNING id",
                              [dep_id, now, actor.email, r.id]).fetchall()
        if not changed:
            raise Conflict(f"Request {r.id} was deployed by someone else at the same moment.")
        record(con, actor, AuditEvent("deploy", "approval", str(r.id), {
            "model": r.model, "version": r.version, "environment": r.environment, "role": r.role,
            "deployment_id": dep_id, "ended": ended}))
        return get_request_tx(con, r.id)


def rollback(store, actor: Identity, model: str, environment: str, reason: str) -> dict[str, Any]:
    """Put the previous champion of `environment` back (risk officer, with a reason)."""
    validate_environment(environment)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give the reason for the rollback (--reason TEXT): it goes into the record.")
    with store.transaction() as con:
        require(actor, "rollback", "model", model)
        m = get_model_tx(con, model)
        current = next((d for d in active_tx(con, model, environment) if d.role == "champion"), None)
        if current is None:
            raise _refuse(actor, Conflict, f"{model} has no champion in {environment}; there is nothing to roll "
                          "back.", "rollback", model)
        prev = con.execute(
            "SELECT d.version_id, v.version, d.approval_id FROM deployments d JOIN model_versions v ON v.id = "
            "d.version_id WHERE v.model_id = ? AND d.environment = ? AND d.role = 'champion' AND d.until IS NOT NULL"
            " AND d.version_id <> ? AND d.since < ? ORDER BY d.since DESC, d.id DESC LIMIT 1",
            [m.id, environment, current.version_id, current.since]).fetchone()
        if prev is None:
            raise _refuse(actor, Conflict, f"{model} has no earlier champion in {environment} to return to; deploy "
                          "another version through an approval instead.", "rollback", model)
        now = utcnow()
        _end(con, actor, current, f"rolled back: {reason}", now)
        v = get_version_by_id(con, prev[0])
        dep_id = _start(con, actor, v, environment, "champion", prev[2], now)
        record(con, actor, AuditEvent("rollback", "model", model, {
            "model": model, "environment": environment, "reason": reason, "from_version": current.version,
            "to_version": v.version, "deployment_id": dep_id}))
    return {"model": model, "environment": environment, "from_version": current.version, "to_version": v.version,
            "deployment_id": dep_id}


# --- re-certification --------------------------------------------------------------------------------

def recertify(store, actor: Identity, model: str, environment: str, comment: str) -> dict[str, Any]:
    """A risk officer re-certifies the live champion; the next due date follows the tier's policy."""
    validate_environment(environment)
    comment = (comment or "").strip()
    if not comment:
        raise InvalidInput("Give a comment with the re-certification (--comment TEXT): what was reviewed.")
    with store.transaction() as con:
        require(actor, "recertify", "model", model)
        m = get_model_tx(con, model)
        current = next((d for d in active_tx(con, model, environment) if d.role == "champion"), None)
        if current is None:
            raise _refuse(actor, Conflict, f"{model} has no champion in {environment} to re-certify.", "recertify",
                          model)
        policy = _policy_tx(con, m.risk_tier)
        now = utcnow()
        due = (now + timedelta(days=policy.recertify_days)).date()
        con.execute("INSERT INTO recertifications (model_id, environment, version_id, recertified_by, recertified_at,"
                    " comment, next_due) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [m.id, environment, current.version_id, actor.email, now, comment, due])
        record(con, actor, AuditEvent("recertify", "model", model, {
            "model": model, "environment": environment, "version": current.version, "comment": comment,
            "next_due": due.isoformat()}))
    return {"model": model, "environment": environment, "version": current.version, "next_due": due.isoformat()}


def recertification_status(store, model: str | None = None, today: date | None = None) -> list[dict[str, Any]]:
    """Per live champion: when it was last certified (deployment or re-certification), when it is due, overdue."""
    today = today or utcnow().date()
    sql = """
        SELECT m.name, d.environment, v.version, m.risk_tier, p.recertify_days, d.since,
               (SELECT max(r.recertified_at) FROM recertifications r
                 WHERE r.model_id = m.id AND r.environment = d.environment AND r.recertified_at >= d.since)
        FROM deployments d JOIN model_versions v ON v.id = d.version_id JOIN models m ON m.id = v.model_id
        JOIN policies p ON p.risk_tier = m.risk_tier
        WHERE d.until IS NULL AND d.role = 'champion'""" + (" AND m.name = ?" if model else "") + \
        " ORDER BY m.name, d.environment"
    with store.read() as con:
        rows = con.execute(sql, [model] if model else []).fetchall()
    out = []
    for name, env, version, tier, days, since, last in rows:
        certified = last or since
        due = (certified + timedelta(days=days)).date()
        out.append({"model": name, "environment": env, "version": version, "risk_tier": tier,
                    "last_certified": _iso(certified), "due": due.isoformat(), "overdue": due < today,
                    "days_left": (due - today).days})
    return out


def expire_due(store, actor: Identity = SYSTEM) -> list[int]:
    """Mark approvals past their validity as expired (audited); returns their ids."""
    with store.transaction() as con:
        ids = [r[0] for r in con.execute("UPDATE approval_requests SET status = 'expired' WHERE status = 'approved'"
                                         " AND expires_at < ? RETURNING id", [utcnow()]).fetchall()]
        for rid in ids:
            record(con, actor, AuditEvent("approval.expire", "approval", str(rid), {}))
    return sorted(ids)


# --- the auditor's copy ------------------------------------------------------------------------------

_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:960px;margin:2rem auto;
color:#1f2933;line-height:1.45;padding:0 1rem}h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;
border-bottom:1px solid #d9e2ec;padding-bottom:.25rem}table{border-collapse:collapse;width:100%;margin:.5rem 0}
td,th{border:1px solid #d9e2ec;padding:.35rem .5rem;text-align:left;vertical-align:top;font-size:.92rem}
th{background:#f0f4f8}.pass{color:#1a7f37;font-weight:600}.fail{color:#b42318;font-weight:600}
.not{color:#8a6d00}code{font-size:.85rem;word-break:break-all}.muted{color:#627d98;font-size:.9rem}
pre{background:#f7f9fb;padding:.75rem;overflow-x:auto;font-size:.8rem}"""


def evidence_html(store, request_id: int) -> str:
    """A self-contained HTML report of a request: its frozen pack, the checks, every decision.

    No scripts, no external assets; every value is escaped. The pack's SHA-256 is
    printed with the check that the stored pack still matches it, and the full
    canonical JSON is embedded so anyone can re-hash it.
    """
    from html import escape

    r = get_request(store, request_id)
    pack = evidence(store, r.id)  # raises when the pack no longer matches its hash
    e = lambda v: escape("" if v is None else str(v))  # noqa: E731

    def rows(pairs) -> str:
        return "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in pairs)

    checks = "".join(
        f"<tr><td>{e(c['check'])}</td><td class=\"{'pass' if c['status'] == 'pass' else 'fail' if c['status'] == 'fail' else 'not'}\">"
        f"{e(c['status'])}</td><td>{e(c['detail'])}</td></tr>" for c in pack["checks"])
    decisions = "".join(
        f"<tr><td>{e(_iso(d.decided_at))}</td><td>{e(d.decided_by)}</td><td>{e(d.decision)}</td><td>{e(d.comment)}"
        f"</td><td>{e(d.override_reason or '')}</td></tr>" for d in r.decisions) or \
        "<tr><td colspan=5>No decision yet.</td></tr>"
    metrics = rows((k, f"{v:.4f}" if isinstance(v, float) else v) for k, v in pack["metrics"].items())
    card = rows((k.replace("_", " "), v or "— missing —") for k, v in pack["model_card"]["fields"].items())
    upstream = "".join(f"<li><code>{e(n['id'])}</code> ({e(n['kind'])}, depth {e(n['depth'])})</li>"
                       for n in pack["lineage"]["upstream"]) or "<li>No upstream nodes recorded.</li>"
    extra = ""
    for key, title in (("drift", "Drift"), ("explanations", "Top SHAP features"),
                       ("comparison", "Champion vs challenger")):
        body = pack.get(key)
        extra += f"<h2>{title}</h2>" + (
            f"<pre>{e(json.dumps(body, indent=2, ensure_ascii=False))}</pre>" if body
            else "<p class=muted>Not available when the pack was frozen.</p>")
    canonical = canonical_json(pack)
    m, v = pack["model"], pack["version"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Evidence pack: request {r.id} ({e(r.ref)})</title>
<style>{_CSS}</style></head><body>
<h1>Deployment request {r.id}: {e(r.ref)} to {e(r.environment)} as {e(r.role)}</h1>
<p>Status <strong>{e(r.status)}</strong> · {len(r.approvals)} of {r.approvals_needed} approval(s) ·
requested by {e(r.requested_by)} at {e(_iso(r.requested_at))}</p>
<p>Justification: {e(r.reason)}</p>
<p class=muted>Evidence pack frozen at {e(pack['assembled_at'])}; SHA-256 <code>{e(r.evidence_sha256)}</code>
(verified against the stored pack when this report was written, {e(utcnow().isoformat(timespec='seconds'))} UTC).</p>
<h2>Decisions</h2>
<table><tr><th>When (UTC)</th><th>Who</th><th>Decision</th><th>Comment</th><th>Override reason</th></tr>{decisions}</table>
<h2>Policy checks ({e(m['risk_tier'])} risk)</h2>
<table><tr><th>Check</th><th>Result</th><th>Detail</th></tr>{checks}</table>
<h2>Model</h2><table>{rows([("name", m['name']), ("owner", m['owner']), ("risk tier", m['risk_tier']),
 ("business unit", m['business_unit']), ("description", m['description'])])}</table>
<h2>Version {e(v['version'])}</h2><table>{rows([("estimator", v['estimator']), ("task", v['task']),
 ("target", v['target']), ("artifact SHA-256", v['sha256']), ("created by", v['created_by']),
 ("created at", v['created_at']), ("code reference", v['code_ref'] or "—")])}</table>
<h2>Hold-out metrics</h2><table>{metrics or '<tr><td>None</td></tr>'}</table>
<h2>Model card ({pack['model_card']['completeness']:.0%} complete)</h2><table>{card}</table>
<h2>Lineage (upstream of <code>{e(pack['lineage']['node'])}</code>)</h2><ul>{upstream}</ul>
{extra}
<h2>The frozen pack</h2>
<p class=muted>Canonical JSON; its SHA-256 is the value above
(<code>python -c "import hashlib,sys;print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())"</code>).</p>
<pre>{e(canonical)}</pre>
</body></html>
"""
