"""Lineage queries against a plain breadth-first search, cycles, depth limits, paths, impact, editing,
OpenLineage import (valid, malformed, skip) and export round trip, and the CLI contract."""

from __future__ import annotations

import json
import random
from collections import deque

import pytest

from core.audit import utcnow
from core.errors import Forbidden, InvalidInput, NotFound
from core.governance import approvals, deployments
from core.lineage import graph as lg
from core.lineage import openlineage
from core.registry import catalog
from tests.conftest import make_version


def _bfs(edges, start, direction, depth=None):
    """Reference: node → smallest hop count, by the textbook algorithm."""
    adj = {}
    for s, d in edges:
        a, b = (s, d) if direction == "downstream" else (d, s)
        adj.setdefault(a, []).append(b)
    seen, queue = {start: 0}, deque([start])
    while queue:
        n = queue.popleft()
        if depth is not None and seen[n] >= depth:
            continue
        for m in adj.get(n, []):
            if m not in seen:
                seen[m] = seen[n] + 1
                queue.append(m)
    seen.pop(start)
    return seen


def _load(store, edges):
    ids = sorted({x for e in edges for x in e})
    with store.transaction() as con:
        for i in ids:
            con.execute("INSERT INTO lineage_nodes VALUES (?, 'dataset', ?, '{}', ?)", [i, i, utcnow()])
        for s, d in edges:
            con.execute("INSERT INTO lineage_edges VALUES (?, ?, 'derived_from', ?, 't@example.com')", [s, d, utcnow()])
    return ids


def _random_graph(seed, n=120, m=360):
    rng = random.Random(seed)
    edges = set()
    while len(edges) < m:
        a, b = rng.randrange(n), rng.randrange(n)
        if a != b:
            edges.add((f"dataset:t:n{a}", f"dataset:t:n{b}"))  # cycles included on purpose
    return sorted(edges)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_traversals_equal_a_plain_bfs_on_random_cyclic_graphs(store, seed):
    edges = _random_graph(seed)
    ids = _load(store, edges)
    rng = random.Random(seed)
    for start in rng.sample(ids, 5):
        for direction in ("upstream", "downstream"):
            for depth in (None, 1, 2, 3):
                g = (lg.upstream if direction == "upstream" else lg.downstream)(store, start, depth)
                assert {n["id"]: n["depth"] for n in g.nodes} == _bfs(edges, start, direction, depth)
                reached = {n["id"] for n in g.nodes} | {start}
                want = {(s, d) for s, d in edges if s in reached and d in reached}
                assert {(e["from"], e["to"]) for e in g.edges} == want


def test_a_cycle_terminates_and_a_path_is_shortest(store):
    edges = [("dataset:t:a", "dataset:t:b"), ("dataset:t:b", "dataset:t:c"), ("dataset:t:c", "dataset:t:a"),
             ("dataset:t:c", "dataset:t:d"), ("dataset:t:a", "dataset:t:d")]
    _load(store, edges)
    assert {n["id"] for n in lg.downstream(store, "dataset:t:a").nodes} == {"dataset:t:b", "dataset:t:c",
                                                                           "dataset:t:d"}
    p = lg.path(store, "dataset:t:b", "dataset:t:d")
    assert [n["id"] for n in p.nodes] == ["dataset:t:b", "dataset:t:c", "dataset:t:d"]
    assert lg.path(store, "dataset:t:d", "dataset:t:a").nodes == []
    with pytest.raises(NotFound, match="No lineage node 'dataset:t:zzz'"):
        lg.upstream(store, "dataset:t:zzz")
    with pytest.raises(InvalidInput, match="--depth"):
        lg.upstream(store, "dataset:t:a", 0)


def test_impact_names_the_live_production_models(store, people):
    v = make_version(store, people["ds"], "risk-model")
    catalog.update_model(store, people["ds"], "risk-model", intended_use="a", limitations="b",
                          training_data_summary="c")
    r = approvals.request_deployment(store, people["ds"], "risk-model", v.version, "production", "champion", "go")
    approvals.approve(store, people["ro"], r.id, "ok")
    deployments.deploy(store, people["ds"], r.id)
    train = lg.upstream(store, f"model:risk-model:{v.version}").nodes
    source = next(n["id"] for n in train if n["kind"] == "dataset")
    lg.add_node(store, people["ds"], "dataset:postgres://db:5432:raw.clients", name="raw clients")
    lg.add_node(store, people["ds"], "job:airflow:features")
    lg.add_edge(store, people["ds"], "dataset:postgres://db:5432:raw.clients", "job:airflow:features", "consumes")
    assert lg.add_edge(store, people["ds"], "job:airflow:features", source, "produced") is True
    assert lg.add_edge(store, people["ds"], "job:airflow:features", source, "produced") is False
    g = lg.impact(store, "dataset:postgres://db:5432:raw.clients")
    kinds = {n["id"]: (n["kind"], n.get("active"), n.get("environment")) for n in g.nodes}
    assert kinds[f"model:risk-model:{v.version}"] == ("model_version", True, "production")
    assert any(k == "deployment" and a for k, a, _e in kinds.values())
    assert "1 of them in production: risk-model" in lg.impact_summary(g)


