"""The registry: registration, metrics against scikit-learn, bad input, artifacts, search."""

from __future__ import annotations

import joblib
import numpy as np
import pytest
import skops.io as sio
from sklearn import metrics as skm
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from core.errors import CheckFailed, Conflict, Forbidden, InvalidInput, NotFound
from core.registry import artifacts, catalog, versions
from tests.conftest import make_version, synthetic_classification


def _state(store):
    with store.read() as con:
        return con.execute("SELECT (SELECT count(*) FROM models), (SELECT count(*) FROM model_versions),"
                           " (SELECT count(*) FROM datasets), (SELECT count(*) FROM lineage_edges)").fetchone()


def _files(store):
    return sorted(p.name for p in store.home.rglob("*") if p.is_file() and p.suffix in (".skops", ".parquet"))


def test_register_records_version_datasets_lineage_and_audit(store, people):
    v = make_version(store, people["ds"], "toy-model", risk_tier="high", description="A toy.")
    assert (v.ref, v.task, v.target, v.created_by) == ("toy-model:1", "binary_classification", "y", "ada@example.com")
    assert v.signature == [{"name": "x1", "type": "float"}, {"name": "x2", "type": "float"}]
    assert len(v.sha256) == 64 and v.status == "registered"
    m = catalog.get_model(store, "toy-model")
    assert (m.risk_tier, m.owner, m.description) == ("high", "ada@example.com", "A toy.")
    with store.read() as con:
        actions = [r[0] for r in con.execute("SELECT action FROM audit_log ORDER BY seq").fetchall()]
        edges = con.execute("SELECT src LIKE 'dataset:%', dst, relation FROM lineage_edges ORDER BY relation").fetchall()
    assert actions[-4:] == ["model.create", "dataset.register", "dataset.register", "version.register"]
    assert edges == [(True, "model:toy-model:1", "evaluated_on"), (True, "model:toy-model:1", "trained_on")]


def test_metrics_equal_scikit_learn(store, people):
    df = synthetic_classification(n=600, seed=3)
    train, test = df.iloc[:400], df.iloc[400:]
    est = LogisticRegression().fit(train[["x1", "x2"]], train["y"])
    v = versions.register_version(store, people["ds"], "metric-check", est, train, "y", test_data=test)
    p = est.predict_proba(test[["x1", "x2"]])[:, 1]
    fpr, tpr, _ = skm.roc_curve(test["y"], p)
    assert v.metrics["auc"] == pytest.approx(skm.roc_auc_score(test["y"], p), abs=1e-12)
    assert v.metrics["ks"] == pytest.approx(np.max(tpr - fpr), abs=1e-12)
    assert v.metrics["brier"] == pytest.approx(skm.brier_score_loss(test["y"], p), abs=1e-12)
    assert v.metrics["log_loss"] == pytest.approx(skm.log_loss(test["y"], p), abs=1e-12)
    assert v.metrics["accuracy"] == pytest.approx(skm.accuracy_score(test["y"], est.predict(test[["x1", "x2"]])))


def test_regression_metrics_equal_scikit_learn(store, people):
    v = make_version(store, people["ds"], "reg-model", regression=True)
    assert set(v.metrics) == {"rmse", "mae", "r2"} and v.task == "regression"
    assert v.metrics["r2"] > 0.9 and v.metrics["rmse"] == pytest.approx(np.sqrt(v.metrics["rmse"] ** 2))


def test_versions_increment_and_identical_data_is_not_stored_twice(store, people):
    make_version(store, people["ds"], "twice")
    v2 = make_version(store, people["ds2"], "twice", allow_duplicate=True)  # the same model again, on purpose
    assert v2.version == 2 and v2.created_by == "grace@example.com"
    assert _state(store)[2] == 2  # the same train and test data are reused, not registered again


def test_joblib_and_skops_files_register_and_load_after_hash_check(store, people, tmp_path):
    df = synthetic_classification()
    est = LogisticRegression().fit(df[["x1", "x2"]], df["y"])
    joblib.dump(est, tmp_path / "m.joblib")
    sio.dump(est, tmp_path / "m.skops")
    df.to_csv(tmp_path / "train.csv", index=False)
    a = versions.register_version(store, people["ds"], "from-files", str(tmp_path / "m.joblib"), tmp_path / "train.csv",
                                  "y", allow_pickle=True)  # the person's own file, as `modelgov register` passes
    with pytest.raises(Conflict, match="from-files v1 is this same model"):  # one model, however it was saved
        versions.register_version(store, people["ds"], "from-files", str(tmp_path / "m.skops"), tmp_path / "train.csv",
                                  "y")
    b = versions.register_version(store, people["ds"], "from-files", str(tmp_path / "m.skops"), tmp_path / "train.csv",
                                  "y", allow_duplicate=True)
    assert a.sha256 == b.sha256  # content-addressed: the same model is the same artifact
    _v, loaded = versions.load_model(store, "from-files", 2)
    np.testing.assert_allclose(loaded.predict_proba(df[["x1", "x2"]]), est.predict_proba(df[["x1", "x2"]]))


