"""Multiclass with text class labels, as teams train them (y = "barolo" / "grignolino" / "barbera"): register, score,
log predictions, outcomes given as text, performance over time, drift of the predicted class, comparison. Numbers
are checked against scikit-learn on the same rows; numeric labels stay covered by test_multiclass.py."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from core import queries
from core.compare import holdout, production
from core.explain import explanations
from core.monitoring import ingest, report
from core.registry import versions
from tests.conftest import _copy_home, outcomes_relation

TARGET = "cultivar"
NAMES = np.array(["barolo", "grignolino", "barbera"])
CLASSES = ["barbera", "barolo", "grignolino"]  # scikit-learn's order: sorted
FEATURES = ["alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "flavanoids", "color_intensity",
            "proline"]


def _sk(y, p) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = p.argmax(axis=1)
        out = {"accuracy": skm.accuracy_score(y, pred), "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
               "log_loss": skm.log_loss(y, p, labels=[0, 1, 2]), "f1_macro": skm.f1_score(y, pred, average="macro")}
        both = len(np.unique(y)) == 3
        out["auc_ovr_macro"] = skm.roc_auc_score(y, p, multi_class="ovr") if both else np.nan
        out["auc_ovr_weighted"] = skm.roc_auc_score(y, p, multi_class="ovr", average="weighted") if both else np.nan
    return out


def _positions(labels) -> np.ndarray:
    return np.array([CLASSES.index(c) for c in labels])


@pytest.fixture(scope="module")
def wine():
    X, y = load_wine(return_X_y=True, as_frame=True)
    df = X[FEATURES].assign(**{TARGET: NAMES[y]})
    order = np.random.default_rng(0).permutation(len(df))
    train, test = df.iloc[order[:118]].reset_index(drop=True), df.iloc[order[118:]].reset_index(drop=True)
    Xt, yt = train[FEATURES], train[TARGET]
    models = {"lr": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(Xt, yt),
              "lr2": make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=1000)).fit(Xt, yt)}
    return df, train, test, models


@pytest.fixture(scope="module")
def world(_template_home, _template_people, tmp_path_factory, wine):
    """wine v1 (LR) champion and v2 (weaker LR) challenger in production, both scoring 178 shuffled rows over three
    weeks, and every outcome logged as text."""
    df, train, test, models = wine
    tmp = tmp_path_factory.mktemp("multiclass-text")
    store = _copy_home(_template_home, tmp / "home")
    people = _template_people
    ds = people["ds"]
    for m in ("lr", "lr2"):
        versions.register_version(store, ds, "wine", models[m], train, TARGET, test_data=test)
    with store.transaction() as con:  # live as champion and challenger (the approval path is tested elsewhere)
        for number, role in ((1, "champion"), (2, "challenger")):
            con.execute("INSERT INTO deployments (version_id, environment, role, since, deployed_by)"
                        " VALUES (?, 'production', ?, now(), 'test')",
                        [versions.get_model_version_tx(con, "wine", number).id, role])
    traffic = df.sample(frac=1, random_state=1).reset_index(drop=True)
    traffic["ts"] = pd.date_range("2026-11-02", periods=len(traffic), freq="3h")
    traffic["rid"] = [f"r{i}" for i in range(len(traffic))]
    traffic.drop(columns=TARGET).to_csv(tmp / "traffic.csv", index=False)
    traffic[["rid", TARGET]].to_csv(tmp / "outcomes.csv", index=False)
    scored = ingest.score_file(store, ds, "wine", None, tmp / "traffic.csv", time_column="ts", id_column="rid",
                               refresh_snapshots=False)
    outcomes = ingest.log_outcomes(store, ds, "wine", tmp / "outcomes.csv", id_column="rid", label_column=TARGET,
                                   refresh_snapshots=False)
    return store, people, traffic, scored, outcomes, tmp


def test_register_keeps_text_classes_and_holdout_metrics_equal_scikit_learns(world, wine):
    store, *_ = world
    _df, _train, test, models = wine
    for number, m in ((1, "lr"), (2, "lr2")):
        v = versions.get_model_version(store, "wine", number)
        assert v.task == "multiclass_classification" and v.classes == CLASSES
        want = _sk(_positions(test[TARGET]), models[m].predict_proba(test[FEATURES]))
        for k, value in want.items():
            assert v.metrics[k] == pytest.approx(value, abs=1e-12), (m, k)
    table = queries.class_metrics(store, "wine", 1)
    assert list(table["Class"]) == CLASSES


def test_scoring_names_the_predicted_class_in_text(world, wine):
    _store, _p, traffic, scored, *_ = world
    out = pd.read_csv(scored.output)
    model = wine[3]["lr"]
    assert list(out["prediction_v1"]) == list(model.predict(traffic[FEATURES]))  # champion and challenger: _vN
    assert np.allclose(out[[f"probability_{c}_v1" for c in CLASSES]], model.predict_proba(traffic[FEATURES]))


def test_text_outcomes_are_taken_and_an_unknown_class_is_a_rejection(world):
    store, people, traffic, _scored, outcomes, tmp = world
    assert outcomes.rows_ok == 178 and outcomes.rows_rejected == 0, outcomes.reasons
    # (r2 gets its own label again: the other tests read these outcomes)
    (tmp / "bad.csv").write_text(f"rid,cultivar\nr0,nebbiolo\nr1,\nr2, {traffic[TARGET][2]} \n")
    r = ingest.log_outcomes(store, people["ds"], "wine", tmp / "bad.csv", id_column="rid", label_column=TARGET,
                            refresh_snapshots=False)
    assert r.reasons == {"cultivar: not a number nor a class of wine": 1, "cultivar: missing": 1}
    with store.data() as dcon:
        assert dcon.execute(f"SELECT label, label_text FROM {outcomes_relation(store, 'wine')} "
                            "WHERE request_id = 'r2'").fetchall() == [(None, traffic[TARGET][2])]


def test_performance_per_week_equals_scikit_learn_on_text_outcomes(world, wine):
    store, _p, traffic, *_ = world
    model = wine[3]["lr"]
    result = report.monitor(store, "wine", 1, environment="production", window="week")
    proba = model.predict_proba(traffic[FEATURES])
    weeks = traffic["ts"].dt.to_period("W-SUN").dt.start_time
    y = _positions(traffic[TARGET])
    assert len(result["performance"]) == weeks.nunique() >= 3
    for row in result["performance"]:
        mask = (weeks == pd.Timestamp(row["window"])).to_numpy()
        want = _sk(y[mask], proba[mask])
        assert row["labelled"] == mask.sum()
        for k, value in want.items():
            if np.isnan(value):
                assert row[k] is None
            else:
                assert row[k] == pytest.approx(value, rel=1e-9, abs=1e-12), (row["window"], k)


def test_predicted_class_drift_names_the_text_classes(world):
    store, *_ = world
    col = report.monitor(store, "wine", 1, environment="production")["prediction_drift"]["columns"][0]
    assert col["column"] == "predicted_class" and col["kind"] == "categorical" and col["rows_current"] == 178


def test_comparisons_on_holdout_and_shadow_traffic_read_text_labels(world, wine):
    store, _p, traffic, *_ = world
    _df, _train, test, models = wine
    r = holdout.compare_holdout(store, "wine:1", "wine:2", test, bootstrap=20, top=5)
    y = _positions(test[TARGET])
    for k, value in _sk(y, models["lr"].predict_proba(test[FEATURES])).items():
        assert r["champion"][k] == pytest.approx(value, abs=1e-12)
    assert r["disagreements"] == [] or r["disagreements"][0]["label"] in CLASSES
    shadow = production.compare_production(store, "wine", "production", bootstrap=20)["comparisons"][0]
    want = _sk(_positions(traffic[TARGET]), models["lr2"].predict_proba(traffic[FEATURES]))
    assert shadow["data"]["rows"] == 178
    assert shadow["challenger"]["accuracy"] == pytest.approx(want["accuracy"], abs=1e-12)


def test_a_lightgbm_model_on_text_classes_registers_scores_and_explains(world, wine):
    lgb = pytest.importorskip("lightgbm")
    store, people, traffic, _s, _o, tmp = world
    _df, train, test, _models = wine
    model = lgb.LGBMClassifier(n_estimators=5, num_leaves=4, min_child_samples=5, verbose=-1, random_state=0)
    model.fit(train[FEATURES], train[TARGET])
    v = versions.register_version(store, people["ds"], "wine", model, train, TARGET, test_data=test)
    assert v.classes == CLASSES and v.flavour == "lightgbm"
    want = _sk(_positions(test[TARGET]), model.predict_proba(test[FEATURES]))
    assert v.metrics["log_loss"] == pytest.approx(want["log_loss"], abs=1e-12)
    scored = ingest.score_file(store, people["ds"], "wine", v.version, tmp / "traffic.csv", environment="staging",
                               time_column="ts", id_column="rid", output=tmp / "lgbm.csv", refresh_snapshots=False)
    out = pd.read_csv(scored.output)
    assert list(out["prediction"]) == list(model.predict(traffic[FEATURES]))
    perf = report.monitor(store, "wine", v.version, environment="staging")["performance"]
    assert sum(r["labelled"] for r in perf) == 178  # the text outcomes logged before it was registered
    e = explanations.explain(store, people["ds"], "wine", v.version, rows=20)
    assert e.class_count == 3 and e.additivity_ok


def test_predictions_made_elsewhere_log_their_text_class_and_probabilities(world, wine):
    """The file `score` hands back, logged by a team that serves the model itself: the predicted class as text and
    every class's probability; performance and predicted-class drift then read them as they read scored rows."""
    store, people, traffic, scored, _o, tmp = world
    model = wine[3]["lr"]
    served = traffic.drop(columns=TARGET).copy()
    served["prediction"] = model.predict(traffic[FEATURES])
    for k, c in enumerate(CLASSES):
        served[f"probability_{c}"] = model.predict_proba(traffic[FEATURES])[:, k]
    served.loc[3, "prediction"] = "nebbiolo"
    served.to_csv(tmp / "served.csv", index=False)
    r = ingest.log_predictions(store, people["ds"], "wine", 1, tmp / "served.csv", time_column="ts",
                               id_column="rid", environment="staging", refresh_snapshots=False)
    assert r.rows_ok == 177 and r.reasons == {"prediction: not a class of wine:1": 1}
    result = report.monitor(store, "wine", 1, environment="staging", window="week")
    keep = np.arange(len(traffic)) != 3
    weeks = traffic["ts"].dt.to_period("W-SUN").dt.start_time
    y, proba = _positions(traffic[TARGET]), model.predict_proba(traffic[FEATURES])
    assert sum(row["labelled"] for row in result["performance"]) == 177
    for row in result["performance"]:
        mask = keep & (weeks == pd.Timestamp(row["window"])).to_numpy()
        assert row["log_loss"] == pytest.approx(_sk(y[mask], proba[mask])["log_loss"], rel=1e-9)
    col = result["prediction_drift"]["columns"][0]
    assert col["column"] == "predicted_class" and col["rows_current"] == 177
    # without probabilities: the class alone (drift of the predicted class, no performance)
    served[["ts", "rid", *FEATURES, "prediction"]].to_csv(tmp / "classes.csv", index=False)
    ingest.log_predictions(store, people["ds"], "wine", 2, tmp / "classes.csv", time_column="ts", id_column="rid",
                           environment="staging", refresh_snapshots=False)
    result = report.monitor(store, "wine", 2, environment="staging")
    assert result["prediction_drift"]["columns"][0]["rows_current"] == 177 and not result["performance"]


