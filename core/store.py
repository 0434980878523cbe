"""The metadata store: short-lived connections, transactions, migrations, on DuckDB or PostgreSQL.

DuckDB (the default) lets one process hold the database file at a time, so nobody keeps it
open between actions: every unit of work opens the file, does its work and
closes it. Opening waits and retries while another process holds the lock,
and turns a lasting lock into a `Conflict` with a sentence saying what to do.

`MODELGOV_DATABASE_URL=postgresql://…` puts the metadata on PostgreSQL instead (`core/pg.py`: a connection with
the same surface, so core's SQL and handlers are one for both). Errors either backend raises are caught as
`DB_ERRORS`; the ones core tells apart have backend-neutral classes here (`WriteConflictError`,
`MissingTableError`, `StoreIOError`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import threading
import time
from importlib import resources
from pathlib import Path
from typing import Iterator

import duckdb

from . import config, datadb
from .datadb import warm  # noqa: F401  (app.serve warms DuckDB through core)
from .errors import Conflict, CoreError, audited
from .frozen import frozen_record
from .sql import NulGuard

_LOCK_MARKERS = ("Could not set lock", "Conflicting lock")
# DuckDB reports a full disk as an IOException (or a failed commit) carrying the OS's strerror(ENOSPC).
_DISK_FULL_MARKERS = (os.strerror(errno.ENOSPC), "No space left on device", "Disk full")
# DuckDB's optimistic concurrency ends the loser of two writers racing for the same row in one of these.
_WRITE_CONFLICT = "Someone else changed the same record at the same moment; reload and try again."


class StoreError(Exception):
    """A database error from the PostgreSQL backend, translated (DuckDB's own errors stay `duckdb.Error`)."""


class WriteConflictError(StoreError):
    """A write lost a race with another transaction (serialization failure, deadlock, duplicate key)."""


class MissingTableError(StoreError):
    """A table the statement names does not exist (a store not migrated yet)."""


class StoreIOError(StoreError):
    """The database server could not write (full disk, out of memory, I/O error)."""


class StoreConnectError(StoreError):
    """The database server could not be reached or refused the connection."""


# Every database error core may catch, whichever backend raised it.
DB_ERRORS: tuple[type[BaseException], ...] = (duckdb.Error, StoreError)
# A table that does not exist yet, on either backend.
MISSING_TABLE: tuple[type[BaseException], ...] = (duckdb.CatalogException, MissingTableError)


class DiskFull(CoreError):
    """The disk holding the store (or an output) is full; nothing of the action was kept."""

    exit_code = 1


def disk_full(error: BaseException) -> bool:
    """Whether `error` (an OSError or a DuckDB error) means the disk ran out of space."""
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return True
    if isinstance(error, StoreIOError):
        return True
    return isinstance(error, duckdb.Error) and any(m in str(error) for m in _DISK_FULL_MARKERS)


def _disk_full_error(db_path: Path | str, error: BaseException) -> DiskFull:
    return DiskFull(f"The disk holding the store {db_path} is full, so nothing of this action was saved; free "
                    "space on it and try again (the store itself is unharmed).")


def _write_conflict(error: BaseException) -> bool:
    """A write that lost a race with another connection: a transaction conflict, or a duplicate key.

    Core functions look for an existing row before inserting one (a grant, a decision, the next audit seq), so a
    duplicate key at that point was inserted by a concurrent writer after the look; DuckDB reports it as a
    ConstraintException when both ran in one process (the dashboard's threads). Other constraint errors are bugs
    and stay as they are.
    """
    if isinstance(error, (duckdb.TransactionException, WriteConflictError)):
        return True
    return isinstance(error, duckdb.ConstraintException) and "duplicate key" in str(error).lower()
_migrated: set[str] = set()
_migrate_lock = threading.Lock()


@frozen_record
class Migration:
    number: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """The numbered SQL migrations shipped with core, in order."""
    found = []
    for entry in resources.files("core.migrations").iterdir():
        m = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text()))
    found.sort(key=lambda m: m.number)
    numbers = [m.number for m in found]
    if len(set(numbers)) != len(numbers):
        raise RuntimeError(f"Two migrations share a number: {numbers}")
    return found


