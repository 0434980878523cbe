"""Models: look up, search, create and edit (the model card included); the risk tier and its history.

A model's first risk tier is its creator's choice (a data scientist registering it). Every later change
is a governance decision: only a risk officer makes it, with a reason, recorded as `model.set_risk_tier`
and in `risk_tier_history`, which approvals read (a request needs the approvals of the highest tier
the model held since it was made).
"""

from __future__ import annotations

from typing import Any

import duckdb

from ..audit import canonical_json, record, utcnow
from ..errors import Conflict, InvalidInput
from ..events import ModelCreated, ModelUpdated, RiskTierChanged
from ..identity import Identity, require
from ..vocabulary import validate_tier
from .records import (
    CARD_FIELDS,
    EDITABLE_FIELDS,
    FEATURE_DICTIONARY,
    MODEL_COLUMNS,
    MODEL_STATUSES,
    VERSION_COLUMNS,
    Model,
    ModelSummary,
    SearchResult,
    model_not_found,
    model_row,
    validate_feature_dictionary,
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

# The share of the model card filled in (0 to 1), for a query over `models m` grouped by model.
CARD_COMPLETENESS_SQL = "(" + " + ".join(f"(CASE WHEN trim(m.{f}) <> '' THEN 1 ELSE 0 END)" for f in CARD_FIELDS) \
    + f") / {len(CARD_FIELDS)}.0"


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
        where.append("? = ANY(m.tags)")
        params.append(tag)
    having = "WHERE status = ?" if status else ""
    if status:
        params.append(status)
    order = f"{SORTS[sort]} {'DESC' if descending else 'ASC'} NULLS LAST, m.name"
    sql = f"""
        WITH s AS (
            SELECT m.name, m.owner, m.risk_tier, {_STATUS_SQL} AS status, max(v.version) AS latest_version,
                   count(v.id) AS versions, m.business_unit, m.description, m.tags, m.updated_at,
                   {CARD_COMPLETENESS_SQL} AS card_completeness
            FROM models m LEFT JOIN model_versions v ON v.model_id = m.id
            {"WHERE " + " AND ".join(where) if where else ""}
            GROUP BY m.id, m.name, m.owner, m.risk_tier, m.business_unit, m.description, m.tags, m.updated_at,
                     {", ".join(f"m.{f}" for f in CARD_FIELDS)}
        )
        SELECT *, count(*) OVER () AS total FROM s m {having}
        ORDER BY {order} LIMIT ? OFFSET ?"""
    with store.read() as con:
        rows = con.execute(sql, params + [per_page, (page - 1) * per_page]).fetchall()
    total = rows[0][-1] if rows else 0
    if not rows and page > 1:
        with store.read() as con:
            total = _count(con, sql, params)
    items = [ModelSummary(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], list(r[8] or []), r[9], float(r[10]))
             for r in rows]
    return SearchResult(items, total, page, per_page)


def _count(con, sql: str, params: list) -> int:
    inner = sql.rsplit("ORDER BY", 1)[0]
    return con.execute(f"SELECT count(*) FROM ({inner}) AS q", params).fetchone()[0]


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
    _record_tier(con, actor, model_id, risk_tier, now, "the tier the model was created with")
    record(con, actor, ModelCreated(name, owner, risk_tier, list(tags)))
    return model_id


def _record_tier(con, actor: Identity, model_id: int, tier: str, now, reason: str) -> None:
    con.execute("INSERT INTO risk_tier_history (model_id, risk_tier, since, changed_by, reason) VALUES (?, ?, ?, ?, ?)",
                [model_id, tier, now, actor.email, reason])


def tiers_since_tx(con, model: str, since) -> list[str]:
    """Every risk tier `model` has held from `since` on: the one in force then, each later one, the current one."""
    rows = con.execute(
        "WITH h AS (SELECT h.risk_tier, h.since, h.id FROM risk_tier_history h JOIN models m ON m.id = h.model_id"
        " WHERE m.name = ?) SELECT risk_tier FROM h WHERE since > ? OR id = (SELECT id FROM h WHERE since <= ?"
        " ORDER BY since DESC, id DESC LIMIT 1) UNION SELECT risk_tier FROM models WHERE name = ?",
        [model, since, since, model]).fetchall()
    return sorted({r[0] for r in rows})


