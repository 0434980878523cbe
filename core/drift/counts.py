"""The SQL part of drift: each column reduced to counts per (window, value) inside DuckDB.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..sql import quote
from .stattests import ks_p_values

NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                 "UBIGINT", "FLOAT", "DOUBLE", "REAL", "DECIMAL")


ALL = "__all__"


NO_WINDOW = -9223372036854775807  # rows whose time could not be read



def describe(con, relation: str) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()}


def kind_of(sql_type: str) -> str:
    base = sql_type.split("(")[0].upper()
    return "numeric" if base in NUMERIC_TYPES else "categorical"


def numeric_rows(con, ref: str, cur: str, col: str, wexpr: str, windowed: bool) -> dict[str, Any]:
    """Per window: n, missing, KS statistic, Wasserstein, PSI counts, distinct values; reference summary.

    DuckDB reduces the rows to counts per (window, value) in one pass; the exact empirical CDFs are then
    evaluated on those counts (never on raw rows) over the union of reference and current values.
    """
    c = quote(col)
    valid = f"{c} IS NOT NULL AND NOT isnan(CAST({c} AS DOUBLE))"
    r = con.execute(f"""SELECT count(*), count({c}) FILTER ({valid}), stddev_pop(CAST({c} AS DOUBLE)) FILTER ({valid}),
                               quantile_cont(CAST({c} AS DOUBLE), [0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9]) FILTER ({valid}),
                               min(CAST({c} AS DOUBLE)) FILTER ({valid}), max(CAST({c} AS DOUBLE)) FILTER ({valid})
                        FROM {ref}""").fetchall()[0]
    n_ref_rows, n_ref, std_ref, deciles, ref_min, ref_max = r
    edges = np.array(sorted(set(float(x) for x in (deciles or []))))
    # One pass over the current rows: counts per window and value (missing values as x = NULL).
    con.execute(f"""CREATE OR REPLACE TEMP TABLE drift_cur AS
        SELECT w, CASE WHEN isnan(x) THEN NULL ELSE x END AS x, count(*) AS c
        FROM (SELECT {wexpr} AS w, CAST({c} AS DOUBLE) AS x FROM {cur}) GROUP BY ALL""")
    lo = ref_min if ref_min is not None else 0.0
    hi = ref_max if ref_max is not None else 0.0
    per_w: dict[str, dict[str, Any]] = {}
    for w, missing, n, oor in con.execute(f"""
            SELECT coalesce(w, {NO_WINDOW}), coalesce(sum(c) FILTER (x IS NULL), 0), coalesce(sum(c) FILTER (x IS NOT NULL), 0),
                   coalesce(sum(c) FILTER (x IS NOT NULL AND (x < {lo!r} OR x > {hi!r})), 0)
            FROM drift_cur GROUP BY w""").fetchall():
        key = ALL if not windowed else ("None" if w == NO_WINDOW else window_label(int(w)))
        per_w[key] = {"missing": int(missing), "n": int(n), "out_of_range": int(oor)}
    if windowed:
        per_w[ALL] = {k: sum(d[k] for d in per_w.values()) for k in ("missing", "n", "out_of_range")}
        per_w.pop("None", None)
    cur_np = con.execute("SELECT coalesce(w, -9223372036854775807) AS w, x, c FROM drift_cur WHERE x IS NOT NULL "
                         "ORDER BY w").fetchnumpy()
    ref_np = con.execute(f"SELECT CAST({c} AS DOUBLE) AS x, count(*) AS r FROM {ref} WHERE {valid} GROUP BY 1 ORDER BY 1"
                         ).fetchnumpy()
    rx, rc = np.asarray(ref_np["x"], dtype=float), np.asarray(ref_np["r"], dtype=float)
    wv, xv, cv = np.asarray(cur_np["w"]), np.asarray(cur_np["x"], dtype=float), np.asarray(cur_np["c"], dtype=float)
    groups: list[tuple[str, np.ndarray, np.ndarray]] = []
    if len(wv):
        cuts = np.flatnonzero(wv[1:] != wv[:-1]) + 1
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(wv)]):
            if wv[a] == NO_WINDOW:  # a time that could not be read: in the overall comparison only
                continue
            groups.append((ALL if not windowed else window_label(int(wv[a])), xv[a:b], cv[a:b]))
    if windowed and len(xv):
        ux, inv = np.unique(xv, return_inverse=True)
        groups.append((ALL, ux, np.bincount(inv, weights=cv, minlength=len(ux))))
    ref_bins = np.bincount(np.searchsorted(edges, rx, side="left"), weights=rc, minlength=len(edges) + 1)
    low_card = len(rx) <= 5
    small = {}
    for w, xs, cs in groups:
        d = per_w.setdefault(w, {"missing": 0, "n": int(cs.sum()), "out_of_range": 0})
        # One sort gives the union of both samples' values and where each value sits in it.
        grid, pos = np.unique(np.concatenate([xs, rx]), return_inverse=True)
        fc = np.cumsum(np.bincount(pos[:len(xs)], weights=cs, minlength=len(grid))) / cs.sum()
        fr = np.cumsum(np.bincount(pos[len(xs):], weights=rc, minlength=len(grid))) / max(rc.sum(), 1)
        diff = np.abs(fc - fr)
        d["ks"] = float(diff.max()) if len(diff) else 0.0
        d["wd"] = float(np.sum(diff[:-1] * np.diff(grid))) if len(grid) > 1 else 0.0
        d["n_values"] = int(len(grid))
        bins = np.bincount(np.searchsorted(edges, xs, side="left"), weights=cs, minlength=len(edges) + 1)
        d["bins"] = {i: int(v) for i, v in enumerate(bins)}
        if low_card:
            small[w] = {float(x): int(n) for x, n in zip(xs, cs)}
    con.execute("DROP TABLE IF EXISTS drift_cur")
    ks_p_values(per_w, int(n_ref or 0))
    return {"n_ref": int(n_ref or 0), "n_ref_rows": int(n_ref_rows), "std_ref": std_ref, "edges": list(edges),
            "ref_bins": {i: int(v) for i, v in enumerate(ref_bins)}, "windows": per_w, "small": small,
            "ref_small": {float(x): int(n) for x, n in zip(rx, rc)} if low_card else {}, "low_card": low_card}


def categorical_rows(con, ref: str, cur: str, col: str, wexpr: str, windowed: bool) -> dict[str, Any]:
    c = quote(col)
    ref_counts = {v: int(n) for v, n in con.execute(
        f"SELECT CAST({c} AS VARCHAR), count(*) FROM {ref} WHERE {c} IS NOT NULL GROUP BY ALL").fetchall()}
    rows = con.execute(f"""SELECT {wexpr} AS w, CAST({c} AS VARCHAR) AS v, count(*) FROM {cur} GROUP BY ALL""").fetchall()
    per_w: dict[str, dict[str, Any]] = {}
    for w, v, n in rows:
        keys = ([window_label(int(w))] if w is not None else []) + [ALL] if windowed else [ALL]
        for k in keys:
            d = per_w.setdefault(k, {"counts": {}, "missing": 0})
            if v is None:
                d["missing"] += int(n)
            else:
                d["counts"][v] = d["counts"].get(v, 0) + int(n)
    return {"ref_counts": ref_counts, "n_ref": sum(ref_counts.values()), "windows": per_w}

def window_label(epoch_seconds: int) -> str:
    """A window's start as the text DuckDB gives CAST(TIMESTAMP AS VARCHAR)."""
    from datetime import datetime, timezone

    return datetime.fromtimestamp(epoch_seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
