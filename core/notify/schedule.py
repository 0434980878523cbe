"""Scheduled monitoring: every live deployment in one run (`modelgov monitor --all`), for cron, Airflow or a
Kubernetes CronJob; it raises the re-certification notices that fall due and delivers what the run produced."""

from __future__ import annotations

import os
from typing import Any

from ..audit import utcnow
from ..errors import CoreError, Forbidden, NotFound
from ..events import MonitoringSnapshotStored
from ..governance import live
from ..governance.recertification import recertification_status
from ..identity import Identity, allowed
from ..monitoring import checks
from ..outbox import enqueue_tx
from .deliver import deliver


def notice_days() -> int:
    """How many days ahead of a re-certification's due date `recertification.due` is raised (once per due date)."""
    try:
        return max(0, int(os.environ.get("MODELGOV_RECERTIFY_NOTICE_DAYS", "7")))
    except ValueError:
        return 7


def raise_recertification_notices(store, actor: Identity) -> list[dict[str, Any]]:
    """Write `recertification.due` for each live champion due within `notice_days()` (or overdue), once per due
    date. Not audited: a notice derived from the re-certification records, which are. Returns the new ones."""
    due = [r for r in recertification_status(store) if r["days_left"] <= notice_days()]
    raised = []
    if not due:
        return raised
    with store.transaction() as con:
        for r in due:
            key = f"recertification.due:{r['model']}:{r['environment']}:{r['due']}"
            if enqueue_tx(con, "recertification.due", ts=utcnow(), model=r["model"], version=r["version"],
                          environment=r["environment"], dedupe_key=key,
                          data={"due": r["due"], "overdue": r["overdue"], "days_left": r["days_left"],
                                "last_certified": r["last_certified"], "risk_tier": r["risk_tier"]}) is not None:
                raised.append(r)
    return raised


def monitor_all(store, actor: Identity, *, window: str = "day", send: bool = True, settings=None,
                engine: str | None = None) -> dict[str, Any]:
    """Monitor every live deployment (champions and challengers in every environment), store each snapshot and
    raise its alerts (`checks.check`), raise due re-certification notices, then deliver the outbox.

    Needs `store-monitoring` (refused before any work, audited). A deployment that cannot be monitored (no logs
    yet) is reported in `runs` as skipped, one that fails with its reason (in `failed`); the others still run. Returns `runs`, `alerts_raised` (ids),
    `recertification_due`, `failed` and `delivery`. `engine`: what reduces the logs (core/engine.py); Spark that
    cannot start is refused once, before any deployment runs.
    """
    if not allowed(actor, "store-monitoring"):
        with store.transaction():
            who = actor.email if actor else "anonymous"
            raise Forbidden(f"{who} may not run scheduled monitoring: it stores snapshots and raises alerts, which "
                            "needs the role data_scientist (give the scheduler's service account that role).",
                            actor=who, action=MonitoringSnapshotStored.action,
                            entity_type=MonitoringSnapshotStored.entity_type, entity_id="all")
    from ..engine import resolve, spark_session

    engine = resolve(engine)
    if engine == "spark":
        spark_session()
    runs = []
    for d in live.live(store):  # per model and environment, the champion first
        run = {"model": d.model, "version": d.version, "environment": d.environment, "role": d.role}
        try:
            out = checks.check(store, actor, d.model, d.version, d.environment, window, engine=engine)
        except NotFound as e:  # live, but nothing logged yet: nothing to monitor, and nothing broken
            run |= {"ok": True, "skipped": True, "alerts_raised": [], "sentence": str(e)}
        except CoreError as e:
            run |= {"ok": False, "alerts_raised": [], "error": str(e)}
        else:
            run |= {"ok": True, "alerts_raised": out["alerts_raised"], "sentence": out["summary"].get("sentence", ""),
                    "dataset_drift": bool(out["summary"].get("dataset_drift"))}
        runs.append(run)
    notices = raise_recertification_notices(store, actor)
    delivery = deliver(store, actor, settings=settings).as_dict() if send else None
    return {"window": window, "runs": runs, "alerts_raised": [a for r in runs for a in r["alerts_raised"]],
            "failed": [r for r in runs if not r["ok"]], "recertification_due": notices, "delivery": delivery}
