"""Prediction logs and outcomes as Parquet under the data location (core/datafiles.py, migration 0017).

The layout and its catalogue; readers read exactly the catalogued files; a failed or killed ingest leaves nothing
read and nothing half-read; outcomes keep their meaning (the latest label of a request id wins); an older store
with log tables upgrades in place, all or nothing.
"""

from __future__ import annotations

import errno
import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from core import datafiles
from core import store as store_module
from core.errors import CoreError, Forbidden
from core.monitoring import ingest, report
from core.store import DiskFull, Store
from tests.conftest import make_version, synthetic_classification
from tests.core.test_store_whole import ENOSPC_MESSAGES, _FullDisk, fingerprint, table_names

LAYOUT = re.compile(r"predictions/model=(\d+)/version=(\d+)/day=(\d{4}-\d{2}-\d{2})/(\d+)-[0-9a-f]{32}\.parquet")


def _traffic(folder: Path, n: int = 120, seed: int = 5, days: int = 3, prefix: str = "r") -> Path:
    df = synthetic_classification(n=n, seed=seed)
    df["rid"] = [f"{prefix}{i}" for i in range(n)]
    df["ts"] = [f"2026-03-0{1 + i % days} 12:00:00" for i in range(n)]
    df["score"] = 0.5
    path = folder / f"served-{prefix}-{seed}.csv"
    df.drop(columns="y").to_csv(path, index=False)
    df[["rid", "y"]].to_csv(folder / f"labels-{prefix}-{seed}.csv", index=False)
    return path


def _log(store, people, path: Path, **kw):
    return ingest.log_predictions(store, people["ds"], "toy-model", 1, path, id_column="rid", time_column="ts",
                                  environment="production", refresh_snapshots=False, **kw)


def _data_files(store) -> list[str]:
    """Every file under the data location, temporary ones included."""
    if not store.data_dir.exists():
        return []
    return sorted(str(p.relative_to(store.data_dir)) for p in store.data_dir.rglob("*") if p.is_file())


def _catalogue(store) -> list[tuple]:
    with store.read() as con:
        return con.execute("SELECT path, kind, model_id, version, environment, CAST(day AS VARCHAR), row_count, "
                           "size_bytes, sha256, ingest_id FROM data_files ORDER BY path").fetchall()


@pytest.fixture
def toy(store, people, tmp_path):
    make_version(store, people["ds"], "toy-model")
    return tmp_path


def test_a_log_is_one_file_per_day_catalogued_with_its_rows_bytes_and_hash(store, people, toy):
    r = _log(store, people, _traffic(toy))
    rows = _catalogue(store)
    assert [row[5] for row in rows] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    for path, kind, model_id, version, env, day, n, size, sha, ingest_id in rows:
        m = LAYOUT.fullmatch(path)
        assert m and (int(m.group(1)), int(m.group(2)), m.group(3), int(m.group(4))) == (model_id, 1, day, r.ingest_id)
        assert (kind, version, env, ingest_id) == ("predictions", 1, "production", r.ingest_id)
        data = (store.data_dir / path).read_bytes()
        assert size == len(data) and sha == hashlib.sha256(data).hexdigest()
    assert sum(row[6] for row in rows) == r.rows_ok == 120
    assert _data_files(store) == [row[0] for row in rows]  # nothing else: no temporary file left behind
    with store.read() as con:  # the metadata store holds no log data: no predlog_ table, no outcomes table
        tables = set(table_names(con))
    assert not {t for t in tables if t.startswith("predlog_")} and not {"outcomes", "prediction_tables"} & tables


def test_the_data_location_follows_the_setting_and_a_copied_home_stays_whole(store, people, toy, monkeypatch):
    monkeypatch.setenv("MODELGOV_DATA_DIR", str(toy / "shared"))
    assert Store().data_dir == (toy / "shared").resolve()
    assert Store(toy / "elsewhere").data_dir == (toy / "elsewhere" / "data").resolve()  # a named home keeps its own
    assert store.data_dir == store.home / "data"
    _log(store, people, _traffic(toy))
    copy = toy / "copy"
    shutil.copytree(store.home, copy)
    moved = Store(copy)
    store_module._migrated.add(str(moved.db_path))
    assert report.monitor(moved, "toy-model", 1)["rows"] == report.monitor(store, "toy-model", 1)["rows"] == 120


def test_a_file_not_in_the_catalogue_is_never_read(store, people, toy):
    _log(store, people, _traffic(toy))
    before = report.monitor(store, "toy-model", 1)
    path = _catalogue(store)[0][0]
    stray = store.data_dir / Path(path).with_name(f"99-{'0' * 32}.parquet")  # what an ingest that failed could leave
    shutil.copy(store.data_dir / path, stray)
    assert report.monitor(store, "toy-model", 1) == before


