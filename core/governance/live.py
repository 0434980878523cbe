"""What is live: which model version serves which environment, in which role, now or then.

The one answer every page, command, health figure and evidence pack asks.
"""

from __future__ import annotations

from datetime import datetime

from ..registry.catalog import get_model_tx
from ..vocabulary import validate_environment
from ..frozen import frozen_record





@frozen_record
class Deployment:
    id: int
    model: str
    version: int
    version_id: int
    environment: str
    role: str
    since: datetime
    until: datetime | None
    deployed_by: str
    approval_id: int | None
    end_reason: str | None

    @property
    def active(self) -> bool:
        return self.until is None

    def as_dict(self) -> dict:
        return {"environment": self.environment, "role": self.role, "version": self.version,
                "since": self.since.isoformat() if self.since else None, "deployment_id": self.id}


_COLUMNS = ("d.id, m.name, v.version, d.version_id, d.environment, d.role, d.since, d.until, d.deployed_by,"
            " d.approval_id, d.end_reason")


def live_tx(con, model: str | None = None, environment: str | None = None,
            at: datetime | None = None) -> list[Deployment]:
    """Every deployment live at `at` (now when None): per model and environment the champion first, then
    challengers by age. The one answer to "what is live" that pages, CLI, health and evidence ask."""
    where, params = [], []
    if at is None:
        where.append("d.until IS NULL")
    else:
        where.append("d.since <= ? AND (d.until IS NULL OR d.until > ?)")
        params += [at, at]
    if model is not None:
        where.append("m.id = ?")
        params.append(get_model_tx(con, model).id)
    if environment is not None:
        validate_environment(environment)
        where.append("d.environment = ?")
        params.append(environment)
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM deployments d JOIN model_versions v ON v.id = d.version_id"
        " JOIN models m ON m.id = v.model_id WHERE " + " AND ".join(where) +
        " ORDER BY m.name, d.environment, d.role = 'champion' DESC, d.since, d.id", params).fetchall()
    return [Deployment(*r) for r in rows]


def live(store, model: str | None = None, environment: str | None = None,
         at: datetime | None = None) -> list[Deployment]:
    """See `live_tx`."""
    with store.read() as con:
        return live_tx(con, model, environment, at)


def champions(store, model: str | None = None, at: datetime | None = None) -> dict[tuple[str, str], Deployment]:
    """The live champion of each (model, environment)."""
    return {(d.model, d.environment): d for d in live(store, model, at=at) if d.role == "champion"}


def active_tx(con, model: str, environment: str) -> list[Deployment]:
    """The model's live deployments in `environment`: the champion first, then challengers by age."""
    validate_environment(environment)
    return live_tx(con, model, environment)


def active(store, model: str, environment: str) -> list[Deployment]:
    with store.read() as con:
        return active_tx(con, model, environment)


def champion(store, model: str, environment: str) -> Deployment | None:
    """The live champion of `model` in `environment`, or None when nothing is deployed there."""
    live = active(store, model, environment)
    return live[0] if live and live[0].role == "champion" else None


def history(store, model: str | None = None) -> list[Deployment]:
    """Every deployment, newest first; one model's when `model` is given."""
    sql = (f"SELECT {_COLUMNS} FROM deployments d JOIN model_versions v ON v.id = d.version_id"
           " JOIN models m ON m.id = v.model_id")
    params: list = []
    with store.read() as con:
        if model is not None:
            sql += " WHERE m.id = ?"
            params.append(get_model_tx(con, model).id)
        rows = con.execute(sql + " ORDER BY d.since DESC, d.id DESC", params).fetchall()
    return [Deployment(*r) for r in rows]
