"""Deployment requests and four-eyes decisions.

    pending ──approve (enough distinct risk officers)──▶ approved ──deploy──▶ deployed
       │                                                    │
       └──reject──▶ rejected                                └──(not deployed in time)──▶ expired

A data scientist requests; a risk officer decides; nobody decides a request they made or on a version
they created; an administrator never decides (separation of duties); a tier may need two distinct approvers;
a failing policy check blocks approval unless the approver gives an override reason. Every other transition
is refused and audited.

Four eyes that cannot be routed around:
- approvals needed = the most any tier the model held since the request was made asks for (and never fewer
  than the request was made with), re-evaluated at each read, decision and deployment: lowering the tier
  after requesting does not lower it, and an approved request whose model was raised to a stricter tier is
  pending again until it has the approvals that tier needs;
- request, approve and deploy each re-hash the version's artifact and refuse (CheckFailed, audited) when its
  bytes no longer match the registry;
- each decision keeps how the approver held the role (granted by whom and when, or from the identity
  provider's claims);
- reading requests, packs and decisions needs `view-approvals` (a refusal is audited).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import field, replace
from datetime import datetime, timedelta
from typing import Any

from ..audit import canonical_json, record, utcnow
from ..errors import CheckFailed, Conflict, Forbidden, InvalidInput, NotFound
from ..events import ApprovalExpired, DeploymentApproved, DeploymentRejected, DeploymentRequested, Event
from ..identity import ADMIN, RISK_OFFICER, SYSTEM, Identity, allowed, granted_roles, require
from ..registry import artifacts
from ..registry.catalog import tiers_since_tx
from ..registry.records import ModelVersion
from ..registry.versions import get_model_version_tx
from .evidence import assemble_evidence, gather_sections
from .live import active_tx
from ..vocabulary import validate_deployment_role, validate_environment
from .policy import iso, policy_tx, refusal
from ..frozen import frozen_record

STATUSES = ("pending", "approved", "rejected", "deployed", "expired")


@frozen_record
class Decision:
    decided_by: str
    decision: str
    decided_at: datetime
    comment: str
    override_reason: str | None
    role_source: str | None = None         # 'grant' or 'claim'; None for decisions recorded before it was kept
    role_granted_by: str | None = None      # who granted the approver the risk_officer role
    role_granted_at: datetime | None = None

    @property
    def role_evidence(self) -> str:
        """How the approver held the role, in words."""
        if self.role_source == "grant":
            return f"risk_officer granted by {self.role_granted_by} at {str(self.role_granted_at)[:19]}"
        if self.role_source == "claim":
            return "risk_officer from the identity provider's claims"
        return "how the role was held was not recorded"

    def as_dict(self) -> dict[str, Any]:
        return {"decided_by": self.decided_by, "decision": self.decision, "decided_at": iso(self.decided_at),
                "comment": self.comment, "override_reason": self.override_reason, "role_source": self.role_source,
                "role_granted_by": self.role_granted_by, "role_granted_at": iso(self.role_granted_at)}


@frozen_record
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
    tiers_since_request: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.model}:{self.version}"

    @property
    def approvals(self) -> list[Decision]:
        return [d for d in self.decisions if d.decision == "approve"]

    @property
    def progress(self) -> str:
        """Where the request stands, in the words page and CLI both show:
        '1 of 2 approvals — waiting for another risk officer'."""
        n, need = len(self.approvals), self.approvals_needed
        count = f"{n} of {need} approval{'' if need == 1 else 's'}"
        if self.status == "pending":
            missing = max(need - n, 1)
            who = ("a risk officer" if n == 0 and missing == 1 else f"{missing} risk officers" if n == 0
                   else "another risk officer" if missing == 1 else f"{missing} more risk officers")
            return f"{count} — waiting for {who}"
        if self.status == "approved":
            return f"{count} — approved, ready to deploy until {str(self.expires_at)[:16]} UTC"
        if self.status == "rejected":
            by = ", ".join(d.decided_by for d in self.decisions if d.decision == "reject") or "a risk officer"
            return f"{count} — rejected by {by}"
        if self.status == "deployed":
            return f"{count} — deployed"
        return f"{count} — the approval expired before deployment; request it again"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "model": self.model, "version": self.version, "environment": self.environment,
                "role": self.role, "reason": self.reason, "status": self.status,
                "requested_by": self.requested_by, "requested_at": iso(self.requested_at),
                "risk_tier": self.risk_tier, "risk_tiers_since_request": self.tiers_since_request,
                "approvals_needed": self.approvals_needed,
                "approvals": len(self.approvals), "progress": self.progress, "checks_failed": self.checks_failed,
                "evidence_sha256": self.evidence_sha256, "decided_at": iso(self.decided_at),
                "expires_at": iso(self.expires_at), "deployment_id": self.deployment_id,
                "deployed_at": iso(self.deployed_at), "deployed_by": self.deployed_by,
                "decisions": [d.as_dict() for d in self.decisions]}


_REQUEST_COLS = """r.id, m.name, v.version, r.environment, r.role, r.reason,
    CASE WHEN r.status = 'approved' AND r.expires_at < ? THEN 'expired' ELSE r.status END,
    r.requested_by, r.requested_at, r.approvals_needed, r.evidence_sha256, r.checks_failed, r.decided_at,
    r.expires_at, r.deployment_id, r.deployed_at, r.deployed_by, m.risk_tier"""


_REQUEST_FROM = (" FROM approval_requests r JOIN model_versions v ON v.id = r.version_id"
                 " JOIN models m ON m.id = v.model_id")


def _decisions(con, request_ids: list[int]) -> dict[int, list[Decision]]:
    """The decisions on each of `request_ids`, in the order they were made (one query for a whole list)."""
    found: dict[int, list[Decision]] = {i: [] for i in request_ids}
    for request_id, *r in con.execute(
            "SELECT request_id, decided_by, decision, decided_at, comment, override_reason, role_source,"
            " role_granted_by, role_granted_at FROM approval_decisions WHERE request_id = ANY(?)"
            " ORDER BY request_id, decided_at, decided_by", [request_ids]).fetchall():
        found[request_id].append(Decision(*r))
    return found


def _request(con, row: tuple, decisions: list[Decision] | None = None) -> Request:
    """A request with its decisions and the approvals it needs now (the strictest tier held since it was made).

    An approved request short of what its model's tier needs now (the tier was raised after the approval) is
    pending again: it needs more approvals before anyone may deploy it.
    """
    r = Request(*row, decisions=decisions if decisions is not None else _decisions(con, [row[0]])[row[0]])
    if r.status in ("deployed", "rejected"):
        return r
    tiers = tiers_since_tx(con, r.model, r.requested_at)
    needed = max([r.approvals_needed] + [
        n for (n,) in con.execute("SELECT approvals_needed FROM policies WHERE risk_tier = ANY(?)",
                                  [tiers]).fetchall()])
    status = "pending" if r.status == "approved" and len(r.approvals) < needed else r.status
    return replace(r, approvals_needed=needed, status=status, tiers_since_request=tiers)


def get_request_tx(con, request_id: int) -> Request:
    r = con.execute(f"SELECT {_REQUEST_COLS}{_REQUEST_FROM} WHERE r.id = ?", [utcnow(), request_id]).fetchone()
    if r is None:
        raise NotFound(f"Approval request {request_id} not found; 'modelgov approvals list' shows the requests.")
    return _request(con, r)


def require_view(store, actor: Identity | None, entity_id: object = "") -> None:
    """Raise Forbidden (audited as a refused `view-approvals`) unless `actor` may see approvals."""
    with store.transaction():
        require(actor, "view-approvals", "approval", entity_id)


def get_request(store, actor: Identity | None, request_id: int) -> Request:
    """One request with its decisions.

    Needs `view-approvals` (a refusal is audited). Raises Forbidden, NotFound.
    """
    require_view(store, actor, request_id)
    with store.read() as con:
        return get_request_tx(con, int(request_id))


def list_requests(store, actor: Identity | None, *, status: str | None = None, requested_by: str | None = None,
                  model: str | None = None, limit: int = 500) -> list[Request]:
    """Requests newest first; `status` filters on the effective status (an overdue approval is `expired`, an
    approval short of what the model's tier needs now is `pending`).

    Needs `view-approvals` (a refusal is audited). Raises InvalidInput, Forbidden.
    """
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"Unknown status '{status}': use one of {', '.join(STATUSES)}.")
    require_view(store, actor)
    where, params = [], [utcnow()]
    if requested_by:
        where.append("r.requested_by = ?")
        params.append(requested_by.lower())
    if model:
        where.append("m.name = ?")
        params.append(model)
    sql = f"SELECT {_REQUEST_COLS}{_REQUEST_FROM}" + (" WHERE " + " AND ".join(where) if where else "")
    with store.read() as con:
        found = []
        rows = con.execute(sql + " ORDER BY r.id DESC", params).fetchall()
        decisions = _decisions(con, [row[0] for row in rows])
        for row in rows:
            r = _request(con, row, decisions[row[0]])
            if status is None or r.status == status:
                found.append(r)
            if len(found) >= int(limit):
                break
        return found


def verify_artifact_tx(store, actor: Identity, version: ModelVersion, event: type[Event], entity_id: Any,
                       doing: str) -> None:
    """Refuse (CheckFailed, audited under `event`) when the version's artifact no longer matches its SHA-256."""
    problem = artifacts.check(store.artifacts_dir, version.sha256)
    if problem:
        what = (f"is missing from {store.artifacts_dir}" if problem == "missing" else
                f"no longer matches its registered SHA-256 {version.sha256[:12]}… ({problem[:32]}…)")
        raise refusal(actor, CheckFailed, f"The artifact of {version.ref} {what}, so it cannot be {doing}; restore "
                      "the file from a backup ('modelgov verify' lists every mismatch).", event, entity_id)



def request_deployment(store, actor: Identity, model: str, version: int, environment: str, role: str,
                       reason: str) -> Request:
    """A data scientist asks to deploy MODEL:VERSION to `environment` as `role`; the evidence pack is frozen now.

    Needs `request-deployment`. Records `approval.request`. Raises InvalidInput, Forbidden, NotFound,
    Conflict (archived, already live, already requested), CheckFailed (the artifact no longer matches).
    """
    validate_environment(environment)
    validate_deployment_role(role)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give a justification for the deployment: the risk officer reads it.", field="reason")
    # The computed sections are gathered before the transaction, for someone who may ask (the transaction
    # checks again and records a refusal).
    sections = None
    if allowed(actor, "request-deployment"):
        sections = gather_sections(store, model, int(version), environment)
    with store.transaction() as con:
        require(actor, "request-deployment", DeploymentRequested, f"{model}:{version}")
        v = get_model_version_tx(con, model, int(version))
        if v.status == "archived":
            raise refusal(actor, Conflict, f"{v.ref} is archived; register a new version instead.",
                          DeploymentRequested, v.ref)
        verify_artifact_tx(store, actor, v, DeploymentRequested, v.ref, "requested for deployment")
        live = [d for d in active_tx(con, model, environment) if d.version == v.version]
        if any(d.role == role for d in live) or (role == "challenger" and live):
            raise refusal(actor, Conflict, f"{v.ref} is already live in {environment} as {live[0].role}; "
                          "nothing to request.", DeploymentRequested, v.ref)
        open_ = con.execute("SELECT id, status FROM approval_requests WHERE version_id = ? AND environment = ?"
                            " AND role = ? AND (status = 'pending' OR (status = 'approved' AND expires_at >= ?))",
                            [v.id, environment, role, utcnow()]).fetchone()
        if open_:
            raise refusal(actor, Conflict, f"Request {open_[0]} for {v.ref} to {environment} as {role} is already "
                          f"{open_[1]}; follow it up instead of asking twice.", DeploymentRequested, v.ref)
        now = utcnow()
        pack, policy = assemble_evidence(con, v, environment, role, reason, actor, now, sections)
        text = canonical_json(pack)
        digest = hashlib.sha256(text.encode()).hexdigest()
        failed = sum(1 for c in pack["checks"] if c["status"] == "fail")
        rid = con.execute(
            "INSERT INTO approval_requests (version_id, environment, role, reason, status, requested_by, requested_at,"
            " approvals_needed, evidence, evidence_sha256, checks_failed) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?,"
            " ?, ?) RETURNING id",
            [v.id, environment, role, reason, actor.email, now, policy.approvals_needed, text, digest, failed],
        ).fetchone()[0]
        record(con, actor, DeploymentRequested(rid, model, v.version, environment, role, reason, digest, failed))
        return get_request_tx(con, rid)


def decide(store, actor: Identity, request_id: int, decision: str, comment: str,
           override_reason: str | None = None) -> Request:
    """A risk officer approves or rejects; four eyes, policy overrides, exactly one decision per state.

    Needs `approve-deployment`, and no administrator role (separation of duties). An approval re-hashes the
    artifact first. Records `approval.approve` / `approval.reject` and keeps with the decision how the
    approver holds the risk_officer role. Raises InvalidInput, Forbidden, NotFound, Conflict, CheckFailed.
    """
    if decision not in ("approve", "reject"):
        raise InvalidInput("A decision is approve or reject.")
    comment = (comment or "").strip()
    if not comment:
        raise InvalidInput("Give a comment with your decision: it goes into the record.", field="comment")
    override_reason = (override_reason or "").strip() or None
    event = DeploymentApproved if decision == "approve" else DeploymentRejected
    with store.transaction() as con:
        require(actor, "approve-deployment", event, request_id)
        r = get_request_tx(con, int(request_id))
        v = get_model_version_tx(con, r.model, r.version)
        blocked = _decision_blocker_tx(con, actor, r, v, decision)
        if blocked:
            raise refusal(actor, blocked[0], blocked[1], event, r.id)
        if decision == "approve":
            verify_artifact_tx(store, actor, v, event, r.id, "approved")
        now = utcnow()
        failing = [c for c in evidence_checks_tx(con, r.id) if c["status"] == "fail"]
        if decision == "approve" and failing and not override_reason:
            names = "; ".join(f"{c['check']}: {c['detail']}" for c in failing)
            raise refusal(actor, CheckFailed, f"Request {r.id} fails its policy checks ({names}); approve only with "
                          "an override reason, which is recorded.", event, r.id, field="override_reason")
        grant = con.execute("SELECT granted_by, granted_at FROM role_grants WHERE email = ? AND role = ?",
                            [actor.email, RISK_OFFICER]).fetchone()
        con.execute("INSERT INTO approval_decisions (request_id, decided_by, decision, decided_at, comment,"
                    " override_reason, role_source, role_granted_by, role_granted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?,"
                    " ?)", [r.id, actor.email, decision, now, comment,
                            override_reason if decision == "approve" and failing else None,
                            "grant" if grant else "claim", *(grant or (None, None))])
        if decision == "reject":
            new_status = "rejected"
        else:
            new_status = "approved" if len(r.approvals) + 1 >= r.approvals_needed else "pending"
        if new_status != "pending":
            policy = policy_tx(con, r.risk_tier)
            expires = now + timedelta(days=policy.approval_valid_days) if new_status == "approved" else None
            # The state guard makes a concurrent second decision affect nothing; it is then refused below.
            # (An approval short of a raised tier's needs is stored as approved but read as pending.)
            stored = con.execute("SELECT status FROM approval_requests WHERE id = ?", [r.id]).fetchone()[0]
            changed = con.execute("UPDATE approval_requests SET status = ?, decided_at = ?, expires_at = ? "
                                  "WHERE id = ? AND status = ? AND status IN ('pending', 'approved') RETURNING id",
                                  [new_status, now, expires, r.id, stored]).fetchall()
            if not changed:
                raise Conflict(f"Request {r.id} was decided by someone else at the same moment; reload it.")
        record(con, actor, event(r.id, r.model, r.version, r.environment, r.role, comment,
                                 override_reason if failing else None, [c["check"] for c in failing], new_status,
                                 r.evidence_sha256))
        return get_request_tx(con, r.id)


def _decision_blocker_tx(con, actor: Identity, r: Request, v: ModelVersion,
                        decision: str = "approve") -> tuple[type, str] | None:
    """Why `actor` may not decide `r` now (error type and sentence), or None: separation of duties, state, four
    eyes. `decide` refuses with it; `decision_blocker` lets a page say it instead of offering the buttons."""
    held = granted_roles(con, actor.email)
    if ADMIN in actor.roles | held:
        return Forbidden, (f"{actor.email} is an administrator, and administrators do not decide deployments "
                           f"(separation of duties); another risk officer must decide request {r.id}.")
    if r.status != "pending":
        by = ", ".join(f"{d.decided_by} ({d.decision})" for d in r.decisions) or "nobody"
        return Conflict, (f"Request {r.id} is already {r.status} (decided by {by}); it can no longer be "
                          f"{'approved' if decision == 'approve' else 'rejected'}.")
    if r.requested_by == actor.email:
        return Forbidden, (f"You requested {r.ref} yourself (request {r.id}); four eyes: another risk officer must "
                           "decide it.")
    if v.created_by == actor.email:
        return Forbidden, (f"You created {r.ref}; four eyes: a risk officer who did not build it must decide "
                           f"request {r.id}.")
    if any(d.decided_by == actor.email for d in r.decisions):
        return Conflict, (f"You already approved request {r.id}; it needs {r.approvals_needed - len(r.approvals)} "
                          "more approval(s) from another risk officer.")
    return None


def decision_blocker(store, actor: Identity | None, request_id: int) -> str | None:
    """Why `actor` may not approve or reject the request now, in a sentence, or None when they may.

    A courtesy for pages (offer no buttons, say why instead); `decide` still refuses on its own. Reading the
    request needs `view-approvals` (a refusal is audited). Raises Forbidden, NotFound.
    """
    require_view(store, actor, request_id)
    if not allowed(actor, "approve-deployment"):
        if actor is not None and ADMIN in actor.roles:
            return "Administrators do not decide deployments (separation of duties); risk officers do."
        return "Risk officers decide deployment requests; you can read this one."
    with store.read() as con:
        r = get_request_tx(con, int(request_id))
        blocked = _decision_blocker_tx(con, actor, r, get_model_version_tx(con, r.model, r.version))
    return blocked[1] if blocked else None


def approve(store, actor: Identity, request_id: int, comment: str, override_reason: str | None = None) -> Request:
    return decide(store, actor, request_id, "approve", comment, override_reason)


def reject(store, actor: Identity, request_id: int, comment: str) -> Request:
    return decide(store, actor, request_id, "reject", comment)


def evidence_checks_tx(con, request_id: int) -> list[dict[str, Any]]:
    text = con.execute("SELECT CAST(evidence AS VARCHAR) FROM approval_requests WHERE id = ?",
                       [request_id]).fetchone()[0]
    return json.loads(text)["checks"]


def expire_due(store, actor: Identity = SYSTEM) -> list[int]:
    """Mark approvals past their validity as expired (audited); returns their ids."""
    with store.transaction() as con:
        ids = [r[0] for r in con.execute("UPDATE approval_requests SET status = 'expired' WHERE status = 'approved'"
                                         " AND expires_at < ? RETURNING id", [utcnow()]).fetchall()]
        for rid in ids:
            record(con, actor, ApprovalExpired(rid))
    return sorted(ids)
