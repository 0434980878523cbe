"""The SQL part of drift: each column reduced to counts per (window, value) inside DuckDB.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine import dialect_of
from ..sql import quote
from . import ecdf
from .stattests import ks_p_value_array, ks_statistics

NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                 "UBIGINT", "FLOAT", "DOUBLE", "REAL", "DECIMAL")


ALL = "__all__"


NO_WINDOW = -9223372036854775807  # rows whose time could not be read



def describe(con, relation: str) -> dict[str, str]:
    """Column name → DuckDB type name (a Spark connection maps its types to those names)."""
    return dialect_of(con).describe(con, relation)


def kind_of(sql_type: str) -> str:
    base = sql_type.split("(")[0].upper()
    return "numeric" if base in NUMERIC_TYPES else "categorical"


def numeric_rows(con, ref: str, cur: str, col: str, wexpr: str, windowed: bool) -> dict[str, Any]:
    """One numeric column: per window n, missing, exact KS statistic and p-value, Wasserstein, PSI, distinct values;
    the reference summary.

    DuckDB reduces each side to counts per (window, value) in one grouped scan (`numeric_counts`); `ecdf.compare`
    evaluates the exact empirical CDFs on those counts for all windows at once (`numeric_summary`), never on raw
    rows, never one window at a time.
    """
    return numeric_summary(numeric_counts(con, ref, cur, col, wexpr, windowed), windowed)


def numeric_counts(con, ref: str, cur: str, col: str, wexpr: str, windowed: bool) -> tuple[np.ndarray, ...]:
    """The SQL half of `numeric_rows`: reference (value, count) and current (window epoch, value, count), NULL
    and NaN as NaN. Only this half touches the connection; its SQL is the same for every engine but for the
    dialect's spelling of a few pieces (core/engine.py)."""
    d = dialect_of(con)
    x_sql = d.double_or_nan(d.quote(col))
    r = con.execute(f"SELECT {x_sql} AS x, count(*) AS n FROM {ref} GROUP BY 1").fetchnumpy()
    if windowed:
        q = con.execute(f"SELECT coalesce({wexpr}, {NO_WINDOW}) AS w, {x_sql} AS x, count(*) AS n FROM {cur} GROUP BY ALL"
                        ).fetchnumpy()
        epochs = np.asarray(q["w"], dtype=np.int64)
    else:
        q = con.execute(f"SELECT {x_sql} AS x, count(*) AS n FROM {cur} GROUP BY 1").fetchnumpy()
        epochs = np.zeros(len(q["n"]), dtype=np.int64)
    return (np.asarray(r["x"], dtype=float), np.asarray(r["n"], dtype=np.int64), epochs,
            np.asarray(q["x"], dtype=float), np.asarray(q["n"], dtype=np.int64))


def numeric_counts_many(con, ref: str, cur: str, cols: list[str], wexpr: str, windowed: bool
                        ) -> dict[str, tuple[np.ndarray, ...]]:
    """`numeric_counts` of several columns in one scan of each side (the columns stacked as (column, value) rows):
    what `numeric_counts` returns for each, for an engine whose every statement is a job with a fixed cost (Spark).
    """
    d = dialect_of(con)
    pairs = ", ".join(f"{i}, {d.double_or_nan(d.quote(c))}" for i, c in enumerate(cols))
    stacked = f"stack({len(cols)}, {pairs}) AS (i, x)"
    r = con.execute(f"SELECT i, x, count(*) AS n FROM (SELECT {stacked} FROM {ref}) GROUP BY i, x").fetchnumpy()
    w_sql = f"coalesce({wexpr}, {NO_WINDOW})" if windowed else "0"
    q = con.execute(f"SELECT i, w, x, count(*) AS n FROM (SELECT {w_sql} AS w, {stacked} FROM {cur}) GROUP BY i, w, x"
                    ).fetchnumpy()
    ri, qi = np.asarray(r["i"], dtype=np.int64), np.asarray(q["i"], dtype=np.int64)
    rx, rn = np.asarray(r["x"], dtype=float), np.asarray(r["n"], dtype=np.int64)
    qw, qx, qn = np.asarray(q["w"], dtype=np.int64), np.asarray(q["x"], dtype=float), np.asarray(q["n"], dtype=np.int64)
    return {c: (rx[ri == i], rn[ri == i], qw[qi == i], qx[qi == i], qn[qi == i]) for i, c in enumerate(cols)}


