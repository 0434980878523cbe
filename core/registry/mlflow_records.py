"""What ModelGov keeps of a version that came from MLflow, and how pages and the CLI read it back.

A version registered from an MLflow model folder keeps the MLmodel's flavour, format and signature. One
brought in by `modelgov import mlflow` also keeps where it came from (tracking URI without credentials,
registered model and version), its aliases and tags, and its source run's name, tags, parameters and logged
metrics. MLflow's metrics are kept here, apart from the version's own `metrics`, which ModelGov recomputes on
the hold-out data: the two are shown side by side and never mixed.
"""

from __future__ import annotations

import json
import math
from dataclasses import field
from typing import Any

import duckdb

from ..audit import canonical_json, record, utcnow
from ..errors import Conflict
from ..events import MlflowVersionImported
from ..identity import Identity
from ..lineage import nodes as lineage
from .mlflow_model import MlflowModelDir
from ..frozen import frozen_record


@frozen_record
class MlflowFacts:
    """A registered MLflow model version and its source run, as read from the tracking server."""
    tracking_uri: str
    registered_model: str
    registered_version: int
    aliases: list[str] = field(default_factory=list)
    version_tags: dict[str, str] = field(default_factory=dict)
    run_id: str | None = None
    run_name: str | None = None
    experiment_id: str | None = None
    run_tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float | str] = field(default_factory=dict)
    code_ref: str | None = None  # the run's git commit, when MLflow recorded one: the version's code reference
    datasets: list[dict[str, Any]] = field(default_factory=list)  # the run's logged inputs (mlflow_inputs)

    @property
    def ref(self) -> str:
        return f"{self.registered_model}/{self.registered_version}"


def run_node_id(run_id: str) -> str:
    """The lineage node of an MLflow run: a job run, `run → model version` with relation `produced`."""
    return f"job:mlflow:run/{run_id}"


def finite(value: Any) -> float | str:
    """A metric as JSON can hold it: NaN and infinities (MLflow allows them) become their text."""
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else str(value)


def imported_as(con: duckdb.DuckDBPyConnection, facts: MlflowFacts) -> str | None:
    """`NAME:VERSION` of the ModelGov version this MLflow model version was already imported as, if any."""
    row = con.execute(
        "SELECT m.name, v.version FROM model_version_mlflow f JOIN model_versions v ON v.id = f.version_id"
        " JOIN models m ON m.id = v.model_id WHERE f.tracking_uri = ? AND f.registered_model = ?"
        " AND f.registered_version = ? ORDER BY v.id LIMIT 1",
        [facts.tracking_uri, facts.registered_model, facts.registered_version]).fetchone()
    return f"{row[0]}:{row[1]}" if row else None


def already_imported(actor: Identity, facts: MlflowFacts, existing: str) -> Conflict:
    return Conflict(f"MLflow model {facts.registered_model} version {facts.registered_version} from "
                    f"{facts.tracking_uri} was already imported as {existing}, so nothing was imported; see "
                    f"'modelgov models show {existing.split(':')[0]}'.",
                    actor=actor.email, action=MlflowVersionImported.action, entity_type="model_version",
                    entity_id=existing)


def record_tx(con: duckdb.DuckDBPyConnection, actor: Identity, version, info: MlflowModelDir | None,
              facts: MlflowFacts | None) -> None:
    """Keep the MLflow facts of the new `version` (inside register's transaction); lineage run → version."""
    if facts is not None and (existing := imported_as(con, facts)):
        raise already_imported(actor, facts, existing)
    run_id = (facts.run_id if facts else None) or (info.run_id if info else None)
    con.execute(
        "INSERT INTO model_version_mlflow (version_id, flavour, serialization, signature, model_uuid, mlflow_version,"
        " run_id, tracking_uri, registered_model, registered_version, aliases, version_tags, run_name,"
        " experiment_id, run_tags, params, metrics, recorded_at, recorded_by)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [version.id, info.flavour if info else "sklearn", info.serialization if info else "skops",
         canonical_json(info.signature) if info and info.signature else None,
         info.model_uuid if info else None, info.mlflow_version if info else None, run_id,
         facts.tracking_uri if facts else None, facts.registered_model if facts else None,
         facts.registered_version if facts else None,
         canonical_json(facts.aliases if facts else []), canonical_json(facts.version_tags if facts else {}),
         facts.run_name if facts else None, facts.experiment_id if facts else None,
         canonical_json(facts.run_tags if facts else {}), canonical_json(facts.params if facts else {}),
         canonical_json(facts.metrics if facts else {}), utcnow(), actor.email])
    if run_id and facts is not None:  # a run id in a folder's MLmodel alone names no server to find it on
        rid = run_node_id(run_id)
        lineage.upsert_node(con, rid, "job", f"MLflow run {facts.run_name or run_id}",
                            {"source": "mlflow", "tracking_uri": facts.tracking_uri, "run_id": run_id,
                             "run_name": facts.run_name, "experiment_id": facts.experiment_id})
        lineage.add_edge_tx(con, actor, rid, lineage.model_node_id(version.model, version.version), "produced")
    if facts is not None:
        record(con, actor, MlflowVersionImported(version.ref, facts.tracking_uri, facts.registered_model,
                                                 facts.registered_version, run_id, list(facts.aliases)))


_COLUMNS = ("flavour", "serialization", "signature", "model_uuid", "mlflow_version", "run_id", "tracking_uri",
            "registered_model", "registered_version", "aliases", "version_tags", "run_name", "experiment_id",
            "run_tags", "params", "metrics", "recorded_at", "recorded_by")
_JSON = {"signature", "aliases", "version_tags", "run_tags", "params", "metrics"}


def _select(table: str = "") -> str:
    return ", ".join(f"{table}{c}" if c not in _JSON else f"CAST({table}{c} AS VARCHAR)" for c in _COLUMNS)


def _facts(row: tuple) -> dict[str, Any]:
    out = {c: (json.loads(v) if c in _JSON and v is not None else v) for c, v in zip(_COLUMNS, row)}
    out["recorded_at"] = out["recorded_at"].isoformat() if out["recorded_at"] is not None else None
    return out


def mlflow_facts_tx(con: duckdb.DuckDBPyConnection, version_id: int) -> dict[str, Any] | None:
    row = con.execute(f"SELECT {_select()} FROM model_version_mlflow WHERE version_id = ?", [version_id]).fetchone()
    return None if row is None else _facts(row)


def mlflow_facts_by_version(store, name: str) -> dict[int, dict[str, Any]]:
    """The MLflow facts of every version of `name` that has them, by version number (one read)."""
    with store.read() as con:
        rows = con.execute(f"SELECT v.version, {_select('f.')}"
                           " FROM model_version_mlflow f JOIN model_versions v ON v.id = f.version_id"
                           " JOIN models m ON m.id = v.model_id WHERE m.name = ? ORDER BY v.version",
                           [name]).fetchall()
    return {r[0]: _facts(r[1:]) for r in rows}


def get_mlflow_facts(store, name: str, version: int) -> dict[str, Any] | None:
    """What ModelGov keeps of where `name:version` came from in MLflow; None for a version that did not.

    A read of registry metadata, open to every role that sees the model (as `models show`).
    """
    from .versions import get_model_version_tx

    with store.read() as con:
        v = get_model_version_tx(con, name, version)
        return mlflow_facts_tx(con, v.id)
