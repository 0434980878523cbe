"""Lineage-aware drift: where a drifted input comes from, and which other live models read the same source.

A version's input column is traced through the column lineage of the datasets it was trained on (`trained_on`
edges, then `lineage.columns` upstream) to its source columns: those with nothing further upstream. Each
source's downstream columns are then matched against the training datasets and inputs of every other live
version. "LIMIT_BAL drifted; it comes from cards.statements.credit_limit via cards_daily_snapshot; 1 other
production model reads that column (credit-limit-advisor)."
"""

from __future__ import annotations

from typing import Any

from ..governance.live import live_tx
from ..lineage.columns import walk_tx
from ..lineage.nodes import model_node_id
from ..registry.records import ModelVersion
from ..registry.versions import get_model_version_tx


def _trained_on(con, model: str, version: int) -> list[str]:
    return [r[0] for r in con.execute("SELECT src FROM lineage_edges WHERE dst = ? AND relation = 'trained_on' "
                                      "ORDER BY src", [model_node_id(model, version)]).fetchall()]


def _names(con, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    return dict(con.execute("SELECT id, name FROM lineage_nodes WHERE id = ANY(?)", [sorted(ids)]).fetchall())


def _sources(con, datasets: list[str], column: str) -> list[dict[str, Any]]:
    """The source columns of `column` of the training datasets: the ends of its column lineage upstream, each
    with the jobs on the way from the source to the model, in that order."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for dataset in datasets:
        steps = walk_tx(con, dataset, column, "upstream")
        by_key = {(s["dataset"], s["column"]): s for s in steps}
        inner = {(s["from"]["dataset"], s["from"]["column"]) for s in steps}
        for key, step in by_key.items():
            if key in inner:
                continue  # something further upstream was reached from it: not a source
            via, at = [], step
            while at is not None:
                if at["via"] and at["via"] not in via:
                    via.append(at["via"])
                at = by_key.get((at["from"]["dataset"], at["from"]["column"]))
            found.setdefault(key, {"dataset": key[0], "column": key[1], "via": via, "depth": step["depth"]})
    return sorted(found.values(), key=lambda s: (s["dataset"], s["column"]))


def trace_tx(con, v: ModelVersion, columns: list[str]) -> dict[str, dict[str, Any]]:
    """For each of `columns` (inputs of `v`) with column lineage: its sources and the other live versions whose
    inputs come from the same source columns; {} when the version's training data carry no column lineage."""
    trains = _trained_on(con, v.model, v.version)
    if not trains or not columns:
        return {}
    others: list[tuple[Any, list[str], set[str]]] = []
    for d in live_tx(con):
        if d.model == v.model:
            continue
        try:
            w = get_model_version_tx(con, d.model, d.version)
        except Exception:  # noqa: BLE001 - a live row always has its version; a broken one just reads nothing here
            continue
        others.append((d, _trained_on(con, d.model, d.version), set(w.feature_names)))
    traced: dict[str, dict[str, Any]] = {}
    for column in columns:
        sources = _sources(con, trains, column)
        if not sources:
            continue
        readers: dict[tuple[str, str], dict[str, Any]] = {}
        for s in sources:
            reached = {(s["dataset"], s["column"])} | {(c["dataset"], c["column"]) for c in
                                                       walk_tx(con, s["dataset"], s["column"], "downstream")}
            for d, datasets, features in others:
                hit = sorted(c for ds, c in reached if ds in datasets and c in features)
                if hit:
                    entry = readers.setdefault((d.model, d.environment), {
                        "model": d.model, "version": d.version, "environment": d.environment, "role": d.role,
                        "inputs": []})
                    entry["inputs"] = sorted(set(entry["inputs"]) | set(hit))
        names = _names(con, {s["dataset"] for s in sources})
        for s in sources:
            s["name"] = f"{names.get(s['dataset'], s['dataset'])}.{s['column']}"
            s["via"] = [j.split(":", 2)[-1] for j in s["via"]]
        traced[column] = {"sources": sources, "readers": sorted(readers.values(),
                                                                key=lambda r: (r["environment"], r["model"]))}
        traced[column]["sentence"] = sentence(column, traced[column])
    return traced


def sentence(column: str, t: dict[str, Any]) -> str:
    """One plain sentence: where the drifted input comes from and who else reads it."""
    parts = []
    for s in t["sources"][:3]:
        parts.append(f"{s['name']}" + (f" via {' and '.join(s['via'])}" if s["via"] else ""))
    more = f" and {len(t['sources']) - 3} more" if len(t["sources"]) > 3 else ""
    text = f"{column} comes from {', '.join(parts)}{more}"
    prod = [r for r in t["readers"] if r["environment"] == "production"]
    elsewhere = [r for r in t["readers"] if r["environment"] != "production"]
    if prod:
        text += (f"; {len(prod)} other production model{'s' if len(prod) != 1 else ''} read"
                 f"{'s' if len(prod) == 1 else ''} {'that column' if len(t['sources']) == 1 else 'those columns'} "
                 f"({', '.join(r['model'] for r in prod)})")
    if elsewhere:
        text += f"; live in {elsewhere[0]['environment']}: {', '.join(r['model'] for r in elsewhere)}"
    if not t["readers"]:
        text += "; no other live model reads it"
    return text + "."
