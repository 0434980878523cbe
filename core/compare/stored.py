"""Stored comparisons: saved with both artifacts' hashes and the rows' fingerprint, cited by evidence.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import numpy as np

from ..audit import canonical_json, record, utcnow
from ..errors import NotFound
from ..governance import live
from ..events import ComparisonRecorded
from ..identity import Identity, require
from ..registry.records import ModelVersion, parse_ref
from ..registry.versions import get_model_version_tx
from .holdout import compare_holdout, resolve_version


def json_safe(value: Any) -> Any:
    """NaN/inf → None, numpy → Python, recursively."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def save_comparison(store, actor: Identity, result: dict[str, Any]) -> int:
    """Store a comparison result with its inputs' fingerprints; returns its id.

    Needs `compute-results`. Records `comparison.record` on the challenger version.
    Raises Forbidden, NotFound (a version vanished).
    """
    safe = json_safe(result)
    body = canonical_json(safe)
    digest = hashlib.sha256(body.encode()).hexdigest()
    with store.transaction() as con:
        require(actor, "compute-results", ComparisonRecorded, result["challenger_ref"])
        ids = []
        for ref in (result["champion_ref"], result["challenger_ref"]):
            name, number = parse_ref(ref)
            ids.append(get_model_version_tx(con, name, number).id)
        cid = con.execute(
            "INSERT INTO comparisons (champion_version_id, challenger_version_id, champion_sha256,"
            " challenger_sha256, source, data_ref, data_fingerprint, n_rows, target, segment, bootstrap, seed,"
            " verdict, result, result_sha256, created_at, created_by)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [ids[0], ids[1], result["champion_sha256"], result["challenger_sha256"], result["source"],
             result["data"]["ref"], result["data"]["fingerprint"], result["rows"], result["data"]["target"],
             result.get("segment"), result["bootstrap"], result["seed"], result["verdict"], body, digest,
             utcnow(), actor.email]).fetchone()[0]
        record(con, actor, ComparisonRecorded(result["challenger_ref"], cid, result["champion_ref"], result["source"],
                                              result["data"]["fingerprint"], digest, result.get("verdict_summary")))
    return cid


_COLS = ("c.id, c.source, c.data_ref, c.data_fingerprint, c.n_rows, c.target, c.segment, c.bootstrap, c.seed,"
         " c.verdict, CAST(c.result AS VARCHAR), c.result_sha256, c.created_at, c.created_by,"
         " ma.name || ':' || va.version, mb.name || ':' || vb.version, c.champion_sha256, c.challenger_sha256")


_FROM = (" FROM comparisons c JOIN model_versions va ON va.id = c.champion_version_id"
         " JOIN models ma ON ma.id = va.model_id JOIN model_versions vb ON vb.id = c.challenger_version_id"
         " JOIN models mb ON mb.id = vb.model_id")


def _record(r, with_result: bool = True) -> dict[str, Any]:
    out = {"id": r[0], "source": r[1], "champion": r[14], "challenger": r[15], "champion_sha256": r[16],
           "challenger_sha256": r[17], "data_ref": r[2], "data_fingerprint": r[3], "rows": r[4], "target": r[5],
           "segment": r[6], "bootstrap": r[7], "seed": r[8], "verdict": r[9], "result_sha256": r[11],
           "created_at": r[12].isoformat(), "created_by": r[13]}
    if with_result:
        out["result"] = json.loads(r[10])
    return out


def get_comparison(store, comparison_id: int) -> dict[str, Any]:
    """One stored comparison with its full result; raises NotFound."""
    with store.read() as con:
        r = con.execute(f"SELECT {_COLS}{_FROM} WHERE c.id = ?", [comparison_id]).fetchone()
    if r is None:
        raise NotFound(f"Comparison {comparison_id} not found. See the Champion vs challenger page.")
    return _record(r)


def list_comparisons(store, model: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Stored comparisons (newest first), without their full results."""
    where, params = "", []
    if model:
        where, params = " WHERE ma.name = ? OR mb.name = ?", [model, model]
    with store.read() as con:
        rows = con.execute(f"SELECT {_COLS}{_FROM}{where} ORDER BY c.id DESC LIMIT ?", params + [limit]).fetchall()
    return [_record(r, with_result=False) for r in rows]


def comparison_for_evidence(store, version: ModelVersion | str) -> dict[str, Any] | None:
    """The latest stored comparison with `version` as challenger, JSON-safe (see `comparison_with_tx`)."""
    v = resolve_version(store, version)
    with store.read() as con:
        return comparison_with_tx(con, v.id)


def comparison_with_tx(con, challenger_version_id: int, champion_version_id: int | None = None
                       ) -> dict[str, Any] | None:
    """The latest stored comparison of a challenger version, JSON-safe, for an evidence pack: against
    `champion_version_id` when given (the live champion), else against any champion. Curves and histograms are
    left out (they can be redrawn from the stored record by id). None when there is none.
    """
    where, params = "c.challenger_version_id = ?", [challenger_version_id]
    if champion_version_id is not None:
        where, params = where + " AND c.champion_version_id = ?", params + [champion_version_id]
    r = con.execute(f"SELECT {_COLS}{_FROM} WHERE {where} ORDER BY c.id DESC LIMIT 1", params).fetchone()
    if r is None:
        return None
    rec = _record(r)
    rec["result"] = {k: val for k, val in rec["result"].items() if k not in ("curves", "distributions")}
    return json_safe(rec)


def compare_and_record(store, actor: Identity | None, champion: str | ModelVersion, challenger: str | ModelVersion,
                       data: Any, target: str | None = None, **options: Any) -> dict[str, Any]:
    """Compare two versions on a labelled hold-out and, when a person asked (`actor`), store the comparison so an
    evidence pack can cite it; `comparison_id` is None when nobody was named.

    Needs `compute-results` to store. Records `comparison.record`. Raises InvalidInput, NotFound, Forbidden.
    """
    result = compare_holdout(store, champion, challenger, data, target, **options)
    result["comparison_id"] = save_comparison(store, actor, result) if actor is not None else None
    return result


def latest_between(store, champion: ModelVersion | str, challenger: ModelVersion | str) -> dict[str, Any] | None:
    """The latest stored comparison of `challenger` against `champion`, with its full result (whose
    `comparison_id` names it), or None when these two were never compared. Raises NotFound."""
    a, b = resolve_version(store, champion), resolve_version(store, challenger)
    with store.read() as con:
        r = con.execute(f"SELECT {_COLS}{_FROM} WHERE c.champion_version_id = ? AND c.challenger_version_id = ?"
                        " ORDER BY c.id DESC LIMIT 1", [a.id, b.id]).fetchone()
    if r is None:
        return None
    rec = _record(r)
    rec["result"]["comparison_id"] = rec["id"]
    return rec


def latest_comparison(store, model: str, environment: str = "production") -> dict[str, Any] | None:
    """The latest stored comparison of one of `model`'s live challengers against its live champion in
    `environment` (core.governance.live decides which versions are live), or None when nothing is live to
    compare or the live pair was never compared. Adds `environment`. Raises NotFound (model), InvalidInput.
    """
    deployed = live.active(store, model, environment)
    champion = next((d for d in deployed if d.role == "champion"), None)
    if champion is None:
        return None
    found = [rec for d in deployed if d.role == "challenger"
             if (rec := latest_between(store, f"{model}:{champion.version}", f"{model}:{d.version}")) is not None]
    if not found:
        return None
    return {**max(found, key=lambda rec: rec["id"]), "environment": environment}
