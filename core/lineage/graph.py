"""Lineage queries and editing: upstream, downstream, impact and paths.

Walks are breadth-first over the graph's arrays (`index.py`, rebuilt whenever
the lineage tables change): a node enters the result once, at its smallest
depth, so cycles in imported lineage end the walk instead of hanging it, and
the work is linear in the edges reached, not in the number of paths.
"""

from __future__ import annotations

import gc
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..audit import record
from ..errors import InvalidInput, NotFound
from ..events import LineageEdgeAdded, LineageNodeAdded
from ..identity import Identity, require
from .nodes import RELATIONS, add_edge_tx, upsert_node

KINDS = ("dataset", "job", "model_version", "deployment", "monitoring", "explanation", "comparison", "source")
_PREFIX_KIND = {"dataset": "dataset", "job": "job", "model": "model_version", "deployment": "deployment",
                "monitoring": "monitoring", "explanation": "explanation", "comparison": "comparison",
                "source": "source"}
_ID = re.compile(r"^(dataset|job|model|deployment|monitoring|explanation|comparison|source):[^:\s][^\s]*:[^\s].*$")


class Graph:
    """A lineage answer: the node asked about, the nodes reached (`{id, kind, name, depth, ...}`) and the edges
    among them (`{from, to, relation}`).

    A walk's rows are built on first use of `nodes` or `edges`, from the walk's arrays: a walk with 1% back edges
    reaches tens of thousands of nodes and edges, and a caller that counts them (`node_count`, the Lineage page) or
    prints them as JSON (`as_dict`, without the attributes it leaves out) need not pay for every row's dict.
    """

    __slots__ = ("node", "_nodes", "_edges", "_walk")

    def __init__(self, node: str, nodes: list[dict[str, Any]] | None = None,
                 edges: list[dict[str, str]] | None = None, *, walk: _Walk | None = None) -> None:
        self.node = node
        self._walk = walk
        self._nodes = nodes if nodes is not None or walk is not None else []
        self._edges = edges if edges is not None or walk is not None else []

    @property
    def nodes(self) -> list[dict[str, Any]]:
        if self._nodes is None:
            self._nodes = self._walk.node_rows()
        return self._nodes

    @nodes.setter
    def nodes(self, rows: list[dict[str, Any]]) -> None:
        self._nodes = rows

    @property
    def edges(self) -> list[dict[str, str]]:
        if self._edges is None:
            self._edges = self._walk.edge_rows()
        return self._edges

    @edges.setter
    def edges(self, rows: list[dict[str, str]]) -> None:
        self._edges = rows

    @property
    def node_count(self) -> int:
        return len(self._walk.reached) if self._nodes is None else len(self._nodes)

    @property
    def edge_count(self) -> int:
        return len(self._walk.edges) if self._edges is None else len(self._edges)

    def as_dict(self) -> dict[str, Any]:
        nodes = (self._walk.node_rows(attributes=False) if self._nodes is None else
                 [{k: n[k] for k in ("id", "kind", "name", "depth")} for n in self._nodes])
        return {"node": self.node, "nodes": nodes, "edges": self.edges}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Graph):
            return NotImplemented
        return (self.node, self.nodes, self.edges) == (other.node, other.nodes, other.edges)

    def __repr__(self) -> str:
        return f"Graph(node={self.node!r}, {self.node_count} node(s), {self.edge_count} edge(s))"


@dataclass(frozen=True)
class _Walk:
    """A walk's answer as arrays over the index: the nodes reached (numbers, in answer order) with their hops, and
    the edges among them (edge numbers, in the index's (src, dst, relation) order)."""

    ix: Any
    reached: Any
    depths: Any
    edges: Any

    def node_rows(self, attributes: bool = True) -> list[dict[str, Any]]:
        ix, reached = self.ix, self.reached
        with _no_cycle_collection():
            cols = zip(ix.id_array[reached].tolist(), ix.kind_array[reached].tolist(),
                       ix.name_array[reached].tolist(), self.depths.tolist())
            if not attributes:
                return [{"id": i, "kind": k, "name": n, "depth": d} for i, k, n, d in cols]
            rows = [{"id": i, "kind": k, "name": n, "depth": d, "attributes": {}} for i, k, n, d in cols]
            if ix.attributes:
                import numpy as np

                for pos in np.flatnonzero(ix.has_attributes[reached]).tolist():
                    rows[pos]["attributes"] = _attributes(ix.attributes[int(reached[pos])])
            return rows

    def edge_rows(self) -> list[dict[str, str]]:
        ix, k = self.ix, self.edges
        with _no_cycle_collection():
            return [{"from": a, "to": b, "relation": r} for a, b, r in zip(
                ix.id_array[ix.src[k]].tolist(), ix.id_array[ix.dst[k]].tolist(), ix.relation_array[k].tolist())]


