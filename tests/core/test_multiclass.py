"""Multiclass classification everywhere binary works: three-class wine (bundled with scikit-learn, no download).

Every number is checked against an independent reference: scikit-learn's metrics on the same rows, shap's own
explainers called directly, and a plain numpy/scikit-learn bootstrap with the same seed.
"""

from __future__ import annotations

import json
import warnings
from datetime import datetime

import joblib
import numpy as np
import pandas as pd
import pytest
import shap
from sklearn import metrics as skm
from sklearn.datasets import load_wine
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from core import queries
from core.compare import holdout, paired, scores
from core.errors import InvalidInput
from core.explain import explanations
from core.governance import policy
from core.metrics import MULTICLASS_METRICS, multiclass_metrics
from core.monitoring import checks, health, ingest, report
from core.registry import versions
from tests.conftest import PEOPLE, _copy_home

TARGET = "cultivar"
LABELS = [0, 1, 2]


def _sk(y, p) -> dict[str, float]:
    """scikit-learn's own multiclass metrics (NaN AUCs when a class is absent, as core says)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = p.argmax(axis=1)
        out = {"accuracy": skm.accuracy_score(y, pred), "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
               "log_loss": skm.log_loss(y, p, labels=LABELS), "f1_macro": skm.f1_score(y, pred, average="macro")}
        both = len(np.unique(y)) == 3
        out["auc_ovr_macro"] = skm.roc_auc_score(y, p, multi_class="ovr") if both else np.nan
        out["auc_ovr_weighted"] = (skm.roc_auc_score(y, p, multi_class="ovr", average="weighted")
                                   if both else np.nan)
    return out


@pytest.fixture(scope="module")
def wine():
    X, y = load_wine(return_X_y=True, as_frame=True)
    df = X.assign(**{TARGET: y})
    order = np.random.default_rng(0).permutation(len(df))
    train, test = df.iloc[order[:118]].reset_index(drop=True), df.iloc[order[118:]].reset_index(drop=True)
    Xt, yt = train.drop(columns=TARGET), train[TARGET]
    models = {
        "lr": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(Xt, yt),
        "rf": RandomForestClassifier(n_estimators=15, max_depth=4, random_state=0).fit(Xt, yt),
        "hgb": HistGradientBoostingClassifier(max_iter=15, random_state=0).fit(Xt, yt),
    }
    return df, train, test, models


@pytest.fixture(scope="module")
def world(_template_home, _template_people, tmp_path_factory, wine):
    """A store with wine v1 (LR pipeline), v2 (random forest), v3 (histogram boosting), v1 scored on 178 shuffled
    rows over three weeks and every outcome logged."""
    df, train, test, models = wine
    tmp = tmp_path_factory.mktemp("multiclass")
    store = _copy_home(_template_home, tmp / "home")
    ds = _template_people["ds"]
    for m in ("lr", "rf", "hgb"):
        versions.register_version(store, ds, "wine", models[m], train, TARGET, test_data=test)
    traffic = df.sample(frac=1, random_state=1).reset_index(drop=True)
    traffic["ts"] = pd.date_range("2026-11-02", periods=len(traffic), freq="3h")
    traffic["rid"] = [f"r{i}" for i in range(len(traffic))]
    traffic.drop(columns=TARGET).to_csv(tmp / "traffic.csv", index=False)
    traffic[["rid", TARGET]].to_csv(tmp / "outcomes.csv", index=False)
    scored = ingest.score_file(store, ds, "wine", 1, tmp / "traffic.csv", time_column="ts", id_column="rid",
                               refresh_snapshots=False)
    ingest.log_outcomes(store, ds, "wine", tmp / "outcomes.csv", id_column="rid", label_column=TARGET,
                        refresh_snapshots=False)
    return store, ds, traffic, scored, tmp


def test_holdout_metrics_equal_scikit_learns(world, wine):
    store, _ds, *_ = world
    _df, _train, test, models = wine
    for number, m in enumerate(("lr", "rf", "hgb"), start=1):
        v = versions.get_model_version(store, "wine", number)
        assert v.task == "multiclass_classification" and v.classes == LABELS
        want = _sk(test[TARGET].to_numpy(), models[m].predict_proba(test.drop(columns=TARGET)))
        assert set(v.metrics) == set(MULTICLASS_METRICS)
        for k in MULTICLASS_METRICS:
            assert v.metrics[k] == pytest.approx(want[k], abs=1e-12), (m, k)


def test_per_class_precision_and_recall_equal_scikit_learns(world, wine):
    store, *_ = world
    _df, _train, test, models = wine
    table = queries.class_metrics(store, "wine", 2)
    pred = models["rf"].predict(test.drop(columns=TARGET))
    p, r, _f, n = skm.precision_recall_fscore_support(test[TARGET], pred, labels=LABELS, zero_division=0)
    assert list(table["Class"]) == ["0", "1", "2"]
    assert np.allclose(table["Precision"], p) and np.allclose(table["Recall"], r)
    assert list(table["Rows of this class"]) == list(n)
    assert queries.class_metrics(store, "wine", 1) is not None


def test_scoring_logs_every_class_probability_and_names_the_predicted_class(world, wine):
    store, _ds, traffic, scored, _tmp = world
    model = wine[3]["lr"]
    out = pd.read_csv(scored.output)
    proba = model.predict_proba(traffic[model.feature_names_in_])
    assert list(out["prediction"]) == list(proba.argmax(axis=1))
    assert np.allclose(out[[f"probability_{c}" for c in LABELS]], proba)
    assert np.allclose(out["score"], proba.max(axis=1))


def test_performance_per_period_equals_scikit_learn_on_each_windows_rows(world, wine):
    store, _ds, traffic, *_ = world
    model = wine[3]["lr"]
    result = report.monitor(store, "wine", 1, environment="production", window="week")
    proba = model.predict_proba(traffic[model.feature_names_in_])
    weeks = traffic["ts"].dt.to_period("W-SUN").dt.start_time
    assert len(result["performance"]) == weeks.nunique() >= 3
    for row in result["performance"]:
        mask = (weeks == pd.Timestamp(row["window"])).to_numpy()
        want = _sk(traffic[TARGET].to_numpy()[mask], proba[mask])
        assert row["labelled"] == mask.sum()
        for k in MULTICLASS_METRICS:
            if np.isnan(want[k]):
                assert row[k] is None
            else:
                assert row[k] == pytest.approx(want[k], rel=1e-9, abs=1e-12), (row["window"], k)


def test_predicted_class_drift_is_a_categorical_test_against_the_holdout_predictions(world):
    store, *_ = world
    result = report.monitor(store, "wine", 1, environment="production")
    col = result["prediction_drift"]["columns"][0]
    assert col["column"] == "predicted_class" and col["kind"] == "categorical"
    assert col["method"] in ("chisquare", "jensenshannon") and col["rows_current"] == 178
    assert report.monitor(store, "wine", 1, environment="production")["score_drift"] is not None


def test_review_health_and_checks_speak_of_macro_auc(world):
    store, *_ = world
    r = checks.review(store, "wine", 1, environment="production", window="week")
    s = r["summary"]
    assert s["metric"] == "auc_ovr_macro" and s["baseline"] == versions.get_model_version(store, "wine", 1).metrics[
        "auc_ovr_macro"]
    assert s["current"] is not None and "macro AUC (one-vs-rest)" in s["sentence"]
    worse = {**s, "current": s["baseline"] - 0.1}
    assert checks.performance_change(worse)["worse"] is True
    h = health.score({**worse, "last": None})
    assert any(reason.startswith("macro AUC down 10 points") for reason in h["reasons"])
    assert h["components"]["performance"] < 100


def test_evidence_checks_hold_the_macro_auc_to_the_tiers_minimum(world):
    store, *_ = world
    v = versions.get_model_version(store, "wine", 1)
    pol = policy.Policy(risk_tier="medium", min_auc=0.999, min_r2=None, max_drift_share=None,
                        required_card_fields=[], approvals_needed=1, recertify_days=365, approval_valid_days=30,
                        updated_by="test", updated_at=datetime(2026, 1, 1))
    found = [c for c in policy.policy_checks(v, {}, pol, None) if c["check"] == "minimum AUC"]
    assert found and "macro AUC (one-vs-rest)" in found[0]["detail"]
    assert found[0]["status"] == ("pass" if v.metrics["auc_ovr_macro"] >= 0.999 else "fail")
    comparison = {"id": 7, "rows": 60, "result": {"difference": {"auc_ovr_macro": {
        "estimate": -0.2, "ci_low": -0.3, "ci_high": -0.1}}}}
    check = policy.comparison_check(v, "production", 2, comparison)
    assert check["status"] == "fail" and "macro AUC" in check["detail"]


def _plain_bootstrap(y, a, b, replicates, seed):
    """The paired bootstrap written plainly: numpy draws, scikit-learn metrics on each resample."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(y), size=(replicates, len(y)))
    return [(_sk(y[d], a[d]), _sk(y[d], b[d])) for d in draws]