def test_a_binary_model_on_text_classes_reads_yes_and_no_outcomes(store, people, tmp_path):
    from tests.conftest import synthetic_classification

    df = synthetic_classification(n=300, seed=4)
    df["churned"] = np.where(df.pop("y") == 1, "yes", "no")
    model = LogisticRegression().fit(df[["x1", "x2"]], df["churned"])
    v = versions.register_version(store, people["ds"], "churn", model, df.iloc[:200], "churned")
    assert (v.task, v.classes) == ("binary_classification", ["no", "yes"])
    live = df.iloc[200:].assign(rid=[f"c{i}" for i in range(100)], ts=pd.Timestamp("2026-11-03"))
    live.drop(columns="churned").to_csv(tmp_path / "live.csv", index=False)
    live[["rid", "churned"]].to_csv(tmp_path / "labels.csv", index=False)
    ingest.score_file(store, people["ds"], "churn", 1, tmp_path / "live.csv", time_column="ts", id_column="rid",
                      refresh_snapshots=False)
    r = ingest.log_outcomes(store, people["ds"], "churn", tmp_path / "labels.csv", id_column="rid",
                            label_column="churned", refresh_snapshots=False)
    assert r.rows_ok == 100, r.reasons
    (row,) = report.monitor(store, "churn", 1, environment="production")["performance"]
    y, p = (live["churned"] == "yes").to_numpy(), model.predict_proba(live[["x1", "x2"]])[:, 1]
    assert row["labelled"] == 100 and row["positives"] == y.sum()
    assert row["auc"] == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
    assert row["accuracy"] == pytest.approx(skm.accuracy_score(y, p >= 0.5), abs=1e-12)