def kind_of(node_id: str) -> str:
    return _PREFIX_KIND.get(node_id.split(":", 1)[0], "other")


def validate_node_id(node_id: str) -> str:
    node_id = (node_id or "").strip()
    if not _ID.match(node_id):
        raise InvalidInput(f"'{node_id}' is not a lineage node id; write KIND:NAMESPACE:NAME, e.g. "
                           "dataset:postgres://bank:5432:cards.statements, job:airflow:daily_features or "
                           "model:credit-default:2.")
    return node_id


def _node_exists(con, node_id: str) -> dict[str, Any]:
    row = con.execute("SELECT id, kind, name, CAST(attributes AS VARCHAR), created_at FROM lineage_nodes WHERE id = ?",
                      [node_id]).fetchone()
    if row is None:
        raise NotFound(f"No lineage node '{node_id}'; 'modelgov lineage nodes' lists them (ids look like "
                       "dataset:NAMESPACE:NAME, job:NAMESPACE:NAME, model:NAME:VERSION).")
    import json

    return {"id": row[0], "kind": row[1], "name": row[2], "attributes": json.loads(row[3]), "created_at": row[4]}


def node(store, node_id: str) -> dict[str, Any]:
    """One node with its attributes, and for a job the jobs it is the parent run of (an Airflow DAG's tasks, a
    dbt invocation's models) and the jobs it is a child of, from imported `parent` run facets."""
    with store.read() as con:
        found = _node_exists(con, node_id)
        found["children"] = [r[0] for r in con.execute(
            "SELECT dst FROM lineage_edges WHERE src = ? AND relation = 'parent_of' ORDER BY dst", [node_id]).fetchall()]
        found["parents"] = [r[0] for r in con.execute(
            "SELECT src FROM lineage_edges WHERE dst = ? AND relation = 'parent_of' ORDER BY src", [node_id]).fetchall()]
        return found


def traverse_tx(con, node_id: str, direction: str, depth: int | None = None) -> Graph:
    """Every node reachable `direction` ('upstream' | 'downstream') from `node_id`, up to `depth` hops."""
    if direction not in ("upstream", "downstream"):
        raise InvalidInput("A direction is upstream or downstream.")
    if depth is not None and depth < 1:
        raise InvalidInput(f"--depth must be 1 or more; got {depth}.")
    _node_exists(con, node_id)
    import numpy as np  # imported by the walks alone: `lineage nodes` and the other reads need no numpy

    from .index import index

    ix = index(con)
    start = ix.number(node_id)
    hops = ix.walk(start, direction, depth if depth is not None else len(ix.ids))
    reached = np.flatnonzero(hops > 0)
    reached = reached[np.argsort(hops[reached], kind="stable")]  # by depth, then id (numbers are in id order)
    near, far = (ix.src, ix.dst) if direction == "downstream" else (ix.dst, ix.src)
    # An unlimited walk is closed: every edge leaving a walked node (in the walk's direction) ends at a walked
    # node, so the edges among the walked nodes are those that leave one. A walk cut at `depth` is not.
    keep = hops[near] >= 0
    if depth is not None:
        keep &= hops[far] >= 0
    return Graph(node_id, walk=_Walk(ix, reached, hops[reached], np.flatnonzero(keep)))


@contextmanager
def _no_cycle_collection():
    """Build a walk's rows without Python's cycle collector: tens of thousands of new dicts trigger it again and
    again (half the time of a 20,000-node walk), yet none of them can be part of a cycle."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _attributes(text: str | None) -> dict[str, Any]:
    """A node's attributes from their JSON text; most nodes have none, and a big walk reaches tens of thousands."""
    if not text or text == "{}":
        return {}
    import json

    return json.loads(text)


