"""The notification outbox: events written in the action's own transaction, one delivery row per subscribed hook.

`audit.record` calls `from_audit_tx` for every event it writes, so every audited action that people are notified
of (a request, a decision, a deployment, a rollback, an alert, a failed drift gate) leaves its notification in the
same transaction as the change and its audit row: both commit, or neither does. Nothing is sent here; delivery
happens after commit (`core.notify.deliver`), so a dead endpoint never blocks or breaks an action and loses nothing.

The deliverer gives each hook that subscribes to an event (by event type, model and risk tier) one row in
`notification_deliveries` (`fan_out_tx`), unique per (hook, event): the key of "exactly once per hook per event".
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any

# The events people can subscribe to (issue 19), in the order pages and help list them.
NOTIFICATION_EVENTS: tuple[str, ...] = (
    "approval.requested", "approval.decided", "deployment.created", "deployment.rolled_back",
    "recertification.due", "alert.raised", "alert.resolved", "drift.gate_failed")
# What a test delivery sends (to one hook only; nobody subscribes to it).
TEST_EVENT = "hook.test"
EVENT_LABELS = {
    "approval.requested": "a deployment request is waiting for approval",
    "approval.decided": "a deployment request was approved or rejected",
    "deployment.created": "a version was deployed",
    "deployment.rolled_back": "an environment was rolled back",
    "recertification.due": "a live champion is due for re-certification",
    "alert.raised": "a monitoring alert was raised",
    "alert.resolved": "a monitoring alert was resolved",
    "drift.gate_failed": "a monitoring run found dataset drift",
    TEST_EVENT: "a test delivery",
}


def json_value(value: Any) -> Any:
    """A JSON column as Python: DuckDB hands back text, PostgreSQL's drivers the parsed value."""
    return json.loads(value) if isinstance(value, str) else value


def enqueue_tx(con, event: str, *, ts: datetime, model: str | None = None, version: int | None = None,
               environment: str | None = None, data: dict[str, Any] | None = None, audit_seq: int | None = None,
               dedupe_key: str | None = None, only_hook: int | None = None) -> int | None:
    """Write one event inside the caller's transaction (an INSERT, and the model's tier); its id, or
    None when an event with the same `dedupe_key` was written before (a notice raised once).

    The deliverer makes each subscribed hook's delivery row later (`core.notify.deliver`); `only_hook` makes the
    one delivery of a test event here.
    """
    if dedupe_key is not None and con.execute("SELECT id FROM notification_events WHERE dedupe_key = ?",
                                              [dedupe_key]).fetchall():
        return None
    tier = None
    if model:
        found = con.execute("SELECT risk_tier FROM models WHERE name = ?", [model]).fetchall()
        tier = found[0][0] if found else None
    uid = "evt_" + secrets.token_hex(12)
    # VALUES, not INSERT … SELECT ?: PostgreSQL types a bare parameter in a select list as text, which a JSON column
    # does not take without a cast.
    event_id = con.execute(
        "INSERT INTO notification_events (uid, event, created_at, model, version, environment, risk_tier, audit_seq,"
        " dedupe_key, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [uid, event, ts, model, version, environment, tier, audit_seq, dedupe_key,
         json.dumps(data or {}, sort_keys=True, default=str)]).fetchall()[0][0]
    if only_hook is not None:
        con.execute("INSERT INTO notification_deliveries (hook_id, event_id, status, attempts, next_attempt_at,"
                    " created_at) VALUES (?, ?, 'pending', 0, ?, ?)", [only_hook, event_id, ts, ts])
    return event_id


