"""The fast drift path against scipy, attacked: ties, many windows, windows of one row, NULL, NaN and ±inf,
constant and all-missing columns, a single row, huge values, hostile column names.

Every statistic comes from counts per (window, value) (core.drift.ecdf); here each one is recomputed from the raw
values with scipy, window by window.
"""

from __future__ import annotations

import json
import math

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from core.drift import ecdf, report


def _report(ref: pd.DataFrame, cur: pd.DataFrame, **kw):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("ref_df", ref)
    con.register("cur_df", cur)
    try:
        return report.report(con, "ref_df", "cur_df", **kw)
    finally:
        con.close()


def _col(columns, name):
    return next(c for c in columns if c["column"] == name)


def _clean(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return v[~np.isnan(v)]


def _check(c: dict, ref_v, cur_v, *, wd: bool = True) -> None:
    """One column's figures against scipy on the raw values (NaN left out, as missing)."""
    r, k = _clean(ref_v), _clean(cur_v)
    ks = stats.ks_2samp(r, k)
    assert c["ks_statistic"] == ks.statistic  # exact: the same integers divided the same way
    assert c["ks_p_value"] == pytest.approx(ks.pvalue, rel=1e-9, abs=1e-300)
    if wd:
        expected = stats.wasserstein_distance(r, k) / max(np.std(r), 0.001)
        assert c["wasserstein"] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert c["rows_current"] == len(k) and c["rows_reference"] == len(r)


SAMPLES = {
    "integers with heavy ties": (lambda g: g.integers(0, 7, 3000), lambda g: g.integers(1, 8, 2500)),
    "rounded continuous": (lambda g: np.round(g.normal(50, 9, 20000), 1), lambda g: np.round(g.normal(51, 9, 15000), 1)),
    "continuous, asymptotic p": (lambda g: g.gamma(2.0, 3.0, 12000), lambda g: g.gamma(2.2, 3.0, 30000)),
    "shared values only": (lambda g: g.choice([1.5, 2.5, 9.0], 800), lambda g: g.choice([1.5, 2.5, 9.0], 1200)),
    "disjoint ranges": (lambda g: g.uniform(0, 1, 400), lambda g: g.uniform(5, 6, 300)),
    "current inside one reference gap": (lambda g: np.r_[np.zeros(50), np.ones(50) * 10],
                                         lambda g: g.uniform(3, 4, 40)),
    "huge offset, small spread": (lambda g: 1e12 + g.integers(0, 50, 5000) * 0.5,
                                  lambda g: 1e12 + g.integers(5, 60, 4000) * 0.5),
    "huge magnitudes": (lambda g: g.normal(0, 1e150, 700), lambda g: g.normal(1e149, 1e150, 900)),
    "negative and tiny": (lambda g: -g.exponential(1e-9, 1000), lambda g: -g.exponential(1.2e-9, 1000)),
}


@pytest.mark.parametrize("case", list(SAMPLES))
@pytest.mark.parametrize("seed", [0, 1])
def test_overall_statistics_equal_scipy(case, seed):
    g = np.random.default_rng(seed)
    ref_v, cur_v = SAMPLES[case][0](g).astype(float), SAMPLES[case][1](g).astype(float)
    rep = _report(pd.DataFrame({"x": ref_v}), pd.DataFrame({"x": cur_v}))
    _check(_col(rep["columns"], "x"), ref_v, cur_v)


@pytest.mark.parametrize("window, n_rows", [("hour", 2000), ("day", 3000), ("week", 800)])
def test_every_window_equals_scipy(window, n_rows):
    g = np.random.default_rng(11)
    ref_v = np.round(g.normal(0, 1, 5000), 2)
    start = np.datetime64("2026-03-01T00:00:00")
    seconds = np.sort(g.integers(0, 20 * 86400, n_rows))
    cur = pd.DataFrame({"ts": start + seconds.astype("timedelta64[s]"),
                        "x": np.round(g.normal(0.1, 1.1, n_rows), 2)})
    cur.loc[g.random(n_rows) < 0.05, "x"] = np.nan
    rep = _report(pd.DataFrame({"x": ref_v}), cur, time_column="ts", window=window, time_sql="ts")
    cut = {"hour": "h", "day": "D", "week": "W"}[window]
    assert rep["windows"], "no windows"
    for win in rep["windows"]:
        lo = pd.Timestamp(win["start"])
        hi = pd.Timestamp(win["end"])
        rows = cur[(cur["ts"] >= lo) & (cur["ts"] < hi)]["x"].to_numpy()
        if np.isnan(rows).all():  # only missing values in this window: nothing to compare
            assert win["columns"] == []
            continue
        c = _col(win["columns"], "x")
        _check(c, ref_v, rows)
        assert c["missing"] == int(np.isnan(rows).sum())
    _check(_col(rep["columns"], "x"), ref_v, cur["x"].to_numpy())
    assert cut


def test_windows_of_one_row_and_a_window_with_only_missing_values():
    ref_v = np.arange(100, dtype=float)
    cur = pd.DataFrame({"ts": pd.to_datetime(["2026-03-01 00:10", "2026-03-01 05:00", "2026-03-01 05:30",
                                              "2026-03-01 09:00"]),
                        "x": [42.0, 7.0, np.nan, np.nan]})
    rep = _report(pd.DataFrame({"x": ref_v}), cur, time_column="ts", window="hour", time_sql="ts")
    by_start = {w["start"][:16]: w for w in rep["windows"]}
    assert set(by_start) == {"2026-03-01T00:00", "2026-03-01T05:00", "2026-03-01T09:00"}
    _check(_col(by_start["2026-03-01T00:00"]["columns"], "x"), ref_v, [42.0])
    _check(_col(by_start["2026-03-01T05:00"]["columns"], "x"), ref_v, [7.0])
    assert by_start["2026-03-01T09:00"]["columns"] == []  # nothing to compare: no column result, no crash
    assert by_start["2026-03-01T09:00"]["rows"] == 0


def test_single_rows_constant_columns_and_all_missing_columns():
    one = _report(pd.DataFrame({"one": [3.0]}), pd.DataFrame({"one": [3.0, 4.0]}))["columns"]
    _check(_col(one, "one"), [3.0], [3.0, 4.0])
    one = _report(pd.DataFrame({"one": [3.0, 4.0]}), pd.DataFrame({"one": [5.0]}))["columns"]
    _check(_col(one, "one"), [3.0, 4.0], [5.0])
    ref = pd.DataFrame({"const": np.full(50, 2.0), "empty": np.full(50, np.nan), "x": np.arange(50, dtype=float)})
    cur = pd.DataFrame({"const": np.full(30, 2.0), "empty": np.full(30, np.nan), "x": np.full(30, np.nan)})
    cols = _report(ref, cur)["columns"]
    const = _col(cols, "const")
    _check(const, np.full(50, 2.0), np.full(30, 2.0))
    assert const["ks_statistic"] == 0.0 and const["wasserstein"] == 0.0 and const["drifted"] is False
    names = [c["column"] for c in cols]
    assert "empty" not in names and "x" not in names  # no values on one side: nothing to compare


def test_nan_counts_as_missing_and_infinities_follow_scipy():
    g = np.random.default_rng(4)
    ref_v = np.r_[g.normal(0, 1, 300), [np.inf, -np.inf, np.nan]]
    cur_v = np.r_[g.normal(0.2, 1, 200), [np.inf, np.inf, np.nan, np.nan]]
    c = _col(_report(pd.DataFrame({"x": ref_v}), pd.DataFrame({"x": cur_v}))["columns"], "x")
    _check(c, ref_v, cur_v, wd=False)  # the KS statistic and p-value are defined with infinities
    assert c["missing"] == 2
    assert c["wasserstein"] is None or math.isnan(c["wasserstein"])  # no finite distance, as scipy (inf/nan)
    finite_ref = g.normal(0, 1, 300)
    c = _col(_report(pd.DataFrame({"x": finite_ref}), pd.DataFrame({"x": [1.0, np.inf]}))["columns"], "x")
    _check(c, finite_ref, [1.0, np.inf], wd=False)
    assert math.isnan(c["wasserstein"])


@pytest.mark.parametrize("name", ['we"ird', "sp ace", "ünï©ødé ✓", "semi;colon--", "'quote'", "a\nb", "SELECT"])
def test_hostile_column_names(name):
    g = np.random.default_rng(8)
    ref_v, cur_v = g.integers(0, 30, 500).astype(float), g.integers(2, 32, 400).astype(float)
    c = _col(_report(pd.DataFrame({name: ref_v}), pd.DataFrame({name: cur_v}))["columns"], name)
    _check(c, ref_v, cur_v)


def test_integer_and_decimal_columns_read_as_numbers():
    con = duckdb.connect()
    con.execute("CREATE TABLE r AS SELECT (i % 17)::TINYINT AS t, (i % 1000)::DECIMAL(9,2) / 7 AS d, "
                "i::HUGEINT * 1000000000000 AS h FROM range(2000) t(i)")
    con.execute("CREATE TABLE c AS SELECT ((i * 7) % 19)::TINYINT AS t, (i % 900)::DECIMAL(9,2) / 7 AS d, "
                "(i + 50)::HUGEINT * 1000000000000 AS h FROM range(1500) t(i)")
    rep = report.report(con, "r", "c")
    for name in ("t", "d", "h"):
        rv = con.execute(f'SELECT CAST("{name}" AS DOUBLE) FROM r').fetchnumpy()[f'CAST({name} AS DOUBLE)']
        cv = con.execute(f'SELECT CAST("{name}" AS DOUBLE) FROM c').fetchnumpy()[f'CAST({name} AS DOUBLE)']
        _check(_col(rep["columns"], name), rv, cv)


def test_quantiles_equal_numpy_on_counts():
    g = np.random.default_rng(2)
    for sample in (g.integers(0, 5, 101).astype(float), g.normal(0, 1, 1000), np.array([7.0]),
                   np.r_[np.zeros(9), 1.0]):
        values, counts = np.unique(sample, return_counts=True)
        got = ecdf.quantiles(values, np.cumsum(counts), ecdf.DECILES)
        assert np.array_equal(got, np.quantile(sample, ecdf.DECILES))


def test_the_cli_json_is_unchanged_in_shape(tmp_path, cli, store):
    g = np.random.default_rng(9)
    ref = pd.DataFrame({"a": g.normal(0, 1, 2000), "k": g.integers(0, 3, 2000), "c": g.choice(["x", "y"], 2000)})
    cur = pd.DataFrame({"a": g.normal(0.3, 1, 1500), "k": g.integers(0, 3, 1500), "c": g.choice(["x", "y"], 1500),
                        "t": pd.date_range("2026-03-01", periods=1500, freq="min").strftime("%Y-%m-%d %H:%M:%S")})
    rf, cf = tmp_path / "r.parquet", tmp_path / "c.csv"
    ref.to_parquet(rf, index=False)
    cur.to_csv(cf, index=False)
    res = cli(store, "drift", str(rf), str(cf), "--time-column", "t", "--window", "hour", "--json")
    assert res.code == 0, res.err
    out = json.loads(res.out)
    assert len(out["windows"]) == 25
    numeric = {"column", "kind", "psi", "ks_statistic", "ks_p_value", "wasserstein", "chi2_p_value", "js_distance",
               "rows_current", "rows_reference", "missing", "out_of_range", "method", "threshold", "drift_score",
               "drifted"}
    assert set(_col(out["columns"], "a")) == numeric
    for w in out["windows"]:
        c = _col(w["columns"], "a")
        rows = cur[(cur["t"] >= w["start"].replace("T", " ")) & (cur["t"] < w["end"].replace("T", " "))]["a"]
        assert c["ks_statistic"] == stats.ks_2samp(ref["a"], rows).statistic


def test_files_with_infinities_are_refused_naming_file_and_columns(tmp_path, cli, store):
    ref = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [1.0, 1.0, 2.0, 2.0], "only_cur": [0.0, 0.0, 0.0, 0.0]})
    cur = pd.DataFrame({"a": [1.0, np.inf, -np.inf, 2.0], "b": [1.0, 2.0, 2.0, 2.0],
                        "only_cur": [np.inf, 0.0, 0.0, 0.0], "extra": [np.inf, 1.0, 1.0, 1.0]})
    rf, cf = tmp_path / "r.parquet", tmp_path / "c.parquet"
    ref.to_parquet(rf, index=False)
    cur.to_parquet(cf, index=False)
    res = cli(store, "drift", str(rf), str(cf))
    assert res.code == 2
    assert f"The file {cf} holds infinite values in a (2 rows), only_cur (1 row), extra (1 row);" in res.err
    res = cli(store, "drift", str(cf), str(rf))  # the reference is named first
    assert res.code == 2 and f"The file {cf} holds infinite values in a (2 rows)" in res.err
    cur.loc[:, ["a", "only_cur", "extra"]] = 1.0
    cur.to_parquet(cf, index=False)
    assert cli(store, "drift", str(rf), str(cf)).code == 0


