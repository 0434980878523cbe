"""The data location: prediction logs and outcomes as Parquet files, catalogued in the metadata store.

Large data never goes into the metadata store (DuckDB or PostgreSQL): it lives as Parquet under `Store.data_dir`
(`MODELGOV_DATA_DIR`, shared storage when several replicas serve one metadata store), one layout whatever the
metadata backend, read in place by DuckDB (`Store.data()`):

    predictions/model=<model id>/version=<n>/day=<YYYY-MM-DD>/<ingest id>-<uuid>.parquet
    outcomes/model=<model id>/day=<YYYY-MM-DD>/<ingest id>-<uuid>.parquet

`day` is the prediction's time (`ts`) or the outcome's arrival, in UTC. An ingest writes one file per day it
touches and never changes a file again. The catalogue (`data_files`, migration 0017) lists every committed file with
its model, version, kind, environment, day, rows, bytes, SHA-256, ingest and time span; readers read exactly the
catalogued files (`read_parquet([...])`), never a glob. So a file is part of the data from the moment its catalogue
row commits, in the transaction of its ingest run and audit event: a file written by an action that then failed
(the transaction rolled back, the process killed, the disk full) is deleted, or left behind unread.

Writing a file: a hidden temporary name in its final folder, fsync, rename, fsync of the folder; the catalogue row
commits after that. Paths in the catalogue are relative to the data location, so a home (or a data location) copied
or moved elsewhere stays whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterator

from .audit import utcnow
from .errors import CoreError
from .sql import literal, quote

PREDICTIONS, OUTCOMES = "predictions", "outcomes"

# What an outcomes file holds, in this order (the meaning of `outcomes` before migration 0017, plus the ingest).
OUTCOME_COLUMNS = ("request_id VARCHAR NOT NULL, label DOUBLE, label_text VARCHAR, arrived_at TIMESTAMP NOT NULL, "
                   "ingest_id INTEGER NOT NULL")


@dataclass(frozen=True)
class DataFile:
    """A Parquet file written (and, once its row commits, catalogued)."""

    path: str            # relative to the data location, '/'-separated
    kind: str
    model_id: int
    version: int | None  # predictions: the version's number; outcomes: None
    environment: str | None
    day: date
    rows: int
    size_bytes: int
    sha256: str
    ingest_id: int | None
    first_at: datetime | None
    last_at: datetime | None


def folder(kind: str, model_id: int, version: int | None, day: date) -> str:
    parts = [kind, f"model={int(model_id)}"] + ([f"version={int(version)}"] if kind == PREDICTIONS else [])
    return "/".join(parts + [f"day={day.isoformat()}"])


def relation(store, paths: list[str], *, by_name: bool = False, dialect=None) -> str:
    """The catalogued files `paths` as one relation DuckDB reads in place (never a glob: only committed files).

    The files of one version share their columns (the version's signature); files of several versions do not, and
    need `by_name` (columns matched by name, which reads every file's schema each time the relation is bound).
    `dialect`: the engine that reads them (core/engine.py; default DuckDB)."""
    if not paths:
        raise ValueError("relation() needs at least one file; ask the catalogue first")
    if dialect is not None:
        return dialect.files([str(store.data_dir / p) for p in paths], by_name=by_name)
    files = ", ".join(literal(str(store.data_dir / p)) for p in paths)
    return f"read_parquet([{files}]{', union_by_name = true' if by_name else ''})"


# -- writing -------------------------------------------------------------------------------------------------------

def write_days(store, dcon, table: str, *, kind: str, model_id: int, version: int | None, ingest_id: int | None,
               time_column: str, environment: str | None = None, written: list[DataFile] | None = None,
               name: str | None = None) -> list[DataFile]:
    """Write the rows of `table` (a table of the data connection `dcon`) as one Parquet file per day of
    `time_column`, each whole on disk (temporary name, fsync, rename) before this returns. Every file written is
    appended to `written` as soon as it exists, so the caller's `removed_on_error` deletes it if what follows fails.
    """
    new: list[DataFile] = []
    tc, src = quote(time_column), quote(table)
    days = dcon.execute(f"SELECT CAST({tc} AS DATE) AS d, count(*), min({tc}), max({tc}) "
                        f"FROM {src} GROUP BY 1 ORDER BY 1").fetchall()
    for day, rows, first, last in days:
        rel = f"{folder(kind, model_id, version, day)}/{name or ingest_id}-{uuid.uuid4().hex}.parquet"
        target = store.data_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        try:
            dcon.execute(f"COPY (SELECT * FROM {src} WHERE CAST({tc} AS DATE) = DATE "
                         f"{literal(day.isoformat())}) TO {literal(str(tmp))} (FORMAT parquet)")
            size, digest = _sync_and_hash(tmp)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _sync_folder(target.parent)
        f = DataFile(rel, kind, model_id, version, environment, day, int(rows), size, digest, ingest_id, first, last)
        new.append(f)
        if written is not None:
            written.append(f)
    return new


def _sync_and_hash(path: Path) -> tuple[int, str]:
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        os.fsync(f.fileno())
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def _sync_folder(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # a platform without directory handles: the rename is as durable as it gets there
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def removed_on_error(store, written: list[DataFile]) -> Iterator[list[DataFile]]:
    """Delete the files in `written` when the block fails (its transaction did not commit): never read, never kept."""
    try:
        yield written
    except BaseException:
        for f in written:
            (store.data_dir / f.path).unlink(missing_ok=True)
        raise


def catalogue_tx(con, files: list[DataFile], now: datetime) -> None:
    """Record `files` in the catalogue, in the caller's transaction (with its ingest run and audit event)."""
    if files:
        con.executemany(
            "INSERT INTO data_files (path, kind, model_id, version, environment, day, row_count, size_bytes, sha256, "
            "ingest_id, first_at, last_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [[f.path, f.kind, f.model_id, f.version, f.environment, f.day, f.rows, f.size_bytes, f.sha256,
              f.ingest_id, f.first_at, f.last_at, now] for f in files])