@pytest.mark.duckdb_only("it imitates DuckDB's own full-disk errors at commit (PostgreSQL's are its server's)")
@pytest.mark.parametrize("exc, message", ENOSPC_MESSAGES)
def test_a_commit_that_fails_deletes_the_files_it_would_have_catalogued(store, people, toy, monkeypatch, exc,
                                                                         message):
    _log(store, people, _traffic(toy, seed=1))
    before, files = fingerprint(store), _data_files(store)
    real_open = Store._open
    monkeypatch.setattr(Store, "_open", lambda self: _FullDisk(real_open(self), exc, message.format(db=self.db_path)))
    with pytest.raises(DiskFull, match="is full"):
        _log(store, people, _traffic(toy, seed=2, prefix="s"))
    monkeypatch.undo()
    assert fingerprint(store) == before and _data_files(store) == files
    assert report.monitor(store, "toy-model", 1)["rows"] == 120


def test_a_full_disk_while_writing_a_file_leaves_no_file_and_no_row(store, people, toy, monkeypatch):
    _log(store, people, _traffic(toy, seed=1))
    before, files = fingerprint(store), _data_files(store)
    calls = []
    real = datafiles._sync_and_hash

    def fills_up(path):
        calls.append(path)
        if len(calls) == 2:  # the second day's file: the first one is already in place
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path)

    monkeypatch.setattr(datafiles, "_sync_and_hash", fills_up)
    with pytest.raises(DiskFull, match="is full"):
        _log(store, people, _traffic(toy, seed=2, prefix="s"))
    assert len(calls) == 2
    assert fingerprint(store) == before and _data_files(store) == files


def test_a_refused_ingest_reads_and_writes_nothing(store, people, toy):
    path = _traffic(toy)
    with pytest.raises(Forbidden):
        ingest.log_predictions(store, people["viewer"], "toy-model", 1, path, id_column="rid")
    assert _data_files(store) == [] and _catalogue(store) == []


KILLED_AFTER_WRITING = """
import os, sys
from core import datafiles
from core.identity import identity_for
from core.monitoring import ingest
from core.store import Store

def die(*_a, **_k):  # the moment the files are written whole, before their catalogue rows commit
    os._exit(9)

datafiles.catalogue_tx = die
s = Store(sys.argv[1])
ingest.log_predictions(s, identity_for(s, "ada@example.com"), "toy-model", 1, sys.argv[2], id_column="rid",
                       time_column="ts", environment="production", refresh_snapshots=False)
"""


def test_a_process_killed_mid_ingest_leaves_nothing_read(store, people, toy):
    _log(store, people, _traffic(toy, seed=1))
    before, catalogue = report.monitor(store, "toy-model", 1), _catalogue(store)
    child = subprocess.run([sys.executable, "-c", KILLED_AFTER_WRITING, str(store.home),
                            str(_traffic(toy, seed=2, prefix="s"))], capture_output=True, text=True, timeout=120,
                           cwd=Path(__file__).resolve().parents[2])
    assert child.returncode == 9, child.stderr
    orphans = set(_data_files(store)) - {row[0] for row in catalogue}
    assert orphans and not any(o.endswith(".tmp") for o in orphans)  # whole files, written but never catalogued
    assert _catalogue(store) == catalogue and report.monitor(store, "toy-model", 1) == before
    assert _log(store, people, _traffic(toy, seed=3, prefix="t")).rows_ok == 120  # and the store goes on


def test_the_latest_outcome_of_a_request_wins_and_counts_once(store, people, toy):
    _log(store, people, _traffic(toy))
    labels = toy / "labels-r-5.csv"
    first = ingest.log_outcomes(store, people["ds"], "toy-model", labels, id_column="rid", label_column="y",
                                refresh_snapshots=False)
    flipped = toy / "flipped.csv"
    flipped.write_text("rid,y\nr0,7\nr1,8\nnobody,1\n")
    second = ingest.log_outcomes(store, people["ds"], "toy-model", flipped, id_column="rid", label_column="y",
                                 refresh_snapshots=False)
    assert (first.rows_ok, second.rows_ok, second.reasons) == (120, 2, {"no logged prediction with this request id": 1})
    with store.read() as con:
        model_id = con.execute("SELECT id FROM models WHERE name = 'toy-model'").fetchone()[0]
        files = datafiles.outcome_files_tx(con, model_id)
    assert len(files) == 2 and all(f.startswith(f"outcomes/model={model_id}/day=") for f in files)
    with store.data() as dcon:
        got = dict(dcon.execute(f"SELECT request_id, label FROM {datafiles.outcomes_relation(store, files)}").fetchall())
    assert len(got) == 120 and (got["r0"], got["r1"]) == (7.0, 8.0)
    assert sum(p["labelled"] for p in report.monitor(store, "toy-model", 1)["performance"]) == 120


