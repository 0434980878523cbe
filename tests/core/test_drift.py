"""Drift statistics computed in DuckDB against scipy on the same data, edge cases included; Evidently's default
method choice; the `modelgov drift` JSON contract and CI gate."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from core.drift import report, stattests


def _report(ref: pd.DataFrame, cur: pd.DataFrame, **kw):
    con = duckdb.connect()
    con.register("ref_df", ref)
    con.register("cur_df", cur)
    try:
        return report.report(con, "ref_df", "cur_df", **kw)
    finally:
        con.close()


def _col(rep, name):
    return next(c for c in rep["columns"] if c["column"] == name)


def _psi_reference(ref: np.ndarray, cur: np.ndarray) -> float:
    """PSI written out independently: deciles as inner edges of right-closed bins, empty bins 0.0001."""
    edges = np.unique(np.quantile(ref, np.linspace(0.1, 0.9, 9)))
    rb = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=len(edges) + 1) / len(ref)
    cb = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=len(edges) + 1) / len(cur)
    rb, cb = np.where(rb == 0, 1e-4, rb), np.where(cb == 0, 1e-4, cb)
    return float(np.sum((cb - rb) * np.log(cb / rb)))


CASES = {
    "continuous": (lambda r: r.normal(0, 1, 700), lambda r: r.normal(0.25, 1.1, 400)),
    "ties and integers": (lambda r: r.integers(0, 12, 900).astype(float), lambda r: r.integers(1, 13, 600).astype(float)),
    "large samples (asymptotic p)": (lambda r: r.gamma(2.0, 1.0, 12000), lambda r: r.gamma(2.1, 1.0, 11000)),
    "constant reference": (lambda r: np.full(300, 5.0), lambda r: np.r_[np.full(200, 5.0), r.normal(5, 1, 50)]),
    "single current row": (lambda r: r.normal(0, 1, 500), lambda r: np.array([0.3])),
}


@pytest.mark.parametrize("case", list(CASES))
def test_numeric_statistics_equal_scipy(case):
    rng = np.random.default_rng(42)
    ref_v, cur_v = CASES[case][0](rng), CASES[case][1](rng)
    rep = _report(pd.DataFrame({"x": ref_v}), pd.DataFrame({"x": cur_v}))
    c = _col(rep, "x")
    ks = stats.ks_2samp(ref_v, cur_v)
    assert c["kind"] == "numeric"
    assert c["ks_statistic"] == pytest.approx(ks.statistic, abs=1e-9)
    assert c["ks_p_value"] == pytest.approx(ks.pvalue, rel=1e-6, abs=1e-12)
    expected_w = stats.wasserstein_distance(ref_v, cur_v) / max(np.std(ref_v), 0.001)
    assert c["wasserstein"] == pytest.approx(expected_w, rel=1e-9, abs=1e-12)
    assert c["psi"] == pytest.approx(_psi_reference(ref_v, cur_v), rel=1e-9, abs=1e-12)
    assert c["chi2_p_value"] is None and c["js_distance"] is None


def test_missing_values_are_left_out_and_counted():
    rng = np.random.default_rng(1)
    ref_v = rng.normal(0, 1, 400)
    cur_v = rng.normal(0, 1, 300)
    cur = pd.DataFrame({"x": cur_v})
    cur.loc[::10, "x"] = np.nan
    c = _col(_report(pd.DataFrame({"x": ref_v}), cur), "x")
    kept = cur["x"].dropna().to_numpy()
    assert c["ks_statistic"] == pytest.approx(stats.ks_2samp(ref_v, kept).statistic, abs=1e-9)
    assert c["missing"] == 30 and c["rows_current"] == 270


def test_categorical_statistics_equal_scipy_with_an_unseen_category():
    rng = np.random.default_rng(7)
    ref = pd.DataFrame({"c": rng.choice(["a", "b", "c"], 1500, p=[0.5, 0.3, 0.2])})
    cur = pd.DataFrame({"c": rng.choice(["a", "b", "c", "new"], 800, p=[0.4, 0.3, 0.2, 0.1])})
    c = _col(_report(ref, cur), "c")
    keys = ["a", "b", "c", "new"]
    rc = ref["c"].value_counts().reindex(keys, fill_value=0).to_numpy()
    cc = cur["c"].value_counts().reindex(keys, fill_value=0).to_numpy()
    assert c["kind"] == "categorical"
    assert c["chi2_p_value"] == pytest.approx(stats.chi2_contingency(np.vstack([rc, cc]), correction=False)[1],
                                              rel=1e-9, abs=1e-300)
    assert c["js_distance"] == pytest.approx(jensenshannon(rc / rc.sum(), cc / cc.sum()), rel=1e-9)
    rp, cp = np.where(rc == 0, 1e-4, rc / rc.sum()), np.where(cc == 0, 1e-4, cc / cc.sum())
    assert c["psi"] == pytest.approx(float(np.sum((cp - rp) * np.log(cp / rp))), rel=1e-9)
    assert c["unseen_categories"] == ["new"]
    assert c["method"] == "jensenshannon" and c["drifted"] == (c["js_distance"] >= 0.1)


@pytest.mark.parametrize("n_ref, values, kind, expected", [
    (800, 50, "numeric", "ks"), (800, 4, "numeric", "chisquare"), (800, 2, "numeric", "z"),
    (5000, 50, "numeric", "wasserstein"), (5000, 4, "numeric", "jensenshannon"),
    (800, 3, "categorical", "chisquare"), (800, 2, "categorical", "z"), (5000, 30, "categorical", "jensenshannon"),
])
def test_default_method_follows_evidently(n_ref, values, kind, expected):
    assert stattests.default_method(kind, n_ref, values) == expected


def test_small_reference_verdicts_use_evidently_tests():
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"b": rng.integers(0, 2, 600), "k": rng.integers(0, 4, 600)})
    cur = pd.DataFrame({"b": rng.integers(0, 2, 400), "k": rng.integers(0, 4, 400)})
    rep = _report(ref, cur)
    b, k = _col(rep, "b"), _col(rep, "k")
    assert b["method"] == "z" and k["method"] == "chisquare"
    rc = ref["k"].value_counts().sort_index().to_numpy()
    cc = cur["k"].value_counts().sort_index().to_numpy()
    assert k["drift_score"] == pytest.approx(stats.chisquare(cc, rc * len(cur) / len(ref))[1], rel=1e-9)


def test_windows_time_parsing_and_dataset_drift(tmp_path, cli, store):
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"a": rng.normal(0, 1, 3000), "b": rng.normal(0, 1, 3000), "c": rng.choice(["x", "y"], 3000)})
    days = np.repeat(pd.date_range("2026-03-01", periods=4, freq="D"), 250)
    cur = pd.DataFrame({"a": rng.normal(0, 1, 1000), "b": rng.normal(0, 1, 1000), "c": rng.choice(["x", "y"], 1000),
                        "when": days.strftime("%Y-%m-%d")})
    cur.loc[500:, "a"] += 1.0  # drift from the third day
    cur.loc[500:, "b"] += 1.0
    cur.loc[3, "when"] = "not a date"
    cur.loc[4, "when"] = "2026-03-01T10:30:00"
    ref_f, cur_f = tmp_path / "ref.csv", tmp_path / "cur.parquet"
    ref.to_csv(ref_f, index=False)
    cur.to_parquet(cur_f, index=False)
    res = cli(store, "drift", str(ref_f), str(cur_f), "--time-column", "when", "--window", "day", "--json")
    assert res.code == 0, res.err
    out = json.loads(res.out)
    assert set(out) >= {"dataset_drift", "drifted_share", "rows", "columns", "windows"}
    assert out["rows"] == {"reference": 3000, "current": 1000}
    keys = {"column", "kind", "psi", "ks_statistic", "ks_p_value", "wasserstein", "chi2_p_value", "js_distance",
            "method", "drifted"}
    assert all(keys <= set(c) for c in out["columns"])
    assert [c["column"] for c in out["columns"]] == ["a", "b", "c"]
    assert [w["start"][:10] for w in out["windows"]] == ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]
    assert [w["dataset_drift"] for w in out["windows"]] == [False, False, True, True]
    assert out["windows"][0]["rows"] == 249 and out["time_column"]["unparsed"] == 1
    first = next(c for c in out["windows"][0]["columns"] if c["column"] == "a")
    day1 = cur[(cur["when"].str[:10] == "2026-03-01")]["a"].to_numpy()
    assert first["ks_statistic"] == pytest.approx(stats.ks_2samp(ref["a"], day1).statistic, abs=1e-9)
    gate = cli(store, "drift", str(ref_f), str(cur_f), "--fail-on-drift")
    assert gate.code == (1 if out["dataset_drift"] else 0)
    same = cli(store, "drift", str(ref_f), str(ref_f), "--fail-on-drift", "--json")
    assert same.code == 0 and json.loads(same.out)["dataset_drift"] is False
    assert "windows" not in json.loads(same.out)


def test_bad_files_are_one_sentence(tmp_path, cli, store):
    f = tmp_path / "a.csv"
    pd.DataFrame({"a": [1, 2, 3]}).to_csv(f, index=False)
    res = cli(store, "drift", str(f), str(tmp_path / "missing.csv"))
    assert res.code == 2 and "No file" in res.err
    g = tmp_path / "b.csv"
    pd.DataFrame({"b": [1, 2, 3]}).to_csv(g, index=False)
    res = cli(store, "drift", str(f), str(g))
    assert res.code == 2 and "lacks column(s) a" in res.err
    res = cli(store, "drift", str(f), str(f), "--time-column", "nope")
    assert res.code == 2 and "no time column" in res.err
