"""`modelgov lineage import` on event files written by OpenLineage's own client and integrations
(tests/fixtures/openlineage, Apache-2.0, see its README), not only on events written by hand: a single
pretty-printed event, events one after another, JobEvent and DatasetEvent, and a dbt run whose model runs name
their parent run. What is imported is compared with what each file says, read here with plain json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import InvalidInput
from core.lineage import graph as lg
from core.lineage import openlineage

FILES = Path(__file__).resolve().parents[1] / "fixtures" / "openlineage"


def _expected(events: list[dict]) -> tuple[set[str], set[tuple[str, str, str]]]:
    """Node ids and edges a file should give, from its JSON alone."""
    nodes, edges = set(), set()
    for e in events:
        if "dataset" in e and "job" not in e:
            nodes.add(f"dataset:{e['dataset']['namespace']}:{e['dataset']['name']}")
            continue
        job = f"job:{e['job']['namespace']}:{e['job']['name']}"
        nodes.add(job)
        for d in e.get("inputs") or []:
            nodes.add(f"dataset:{d['namespace']}:{d['name']}")
            edges.add((f"dataset:{d['namespace']}:{d['name']}", job, "consumes"))
        for d in e.get("outputs") or []:
            nodes.add(f"dataset:{d['namespace']}:{d['name']}")
            edges.add((job, f"dataset:{d['namespace']}:{d['name']}", "produced"))
        parent = ((e.get("run") or {}).get("facets") or {}).get("parent")
        if parent:
            pid = f"job:{parent['job']['namespace']}:{parent['job']['name']}"
            nodes.add(pid)
            if pid != job:
                edges.add((pid, job, "parent_of"))
    return nodes, edges


def _stored(store) -> tuple[set[str], set[tuple[str, str, str]]]:
    with store.read() as con:
        return ({r[0] for r in con.execute("SELECT id FROM lineage_nodes").fetchall()},
                set(con.execute("SELECT src, dst, relation FROM lineage_edges").fetchall()))


@pytest.mark.parametrize("name", ["python-client__example_full_event.json", "python-client__serde_example_run_event.json",
                                  "python-client__serde_example_job_event.json",
                                  "python-client__serde_example_dataset_event.json", "fluentd__event_full.json",
                                  "fluentd__event_simple.json"])
def test_a_single_pretty_printed_event_of_any_kind_imports_exactly(store, people, name):
    event = json.loads((FILES / name).read_text())
    r = openlineage.import_events(store, people["ds"], FILES / name)
    assert (r.events, r.imported, r.skipped) == (1, 1, [])
    assert _stored(store) == _expected([event])
    with store.read() as con:
        runs = con.execute("SELECT run_id, event_type FROM lineage_runs").fetchall()
    # Only a RunEvent records a run; a JobEvent or DatasetEvent is lineage without one.
    assert runs == ([(event["run"]["runId"], event["eventType"])] if "run" in event else [])


def test_events_one_after_another_however_formatted(store, people, tmp_path):
    names = ["python-client__serde_example_job_event.json", "python-client__example_full_event.json",
             "python-client__serde_example_dataset_event.json"]
    texts = [(FILES / n).read_text() for n in names]
    f = tmp_path / "all.json"
    f.write_text("\n".join(texts))
    r = openlineage.import_events(store, people["ds"], f)
    assert (r.events, r.imported) == (3, 3)
    assert _stored(store) == _expected([json.loads(t) for t in texts])


def test_a_dbt_run_keeps_its_parent_run(store, people, cli):
    f = FILES / "dbt-postgres__successful_run_ol_events.json"
    events = json.loads(f.read_text())
    r = openlineage.import_events(store, people["ds"], f)
    assert (r.events, r.imported) == (72, 72)
    assert _stored(store) == _expected(events)
    parent = "job:dbt-test-namespace:dbt-run-jaffle_shop"
    shown = lg.node(store, parent)
    children = sorted({f"job:{e['job']['namespace']}:{e['job']['name']}" for e in events
                       if ((e.get("run") or {}).get("facets") or {}).get("parent", {}).get("job", {}).get("name")
                       == "dbt-run-jaffle_shop"})
    assert shown["children"] == children and "job:dbt-test-namespace:model.jaffle_shop.customers" in children
    res = cli(store, "lineage", "show", parent)
    assert res.code == 0 and f"Parent run of {len(children)} job(s):" in res.out
    child = json.loads(cli(store, "lineage", "show", children[0], "--json").out)
    assert child["parents"] == [parent]
    # The parent is upstream of its children's outputs.
    out = next(e for e in events if e["job"]["name"] == "model.jaffle_shop.customers" and e.get("outputs"))
    ds = f"dataset:{out['outputs'][0]['namespace']}:{out['outputs'][0]['name']}"
    assert parent in {n["id"] for n in lg.upstream(store, ds).nodes}


def test_the_parent_survives_an_export_round_trip(store, people, tmp_path, fresh_store):
    from core import users
    from core.identity import identity_for

    openlineage.import_events(store, people["ds"], FILES / "dbt-postgres__successful_run_ol_events.json")
    parents = {e for e in _stored(store)[1] if e[2] == "parent_of"}
    exported = openlineage.export_events(store)
    facets = {(f"job:{p['job']['namespace']}:{p['job']['name']}", f"job:{e['job']['namespace']}:{e['job']['name']}")
              for e in exported if (p := e["run"].get("facets", {}).get("parent"))}
    assert facets == {(a, b) for a, b, _r in parents}
    f = tmp_path / "export.json"
    f.write_text(json.dumps(exported, indent=2))  # a pretty-printed array this time
    other = fresh_store(tmp_path / "other")
    users.init_store(other, "admin@example.com")
    users.grant_role(other, identity_for(other, "admin@example.com"), "ds@example.com", "data_scientist")
    openlineage.import_events(other, identity_for(other, "ds@example.com"), f)
    assert _stored(other) == _stored(store)


def test_errors_count_events_never_lines(store, people, tmp_path):
    full = (FILES / "python-client__example_full_event.json").read_text()
    f = tmp_path / "two.json"
    f.write_text(full + "\n" + full.replace('"eventType"', '"eventType" "oops"', 1))
    with pytest.raises(InvalidInput) as e:
        openlineage.import_events(store, people["ds"], f)
    msg = str(e.value)
    assert msg.startswith("Event 2 of the file is not valid JSON") and "nothing was imported" in msg
    assert lg.counts(store)["nodes"] == 0
    # A pretty-printed event that breaks a rule is one malformed event, not one per line.
    bad = json.loads(full)
    del bad["run"]["runId"]
    f.write_text(json.dumps(bad, indent=4))
    with pytest.raises(InvalidInput, match=r"^1 of 1 event\(s\) are malformed — event 1: run.runId must be"):
        openlineage.import_events(store, people["ds"], f)


def _validator():
    """OpenLineage's own JSON schemas (spec 2-0-2 and the parent run facet), shipped with the fixtures."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    spec = json.loads((FILES / "spec" / "OpenLineage.json").read_text())
    parent = json.loads((FILES / "spec" / "ParentRunFacet.json").read_text())
    registry = Registry().with_resources([(spec["$id"], Resource.from_contents(spec)),
                                          (parent["$id"], Resource.from_contents(parent))])
    return (Draft202012Validator(spec, registry=registry),
            Draft202012Validator({"$ref": parent["$id"] + "#/$defs/ParentRunFacet"}, registry=registry))