def test_kstwo_survival_equals_scipy_on_a_grid():
    from scipy.stats import kstwo

    from core.drift import ksdist

    ns = np.array([1, 2, 5, 12, 30, 139, 140, 141, 500, 9000, 90909, 100000, 100001, 2_000_000], dtype=float)
    ds = np.r_[0.0, 1e-7, np.geomspace(1e-5, 0.999, 24), 0.5, 1.0]  # every regime of scipy's kstwo, 28 points
    n, d = np.meshgrid(ns, ds)
    assert ksdist._kolmogn() is not None  # scipy's own module ran standalone
    got = ksdist.sf(d.ravel(), n.ravel())
    assert np.array_equal(got, kstwo.sf(d.ravel(), n.ravel()))


def test_jensen_shannon_equals_scipy():
    from scipy.spatial.distance import jensenshannon

    from core.drift import stattests

    g = np.random.default_rng(5)
    for _ in range(20):
        k = int(g.integers(1, 8))
        ref = {i: int(v) for i, v in enumerate(g.integers(0, 50, k)) if v}
        cur = {i: int(v) for i, v in enumerate(g.integers(0, 50, k + int(g.integers(0, 2)))) if v}
        if not ref or not cur:
            continue
        keys = sorted(set(ref) | set(cur), key=str)
        p = np.array([ref.get(x, 0) for x in keys], float)
        q = np.array([cur.get(x, 0) for x in keys], float)
        assert stattests.js_distance(ref, cur) == pytest.approx(jensenshannon(p / p.sum(), q / q.sum()),
                                                                rel=1e-12, abs=1e-15)


