"""PostgreSQL as the metadata store: the adapter, concurrent writers, store copy, pages.

These run against a real PostgreSQL (tests/pgserver.py: MODELGOV_TEST_DATABASE_URL, or a throwaway cluster of
Debian's binaries); without one they skip and say why (MODELGOV_REQUIRE_POSTGRES=1 makes that a failure).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from core import audit, pg, users
from core import store as store_module
from core.identity import identity_for
from core.registry import catalog
from core.store import Store
from tests.conftest import PEOPLE, drop_postgres_database, make_version, new_postgres_database

ROOT = Path(__file__).resolve().parents[2]


# --- the adapter, no server needed -------------------------------------------------------------------------------

@pytest.mark.parametrize("sql, expected", [
    ("SELECT ? + ?", "SELECT %s + %s"),
    ("SELECT '?' , ?", "SELECT '?' , %s"),
    ("SELECT 'it''s ?', \"a?b\", ? -- what?\n", "SELECT 'it''s ?', \"a?b\", %s -- what?\n"),
    ("SELECT x FROM t WHERE name LIKE ? ESCAPE '\\'", "SELECT x FROM t WHERE name LIKE %s ESCAPE '\\'"),
    ("SELECT 5 % 2, '%', ?", "SELECT 5 %% 2, '%%', %s"),
    ("/* ? */ SELECT ?", "/* ? */ SELECT %s"),
])
def test_placeholders_become_psycopgs_outside_literals_and_comments(sql, expected):
    assert pg.placeholders(sql) == expected


def test_migrations_translate_the_few_duckdb_type_names():
    out = pg.translate_migration("a DOUBLE, b DOUBLE PRECISION, c BLOB, tags VARCHAR[] NOT NULL DEFAULT [],"
                                 " json_extract_string(a.payload, '$.changes.risk_tier.to')")
    assert out == ("a DOUBLE PRECISION, b DOUBLE PRECISION, c BYTEA, tags VARCHAR[] NOT NULL DEFAULT '{}',"
                   " (a.payload #>> '{changes,risk_tier,to}')")


def test_the_password_never_shows_in_the_stores_location():
    s = Store("/tmp/x", database_url="postgresql://mg:s3cret@db.example.com:5432/modelgov")
    assert s.backend == "postgresql" and "s3cret" not in s.location and repr(s).count("s3cret") == 0


# --- on a real server ----------------------------------------------------------------------------------------------

@pytest.fixture
def pg_store(tmp_path, monkeypatch):
    """A new, empty PostgreSQL store (migrated on first use) with the PEOPLE granted."""
    url = new_postgres_database()
    monkeypatch.setenv("MODELGOV_DATABASE_URL", url)
    s = Store(tmp_path / "home", database_url=url)
    users.init_store(s, PEOPLE["admin"][0])
    admin = identity_for(s, PEOPLE["admin"][0])
    for email, roles in PEOPLE.values():
        for role in roles:
            users.grant_role(s, admin, email, role)
    yield s
    drop_postgres_database(url)


WRITER = textwrap.dedent("""
    import sys, time
    from core import users
    from core.identity import identity_for
    from core.store import Store
    home, url, me, n, go = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    s = Store(home, database_url=url)
    admin = identity_for(s, "alan@example.com")
    while time.time() < go:
        time.sleep(0.001)
    for i in range(n):
        users.grant_role(s, admin, f"w{me}-{i}@example.com", "viewer")
    print("done")
