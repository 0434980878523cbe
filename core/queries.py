"""Read-only functions the pages and the CLI draw from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .governance.approvals import decision_blocker, list_requests
from .governance.live import live
from .monitoring.health import health_by_environment
from .identity import Identity, allowed, require
from .governance.recertification import recertification_status
from .registry.catalog import _STATUS_SQL, CARD_COMPLETENESS_SQL
from .registry.records import CARD_FIELDS
from .vocabulary import DEFAULT_ENVIRONMENT


def portfolio(store) -> pd.DataFrame:
    """One row per model: status, tier, versions, latest metrics and card completeness."""
    sql = f"""
        SELECT m.name, m.owner, m.business_unit, m.risk_tier, {_STATUS_SQL} AS status,
               count(v.id) AS versions, max(v.version) AS latest_version,
               (array_agg(CAST(v.metrics AS VARCHAR) ORDER BY v.version DESC))[1] AS latest_metrics,
               (array_agg(v.task ORDER BY v.version DESC))[1] AS task,
               {CARD_COMPLETENESS_SQL} AS card_completeness,
               m.updated_at
        FROM models m LEFT JOIN model_versions v ON v.model_id = m.id
        GROUP BY m.id, m.name, m.owner, m.business_unit, m.risk_tier, m.updated_at, {", ".join(
            f"m.{f}" for f in CARD_FIELDS)} ORDER BY m.name"""
    with store.read() as con:
        df = con.execute(sql).df()
    df["latest_metrics"] = [json.loads(x) if isinstance(x, str) else {} for x in df["latest_metrics"]]
    return df


# How much an attention item asks of people, in words that cannot be mistaken for a risk tier.
ATTENTION_SEVERITIES = {"action": "Action needed", "watch": "Watch"}


@dataclass(frozen=True)
class AttentionItem:
    model: str
    severity: str  # "action" (something must be done) | "watch" (keep an eye on it); see ATTENTION_SEVERITIES
    reason: str    # what is wrong, as a fact
    action: str    # the next step for the person looking, by their role
    kind: str = ""  # health | not_monitored | recertification | request | card | metrics | no_version
    environment: str | None = None

    @property
    def severity_label(self) -> str:
        return ATTENTION_SEVERITIES[self.severity]


def _step(actor: Identity | None, steps: dict[str, str]) -> str:
    """The next step for `actor`: the first of `steps` (role → sentence, in the order of who acts) whose role they
    hold; otherwise the `viewer` sentence, which names whom to ask and never a command."""
    roles = actor.roles if actor else frozenset()
    return next((text for role, text in steps.items() if role in roles), steps["viewer"])


def _monitored(store) -> set[tuple[str, int, str]]:
    """(model, version, environment) of every stored monitoring snapshot."""
    with store.read() as con:
        return {(m, v, e) for m, v, e in con.execute(
            "SELECT m.name, s.version, s.environment FROM monitor_snapshots s JOIN models m ON m.id = s.model_id"
        ).fetchall()}


def attention_items(store, actor: Identity | None, frame: pd.DataFrame | None = None,
                    health_by_env: dict[str, list[dict[str, Any]]] | None = None) -> list[AttentionItem]:
    """What needs attention across the portfolio, "action" items first, each with its next step for `actor`.

    Every live champion whose health (`monitoring.health`, per environment) is below green; every production
    deployment without a monitoring snapshot; re-certifications overdue or due within 30 days; deployment
    requests waiting for a decision or a deployment (only for people who may see approvals, `view-approvals`);
    models without a version, hold-out metrics or a complete model card. A viewer is told whom to ask, a data
    scientist what to run or which page to open, a risk officer what to decide. `frame` (`portfolio`) and
    `health_by_env` (`monitoring.health.health_by_environment`) are read here unless the page passes what it read.
    """
    df = portfolio(store) if frame is None else frame
    owners = dict(zip(df["name"], df["owner"]))

    def owner(model: str) -> str:
        return f"the owner ({owners[model]})" if owners.get(model) else "its owner"

    items: list[AttentionItem] = []
    for r in df.itertuples():
        if r.versions == 0:
            items.append(AttentionItem(r.name, "watch", "has no version yet", _step(actor, {
                "data_scientist": f"register its first version: 'modelgov register {r.name} --model FILE "
                                  "--train-data FILE --target COLUMN'",
                "viewer": f"planned; ask {owner(r.name)} when a first version is due"}), "no_version"))
            continue
        if not r.latest_metrics:
            items.append(AttentionItem(r.name, "watch", f"version {r.latest_version} has no hold-out metrics",
                                       _step(actor, {"data_scientist": "register it again with --test-data FILE",
                                                     "viewer": f"ask {owner(r.name)} to add hold-out metrics"}),
                                       "metrics"))
        if r.card_completeness < 1.0:
            items.append(AttentionItem(
                r.name, "action" if r.risk_tier == "high" else "watch",
                f"model card {int(round(r.card_completeness * 100))}% complete ({r.risk_tier} risk)", _step(actor, {
                    "data_scientist": "fill in the missing fields on the Model page (Model card tab)",
                    "risk_officer": f"a request fails its card check until it is complete; ask {owner(r.name)}",
                    "viewer": f"ask {owner(r.name)} to complete the model card"}), "card"))

    for model, records in (health_by_environment(store) if health_by_env is None else health_by_env).items():
        for h in records:
            if h["status"] not in ("amber", "red"):
                continue
            red = h["status"] == "red"
            items.append(AttentionItem(
                model, "action" if red else "watch",
                f"version {h['version']} in {h['environment']} is {h['status']} ({h['score']}): "
                + ("; ".join(h["reasons"]) or "below green"), _step(actor, {
                    "data_scientist": f"open Monitoring for {model} to see what drifted and how performance moved; "
                                      "retrain and request a challenger if it does not recover",
                    "risk_officer": f"review Monitoring for {model}; "
                                    + ("decide whether to roll back (Approvals page, Deployments tab)" if red else
                                       "if it does not recover, decide a rollback on the Approvals page"),
                    "viewer": f"ask {owner(model)} what is being done; the Monitoring page shows what changed"}),
                "health", h["environment"]))
    monitored = _monitored(store)
    for d in live(store, environment=DEFAULT_ENVIRONMENT):
        if (d.model, d.version, d.environment) in monitored:
            continue
        champion = d.role == "champion"
        items.append(AttentionItem(
            d.model, "action" if champion else "watch",
            f"version {d.version} is live in {d.environment} as {d.role} but not monitored", _step(actor, {
                "data_scientist": f"store a monitoring snapshot: 'modelgov monitor {d.model}:{d.version} "
                                  f"--env {d.environment}'",
                "risk_officer": f"its health is unknown; ask {owner(d.model)} to monitor it"
                                + (" before you re-certify it" if champion else " before its promotion"),
                "viewer": f"its health is unknown; ask {owner(d.model)} to monitor it"}),
            "not_monitored", d.environment))

    for d in recertification_status(store):
        if d["overdue"]:
            sev, reason = "action", f"re-certification in {d['environment']} overdue since {d['due']}"
        elif d["days_left"] <= 30:
            sev, reason = "watch", f"re-certification in {d['environment']} due {d['due']}"
        else:
            continue
        items.append(AttentionItem(d["model"], sev, reason, _step(actor, {
            "risk_officer": "review it and re-certify (or roll back) on the Approvals page, Deployments tab",
            "viewer": "a risk officer re-certifies it; ask one if it is yours"}), "recertification", d["environment"]))

    if allowed(actor, "view-approvals"):
        for r in list_requests(store, actor):
            if r.status == "pending":
                blocker = decision_blocker(store, actor, r.id)
                mine = r.requested_by == (actor.email if actor else None)
                items.append(AttentionItem(
                    r.model, "action" if blocker is None else "watch",
                    f"deployment request {r.id} ({r.ref} to {r.environment} as {r.role}): {r.progress}",
                    "decide it on the Approvals page (Queue)" if blocker is None else _step(actor, {
                        "risk_officer": "another risk officer decides it; nothing for you to do",
                        "data_scientist": "your request waits for the risk officers; nothing to do until then"
                                          if mine else "risk officers decide it on the Approvals page",
                        "viewer": "risk officers decide it on the Approvals page"}), "request", r.environment))
            elif r.status == "approved":
                items.append(AttentionItem(
                    r.model, "watch", f"deployment request {r.id} ({r.ref} to {r.environment} as {r.role}) is "
                    f"approved, not yet deployed (valid until {str(r.expires_at)[:10]})", _step(actor, {
                        "data_scientist": "deploy it on the Approvals page before the approval expires",
                        "risk_officer": "deploy it on the Approvals page, or let its requester do it",
                        "viewer": "a data scientist deploys it on the Approvals page"}), "request", r.environment))
    order = {"action": 0, "watch": 1}
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


def model_names(store, *, with_versions: bool = False) -> list[str]:
    """Every model's name, sorted; only those with at least one version when `with_versions`."""
    where = " WHERE EXISTS (SELECT 1 FROM model_versions v WHERE v.model_id = m.id)" if with_versions else ""
    with store.read() as con:
        return [r[0] for r in con.execute(f"SELECT m.name FROM models m{where} ORDER BY m.name").fetchall()]


def counts(store) -> dict[str, Any]:
    with store.read() as con:
        m, v = con.execute("SELECT (SELECT count(*) FROM models), (SELECT count(*) FROM model_versions)").fetchone()
    return {"models": m, "versions": v}


def class_metrics(store, name: str, version: int) -> pd.DataFrame | None:
    """A multiclass version's per-class precision and recall on its hold-out data, with human headers (the Model
    page's table; monitoring.holdout_scores.per_class computes them); None for other tasks or without hold-out."""
    from .monitoring import holdout_scores
    from .registry.versions import get_model_version

    rows = holdout_scores.per_class(store, get_model_version(store, name, version))
    if rows is None:
        return None
    return pd.DataFrame([{"Class": str(r["class"]), "Precision": r["precision"], "Recall": r["recall"],
                          "F1": r["f1"], "Rows of this class": r["support"], "Rows predicted as it": r["predicted"]}
                         for r in rows])