def test_paired_bootstrap_equals_a_plain_reimplementation(wine):
    _df, _train, test, models = wine
    y = test[TARGET].to_numpy()
    X = test.drop(columns=TARGET)
    a, b = models["lr"].predict_proba(X), models["rf"].predict_proba(X)
    boot = paired.paired_bootstrap(y, a, b, task="multiclass_classification", replicates=20, seed=11)
    for i, (ra, rb) in enumerate(_plain_bootstrap(y, a, b, 20, 11)):
        for k in MULTICLASS_METRICS:
            for got, want in ((boot.champion[k][i], ra[k]), (boot.challenger[k][i], rb[k])):
                assert (np.isnan(got) and np.isnan(want)) or got == pytest.approx(want, abs=1e-12), (i, k)
    r = scores.compare_scores(y, a, b, task="multiclass_classification", bootstrap=20, seed=11)
    assert set(r["difference"]) == set(MULTICLASS_METRICS)
    for k in MULTICLASS_METRICS:
        d = boot.difference(k)
        lo, hi = np.quantile(d[np.isfinite(d)], [0.025, 0.975])
        assert r["difference"][k]["ci_low"] == pytest.approx(lo) and r["difference"][k]["ci_high"] == pytest.approx(hi)
        assert r["difference"][k]["estimate"] == pytest.approx(_sk(y, b)[k] - _sk(y, a)[k])
    assert r["tests"]["mcnemar"]["champion_only_correct"] == int(
        ((a.argmax(1) == y) & (b.argmax(1) != y)).sum())


