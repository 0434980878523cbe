"""Data drift between a reference and a current sample, computed inside DuckDB, per column and per window.

The heavy work is SQL: one aggregation of the current rows per column into (window, value, count), from
which the empirical CDFs (Kolmogorov–Smirnov statistic, Wasserstein distance), the PSI bins and the
category counts all follow. Python only turns the per-window summaries into p-values and verdicts.

Definitions (reproducible; docs/monitoring.md explains them):
- PSI: the reference deciles (numpy's default linear interpolation, duplicates removed) are the inner
  edges of right-closed bins; categorical columns use their categories. Empty-bin proportions become
  0.0001. PSI = Σ (cur − ref) · ln(cur / ref).
- KS: statistic and p-value equal `scipy.stats.ks_2samp(ref, cur)` with its default method ('auto': exact
  when both samples have at most 10,000 values, else the asymptotic `kstwo` distribution).
- Wasserstein: `scipy.stats.wasserstein_distance(ref, cur)` divided by max(np.std(ref), 0.001), as Evidently.
- chi-square p-value: homogeneity test on the 2×k table of counts without continuity correction
  (`scipy.stats.chi2_contingency(table, correction=False)`).
- Jensen–Shannon: `scipy.spatial.distance.jensenshannon(p_ref, p_cur)` (natural logarithm) on the
  category proportions.
- Verdict per column as Evidently's DataDriftPreset: reference ≤ 1,000 values → numeric: KS p ≤ 0.05
  (chi-square goodness of fit p < 0.05 when ≤ 5 distinct values, two-proportion z-test when ≤ 2);
  categorical: chi-square goodness of fit (z-test when ≤ 2 values). Reference > 1,000 values →
  numeric: normalised Wasserstein ≥ 0.1 (Jensen–Shannon ≥ 0.1 when ≤ 5 distinct values);
  categorical: Jensen–Shannon ≥ 0.1. Dataset drift when at least half the columns drift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

from .errors import InvalidInput

NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                 "UBIGINT", "FLOAT", "DOUBLE", "REAL", "DECIMAL")
WINDOWS = ("hour", "day", "week")
METHODS = ("ks", "wasserstein", "psi", "jensenshannon", "chisquare", "z")
DEFAULT_THRESHOLDS = {"ks": 0.05, "wasserstein": 0.1, "psi": 0.1, "jensenshannon": 0.1, "chisquare": 0.05, "z": 0.05}
P_VALUE_METHODS = ("ks", "chisquare", "z")
EMPTY = 0.0001
ALL = "__all__"
NO_WINDOW = -9223372036854775807  # rows whose time could not be read


def _label(epoch_seconds: int) -> str:
    """A window's start as the text DuckDB gives CAST(TIMESTAMP AS VARCHAR)."""
    from datetime import datetime, timezone

    return datetime.fromtimestamp(epoch_seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class DriftConfig:
    """Per-column overrides: {"AGE": {"kind": "categorical", "method": "psi", "threshold": 0.2}}."""

    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    drift_share: float = 0.5

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "DriftConfig":
        d = d or {}
        cfg = cls(columns=dict(d.get("columns", {})), drift_share=float(d.get("drift_share", 0.5)))
        cfg.validate()
        return cfg

    def validate(self) -> None:
        if not 0 < self.drift_share <= 1:
            raise InvalidInput(f"drift_share must lie in (0, 1]; got {self.drift_share}.")
        for col, c in self.columns.items():
            if c.get("kind") not in (None, "numeric", "categorical"):
                raise InvalidInput(f"Column {col}: kind must be numeric or categorical, not {c.get('kind')!r}.")
            if c.get("method") not in (None, *METHODS):
                raise InvalidInput(f"Column {col}: method must be one of {', '.join(METHODS)}, not {c.get('method')!r}.")
            if c.get("threshold") is not None and not isinstance(c["threshold"], (int, float)):
                raise InvalidInput(f"Column {col}: threshold must be a number.")

    def as_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "drift_share": self.drift_share}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ks_p_value(d: float, n1: int, n2: int) -> float:
    """The two-sided p-value `scipy.stats.ks_2samp` reports for statistic d and sizes n1, n2 (method 'auto')."""
    if n1 == 0 or n2 == 0:
        return float("nan")
    g = math.gcd(n1, n2)
    if max(n1, n2) <= 10000:
        try:
            from scipy.stats._stats_py import _attempt_exact_2kssamp

            ok, _d, prob = _attempt_exact_2kssamp(n1, n2, g, d, "two-sided")
            if ok:
                return float(np.clip(prob, 0, 1))
        except ImportError:  # a SciPy without the helper: fall through to the asymptotic formula, like scipy does
            pass
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    return float(np.clip(stats.distributions.kstwo.sf(d, np.round(en)), 0, 1))


