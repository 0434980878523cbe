"""PostgreSQL as the metadata store: a connection with the surface core uses on DuckDB's.

Core calls `con.execute(sql, params)` and then `.fetchall()`, `.fetchone()`, `.fetchmany()`, `.fetchnumpy()` or
`.df()` on what it returns, with `?` placeholders, exactly as on DuckDB. `PgConnection` gives psycopg 3 that surface:
placeholders become `%s` (outside string literals, quoted identifiers and comments), JSON columns come back as the
text that was stored (the audit chain and the evidence packs hash that exact text), NUMERIC as int or float, and
psycopg's errors become the backend-neutral ones in `core.store` (`WriteConflictError`, `MissingTableError`,
`StoreIOError`, `StoreError`), so core's handlers work on both backends.

psycopg 3 directly, not SQLAlchemy Core: core's SQL is text it writes itself (DuckDB has no SQLAlchemy dialect
that core could share), so SQLAlchemy would add a layer and remove no dialect code. psycopg is imported here only,
and only when a `postgresql://` URL is configured (the `postgres` extra).

Transactions: every write transaction takes one transaction-scoped advisory lock first (`WRITE_LOCK`), so writers
on one database run one after another, as DuckDB's single file makes them; each statement then sees everything
committed before it (READ COMMITTED), so a state checked inside the transaction is the state it changes, two
processes deciding or deploying the same request give exactly one winner, and the audit chain's next sequence
number is read after the previous writer committed. Reads take no lock.
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# Advisory-lock keys (any 64-bit numbers no other application on the database uses): writers, migrations.
WRITE_LOCK = 0x6D6F64656C676F76  # "modelgov"
MIGRATE_LOCK = WRITE_LOCK + 1

_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|\?|%", re.S)


def placeholders(sql: str) -> str:
    """`sql` with DuckDB's `?` placeholders as psycopg's `%s` (and a literal `%` doubled), leaving string literals,
    quoted identifiers and comments as they are."""
    if "?" not in sql and "%" not in sql:
        return sql

    def swap(m: re.Match) -> str:
        t = m.group(0)
        return "%s" if t == "?" else "%%" if t == "%" else t.replace("%", "%%") if t[0] in "'\"" else t

    return _TOKEN.sub(swap, sql)


# --- the DuckDB-isms of the migrations, translated (the .sql files stay the one source) ---------------------------

_TYPE_WORDS = [
    (re.compile(r"\bDOUBLE\b(?!\s+PRECISION)", re.I), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b", re.I), "BYTEA"),
    (re.compile(r"\bHUGEINT\b", re.I), "NUMERIC(38)"),
    (re.compile(r"(VARCHAR\[\]\s+NOT\s+NULL\s+DEFAULT\s+)\[\]", re.I), r"\1'{}'"),
]
# DuckDB's json_extract_string(col, '$.a.b') is PostgreSQL's col #>> '{a,b}'.
_JSON_EXTRACT = re.compile(r"json_extract_string\(\s*([\w.]+)\s*,\s*'\$\.([\w.]+)'\s*\)", re.I)


def translate_migration(sql: str) -> str:
    """A migration written for DuckDB, as PostgreSQL runs it (a handful of type names and functions)."""
    for pattern, repl in _TYPE_WORDS:
        sql = pattern.sub(repl, sql)
    sql = _JSON_EXTRACT.sub(lambda m: f"({m.group(1)} #>> '{{{','.join(m.group(2).split('.'))}}}')", sql)
    return sql


# --- the connection ------------------------------------------------------------------------------------------------

def redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _translate(e: Exception) -> Exception:
    """psycopg's error as core's backend-neutral one (the original kept as its cause)."""
    from psycopg import errors as pe

    from .store import MissingTableError, StoreError, StoreIOError, WriteConflictError

    message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    if isinstance(e, (pe.SerializationFailure, pe.DeadlockDetected, pe.LockNotAvailable)):
        return WriteConflictError(message)
    if isinstance(e, pe.UniqueViolation):
        return WriteConflictError("duplicate key: " + message)
    if isinstance(e, (pe.UndefinedTable, pe.InvalidSchemaName)):
        return MissingTableError(message)
    if isinstance(e, (pe.DiskFull, pe.OutOfMemory, pe.IoError)):
        return StoreIOError(message)
    return StoreError(message)


class PgResult:
    """What `PgConnection.execute` returns: the fetch methods of a DuckDB result."""

    def __init__(self, cur) -> None:
        self._cur = cur

    @property
    def description(self):
        return self._cur.description

    def fetchone(self):
        if self._cur.description is None:
            return None
        return self._guard(self._cur.fetchone)

    def fetchall(self) -> list[tuple]:
        if self._cur.description is None:
            return []
        return self._guard(self._cur.fetchall)

    def fetchmany(self, size: int = 1) -> list[tuple]:
        if self._cur.description is None:
            return []
        return self._guard(lambda: self._cur.fetchmany(size))

    def _guard(self, fetch):
        import psycopg

        try:
            return fetch()
        except psycopg.Error as e:
            raise _translate(e) from e

    def columns(self) -> list[str]:
        return [d.name for d in self._cur.description or []]

    def df(self):
        import pandas as pd

        names = self.columns()
        rows = self.fetchall()
        if not rows:
            return pd.DataFrame({n: pd.Series(dtype=object) for n in names})
        return pd.DataFrame.from_records(rows, columns=names)

    def fetchnumpy(self) -> dict[str, Any]:
        import numpy as np

        names = self.columns()
        rows = self.fetchall()
        out = {}
        for i, n in enumerate(names):
            values = [r[i] for r in rows]
            try:
                arr = np.array(values) if values and not any(v is None for v in values) else np.array(values,
                                                                                                     dtype=object)
            except (ValueError, TypeError):
                arr = np.array(values, dtype=object)
            out[n] = arr
        return out


class PgConnection:
    """One psycopg connection with DuckDB's surface (autocommit: core's BEGIN/COMMIT/ROLLBACK statements run as
    written). `BEGIN TRANSACTION` also takes the writers' advisory lock (the module's docstring says why)."""

    dialect = "postgresql"

    def __init__(self, raw, pool: "Pool | None" = None) -> None:
        self._raw = raw
        self._pool = pool
        self._last: PgResult | None = None

    def execute(self, sql: str, params: Any = None) -> PgResult:
        import psycopg

        text = sql.strip().rstrip(";").strip().upper()
        try:
            if text in ("BEGIN TRANSACTION", "BEGIN"):
                self._raw.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
                cur = self._raw.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
            elif params is None or (isinstance(params, (list, tuple)) and not params):
                # No parameters: the text goes as written (several statements allowed), `%` left alone.
                cur = self._raw.execute(sql)
            else:
                cur = self._raw.execute(placeholders(sql), [_param(p) for p in params])
        except psycopg.Error as e:
            err = _translate(e)
            if os.environ.get("MODELGOV_DEBUG"):
                err.args = (f"{err.args[0]} [in: {' '.join(sql.split())[:300]}]",)
            raise err from e
        self._last = PgResult(cur)
        return self._last

    def fetchone(self):
        return self._last.fetchone() if self._last else None

    def fetchall(self):
        return self._last.fetchall() if self._last else []

    def executemany(self, sql: str, rows) -> None:
        import psycopg

        try:
            with self._raw.cursor() as cur:
                cur.executemany(placeholders(sql), [[_param(p) for p in r] for r in rows])
        except psycopg.Error as e:
            raise _translate(e) from e

    def register(self, name: str, frame) -> None:
        """A DataFrame as a temporary table `name` (DuckDB's `register`, which PostgreSQL cannot do in place)."""
        import pandas as pd

        from .sql import quote

        kinds = {"i": "BIGINT", "u": "BIGINT", "f": "DOUBLE PRECISION", "b": "BOOLEAN", "M": "TIMESTAMP"}
        cols = ", ".join(f"{quote(str(c))} {kinds.get(frame[c].dtype.kind, 'TEXT')}" for c in frame.columns)
        self.execute(f"DROP TABLE IF EXISTS {quote(name)}")
        self.execute(f"CREATE TEMP TABLE {quote(name)} ({cols})")

        def cell(v):
            if v is None or (not isinstance(v, (list, dict, str)) and pd.isna(v)):
                return None
            return v.to_pydatetime() if isinstance(v, pd.Timestamp) else v

        copy_rows(self, name, [str(c) for c in frame.columns],
                  ([cell(v) for v in row] for row in frame.itertuples(index=False, name=None)))

    def unregister(self, name: str) -> None:
        from .sql import quote

        self.execute(f"DROP TABLE IF EXISTS {quote(name)}")

    def cursor(self) -> "PgConnection":
        return self

    def close(self) -> None:
        raw, self._raw = self._raw, None
        if raw is None:
            return
        if self._pool is not None:
            self._pool.give_back(raw)
        else:
            raw.close()


def copy_rows(con: PgConnection, table: str, columns: list[str], rows) -> None:
    """Append `rows` to `table` with PostgreSQL's COPY (store copy: far faster than an INSERT per row)."""
    import psycopg

    from .sql import quote

    try:
        with con._raw.cursor() as cur:
            with cur.copy(f"COPY {quote(table)} ({', '.join(map(quote, columns))}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([_param(v) for v in row])
    except psycopg.Error as e:
        raise _translate(e) from e


def _param(p: Any) -> Any:
    """A parameter as psycopg should send it: numpy scalars as Python numbers, dicts as JSON text. Text holding a NUL,
    which PostgreSQL cannot keep, is refused with the sentence DuckDB stores get from `audit.record`
    (`sql.refuse_nul`), never sent to end in the server's error."""
    import numpy as np

    if isinstance(p, (str, list, tuple)):
        from .sql import refuse_nul_param

        refuse_nul_param(p)
        return p
    if isinstance(p, np.generic):
        return p.item()
    if isinstance(p, dict):
        from .audit import canonical_json

        return canonical_json(p)
    return p


def _configure(raw) -> None:
    from psycopg.adapt import Loader
    from psycopg.types.string import TextLoader

    class NumericLoader(Loader):  # NUMERIC (sum, avg) as an int when whole, else a float, as DuckDB gives them
        def load(self, data):
            text = bytes(data).decode()
            try:
                return int(text)
            except ValueError:
                return float(text)

    for name in ("json", "jsonb"):
        raw.adapters.register_loader(name, TextLoader)
    raw.adapters.register_loader("numeric", NumericLoader)
    raw.execute("SET TimeZone = 'UTC'")


class Pool:
    """Idle connections kept per process (a connection costs a server process: a few milliseconds to open)."""

    def __init__(self, url: str, size: int = 4) -> None:
        self.url = url
        self.size = size
        self._idle: list = []
        self._lock = threading.Lock()

    def take(self) -> PgConnection:
        import psycopg

        with self._lock:
            raw = self._idle.pop() if self._idle else None
        if raw is None:
            try:
                raw = psycopg.connect(self.url, autocommit=True)
            except psycopg.Error as e:
                from .store import StoreConnectError

                raise StoreConnectError(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__) \
                    from e
            _configure(raw)
        return PgConnection(raw, self)

    def give_back(self, raw) -> None:
        from psycopg.pq import TransactionStatus

        if raw.closed or raw.info.transaction_status != TransactionStatus.IDLE:
            raw.close()  # broken, or left inside a transaction: never handed to the next unit of work
            return
        with self._lock:
            if len(self._idle) < self.size:
                self._idle.append(raw)
                return
        raw.close()

    def close_all(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for raw in idle:
            raw.close()


_pools: dict[tuple[int, str], Pool] = {}
_pools_lock = threading.Lock()


def pool(url: str) -> Pool:
    """The process's pool for `url` (by process id: a forked child never uses its parent's connections)."""
    import os

    key = (os.getpid(), url)
    with _pools_lock:
        found = _pools.get(key)
        if found is None:
            found = _pools[key] = Pool(url)
        return found


def schema_sql(con: PgConnection) -> str:
    """The schema of the database's `public` schema as sorted statements (the snapshot test's, PostgreSQL's form):
    each table with its columns (type, NOT NULL, default) and constraints, then indexes, views and sequences."""
    columns: dict[str, list[str]] = {}
    for table, column, kind, not_null, default in con.execute("""
            SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                   pg_get_expr(d.adbin, d.adrelid)
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY c.relname, a.attnum""").fetchall():
        columns.setdefault(table, []).append(
            f"{column} {kind}{' NOT NULL' if not_null else ''}{f' DEFAULT {default}' if default else ''}")
    for table, definition in con.execute("""
            SELECT c.relname, pg_get_constraintdef(k.oid)
            FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND k.contype <> 'n'
            ORDER BY c.relname, pg_get_constraintdef(k.oid)""").fetchall():
        columns.setdefault(table, []).append(definition)
    statements = [f"CREATE TABLE {table}({', '.join(parts)});" for table, parts in columns.items()]
    statements += [r[0] + ";" for r in con.execute(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT IN "
        "(SELECT conname FROM pg_constraint)").fetchall()]
    statements += [f"CREATE VIEW {name} AS {' '.join(definition.split())}" for name, definition in con.execute(
        "SELECT viewname, definition FROM pg_views WHERE schemaname = 'public'").fetchall()]
    statements += [f"CREATE SEQUENCE {r[0]};" for r in con.execute(
        "SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = 'public'").fetchall()]
    return "\n".join(sorted(statements)) + "\n"


def is_postgres(con: Any) -> bool:
    return getattr(con, "dialect", "") == "postgresql"
