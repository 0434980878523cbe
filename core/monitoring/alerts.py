"""Alerts: listed, acknowledged and resolved (audited).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..audit import record, utcnow
from ..errors import Conflict, InvalidInput, NotFound
from ..events import AlertAcknowledged, AlertResolved
from ..identity import Identity, require


@dataclass
class Alert:
    id: int
    model: str
    version: int | None
    environment: str | None
    kind: str
    severity: str
    message: str
    status: str
    created_at: datetime
    acknowledged_by: str | None
    resolved_by: str | None
    note: str | None

    def as_dict(self) -> dict[str, Any]:
        return {k: (getattr(self, k).isoformat() if isinstance(getattr(self, k), datetime) else getattr(self, k))
                for k in self.__dataclass_fields__}


def alerts(store, model: str | None = None, status: str | None = None) -> list[Alert]:
    where, params = [], []
    if model:
        where.append("m.name = ?")
        params.append(model)
    if status == "active":
        where.append("a.status <> 'resolved'")
    elif status:
        where.append("a.status = ?")
        params.append(status)
    sql = ("SELECT a.id, m.name, a.version, a.environment, a.kind, a.severity, a.message, a.status, a.created_at, "
           "a.acknowledged_by, a.resolved_by, a.note FROM alerts a JOIN models m ON m.id = a.model_id"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY a.status = 'resolved', a.created_at DESC")
    with store.read() as con:
        return [Alert(*r) for r in con.execute(sql, params).fetchall()]


def update_alert(store, actor: Identity, alert_id: int, action: str, note: str = "") -> Alert:
    """Acknowledge or resolve an alert (data scientists and risk officers; audited)."""
    if action not in ("acknowledge", "resolve"):
        raise InvalidInput("An alert is acknowledged or resolved.")
    with store.transaction() as con:
        event = AlertAcknowledged if action == "acknowledge" else AlertResolved
        require(actor, "manage-alerts", event, alert_id)
        row = con.execute("SELECT status FROM alerts WHERE id = ?", [alert_id]).fetchall()
        if not row:
            raise NotFound(f"Alert {alert_id} not found.")
        status = row[0][0]
        if status == "resolved" or (action == "acknowledge" and status == "acknowledged"):
            raise Conflict(f"Alert {alert_id} is already {status}.", actor=actor.email, action=f"alert.{action}",
                           entity_type="alert", entity_id=str(alert_id))
        if action == "acknowledge":
            con.execute("UPDATE alerts SET status = 'acknowledged', acknowledged_by = ?, acknowledged_at = ?, note = ? "
                        "WHERE id = ?", [actor.email, utcnow(), note or None, alert_id])
        else:
            con.execute("UPDATE alerts SET status = 'resolved', resolved_by = ?, resolved_at = ?, note = coalesce(?, note)"
                        " WHERE id = ?", [actor.email, utcnow(), note or None, alert_id])
        record(con, actor, event(alert_id, note))
    return next(a for a in alerts(store) if a.id == alert_id)
