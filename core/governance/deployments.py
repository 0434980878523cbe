"""Deploying an approved request exactly once, and rolling back to the previous champion.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..audit import record, utcnow
from ..errors import Conflict, InvalidInput
from ..events import Deployed, RolledBack
from ..identity import Identity, require
from ..lineage import nodes as lineage
from ..registry.catalog import get_model_tx
from ..registry.records import ModelVersion
from ..registry.versions import get_model_version_tx, get_version_by_id
from .approvals import Request, get_request_tx, verify_artifact_tx
from .live import active_tx
from ..vocabulary import RISK_TIERS_HIGHEST_FIRST, validate_environment
from .policy import iso, refusal


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
    """Deploy an approved request, exactly once.

    Needs `deploy`. The approvals are counted again against the strictest risk tier the model held since the
    request, and the artifact is re-hashed. Records `deploy`. Raises Forbidden, NotFound, Conflict (not
    approved, or approved with fewer approvals than the tier now needs), CheckFailed (artifact changed).
    """
    with store.transaction() as con:
        require(actor, "deploy", Deployed, request_id)
        r = get_request_tx(con, int(request_id))
        if r.status != "approved":
            top = next((t for t in RISK_TIERS_HIGHEST_FIRST if t in r.tiers_since_request), r.risk_tier)
            why = {"pending": f"it is still pending ({len(r.approvals)} of {r.approvals_needed} approvals, as the "
                   f"strictest risk tier its model held since the request, {top}, needs)",
                   "rejected": "it was rejected", "deployed": f"it was already deployed by {r.deployed_by} at "
                   f"{iso(r.deployed_at)}", "expired": f"its approval expired at {iso(r.expires_at)}; request "
                   "again"}[r.status]
            raise refusal(actor, Conflict, f"Request {r.id} cannot be deployed: {why}.", Deployed, r.id)
        now = utcnow()
        v = get_model_version_tx(con, r.model, r.version)
        verify_artifact_tx(store, actor, v, Deployed, r.id, "deployed")
        live = active_tx(con, r.model, r.environment)
        ended = []
        for d in live:
            if r.role == "champion" and (d.role == "champion" or d.version == v.version):
                _end(con, actor, d, f"replaced by {v.ref} (request {r.id})" if d.version != v.version
                     else f"promoted to champion (request {r.id})", now)
                ended.append({"deployment_id": d.id, "version": d.version, "role": d.role})
            elif r.role == "challenger" and d.version == v.version:
                raise refusal(actor, Conflict, f"{v.ref} is already live in {r.environment} as {d.role}.", Deployed,
                              r.id)
        dep_id = _start(con, actor, v, r.environment, r.role, r.id, now)
        changed = con.execute("UPDATE approval_requests SET status = 'deployed', deployment_id = ?, deployed_at = ?,"
                              " deployed_by = ? WHERE id = ? AND status = 'approved' RETURNING id",
                              [dep_id, now, actor.email, r.id]).fetchall()
        if not changed:
            raise Conflict(f"Request {r.id} was deployed by someone else at the same moment.")
        record(con, actor, Deployed(r.id, r.model, r.version, r.environment, r.role, dep_id, ended))
        return get_request_tx(con, r.id)


def rollback(store, actor: Identity, model: str, environment: str, reason: str) -> dict[str, Any]:
    """Put the previous champion of `environment` back (risk officer, with a reason)."""
    validate_environment(environment)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give the reason for the rollback: it goes into the record.", field="reason")
    with store.transaction() as con:
        require(actor, "rollback", RolledBack, model)
        m = get_model_tx(con, model)
        current = next((d for d in active_tx(con, model, environment) if d.role == "champion"), None)
        if current is None:
            raise refusal(actor, Conflict, f"{model} has no champion in {environment}; there is nothing to roll "
                          "back.", RolledBack, model)
        prev = con.execute(
            "SELECT d.version_id, v.version, d.approval_id FROM deployments d JOIN model_versions v ON v.id = "
            "d.version_id WHERE v.model_id = ? AND d.environment = ? AND d.role = 'champion' AND d.until IS NOT NULL"
            " AND d.version_id <> ? AND d.since < ? ORDER BY d.since DESC, d.id DESC LIMIT 1",
            [m.id, environment, current.version_id, current.since]).fetchone()
        if prev is None:
            raise refusal(actor, Conflict, f"{model} has no earlier champion in {environment} to return to; deploy "
                          "another version through an approval instead.", RolledBack, model)
        now = utcnow()
        _end(con, actor, current, f"rolled back: {reason}", now)
        v = get_version_by_id(con, prev[0])
        dep_id = _start(con, actor, v, environment, "champion", prev[2], now)
        record(con, actor, RolledBack(model, environment, reason, current.version, v.version, dep_id))
    return {"model": model, "environment": environment, "from_version": current.version, "to_version": v.version,
            "deployment_id": dep_id}
