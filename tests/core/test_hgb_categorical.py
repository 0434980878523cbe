"""Histogram boosting with native categorical features registers and scores, and the one function it keeps
(scikit-learn's own `partial(check_array, …)`) opens no door: any other function, argument or structure is refused.

The model is trained on the credit-card default data the demo ships, with SEX, EDUCATION and MARRIAGE as
categorical columns (`categorical_features="from_dtype"`), as a credit-risk team would.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.validation import check_array

from core.errors import InvalidInput
from core.registry import artifacts, versions
from core.registry.hgb_checks import reviewed_partial
from tests.core.test_artifacts_attacks import _json, _rewrite, modelgov

ROOT = Path(__file__).resolve().parents[2]
CREDIT = ROOT / "data" / "demo" / "credit_default.csv"
CATEGORICAL = ["SEX", "EDUCATION", "MARRIAGE"]
TARGET = "default"


@pytest.fixture(scope="module")
def credit() -> pd.DataFrame:
    df = pd.read_csv(CREDIT, nrows=3000)
    for c in CATEGORICAL:  # categories as words, as a team's feature store keeps them
        df[c] = "code_" + df[c].astype(str)
    return df


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in CATEGORICAL:
        out[c] = out[c].astype("category")
    return out


@pytest.fixture(scope="module")
def hgb(credit) -> HistGradientBoostingClassifier:
    X = _typed(credit.drop(columns=[TARGET]))
    return HistGradientBoostingClassifier(max_iter=30, categorical_features="from_dtype", random_state=0).fit(
        X, credit[TARGET])


def test_the_model_really_holds_a_partial_of_check_array(hgb):
    ft = hgb._preprocessor.transformers_[1][1]
    assert isinstance(ft, FunctionTransformer) and reviewed_partial(ft.func)
    assert "functools.partial" in sio.get_untrusted_types(data=sio.dumps(hgb))


@pytest.mark.parametrize("fmt", ["skops", "joblib"])
def test_a_categorical_hgb_registers_and_scores_like_the_original(store, people, tmp_path, credit, hgb, fmt):
    path = tmp_path / f"hgb.{fmt}"
    sio.dump(hgb, path) if fmt == "skops" else joblib.dump(hgb, path)
    train = tmp_path / "train.csv"
    credit.to_csv(train, index=False)
    if fmt == "joblib":  # as a team's pipeline does: the CLI, with the person's own pickle
        result = modelgov(store, "register", "credit-hgb-cat", "--model", str(path), "--train-data", str(train),
                          "--target", TARGET, "--json")
        assert result.returncode == 0, result.stderr
    else:  # a skops file through core, as the dashboard hands one in
        versions.register_version(store, people["ds"], "credit-hgb-cat", str(path), train, TARGET)
    v = versions.get_model_version(store, "credit-hgb-cat", 1)
    loaded = artifacts.load(store.artifacts_dir, v.sha256, v.ref)
    X = credit.drop(columns=[TARGET])
    # the same probabilities as the model the team trained, on the categories as the CSV gives them
    assert np.array_equal(loaded.predict_proba(X), hgb.predict_proba(_typed(X)))


def test_a_categorical_regressor_loads_too(credit):
    X = _typed(credit.drop(columns=[TARGET]))
    reg = HistGradientBoostingRegressor(max_iter=20, categorical_features="from_dtype").fit(X, X["LIMIT_BAL"])
    loaded = _load(sio.dumps(reg))
    assert np.array_equal(loaded.predict(X), reg.predict(X))


# -- attacks on the one function a file may now name --------------------------------------------------------


def _partials(tree):
    """Every functools.partial node in a skops schema."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("__loader__") == "PartialNode":
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _each_partial(edit):
    def apply(tree):
        for node in list(_partials(tree)):
            edit(node["content"])
    return apply


def _load(data: bytes):
    from core.registry.safe_load import load_skops

    return load_skops(data, "hgb.skops")


@pytest.mark.parametrize("edit, phrase", [
    (lambda c: c["func"].update(__module__="numpy.testing._private.utils", __class__="runstring"),
     r"holds the functions .*numpy\.testing\._private\.utils\.runstring"),
    (lambda c: c["func"].update(__module__="builtins", __class__="eval"), r"holds the functions builtins\.eval"),
    (lambda c: c["args"]["content"].append(_json("print(1)")), "holds the function"),
    (lambda c: c["kwds"]["content"].update(estimator=_json("x")), "holds the function"),
    (lambda c: c.update(namespace={"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode",
                                   "content": {"func": _json("x")},
                                   "key_types": {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode",
                                                 "content": [{"__class__": "str", "__module__": "builtins",
                                                              "__loader__": "TypeNode"}]}}),
     "holds the function"),  # a __dict__ for the partial: refused
    (lambda c: c["kwds"]["content"].update(ensure_all_finite=_json(True)), "numeric step is not scikit-learn's own"),
])
def test_a_crafted_partial_is_refused_before_it_runs(hgb, edit, phrase):
    data = _rewrite(sio.dumps(hgb), schema=_each_partial(edit))
    with pytest.raises(InvalidInput, match=phrase) as info:
        _load(data)
    assert "\n" not in str(info.value)


def test_a_preprocessor_that_narrows_the_trees_input_is_refused(hgb):
    """Drop a numeric column from the preprocessor's output: the trees would read past the end of each row."""
    mask = hgb._preprocessor.transformers_[1][2]

    def narrow(a):
        if a.dtype == bool and a.shape == mask.shape and np.array_equal(a, mask):
            b = a.copy()
            b[np.flatnonzero(b)[-1]] = False
            return b
        return None

    with pytest.raises(InvalidInput, match="is malformed"):
        _load(_rewrite(sio.dumps(hgb), arrays=narrow))


def test_the_partial_is_accepted_only_as_scikit_learn_writes_it():
    assert reviewed_partial(partial(check_array, dtype=[np.float64], ensure_all_finite=False))
    assert not reviewed_partial(partial(check_array, dtype=[np.float64], ensure_all_finite=True))
    assert not reviewed_partial(partial(check_array, dtype=[np.float32], ensure_all_finite=False))
    assert not reviewed_partial(partial(check_array, np.zeros(1), dtype=[np.float64], ensure_all_finite=False))
    assert not reviewed_partial(check_array)
    assert not reviewed_partial(partial(np.log1p))


def test_a_function_transformer_with_check_array_itself_is_refused(credit):
    """check_array bare (not the reviewed partial) as a FunctionTransformer's func: named as a function."""
    X = credit[["LIMIT_BAL", "AGE"]].to_numpy(dtype=float)
    est = make_pipeline(FunctionTransformer(check_array), HistGradientBoostingClassifier(max_iter=3)).fit(
        X, credit[TARGET])
    with pytest.raises(InvalidInput, match="holds the function sklearn.utils.validation.check_array"):
        _load(sio.dumps(est))


def test_the_reviewed_list_names_the_partial_with_its_keywords():
    from core.registry import trusted_types as tt

    assert tt.REVIEWED_PARTIALS == {"sklearn.utils.validation.check_array": {"dtype", "ensure_all_finite"}}
    assert json.dumps(sorted(tt.REVIEWED_PARTIALS["sklearn.utils.validation.check_array"]))
