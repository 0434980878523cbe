"""A model's health (0-100, green/amber/red with reasons) and its drift section of the evidence pack.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ..audit import utcnow
from ..governance import live
from ..governance.recertification import recertification_status
from ..vocabulary import DEFAULT_ENVIRONMENT
from .rules import AUC_DROP_POINTS, AUC_LIKE, RMSE_RISE

def _clip(x: float, lo: float, hi: float) -> float:
    return min(max(x, lo), hi)


HEALTH_WEIGHTS = {"drift": 0.30, "performance": 0.30, "data_quality": 0.15, "freshness": 0.10, "recertification": 0.15}


def score(s: dict[str, Any], *, overdue: bool = False, high_alerts: int = 0) -> dict[str, Any]:
    """The health of one monitoring summary (a snapshot), as a pure function of its numbers.

    drift = 100 × (1 − drifted share of the inputs); performance = 100 when AUC is within 2 points of
    validation (RMSE within 5%), falling linearly to 0 at 10 points (50%); data quality = 100 × (1 − 5 ×
    the worst missing rate − 10 × the rejected share), floored at 0; freshness = 100 up to 2 days since the
    last logged prediction, 0 after 14; re-certification = 100, or 0 when overdue. Weighted 30/30/15/10/15.
    Green ≥ 80, amber ≥ 60, red below; an unresolved high-severity alert caps the score at 79 (amber).
    """
    parts, reasons = {}, []
    parts["drift"] = 100 * (1 - s["drifted_share"])
    if s["drifted_columns"]:
        reasons.append(f"{len(s['drifted_columns'])} of {s['n_columns']} inputs drifted")
    if s.get("current") is not None and s.get("baseline"):
        if s["metric"] in AUC_LIKE:  # AUC (binary) or macro one-vs-rest AUC (multiclass): the same rule in points
            drop = (s["baseline"] - s["current"]) * 100
            parts["performance"] = float(_clip(100 - (drop - AUC_DROP_POINTS) * 12.5, 0, 100))
            if drop >= AUC_DROP_POINTS:  # the same rule as checks.performance_change
                reasons.append(f"{'AUC' if s['metric'] == 'auc' else 'macro AUC'} down {drop:.0f} points")
        else:
            rise = s["current"] / s["baseline"] - 1
            parts["performance"] = float(_clip(100 - (rise - RMSE_RISE) * 222.2, 0, 100))
            if rise >= RMSE_RISE:
                reasons.append(f"RMSE up {rise:.0%}")
    else:
        parts["performance"] = 100.0
    parts["data_quality"] = float(_clip(100 * (1 - 5 * s["max_missing_rate"] - 10 * s["rejected_share"]), 0, 100))
    if parts["data_quality"] < 80:
        reasons.append("data quality issues")
    age = (utcnow() - datetime.fromisoformat(s["last"])).total_seconds() / 86400 if s.get("last") else 99
    parts["freshness"] = float(_clip(100 - (age - 2) * (100 / 12), 0, 100))
    if age > 2:
        reasons.append(f"no traffic for {age:.0f} days")
    parts["recertification"] = 0.0 if overdue else 100.0
    if overdue:
        reasons.append("re-certification overdue")
    total = sum(HEALTH_WEIGHTS[k] * v for k, v in parts.items())
    if high_alerts:  # an unresolved high-severity alert never shows green
        total = min(total, 79.0)
        reasons.append(f"{high_alerts} high-severity alert(s) open")
    status = "green" if total >= 80 else "amber" if total >= 60 else "red"
    return {"score": round(total), "status": status, "components": {k: round(v) for k, v in parts.items()},
            "reasons": reasons}


def health_by_environment(store, model: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """Per model, one record per environment with a live champion: the health of THAT champion there.

    A retired version's snapshot is history, not the model's health: only the snapshot of the version that is
    live now, in the environment it is live in, counts, with the open alerts raised on it. A live champion
    with no snapshot yet is `unknown`, with the reason and what to run.
    """
    with store.read() as con:
        champions = [d for d in live.live_tx(con, model) if d.role == "champion"]
        snaps = {(m, v, e): (json.loads(t), at) for m, v, e, t, at in con.execute(
            "SELECT m.name, s.version, s.environment, CAST(s.summary AS VARCHAR), s.computed_at FROM "
            "monitor_snapshots s JOIN models m ON m.id = s.model_id").fetchall()}
        alerts = con.execute("SELECT m.name, a.version, a.environment, a.severity, count(*) FROM alerts a JOIN models m"
                             " ON m.id = a.model_id WHERE a.status <> 'resolved' GROUP BY m.name, a.version, a.environment, a.severity").fetchall()
    open_alerts: dict[tuple, int] = {}
    high_alerts: dict[tuple, int] = {}
    for name, version, env, severity, n in alerts:
        key = (name, version, env or "")
        open_alerts[key] = open_alerts.get(key, 0) + n
        if severity == "high":
            high_alerts[key] = high_alerts.get(key, 0) + n
    overdue = {(d["model"], d["environment"]) for d in recertification_status(store, model) if d["overdue"]}
    out: dict[str, list[dict[str, Any]]] = {}
    for d in champions:
        key = (d.model, d.version, d.environment)
        base = {"environment": d.environment, "version": d.version, "open_alerts": int(open_alerts.get(key, 0))}
        if key not in snaps:
            rec = {**base, "status": "unknown", "score": None, "components": {}, "computed_at": None,
                   "reasons": [f"{d.model}:{d.version} is not monitored in {d.environment} yet"], "sentence": ""}
        else:
            summary, at = snaps[key]
            rec = {**base, **score(summary, overdue=(d.model, d.environment) in overdue,
                                   high_alerts=high_alerts.get(key, 0)),
                   "computed_at": at.isoformat(), "sentence": summary.get("sentence", "")}
        out.setdefault(d.model, []).append(rec)
    return out


def health(store, model: str | None = None, *, by_environment: dict[str, list[dict[str, Any]]] | None = None
           ) -> dict[str, dict[str, Any]]:
    """The model's health: its live production champion's (models with none are absent). A page that also needs
    every environment's passes the `health_by_environment` it read, which is then not read again."""
    if by_environment is None:
        by_environment = health_by_environment(store, model)
    return {name: rec for name, recs in by_environment.items() for rec in recs if rec["environment"] == DEFAULT_ENVIRONMENT}