def test_compare_holdout_names_classes_in_disagreements(world, wine):
    store, *_ = world
    test = wine[2]
    r = holdout.compare_holdout(store, "wine:1", "wine:3", test, bootstrap=40, top=5)
    assert r["task"] == "multiclass_classification" and r["champion"] == pytest.approx(
        versions.get_model_version(store, "wine", 1).metrics)
    d = r["disagreements"][0]
    assert {"champion_class", "challenger_class", "decisions_differ"} <= set(d) and d["label"] in LABELS
    assert set(r["distributions"]["champion"]) == {"right", "wrong"}


@pytest.mark.parametrize("number, kind", [(1, "linear"), (2, "tree"), (3, "tree")])
def test_shap_for_every_class_equals_shaps_own_and_adds_up(world, wine, number, kind):
    store, ds, *_ = world
    _df, train, test, models = wine
    model = models[{1: "lr", 2: "rf", 3: "hgb"}[number]]
    X = test.drop(columns=TARGET)
    e = explanations.explain(store, ds, "wine", number, rows=25)
    assert e.explainer == kind and e.class_count == 3 and e.additivity_ok
    rows = X.loc[e.frame["index"]]
    if kind == "tree":
        own = shap.TreeExplainer(model)(rows, check_additivity=False)
        want_values, want_base = np.asarray(own.values), np.asarray(own.base_values)[0]
        output = model.predict_proba(rows) if number == 2 else model.decision_function(rows)
    else:
        scaler, lr = model[0], model[-1]
        bg = scaler.transform(explanations.background_for(store, versions.get_model_version(store, "wine", 1)))
        own = shap.LinearExplainer(lr, bg)(scaler.transform(rows))
        want_values, want_base = np.asarray(own.values), np.asarray(own.base_values)[0]
        output = model.decision_function(rows)
    for k in range(3):
        ek = e.for_class(k)
        assert np.allclose(ek.values.to_numpy(), want_values[:, :, k], atol=1e-10)
        assert ek.base_value == pytest.approx(want_base[k])
        # additivity per class, against the model's own output for that class
        assert np.allclose(ek.base_value + ek.values.sum(axis=1).to_numpy(), output[:, k], atol=1e-6)
        assert ek.additivity_max_error < 1e-6
    assert (e.frame["predicted_class"] == model.predict_proba(rows).argmax(axis=1)).all()
    with pytest.raises(InvalidInput):
        e.for_class(3)


