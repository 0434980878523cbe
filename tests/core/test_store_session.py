"""`Store.session()`: a short CLI read holds the store open once; units of work inside keep their own transactions,
refusals are still audited, and the file is released when the block ends."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core import audit
from core.errors import Forbidden
from core.governance import approvals
from core.registry import catalog


def _other_process_can_open(store) -> bool:
    code = f"import duckdb; duckdb.connect({str(store.db_path)!r}).close()"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120).returncode == 0


def test_units_of_work_in_a_session_keep_their_transactions(store, people):
    with store.session():
        catalog.create_model(store, people["ds"], "held-model")
        with pytest.raises(RuntimeError):  # a failed unit of work rolls back alone
            with store.transaction() as con:
                con.execute("UPDATE models SET description = 'half-written' WHERE name = 'held-model'")
                raise RuntimeError("boom")
        with pytest.raises(Forbidden):
            approvals.list_requests(store, people["nobody"])
        assert catalog.get_model(store, "held-model").description == ""
        assert audit.verify(store).ok
    with store.read() as con:
        refused = con.execute("SELECT count(*) FROM audit_log WHERE outcome = 'refused'").fetchone()[0]
    assert refused >= 1
    assert catalog.get_model(store, "held-model").name == "held-model"


@pytest.mark.duckdb_only("a session holds a DuckDB file open; PostgreSQL's units of work take pooled connections")
def test_units_of_work_in_a_session_share_one_open(store, people, monkeypatch):
    opened = []
    real_open = type(store)._open
    monkeypatch.setattr(type(store), "_open", lambda self: opened.append(1) or real_open(self))
    with store.session():
        catalog.create_model(store, people["ds"], "held-model")
        with pytest.raises(RuntimeError):
            with store.transaction() as con:
                con.execute("UPDATE models SET description = 'half-written' WHERE name = 'held-model'")
                raise RuntimeError("boom")
        with pytest.raises(Forbidden):
            approvals.list_requests(store, people["nobody"])
        assert catalog.get_model(store, "held-model").description == ""
        assert audit.verify(store).ok
    assert len(opened) == 1
    with store.read() as con:
        con.execute("SELECT 1").fetchall()
    assert len(opened) == 2


@pytest.mark.duckdb_only("DuckDB's one-process lock on its file; PostgreSQL serves any number of processes")
def test_the_file_is_released_when_the_session_ends(store):
    with store.session():
        with store.read() as con:
            con.execute("SELECT 1").fetchall()
        assert not _other_process_can_open(store)  # held for the block, as one unit of work would
    assert _other_process_can_open(store)


def test_the_cli_holds_the_store_open_only_for_short_reads():
    from core.cli import COMMANDS, Commands, build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, Commands))
    held = set()
    for name in COMMANDS:
        sub.build(name)
    for name, parser in sub._name_parser_map.items():
        parsers = [parser] + [p for a in parser._actions if hasattr(a, "_name_parser_map")
                              for p in a._name_parser_map.values()]
        for p in parsers:
            handler = p.get_default("handler")
            if getattr(handler, "held_open", False):
                held.add(p.prog.removeprefix("modelgov "))
    assert held == {"models list", "models show", "datasets list", "approvals list", "approvals show",
                    "deployments list", "policies list", "audit list", "audit verify", "audit head", "audit export",
                    "lineage upstream", "lineage downstream", "lineage impact", "lineage path", "lineage show",
                    "lineage column", "lineage nodes", "users list", "alerts list", "tokens list", "whoami",
                    "hooks list", "hooks deliveries"}