# -- migration 0017 on a store written before it ------------------------------------------------------------------

def _as_before_0017(store) -> dict:
    """Turn a migrated store into what the code before migration 0017 wrote: one `predlog_<model>_v<n>` table per
    version listed in `prediction_tables`, an `outcomes` table (one row per request id), no catalogue, no files."""
    with store.read() as con:
        logged = con.execute("SELECT DISTINCT v.id, f.model_id, f.version FROM data_files f JOIN model_versions v ON "
                             "v.model_id = f.model_id AND v.version = f.version WHERE f.kind = 'predictions'").fetchall()
        files = {(m, n): datafiles.prediction_files_tx(con, vid) for vid, m, n in logged}
        outcomes = {m: datafiles.outcome_files_tx(con, m) for (m,) in con.execute(
            "SELECT DISTINCT model_id FROM data_files WHERE kind = 'outcomes'").fetchall()}
    store_module._migrated.discard(str(store.db_path))
    con = duckdb.connect(str(store.db_path))
    try:
        con.execute("""CREATE TABLE prediction_tables (version_id INTEGER PRIMARY KEY,
                       table_name VARCHAR NOT NULL UNIQUE, created_at TIMESTAMP NOT NULL)""")
        con.execute("""CREATE TABLE outcomes (model_id INTEGER NOT NULL, request_id VARCHAR NOT NULL, label DOUBLE,
                       arrived_at TIMESTAMP NOT NULL, label_text VARCHAR, PRIMARY KEY (model_id, request_id))""")
        counts = {}
        for vid, m, n in logged:
            name = f"predlog_{m}_v{n}"
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM {datafiles.relation(store, files[(m, n)])}")
            con.execute("INSERT INTO prediction_tables VALUES (?, ?, now()::TIMESTAMP)", [vid, name])
            counts[name] = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        for m, paths in outcomes.items():
            con.execute(f"INSERT INTO outcomes SELECT {int(m)}, request_id, label, arrived_at, label_text FROM "
                        f"{datafiles.outcomes_relation(store, paths)}")
        counts["outcomes"] = con.execute("SELECT count(*) FROM outcomes").fetchone()[0]
        con.execute("DROP TABLE data_files")
        _undo_later_migrations(con, after=17)
        con.execute("DELETE FROM schema_migrations WHERE version >= 17")
    finally:
        con.close()
    shutil.rmtree(store.data_dir)
    return counts


def _undo_later_migrations(con, after: int) -> None:
    """Drop what the migrations numbered above `after` created (tables, sequences, added columns; read from their
    SQL), so the store is as a ModelGov that shipped none of them left it: they apply again on opening."""
    import re

    for m in reversed([m for m in store_module.migrations() if m.number > after]):
        sql = m.sql
        for table, column in re.findall(r"ALTER TABLE (\w+) ADD COLUMN (\w+)", sql, re.I):
            con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        for table in re.findall(r"CREATE TABLE (\w+)", sql, re.I)[::-1]:
            con.execute(f"DROP TABLE {table}")
        for seq in re.findall(r"CREATE SEQUENCE (\w+)", sql, re.I):
            con.execute(f"DROP SEQUENCE {seq}")


@pytest.fixture
def old_store(store, people, toy):
    make_version(store, people["ds"], "toy-model", seed=1)  # version 2
    _log(store, people, _traffic(toy))
    ingest.log_predictions(store, people["ds"], "toy-model", 2, _traffic(toy), id_column="rid", time_column="ts",
                           environment="staging", refresh_snapshots=False)
    ingest.log_outcomes(store, people["ds"], "toy-model", toy / "labels-r-5.csv", id_column="rid", label_column="y",
                        refresh_snapshots=False)
    before = {v: report.monitor(store, "toy-model", v, environment=e) for v, e in ((1, "production"), (2, "staging"))}
    return store, before, _as_before_0017(store)


