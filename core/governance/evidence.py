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
from ..errors import CheckFailed, NotFound
from ..identity import Identity, require
from ..lineage import nodes as lineage
from ..registry.catalog import get_model_tx
from ..registry.records import CARD_FIELDS, ModelVersion
from ..registry.versions import get_model_version_tx
from .live import active_tx
from .policy import Policy, checks_verdict, iso, policy_checks, policy_tx

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
            SELECT src, 1, CAST(chr(1) || src || chr(1) AS VARCHAR) FROM lineage_edges WHERE dst = ?
            UNION ALL
            SELECT e.src, up.depth + 1, CAST(up.path || e.src || chr(1) AS VARCHAR) FROM lineage_edges e
            JOIN up ON e.dst = up.id
            WHERE up.depth < 10 AND strpos(up.path, chr(1) || e.src || chr(1)) = 0)
        SELECT n.id, n.kind, n.name, min(up.depth) FROM up JOIN lineage_nodes n ON n.id = up.id
        GROUP BY n.id, n.kind, n.name ORDER BY 4, 1 LIMIT 50""", [node]).fetchall()
    return {"node": node, "upstream": [{"id": i, "kind": k, "name": n, "depth": d} for i, k, n, d in rows],
            "code_ref": version.code_ref}


def gather_sections(store, model: str, version: int, environment: str) -> dict[str, Any]:
    """The sections that take computing, gathered before the request's transaction opens (so a long drift
    computation never holds the store's write lock): the version's own drift in `environment` (None with the
    reason it could not be evaluated) and its latest SHAP summary."""
    # The sections, imported explicitly where they are gathered (each area says what it contributes; none of them
    # imports this module), and only then: they bring pandas and numpy, which reading a request does not need.
    from ..explain.summary import evidence_for as explanations_section
    from ..monitoring.checks import drift_summary

    drift, drift_missing = drift_summary(store, model, version, environment)
    fairness, fairness_missing = _fairness_section(store, model, version)
    return {"drift": drift, "drift_missing": drift_missing, "fairness": fairness, "fairness_missing": fairness_missing,
            "explanations": explanations_section(store, model, version)}


def _fairness_section(store, model: str, version: int) -> tuple[dict[str, Any] | None, str]:
    """The version's fairness on its hold-out data for each attribute its card declares, or None and why not."""
    from ..errors import CoreError
    from ..fairness.attributes import get_settings
    from ..fairness.report import holdout_report
    from ..fairness.words import evidence_section

    if get_settings(store, model) is None:
        return None, (f"no sensitive attributes are declared on {model}'s model card; declare them "
                      f"('modelgov fairness-declare {model} --sensitive COL,…')")
    from ..registry.versions import get_model_version

    v = get_model_version(store, model, version)
    if v.task not in ("binary_classification", "regression"):
        return None, f"fairness is not measured for {v.task.replace('_', ' ')} models"
    try:
        return evidence_section(holdout_report(store, v)), ""
    except CoreError as e:  # no hold-out data, an attribute file missing: the check says why
        return None, str(e).rstrip(".")



def assemble_evidence(con, version: ModelVersion, environment: str, role: str, reason: str, actor: Identity,
                      now: datetime, sections: dict[str, Any]) -> tuple[dict[str, Any], Policy]:
    """The pack, inside the request's transaction: what is live and the stored comparison with the live champion
    are read in the same transaction that freezes the pack."""
    from ..compare.stored import comparison_with_tx  # the comparison section (see gather_sections)

    model = get_model_tx(con, version.model)
    policy = policy_tx(con, model.risk_tier)
    card = {f: model.card.get(f, "") for f in CARD_FIELDS}
    filled = sum(1 for v in card.values() if (v or "").strip())
    champion = next((d for d in active_tx(con, version.model, environment) if d.role == "champion"), None)
    champion_id = None if champion is None else get_model_version_tx(con, version.model, champion.version).id
    # The comparison that judges the request is the one against the live champion; without one, the latest
    # comparison of the version is still shown (the check says it is not against the live champion).
    comparison = comparison_with_tx(con, version.id, champion_id) if champion_id is not None else None
    shown = comparison or comparison_with_tx(con, version.id)
    checks = policy_checks(version, card, policy, sections["drift"], sections["drift_missing"], role=role,
                           environment=environment, champion_version=None if champion is None else champion.version,
                           comparison=comparison, fairness=sections.get("fairness"),
                           fairness_missing=sections.get("fairness_missing") or "not measured")
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
        "verdict": checks_verdict(checks),
        "lineage": _lineage_summary(con, version),
        "current_champion": None if champion is None else {
            "version": champion.version, "since": iso(champion.since), "deployment_id": champion.id},
        "drift": sections["drift"],
        "explanations": sections["explanations"],
        "comparison": shown,
        "fairness": sections.get("fairness"),
    }
    return _json_safe(pack), policy
