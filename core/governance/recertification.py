"""Periodic re-certification of live champions, due dates by risk tier.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from ..audit import record, utcnow
from ..errors import Conflict, InvalidInput
from ..events import Recertified
from ..identity import Identity, require
from ..registry.catalog import get_model_tx
from .live import active_tx, live_tx
from ..vocabulary import validate_environment
from .policy import iso, policy_tx, refusal


def recertify(store, actor: Identity, model: str, environment: str, comment: str) -> dict[str, Any]:
    """A risk officer re-certifies the live champion; the next due date follows the tier's policy."""
    validate_environment(environment)
    comment = (comment or "").strip()
    if not comment:
        raise InvalidInput("Give a comment with the re-certification: what was reviewed.", field="comment")
    with store.transaction() as con:
        require(actor, "recertify", Recertified, model)
        m = get_model_tx(con, model)
        current = next((d for d in active_tx(con, model, environment) if d.role == "champion"), None)
        if current is None:
            raise refusal(actor, Conflict, f"{model} has no champion in {environment} to re-certify.", Recertified,
                          model)
        policy = policy_tx(con, m.risk_tier)
        now = utcnow()
        due = (now + timedelta(days=policy.recertify_days)).date()
        con.execute("INSERT INTO recertifications (model_id, environment, version_id, recertified_by, recertified_at,"
                    " comment, next_due) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [m.id, environment, current.version_id, actor.email, now, comment, due])
        record(con, actor, Recertified(model, environment, current.version, comment, due.isoformat()))
    return {"model": model, "environment": environment, "version": current.version, "next_due": due.isoformat()}


def recertification_status(store, model: str | None = None, today: date | None = None) -> list[dict[str, Any]]:
    """Per live champion: when it was last certified (deployment or re-certification), when it is due, overdue."""
    today = today or utcnow().date()
    with store.read() as con:
        # What is live comes from live.py; only the certification dates are read here.
        champions = [d for d in live_tx(con, model) if d.role == "champion"]
        rows = []
        for d in champions:
            tier, days, last = con.execute(
                "SELECT m.risk_tier, p.recertify_days, (SELECT max(r.recertified_at) FROM recertifications r"
                " WHERE r.model_id = m.id AND r.environment = ? AND r.recertified_at >= ?)"
                " FROM models m JOIN policies p ON p.risk_tier = m.risk_tier WHERE m.name = ?",
                [d.environment, d.since, d.model]).fetchone()
            rows.append((d.model, d.environment, d.version, tier, days, d.since, last))
    out = []
    for name, env, version, tier, days, since, last in rows:
        certified = last or since
        due = (certified + timedelta(days=days)).date()
        out.append({"model": name, "environment": env, "version": version, "risk_tier": tier,
                    "last_certified": iso(certified), "due": due.isoformat(), "overdue": due < today,
                    "days_left": (due - today).days})
    return out