# -- reading the catalogue -----------------------------------------------------------------------------------------

def prediction_files_tx(con, version_id: int) -> list[str]:
    """The catalogued log files of one model version (by its id), oldest first."""
    return [r[0] for r in con.execute(
        "SELECT f.path FROM data_files f JOIN model_versions v ON v.model_id = f.model_id AND v.version = f.version "
        "WHERE v.id = ? AND f.kind = 'predictions' ORDER BY f.day, f.ingest_id, f.path", [version_id]).fetchall()]


def model_prediction_files_tx(con, model_id: int) -> list[str]:
    """Every catalogued log file of a model, all versions."""
    return [r[0] for r in con.execute("SELECT path FROM data_files WHERE model_id = ? AND kind = 'predictions' "
                                      "ORDER BY version, day, ingest_id, path", [model_id]).fetchall()]


def outcome_files_tx(con, model_id: int) -> list[str]:
    """The catalogued outcome files of a model, oldest first."""
    return [r[0] for r in con.execute("SELECT path FROM data_files WHERE model_id = ? AND kind = 'outcomes' "
                                      "ORDER BY day, ingest_id, path", [model_id]).fetchall()]


def logged_versions_tx(con, model_id: int) -> list[dict[str, Any]]:
    """The model's versions with logs, from the catalogue alone: rows, first and last time, environments."""
    rows = con.execute("SELECT version, environment, sum(row_count), min(first_at), max(last_at) FROM data_files "
                       "WHERE model_id = ? AND kind = 'predictions' GROUP BY version, environment "
                       "ORDER BY version, environment", [model_id]).fetchall()
    out: dict[int, dict[str, Any]] = {}
    for version, env, n, first, last in rows:
        v = out.setdefault(version, {"version": version, "rows": 0, "first": None, "last": None,
                                     "environments": []})
        v["rows"] += int(n)
        v["first"] = first if v["first"] is None or (first is not None and first < v["first"]) else v["first"]
        v["last"] = last if v["last"] is None or (last is not None and last > v["last"]) else v["last"]
        if env is not None:
            v["environments"].append(env)
    return list(out.values())


def outcomes_relation(store, paths: list[str], dialect=None) -> str:
    """The model's outcomes as they stand (one row per request id: the latest arrival wins, as an upsert did
    before migration 0017), as a relation: request_id, label, label_text, arrived_at. `dialect`: as `relation`."""
    spark = dialect is not None and dialect.name == "spark"
    if not paths:
        text = "STRING" if spark else "VARCHAR"
        return (f"(SELECT CAST(NULL AS {text}) AS request_id, CAST(NULL AS DOUBLE) AS label, "
                f"CAST(NULL AS {text}) AS label_text, CAST(NULL AS TIMESTAMP) AS arrived_at WHERE false)")
    if spark:  # Spark SQL has no QUALIFY
        return (f"(SELECT request_id, label, label_text, arrived_at FROM (SELECT *, row_number() OVER (PARTITION BY "
                f"request_id ORDER BY ingest_id DESC, arrived_at DESC) AS mg_rank FROM "
                f"{relation(store, paths, dialect=dialect)}) WHERE mg_rank = 1)")
    return (f"(SELECT request_id, label, label_text, arrived_at FROM {relation(store, paths)} "
            "QUALIFY row_number() OVER (PARTITION BY request_id ORDER BY ingest_id DESC, arrived_at DESC) = 1)")


