"""A model's health (0-100, green/amber/red with reasons) and its drift section of the evidence pack.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import numpy as np

from ..audit import utcnow
from ..governance.recertification import recertification_status

HEALTH_WEIGHTS = {"drift": 0.30, "performance": 0.30, "data_quality": 0.15, "freshness": 0.10, "recertification": 0.15}


def health(store) -> dict[str, dict[str, Any]]:
    """A 0–100 health score per monitored model, from its latest snapshot and re-certification status.

    drift = 100 × (1 − drifted share of the inputs); performance = 100 when AUC is within 2 points of
    validation (RMSE within 5%), falling linearly to 0 at 10 points (50%); data quality = 100 × (1 − 5 ×
    the worst missing rate − 10 × the rejected share), floored at 0; freshness = 100 up to 2 days since the
    last logged prediction, 0 after 14; re-certification = 100, or 0 when overdue. Weighted 30/30/15/10/15.
    Green ≥ 80, amber ≥ 60, red below; an unresolved high-severity alert caps the score at 79 (amber).
    """
    with store.read() as con:
        rows = con.execute("SELECT m.name, s.version, s.environment, CAST(s.summary AS VARCHAR), s.computed_at FROM "
                           "monitor_snapshots s JOIN models m ON m.id = s.model_id ORDER BY s.computed_at").fetchall()
        open_alerts = dict(con.execute("SELECT m.name, count(*) FROM alerts a JOIN models m ON m.id = a.model_id "
                                       "WHERE a.status <> 'resolved' GROUP BY 1").fetchall())
        high_alerts = dict(con.execute("SELECT m.name, count(*) FROM alerts a JOIN models m ON m.id = a.model_id "
                                       "WHERE a.status <> 'resolved' AND a.severity = 'high' GROUP BY 1").fetchall())
    overdue = {d["model"] for d in recertification_status(store) if d["overdue"]}
    out = {}
    for name, resolve_version, env, text, _at in rows:
        if env not in ("production", "") and name in out:
            continue
        s = json.loads(text)
        parts, reasons = {}, []
        parts["drift"] = 100 * (1 - s["drifted_share"])
        if s["drifted_columns"]:
            reasons.append(f"{len(s['drifted_columns'])} of {s['n_columns']} inputs drifted")
        if s.get("current") is not None and s.get("baseline"):
            if s["metric"] == "auc":
                drop = (s["baseline"] - s["current"]) * 100
                parts["performance"] = float(np.clip(100 - (drop - 2) * 12.5, 0, 100))
                if drop >= 2:
                    reasons.append(f"AUC down {drop:.0f} points")
            else:
                rise = s["current"] / s["baseline"] - 1
                parts["performance"] = float(np.clip(100 - (rise - 0.05) * 222.2, 0, 100))
                if rise >= 0.05:
                    reasons.append(f"RMSE up {rise:.0%}")
        else:
            parts["performance"] = 100.0
        parts["data_quality"] = float(np.clip(100 * (1 - 5 * s["max_missing_rate"] - 10 * s["rejected_share"]), 0, 100))
        if parts["data_quality"] < 80:
            reasons.append("data quality issues")
        age = (utcnow() - datetime.fromisoformat(s["last"])).total_seconds() / 86400 if s.get("last") else 99
        parts["freshness"] = float(np.clip(100 - (age - 2) * (100 / 12), 0, 100))
        if age > 2:
            reasons.append(f"no traffic for {age:.0f} days")
        parts["recertification"] = 0.0 if name in overdue else 100.0
        if name in overdue:
            reasons.append("re-certification overdue")
        total = sum(HEALTH_WEIGHTS[k] * v for k, v in parts.items())
        if high_alerts.get(name):  # an unresolved high-severity alert never shows green
            total = min(total, 79.0)
            reasons.append(f"{high_alerts[name]} high-severity alert(s) open")
        status = "green" if total >= 80 else "amber" if total >= 60 else "red"
        out[name] = {"score": round(total), "status": status, "components": {k: round(v) for k, v in parts.items()},
                     "reasons": reasons, "open_alerts": int(open_alerts.get(name, 0)), "sentence": s.get("sentence", "")}
    return out


def evidence_for(store, model: str, version: int, environment: str) -> dict[str, Any] | None:
    """Drift status of a version in `environment` for an approval's evidence pack (its latest snapshot there),
    or None. Another environment's snapshot never stands in: clean staging traffic must not hide production drift.
    """
    with store.read() as con:
        row = con.execute("SELECT CAST(s.summary AS VARCHAR), s.computed_at, s.environment FROM monitor_snapshots s"
                          " JOIN models m ON m.id = s.model_id WHERE m.name = ? AND s.version = ? AND s.environment = ?"
                          " ORDER BY s.computed_at DESC LIMIT 1", [model, version, environment]).fetchall()
    if not row:
        return None
    s = json.loads(row[0][0])
    return {"computed_at": row[0][1].isoformat(), "environment": row[0][2], "drifted_share": s["drifted_share"],
            "dataset_drift": s["dataset_drift"], "drifted_columns": s["drifted_columns"], "rows": s["rows"],
            "metric": s["metric"], "current": s["current"], "baseline": s["baseline"], "sentence": s.get("sentence")}
