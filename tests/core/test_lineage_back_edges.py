"""The lineage queries on layered graphs with back edges (cycles, as imports bring them), against a plain Python
breadth-first search: the same nodes at the same depths, the same edges in the same order, the same attributes,
and shortest paths. Guards the faster walks of issue 15 (one edge scan fewer, stopping a path at its target)."""

from __future__ import annotations

import json
import random

import pytest

from core.audit import utcnow
from core.lineage import graph as lg
from core.lineage.nodes import RELATIONS
from tests.core.test_lineage_graph import _bfs as reference_bfs

KINDS = ["dataset", "job"] * 3 + ["model_version", "deployment"]


def _layered_graph(seed: int, per_layer: int = 12, edges: int = 260, back: float = 0.15):
    """Layers fed by the two before them, plus a share `back` of edges to any earlier layer, some pairs joined by
    two relations, a few nodes with attributes and one edge end without a node row."""
    rng = random.Random(seed)
    ids = [[(f"model:m{layer}x{i}:1" if KINDS[layer] == "model_version" else f"{KINDS[layer]}:t:l{layer}n{i}")
            for i in range(per_layer)] for layer in range(len(KINDS))]
    out: set[tuple[str, str, str]] = set()
    while len(out) < edges:
        layer = rng.randrange(1, len(KINDS))
        src, dst = rng.choice(ids[rng.randrange(max(0, layer - 2), layer)]), rng.choice(ids[layer])
        out.add((src, dst, rng.choice(RELATIONS)))
        if rng.random() < back:
            out.add((dst, rng.choice(ids[rng.randrange(0, layer)]), "derived_from"))
    nodes = [(i, KINDS[layer]) for layer in range(len(KINDS)) for i in ids[layer]]
    return nodes, sorted(out)


def _load(store, nodes, edges, seed):
    rng = random.Random(seed)
    with store.transaction() as con:
        for i, kind in nodes[1:]:  # the first id is an edge end without a node row ("other", named by its id)
            attrs = json.dumps({"owner": f"team-{rng.randrange(3)}"}) if rng.random() < 0.2 else "{}"
            con.execute("INSERT INTO lineage_nodes VALUES (?, ?, ?, ?, ?)", [i, kind, i.upper(), attrs, utcnow()])
        for s, d, r in edges:
            con.execute("INSERT INTO lineage_edges VALUES (?, ?, ?, ?, 't@example.com')", [s, d, r, utcnow()])
    with store.read() as con:
        return {i: (k, n, json.loads(a)) for i, k, n, a in con.execute(
            "SELECT id, kind, name, CAST(attributes AS VARCHAR) FROM lineage_nodes").fetchall()}


def _bfs(edges, start, direction, depth=None):
    """test_lineage_graph's textbook reference over (src, dst, relation) edges, the start kept at depth 0."""
    return {start: 0, **reference_bfs([(s, d) for s, d, _r in edges], start, direction, depth)}


def _expected(edges, rows, start, direction, depth):
    seen = _bfs(edges, start, direction, depth)
    nodes = [{"id": i, "kind": rows[i][0] if i in rows else "other", "name": rows[i][1] if i in rows else i,
              "depth": d, "attributes": rows[i][2] if i in rows else {}}
             for i, d in sorted(seen.items(), key=lambda kv: (kv[1], kv[0])) if i != start]
    among = sorted((s, d, r) for s, d, r in edges if s in seen and d in seen)
    return nodes, [{"from": s, "to": d, "relation": r} for s, d, r in among]


@pytest.mark.parametrize("seed", [3, 4])
def test_walks_on_graphs_with_back_edges_equal_a_plain_bfs(store, seed):
    nodes, edges = _layered_graph(seed)
    rows = _load(store, nodes, edges, seed)
    rng = random.Random(seed)
    starts = rng.sample([i for i, _k in nodes], 6) + [nodes[0][0]]
    for start in starts:
        for direction in ("upstream", "downstream"):
            for depth in (None, 1, 3):
                g = (lg.upstream if direction == "upstream" else lg.downstream)(store, start, depth) \
                    if start in rows else None
                if g is None:  # an edge end without a node row cannot be asked about
                    continue
                want_nodes, want_edges = _expected(edges, rows, start, direction, depth)
                assert g.nodes == want_nodes
                assert g.edges == want_edges


@pytest.mark.parametrize("seed", [5])
def test_impact_is_the_downstream_versions_and_deployments(store, seed):
    nodes, edges = _layered_graph(seed)
    rows = _load(store, nodes, edges, seed)
    for start in random.Random(seed).sample(sorted(rows), 5):
        down = lg.downstream(store, start)
        g = lg.impact(store, start)
        hit = [n for n in down.nodes if n["kind"] in ("model_version", "deployment")]
        assert [n["id"] for n in g.nodes] == [n["id"] for n in hit]
        assert all(n["active"] is False for n in g.nodes)  # nothing is deployed in this store
        keep = {n["id"] for n in hit} | {start}
        assert g.edges == [e for e in down.edges if e["to"] in keep]


@pytest.mark.parametrize("seed", [6, 7])
def test_a_path_is_a_shortest_chain_of_real_edges(store, seed):
    nodes, edges = _layered_graph(seed)
    rows = _load(store, nodes, edges, seed)
    relation = {}
    for s, d, r in edges:
        relation[(s, d)] = min(r, relation.get((s, d), r))
    rng = random.Random(seed)
    ids = sorted(rows)
    for src, dst in [(rng.choice(ids), rng.choice(ids)) for _ in range(25)] + [(ids[0], ids[0])]:
        dist = _bfs(edges, src, "downstream").get(dst)
        p = lg.path(store, src, dst)
        if dist is None:
            assert p.nodes == [] and p.edges == []
            continue
        trail = [n["id"] for n in p.nodes]
        assert len(trail) == dist + 1 and trail[0] == src and trail[-1] == dst
        assert [n["depth"] for n in p.nodes] == list(range(dist + 1))
        # A node without a row (an edge end nobody added) is named by its id, its kind read from the id.
        assert [(n["kind"], n["name"]) for n in p.nodes] == [rows[i][:2] if i in rows else (lg.kind_of(i), i)
                                                            for i in trail]
        assert p.edges == [{"from": a, "to": b, "relation": relation[(a, b)]} for a, b in zip(trail, trail[1:])]
