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
        # What is live comes from live.py; only the certification dates are read here: two reads in all, whatever
        # the number of champions (each model's tier and policy, and the re-certifications of the models asked).
        champions = [d for d in live_tx(con, model) if d.role == "champion"]
        if not champions:
            return []
        where, params = (" WHERE m.name = ?", [model]) if model else ("", [])
        policy_of = {name: (tier, days) for name, tier, days in con.execute(
            "SELECT m.name, m.risk_tier, p.recertify_days FROM models m JOIN policies p ON p.risk_tier = m.risk_tier"
            + where, params).fetchall()}
        recertified = con.execute(
            "SELECT m.name, r.environment, r.recertified_at FROM recertifications r JOIN models m ON m.id = r.model_id"
            + where, params).fetchall()
    by_place: dict[tuple[str, str], list] = {}
    for name, env, at in recertified:
        by_place.setdefault((name, env), []).append(at)
    rows = []
    for d in champions:
        tier, days = policy_of[d.model]
        # The newest re-certification of this deployment: in its environment, since it went live.
        last = max((at for at in by_place.get((d.model, d.environment), []) if at >= d.since), default=None)
        rows.append((d.model, d.environment, d.version, tier, days, d.since, last))
    out = []
    for name, env, version, tier, days, since, last in rows:
        certified = last or since
        due = (certified + timedelta(days=days)).date()
        out.append({"model": name, "environment": env, "version": version, "risk_tier": tier,
                    "last_certified": iso(certified), "due": due.isoformat(), "overdue": due < today,
                    "days_left": (due - today).days})
    return out