def numeric_summary(counts: tuple[np.ndarray, ...], windowed: bool) -> dict[str, Any]:
    """The numpy half of `numeric_rows` (no connection: it may run in another thread while DuckDB scans on)."""
    rx, rn, epochs, xv, cv = counts
    reference = ecdf.Reference.from_counts(rx, rn, int(rn.sum()))
    keys, w = np.unique(epochs, return_inverse=True)
    w = w.astype(np.int64)
    labels = [ALL] if not windowed else [("None" if k == NO_WINDOW else window_label(int(k))) for k in keys]
    if windowed:  # the overall comparison: every row, including those whose time could not be read
        labels.append(ALL)
        valid = ~np.isnan(xv)
        ux, inv = np.unique(xv[valid], return_inverse=True)
        all_c = np.bincount(inv, weights=cv[valid], minlength=len(ux)).astype(np.int64)
        all_missing = int(cv[~valid].sum())
    n_w = len(labels)
    missing = np.bincount(w, weights=cv * np.isnan(xv), minlength=n_w).astype(np.int64)
    valid = ~np.isnan(xv)
    cw, cx, cc = w[valid], xv[valid], cv[valid]
    if windowed:
        cw = np.concatenate([cw, np.full(len(ux), n_w - 1, dtype=np.int64)])
        cx, cc = np.concatenate([cx, ux]), np.concatenate([cc, all_c])
        missing[n_w - 1] = all_missing
    stats = ecdf.compare(reference, cw, cx, cc, n_w)
    low_card = len(reference.values) <= 5
    per_w: dict[str, dict[str, Any]] = {}
    n_ref = reference.n
    stats.ks = ks_statistics(stats.ks, n_ref, stats.n)
    p_values = ks_p_value_array(stats.ks, n_ref, stats.n)
    for i, key in enumerate(labels):
        if key == "None":
            continue
        d: dict[str, Any] = {"missing": int(missing[i]), "n": int(stats.n[i]), "out_of_range": int(stats.out_of_range[i])}
        if stats.n[i]:
            d.update(ks=float(stats.ks[i]), wd=float(stats.wd[i]), n_values=int(stats.n_values[i]),
                     bins=stats.bins[i], ks_p=p_values[i])
        per_w[key] = d
    small = {}
    if low_card:
        for i, key in enumerate(labels):
            sel = cw == i
            small[key] = {float(v): int(k) for v, k in zip(cx[sel], cc[sel])}
    return {"n_ref": n_ref, "n_ref_rows": reference.rows, "std_ref": reference.std, "edges": list(reference.edges),
            "ref_bins": reference.bins(), "windows": per_w, "small": small,
            "ref_small": {float(v): int(k) for v, k in zip(reference.values, reference.counts)} if low_card else {},
            "low_card": low_card,
            "infinite": (int(reference.counts[np.isinf(reference.values)].sum()), int(cv[np.isinf(xv)].sum()))}


def categorical_rows(con, ref: str, cur: str, col: str, wexpr: str, windowed: bool) -> dict[str, Any]:
    d = dialect_of(con)
    c = d.quote(col)
    ref_counts = {v: int(n) for v, n in con.execute(
        f"SELECT {d.text(c)}, count(*) FROM {ref} WHERE {c} IS NOT NULL GROUP BY ALL").fetchall()}
    rows = con.execute(f"""SELECT {wexpr} AS w, {d.text(c)} AS v, count(*) FROM {cur} GROUP BY ALL""").fetchall()
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
