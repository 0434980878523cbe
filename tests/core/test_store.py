"""The store: migrations, upgrade in place, whole-or-absent transactions, cross-process locks."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from core import audit
from core import store as store_module
from core.errors import Conflict
from core.registry import catalog
from core.store import Store, migrations

ROOT = Path(__file__).resolve().parents[2]


def test_migrations_are_numbered_without_gaps_or_duplicates():
    numbers = [m.number for m in migrations()]
    assert numbers == sorted(set(numbers))
    assert numbers[0] == 1


def test_migrations_are_recorded_and_not_reapplied(store):
    with store.read() as con:
        recorded = [r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()]
        assert recorded == [m.number for m in migrations()]
        assert store_module.migrate(con) == []


def test_an_older_store_upgrades_in_place(tmp_path):
    db = tmp_path / "old" / "modelgov.duckdb"
    db.parent.mkdir()
    first = migrations()[0]
    con = duckdb.connect(str(db))
    store_module.applied_migrations(con)
    con.execute(first.sql)
    con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [first.number, first.name])
    con.execute("INSERT INTO models (name, owner, risk_tier, created_at, created_by, updated_at)"
                " VALUES ('kept-model', 'o@x.com', 'low', now(), 'o@x.com', now())")
    con.close()
    s = Store(tmp_path / "old")
    with s.read() as con:
        recorded = [r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()]
        kept = con.execute("SELECT name FROM models").fetchall()
    assert recorded == [m.number for m in migrations()]
    assert kept == [("kept-model",)]


def test_a_failing_migration_rolls_back_whole(tmp_path, monkeypatch):
    broken = store_module.Migration(9999, "broken", "CREATE TABLE half_done (a INT); SELECT * FROM nowhere;")
    monkeypatch.setattr(store_module, "migrations", lambda: [*migrations(), broken])
    s = Store(tmp_path / "h")
    with pytest.raises(Exception, match="9999_broken failed and was rolled back"):
        with s.read():
            pass
    con = duckdb.connect(str(s.db_path))
    try:
        assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'half_done'").fetchone()[0] == 0
        assert 9999 not in [r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()]
    finally:
        con.close()


def _counts(s: Store) -> tuple[int, int]:
    with s.read() as con:
        return con.execute("SELECT (SELECT count(*) FROM models), (SELECT count(*) FROM audit_log)").fetchone()


def test_a_change_and_its_audit_event_roll_back_together(store, people, monkeypatch):
    before = _counts(store)

    def boom(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(catalog, "record", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        catalog.create_model(store, people["ds"], "half-written")
    assert _counts(store) == before


def test_a_refusal_rolls_back_the_change_but_is_audited(store, people):
    before_models, before_audit = _counts(store)
    from core.errors import Forbidden

    with pytest.raises(Forbidden, match="may not register model"):
        catalog.create_model(store, people["viewer"], "not-allowed")
    models, audits = _counts(store)
    assert models == before_models and audits == before_audit + 1
    with store.read() as con:
        row = con.execute("SELECT actor, action, outcome, entity_id FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        assert audit.verify_chain(con).ok
    assert row == ("vera@example.com", "model.create", "refused", "not-allowed")


HOLDER = textwrap.dedent("""
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("SELECT count(*) FROM models").fetchall()
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    con.close()
""")


def _hold_lock(db: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.mark.duckdb_only("a DuckDB file's process lock; PostgreSQL's writers wait on an advisory lock instead")
def test_a_writer_waits_for_another_process_and_then_succeeds(store, people):
    holder = _hold_lock(store.db_path, 1.0)
    started = time.monotonic()
    catalog.create_model(store, people["ds"], "after-the-wait")
    waited = time.monotonic() - started
    holder.wait(timeout=10)
    assert waited >= 0.5
    assert catalog.get_model(store, "after-the-wait").owner == "ada@example.com"


@pytest.mark.duckdb_only("a DuckDB file's process lock")
def test_a_lasting_lock_gives_a_clear_conflict(store, people):
    impatient = Store(store.home, lock_timeout=0.3)
    holder = _hold_lock(store.db_path, 3.0)
    try:
        with pytest.raises(Conflict, match=r"stayed locked by another process for 0.3 s; try again"):
            catalog.create_model(impatient, people["ds"], "never-written")
    finally:
        holder.wait(timeout=10)
    with pytest.raises(Exception):
        catalog.get_model(store, "never-written")


WRITER = textwrap.dedent("""
    import sys
    from core.cli import main
    home, n = sys.argv[1], int(sys.argv[2])
    for i in range(n):
        code = main(["--home", home, "--as", "grace@example.com", "models", "update", "cli-target",
                     "--description", f"edit {i}"])
        assert code == 0, code
    print("done", flush=True)
""")


def test_cli_and_dashboard_write_at_the_same_time(store, people):
    """A second process writes through the CLI while this one keeps using the store."""
    catalog.create_model(store, people["ds"], "cli-target")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(store.home), "15"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mine = 0
    while proc.poll() is None and mine < 200:
        catalog.create_model(store, people["ds"], f"parallel-{mine}")
        catalog.search_models(store, "parallel")
        mine += 1
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "done" in out
    with store.read() as con:
        edits = con.execute("SELECT count(*) FROM audit_log WHERE action = 'model.update'").fetchone()[0]
        assert audit.verify_chain(con).ok
    assert edits == 15
    assert catalog.search_models(store, "parallel").total == mine