@pytest.mark.duckdb_only("stores written before migration 0017 were DuckDB files; PostgreSQL stores start after it")
def test_an_older_store_upgrades_in_place_and_reports_the_same(old_store):
    store, before, counts = old_store
    assert counts == {"predlog_1_v1": 120, "predlog_1_v2": 120, "outcomes": 120}
    after = {v: report.monitor(store, "toy-model", v, environment=e) for v, e in ((1, "production"), (2, "staging"))}
    assert after == before
    with store.read() as con:
        tables = set(table_names(con))
        assert [v for (v,) in con.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()] == \
            [m.number for m in store_module.migrations()]
    assert not {t for t in tables if t.startswith("predlog_")} and not {"outcomes", "prediction_tables"} & tables
    rows = _catalogue(store)
    assert {(r[1], r[3], r[4]) for r in rows} == {("predictions", 1, "production"), ("predictions", 2, "staging"),
                                                   ("outcomes", None, None)}
    assert sum(r[6] for r in rows if r[1] == "predictions") == 240 and _data_files(store) == [r[0] for r in rows]


@pytest.mark.duckdb_only("stores written before migration 0017 were DuckDB files; PostgreSQL stores start after it")
def test_an_upgrade_that_fails_changes_nothing(old_store, monkeypatch):
    store, _before, _counts = old_store
    real = datafiles._check_copied
    calls = []

    def fails_on_outcomes(con, holder, files, count_sql, what):
        calls.append(what)
        if what == "outcomes":
            raise CoreError("the copy of outcomes did not match")
        return real(con, holder, files, count_sql, what)

    monkeypatch.setattr(datafiles, "_check_copied", fails_on_outcomes)
    with pytest.raises(CoreError, match="0017_data_files failed and was rolled back|did not match"):
        with store.read():
            pass
    assert calls == ["predlog_1_v1", "predlog_1_v2", "outcomes"]
    assert _data_files(store) == []  # the files of the tables already copied are gone too
    con = duckdb.connect(str(store.db_path))
    try:
        tables = set(table_names(con))
        assert {"predlog_1_v1", "predlog_1_v2", "outcomes", "prediction_tables"} <= tables
        assert "data_files" not in tables
        assert con.execute("SELECT count(*) FROM predlog_1_v1").fetchone()[0] == 120
    finally:
        con.close()
    monkeypatch.undo()
    store_module._migrated.discard(str(store.db_path))
    assert report.monitor(store, "toy-model", 1)["rows"] == 120  # the next open upgrades it


# -- no log or outcome data is read on the metadata connection -----------------------------------------------------

class _Recording:
    """A metadata connection that keeps every statement it runs (everything else is the real connection)."""

    def __init__(self, con, seen):
        self._con, self._seen = con, seen

    def execute(self, sql, *args, **kwargs):
        self._seen.append(sql)
        return self._con.execute(sql, *args, **kwargs)

    def executemany(self, sql, *args, **kwargs):
        self._seen.append(sql)
        return self._con.executemany(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._con, name)


DATA_ON_METADATA = re.compile(r"read_parquet|read_csv|predlog_|prediction_tables|\b(FROM|JOIN|INTO)\s+outcomes\b",
                              re.IGNORECASE)


def test_every_log_and_outcome_read_runs_on_the_data_connection(store, people, toy, monkeypatch):
    from core.monitoring import logs, snapshots

    make_version(store, people["ds"], "toy-model", seed=1)
    seen: list[str] = []
    real_open = Store._open
    monkeypatch.setattr(Store, "_open", lambda self: _Recording(real_open(self), seen))
    path = _traffic(toy)
    _log(store, people, path)
    ingest.log_predictions(store, people["ds"], "toy-model", 2, path, id_column="rid", time_column="ts",
                           environment="production")  # with its snapshot refresh
    ingest.score_file(store, people["ds"], "toy-model", 1, path, environment="staging", id_column="rid",
                      output=toy / "scored.csv")
    ingest.log_outcomes(store, people["ds"], "toy-model", toy / "labels-r-5.csv", id_column="rid", label_column="y")
    report.monitor(store, "toy-model", 1)
    snapshots.latest(store, people["viewer"], "toy-model", 2)
    logs.recent_rows(store, "toy-model", 1, days=30)
    logs.column_values(store, "toy-model", 1, "x1")
    assert len(logs.shadow_pairs(store, "toy-model", 1, 2, "production", None)) == 120
    assert [(v["rows"], v["environments"]) for v in logs.monitored_models(store)["toy-model"]] == [
        (240, ["production", "staging"]), (120, ["production"])]
    assert seen and not [sql for sql in seen if DATA_ON_METADATA.search(sql) or str(store.data_dir) in sql]


def test_no_core_module_but_the_upgrade_names_the_old_log_tables():
    root = Path(__file__).resolve().parents[2] / "core"
    named = {str(p.relative_to(root)) for p in root.rglob("*.py")
             if re.search(r"predlog_|prediction_tables|\b(FROM|JOIN|INTO)\s+outcomes\b", p.read_text())}
    assert named == {"datafiles.py"}, named