def _ks_p_values(per_w: dict[str, dict[str, Any]], n_ref: int) -> None:
    """All windows' KS p-values at once where scipy would use the asymptotic distribution (one vectorised
    `kstwo.sf` call instead of one per window); the exact cases are left to `ks_p_value`."""
    keys = [w for w, d in per_w.items() if d.get("ks") is not None and d.get("n") and max(n_ref, d["n"]) > 10000]
    if not keys or n_ref == 0:
        return
    m = np.maximum(n_ref, [per_w[w]["n"] for w in keys]).astype(float)
    k = np.minimum(n_ref, [per_w[w]["n"] for w in keys]).astype(float)
    p = np.clip(stats.distributions.kstwo.sf([per_w[w]["ks"] for w in keys], np.round(m * k / (m + k))), 0, 1)
    for w, v in zip(keys, p):
        per_w[w]["ks_p"] = float(v)


def psi(ref_props: np.ndarray, cur_props: np.ndarray) -> float:
    r = np.where(ref_props == 0, EMPTY, ref_props)
    c = np.where(cur_props == 0, EMPTY, cur_props)
    return float(np.sum((c - r) * np.log(c / r)))


def _z_p_value(ref_counts: dict, cur_counts: dict) -> float:
    """Evidently's two-proportion z-test on the share of the first (sorted) value."""
    keys = sorted(set(ref_counts) | set(cur_counts), key=lambda k: (str(type(k)), k))
    if len(keys) == 1:
        return 1.0
    n1, n2 = sum(ref_counts.values()), sum(cur_counts.values())
    p1 = 1 - ref_counts.get(keys[0], 0) / n1
    p2 = 1 - cur_counts.get(keys[0], 0) / n2
    P = (p1 * n1 + p2 * n2) / (n1 + n2)
    if P in (0.0, 1.0):
        return 1.0 if p1 == p2 else 0.0
    z = (p1 - p2) / math.sqrt(P * (1 - P) * (1 / n1 + 1 / n2))
    return float(2 * (1 - stats.norm.cdf(abs(z))))


def _chisquare_gof_p_value(ref_counts: dict, cur_counts: dict) -> float:
    """Evidently's chi-square: current counts against reference proportions scaled to the current size."""
    keys = list(set(ref_counts) | set(cur_counts))
    n_ref, n_cur = sum(ref_counts.values()), sum(cur_counts.values())
    f_exp = np.array([ref_counts.get(k, 0) * n_cur / n_ref for k in keys], dtype=float)
    f_obs = np.array([cur_counts.get(k, 0) for k in keys], dtype=float)
    if (f_exp == 0).any():  # a value the reference never had: certain drift (scipy would divide by zero)
        return 0.0
    return float(stats.chisquare(f_obs, f_exp)[1])


def _homogeneity_p_value(ref_counts: dict, cur_counts: dict) -> float | None:
    keys = sorted(set(ref_counts) | set(cur_counts), key=str)
    table = np.array([[ref_counts.get(k, 0) for k in keys], [cur_counts.get(k, 0) for k in keys]], dtype=float)
    if table.shape[1] < 2:
        return 1.0
    return float(stats.chi2_contingency(table, correction=False)[1])


def _js(ref_counts: dict, cur_counts: dict) -> float:
    keys = sorted(set(ref_counts) | set(cur_counts), key=str)
    p = np.array([ref_counts.get(k, 0) for k in keys], dtype=float)
    q = np.array([cur_counts.get(k, 0) for k in keys], dtype=float)
    return float(jensenshannon(p / p.sum(), q / q.sum()))


