"""SHAP explanations checked against independent references: the model's own outputs (additivity), shap called
directly, and a one-hot sum-back computed from scikit-learn's output names; the cache; bad input; the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import shap
from sklearn.naive_bayes import GaussianNB

from core.errors import Forbidden, InvalidInput
from core.explain import explanations, summary
from core.registry import versions
from tests.conftest import NOBODY, synthetic_classification


def _holdout(store, ref=("credit-default", 1), n=120):
    v = versions.get_model_version(store, *ref)
    frame, _ = explanations.default_data(store, v)
    return v, frame[v.feature_names].sample(n=n, random_state=0).sort_index()


def _count(store):
    with store.read() as con:
        return con.execute("SELECT count(*) FROM explanations").fetchone()[0]


def test_tree_values_equal_shap_and_add_up_to_the_models_log_odds(demo_store, demo_people):
    v, X = _holdout(demo_store)
    e = explanations.explain(demo_store, demo_people["ada"], "credit-default", 1, X, rows=None)
    assert (e.explainer, e.output_space) == ("tree", "log-odds")
    _v, est = versions.load_model(demo_store, "credit-default", 1)
    direct = shap.TreeExplainer(est)(X)
    np.testing.assert_allclose(e.values.to_numpy(), direct.values, atol=1e-10)
    own = est.decision_function(X)  # independent of shap
    np.testing.assert_allclose(e.base_value + e.values.sum(axis=1), own, atol=1e-8)
    np.testing.assert_allclose(e.frame["prediction"], own, atol=1e-12)
    assert e.additivity_ok and e.additivity_max_error < 1e-8


def test_a_pipeline_is_explained_in_its_original_columns(demo_store, demo_people):
    v, X = _holdout(demo_store, ("credit-default", 2))
    e = explanations.explain(demo_store, demo_people["ada"], "credit-default", 2, X, rows=None)
    assert (e.explainer, e.output_space) == ("linear", "log-odds") and e.features == v.feature_names
    _v, pipe = versions.load_model(demo_store, "credit-default", 2)
    prep, clf = pipe[:-1], pipe[-1]
    background = explanations.background_for(demo_store, v)
    Xt = np.asarray(prep.transform(X).toarray() if hasattr(prep.transform(X), "toarray") else prep.transform(X))
    bt = prep.transform(background)
    bt = np.asarray(bt.toarray() if hasattr(bt, "toarray") else bt)
    raw = shap.LinearExplainer(clf, bt)(Xt).values
    # Independent sum-back: scikit-learn's output names are "<transformer>__<input>[_<category>]".
    names = prep.get_feature_names_out()
    for col in ("SEX", "EDUCATION", "MARRIAGE", "PAY_0"):
        if col in ("SEX", "EDUCATION", "MARRIAGE"):
            idx = [i for i, n in enumerate(names) if n.startswith(f"cat__{col}_")]
            assert len(idx) > 1
        else:
            idx = [i for i, n in enumerate(names) if n == f"num__{col}"]
        np.testing.assert_allclose(e.values[col].to_numpy(), raw[:, idx].sum(axis=1), atol=1e-10)
    np.testing.assert_allclose(e.base_value + e.values.sum(axis=1), pipe.decision_function(X), atol=1e-8)


def test_an_unsupported_model_gets_the_permutation_explainer_in_probability(store, people):
    df = synthetic_classification(seed=3)
    # Naive Bayes has no tree or linear explainer either, and predicts ~100k rows (a row's permutations against
    # the background) in milliseconds where k-NN took seconds.
    nb = GaussianNB().fit(df[["x1", "x2"]], df["y"])
    versions.register_version(store, people["ds"], "nb-model", nb, df.iloc[:300], "y", test_data=df.iloc[300:])
    e = explanations.explain(store, people["ds"], "nb-model", 1, rows=2)
    assert (e.explainer, e.output_space) == ("permutation", "probability")
    proba = nb.predict_proba(e.inputs)[:, 1]
    np.testing.assert_allclose(e.frame["prediction"], proba, atol=1e-12)
    assert e.additivity_ok and e.additivity_max_error < 1e-4


def test_results_are_cached_audited_and_linked(demo_store, demo_people):
    _v, X = _holdout(demo_store, n=80)
    before = _count(demo_store)
    first = explanations.explain(demo_store, demo_people["ada"], "credit-default", 1, X, rows=None)
    again = explanations.explain(demo_store, demo_people["vera"], "credit-default", 1, X, rows=None)
    assert not first.cached and again.cached and again.id == first.id and _count(demo_store) == before + 1
    pd.testing.assert_frame_equal(first.frame, again.frame)
    assert explanations.find(demo_store, "credit-default", 1, X.iloc[:40], rows=None) is None
    with demo_store.read() as con:
        audit = con.execute("SELECT count(*) FROM audit_log WHERE action = 'explanation.compute'").fetchone()[0]
        node = con.execute("SELECT count(*) FROM lineage_edges WHERE src = 'model:credit-default:1' AND dst = ?",
                           [f"explanation:credit-default:1:{first.key[:12]}"]).fetchone()[0]
    assert audit >= 1 and node == 1
    top = summary.evidence_for(demo_store, "credit-default", 1)["top_features"]
    assert top[0]["feature"] == "PAY_0"


@pytest.mark.parametrize("change, message", [
    (lambda f: f.drop(columns=["PAY_0"]), "lacks 1 input column"),
    (lambda f: f.assign(colour="red"), "does not know: colour"),
    (lambda f: f.assign(AGE="forty"), "wrong type: AGE"),
    (lambda f: f.iloc[:0], "no rows"),
])
def test_bad_data_is_one_sentence_and_nothing_is_cached(demo_store, demo_people, change, message):
    _v, X = _holdout(demo_store, n=30)
    before = _count(demo_store)
    with pytest.raises(InvalidInput, match=message):
        explanations.explain(demo_store, demo_people["ada"], "credit-default", 1, change(X), rows=None)
    assert _count(demo_store) == before


def test_computing_needs_a_role(demo_store):
    _v, X = _holdout(demo_store, n=30)
    with pytest.raises(Forbidden):
        explanations.explain(demo_store, NOBODY, "credit-default", 1, X, rows=None)


def test_cli_json_contract(demo_store, cli, tmp_path):
    _v, X = _holdout(demo_store, ("credit-default", 2), n=50)
    f = tmp_path / "rows.csv"
    X.to_csv(f, index=False)
    res = cli(demo_store, "explain", "credit-default:2", "--data", str(f), "--rows", "50", "--json",
              as_="ada@modelgov.demo")
    assert res.code == 0, res.err
    out = json.loads(res.out)
    assert {"model", "version", "explainer", "output_space", "base_value", "additivity_max_error", "features",
            "global", "rows"} <= set(out)
    assert out["model"] == "credit-default" and out["version"] == 2 and len(out["rows"]) == 50
    assert out["features"] == list(X.columns)
    for r in out["rows"]:
        assert abs(out["base_value"] + sum(r["values"].values()) - r["prediction"]) < 1e-8
    assert [g["feature"] for g in out["global"]][0] == "PAY_0"
    bad = tmp_path / "bad.csv"
    X.drop(columns=["AGE"]).to_csv(bad, index=False)
    res = cli(demo_store, "explain", "credit-default:2", "--data", str(bad), as_="ada@modelgov.demo")
    assert res.code == 2 and "AGE" in res.err and "Traceback" not in res.err


@pytest.mark.parametrize("setting, jit_off", [(None, "1"), ("0", "0")])
def test_explaining_processes_run_shaps_numba_code_uncompiled_unless_told(setting, jit_off):
    """Compiling shap's numba code cost every process 12-13 CPU-seconds before its first permutation
    explanation; core turns the compiler off unless NUMBA_DISABLE_JIT is set."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k != "NUMBA_DISABLE_JIT"} | (
        {"NUMBA_DISABLE_JIT": setting} if setting is not None else {})
    code = "from core.explain.compute import _shap; _shap(); import numba; print(int(numba.config.DISABLE_JIT))"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.strip() == jit_off, done.stderr[-1500:]
