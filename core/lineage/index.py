"""The lineage graph as arrays, so that a walk over 100,000 edges takes milliseconds instead of a recursive join.

A recursive CTE in DuckDB joins the frontier against every edge once per level: a walk 50 levels deep over
100,000 edges costs about 100 ms before a row is fetched, and turning 20,000 reached nodes and 35,000 edges
into Python rows costs as much again. Here the graph is read once into integer arrays (forward and backward
adjacency in CSR form, node ids sorted so that an index order is the id order) and walked level by level with
numpy.

The arrays are kept per process and keyed by a fingerprint of both lineage tables (row counts, and the sum
of a hash of every row, computed by DuckDB in a few milliseconds), read at the start of every query:
any write, from this process or another, through core or not, changes the fingerprint, and the next query
rebuilds. The fingerprint is read before the tables, so an index is never older than its key.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

# Read before every walk, so it is kept cheap: one 64-bit hash per row, summed into a HUGEINT (the XOR of the
# same hashes, read before, added a quarter to the cost and nothing a sum with the row count misses by chance).
_STAMP = """
    SELECT (SELECT (count(*), sum(hash(src, dst, relation))) FROM lineage_edges),
           (SELECT (count(*), sum(hash(id, kind, name, attributes))) FROM lineage_nodes)"""

# Every id an edge or a node names, numbered in id order (byte order, as DuckDB sorts VARCHAR and as Python
# compares str), so sorting by number sorts by id.
_IDS = """
    CREATE OR REPLACE TEMP TABLE lineage_ids AS
    SELECT id, (row_number() OVER (ORDER BY id) - 1)::INTEGER AS i
    FROM (SELECT id FROM lineage_nodes UNION SELECT src FROM lineage_edges UNION SELECT dst FROM lineage_edges) AS u"""

# The same on PostgreSQL: its hash of a row is hashtext (32 bits) and ids sort in byte order by the "C" collation.
_STAMP_PG = """
    SELECT (SELECT count(*) FROM lineage_edges),
           (SELECT sum(hashtext(src || chr(1) || dst || chr(1) || relation)::BIGINT) FROM lineage_edges),
           (SELECT count(*) FROM lineage_nodes),
           (SELECT sum(hashtext(id || chr(1) || kind || chr(1) || name || chr(1) || CAST(attributes AS TEXT))::BIGINT)
            FROM lineage_nodes)"""
_IDS_PG = """
    DROP TABLE IF EXISTS lineage_ids;
    CREATE TEMP TABLE lineage_ids AS
    SELECT id, CAST(row_number() OVER (ORDER BY id COLLATE "C") - 1 AS INTEGER) AS i
    FROM (SELECT id FROM lineage_nodes UNION SELECT src FROM lineage_edges UNION SELECT dst FROM lineage_edges) AS u"""


def _postgres(con) -> bool:
    return getattr(con, "dialect", "") == "postgresql"


@dataclass
class Index:
    ids: list[str]  # sorted, for `number`'s binary search
    id_array: np.ndarray  # the same ids as an object array, and each node's kind and name: a walk's rows are
    kind_array: np.ndarray  # taken from them column by column (an edge end without a node row is kind "other",
    name_array: np.ndarray  # named by its id)
    attributes: dict[int, str]  # the JSON text of the nodes whose attributes are not empty
    has_attributes: np.ndarray  # bool per id: a key of `attributes`
    known: np.ndarray  # bool per id: a row of lineage_nodes (an edge may name a node nobody added)
    src: np.ndarray  # edges sorted by (src, dst, relation): both ends as numbers
    dst: np.ndarray
    relation_array: np.ndarray  # object array, per edge
    down: tuple[np.ndarray, np.ndarray, np.ndarray]  # CSR (indptr, neighbour, edge number) of src -> dst
    up: tuple[np.ndarray, np.ndarray, np.ndarray]  # dst -> src

    def number(self, node_id: str) -> int | None:
        """The number of `node_id`, by binary search in the sorted ids."""
        from bisect import bisect_left

        i = bisect_left(self.ids, node_id)
        return i if i < len(self.ids) and self.ids[i] == node_id else None

    def walk(self, start: int, direction: str, limit: int) -> np.ndarray:
        """Hops from `start` to every node reached `direction` within `limit` hops, -1 where not reached."""
        indptr, neighbour, _ = self.down if direction == "downstream" else self.up
        depth = np.full(len(self.ids), -1, dtype=np.int32)
        depth[start] = 0
        frontier = np.array([start], dtype=np.int64)
        level = 0
        while frontier.size and level < limit:
            reached = _neighbours(indptr, neighbour, frontier)
            reached = np.unique(reached[depth[reached] < 0])
            level += 1
            depth[reached] = level
            frontier = reached
        return depth

    def parents(self, start: int, goal: int, limit: int) -> list[int] | None:
        """A shortest downstream path from `start` to `goal` within `limit` hops (node numbers), or None.

        Breadth-first; a node reached from several nodes of the level before keeps the one with the smallest
        id, so the answer does not depend on the order edges were added."""
        indptr, neighbour, _ = self.down
        parent = np.full(len(self.ids), -2, dtype=np.int64)
        parent[start] = -1
        frontier = np.array([start], dtype=np.int64)
        level = 0
        while frontier.size and level < limit and parent[goal] == -2:
            counts = indptr[frontier + 1] - indptr[frontier]
            reached = _neighbours(indptr, neighbour, frontier)
            origin = np.repeat(frontier, counts)
            new = parent[reached] == -2
            reached, origin = reached[new], origin[new]
            order = np.lexsort((origin, reached))  # per reached node, its smallest-id parent first
            reached, origin = reached[order], origin[order]
            first = np.ones(reached.size, dtype=bool)
            first[1:] = reached[1:] != reached[:-1]
            parent[reached[first]] = origin[first]
            frontier = reached[first]
            level += 1
        if parent[goal] == -2:
            return None
        trail = [goal]
        while parent[trail[-1]] != -1:
            trail.append(int(parent[trail[-1]]))
        return trail[::-1]


def _neighbours(indptr: np.ndarray, neighbour: np.ndarray, frontier: np.ndarray) -> np.ndarray:
    """Every neighbour (with repeats) of the nodes in `frontier`, in CSR order."""
    starts = indptr[frontier]
    counts = indptr[frontier + 1] - starts
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    # Position k of the output reads neighbour[starts[j] + (k - offset of j)] for the frontier node j it falls in.
    offsets = np.cumsum(counts) - counts
    return neighbour[np.repeat(starts - offsets, counts) + np.arange(total)]


def _csr(frm: np.ndarray, to: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.argsort(frm, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(frm, minlength=n), out=indptr[1:])
    return indptr, to[order].astype(np.int64), order


_lock = threading.Lock()
_cache: dict[Any, Index] = {}


def index(con) -> Index:
    """The lineage graph the connection sees now, from the process's cache when the tables have not changed."""
    stamp = con.execute(_STAMP_PG if _postgres(con) else _STAMP).fetchone()
    with _lock:
        found = _cache.get(stamp)
    if found is not None:
        return found
    built = _build(con)
    with _lock:
        _cache.clear()  # one graph per process: a dashboard serves one store
        _cache[stamp] = built
    return built