# -- migration 0017: an existing DuckDB store's tables become files -------------------------------------------------

def upgrade_tables(con, data_dir: Path | None) -> None:
    """Migration 0017's step after its SQL, in its transaction: copy every `predlog_*` table and `outcomes` to
    Parquet under the data location, catalogue the files, check the rows read back from the files equal the rows of
    the tables, and drop the tables. All or nothing: if anything fails the files written are deleted and the
    transaction (the migration) rolls back, leaving the store as it was.

    The only code that reads prediction logs on the metadata connection: the old tables live there. A metadata store
    that never had them (a new store, PostgreSQL) has nothing to copy.
    """
    tables = [tuple(r) for r in con.execute(
        "SELECT v.model_id, v.version, t.table_name FROM prediction_tables t JOIN model_versions v ON v.id = "
        "t.version_id ORDER BY 1, 2").fetchall()]
    outcome_models = [r[0] for r in con.execute("SELECT DISTINCT model_id FROM outcomes ORDER BY 1").fetchall()]
    if (tables or outcome_models) and data_dir is None:
        raise CoreError("Migration 0017 moves prediction logs and outcomes to the data location, and none was given.")
    holder = _Holder(data_dir)
    written: list[DataFile] = []
    now = utcnow()
    with removed_on_error(holder, written):
        for model_id, version, table in tables:
            source = _quoted(table)
            groups = con.execute(f"SELECT DISTINCT ingest_id, environment FROM {source} ORDER BY 1, 2").fetchall()
            files: list[DataFile] = []
            for ingest_id, env in groups:
                con.execute(f"CREATE OR REPLACE TEMP TABLE upgrade_rows AS SELECT * FROM {source} WHERE ingest_id = ? "
                            f"AND environment IS NOT DISTINCT FROM ?", [ingest_id, env])
                files += write_days(holder, con, "upgrade_rows", kind=PREDICTIONS, model_id=model_id,
                                    version=version, ingest_id=ingest_id, time_column="ts", environment=env,
                                    written=written)
            _check_copied(con, holder, files, f"SELECT count(*) FROM {source}", table)
            catalogue_tx(con, files, now)
        for model_id in outcome_models:
            con.execute("CREATE OR REPLACE TEMP TABLE upgrade_rows AS SELECT request_id, label, label_text, arrived_at, "
                        "0 AS ingest_id FROM outcomes WHERE model_id = ?", [model_id])
            files = write_days(holder, con, "upgrade_rows", kind=OUTCOMES, model_id=model_id, version=None,
                               ingest_id=None, time_column="arrived_at", written=written, name="upgrade")
            _check_copied(con, holder, files, f"SELECT count(*) FROM outcomes WHERE model_id = {int(model_id)}",
                          "outcomes")
            catalogue_tx(con, files, now)
        con.execute("DROP TABLE IF EXISTS upgrade_rows")
        for _m, _v, table in tables:
            con.execute(f"DROP TABLE {_quoted(table)}")
        con.execute("DROP TABLE prediction_tables")
        con.execute("DROP TABLE outcomes")


@dataclass(frozen=True)
class _Holder:
    """What `write_days` needs of a store while the store itself is being migrated: its data location."""

    data_dir: Path


def _quoted(table: str) -> str:
    return '"' + table.replace('"', '""') + '"'


def _check_copied(con, holder: _Holder, files: list[DataFile], count_sql: str, what: str) -> None:
    expected = con.execute(count_sql).fetchall()[0][0]
    read_back = con.execute(f"SELECT count(*) FROM {relation(holder, [f.path for f in files])}").fetchall()[0][0] \
        if files else 0
    if not (expected == read_back == sum(f.rows for f in files)):
        raise CoreError(f"Copying {what} to the data location gave {read_back} rows for {expected}; the upgrade "
                        "was rolled back and the store is unchanged.")
