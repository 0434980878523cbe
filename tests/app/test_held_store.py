"""A page run keeps the store's database open only while it draws, and never holds it from other processes after.

Holding one connection for the run makes every other open in the process reuse its database instance instead of
building one per question (the pages' main cost). The attacker's questions: does the lock outlive the run (a CLI
in CI then waits, or fails), does a failing or stopped run leave it held, and does long work let others in?
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from app import session
from tests.app.test_foundation_pages import open_app, texts

# Another process opening the store with no retry: DuckDB refuses at once while this process holds the file.
PROBE = textwrap.dedent("""
    import sys, duckdb
    try:
        con = duckdb.connect(sys.argv[1])
    except duckdb.IOException as e:
        print("locked" if "lock" in str(e).lower() else f"error {e}")
    else:
        con.execute("CREATE TABLE IF NOT EXISTS probe_writes (x INTEGER)")
        con.execute("INSERT INTO probe_writes VALUES (1)")
        con.close()
        print("open")
""")


def other_process_opens(db_path) -> str:
    out = subprocess.run([sys.executable, "-c", PROBE, str(db_path)], capture_output=True, text=True, timeout=60)
    return out.stdout.strip() or out.stderr.strip()


def test_the_store_is_held_inside_a_run_and_released_after(store, monkeypatch):
    monkeypatch.setenv("MODELGOV_HOME", str(store.home))
    with session.held_store():
        assert other_process_opens(store.db_path) == "locked"
        session.release_store()  # before long work: others get in
        assert other_process_opens(store.db_path) == "open"
    assert other_process_opens(store.db_path) == "open"


def test_a_failing_run_releases_the_store(store, monkeypatch):
    monkeypatch.setenv("MODELGOV_HOME", str(store.home))
    with pytest.raises(RuntimeError):
        with session.held_store():
            raise RuntimeError("a page bug")
    assert other_process_opens(store.db_path) == "open"


@pytest.mark.parametrize("page", ["pages/approvals.py"])
def test_after_a_page_run_another_process_can_write_at_once(demo_store, monkeypatch, page):
    at = open_app(demo_store.home, monkeypatch, "rita@modelgov.demo", page)
    assert not at.exception
    assert other_process_opens(demo_store.db_path) == "open"
    # The page still reads what that other process wrote through the reused instance afterwards.
    at.run()
    assert not at.exception


def test_a_refused_page_releases_the_store(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch, "vera@modelgov.demo", "pages/admin.py")
    assert "You do not have access to this page" in texts(at)
    assert other_process_opens(demo_store.db_path) == "open"


def test_a_store_that_cannot_be_opened_still_shows_its_sentence(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "modelgov.duckdb").write_text("not a database")
    at = open_app(home, monkeypatch, None)
    assert not at.exception
    assert "modelgov.duckdb" in texts(at)