def test_a_drift_process_imports_no_heavy_library(tmp_path):
    """`modelgov drift` answers with DuckDB, numpy and scipy's kstwo module: no scikit-learn, shap, plotly, skops,
    scipy.stats or scipy.spatial (each costs a process start a second or more)."""
    import subprocess
    import sys
    from pathlib import Path

    g = np.random.default_rng(1)
    ref = pd.DataFrame({"a": g.normal(0, 1, 20000), "k": g.integers(0, 3, 20000), "c": g.choice(["x", "y"], 20000)})
    cur = pd.DataFrame({"a": g.normal(0.5, 1, 30000), "k": g.integers(0, 3, 30000), "c": g.choice(["x", "y"], 30000)})
    rf, cf = tmp_path / "r.parquet", tmp_path / "c.parquet"
    ref.to_parquet(rf, index=False)
    cur.to_parquet(cf, index=False)
    code = ("import sys\nfrom core.cli import main\n"
            f"rc = main(['drift', {str(rf)!r}, {str(cf)!r}, '--json'])\n"
            "heavy = ('sklearn', 'shap', 'plotly', 'skops', 'scipy.stats', 'scipy.spatial')\n"
            "print('HEAVY', sorted(m for m in sys.modules if m.split('.')[0] in heavy[:4] or m in heavy[4:]), rc)\n")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "HEAVY [] 0"


def test_homogeneity_p_value_equals_chi2_contingency():
    from scipy.stats import chi2_contingency

    from core.drift import stattests

    g = np.random.default_rng(6)
    for _ in range(30):
        k = int(g.integers(2, 9))
        ref = {f"v{i}": int(v) for i, v in enumerate(g.integers(1, 400, k))}
        cur = {f"v{i}": int(v) for i, v in enumerate(g.integers(0, 400, k + int(g.integers(0, 2))))}
        keys = sorted(set(ref) | set(cur), key=str)
        table = np.array([[ref.get(x, 0) for x in keys], [cur.get(x, 0) for x in keys]], dtype=float)
        expected = chi2_contingency(table, correction=False)[1]
        assert stattests.homogeneity_p_value(ref, cur) == pytest.approx(expected, rel=1e-9, abs=1e-300)
