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
from dataclasses import dataclass, field
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


@dataclass
class Graph:
    node: str
    nodes: list[dict[str, Any]] = field(default_factory=list)  # {id, kind, name, depth, ...}
    edges: list[dict[str, str]] = field(default_factory=list)  # {from, to, relation}

    def as_dict(self) -> dict[str, Any]:
        return {"node": self.node,
                "nodes": [{k: n[k] for k in ("id", "kind", "name", "depth")} for n in self.nodes],
                "edges": self.edges}


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
    with _no_cycle_collection():
        return Graph(node_id, _node_rows(ix, reached.tolist(), hops[reached].tolist()),
                     _edge_rows(ix, np.flatnonzero(keep).tolist(), ix.src[keep].tolist(), ix.dst[keep].tolist()))


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


def _node_rows(ix, numbers: list[int], depths: list[int]) -> list[dict[str, Any]]:
    ids, kinds, names, attrs = ix.ids, ix.kinds, ix.names, ix.attributes
    return [{"id": ids[i], "kind": kinds[i], "name": names[i], "depth": d,
             "attributes": _attributes(attrs[i]) if i in attrs else {}} for i, d in zip(numbers, depths)]


def _edge_rows(ix, numbers: list[int], src: list[int], dst: list[int]) -> list[dict[str, str]]:
    ids, rel = ix.ids, ix.relation
    return [{"from": a, "to": b, "relation": r} for a, b, r in zip(map(ids.__getitem__, src), map(ids.__getitem__, dst),
                                                                    map(rel.__getitem__, numbers))]


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
        hit = [n for n in g.nodes if n["kind"] in ("model_version", "deployment")]
        live = {f"deployment:{m}:{e}:{i}": (m, v, e, r) for i, m, v, e, r in con.execute(
            "SELECT d.id, m.name, v.version, d.environment, d.role FROM deployments d JOIN model_versions v ON "
            "v.id = d.version_id JOIN models m ON m.id = v.model_id WHERE d.until IS NULL").fetchall()}
    live_versions = {f"model:{m}:{v}": (e, r) for m, v, e, r in live.values()}
    for n in hit:
        n["active"] = n["id"] in live or n["id"] in live_versions
        if n["id"] in live:
            n["environment"], n["role"] = live[n["id"]][2], live[n["id"]][3]
        elif n["id"] in live_versions:
            n["environment"], n["role"] = live_versions[n["id"]]
    keep = {n["id"] for n in hit} | {node_id}
    g.nodes = hit
    g.edges = [e for e in g.edges if e["to"] in keep]
    return g


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
    found = {ix.ids[i]: (ix.kinds[i], ix.names[i]) for i in numbers if ix.known[i]}
    steps = list(zip(trail, trail[1:]))
    # The relation of each step: the smallest of the edges joining its two nodes (edges are sorted by src,
    # dst, relation, so the first one found is it).
    relation = {}
    for k in np.flatnonzero(np.isin(ix.src, numbers[:-1]) & np.isin(ix.dst, numbers[1:])).tolist():
        relation.setdefault((ix.ids[ix.src[k]], ix.ids[ix.dst[k]]), ix.relation[k])
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
        edges = con.execute("SELECT src, dst, relation FROM lineage_edges WHERE list_contains(?, src) AND "
                            "list_contains(?, dst)", [ids, ids]).fetchall()
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