def upstream(store, node_id: str, depth: int | None = None) -> Graph:
    with store.read() as con:
        return traverse_tx(con, node_id, "upstream", depth)


def downstream(store, node_id: str, depth: int | None = None) -> Graph:
    with store.read() as con:
        return traverse_tx(con, node_id, "downstream", depth)


def impact(store, node_id: str, depth: int | None = None) -> Graph:
    """The model versions and deployments that depend on `node_id`, directly or transitively.

    Each node carries `active` (a live deployment, or a version with one) and the
    graph's `summary` sentence says how many production models are affected.
    """
    with store.read() as con:
        g = traverse_tx(con, node_id, "downstream", depth)
        live = {f"deployment:{m}:{e}:{i}": (m, v, e, r) for i, m, v, e, r in con.execute(
            "SELECT d.id, m.name, v.version, d.environment, d.role FROM deployments d JOIN model_versions v ON "
            "v.id = d.version_id JOIN models m ON m.id = v.model_id WHERE d.until IS NULL").fetchall()}
    import numpy as np

    # Chosen over the walk's arrays: only the versions and deployments reached become rows.
    w = g._walk
    ix = w.ix
    kinds = ix.kind_array[w.reached]
    hit = (kinds == "model_version") | (kinds == "deployment")
    w = _Walk(ix, w.reached[hit], w.depths[hit], w.edges)
    keep = np.zeros(len(ix.ids), dtype=bool)
    keep[w.reached] = True
    keep[ix.number(node_id)] = True
    w = _Walk(ix, w.reached, w.depths, w.edges[keep[ix.dst[w.edges]]])
    nodes = w.node_rows()
    live_versions = {f"model:{m}:{v}": (e, r) for m, v, e, r in live.values()}
    for n in nodes:
        n["active"] = n["id"] in live or n["id"] in live_versions
        if n["id"] in live:
            n["environment"], n["role"] = live[n["id"]][2], live[n["id"]][3]
        elif n["id"] in live_versions:
            n["environment"], n["role"] = live_versions[n["id"]]
    return Graph(node_id, nodes, walk=w)


def impact_in_production(g: Graph) -> list[str]:
    """The models of an impact graph that are live in production through it (sorted names)."""
    return sorted({n["id"].split(":")[1] for n in g.nodes if n.get("active") and n.get("environment") == "production"})


def impact_summary(g: Graph) -> str:
    """One sentence on what depends on the node: every model reached through a version or a deployment counts,
    so the sentence never says "nothing" above a list that shows a live deployment."""
    models = {n["id"].split(":")[1] for n in g.nodes if n["kind"] in ("model_version", "deployment")}
    prod = impact_in_production(g)
    if not models:
        return f"Nothing registered depends on {g.node}."
    return (f"If {g.node} is wrong, {len(models)} model(s) depend on it"
            + (f", {len(prod)} of them in production: {', '.join(sorted(prod))}." if prod
               else "; none of them is in production."))


def path(store, src: str, dst: str, max_depth: int = 50) -> Graph:
    """A shortest directed path from `src` to `dst` (downstream), or an empty graph when there is none."""
    with store.read() as con:
        _node_exists(con, src)
        _node_exists(con, dst)
        import numpy as np

        from .index import index

        ix = index(con)
    numbers = ix.parents(ix.number(src), ix.number(dst), max_depth)
    if numbers is None:
        return Graph(src)
    trail = [ix.ids[i] for i in numbers]
    found = {ix.ids[i]: (ix.kind_array[i], ix.name_array[i]) for i in numbers if ix.known[i]}
    steps = list(zip(trail, trail[1:]))
    # The relation of each step: the smallest of the edges joining its two nodes (edges are sorted by src,
    # dst, relation, so the first one found is it).
    relation = {}
    for k in np.flatnonzero(np.isin(ix.src, numbers[:-1]) & np.isin(ix.dst, numbers[1:])).tolist():
        relation.setdefault((ix.ids[ix.src[k]], ix.ids[ix.dst[k]]), ix.relation_array[k])
    nodes = [{"id": nid, "kind": found[nid][0] if nid in found else kind_of(nid),
              "name": found[nid][1] if nid in found else nid, "depth": depth} for depth, nid in enumerate(trail)]
    edges = [{"from": a, "to": b, "relation": relation.get((a, b))} for a, b in steps]
    return Graph(src, nodes, edges)