def test_class_names_with_quotes_are_values_never_sql(store, people, tmp_path):
    from tests.conftest import synthetic_classification

    hostile = ["a'); DROP TABLE outcomes; --", 'b"c', "d\\e"]
    df = synthetic_classification(n=240, seed=6)
    df["k"] = np.array(hostile, dtype=object)[(df["x1"] > 0.4).astype(int) + (df["x2"] > 0.4).astype(int)]
    model = LogisticRegression(max_iter=500).fit(df[["x1", "x2"]], df["k"])
    versions.register_version(store, people["ds"], "odd", model, df.drop(columns="y"), "k")
    served = df.drop(columns=["y", "k"]).assign(rid=[f"q{i}" for i in range(len(df))], prediction=model.predict(
        df[["x1", "x2"]]))
    for j, c in enumerate(model.classes_):
        served[f"probability_{c}"] = model.predict_proba(df[["x1", "x2"]])[:, j]
    served.to_csv(tmp_path / "served.csv", index=False)
    df.assign(rid=served["rid"])[["rid", "k"]].to_csv(tmp_path / "labels.csv", index=False)
    assert ingest.log_predictions(store, people["ds"], "odd", 1, tmp_path / "served.csv", id_column="rid",
                                  refresh_snapshots=False).rows_ok == 240
    assert ingest.log_outcomes(store, people["ds"], "odd", tmp_path / "labels.csv", id_column="rid",
                               label_column="k", refresh_snapshots=False).rows_ok == 240
    (row,) = report.monitor(store, "odd", 1, environment=None)["performance"]
    assert row["labelled"] == 240
    assert row["accuracy"] == pytest.approx(skm.accuracy_score(df["k"], model.predict(df[["x1", "x2"]])), abs=1e-12)
