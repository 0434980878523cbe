"""Column lineage: which source columns a dataset column is made from, and which columns are made from it.

Recorded from OpenLineage's `columnLineage` facet (`openlineage.import_events`) as rows (dataset, column) ←
(source dataset, source column), each with the job that reported it and the transformations. Walks follow
those rows through any number of jobs, breadth-first, each (dataset, column) once at its smallest depth, so
a cycle ends the walk.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import NotFound
from .graph import _node_exists

def _key(dataset: str, column: str) -> str:
    """One text naming a (dataset, column) pair on both backends (PostgreSQL's text cannot hold the NUL that once
    separated them): the dataset's length says where the column's name starts."""
    return f"{len(dataset)}:{dataset}{column}"


_STEP = {
    "upstream": ("SELECT source_dataset, source_column, job_id, CAST(transformations AS VARCHAR), dataset, column_name "
                 "FROM lineage_columns WHERE length(dataset) || ':' || dataset || column_name = ANY(?) "
                 "ORDER BY source_dataset, source_column"),
    "downstream": ("SELECT dataset, column_name, job_id, CAST(transformations AS VARCHAR), source_dataset, source_column "
                   "FROM lineage_columns WHERE length(source_dataset) || ':' || source_dataset || source_column = ANY(?) "
                   "ORDER BY dataset, column_name"),
}


def walk_tx(con, dataset: str, column: str, direction: str, depth: int | None = None) -> list[dict[str, Any]]:
    """Every column reached `direction` from (dataset, column): {"dataset", "column", "depth", "via" (job),
    "transformations", "from": {"dataset", "column"} (the column it was reached from)}."""
    seen = {(dataset, column)}
    frontier = [(dataset, column)]
    out: list[dict[str, Any]] = []
    level = 0
    while frontier and (depth is None or level < depth):
        level += 1
        rows = con.execute(_STEP[direction], [[_key(d, c) for d, c in frontier]]).fetchall()
        nxt = []
        for d, c, job, transformations, fd, fc in rows:
            if (d, c) in seen:
                continue
            seen.add((d, c))
            nxt.append((d, c))
            out.append({"dataset": d, "column": c, "depth": level, "via": job,
                        "transformations": json.loads(transformations), "from": {"dataset": fd, "column": fc}})
        frontier = nxt
    return out


def column_lineage(store, dataset: str, column: str, depth: int | None = None) -> dict[str, Any]:
    """`modelgov lineage column DATASET COLUMN`: the columns upstream and downstream of one column."""
    with store.read() as con:
        _node_exists(con, dataset)
        known = con.execute("SELECT count(*) FROM lineage_columns WHERE (dataset = ? AND column_name = ?) OR "
                            "(source_dataset = ? AND source_column = ?)", [dataset, column, dataset, column]
                            ).fetchall()[0][0]
        if not known:
            listed = [r[0] for r in con.execute(
                "SELECT DISTINCT column_name FROM lineage_columns WHERE dataset = ? UNION SELECT DISTINCT "
                "source_column FROM lineage_columns WHERE source_dataset = ? ORDER BY 1", [dataset, dataset]
            ).fetchall()]
            hint = (f"columns with lineage there: {', '.join(listed[:12])}" if listed else
                    "none of its columns has any; import OpenLineage events whose outputs carry the columnLineage "
                    "facet")
            raise NotFound(f"No column lineage for column {column!r} of {dataset} ({hint}).")
        return {"dataset": dataset, "column": column,
                "upstream": walk_tx(con, dataset, column, "upstream", depth),
                "downstream": walk_tx(con, dataset, column, "downstream", depth)}


def dataset_columns(store, dataset: str) -> list[str]:
    """The columns of `dataset` that have column lineage either way (for the page's picker)."""
    with store.read() as con:
        return [r[0] for r in con.execute(
            "SELECT column_name FROM lineage_columns WHERE dataset = ? UNION SELECT source_column FROM "
            "lineage_columns WHERE source_dataset = ? ORDER BY 1", [dataset, dataset]).fetchall()]
