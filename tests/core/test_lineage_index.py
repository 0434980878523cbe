"""The lineage walks read a per-process copy of the graph (core/lineage/index.py). A copy that outlived a write
would answer with lineage that is no longer true, so: every kind of write, from another process and not through
core, is seen by the very next query; two stores in one process never answer for each other; and ties between
shortest paths are broken the same way however the edges were added."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from core.audit import utcnow
from core.lineage import graph as lg
from core.lineage import index as lindex
from tests.core.test_lineage_graph import _load


def _write_elsewhere(store, sql: str, params: list) -> None:
    """Run `sql` in another Python process on the store's database, with the plain driver (no core): DuckDB on its
    file, psycopg on the PostgreSQL database."""
    if store.database_url:
        code = textwrap.dedent(f"""
            import psycopg
            with psycopg.connect({store.database_url!r}, autocommit=True) as con:
                con.execute({sql.replace("?", "%s")!r}, {params!r})
        """)
    else:
        code = textwrap.dedent(f"""
            import duckdb, sys
            con = duckdb.connect({str(store.db_path)!r})
            con.execute({sql!r}, {params!r})
            con.close()
        """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_writes_from_another_process_are_seen_by_the_next_query(store):
    _load(store, [("dataset:t:a", "dataset:t:b"), ("dataset:t:b", "dataset:t:c")])
    assert [n["id"] for n in lg.downstream(store, "dataset:t:a").nodes] == ["dataset:t:b", "dataset:t:c"]

    _write_elsewhere(store, "INSERT INTO lineage_edges VALUES ('dataset:t:c', 'dataset:t:d', 'derived_from', "
                            "now()::TIMESTAMP, 'x@example.com')", [])
    g = lg.downstream(store, "dataset:t:a")
    assert [(n["id"], n["depth"], n["kind"], n["name"]) for n in g.nodes] == [
        ("dataset:t:b", 1, "dataset", "dataset:t:b"), ("dataset:t:c", 2, "dataset", "dataset:t:c"),
        ("dataset:t:d", 3, "other", "dataset:t:d")]  # an edge end without a node row

    # The node row arrives later: its kind and name replace "other" at once.
    _write_elsewhere(store, "INSERT INTO lineage_nodes VALUES ('dataset:t:d', 'dataset', 'D', '{}', now()::TIMESTAMP)", [])
    assert lg.downstream(store, "dataset:t:a").nodes[-1] | {"attributes": None} == {
        "id": "dataset:t:d", "kind": "dataset", "name": "D", "depth": 3, "attributes": None}

    # An attribute changed in place (no row added or removed) is seen too.
    _write_elsewhere(store, "UPDATE lineage_nodes SET attributes = ? WHERE id = 'dataset:t:c'", ['{"owner": "risk"}'])
    assert lg.downstream(store, "dataset:t:a").nodes[1]["attributes"] == {"owner": "risk"}

    # A relation changed in place, and an edge removed.
    _write_elsewhere(store, "UPDATE lineage_edges SET relation = 'consumes' WHERE src = 'dataset:t:a'", [])
    assert lg.path(store, "dataset:t:a", "dataset:t:d").edges[0]["relation"] == "consumes"
    _write_elsewhere(store, "DELETE FROM lineage_edges WHERE src = 'dataset:t:b'", [])
    assert [n["id"] for n in lg.downstream(store, "dataset:t:a").nodes] == ["dataset:t:b"]
    assert lg.path(store, "dataset:t:a", "dataset:t:d").nodes == []


def test_two_stores_in_one_process_answer_for_themselves(store, tmp_path, fresh_store):
    from core import users

    other = fresh_store(tmp_path / "other")
    users.init_store(other, "admin@example.com")
    _load(store, [("dataset:t:a", "dataset:t:b")])
    _load(other, [("dataset:t:a", "dataset:t:z")])
    for _ in range(2):  # alternate, so each query finds the other store's graph cached
        assert [n["id"] for n in lg.downstream(store, "dataset:t:a").nodes] == ["dataset:t:b"]
        assert [n["id"] for n in lg.downstream(other, "dataset:t:a").nodes] == ["dataset:t:z"]


def test_a_shortest_path_tie_is_broken_by_id_whatever_the_insertion_order(store, tmp_path, fresh_store):
    from core import users

    edges = [("dataset:t:s", "job:t:m2"), ("dataset:t:s", "job:t:m1"), ("job:t:m2", "dataset:t:g"),
             ("job:t:m1", "dataset:t:g")]
    other = fresh_store(tmp_path / "other")
    users.init_store(other, "admin@example.com")
    _load(store, edges)
    _load(other, edges[::-1])
    for s in (store, other):
        assert [n["id"] for n in lg.path(s, "dataset:t:s", "dataset:t:g").nodes] == [
            "dataset:t:s", "job:t:m1", "dataset:t:g"]


def test_the_index_is_rebuilt_only_when_the_tables_change(store, monkeypatch):
    _load(store, [("dataset:t:a", "dataset:t:b")])
    builds = []
    real = lindex._build
    monkeypatch.setattr(lindex, "_build", lambda con: builds.append(1) or real(con))
    lindex._cache.clear()
    for _ in range(3):
        lg.upstream(store, "dataset:t:b")
    assert len(builds) == 1
    with store.transaction() as con:
        con.execute("INSERT INTO lineage_edges VALUES ('dataset:t:b', 'dataset:t:c', 'derived_from', ?, 'x')",
                    [utcnow()])
    assert [n["id"] for n in lg.downstream(store, "dataset:t:a").nodes] == ["dataset:t:b", "dataset:t:c"]
    assert len(builds) == 2