class Homemade(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X):
        return np.tile([0.5, 0.5], (len(X), 1))

    def predict(self, X):
        return np.zeros(len(X), dtype=int)


def _bad_cases(tmp_path):
    df = synthetic_classification()
    iris = load_iris(as_frame=True).frame
    fitted = LogisticRegression().fit(df[["x1", "x2"]], df["y"])
    (tmp_path / "notes.txt").write_text("not a model")
    return {
        "bad name": (dict(name="Credit Default", model=fitted, train=df, target="y"), InvalidInput, "not lowercase-kebab"),
        "missing target": (dict(model=fitted, train=df, target="label"), InvalidInput, "Target column 'label' is not in"),
        "not a model file": (dict(model=str(tmp_path / "notes.txt"), train=df, target="y"), InvalidInput,
                             "is not a skops file"),
        "not a model file, pickles allowed": (dict(model=str(tmp_path / "notes.txt"), train=df, target="y",
                                                   allow_pickle=True), InvalidInput,
                                              "is not a scikit-learn model file joblib can read"),
        "missing model file": (dict(model=str(tmp_path / "nope.joblib"), train=df, target="y"), NotFound, "does not exist"),
        "cannot score columns": (dict(model=fitted, train=df.rename(columns={"x2": "z"}), target="y"), InvalidInput,
                                 "needs column"),
        "unfitted": (dict(model=LogisticRegression(), train=df, target="y"), InvalidInput, "not fitted"),
        # multiclass is supported (tests/core/test_multiclass.py); a classifier without probabilities is not
        "no predict_proba": (dict(model=LinearSVC().fit(iris.drop(columns="target"), iris["target"]),
                                  train=iris, target="target"), InvalidInput, "with predict_proba"),
        "untrusted type": (dict(model=Homemade().fit(df[["x1", "x2"]], df["y"]), train=df, target="y"), InvalidInput,
                           "Homemade, which is not a reviewed scikit-learn, numpy or scipy type"),
        "bad tier": (dict(model=fitted, train=df, target="y", risk_tier="extreme"), InvalidInput, "Risk tier 'extreme'"),
        "viewer": (dict(model=fitted, train=df, target="y", who="viewer"), Forbidden, "may not register model"),
        "unknown card field": (dict(model=fitted, train=df, target="y", **{"owner_phone": "x"}), InvalidInput,
                               "Unknown model-card field"),
        "test lacks target": (dict(model=fitted, train=df, target="y", test_data=df.drop(columns="y")), InvalidInput,
                              "Target column 'y' is not in the test data"),
    }


@pytest.mark.parametrize("case", ["bad name", "missing target", "not a model file",
                                  "not a model file, pickles allowed", "missing model file",
                                  "cannot score columns", "unfitted", "no predict_proba", "untrusted type", "bad tier",
                                  "viewer", "unknown card field", "test lacks target"])
def test_bad_input_is_one_sentence_and_nothing_is_half_written(store, people, tmp_path, case):
    kwargs, error, message = _bad_cases(tmp_path)[case]
    before, files_before = _state(store), _files(store)
    who = people[kwargs.pop("who", "ds")]
    with pytest.raises(error, match=message) as info:
        versions.register_version(store, who, kwargs.pop("name", "bad-input"), kwargs.pop("model"),
                                  kwargs.pop("train"), kwargs.pop("target"), **kwargs)
    assert "\n" not in str(info.value)
    assert _state(store) == before and _files(store) == files_before


def test_duplicate_and_unknown_models(store, people):
    catalog.create_model(store, people["ds"], "only-once")
    with pytest.raises(Conflict, match="Model only-once already exists"):
        catalog.create_model(store, people["ds"], "only-once")
    with pytest.raises(NotFound, match="Model ghost not found. See 'modelgov models list'"):
        catalog.get_model(store, "ghost")
    with pytest.raises(NotFound, match="has no versions yet"):
        versions.get_model_version(store, "only-once")
    make_version(store, people["ds"], "one-version")
    with pytest.raises(NotFound, match="Model version one-version:7 not found"):
        versions.get_model_version(store, "one-version", 7)