def fan_out_tx(con, hook_id: int, events: list[str], models: list[str] | None, tiers: list[str] | None,
               start_event_id: int, ts: datetime) -> int:
    """Make the hook's delivery rows for the events it subscribes to that have none yet (one INSERT … SELECT, in
    standard SQL: the filters are bound lists); how many. Unique per (hook, event): never twice."""
    where = ["e.id > ?", f"e.event IN ({', '.join('?' * len(events))})"]
    params: list[Any] = [hook_id, start_event_id, *events]
    if models:
        where.append(f"e.model IN ({', '.join('?' * len(models))})")
        params += models
    if tiers:
        where.append(f"e.risk_tier IN ({', '.join('?' * len(tiers))})")
        params += tiers
    rows = con.execute(
        "INSERT INTO notification_deliveries (hook_id, event_id, status, attempts, next_attempt_at, created_at)"
        " SELECT ?, e.id, 'pending', 0, e.created_at, e.created_at FROM notification_events e WHERE "
        + " AND ".join(where) + " AND NOT EXISTS (SELECT 1 FROM notification_deliveries d WHERE d.hook_id = ? AND"
        " d.event_id = e.id) RETURNING id", params + [hook_id]).fetchall()
    return len(rows)


def from_audit_tx(con, actor: str, event: Any, seq: int, ts: datetime) -> int | None:
    """The notification an audited event raises, written in its transaction (None for events nobody is told of)."""
    action = event.action
    if action == "approval.request":
        return enqueue_tx(con, "approval.requested", ts=ts, model=event.model, version=event.version,
                          environment=event.environment, audit_seq=seq,
                          data={"request_id": event.request_id, "role": event.role, "reason": event.reason,
                                "requested_by": actor, "checks_failed": event.checks_failed,
                                "evidence_sha256": event.evidence_sha256})
    if action in ("approval.approve", "approval.reject"):
        if event.status not in ("approved", "rejected"):  # a first of two approvals: the request still waits
            return None
        return enqueue_tx(con, "approval.decided", ts=ts, model=event.model, version=event.version,
                          environment=event.environment, audit_seq=seq,
                          data={"request_id": event.request_id, "role": event.role, "status": event.status,
                                "decided_by": actor, "comment": event.comment,
                                "override_reason": event.override_reason})
    if action == "deploy":
        return enqueue_tx(con, "deployment.created", ts=ts, model=event.model, version=event.version,
                          environment=event.environment, audit_seq=seq,
                          data={"request_id": event.request_id, "role": event.role,
                                "deployment_id": event.deployment_id, "deployed_by": actor})
    if action == "rollback":
        return enqueue_tx(con, "deployment.rolled_back", ts=ts, model=event.model, version=event.to_version,
                          environment=event.environment, audit_seq=seq,
                          data={"from_version": event.from_version, "to_version": event.to_version,
                                "reason": event.reason, "deployment_id": event.deployment_id, "rolled_back_by": actor})
    if action in ("alert.raise", "alert.resolve"):
        row = con.execute("SELECT m.name, a.version, a.environment, a.kind, a.severity, a.message FROM alerts a "
                          "JOIN models m ON m.id = a.model_id WHERE a.id = ?", [event.alert_id]).fetchall()
        if not row:
            return None
        model, version, environment, kind, severity, message = row[0]
        data = {"alert_id": event.alert_id, "kind": kind, "severity": severity, "message": message}
        if action == "alert.resolve":
            data |= {"resolved_by": actor, "note": event.note}
        return enqueue_tx(con, "alert.raised" if action == "alert.raise" else "alert.resolved", ts=ts, model=model,
                          version=version, environment=environment or None, audit_seq=seq, data=data)
    if action == "monitoring.snapshot":
        # The snapshot the same transaction just stored: its dataset-drift verdict is the gate.
        row = con.execute("SELECT s.summary FROM monitor_snapshots s JOIN models m ON m.id = s.model_id "
                          "WHERE m.name = ? AND s.version = ? AND s.environment = ?",
                          [event.model, event.version, event.environment]).fetchall()
        summary = json_value(row[0][0]) if row else {}
        if not summary.get("dataset_drift"):
            return None
        return enqueue_tx(con, "drift.gate_failed", ts=ts, model=event.model, version=event.version,
                          environment=event.environment or None, audit_seq=seq,
                          data={"drifted_share": summary.get("drifted_share"),
                                "drifted_columns": summary.get("drifted_columns", []), "rows": summary.get("rows"),
                                "sentence": summary.get("sentence", "")})
    return None
