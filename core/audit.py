"""The audit trail: append-only and hash-chained.

Each row carries the SHA-256 of its own content and of the previous row's
hash, so an edited, deleted or inserted row breaks the chain at a sequence
number that `verify_chain` names.
"""

from __future__ import annotations

import hashlib
import json
import re
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import duckdb

from . import outbox
from .errors import CoreError, InvalidInput, NotFound
from .frozen import frozen_record
from .sql import refuse_nul

if TYPE_CHECKING:  # for annotations only: verifying the trail needs neither the events nor the permissions
    from .events import Event
    from .identity import Identity

GENESIS = "0" * 64


# How far back core's clock runs in this context: zero, except while the demo builder writes the story that
# happened before its month of traffic (`dated_back`). A context variable, so no other thread is affected.
_CLOCK_OFFSET: ContextVar[timedelta] = ContextVar("modelgov_clock_offset", default=timedelta(0))


def utcnow() -> datetime:
    """Now in UTC, naive (the store keeps UTC timestamps without zone)."""
    return datetime.now(timezone.utc).replace(tzinfo=None) - _CLOCK_OFFSET.get()


@contextmanager
def dated_back(by: timedelta) -> Iterator[None]:
    """Run the block with core's clock `by` earlier (the demo builder only; never a person's action)."""
    token = _CLOCK_OFFSET.set(by)
    try:
        yield
    finally:
        _CLOCK_OFFSET.reset(token)


# json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False), built once: verifying
# a trail hashes every row, and json.dumps would build this encoder again for each.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False).encode


def canonical_json(value: Any) -> str:
    return _CANONICAL(value)


def _row_hash(seq: int, ts: str, actor: str, action: str, entity_type: str, entity_id: str,
              outcome: str, payload: str, prev_hash: str) -> str:
    body = canonical_json([seq, ts, actor, action, entity_type, entity_id, outcome, payload, prev_hash])
    return hashlib.sha256(body.encode()).hexdigest()


