"""Models: look up, search, create and edit (the model card included).
"""

from __future__ import annotations

from typing import Any

import duckdb

from ..audit import record, utcnow
from ..errors import Conflict, InvalidInput
from ..events import ModelCreated, ModelUpdated
from ..identity import Identity, require
from ..vocabulary import validate_tier
from .records import (
    CARD_FIELDS,
    EDITABLE_FIELDS,
    MODEL_COLUMNS,
    MODEL_STATUSES,
    VERSION_COLUMNS,
    Model,
    ModelSummary,
    SearchResult,
    model_not_found,
    model_row,
    validate_name,
    version_row,
)

SORTS = {"name": "m.name", "owner": "m.owner", "risk_tier": "m.risk_tier", "status": "status",
         "updated": "m.updated_at", "versions": "versions", "latest_version": "latest_version"}


def get_model_tx(con: duckdb.DuckDBPyConnection, name: str) -> Model:
    r = con.execute(f"SELECT {MODEL_COLUMNS} FROM models WHERE name = ?", [name]).fetchone()
    if r is None:
        raise model_not_found(name)
    rows = con.execute(
        f"SELECT {VERSION_COLUMNS} FROM model_versions v JOIN models m ON m.id = v.model_id"
        " WHERE m.id = ? ORDER BY v.version", [r[0]]).fetchall()
    return model_row(r, [version_row(v) for v in rows])


def get_model(store, name: str) -> Model:
    """A model with all its versions; raises NotFound."""
    with store.read() as con:
        return get_model_tx(con, name)


_STATUS_SQL = """
    CASE
        WHEN count(v.id) = 0 THEN 'draft'
        WHEN bool_or(v.status = 'production') THEN 'production'
        WHEN bool_or(v.status IN ('staging', 'challenger')) THEN 'staging'
        WHEN bool_or(v.status = 'registered') THEN 'development'
        ELSE 'retired'
    END"""


def search_models(store, text: str | None = None, *, owner: str | None = None, risk_tier: str | None = None,
                  status: str | None = None, tag: str | None = None, sort: str = "name",
                  descending: bool = False, page: int = 1, per_page: int = 50) -> SearchResult:
    """Models matching every filter given, sorted and paginated (pages count from 1)."""
    if sort not in SORTS:
        raise InvalidInput(f"Cannot sort by {sort!r}; choose one of {', '.join(SORTS)}.")
    if risk_tier is not None:
        validate_tier(risk_tier)
    if status is not None and status not in MODEL_STATUSES:
        raise InvalidInput(f"Status {status!r} is not one of {', '.join(MODEL_STATUSES)}.")
    if page < 1 or not 1 <= per_page <= 1000:
        raise InvalidInput("Pages count from 1 and hold 1 to 1000 models.")
    where, params = [], []
    if text:
        where.append("(m.name ILIKE ? OR m.description ILIKE ? OR m.owner ILIKE ?)")
        params += [f"%{text}%"] * 3
    if owner:
        where.append("m.owner = ?")
        params.append(owner)
    if risk_tier:
        where.append("m.risk_tier = ?")
        params.append(risk_tier)
    if tag:
        where.append("list_contains(m.tags, ?)")
        params.append(tag)
    having = "WHERE status = ?" if status else ""
    if status:
        params.append(status)
    order = f"{SORTS[sort]} {'DESC' if descending else 'ASC'} NULLS LAST, m.name"
    sql = f"""
        WITH s AS (
            SELECT m.name, m.owner, m.risk_tier, {_STATUS_SQL} AS status, max(v.version) AS latest_version,
                   count(v.id) AS versions, m.business_unit, m.description, m.tags, m.updated_at
            FROM models m LEFT JOIN model_versions v ON v.model_id = m.id
            {"WHERE " + " AND ".join(where) if where else ""}
            GROUP BY ALL
        )
        SELECT *, count(*) OVER () AS total FROM s m {having}
        ORDER BY {order} LIMIT ? OFFSET ?"""
    with store.read() as con:
        rows = con.execute(sql, params + [per_page, (page - 1) * per_page]).fetchall()
    total = rows[0][-1] if rows else 0
    if not rows and page > 1:
        with store.read() as con:
            total = _count(con, sql, params)
    items = [ModelSummary(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], list(r[8] or []), r[9]) for r in rows]
    return SearchResult(items, total, page, per_page)