def tier_history(store, name: str) -> list[dict[str, Any]]:
    """The risk tiers `name` has held, oldest first: tier, since, changed_by, reason. Raises NotFound."""
    with store.read() as con:
        model = get_model_tx(con, name)
        rows = con.execute("SELECT risk_tier, since, changed_by, reason FROM risk_tier_history WHERE model_id = ?"
                           " ORDER BY since, id", [model.id]).fetchall()
    return [{"risk_tier": t, "since": s, "changed_by": b, "reason": r} for t, s, b, r in rows]


def set_risk_tier(store, actor: Identity, name: str, risk_tier: str, reason: str) -> Model:
    """Change a model's risk tier: a governance decision, with a reason.

    Needs `set-risk-tier` (risk officers). Records `model.set_risk_tier` (from, to, reason) and a row of
    `risk_tier_history`. Raises InvalidInput (unknown tier, no reason, unchanged), Forbidden, NotFound.
    """
    return update_model(store, actor, name, reason=reason, risk_tier=risk_tier)


def _set_tier_tx(con, actor: Identity, before: Model, tier: str, reason: str | None) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(f"Give the reason for changing the risk tier of {before.name} from {before.risk_tier} "
                           f"to {tier}: it goes into the record.", field="reason")
    now = utcnow()
    con.execute("UPDATE models SET risk_tier = ?, updated_at = ? WHERE id = ?", [tier, now, before.id])
    _record_tier(con, actor, before.id, tier, now, reason)
    record(con, actor, RiskTierChanged(before.name, before.risk_tier, tier, reason))


def update_model(store, actor: Identity, name: str, *, reason: str | None = None, **changes: Any) -> Model:
    """Change a model's descriptive fields or model card, and (risk officers, with `reason`) its risk tier.

    Needs `register-model` for the descriptive fields and `set-risk-tier` whenever a risk tier is given; the
    whole change is refused when either is missing. Records `model.update` with old and new values, and
    `model.set_risk_tier` for the tier. A `feature_dictionary` (input column -> business label) may name only the
    input columns of the model's versions. Raises InvalidInput, Forbidden, NotFound.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput(f"Cannot change {', '.join(sorted(unknown))}; editable fields are {', '.join(EDITABLE_FIELDS)}.")
    tier = changes.pop("risk_tier", None)
    if tier is not None:
        validate_tier(tier)
    with store.transaction() as con:
        if tier is not None:
            require(actor, "set-risk-tier", RiskTierChanged, name)
        if changes or tier is None:
            require(actor, "register-model", ModelUpdated, name)
        before = get_model_tx(con, name)
        if tier is not None:
            if tier == before.risk_tier and not changes:
                raise InvalidInput(f"{name} is already {tier} risk; nothing to change.")
            if tier != before.risk_tier:
                _set_tier_tx(con, actor, before, tier, reason)
        if FEATURE_DICTIONARY in changes:
            changes[FEATURE_DICTIONARY] = validate_feature_dictionary(name, before.input_columns,
                                                                      changes[FEATURE_DICTIONARY])
        current = {"description": before.description, "owner": before.owner, "business_unit": before.business_unit,
                   "use_case": before.use_case, "tags": before.tags, **before.card,
                   FEATURE_DICTIONARY: before.feature_dictionary}
        diff = {k: {"from": current[k], "to": v} for k, v in changes.items() if current[k] != v}
        if diff:
            sets = ", ".join(f"{k} = ?" for k in diff)
            con.execute(f"UPDATE models SET {sets}, updated_at = ? WHERE name = ?",
                        [canonical_json(changes[k]) if k == FEATURE_DICTIONARY else changes[k] for k in diff]
                        + [utcnow(), name])
            record(con, actor, ModelUpdated(name, diff))
        return get_model_tx(con, name)
