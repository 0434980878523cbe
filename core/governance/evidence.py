"""The evidence pack: assembled from its sections, frozen (canonical JSON + SHA-256), re-hashed on read.

It sits on top of the areas it cites and imports each section explicitly; nothing imports it back
except the request that freezes it and the report that prints it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from ..audit import canonical_json

# The sections, imported explicitly: each area says what it contributes; none of them imports this module.
from ..compare.stored import comparison_for_evidence
from ..errors import CheckFailed, NotFound
from ..explain.summary import evidence_for as explanations_section
from ..identity import Identity, require
from ..lineage import nodes as lineage
from ..monitoring.health import evidence_for as drift_section
from ..registry.catalog import get_model_tx
from ..registry.records import CARD_FIELDS, ModelVersion
from .live import active_tx
from .policy import Policy, iso, policy_checks, policy_tx

EVIDENCE_SCHEMA = "modelgov.evidence/1"


def evidence(store, actor: Identity | None, request_id: int) -> dict[str, Any]:
    """The frozen evidence pack of a request, after checking it still hashes to its recorded SHA-256.

    Needs `view-approvals` (a refusal is audited). Raises Forbidden, NotFound, CheckFailed (altered pack).
    """
    with store.transaction():
        require(actor, "view-approvals", "approval", request_id)
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


def _json_safe(value: Any) -> Any:
    return json.loads(canonical_json(value))


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
    policy = policy_tx(con, model.risk_tier)
    card = {f: model.card.get(f, "") for f in CARD_FIELDS}
    filled = sum(1 for v in card.values() if (v or "").strip())
    # Each section is None when its area has nothing for the version yet. Drift is the requested environment's
    # only: clean staging traffic must not stand in for production's.
    optional = {"drift": drift_section(store, version.model, version.version, environment),
                "explanations": explanations_section(store, version.model, version.version)}
    comparison = comparison_for_evidence(store, version)
    champion = next((d for d in active_tx(con, version.model, environment) if d.role == "champion"), None)
    checks = policy_checks(version, card, policy, optional.get("drift"))
    pack = {
        "schema": EVIDENCE_SCHEMA,
        "assembled_at": now.isoformat(),
        "request": {"environment": environment, "role": role, "reason": reason, "requested_by": actor.email},
        "model": {"name": model.name, "owner": model.owner, "risk_tier": model.risk_tier,
                  "business_unit": model.business_unit, "description": model.description, "tags": model.tags},
        "version": {"version": version.version, "sha256": version.sha256, "estimator": version.estimator,
                    "task": version.task, "target": version.target, "created_by": version.created_by,
                    "created_at": iso(version.created_at), "code_ref": version.code_ref,
                    "parameters": version.parameters, "signature": version.signature},
        "metrics": version.metrics,
        "model_card": {"fields": card, "completeness": round(filled / len(CARD_FIELDS), 4)},
        "policy": policy.as_dict(),
        "checks": checks,
        "lineage": _lineage_summary(con, version),
        "current_champion": None if champion is None else {
            "version": champion.version, "since": iso(champion.since), "deployment_id": champion.id},
        "drift": optional.get("drift"),
        "explanations": optional.get("explanations"),
        "comparison": comparison,
    }
    return _json_safe(pack), policy