def neighbourhood(store, node_id: str, depth: int = 2) -> Graph:
    """Both directions around a node, for the page's focus view."""
    with store.read() as con:
        center = _node_exists(con, node_id)
        up = traverse_tx(con, node_id, "upstream", depth)
        down = traverse_tx(con, node_id, "downstream", depth)
    for n in up.nodes:
        n["depth"] = -n["depth"]
    nodes = [{**center, "depth": 0}] + up.nodes + down.nodes
    seen, edges = set(), []
    for e in up.edges + down.edges:
        key = (e["from"], e["to"], e["relation"])
        if key not in seen:
            seen.add(key)
            edges.append(e)
    return Graph(node_id, nodes, edges)


def whole_graph(store, limit: int | None = None) -> tuple[list[dict], list[dict], int]:
    """Nodes (newest first up to `limit`) with the edges among them, and the total node count."""
    import json

    with store.read() as con:
        total = con.execute("SELECT count(*) FROM lineage_nodes").fetchone()[0]
        rows = con.execute("SELECT id, kind, name, CAST(attributes AS VARCHAR) FROM lineage_nodes ORDER BY "
                           "created_at DESC, id" + (f" LIMIT {int(limit)}" if limit else "")).fetchall()
        ids = [r[0] for r in rows]
        edges = con.execute("SELECT src, dst, relation FROM lineage_edges WHERE src = ANY(?) AND dst = ANY(?)", [ids, ids]).fetchall()
    return ([{"id": i, "kind": k, "name": n, "attributes": json.loads(a)} for i, k, n, a in rows],
            [{"from": s, "to": d, "relation": r} for s, d, r in edges], total)


def list_nodes(store, kind: str | None = None, text: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    where, params = [], []
    if kind:
        where.append("kind = ?")
        params.append(kind)
    if text:
        where.append("(id ILIKE ? OR name ILIKE ?)")
        params += [f"%{text}%", f"%{text}%"]
    sql = "SELECT id, kind, name FROM lineage_nodes" + (" WHERE " + " AND ".join(where) if where else "")
    with store.read() as con:
        rows = con.execute(sql + f" ORDER BY kind, id LIMIT {int(limit)}", params).fetchall()
    return [{"id": i, "kind": k, "name": n} for i, k, n in rows]


def counts(store) -> dict[str, int]:
    with store.read() as con:
        return {"nodes": con.execute("SELECT count(*) FROM lineage_nodes").fetchone()[0],
                "edges": con.execute("SELECT count(*) FROM lineage_edges").fetchone()[0]}


# --- editing -----------------------------------------------------------------------------------------

def add_node(store, actor: Identity, node_id: str, *, kind: str | None = None, name: str | None = None,
             attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    """Add (or annotate) an upstream source, feature table, transformation job, … (audited)."""
    node_id = validate_node_id(node_id)
    kind = kind or kind_of(node_id)
    if kind not in KINDS:
        raise InvalidInput(f"Unknown node kind '{kind}'; use one of {', '.join(KINDS)}.")
    if node_id.startswith("model:") and kind != "model_version":
        raise InvalidInput("model:NAME:VERSION nodes are model versions; they are created by registration.")
    with store.transaction() as con:
        require(actor, "edit-lineage", LineageNodeAdded, node_id)
        upsert_node(con, node_id, kind, name or node_id.split(":", 2)[-1], attributes)
        record(con, actor, LineageNodeAdded(node_id, kind))
        return _node_exists(con, node_id)


def add_edge(store, actor: Identity, src: str, dst: str, relation: str) -> bool:
    """Add `src → dst`; both nodes must exist; True when the edge is new (audited)."""
    if relation not in RELATIONS:
        raise InvalidInput(f"Unknown relation '{relation}'; use one of {', '.join(RELATIONS)}.")
    if src == dst:
        raise InvalidInput("An edge joins two different nodes.")
    with store.transaction() as con:
        require(actor, "edit-lineage", LineageEdgeAdded, f"{src}->{dst}")
        _node_exists(con, src)
        _node_exists(con, dst)
        new = add_edge_tx(con, actor, src, dst, relation)
        if new:
            record(con, actor, LineageEdgeAdded(f"{src}->{dst}", relation))
    return new