def default_method(kind: str, n_ref: int, n_values: int) -> str:
    """Evidently's DataDriftPreset choice (stattests registry, `_get_default_stattest`)."""
    if n_ref <= 1000:
        if kind == "numeric":
            if n_values <= 5:
                return "chisquare" if n_values > 2 else "z"
            return "ks"
        return "chisquare" if n_values > 2 else "z"
    if kind == "numeric":
        return "jensenshannon" if n_values <= 5 else "wasserstein"
    return "jensenshannon"


def _verdict(method: str, score: float, threshold: float) -> bool:
    if method == "ks":
        return score <= threshold
    if method in ("chisquare", "z"):
        return score < threshold
    return score >= threshold


# --- the SQL part ------------------------------------------------------------------------------------

def describe(con, relation: str) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()}


def kind_of(sql_type: str) -> str:
    base = sql_type.split("(")[0].upper()
    return "numeric" if base in NUMERIC_TYPES else "categorical"


def _numeric_rows(con, ref: str, cur: str, col: str, wexpr: str, windowed: bool) -> dict[str, Any]:
    """Per window: n, missing, KS statistic, Wasserstein, PSI counts, distinct values; reference summary.

    DuckDB reduces the rows to counts per (window, value) in one pass; the exact empirical CDFs are then
    evaluated on those counts (never on raw rows) over the union of reference and current values.
    """
    c = _q(col)
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
        key = ALL if not windowed else ("None" if w == NO_WINDOW else _label(int(w)))
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
            groups.append((ALL if not windowed else _label(int(wv[a])), xv[a:b], cv[a:b]))
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
    _ks_p_values(per_w, int(n_ref or 0))
    return {"n_ref": int(n_ref or 0), "n_ref_rows": int(n_ref_rows), "std_ref": std_ref, "edges": list(edges),
            "ref_bins": {i: int(v) for i, v in enumerate(ref_bins)}, "windows": per_w, "small": small,
            "ref_small": {float(x): int(n) for x, n in zip(rx, rc)} if low_card else {}, "low_card": low_card}


def _categorical_rows(con, ref: str, cur: str, col: str, wexpr: str, windowed: bool) -> dict[str, Any]:
    c = _q(col)
    ref_counts = {v: int(n) for v, n in con.execute(
        f"SELECT CAST({c} AS VARCHAR), count(*) FROM {ref} WHERE {c} IS NOT NULL GROUP BY ALL").fetchall()}
    rows = con.execute(f"""SELECT {wexpr} AS w, CAST({c} AS VARCHAR) AS v, count(*) FROM {cur} GROUP BY ALL""").fetchall()
    per_w: dict[str, dict[str, Any]] = {}
    for w, v, n in rows:
        keys = ([_label(int(w))] if w is not None else []) + [ALL] if windowed else [ALL]
        for k in keys:
            d = per_w.setdefault(k, {"counts": {}, "missing": 0})
            if v is None:
                d["missing"] += int(n)
            else:
                d["counts"][v] = d["counts"].get(v, 0) + int(n)
    return {"ref_counts": ref_counts, "n_ref": sum(ref_counts.values()), "windows": per_w}


# --- assembling a report -----------------------------------------------------------------------------

