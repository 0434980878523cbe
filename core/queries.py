"""Read-only functions the pages and the CLI draw from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .governance.approvals import list_requests
from .identity import Identity, allowed, require
from .governance.recertification import recertification_status
from .registry.catalog import _STATUS_SQL
from .registry.records import CARD_FIELDS


def portfolio(store) -> pd.DataFrame:
    """One row per model: status, tier, versions, latest metrics and card completeness."""
    card_filled = " + ".join(f"(CASE WHEN trim(m.{f}) <> '' THEN 1 ELSE 0 END)" for f in CARD_FIELDS)
    sql = f"""
        SELECT m.name, m.owner, m.business_unit, m.risk_tier, {_STATUS_SQL} AS status,
               count(v.id) AS versions, max(v.version) AS latest_version,
               arg_max(CAST(v.metrics AS VARCHAR), v.version) AS latest_metrics,
               arg_max(v.task, v.version) AS task,
               ({card_filled}) / {len(CARD_FIELDS)}.0 AS card_completeness,
               m.updated_at
        FROM models m LEFT JOIN model_versions v ON v.model_id = m.id
        GROUP BY ALL ORDER BY m.name"""
    with store.read() as con:
        df = con.execute(sql).df()
    df["latest_metrics"] = [json.loads(x) if isinstance(x, str) else {} for x in df["latest_metrics"]]
    return df


@dataclass(frozen=True)
class AttentionItem:
    model: str
    severity: str  # "high" | "medium" | "low"
    reason: str
    action: str


def attention_items(store, actor: Identity | None, frame: pd.DataFrame | None = None) -> list[AttentionItem]:
    """What needs a person's attention across the portfolio, most severe first.

    Pending deployment requests are listed only for people who may see approvals (`view-approvals`).
    """
    df = portfolio(store) if frame is None else frame
    items: list[AttentionItem] = []
    for r in df.itertuples():
        if r.versions == 0:
            items.append(AttentionItem(r.name, "low", "has no version yet",
                                       f"register one with 'modelgov register {r.name} …'"))
            continue
        if not r.latest_metrics:
            items.append(AttentionItem(r.name, "medium", f"version {r.latest_version} has no hold-out metrics",
                                       "register it again with --test-data"))
        if r.card_completeness < 1.0:
            sev = "high" if r.risk_tier == "high" else "medium" if r.risk_tier == "medium" else "low"
            items.append(AttentionItem(r.name, sev, f"model card {int(round(r.card_completeness * 100))}% complete",
                                       "fill in the missing model-card fields on the Model page"))

    for d in recertification_status(store):
        if d["overdue"]:
            items.append(AttentionItem(d["model"], "high", f"re-certification in {d['environment']} overdue since "
                                       f"{d['due']}", f"a risk officer re-certifies it: 'modelgov recertify "
                                       f"{d['model']} --env {d['environment']} --comment TEXT'"))
        elif d["days_left"] <= 30:
            items.append(AttentionItem(d["model"], "low", f"re-certification in {d['environment']} due {d['due']}",
                                       "plan the review on the Approvals page"))
    for r in list_requests(store, actor, status="pending") if allowed(actor, "view-approvals") else []:
        items.append(AttentionItem(r.model, "medium", f"deployment request {r.id} ({r.ref} to {r.environment}) "
                                   f"waits for {r.approvals_needed - len(r.approvals)} approval(s)",
                                   "a risk officer decides it on the Approvals page"))
    order = {"high": 0, "medium": 1, "low": 2}
    return sorted(items, key=lambda i: (order[i.severity], i.model))


def model_history(store, actor: Identity | None, name: str, limit: int = 200) -> pd.DataFrame:
    """Audit events about a model and its versions, newest first (who changed what, refusals included).

    Needs `view-approvals` (a refusal is audited). Raises Forbidden.
    """
    with store.transaction():
        require(actor, "view-approvals", "model", name)
    with store.read() as con:
        return con.execute(
            "SELECT seq, ts, actor, action, entity_type, entity_id, outcome, CAST(payload AS VARCHAR) AS payload"
            " FROM audit_log WHERE entity_id = ? OR entity_id LIKE ? ORDER BY seq DESC LIMIT ?",
            [name, f"{name}:%", limit]).df()


def model_deployments(store, name: str) -> pd.DataFrame:
    """Deployments of any version of `name`, newest first."""
    with store.read() as con:
        return con.execute(
            "SELECT d.id, v.version, d.environment, d.role, d.since, d.until, d.deployed_by, d.approval_id,"
            " d.end_reason FROM deployments d JOIN model_versions v ON v.id = d.version_id"
            " JOIN models m ON m.id = v.model_id WHERE m.name = ? ORDER BY d.since DESC", [name]).df()


def model_names(store) -> list[str]:
    with store.read() as con:
        return [r[0] for r in con.execute("SELECT name FROM models ORDER BY name").fetchall()]


def counts(store) -> dict[str, Any]:
    with store.read() as con:
        m, v = con.execute("SELECT (SELECT count(*) FROM models), (SELECT count(*) FROM model_versions)").fetchone()
    return {"models": m, "versions": v}