def test_a_tampered_or_swapped_artifact_is_never_loaded(store, people):
    a = make_version(store, people["ds"], "tamper-a")
    b = make_version(store, people["ds"], "tamper-b", regression=True)
    path_a = artifacts.artifact_path(store.artifacts_dir, a.sha256)
    path_b = artifacts.artifact_path(store.artifacts_dir, b.sha256)
    assert all(r["problem"] is None for r in versions.verify_artifacts(store))
    path_a.write_bytes(path_b.read_bytes())  # swapped
    with pytest.raises(CheckFailed, match="does not match its registered SHA-256"):
        versions.load_model(store, "tamper-a")
    path_b.write_bytes(path_b.read_bytes() + b"x")  # edited
    path_a.unlink()
    problems = {r["model"]: r["problem"] for r in versions.verify_artifacts(store)}
    assert problems["tamper-a"] == "missing" and problems["tamper-b"].startswith("hash mismatch")
    with pytest.raises(CheckFailed, match="missing"):
        versions.load_model(store, "tamper-a")


def test_update_model_card_is_audited_with_old_and_new_values(store, people):
    catalog.create_model(store, people["ds"], "carded")
    m = catalog.update_model(store, people["ds2"], "carded", intended_use="Ranking", tags=["a", "b"])
    assert m.card["intended_use"] == "Ranking" and m.tags == ["a", "b"]
    assert m.card_completeness() == pytest.approx(0.2)
    with store.read() as con:
        payload = con.execute("SELECT CAST(payload AS VARCHAR) FROM audit_log WHERE action = 'model.update'").fetchone()[0]
    assert '"intended_use":{"from":"","to":"Ranking"}' in payload
    with pytest.raises(InvalidInput, match="Cannot change sha256"):
        catalog.update_model(store, people["ds"], "carded", sha256="x")


def test_search_filters_sorts_and_paginates(store, people):
    for i, (tier, owner, tags) in enumerate([("high", "a@x.com", ["credit"]), ("low", "b@x.com", ["health"]),
                                             ("medium", "a@x.com", ["credit", "pd"]), ("high", "c@x.com", [])]):
        catalog.create_model(store, people["ds"], f"search-{i}", risk_tier=tier, owner=owner, tags=tags,
                              description=f"model number {i}")
    make_version(store, people["ds"], "search-0")
    r = catalog.search_models(store)
    assert [m.name for m in r.items] == ["search-0", "search-1", "search-2", "search-3"] and r.total == 4
    assert [m.name for m in catalog.search_models(store, owner="a@x.com").items] == ["search-0", "search-2"]
    assert [m.name for m in catalog.search_models(store, risk_tier="high").items] == ["search-0", "search-3"]
    assert [m.name for m in catalog.search_models(store, tag="credit").items] == ["search-0", "search-2"]
    assert [m.name for m in catalog.search_models(store, status="development").items] == ["search-0"]
    assert [m.name for m in catalog.search_models(store, status="draft").items] == ["search-1", "search-2", "search-3"]
    assert [m.name for m in catalog.search_models(store, "number 3").items] == ["search-3"]
    assert catalog.search_models(store, sort="name", descending=True).items[0].name == "search-3"
    page2 = catalog.search_models(store, per_page=3, page=2)
    assert [m.name for m in page2.items] == ["search-3"] and page2.total == 4 and page2.pages == 2
    assert catalog.search_models(store, per_page=3, page=9).total == 4
    with pytest.raises(InvalidInput, match="Cannot sort by 'colour'"):
        catalog.search_models(store, sort="colour")


def test_a_pipeline_survives_the_deterministic_artifact_round_trip(demo_store):
    from core import demo

    train, test = demo.credit_split()
    features = [c for c in train.columns if c != "default"]
    _v, loaded = versions.load_model(demo_store, "credit-default", 2)
    fresh = demo.credit_challenger(features, quick=True).fit(train[features], train["default"])
    np.testing.assert_allclose(loaded.predict_proba(test[features].head(200)),
                               fresh.predict_proba(test[features].head(200)), rtol=1e-9)
    assert artifacts.serialise(loaded) == artifacts.serialise(fresh)