def test_what_if_explains_the_predicted_class_by_default(world, wine):
    store, *_ = world
    record = wine[2].drop(columns=TARGET).iloc[0].to_dict()
    out = explanations.explain_record(store, "wine", 2, record)
    probs = wine[3]["rf"].predict_proba(pd.DataFrame([record]))[0]
    assert out["class_index"] == int(probs.argmax()) and out["probability"] == pytest.approx(probs.max())
    other = explanations.explain_record(store, "wine", 2, record, class_index=(out["class_index"] + 1) % 3)
    assert other["probability"] == pytest.approx(probs[(out["class_index"] + 1) % 3])


def test_refusals_are_one_sentence(store, people, wine):
    _df, train, _test, _models = wine
    svc = LinearSVC().fit(train.drop(columns=TARGET), train[TARGET])  # no predict_proba
    with pytest.raises(InvalidInput) as e:
        versions.register_version(store, people["ds"], "svc", svc, train, TARGET)
    assert "predict_proba" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(InvalidInput, match="never saw"):
        versions.class_index(LABELS, pd.Series([0, 7]), "The test target")
    with pytest.raises(InvalidInput, match="aligned"):
        scores.compare_scores([0, 1], np.ones((2, 3)) / 3, np.ones((3, 3)) / 3, task="multiclass_classification",
                              bootstrap=20)


def test_multiclass_metrics_function_equals_scikit_learn_with_a_class_absent():
    y = np.array([0, 0, 1, 1, 0, 1])
    p = np.random.default_rng(3).dirichlet([1, 1, 1], size=6)
    got, want = multiclass_metrics(y, p), _sk(y, p)
    assert np.isnan(got["auc_ovr_macro"]) and np.isnan(got["auc_ovr_weighted"])
    for k in ("accuracy", "balanced_accuracy", "log_loss", "f1_macro"):
        assert got[k] == pytest.approx(want[k], abs=1e-12)