def test_editing_needs_the_permission_and_valid_ids(store, people):
    with pytest.raises(Forbidden):
        lg.add_node(store, people["viewer"], "dataset:s3://lake:features/x")
    with pytest.raises(InvalidInput, match="not a lineage node id"):
        lg.add_node(store, people["ds"], "just-a-name")
    with pytest.raises(InvalidInput, match="Unknown relation"):
        lg.add_edge(store, people["ds"], "dataset:a:b", "job:a:c", "feeds")
    with pytest.raises(NotFound):
        lg.add_edge(store, people["ds"], "dataset:a:b", "job:a:c", "consumes")
    assert lg.counts(store) == {"nodes": 0, "edges": 0}


def _event(i, inputs, outputs, job="etl"):
    return {"eventType": "COMPLETE", "eventTime": "2026-03-01T02:00:00Z",
            "run": {"runId": f"00000000-0000-4000-8000-{i:012d}"}, "job": {"namespace": "airflow", "name": job},
            "inputs": [{"namespace": "s3://lake", "name": n} for n in inputs],
            "outputs": [{"namespace": "s3://lake", "name": n} for n in outputs],
            "producer": "https://example.com/airflow"}


def test_import_records_jobs_datasets_and_edges(store, people, tmp_path):
    f = tmp_path / "events.json"
    f.write_text(json.dumps([_event(1, ["raw/a", "raw/b"], ["feat/x"], "build_x"),
                             _event(2, ["feat/x"], ["feat/y"], "build_y")]))
    r = openlineage.import_events(store, people["ds"], f)
    assert (r.imported, r.jobs, r.datasets, r.edges, r.new_nodes) == (2, 2, 4, 5, 6)
    up = lg.upstream(store, "dataset:s3://lake:feat/y")
    assert {n["id"] for n in up.nodes} == {"job:airflow:build_y", "dataset:s3://lake:feat/x", "job:airflow:build_x",
                                          "dataset:s3://lake:raw/a", "dataset:s3://lake:raw/b"}
    again = openlineage.import_events(store, people["ds"], f)
    assert (again.new_nodes, again.new_edges) == (0, 0)


def test_malformed_events_are_reported_by_position_and_skipped_only_on_request(store, people, tmp_path):
    f = tmp_path / "events.jsonl"
    lines = [json.dumps(_event(1, ["raw/a"], ["feat/x"])), "{not json", json.dumps({"job": {"namespace": "a"}}),
             "", json.dumps({**_event(4, [], ["feat/z"]), "eventType": "DONE"}), json.dumps(_event(5, ["feat/x"], []))]
    f.write_text("\n".join(lines))
    with pytest.raises(InvalidInput) as e:
        openlineage.import_events(store, people["ds"], f)
    msg = str(e.value)
    assert "3 of 5 event(s) are malformed" in msg and "event 2: not JSON" in msg and "event 3:" in msg
    assert "nothing was imported" in msg and lg.counts(store)["nodes"] == 0
    r = openlineage.import_events(store, people["ds"], f, skip_invalid=True)
    # Positions count events: the empty line is no event, so the fifth line holds event 4.
    assert r.imported == 2 and [s["position"] for s in r.skipped] == [2, 3, 4]
    assert "eventType 'DONE'" in r.skipped[2]["error"]


def test_export_then_import_into_an_empty_store_round_trips(demo_store, demo_people, store, people, tmp_path):
    events = openlineage.export_events(demo_store)
    assert all(e["eventType"] == "COMPLETE" and e["run"]["runId"] and e["schemaURL"] for e in events)
    f = tmp_path / "export.jsonl"
    f.write_text("".join(json.dumps(e) + "\n" for e in events))
    openlineage.import_events(store, people["ds"], f)
    assert sorted(json.dumps(e, sort_keys=True) for e in openlineage.export_events(store)) == sorted(
        json.dumps({**e, "eventTime": x["eventTime"]}, sort_keys=True)
        for e, x in zip(events, openlineage.export_events(store)))
    jobs = {(e["job"]["namespace"], e["job"]["name"]) for e in events}
    assert ("airflow", "credit_default_training_split") in jobs and ("modelgov", "train/credit-default") in jobs
    # Model versions come back as model nodes, not datasets.
    assert any(n["id"] == "model:credit-default:1" for n in lg.list_nodes(store, kind="model_version"))


def test_cli_contract(demo_store, cli):
    res = cli(demo_store, "lineage", "upstream", "model:credit-default:1", "--json")
    assert res.code == 0, res.err
    out = json.loads(res.out)
    assert set(out) == {"node", "nodes", "edges"} and out["node"] == "model:credit-default:1"
    assert all(set(n) == {"id", "kind", "name", "depth"} for n in out["nodes"])
    assert all(set(e) == {"from", "to", "relation"} for e in out["edges"])
    assert any(n["id"].startswith("dataset:postgres://") for n in out["nodes"])
    res = cli(demo_store, "lineage", "downstream", "model:credit-default:1", "--depth", "1", "--json")
    assert {n["depth"] for n in json.loads(res.out)["nodes"]} == {1}
    res = cli(demo_store, "lineage", "impact", "dataset:s3://lake:features/credit_client_monthly", "--json")
    assert res.code == 0 and "credit-default" in json.loads(res.out)["summary"]
    res = cli(demo_store, "lineage", "upstream", "dataset:nowhere:nothing")
    assert res.code == 5 and "No lineage node" in res.err and "Traceback" not in res.err
    res = cli(demo_store, "lineage", "add-node", "job:dbt:clients", as_="vera@modelgov.demo")
    assert res.code == 3
    res = cli(demo_store, "lineage", "add-node", "job:dbt:clients", "--json", as_="ada@modelgov.demo")
    assert res.code == 0 and json.loads(res.out)["kind"] == "job"
