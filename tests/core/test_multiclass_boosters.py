"""SHAP per class for multiclass XGBoost and LightGBM: through the store (the model rebuilt from its native booster),
equal to shap's own TreeExplainer run on the library's native booster for every class, and adding up to the model's
own raw output per class, whose softmax is its predict_proba. Small 3-class models (wine, a few trees)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shap
from sklearn.datasets import load_wine

from core.explain import explanations
from core.registry import versions
from tests.conftest import _copy_home

TARGET = "cultivar"
FEATURES = ["alcohol", "malic_acid", "flavanoids", "color_intensity", "proline", "hue"]


def _lightgbm():
    try:
        return pytest.importorskip("lightgbm")
    except OSError as error:  # installed, but the system lacks the OpenMP runtime its wheel loads (libgomp1)
        pytest.skip(f"lightgbm cannot load here ({error}); install libgomp1")


@pytest.fixture(scope="module")
def world(_template_home, _template_people, tmp_path_factory):
    xgb = pytest.importorskip("xgboost")
    lgb = _lightgbm()
    X, y = load_wine(return_X_y=True, as_frame=True)
    df = X[FEATURES].assign(**{TARGET: y})
    order = np.random.default_rng(3).permutation(len(df))
    train, test = df.iloc[order[:120]].reset_index(drop=True), df.iloc[order[120:]].reset_index(drop=True)
    models = {"xgb": xgb.XGBClassifier(n_estimators=6, max_depth=2, random_state=0),
              "lgbm": lgb.LGBMClassifier(n_estimators=6, num_leaves=4, min_child_samples=5, verbose=-1,
                                         random_state=0)}
    store = _copy_home(_template_home, tmp_path_factory.mktemp("mc-boosters") / "home")
    ds = _template_people["ds"]
    for name, m in models.items():
        m.fit(train[FEATURES], train[TARGET])
        versions.register_version(store, ds, f"wine-{name}", m, train, TARGET, test_data=test)
    return store, ds, test, models


def _native(model):
    return model.get_booster() if hasattr(model, "get_booster") else model.booster_


def _raw(model, X: pd.DataFrame) -> np.ndarray:
    return (model.predict(X, output_margin=True) if hasattr(model, "get_booster")
            else model.predict(X, raw_score=True))


@pytest.mark.parametrize("name", ["xgb", "lgbm"])
def test_every_class_equals_shaps_own_on_the_native_booster_and_adds_up(world, name):
    store, ds, test, models = world
    model = models[name]
    e = explanations.explain(store, ds, f"wine-{name}", 1, rows=30)
    v = versions.get_model_version(store, f"wine-{name}", 1)
    assert (v.task, v.classes, v.flavour) == ("multiclass_classification", [0, 1, 2],
                                              "xgboost" if name == "xgb" else "lightgbm")
    assert e.explainer == "tree" and e.output_space == "raw" and e.class_count == 3 and e.additivity_ok
    rows = test[FEATURES].loc[e.frame["index"]]
    own = shap.TreeExplainer(_native(model))(rows)
    want, want_base = np.asarray(own.values, dtype=float), np.asarray(own.base_values, dtype=float)
    assert want.shape == (len(rows), len(FEATURES), 3)
    raw, proba = _raw(model, rows), model.predict_proba(rows)
    totals = []
    for k in range(3):
        ek = e.for_class(k)
        np.testing.assert_allclose(ek.values.to_numpy(), want[:, :, k], rtol=1e-9, atol=1e-9)
        assert ek.base_value == pytest.approx(want_base.reshape(len(rows), 3)[0, k], abs=1e-9)
        total = ek.base_value + ek.values.sum(axis=1).to_numpy()
        # additivity per class against the model's own raw score (XGBoost computes in float32: to its precision)
        np.testing.assert_allclose(total, raw[:, k], rtol=1e-6, atol=1e-6)
        assert ek.additivity_max_error < 1e-5
        totals.append(total)
    z = np.exp(np.array(totals).T - np.max(totals, axis=0)[:, None])
    np.testing.assert_allclose(z / z.sum(axis=1, keepdims=True), proba, atol=1e-6)  # softmax = predict_proba
    for row in (0, 7):
        assert e.class_probability(row, 2) == pytest.approx(proba[row, 2], abs=1e-6)
    assert (e.frame["predicted_class"] == proba.argmax(axis=1)).all()


@pytest.mark.parametrize("name", ["xgb", "lgbm"])
def test_what_if_gives_each_class_its_values_and_the_models_probability(world, name):
    store, _ds, test, models = world
    model = models[name]
    record = test[FEATURES].iloc[3].to_dict()
    frame = pd.DataFrame([record])
    proba = model.predict_proba(frame)[0]
    own = shap.TreeExplainer(_native(model))(frame)
    for k in range(3):
        out = explanations.explain_record(store, f"wine-{name}", 1, record, class_index=k)
        assert out["class_index"] == k and out["probability"] == pytest.approx(proba[k], abs=1e-6)
        np.testing.assert_allclose([out["values"][f] for f in FEATURES], np.asarray(own.values)[0, :, k],
                                   rtol=1e-9, atol=1e-9)
        assert out["prediction"] == pytest.approx(_raw(model, frame)[0, k], abs=1e-6)
    assert explanations.explain_record(store, f"wine-{name}", 1, record)["class_index"] == int(proba.argmax())