def test_end_to_end_through_the_cli(store, people, cli, wine, tmp_path):
    df, train, test, models = wine
    ds = PEOPLE["ds"][0]
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    joblib.dump(models["lr"], tmp_path / "lr.joblib")
    r = cli(store, "register", "wine-cli", "--model", str(tmp_path / "lr.joblib"), "--train-data",
            str(tmp_path / "train.csv"), "--target", TARGET, "--test-data", str(tmp_path / "test.csv"), "--json", as_=ds)
    assert r.code == 0, r.err
    assert set(json.loads(r.out)["metrics"]) == set(MULTICLASS_METRICS)
    # the challenger in-process (a second joblib file would only load in a second child process)
    versions.register_version(store, people["ds"], "wine-cli", models["hgb"], train, TARGET, test_data=test)
    traffic = df.sample(n=120, random_state=2).reset_index(drop=True)
    traffic["rid"] = [f"q{i}" for i in range(len(traffic))]
    traffic["ts"] = pd.date_range("2026-11-02", periods=len(traffic), freq="4h")
    traffic.drop(columns=TARGET).to_csv(tmp_path / "traffic.csv", index=False)
    traffic[["rid", TARGET]].to_csv(tmp_path / "outcomes.csv", index=False)
    r = cli(store, "score", "wine-cli:1", "--input", str(tmp_path / "traffic.csv"), "--id-column", "rid",
            "--time-column", "ts", "--output", str(tmp_path / "scored.csv"), "--json", as_=ds)
    assert r.code == 0, r.err
    assert "probability_2" in pd.read_csv(tmp_path / "scored.csv").columns
    r = cli(store, "log-outcomes", "wine-cli", "--input", str(tmp_path / "outcomes.csv"), "--id-column", "rid",
            "--label-column", TARGET, "--json", as_=ds)
    assert r.code == 0, r.err
    r = cli(store, "monitor", "wine-cli:1", "--window", "week", "--no-store", "--json")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["summary"]["metric"] == "auc_ovr_macro" and out["performance"][0]["auc_ovr_macro"] is not None
    assert out["prediction_drift"]["columns"][0]["column"] == "predicted_class"
    r = cli(store, "monitor", "wine-cli:1", "--window", "week", "--no-store")
    assert r.code == 0 and "AUC_OVR_MACRO" in r.out
    r = cli(store, "compare", "wine-cli:1", "wine-cli:2", "--data", str(tmp_path / "test.csv"), "--target", TARGET,
            "--bootstrap", "50", "--no-save", "--json")
    assert r.code == 0, r.err
    assert set(json.loads(r.out)["difference"]) == set(MULTICLASS_METRICS)


def test_importance_of_every_class_is_the_mean_over_classes(world):
    store, ds, *_ = world
    e = explanations.explain(store, ds, "wine", 2, rows=25)  # cached by the SHAP test when it ran first
    per_class = [e.for_class(k).global_importance().set_index("feature")["mean_abs_shap"] for k in range(3)]
    mean = sum(per_class) / 3
    overall = e.global_importance().set_index("feature")["mean_abs_shap"]
    assert np.allclose(overall.sort_index(), mean.sort_index())
    assert list(overall.index) == list(mean.sort_values(ascending=False).index)


def test_cli_explains_the_class_asked(world, cli):
    store, *_ = world
    r = cli(store, "explain", "wine:2", "--rows", "25", "--class", "2", "--json", as_=PEOPLE["ds"][0])
    assert r.code == 0, r.err
    out = json.loads(r.out)
    e = explanations.explain(store, None, "wine", 2, rows=25).for_class(2)  # cached: no permission needed
    assert out["class_position"] == 2 and out["base_value"] == pytest.approx(e.base_value)
    r = cli(store, "explain", "wine:2", "--rows", "25", "--class", "7", as_=PEOPLE["ds"][0])
    assert r.code == 2 and "has no class '7'" in r.err and r.err.count("\n") == 1


def test_production_comparison_on_the_demos_shadow_traffic(demo_store):
    from core.compare import production
    from core.monitoring import logs

    r = production.compare_production(demo_store, "wine-cultivar", bootstrap=40)
    c = r["comparisons"][0]
    pairs = logs.shadow_pairs(demo_store, "wine-cultivar", 1, 2, "production", None)
    y = pairs["label"].to_numpy().astype(int)
    a = np.array([list(p) for p in pairs["champion_score"]])
    assert c["task"] == "multiclass_classification" and c["rows"] == len(pairs) > 100
    assert set(c["difference"]) == set(MULTICLASS_METRICS)
    for k, want in _sk(y, a).items():
        assert c["champion"][k] == pytest.approx(want, abs=1e-12), k
    review = checks.review(demo_store, "wine-cultivar", environment="production")
    assert review["summary"]["metric"] == "auc_ovr_macro" and review["summary"]["current"] is not None