def _count(con, sql: str, params: list) -> int:
    inner = sql.rsplit("ORDER BY", 1)[0]
    return con.execute(f"SELECT count(*) FROM ({inner})", params).fetchone()[0]


def list_owners(store) -> list[str]:
    with store.read() as con:
        return [r[0] for r in con.execute("SELECT DISTINCT owner FROM models ORDER BY 1").fetchall()]


def list_tags(store) -> list[str]:
    with store.read() as con:
        return [r[0] for r in con.execute("SELECT DISTINCT unnest(tags) FROM models ORDER BY 1").fetchall()]


def create_model(store, actor: Identity, name: str, *, owner: str | None = None, risk_tier: str = "medium",
                 description: str = "", business_unit: str = "", use_case: str = "",
                 tags: list[str] | None = None, **card: str) -> Model:
    """Create a model with no versions yet.

    Needs `register-model`. Records `model.create`. Raises InvalidInput, Forbidden, Conflict.
    """
    validate_name(name)
    validate_tier(risk_tier)
    check_card_fields(card)
    with store.transaction() as con:
        require(actor, "register-model", ModelCreated, name)
        insert_model(con, actor, name, owner or actor.email, risk_tier, description, business_unit,
                      use_case, tags or [], card)
        return get_model_tx(con, name)


def check_card_fields(card: dict[str, Any]) -> None:
    # Card keys become column names in SQL, so only the known fields may pass.
    unknown = set(card) - set(CARD_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown model-card field(s) {', '.join(sorted(unknown))}; use {', '.join(CARD_FIELDS)}.")


def insert_model(con, actor: Identity, name: str, owner: str, risk_tier: str, description: str,
                  business_unit: str, use_case: str, tags: list[str], card: dict[str, str]) -> int:
    if con.execute("SELECT 1 FROM models WHERE name = ?", [name]).fetchone():
        raise Conflict(f"Model {name} already exists; register a new version of it instead.")
    now = utcnow()
    cols = ["name", "owner", "risk_tier", "description", "business_unit", "use_case", "tags",
            "created_at", "created_by", "updated_at", *card]
    vals = [name, owner, risk_tier, description, business_unit, use_case, list(tags), now, actor.email, now,
            *card.values()]
    model_id = con.execute(f"INSERT INTO models ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                           " RETURNING id", vals).fetchone()[0]
    record(con, actor, ModelCreated(name, owner, risk_tier, list(tags)))
    return model_id


def update_model(store, actor: Identity, name: str, **changes: Any) -> Model:
    """Change a model's descriptive fields or model card.

    Needs `register-model`. Records `model.update` with old and new values.
    Raises InvalidInput, Forbidden, NotFound.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput(f"Cannot change {', '.join(sorted(unknown))}; editable fields are {', '.join(EDITABLE_FIELDS)}.")
    if "risk_tier" in changes:
        validate_tier(changes["risk_tier"])
    with store.transaction() as con:
        require(actor, "register-model", ModelUpdated, name)
        before = get_model_tx(con, name)
        current = {"description": before.description, "owner": before.owner, "business_unit": before.business_unit,
                   "use_case": before.use_case, "risk_tier": before.risk_tier, "tags": before.tags, **before.card}
        diff = {k: {"from": current[k], "to": v} for k, v in changes.items() if current[k] != v}
        if diff:
            sets = ", ".join(f"{k} = ?" for k in diff)
            con.execute(f"UPDATE models SET {sets}, updated_at = ? WHERE name = ?",
                        [changes[k] for k in diff] + [utcnow(), name])
            record(con, actor, ModelUpdated(name, diff))
        return get_model_tx(con, name)
