"""Monitoring checks: the summary a snapshot stores, its plain sentence, and the alerts it raises.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ..audit import canonical_json, record, utcnow
from ..events import AlertRaised, MonitoringSnapshotStored
from ..drift import stattests
from ..errors import CoreError, Forbidden, NotFound
from ..identity import Identity, allowed, require
from ..lineage import nodes as lineage
from ..registry.catalog import get_model_tx
from ..registry.records import ModelVersion
from ..registry.versions import get_model_version
from .report import RECENT_DAYS, Monitored, monitor, monitor_version
from .rules import AUC_DROP_POINTS, AUC_LIKE, PRIMARY_METRIC, RMSE_RISE  # noqa: F401  (also read as checks.AUC_DROP_POINTS)
from ..metrics import METRIC_LABELS

DEFAULT_ALERTS = {"drifted_share": 0.3, "auc_drop": 0.05, "rmse_rise": 0.2, "missing_rate": 0.1,
                  "rejected_share": 0.01, "stale_days": 3}


def summarise(result: dict[str, Any], v: ModelVersion) -> dict[str, Any]:
    """The few numbers health, alerts and the plain sentence rest on (stored as a snapshot)."""
    wins = result["drift"].get("windows", [])
    recent = result["recent_drift"]
    # When did it start? The change point of the drifted inputs' own drift scores, window by window.
    flagged = [c["column"] for c in recent["columns"] if c["drifted"]]
    series = []
    for w in wins:
        scores = [(1 - c["drift_score"]) if c["method"] in stattests.P_VALUE_METHODS else c["drift_score"]
                  for c in w["columns"] if c["column"] in flagged]
        series.append(float(np.mean(scores)) if scores else 0.0)
    top = max(series, default=0.0)
    k = change_point([x / top for x in series]) if top > 0 else None
    shift_start = wins[k]["start"] if k is not None else None
    perf = [p for p in result["performance"] if p["labelled"] >= 30]
    metric = PRIMARY_METRIC.get(v.task, "rmse")
    baseline = v.metrics.get(metric)
    last_perf = [p for p in perf[-7:] if p[metric] is not None]
    current = float(np.average([p[metric] for p in last_perf], weights=[p["labelled"] for p in last_perf])) \
        if last_perf else None
    drifted_cols = [c["column"] for c in recent["columns"] if c["drifted"]]
    last_missing = max((q["missing_rate"] for q in result["data_quality"]), default=0.0)
    ingest = result["ingestion"]
    rejected_share = (sum(i["rejected"] for i in ingest) / max(1, sum(i["rows"] for i in ingest))) if ingest else 0.0
    return {"model": result["model"], "version": result["version"], "environment": result["environment"],
            "rows": result["rows"], "last": result["last"], "first": result["first"],
            "drifted_share": recent["drifted_share"], "dataset_drift": recent["dataset_drift"],
            "drifted_columns": drifted_cols, "n_columns": len(recent["columns"]), "recent_days": RECENT_DAYS,
            "shift_start": shift_start, "metric": metric, "baseline": baseline, "current": current,
            "max_missing_rate": last_missing, "rejected_share": rejected_share}


def change_point(series: list[float], min_gap: float = 0.15) -> int | None:
    """Index where the mean of a series shifts up the most (mean after − mean before), if by at least `min_gap`."""
    if len(series) < 4:
        return None
    x = np.asarray(series, dtype=float)
    best, where = 0.0, None
    for k in range(2, len(x) - 1):
        gap = x[k:].mean() - x[:k].mean()
        if gap > best:
            best, where = gap, k
    return where if best >= min_gap else None


def plain_sentence(s: dict[str, Any]) -> str:
    parts = []
    n, k = len(s["drifted_columns"]), s["n_columns"]
    since = f" since {pd.Timestamp(s['shift_start']).strftime('%-d %B')}" if s.get("shift_start") else ""
    parts.append(f"{n} of {k} inputs have shifted{since}" if n else f"none of its {k} inputs has shifted")
    if s.get("current") is not None and s.get("baseline") is not None:
        if s["metric"] in AUC_LIKE:
            delta = (s["current"] - s["baseline"]) * 100
            label = METRIC_LABELS[s["metric"]]
            parts.append(f"{label} is {'down' if delta < 0 else 'up'} {abs(delta):.0f} points "
                         f"({s['current']:.3f} vs {s['baseline']:.3f} at validation)" if abs(delta) >= 1
                         else f"{label} holds at {s['current']:.3f}")
        else:
            ratio = s["current"] / s["baseline"] - 1 if s["baseline"] else 0
            parts.append(f"RMSE is {'up' if ratio > 0 else 'down'} {abs(ratio):.0%}")
    else:
        parts.append("no outcomes have arrived yet to measure performance")
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:]


def check(store, actor: Identity, model: str, version: int | None = None, environment: str = "production",
          window: str = "day", thresholds: dict[str, float] | None = None, engine: str | None = None) -> dict[str, Any]:
    """Run monitoring, store the snapshot and raise alerts for crossed thresholds (one open alert per kind).

    Needs `store-monitoring` (health and evidence packs read the snapshot; anyone with `view` may compute the same
    report without storing it: `report.monitor`, `modelgov monitor --no-store`). Records `monitoring.snapshot` and
    `alert.raise`; then keeps the same review for pages (`snapshots.save`, a cache: not audited; a failure there
    is reported under "snapshot", never raised). Raises Forbidden (before any work), NotFound, InvalidInput.
    """
    if not allowed(actor, "store-monitoring"):  # refuse before minutes of work; the refusal is audited
        with store.transaction():
            who = actor.email if actor else "anonymous"
            raise Forbidden(f"{who} may not store monitoring snapshots (health and evidence packs read them; a data "
                            "scientist stores them); see the report without storing it: 'modelgov monitor --no-store'.",
                            actor=who, action=MonitoringSnapshotStored.action,
                            entity_type=MonitoringSnapshotStored.entity_type, entity_id=model)
    th = {**DEFAULT_ALERTS, **(thresholds or {})}
    started = time.perf_counter()
    review_, mon = review_monitored(store, model, version, environment=environment, window=window, engine=engine)
    seconds = time.perf_counter() - started
    result, v, s = mon.result, mon.version, review_["summary"]
    raised = []
    candidates = []
    if s["drifted_columns"] and (s["dataset_drift"] or s["drifted_share"] >= th["drifted_share"]
                                 or s.get("shift_start")):
        candidates.append(("drift", "high" if s["dataset_drift"] else "medium",
                           f"{len(s['drifted_columns'])} of {s['n_columns']} inputs drifted over the last "
                           f"{RECENT_DAYS} days ({', '.join(s['drifted_columns'][:4])})"
                           + (f"; the shift began around {s['shift_start'][:10]}" if s.get("shift_start") else "")
                           + "".join(f". {t['sentence'].rstrip('.')}"
                                     for t in list((s.get("drift_sources") or {}).values())[:2]),
                           "drifted_share", s["drifted_share"], th["drifted_share"]))
    if s["current"] is not None and s["baseline"] is not None:
        if s["metric"] in AUC_LIKE and s["baseline"] - s["current"] >= th["auc_drop"]:
            candidates.append(("performance", "high", f"{METRIC_LABELS[s['metric']]} {s['current']:.3f}, "
                               f"{100 * (s['baseline'] - s['current']):.0f} points below validation "
                               f"({s['baseline']:.3f})", s["metric"], s["current"],
                               s["baseline"] - th["auc_drop"]))
        if s["metric"] == "rmse" and s["current"] > s["baseline"] * (1 + th["rmse_rise"]):
            candidates.append(("performance", "high", f"RMSE {s['current']:.3g} vs {s['baseline']:.3g} at validation",
                               "rmse", s["current"], s["baseline"] * (1 + th["rmse_rise"])))
    if s["max_missing_rate"] >= th["missing_rate"]:
        candidates.append(("data_quality", "medium", f"up to {s['max_missing_rate']:.0%} of an input is missing",
                           "missing_rate", s["max_missing_rate"], th["missing_rate"]))
    if s["rejected_share"] >= th["rejected_share"]:
        candidates.append(("data_quality", "medium", f"{s['rejected_share']:.1%} of logged rows were rejected",
                           "rejected_share", s["rejected_share"], th["rejected_share"]))
    if s["last"] and datetime.fromisoformat(s["last"]) < utcnow() - timedelta(days=th["stale_days"]):
        candidates.append(("freshness", "medium", f"no predictions logged since {s['last'][:10]}", "stale_days",
                           (utcnow() - datetime.fromisoformat(s["last"])).days, th["stale_days"]))
    with store.transaction() as con:
        require(actor, "store-monitoring", MonitoringSnapshotStored, model)
        m = get_model_tx(con, model)
        con.execute("INSERT INTO monitor_snapshots VALUES (?, ?, ?, ?, ?) ON CONFLICT (model_id, version, environment) DO UPDATE SET "
                    "computed_at = excluded.computed_at, summary = excluded.summary",
                    [m.id, v.version, environment or "", utcnow(), canonical_json(s)])
        record(con, actor, MonitoringSnapshotStored(model, v.version, environment or "", int(s["rows"] or 0),
                                                    float(s["drifted_share"] or 0.0)))
        for kind, sev, msg, metric, value, thr in candidates:
            exists = con.execute("SELECT id FROM alerts WHERE model_id = ? AND kind = ? AND metric = ? AND status <> "
                                 "'resolved'", [m.id, kind, metric]).fetchall()
            if exists:
                continue
            aid = con.execute("INSERT INTO alerts (model_id, version, environment, kind, severity, message, metric, value,"
                              " threshold, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?) RETURNING id",
                              [m.id, v.version, environment, kind, sev, msg, metric, value, thr, utcnow()]).fetchall()[0][0]
            raised.append(aid)
            record(con, actor, AlertRaised(aid, model, kind, msg))
        lineage.record_result_tx(con, actor, "monitoring", model, v.version, environment or "all",
                                 f"monitoring of {v.ref} in {environment}", {"rows": s["rows"], "last": s["last"],
                                                                             "drifted_share": s["drifted_share"]})
    # The scheduled run also keeps the page's snapshot (the same review: one computation, two readers); the
    # snapshot and alerts above stand whatever happens to that cache.
    from .snapshots import save_quietly  # snapshots builds on this module

    kept = save_quietly(store, actor, review_, mon.stamp, environment, window, seconds)
    return {"summary": s, "alerts_raised": raised, "result": result, "snapshot": kept}


# The rule of "performance moved": an AUC down by 2 points or more, an RMSE up by 5% or more (the same points
# at which the health score's performance part starts to fall).


def performance_change(s: dict[str, Any]) -> dict[str, Any] | None:
    """How the current performance compares with validation: {metric, current, baseline, change, worse}.

    `change` is in points for AUC (×100) and a ratio for RMSE; `worse` applies the rule above. None when no
    outcomes have arrived (or the version has no validation metric).
    """
    if s.get("current") is None or not s.get("baseline"):
        return None
    if s["metric"] in AUC_LIKE:
        change = (s["current"] - s["baseline"]) * 100
        worse = -change >= AUC_DROP_POINTS
    else:
        change = s["current"] / s["baseline"] - 1
        worse = change >= RMSE_RISE
    return {"metric": s["metric"], "current": s["current"], "baseline": s["baseline"], "change": change,
            "worse": worse}


def review(store, model: str, version: int | None = None, *, environment: str | None = "production",
           window: str = "day", engine: str | None = None) -> dict[str, Any]:
    """Monitor a version's logs and summarise them for people: the report, the summary with its plain sentence,
    whether it needs attention (an input drifted or performance moved the wrong way) and the model card's
    caveats. Stores nothing (that is `check`, and `snapshots.refresh` keeps it for pages); pages and CLI show
    this one answer."""
    return review_monitored(store, model, version, environment=environment, window=window, engine=engine)[0]


def review_monitored(store, model: str, version: int | None = None, *, environment: str | None = "production",
                     window: str = "day", engine: str | None = None) -> tuple[dict[str, Any], Monitored]:
    """`review`, with the report it rests on (its version, model and the stamp of the data it read). `engine`:
    duckdb or spark (core/engine.py; default MODELGOV_ENGINE or duckdb): the same review either way."""
    mon = monitor_version(store, model, version, environment=environment, window=window, engine=engine)
    rev = reviewed(mon)
    from . import drift_sources

    with store.read() as con:  # where each drifted input comes from, and who else reads that source
        rev["summary"]["drift_sources"] = drift_sources.trace_tx(con, mon.version, rev["summary"]["drifted_columns"])
    return rev, mon


def reviewed(mon: Monitored) -> dict[str, Any]:
    """The review of one monitoring report (a pure function of it)."""
    s = summarise(mon.result, mon.version)
    s["sentence"] = plain_sentence(s)
    change = performance_change(s)
    caveats = (mon.model.card.get("caveats") or "").strip()
    return {"result": mon.result, "summary": s, "performance_change": change,
            "needs_attention": bool(s["drifted_columns"]) or bool(change and change["worse"]),
            "caveats": caveats}


def drift_summary(store, model: str, version: int, environment: str) -> tuple[dict[str, Any] | None, str]:
    """A version's drift on its own traffic in `environment`, now: (section, "") or (None, why not and what to do).

    The same monitor-and-summarise the Monitoring page shows; the rows of a live challenger in shadow count. An
    approval's evidence pack freezes this section, so the request and the page speak of the same numbers.
    """
    v = get_model_version(store, model, version)
    try:
        result = monitor(store, model, v.version, environment=environment)
    except NotFound:
        elsewhere = _environments_with_traffic(store, v)
        hint = (f" (it has traffic in {', '.join(elsewhere)}, which does not stand in for {environment})"
                if elsewhere else "")
        return None, (f"{v.ref} has no logged predictions in {environment} yet{hint}; run it there as a challenger "
                      f"in shadow, or log its predictions for {environment}, then request again")
    except CoreError as e:
        return None, f"its drift in {environment} could not be computed: {str(e).rstrip('.')}"
    s = summarise(result, v)
    s["sentence"] = plain_sentence(s)
    columns = [{"column": c["column"], "method": c["method"], "drift_score": c["drift_score"],
                "threshold": c["threshold"], "drifted": c["drifted"]} for c in result["recent_drift"]["columns"]]
    return {"computed_at": utcnow().isoformat(), "environment": environment, "version": v.version,
            "rows": s["rows"], "first": s["first"], "last": s["last"], "recent_days": s["recent_days"],
            "drifted_share": s["drifted_share"], "dataset_drift": s["dataset_drift"],
            "drifted_columns": s["drifted_columns"], "n_columns": s["n_columns"], "metric": s["metric"],
            "current": s["current"], "baseline": s["baseline"], "sentence": s["sentence"],
            "columns": columns}, ""


def _environments_with_traffic(store, v: ModelVersion) -> list[str]:
    with store.read() as con:  # the catalogue knows where each file's rows were logged
        return sorted(e for (e,) in con.execute(
            "SELECT DISTINCT f.environment FROM data_files f JOIN model_versions v ON v.model_id = f.model_id AND "
            "v.version = f.version WHERE v.id = ? AND f.kind = 'predictions' AND f.environment IS NOT NULL",
            [v.id]).fetchall())
