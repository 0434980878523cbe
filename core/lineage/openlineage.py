"""OpenLineage interoperability: import events from Airflow, Spark, dbt, Flink, Marquez…; export ours.

An OpenLineage RunEvent names a job (namespace + name) and the datasets it read
(`inputs`) and wrote (`outputs`). Imported, it becomes nodes `job:NS:NAME` and
`dataset:NS:NAME` with edges `dataset → job` (`consumes`) and `job → dataset`
(`produced`). Exported, every job node is one COMPLETE event, and every model
version one event of the job `modelgov / train/MODEL` whose inputs are its
training and test data and whose output is the dataset `modelgov / model/MODEL/VERSION`;
importing that output again maps it back to `model:MODEL:VERSION`.

Spec: https://openlineage.io/spec/2-0-2/OpenLineage.json (RunEvent).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..audit import canonical_json, record, utcnow
from ..errors import InvalidInput
from ..events import LineageImported
from ..identity import Identity, require
from .ol_events import (EVENT_TYPES, MODEL_NAMESPACE, dataset_id, job_id, parse_events,  # noqa: F401 (re-exported)
                        validate_event)

PRODUCER = "https://github.com/modelgov/modelgov"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
# The input facet that keeps a model version's training and evaluation data exact through an export.
MODEL_FACET_URL = "https://github.com/modelgov/modelgov/blob/main/docs/lineage.md#the-modelgov-input-facet"
PARENT_FACET_URL = "https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet"


@dataclass
class ImportResult:
    events: int = 0
    imported: int = 0
    jobs: int = 0
    datasets: int = 0
    edges: int = 0
    new_nodes: int = 0
    new_edges: int = 0
    columns: int = 0
    new_columns: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"events": self.events, "imported": self.imported, "jobs": self.jobs, "datasets": self.datasets,
                "edges": self.edges, "new_nodes": self.new_nodes, "new_edges": self.new_edges,
                "columns": self.columns, "new_columns": self.new_columns, "skipped": self.skipped}


def import_events(store, actor: Identity, source: str | Path, *, skip_invalid: bool = False) -> ImportResult:
    """Record the jobs, datasets and edges of OpenLineage events (RunEvent, JobEvent, DatasetEvent), in one
    transaction. A run's `parent` facet adds its parent job, with a `parent_of` edge to the run's job.

    A malformed event is reported by its number (events counted from 1, whatever the layout of the file);
    nothing is written unless `skip_invalid`, which imports the rest and lists the skipped.
    """
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"No file {path}; give the path of a JSON or JSON-lines file of OpenLineage events.") \
            from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text; OpenLineage events are JSON.") from None
    parsed = parse_events(text)
    result = ImportResult(events=len(parsed))
    good = []
    for position, value in parsed:
        try:
            good.append(validate_event(value))
        except ValueError as e:
            result.skipped.append({"position": position, "error": str(e)})
    if result.skipped and not skip_invalid:
        first = "; ".join(f"event {s['position']}: {s['error']}" for s in result.skipped[:3])
        more = f" (and {len(result.skipped) - 3} more)" if len(result.skipped) > 3 else ""
        raise InvalidInput(f"{len(result.skipped)} of {len(parsed)} event(s) are malformed — {first}{more}; nothing "
                           "was imported. Fix them, or pass --skip-invalid to import the others.")
    if not good:
        raise InvalidInput(f"{path} holds no OpenLineage event to import.")

    now = utcnow()
    nodes: dict[str, tuple[str, str, str]] = {}
    edges: set[tuple[str, str, str]] = set()
    runs: dict[tuple[str, str, str], tuple] = {}
    def add_dataset(ns: str, name: str) -> str:
        did = dataset_id(ns, name)
        if not did.startswith("model:"):
            nodes.setdefault(did, ("dataset", name, canonical_json({"namespace": ns, "name": name})))
        return did

    def add_job(ns: str, name: str) -> str:
        jid = job_id(ns, name)
        nodes[jid] = ("job", name, canonical_json({"namespace": ns, "name": name}))
        return jid

    columns: dict[tuple[str, str, str, str], tuple[str | None, str]] = {}
    for ev in good:
        for ns, name, column, src_ns, src_name, src_column, transformations in ev["columns"]:
            key = (add_dataset(ns, name), column, add_dataset(src_ns, src_name), src_column)
            columns.setdefault(key, (job_id(*ev["job"]) if ev["job"] else None, canonical_json(transformations)))
        if ev["kind"] == "DatasetEvent":
            add_dataset(*ev["dataset"])
            continue
        if ev["model_edges"]:  # a ModelGov export's training job: the data → version edges, exactly
            for ns, name, relation, version in ev["model_edges"]:
                edges.add((add_dataset(ns, name), dataset_id(MODEL_NAMESPACE, version), relation))
            if ev["kind"] == "RunEvent":
                runs[(ev["run_id"], job_id(*ev["job"]), ev["event_type"])] = (ev["event_time"], ev["producer"])
            continue
        jid = add_job(*ev["job"])
        for side, relation in (("inputs", "consumes"), ("outputs", "produced")):
            for ns, name in ev[side]:
                did = add_dataset(ns, name)
                edges.add((did, jid, relation) if side == "inputs" else (jid, did, relation))
        if ev["parent"] is not None:
            pid = job_id(*ev["parent"])
            if pid not in nodes:
                add_job(*ev["parent"])
            if pid != jid:
                edges.add((pid, jid, "parent_of"))
        if ev["kind"] == "RunEvent":
            runs[(ev["run_id"], jid, ev["event_type"])] = (ev["event_time"], ev["producer"])
    import pandas as pd  # imported when events are imported: `modelgov lineage` reads need no DataFrames

    node_df = pd.DataFrame([(i, k, n, a) for i, (k, n, a) in nodes.items()], columns=["id", "kind", "name", "attrs"])
    edge_df = pd.DataFrame(sorted(edges), columns=["src", "dst", "relation"])
    run_df = pd.DataFrame([(r, j, t, when, prod) for (r, j, t), (when, prod) in runs.items()],
                          columns=["run_id", "job_id", "event_type", "event_time", "producer"])
    run_df["event_time"] = pd.to_datetime(run_df["event_time"])
    column_df = pd.DataFrame([(*k, j, t) for k, (j, t) in columns.items()],
                             columns=["dataset", "column_name", "source_dataset", "source_column", "job_id",
                                      "transformations"])
    result.imported = len(good)
    result.jobs = int((node_df["kind"] == "job").sum())
    result.datasets = int((node_df["kind"] == "dataset").sum())
    result.edges = len(edge_df)
    with store.transaction() as con:
        require(actor, "edit-lineage", LineageImported, path.name)
        con.register("ol_nodes", node_df)
        con.register("ol_edges", edge_df)
        con.register("ol_runs", run_df)
        con.register("ol_columns", column_df)
        before_n = con.execute("SELECT count(*) FROM lineage_nodes").fetchall()[0][0]
        before_e = con.execute("SELECT count(*) FROM lineage_edges").fetchall()[0][0]
        con.execute("INSERT INTO lineage_nodes (id, kind, name, attributes, created_at) SELECT id, kind, name,"
                    " CAST(attrs AS JSON), ? FROM ol_nodes ON CONFLICT DO NOTHING", [now])
        # Edges to model versions need the version to exist: the export of another store may name unknown ones.
        missing = con.execute("SELECT DISTINCT x FROM (SELECT src AS x FROM ol_edges UNION SELECT dst FROM ol_edges) AS u"
                              " WHERE x NOT IN (SELECT id FROM lineage_nodes)").fetchall()
        for (mid,) in missing:
            _model, name, version = mid.split(":")
            con.execute("INSERT INTO lineage_nodes (id, kind, name, attributes, created_at) VALUES (?, 'model_version',"
                        " ?, '{\"registered\": false}', ?)", [mid, f"{name}:{version}", now])
        con.execute("INSERT INTO lineage_edges (src, dst, relation, created_at, created_by) SELECT src, dst, relation,"
                    " ?, ? FROM ol_edges ON CONFLICT DO NOTHING", [now, actor.email])
        con.execute("INSERT INTO lineage_runs SELECT run_id, job_id, event_type, CAST(event_time AS TIMESTAMP), producer, ?, ?"
                    " FROM ol_runs"
                    " ON CONFLICT DO NOTHING", [now, actor.email])
        before_c = con.execute("SELECT count(*) FROM lineage_columns").fetchall()[0][0]
        con.execute("INSERT INTO lineage_columns SELECT dataset, column_name, source_dataset, source_column, job_id, "
                    "CAST(transformations AS JSON), ?, ? FROM ol_columns ON CONFLICT DO NOTHING", [now, actor.email])
        result.columns = len(column_df)
        result.new_columns = con.execute("SELECT count(*) FROM lineage_columns").fetchall()[0][0] - before_c
        result.new_nodes = con.execute("SELECT count(*) FROM lineage_nodes").fetchall()[0][0] - before_n
        result.new_edges = con.execute("SELECT count(*) FROM lineage_edges").fetchall()[0][0] - before_e
        for name in ("ol_nodes", "ol_edges", "ol_runs", "ol_columns"):
            con.unregister(name)
        record(con, actor, LineageImported(path.name, {
            "file": str(path), **{k: v for k, v in result.as_dict().items() if k != "skipped"},
            "skipped": len(result.skipped)}))
    return result


def _namespace_name(node_id: str, attributes: dict[str, Any]) -> tuple[str, str]:
    if "namespace" in attributes and "name" in attributes:
        return attributes["namespace"], attributes["name"]
    rest = node_id.split(":", 1)[1]
    namespace, _, name = rest.partition(":")
    return namespace, name


def _run_id(job: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"modelgov:{job}"))


def export_events(store) -> list[dict[str, Any]]:
    """Our lineage as OpenLineage COMPLETE RunEvents (deterministic run ids, one per job)."""
    with store.read() as con:
        nodes = {i: (k, json.loads(a)) for i, k, a in con.execute(
            "SELECT id, kind, CAST(attributes AS VARCHAR) FROM lineage_nodes").fetchall()}
        edges = con.execute("SELECT src, dst, relation FROM lineage_edges ORDER BY src, dst").fetchall()
        times = dict(con.execute("SELECT job_id, max(event_time) FROM lineage_runs GROUP BY 1").fetchall())
        created = dict(con.execute("SELECT id, created_at FROM lineage_nodes").fetchall())

    def ds(node_id: str) -> dict[str, str]:
        if node_id.startswith("model:"):
            _m, name, version = node_id.split(":")
            return {"namespace": MODEL_NAMESPACE, "name": f"model/{name}/{version}"}
        ns, name = _namespace_name(node_id, nodes.get(node_id, ("", {}))[1])
        return {"namespace": ns, "name": name}

    jobs: dict[str, dict[str, list]] = {}
    parents: dict[str, str] = {}
    for src, dst, relation in edges:
        if relation == "parent_of" and nodes.get(src, ("other",))[0] == "job" and nodes.get(dst, ("other",))[0] == "job":
            parents.setdefault(dst, src)  # one parent per run in OpenLineage; edges come sorted
            jobs.setdefault(dst, {"inputs": [], "outputs": []})
            continue
        skind, dkind = nodes.get(src, ("other",))[0], nodes.get(dst, ("other",))[0]
        if dkind == "job" and skind in ("dataset", "model_version"):
            jobs.setdefault(dst, {"inputs": [], "outputs": []})["inputs"].append(ds(src))
        elif skind == "job" and dkind in ("dataset", "model_version"):
            jobs.setdefault(src, {"inputs": [], "outputs": []})["outputs"].append(ds(dst))
        elif dkind == "model_version" and relation in ("trained_on", "evaluated_on") and skind == "dataset":
            model = dst.split(":")[1]
            train = jobs.setdefault(f"job:{MODEL_NAMESPACE}:train/{model}", {"inputs": [], "outputs": []})
            data, version = ds(src), ds(dst)
            used = next((i for i in train["inputs"] if (i["namespace"], i["name"]) == (data["namespace"],
                                                                                      data["name"])), None)
            if used is None:
                used = dict(data)
                train["inputs"].append(used)
            if version not in train["outputs"]:
                train["outputs"].append(version)
            # Which version each dataset trained or evaluated, so that an import restores these edges exactly.
            facet = used.setdefault("inputFacets", {}).setdefault(
                "modelgov", {"_producer": PRODUCER, "_schemaURL": MODEL_FACET_URL})
            facet.setdefault("trainedOn" if relation == "trained_on" else "evaluatedOn", []).append(version["name"])
    for jid, (kind, _attrs) in nodes.items():
        if kind == "job":
            jobs.setdefault(jid, {"inputs": [], "outputs": []})
    events = []
    for jid in sorted(jobs):
        ns, name = _namespace_name(jid, nodes.get(jid, ("job", {}))[1])
        when = times.get(jid) or created.get(jid) or utcnow()
        run: dict[str, Any] = {"runId": _run_id(jid)}
        if jid in parents:
            pns, pname = _namespace_name(parents[jid], nodes.get(parents[jid], ("job", {}))[1])
            run["facets"] = {"parent": {"_producer": PRODUCER, "_schemaURL": PARENT_FACET_URL,
                                        "run": {"runId": _run_id(parents[jid])},
                                        "job": {"namespace": pns, "name": pname}}}
        events.append({
            "eventType": "COMPLETE",
            "eventTime": when.isoformat(timespec="milliseconds") + "Z",
            "run": run,
            "job": {"namespace": ns, "name": name},
            "inputs": jobs[jid]["inputs"],
            "outputs": jobs[jid]["outputs"],
            "producer": PRODUCER,
            "schemaURL": SCHEMA_URL,
        })
    return events