def _column_result(col: str, kind: str, data: dict[str, Any], w: str, cfg: dict[str, Any]) -> dict[str, Any] | None:
    out: dict[str, Any] = {"column": col, "kind": kind, "psi": None, "ks_statistic": None, "ks_p_value": None,
                           "wasserstein": None, "chi2_p_value": None, "js_distance": None}
    if kind == "numeric":
        win = data["windows"].get(w)
        if win is None or not win.get("n"):
            return None
        n_ref, n_cur = data["n_ref"], win["n"]
        if n_ref == 0:
            return None
        d = float(win["ks"])
        out["ks_statistic"] = d
        out["ks_p_value"] = win["ks_p"] if "ks_p" in win else ks_p_value(d, n_ref, n_cur)
        out["wasserstein"] = float(win["wd"]) / max(float(data["std_ref"] or 0.0), 0.001)
        nb = len(data["edges"]) + 1
        rp = np.array([data["ref_bins"].get(i, 0) for i in range(nb)], dtype=float) / n_ref
        cp = np.array([win.get("bins", {}).get(i, 0) for i in range(nb)], dtype=float) / n_cur
        out["psi"] = psi(rp, cp)
        n_values = int(win["n_values"])
        ref_counts, cur_counts = (data["ref_small"], data["small"].get(w, {})) if data["low_card"] else ({}, {})
        out.update(rows_current=n_cur, rows_reference=n_ref, missing=win.get("missing", 0),
                   out_of_range=win.get("out_of_range", 0))
    else:
        win = data["windows"].get(w)
        if win is None or not win["counts"]:
            return None
        ref_counts, cur_counts = data["ref_counts"], win["counts"]
        n_ref, n_cur = data["n_ref"], sum(cur_counts.values())
        if n_ref == 0:
            return None
        keys = sorted(set(ref_counts) | set(cur_counts), key=str)
        rp = np.array([ref_counts.get(k, 0) for k in keys], dtype=float) / n_ref
        cp = np.array([cur_counts.get(k, 0) for k in keys], dtype=float) / n_cur
        out["psi"] = psi(rp, cp)
        out["chi2_p_value"] = _homogeneity_p_value(ref_counts, cur_counts)
        out["js_distance"] = _js(ref_counts, cur_counts)
        n_values = len(keys)
        out.update(rows_current=n_cur, rows_reference=n_ref, missing=win.get("missing", 0),
                   unseen_categories=sorted(k for k in cur_counts if k not in ref_counts)[:20])
    method = cfg.get("method") or default_method(kind, n_ref, n_values)
    threshold = float(cfg["threshold"]) if cfg.get("threshold") is not None else DEFAULT_THRESHOLDS[method]
    score = {"ks": out["ks_p_value"], "wasserstein": out["wasserstein"], "psi": out["psi"]}.get(method)
    if method == "jensenshannon":
        score = out["js_distance"] if kind == "categorical" else _js(ref_counts or {}, cur_counts or {}) \
            if ref_counts else None
    elif method == "chisquare":
        score = _chisquare_gof_p_value(ref_counts, cur_counts) if ref_counts else None
    elif method == "z":
        score = _z_p_value(ref_counts, cur_counts) if ref_counts else None
    if score is None:  # a method that needs categories on a column with many values: fall back to the default
        method = default_method(kind, 1001, 10**6) if kind == "numeric" else "jensenshannon"
        threshold = DEFAULT_THRESHOLDS[method]
        score = out["wasserstein"] if method == "wasserstein" else out["js_distance"]
    out.update(method=method, threshold=threshold, drift_score=score, drifted=bool(_verdict(method, score, threshold)))
    return out


def _dataset(columns: list[dict[str, Any]], share: float) -> tuple[bool, float]:
    if not columns:
        return False, 0.0
    drifted = sum(c["drifted"] for c in columns) / len(columns)
    return drifted >= share, drifted