def test_the_export_is_valid_against_openlineage_schemas(store, people, demo_store):
    openlineage.import_events(store, people["ds"], FILES / "dbt-postgres__successful_run_ol_events.json")
    event_schema, parent_schema = _validator()
    for source in (store, demo_store):
        events = openlineage.export_events(source)
        assert events
        for e in events:
            event_schema.validate(e)
            if "facets" in e["run"]:
                parent_schema.validate(e["run"]["facets"]["parent"])
    # The schemas do refuse: an event without a run id, a parent facet without its job.
    bad = dict(events[0], run={})
    assert list(event_schema.iter_errors(bad))
    assert list(parent_schema.iter_errors({"_producer": "x", "_schemaURL": "y", "run": {"runId": "z"}}))


def test_training_and_evaluation_data_survive_an_export_round_trip(demo_store, store, people, tmp_path):
    """A version's trained_on and evaluated_on edges come back as themselves, not as consumes/produced edges
    through a made-up training job."""
    with demo_store.read() as con:
        model_edges = set(con.execute("SELECT src, dst, relation FROM lineage_edges WHERE relation IN "
                                      "('trained_on', 'evaluated_on')").fetchall())
    assert {r for _s, _d, r in model_edges} == {"trained_on", "evaluated_on"}
    f = tmp_path / "export.jsonl"
    f.write_text("".join(json.dumps(e) + "\n" for e in openlineage.export_events(demo_store)))
    openlineage.import_events(store, people["ds"], f)
    nodes, edges = _stored(store)
    assert {e for e in edges if e[2] in ("trained_on", "evaluated_on")} == model_edges
    assert not any(n.startswith("job:modelgov:train/") for n in nodes)
    # A train/ job of somebody else's (no ModelGov facet) is still an ordinary job.
    f.write_text(json.dumps({"eventType": "COMPLETE", "eventTime": "2026-01-01T00:00:00Z", "run": {"runId": "r1"},
                             "job": {"namespace": "modelgov", "name": "train/other"},
                             "inputs": [{"namespace": "s3", "name": "x"}], "outputs": [], "producer": "p"}))
    openlineage.import_events(store, people["ds"], f)
    assert ("dataset:s3:x", "job:modelgov:train/other", "consumes") in _stored(store)[1]
