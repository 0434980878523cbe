"""Lineage: typed nodes and edges, recorded automatically as things happen.

Node ids follow OpenLineage naming: `dataset:NAMESPACE:NAME` (a local file is
`dataset:file:ABSOLUTE_PATH`), `job:NAMESPACE:NAME`, and model versions
`model:NAME:VERSION`. Edges point downstream: a dataset a version was trained
on is `dataset → model` with relation `trained_on`.
"""

from __future__ import annotations

from typing import Any

import duckdb

from ..audit import canonical_json, utcnow
from ..identity import Identity

RELATIONS = ("trained_on", "evaluated_on", "derived_from", "produced", "deployed_as", "consumes", "describes",
             "parent_of")


def dataset_node_id(dataset) -> str:
    """The node id of a registered dataset: its file when it came from one."""
    if dataset.location.startswith("memory:"):
        return f"dataset:modelgov:{dataset.name}/v{dataset.version}"
    return f"dataset:file:{dataset.location}"


def model_node_id(name: str, version: int) -> str:
    return f"model:{name}:{version}"


def deployment_node_id(model: str, environment: str, deployment_id: int) -> str:
    """A deployment of a version: `version → deployment` with relation `deployed_as`."""
    return f"deployment:{model}:{environment}:{deployment_id}"


def result_node_id(kind: str, model: str, version: int, key: str) -> str:
    """A result computed about a version (kind `monitoring`, `explanation`, `comparison`, …)."""
    return f"{kind}:{model}:{version}:{key}"


def upsert_node(con: duckdb.DuckDBPyConnection, node_id: str, kind: str, name: str,
                attributes: dict[str, Any] | None = None) -> None:
    """Create the node, or merge `attributes` into an existing one."""
    row = con.execute("SELECT CAST(attributes AS VARCHAR) FROM lineage_nodes WHERE id = ?", [node_id]).fetchone()
    if row is None:
        con.execute("INSERT INTO lineage_nodes (id, kind, name, attributes, created_at) VALUES (?, ?, ?, ?, ?)",
                    [node_id, kind, name, canonical_json(attributes or {}), utcnow()])
    elif attributes:
        import json

        merged = {**json.loads(row[0]), **attributes}
        con.execute("UPDATE lineage_nodes SET attributes = ? WHERE id = ?", [canonical_json(merged), node_id])


def add_edge_tx(con: duckdb.DuckDBPyConnection, actor: Identity, src: str, dst: str, relation: str) -> bool:
    """Add an edge if absent; True when it was new."""
    exists = con.execute("SELECT 1 FROM lineage_edges WHERE src = ? AND dst = ? AND relation = ?",
                         [src, dst, relation]).fetchone()
    if exists:
        return False
    con.execute("INSERT INTO lineage_edges (src, dst, relation, created_at, created_by) VALUES (?, ?, ?, ?, ?)",
                [src, dst, relation, utcnow(), actor.email])
    return True


def record_registration(con: duckdb.DuckDBPyConnection, actor: Identity, version, train_ds, test_ds) -> None:
    """Lineage of a new version: its training and test datasets, code reference and parameters."""
    mid = model_node_id(version.model, version.version)
    upsert_node(con, mid, "model_version", version.ref,
                {"sha256": version.sha256, "code_ref": version.code_ref, "estimator": version.estimator,
                 "status": version.status})
    for ds, relation in ((train_ds, "trained_on"), (test_ds, "evaluated_on")):
        if ds is None:
            continue
        did = dataset_node_id(ds)
        upsert_node(con, did, "dataset", ds.ref, {"fingerprint": ds.fingerprint, "rows": ds.n_rows,
                                                  "location": ds.location})
        add_edge_tx(con, actor, did, mid, relation)


def record_deployment_tx(con: duckdb.DuckDBPyConnection, actor: Identity, model: str, version: int,
                         environment: str, deployment_id: int, role: str) -> str:
    """Lineage of a deployment: `model:NAME:VERSION → deployment:NAME:ENV:ID` (`deployed_as`)."""
    nid = deployment_node_id(model, environment, deployment_id)
    upsert_node(con, nid, "deployment", f"{model}:{version} in {environment}",
                {"environment": environment, "role": role, "status": "active"})
    add_edge_tx(con, actor, model_node_id(model, version), nid, "deployed_as")
    return nid


def record_result_tx(con: duckdb.DuckDBPyConnection, actor: Identity, kind: str, model: str, version: int,
                     key: str, name: str, attributes: dict[str, Any] | None = None) -> str:
    """Lineage of a result about a version: `model:NAME:VERSION → KIND:NAME:VERSION:KEY` (`describes`,
    read as "the result describes the version it hangs from")."""
    nid = result_node_id(kind, model, version, key)
    upsert_node(con, nid, kind, name, attributes)
    add_edge_tx(con, actor, model_node_id(model, version), nid, "describes")
    return nid