def report(con, ref: str, cur: str, *, columns: list[str] | None = None, time_column: str | None = None,
           window: str = "day", config: DriftConfig | None = None, time_sql: str | None = None) -> dict[str, Any]:
    """The drift report of `cur` against `ref` (SQL relations) as the CLI's JSON contract."""
    cfg = config or DriftConfig()
    ref_types, cur_types = describe(con, ref), describe(con, cur)
    if columns is None:
        columns = [c for c in ref_types if c != time_column]
    missing = [c for c in columns if c not in cur_types]
    if missing:
        raise InvalidInput(f"The current data lacks column(s) {', '.join(missing[:8])} of the reference.")
    windowed = time_column is not None
    unparsed = 0
    if windowed:
        if window not in WINDOWS:
            raise InvalidInput(f"--window must be one of {', '.join(WINDOWS)}; got {window!r}.")
        if time_column not in cur_types:
            raise InvalidInput(f"The current data has no time column {time_column!r}.")
        ts = time_sql or f"TRY_CAST({_q(time_column)} AS TIMESTAMP)"
        wexpr = f"CAST(epoch(date_trunc('{window}', {ts})) AS BIGINT)"
        unparsed = con.execute(f"SELECT count(*) FROM {cur} WHERE {_q(time_column)} IS NOT NULL AND {ts} IS NULL"
                               ).fetchall()[0][0]
    else:
        wexpr = "0"
    n_ref = con.execute(f"SELECT count(*) FROM {ref}").fetchall()[0][0]
    n_cur = con.execute(f"SELECT count(*) FROM {cur}").fetchall()[0][0]
    if n_ref == 0 or n_cur == 0:
        raise InvalidInput(f"The {'reference' if n_ref == 0 else 'current'} data has no rows to compare.")
    per_col = {}
    for col in columns:
        over = cfg.columns.get(col, {})
        kind = over.get("kind") or kind_of(ref_types[col])
        if kind == "numeric" and kind_of(cur_types[col]) != "numeric":
            raise InvalidInput(f"Column {col} is numeric in the reference but {cur_types[col]} in the current data.")
        fn = _numeric_rows if kind == "numeric" else _categorical_rows
        per_col[col] = (kind, fn(con, ref, cur, col, wexpr, windowed), over)

    def columns_for(w: str) -> list[dict[str, Any]]:
        out = []
        for col, (kind, data, over) in per_col.items():
            r = _column_result(col, kind, data, w, over)
            if r is not None:
                out.append(r)
        return out

    overall = columns_for(ALL)
    drift, share = _dataset(overall, cfg.drift_share)
    result: dict[str, Any] = {"dataset_drift": drift, "drifted_share": share,
                              "rows": {"reference": int(n_ref), "current": int(n_cur)}, "columns": overall,
                              "drift_share_threshold": cfg.drift_share}
    if windowed:
        keys = sorted({w for _k, data, _o in per_col.values() for w in data["windows"] if w not in (ALL, "None")})
        step = {"hour": "1 hour", "day": "1 day", "week": "7 days"}[window]
        wins = []
        for w in keys:
            cols = columns_for(w)
            d, s = _dataset(cols, cfg.drift_share)
            start = np.datetime64(w.replace(" ", "T"))
            end = start + {"hour": np.timedelta64(1, "h"), "day": np.timedelta64(1, "D"),
                           "week": np.timedelta64(7, "D")}[window]
            rows = max((c.get("rows_current", 0) + c.get("missing", 0) for c in cols), default=0)
            wins.append({"start": str(start), "end": str(end), "rows": int(rows), "dataset_drift": d,
                         "drifted_share": s, "columns": cols})
        result["windows"] = wins
        result["time_column"] = {"name": time_column, "window": window, "unparsed": int(unparsed), "step": step}
    return result


def files_report(reference: str, current: str, *, time_column: str | None = None, window: str = "day",
                 config: DriftConfig | None = None) -> dict[str, Any]:
    """`modelgov drift REFERENCE CURRENT`: both files read by DuckDB directly (CSV or Parquet)."""
    import duckdb
    from pathlib import Path

    def rel(path: str) -> str:
        p = Path(path)
        if not p.is_file():
            raise InvalidInput(f"No file {p}; give a CSV or Parquet file.")
        s = str(p.resolve()).replace("'", "''")
        if p.suffix.lower() == ".parquet":
            return f"read_parquet('{s}')"
        if p.suffix.lower() == ".csv":
            return f"read_csv('{s}', header=true, sample_size=-1)"
        raise InvalidInput(f"{p.name} is neither CSV nor Parquet.")

    con = duckdb.connect()
    try:
        try:
            con.execute(f"CREATE TEMP VIEW ref_data AS SELECT * FROM {rel(reference)}")
            con.execute(f"CREATE TEMP VIEW cur_data AS SELECT * FROM {rel(current)}")
            con.execute("SELECT * FROM ref_data LIMIT 1").fetchall()
            con.execute("SELECT * FROM cur_data LIMIT 1").fetchall()
        except duckdb.Error as e:
            raise InvalidInput(f"The data could not be read: {str(e).splitlines()[0]}") from None
        return report(con, "ref_data", "cur_data", time_column=time_column, window=window, config=config)
    finally:
        con.close()