""")


def test_concurrent_writers_leave_one_unbroken_audit_chain(pg_store):
    with pg_store.read() as con:
        before = con.execute("SELECT max(seq) FROM audit_log").fetchone()[0]
    n_procs, n_each = 6, 8
    go = time.time() + 3.0  # every interpreter is up and imported by then
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(pg_store.home), pg_store.database_url, str(k),
                               str(n_each), str(go)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for k in range(n_procs)]
    results = [p.communicate(timeout=240) for p in procs]
    assert all(p.returncode == 0 for p in procs), results
    with pg_store.read() as con:
        seqs = [r[0] for r in con.execute("SELECT seq FROM audit_log ORDER BY seq").fetchall()]
        grants = con.execute("SELECT count(*) FROM role_grants WHERE email LIKE 'w%'").fetchone()[0]
    assert grants == n_procs * n_each
    assert seqs == list(range(1, before + n_procs * n_each + 1))  # no duplicate, no gap
    check = audit.verify(pg_store)
    assert check.ok and check.rows == len(seqs), check


def test_audit_verify_on_postgresql_names_a_changed_row(pg_store, _template_people):
    people = _template_people
    catalog.create_model(pg_store, people["ds"], "chain-model", owner="ada@example.com", risk_tier="low")
    assert audit.verify(pg_store).ok
    with pg_store.read() as con:
        con.execute("UPDATE audit_log SET actor = 'mallory@example.com' WHERE seq = 3")
    check = audit.verify(pg_store)
    assert not check.ok and check.first_bad_seq == 3 and "changed" in check.problem


def test_deciding_and_deploying_one_request_from_two_processes_has_one_winner(pg_store, _template_people):
    people = _template_people
    from tests.core.test_approvals import _model, _race
    from core.governance import approvals, live

    _model(pg_store, people)
    r = approvals.request_deployment(pg_store, people["ds"], "risk-model", 1, "production", "champion", "go")
    results = _race(pg_store, [("rita@example.com", ["approvals", "approve", str(r.id), "--comment", "yes"]),
                               ("raj@example.com", ["approvals", "approve", str(r.id), "--comment", "me too"])])
    assert sorted(code for code, _ in results) == [0, 4], results
    results = _race(pg_store, [("ada@example.com", ["deploy", str(r.id)]),
                               ("rita@example.com", ["deploy", str(r.id)])])
    assert sorted(code for code, _ in results) == [0, 4], results
    assert len(live.history(pg_store, "risk-model")) == 1
    assert audit.verify(pg_store).ok


def test_a_store_copies_into_an_empty_database_and_its_chain_verifies(store, people, cli, tmp_path, monkeypatch):
    if store.database_url:
        pytest.skip("the source of a copy is a DuckDB store")
    make_version(store, people["ds"], "copied-model")
    catalog.update_model(store, people["ds"], "copied-model", description="moved over")
    with store.read() as con:
        rows = con.execute("SELECT count(*) FROM audit_log").fetchone()[0]
        top_id = con.execute("SELECT max(id) FROM models").fetchone()[0]
    url = new_postgres_database()
    try:
        store_module._migrated.discard(str(store.db_path))
        res = cli(store, "store", "copy", "--to", url, "--json")
        assert res.code == 0, res.err
        out = json.loads(res.out)
        assert out["audit"] == {"rows": rows, "ok": True} and out["tables"]["models"] == 1
        moved = Store(store.home, database_url=url)
        assert audit.verify(moved).ok
        assert catalog.get_model(moved, "copied-model").description == "moved over"
        # the sequences moved past the copied ids: a new model gets the next id, not a taken one
        catalog.create_model(moved, identity_for(moved, "ada@example.com"), "after-copy", owner="ada@example.com",
                             risk_tier="low")
        with moved.read() as con:
            assert con.execute("SELECT id FROM models WHERE name = 'after-copy'").fetchone()[0] == top_id + 1
        # a second copy into the now non-empty database is refused in one sentence
        again = cli(store, "store", "copy", "--to", url)
        assert again.code == 4 and "already holds" in again.err and again.err.count("\n") == 1
    finally:
        drop_postgres_database(url)


def test_a_store_holding_a_nul_from_before_is_not_copied_and_the_table_is_named(store, people, cli):
    if store.database_url:
        pytest.skip("the source of a copy is a DuckDB store")
    catalog.create_model(store, people["ds"], "old-model")
    with store.transaction() as con:  # as a store written before core refused a NUL (past its guard)
        con._con.execute("UPDATE models SET description = ? WHERE name = 'old-model'", ["old\x00text"])
    url = new_postgres_database()
    try:
        store_module._migrated.discard(str(store.db_path))
        res = cli(store, "store", "copy", "--to", url)
        assert res.code != 0 and res.err.count("\n") == 1
        assert "table models holds text with a NUL" in res.err and "nothing was copied" in res.err
        with Store(store.home, database_url=url).read() as con:
            assert con.execute("SELECT count(*) FROM models").fetchone()[0] == 0
    finally:
        drop_postgres_database(url)


def test_copy_refuses_what_is_not_a_postgresql_url(store, cli):
    res = cli(store, "store", "copy", "--to", "mysql://x@y/z")
    assert res.code == 2 and "postgresql://" in res.err


def test_an_unreachable_server_is_one_sentence(tmp_path, cli):
    s = Store(tmp_path / "h", database_url="postgresql://nobody:pw@127.0.0.1:9/none?connect_timeout=2")
    with pytest.raises(Exception) as info:
        with s.read():
            pass
    assert "Cannot reach the PostgreSQL store" in str(info.value) and "pw@" not in str(info.value)


def test_pages_serve_from_postgresql(pg_store, _template_people, monkeypatch):
    people = _template_people
    from tests.app.test_foundation_pages import open_app, texts

    make_version(pg_store, people["ds"], "page-model")
    at = open_app(pg_store.home, monkeypatch, "ada@example.com")
    assert at.title[0].value == "Overview"
    for page in ("pages/inventory.py", "pages/audit.py", "pages/approvals.py", "pages/lineage.py"):
        at.switch_page(page)
        at.run()
        assert not at.exception, (page, at.exception)
    at.switch_page("pages/inventory.py")
    at.run()
    assert "1 model(s)" in texts(at)  # the model itself is a row of the table