class Store:
    """A ModelGov home: the metadata store (a DuckDB file, or PostgreSQL), the artifact and dataset folders, and the
    data location (`data_dir`: prediction logs and outcomes as Parquet, `core.datafiles`)."""

    def __init__(self, home: str | Path | None = None, *, db_path: str | Path | None = None,
                 data_dir: str | Path | None = None, lock_timeout: float | None = None,
                 database_url: str | None = None) -> None:
        self.home = Path(home).expanduser().resolve() if home else config.default_home()
        env_db = os.environ.get("MODELGOV_DB") if home is None else None
        self.db_path = Path(db_path or env_db or self.home / "modelgov.duckdb").resolve()
        # PostgreSQL when a URL is given or set (MODELGOV_DATABASE_URL), unless a DuckDB file was named explicitly.
        url = database_url if database_url is not None else (None if db_path else config.database_url())
        self.database_url = url or None
        self.backend = "postgresql" if self.database_url else "duckdb"
        # MODELGOV_DATA_DIR, like MODELGOV_DB, moves the default home's data; a home named explicitly (`--home`, a
        # test's folder) keeps its own `data/`, so a copy of a home is a whole store.
        env_data = config.data_dir() if home is None else None
        self.data_dir = Path(data_dir or env_data or self.home / "data").expanduser().resolve()
        self.artifacts_dir = self.home / "artifacts"
        self.datasets_dir = self.home / "datasets"
        self.lock_timeout = config.lock_timeout() if lock_timeout is None else lock_timeout
        self._held = threading.local()  # the connection `session()` holds open, per thread

    def __repr__(self) -> str:
        return f"Store({str(self.home)!r})"

    @property
    def location(self) -> str:
        """Where the metadata lives, for messages: the DuckDB file, or the PostgreSQL URL without its password."""
        if self.database_url:
            from .pg import redact

            return redact(self.database_url)
        return str(self.db_path)

    @property
    def _key(self) -> str:
        return self.database_url or str(self.db_path)

    def exists(self) -> bool:
        """Whether the store was created (the DuckDB file exists; on PostgreSQL, the database holds its schema)."""
        if self.database_url is None:
            return self.db_path.exists()
        con = self._open()
        try:
            return con.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
        finally:
            con.close()

    # -- connections -------------------------------------------------------------------

    def _open(self) -> duckdb.DuckDBPyConnection:
        if self.database_url is not None:
            from .pg import pool

            try:
                return pool(self.database_url).take()
            except StoreConnectError as e:
                raise CoreError(f"Cannot reach the PostgreSQL store at {self.location}: {e}; check "
                                "MODELGOV_DATABASE_URL and that the server is up.") from e
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.02
        while True:
            try:
                return duckdb.connect(str(self.db_path))
            except duckdb.IOException as e:
                if disk_full(e):
                    raise _disk_full_error(str(self.db_path), e) from e
                if not any(marker in str(e) for marker in _LOCK_MARKERS):
                    raise CoreError(f"Cannot open the store at {self.db_path}: {e}") from e
                if time.monotonic() >= deadline:
                    raise Conflict(
                        f"The store {self.db_path} stayed locked by another process for "
                        f"{self.lock_timeout:g} s; try again when it has finished "
                        "(or raise MODELGOV_LOCK_TIMEOUT)."
                    ) from e
                time.sleep(delay)
                delay = min(delay * 1.5, 0.25)

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Hold the store open for one short command that does several units of work (a CLI read).

        Each `connect()` inside gets a cursor of its own on the one open database (its own transactions, as the
        dashboard's threads have) instead of opening the file again: an open and a close cost tens of
        milliseconds, and a read such as `modelgov approvals list` does three units of work. The file stays
        locked for the whole block, so it wraps only work that ends by itself in well under a second or two,
        never a long computation or a wait for a person. Nested sessions are the outer one.
        """
        if getattr(self._held, "con", None) is not None or self.database_url is not None:
            yield  # PostgreSQL: connections come from the process's pool; there is no file to hold
            return
        self.home.mkdir(parents=True, exist_ok=True)
        self._held.con = self._open()
        try:
            yield
        finally:
            con, self._held.con = self._held.con, None
            con.close()

    @contextlib.contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one unit of work; the file is released when it closes (inside `session()`, a cursor
        of the session's connection, closed when the unit of work ends)."""
        held = getattr(self._held, "con", None)
        if held is None:
            self.home.mkdir(parents=True, exist_ok=True)
        con = self._open() if held is None else held.cursor()
        if self.database_url is None:
            con.execute("SET enable_progress_bar = false")  # never on stdout: --json stays JSON
            con = NulGuard(con)  # text with a NUL refused as on PostgreSQL (core.pg), which cannot keep it
        try:
            key = self._key
            if key not in _migrated:
                with _migrate_lock:
                    if key not in _migrated:
                        if not up_to_date(con):
                            migrate(con, self.data_dir)
                        _migrated.add(key)
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction: the change and its audit event commit together, or neither.

        A `Forbidden` raised inside (or a `Conflict`/`CheckFailed` naming the
        refused action: a forbidden transition) rolls the change back and then
        records the refusal in the audit trail in a transaction of its own.
        """
        refused: CoreError | None = None
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
                con.execute("COMMIT")
            except CoreError as e:
                if not audited(e):
                    _rollback_quietly(con)
                    raise
                con.execute("ROLLBACK")
                refused = e
            except (*DB_ERRORS, OSError) as e:
                _rollback_quietly(con)
                # A full disk first: DuckDB reports a commit that could not be written as a TransactionException
                # too, and "someone else changed the same record" would send people looking for the wrong cause.
                if disk_full(e):
                    raise _disk_full_error(self.location, e) from e
                if _write_conflict(e):
                    raise Conflict(_WRITE_CONFLICT) from e
                raise
            except BaseException:
                _rollback_quietly(con)
                raise
            if refused is not None:
                from . import audit

                con.execute("BEGIN TRANSACTION")
                try:
                    audit.record_refusal(con, refused)
                    con.execute("COMMIT")
                except (*DB_ERRORS, OSError) as e:
                    _rollback_quietly(con)
                    if disk_full(e):
                        raise _disk_full_error(self.location, e) from e
                    raise
                except BaseException:
                    _rollback_quietly(con)
                    raise
        if refused is not None:
            raise refused

    @contextlib.contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for reads (no explicit transaction)."""
        with self.connect() as con:
            yield con

    @contextlib.contextmanager
    def data(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A DuckDB connection for reading and writing data files (prediction logs, outcomes, input files): never the
        metadata store's. Read which files to read from the metadata first (`core.datafiles`), then read them here.

        In memory, TimeZone UTC, progress bar off. Each unit of work gets a cursor of one in-memory database kept per
        process (a new database costs 35-65 ms, a cursor about one): its temporary tables and views are its own and
        go when it closes. It holds no lock on the metadata store.
        """
        con = datadb.cursor()
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET enable_progress_bar = false")
            yield con
        finally:
            con.close()


def _rollback_quietly(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("ROLLBACK")
    except DB_ERRORS:
        # The transaction may already be aborted by DuckDB itself; nothing to undo.
        return


def _shipped_numbers() -> list[int]:
    """The numbers of the migrations shipped with core, in order, from their file names alone."""
    return sorted(int(m.group(1)) for entry in resources.files("core.migrations").iterdir()
                  if (m := re.fullmatch(r"(\d{4})_\w+\.sql", entry.name)))


def up_to_date(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the store records exactly the migrations shipped: one small read, no file read, nothing written.

    Every process of the CLI opens the store once, so this is the check it pays; `migrate` runs only when it fails
    (a new store, an upgrade, or a history that does not match, which `migrate` then names).
    """
    try:
        done = [r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()]
    except MISSING_TABLE:  # a new store: no migrations table yet
        return False
    return done == _shipped_numbers()


def applied_migrations(con: duckdb.DuckDBPyConnection) -> list[int]:
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
        " applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
    )
    return [r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()]


def python_step(number: int):
    """The Python step that runs after migration `number`'s SQL, in its transaction (function(con, data_dir)), or
    None: for moves SQL cannot make, such as 0017's copy of the old log tables into the data location. Imported
    only when a store needs it."""
    if number == 17:
        from .datafiles import upgrade_tables

        return upgrade_tables
    return None


def migrate(con: duckdb.DuckDBPyConnection, data_dir: Path | None = None) -> list[int]:
    """Apply every migration not yet recorded, each in one transaction with its record (and its Python step, if
    `python_step` names one; `data_dir` is the store's data location, which 0017's step writes to).

    The numbers already applied must be the first numbers on disk, in order: a store that recorded a
    migration this version does not ship, or skipped one it does (a 0007 applied before a 0003), was
    written by a different ModelGov, and applying the rest would leave a schema nobody tested.
    """
    from .pg import is_postgres

    if is_postgres(con):
        return _migrate_postgres(con, data_dir)
    return _migrate(con, data_dir)


def _migrate_postgres(con, data_dir: Path | None = None) -> list[int]:
    """`_migrate` under an advisory lock: replicas started together run each migration once, the others wait and
    then find nothing left to do."""
    from .pg import MIGRATE_LOCK

    con.execute("SELECT pg_advisory_lock(?)", [MIGRATE_LOCK])
    try:
        return _migrate(con, data_dir)
    finally:
        con.execute("SELECT pg_advisory_unlock(?)", [MIGRATE_LOCK])


def _migrate(con, data_dir: Path | None = None) -> list[int]:
    from .pg import is_postgres, translate_migration

    postgres = is_postgres(con)
    done = set(applied_migrations(con))
    available = migrations()
    numbers = [m.number for m in available]
    if sorted(done) != numbers[:len(done)]:
        unknown = sorted(done - set(numbers))
        skipped = [n for n in numbers if n not in done and any(d > n for d in done)]
        why = (f"it records migration(s) {', '.join(f'{n:04d}' for n in unknown)} that this ModelGov does not ship"
               if unknown else f"it skipped migration(s) {', '.join(f'{n:04d}' for n in skipped)}")
        raise CoreError(f"The store's schema history does not match this ModelGov: {why}. Open it with the "
                        "ModelGov version that wrote it, or restore a backup; nothing was changed.")
    applied = []
    for m in available:
        if m.number in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(translate_migration(m.sql) if postgres else m.sql)
            step = python_step(m.number)
            if step is not None:
                step(con, data_dir)
            con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [m.number, m.name])
            con.execute("COMMIT")
        except (*DB_ERRORS, OSError) as e:
            _rollback_quietly(con)
            if disk_full(e):
                raise DiskFull(f"The disk is full, so migration {m.number:04d}_{m.name} was rolled back; free space "
                               "and open the store again.") from e
            raise CoreError(f"Migration {m.number:04d}_{m.name} failed and was rolled back: {e}") from e
        except BaseException:
            _rollback_quietly(con)
            raise
        applied.append(m.number)
    return applied


def schema_sql(con: duckdb.DuckDBPyConnection) -> str:
    """The schema as CREATE statements, sorted, for the snapshot test (PostgreSQL's from its catalogue)."""
    if getattr(con, "dialect", "") == "postgresql":
        from .pg import schema_sql as postgresql_schema

        return postgresql_schema(con)
    rows = con.execute(
        "SELECT sql FROM duckdb_tables() WHERE database_name = current_database() "
        "UNION ALL SELECT sql FROM duckdb_indexes() WHERE database_name = current_database() AND sql IS NOT NULL "
        "UNION ALL SELECT sql FROM duckdb_views() WHERE database_name = current_database() AND NOT internal "
        "UNION ALL SELECT 'CREATE SEQUENCE ' || sequence_name || ';' FROM duckdb_sequences() "
        "WHERE database_name = current_database() "
        "ORDER BY 1"
    ).fetchall()
    return "\n".join(r[0] for r in rows) + "\n"