def _ts_text(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%f")


# The newest row: its number first, then the row by its key (a few times faster than ORDER BY seq DESC LIMIT 1,
# which sorts the whole trail, and paid by every audited action).
_NEWEST_SQL = "SELECT seq, hash FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)"


def _append(con: duckdb.DuckDBPyConnection, actor: str, action: str, entity_type: str,
            entity_id: str, outcome: str, payload: dict[str, Any]) -> int:
    if _dialect(con) == "postgresql":
        # The chain's head is read and extended by one writer at a time: the lock (the one `BEGIN` takes; taking it
        # again inside the transaction is free) is held until commit, so the next writer reads this row as head.
        from .pg import WRITE_LOCK

        con.execute("SELECT pg_advisory_xact_lock(?)", [WRITE_LOCK])
    last = con.execute(_NEWEST_SQL).fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    ts = utcnow()
    payload_text = canonical_json(payload)
    digest = _row_hash(seq, _ts_text(ts), actor, action, entity_type, entity_id, outcome, payload_text, prev)
    con.execute(
        "INSERT INTO audit_log (seq, ts, actor, action, entity_type, entity_id, outcome, payload, prev_hash, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [seq, ts, actor, action, entity_type, entity_id, outcome, payload_text, prev, digest],
    )
    return seq


def record(con: duckdb.DuckDBPyConnection, actor: Identity, event: Event) -> int:
    """Append `event` (a typed record from core.events) by `actor` inside the caller's transaction; returns its
    sequence number."""
    payload = event.payload()
    # Text with a NUL is refused on both backends (PostgreSQL cannot keep it): raised inside the caller's transaction,
    # so the change it belongs to is rolled back with it.
    refuse_nul([actor.email, event.entity_id, payload])
    if actor.token_id:  # done through the API with a ModelGov token: the trail names which one
        payload["via_token"] = actor.token_id
    seq = _append(con, actor.email, event.action, event.entity_type, event.entity_id, "ok", payload)
    # The notification people are told of, if any, in the same transaction (the outbox; sent after commit).
    outbox.from_audit_tx(con, actor.email, event, seq, utcnow())
    return seq


def record_refusal(con: duckdb.DuckDBPyConnection, refused: CoreError) -> int:
    """Append a refused attempt (called by `Store.transaction` after the rollback)."""
    payload = {"reason": _visible_nul(str(refused))}
    if getattr(refused, "token_id", ""):
        payload["via_token"] = refused.token_id
    # A refusal is recorded whatever text the attempt carried: a NUL in it is written as the four characters \x00.
    return _append(con, _visible_nul(refused.actor or "anonymous"), refused.action,
                   _visible_nul(refused.entity_type or ""), _visible_nul(refused.entity_id or ""), "refused", payload)


def _visible_nul(text: str) -> str:
    return text.replace("\x00", "\\x00")


@frozen_record
class ChainCheck:
    ok: bool
    rows: int
    first_bad_seq: int | None = None
    problem: str = ""


# The time as `_ts_text` writes it, formatted by the database (a test holds the two equal).
_TS_TEXT_SQL = {"duckdb": "strftime(ts, '%Y-%m-%dT%H:%M:%S.%f')",
                "postgresql": "to_char(ts, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"}
# A row's hashed text as the database writes it: the JSON array `_row_hash` hashes, with to_json() writing each
# string. It matches Python's text for nearly every row (DuckDB's to_json writes a rare control character's \\u001F
# in capitals); a row where it does not is hashed again in Python, so the verdict never rests on it. Being valid JSON,
# the text cannot spell another row's content, so a row it finds intact is intact.
_TO_JSON = {"duckdb": "to_json({})", "postgresql": "CAST(to_json(CAST({} AS TEXT)) AS TEXT)"}
_SHA256 = {"duckdb": "sha256({})", "postgresql": "encode(sha256(convert_to({}, 'UTF8')), 'hex')"}


def _row_text_sql(dialect: str) -> str:
    return ("'[' || seq || ',' || " + " || ',' || ".join(
        _TO_JSON[dialect].format(c) for c in (_TS_TEXT_SQL[dialect], "actor", "action", "entity_type", "entity_id",
                                              "outcome", "CAST(payload AS VARCHAR)", "prev_hash")) + " || ']'")


def _chain_sql(dialect: str) -> str:
    return f"""
    WITH checked AS (
        SELECT seq, row_number() OVER w AS n, count(*) OVER () AS total,
               prev_hash IS NOT DISTINCT FROM (CASE WHEN row_number() OVER w = 1 THEN ? ELSE lag(hash) OVER w END)
                   AS follows,
               coalesce({_SHA256[dialect].format(_row_text_sql(dialect))} = hash, false) AS same,
               {_TS_TEXT_SQL[dialect]} AS ts_text, actor, action, entity_type, entity_id, outcome,
               CAST(payload AS VARCHAR) AS payload, prev_hash, hash
        FROM audit_log WINDOW w AS (ORDER BY seq))
    SELECT seq, n, total, follows, same, ts_text, actor, action, entity_type, entity_id, outcome, payload,
           prev_hash, hash
    FROM checked WHERE NOT (seq = n AND follows AND same) OR n = total ORDER BY seq"""


_CHAIN_SQL = {d: _chain_sql(d) for d in ("duckdb", "postgresql")}


def _dialect(con) -> str:
    return getattr(con, "dialect", "duckdb")


def verify_chain(con: duckdb.DuckDBPyConnection) -> ChainCheck:
    """Walk the chain in order; name the first sequence number where it breaks.

    One query inside DuckDB numbers the rows, pairs each with the hash before it and hashes it, and returns only
    the rows that may be broken (and the last, which carries the count); Python then names the first break
    exactly as a row-by-row walk would: a missing or duplicated number, a row that does not follow the one before
    it, or a row whose content no longer hashes to its hash (computed again here before it is called changed).
    """
    cur = con.execute(_CHAIN_SQL[_dialect(con)], [GENESIS])
    rows = 0
    while batch := cur.fetchmany(1000):
        for (seq, n, total, follows, same, ts_text, actor, action, etype, eid, outcome, payload, prev_hash,
             digest) in batch:
            rows = total
            if seq != n:  # every row before this one was in place, so `n` is the number expected here
                what = "missing (deleted)" if seq > n else "duplicated"
                return ChainCheck(False, total, n, f"row {n} is {what}")
            if not follows:
                return ChainCheck(False, total, seq, f"row {seq} does not follow the row before it")
            if not same and _row_hash(seq, ts_text, actor, action, etype, eid, outcome, payload,
                                      prev_hash) != digest:
                return ChainCheck(False, total, seq, f"row {seq} was changed after it was written")
    return ChainCheck(True, rows)


# --- reading the trail -------------------------------------------------------------------------------

AUDIT_COLUMNS = ("seq", "ts", "actor", "action", "entity_type", "entity_id", "outcome", "payload", "prev_hash",
                 "hash")


def like_literal(text: str) -> str:
    """`text` for a LIKE pattern with ESCAPE '\\': its '%', '_' and backslashes match themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@frozen_record
class AuditFilter:
    """Which events to show: every given criterion must hold."""

    actor: str | None = None       # exact e-mail address (case-insensitive)
    model: str | None = None
    action: str | None = None      # exact, or a prefix ending in '.' such as 'approval.'
    outcome: str | None = None     # 'ok' | 'refused'
    since: datetime | None = None
    until: datetime | None = None
    person: str | None = None      # part of an e-mail address, case-insensitive: 'rita' finds rita@example.com

    def sql(self) -> tuple[str, list[Any]]:
        where, params = [], []
        if self.actor:
            where.append("actor = ?")
            params.append(self.actor.strip().lower())
        if self.person and self.person.strip():
            # Bound, with LIKE's wildcards escaped: '%' or '_' typed in the filter match themselves.
            where.append("actor ILIKE ? ESCAPE '\\'")
            params.append("%" + like_literal(self.person.strip()) + "%")
        if self.model:
            where.append("(entity_id = ? OR entity_id LIKE ? OR payload ->> 'model' = ?)")
            params += [self.model, f"{self.model}:%", self.model]
        if self.action:
            if self.action.endswith("."):
                where.append("starts_with(action, ?)")
            else:
                where.append("action = ?")
            params.append(self.action)
        if self.outcome:
            where.append("outcome = ?")
            params.append(self.outcome)
        if self.since:
            where.append("ts >= ?")
            params.append(self.since)
        if self.until:
            where.append("ts < ?")
            params.append(self.until)
        return (" WHERE " + " AND ".join(where)) if where else "", params


def list_events(store, reader: Identity, flt: AuditFilter | None = None, *, limit: int | None = 1000,
                newest_first: bool = True) -> list[dict[str, Any]]:
    """Audit events matching `flt` (risk officers and administrators; a refusal is itself audited)."""
    from .identity import require

    with store.transaction():
        require(reader, "read-audit")
    where, params = (flt or AuditFilter()).sql()
    sql = (f"SELECT seq, ts, actor, action, entity_type, entity_id, outcome, CAST(payload AS VARCHAR), prev_hash,"
           f" hash FROM audit_log{where} ORDER BY seq {'DESC' if newest_first else 'ASC'}"
           + (f" LIMIT {int(limit)}" if limit else ""))
    with store.read() as con:
        rows = con.execute(sql, params).fetchall()
    return [dict(zip(AUDIT_COLUMNS, r[:7] + (json.loads(r[7]),) + r[8:])) for r in rows]


def actions_in_trail(store) -> list[str]:
    with store.read() as con:
        return [r[0] for r in con.execute("SELECT DISTINCT action FROM audit_log ORDER BY 1").fetchall()]


def export_csv(store, reader: Identity, flt: AuditFilter | None = None) -> str:
    """The matching events as CSV (oldest first, every column incl. both hashes), for auditors.

    Needs `read-audit`. Cells a spreadsheet would run as a formula get a leading quote
    (`csvsafe.cell`); `csvsafe.original` turns a cell back into the stored value. Rows end in CRLF.
    """
    import io

    from . import csvsafe

    events = list_events(store, reader, flt, limit=None, newest_first=False)
    out = io.StringIO()
    writer = csvsafe.writer(out)
    writer.writerow(AUDIT_COLUMNS)
    for e in events:
        writer.writerow(csvsafe.row(_ts_text(e["ts"]) if k == "ts" else canonical_json(e[k]) if k == "payload"
                                    else e[k] for k in AUDIT_COLUMNS))
    return out.getvalue()


def verify(store) -> ChainCheck:
    with store.read() as con:
        return verify_chain(con)


# --- anchoring: evidence that the newest rows were not deleted or rewritten ---------------------------
#
# The chain shows that no row was changed, inserted or removed *between* two rows; it cannot show that
# rows were cut off the end, that every row is gone, or that someone with write access recomputed every
# hash after an edit. An anchor, the newest event's sequence number and hash kept somewhere the store's
# host cannot rewrite, closes that gap: the trail must still hold that event with that hash.

ANCHOR_FIELDS = ("seq", "hash")
_HASH = re.compile(r"[0-9a-f]{64}")
_ANCHOR_MAX_BYTES = 4096


@frozen_record
class Anchor:
    """The newest event at some moment: `{"seq": N, "hash": "…"}` is its public JSON form."""

    seq: int
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash}


@frozen_record
class AnchorCheck:
    """Whether the trail still holds an anchored event with its hash, and the whole chain verifies."""

    ok: bool
    anchor: Anchor
    rows: int
    last_seq: int | None
    problem: str = ""
    first_bad_seq: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "anchor": self.anchor.as_dict(), "rows": self.rows, "last_seq": self.last_seq,
                "first_bad_seq": self.first_bad_seq, "problem": self.problem}


def head(store, reader: Identity) -> Anchor:
    """The newest event's sequence number and hash, to keep outside the store.

    Needs `read-audit` (a refusal is itself audited). Raises Forbidden, NotFound (empty trail).
    """
    from .identity import require

    with store.transaction():
        require(reader, "read-audit")
    with store.read() as con:
        last = con.execute(_NEWEST_SQL).fetchone()
    if last is None:
        raise NotFound("The audit trail has no events, so there is nothing to anchor; if it had events before, "
                       "they were deleted: check the store against your last anchor.")
    return Anchor(int(last[0]), last[1])


def parse_anchor(text: str, source: str = "the anchor") -> Anchor:
    """An anchor from its JSON text; InvalidInput unless it is exactly `{"seq": N, "hash": "<64 hex>"}`."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        value = None
    if (not isinstance(value, dict) or set(value) != set(ANCHOR_FIELDS)
            or type(value["seq"]) is not int or not 1 <= value["seq"] < 2**63
            or not isinstance(value["hash"], str) or not _HASH.fullmatch(value["hash"])):
        raise InvalidInput(f"{source} is not an audit anchor: it must hold exactly the JSON that "
                           "'modelgov audit head --json' prints, {\"seq\": N, \"hash\": \"<64 hex digits>\"}.")
    return Anchor(value["seq"], value["hash"])


def load_anchor(path: str | Path) -> Anchor:
    """Read an anchor file written from `modelgov audit head --json`. Raises InvalidInput (missing, unreadable,
    not an anchor)."""
    p = Path(path)
    try:
        if not p.is_file():
            what = "does not exist" if not p.exists() else "is not a regular file"
            raise InvalidInput(f"The anchor file {p} {what}; give the file you saved from "
                               "'modelgov audit head --json'.")
        with p.open("rb") as f:
            raw = f.read(_ANCHOR_MAX_BYTES + 1)
    except OSError as e:
        raise InvalidInput(f"Cannot read the anchor file {p} ({e.strerror or e}); check its path and "
                           "permissions.") from None
    try:
        text = raw.decode("utf-8") if len(raw) <= _ANCHOR_MAX_BYTES else ""
    except UnicodeDecodeError:
        text = ""
    return parse_anchor(text, f"The anchor file {p}")


def verify_anchor(store, reader: Identity, anchor: Anchor) -> AnchorCheck:
    """Whether the trail still holds the anchored event with its hash, and the whole chain verifies.

    Catches what `verify` alone cannot: rows cut off the end, every row deleted, and a trail
    rewritten with recomputed hashes. Needs `read-audit`. Raises Forbidden.
    """
    from .identity import require

    with store.transaction():
        require(reader, "read-audit")
    with store.read() as con:
        chain = verify_chain(con)
        last = con.execute("SELECT max(seq) FROM audit_log").fetchone()[0]
        held = con.execute("SELECT hash FROM audit_log WHERE seq = ?", [anchor.seq]).fetchone()
    seq, short = anchor.seq, anchor.hash[:12]
    if held is None:
        problem = (f"event {seq} is gone and the trail is empty: every row was deleted" if last is None else
                   f"event {seq} is gone and the trail now ends at event {last}: rows were deleted from its end"
                   if last < seq else f"event {seq} is gone: it was deleted from the trail")
    elif held[0] != anchor.hash:
        problem = (f"event {seq} no longer has the anchored hash {short}…: the trail up to it was rewritten, "
                   "or rows were deleted and new ones took their numbers")
    elif not chain.ok:
        problem = (f"event {seq} still has the anchored hash, but the chain breaks at {chain.first_bad_seq}: "
                   f"{chain.problem}")
    else:
        return AnchorCheck(True, anchor, chain.rows, last)
    return AnchorCheck(False, anchor, chain.rows, last, problem, chain.first_bad_seq)