def _build(con) -> Index:
    con.execute(_IDS_PG if _postgres(con) else _IDS)
    try:
        # Column-wise (numpy) fetches: a list of 50,000 Python tuples, taken apart again, cost more than the query.
        nodes = con.execute("""
            SELECT x.id, n.id IS NOT NULL AS known, coalesce(n.kind, 'other') AS kind, coalesce(n.name, x.id) AS name,
                   coalesce(CAST(n.attributes AS VARCHAR), '{}') AS attributes
            FROM lineage_ids x LEFT JOIN lineage_nodes n ON n.id = x.id ORDER BY x.i""").fetchnumpy()
        edges = con.execute("""
            SELECT a.i AS src, b.i AS dst, e.relation FROM lineage_edges e
            JOIN lineage_ids a ON a.id = e.src JOIN lineage_ids b ON b.id = e.dst
            ORDER BY a.i, b.i, e.relation""").fetchnumpy()
    finally:
        con.execute("DROP TABLE IF EXISTS lineage_ids")
    id_array = np.asarray(nodes["id"], dtype=object)
    n = len(id_array)
    text = np.asarray(nodes["attributes"], dtype=object)
    has_attributes = text != "{}"
    attributes = dict(zip(np.flatnonzero(has_attributes).tolist(), text[has_attributes].tolist()))
    src = np.asarray(edges["src"], dtype=np.int64)
    dst = np.asarray(edges["dst"], dtype=np.int64)
    return Index(id_array.tolist(), id_array, np.asarray(nodes["kind"], dtype=object),
                 np.asarray(nodes["name"], dtype=object), attributes, has_attributes,
                 np.asarray(nodes["known"], dtype=bool), src, dst, np.asarray(edges["relation"], dtype=object),
                 _csr(src, dst, n), _csr(dst, src, n))
