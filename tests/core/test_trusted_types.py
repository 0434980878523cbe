"""The reviewed list: classes only, every scikit-learn estimator accounted for, real models still load."""

from __future__ import annotations

import importlib
import inspect

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from core.registry import artifacts, safe_load
from core.registry import trusted_types as tt
from core.errors import InvalidInput


def _resolve(name: str):
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def test_every_estimator_scikit_learn_lists_is_reviewed_or_refused_with_a_reason():
    from sklearn.utils import all_estimators

    installed = {f"{c.__module__}.{c.__name__}" for _n, c in all_estimators()}
    listed = tt.ESTIMATORS | set(tt.NOT_REVIEWED)
    assert not tt.ESTIMATORS & set(tt.NOT_REVIEWED)
    assert installed - listed == set(), (
        "scikit-learn has estimators nobody reviewed; read their fitted state and predict code, then add each to "
        "ESTIMATORS (with a validator in core/registry/safe_load.py if compiled code indexes stored arrays) or to "
        "NOT_REVIEWED with the reason (see the module docstring of core/registry/trusted_types.py)")
    assert listed - installed == set(), "listed classes this scikit-learn no longer has: update core/registry/trusted_types.py"


def test_the_list_holds_classes_only_never_a_prefix_or_a_function():
    for loader, names in tt.ALLOWED.items():
        assert loader not in tt.FUNCTION_LOADERS | {"ConstructorFromReduceNode"}
        for name in names:
            obj = _resolve(name)  # a prefix or a misspelt name does not resolve
            assert inspect.isclass(obj), f"{name} under {loader} is not a class"
            assert not issubclass(obj, (type(len), type(np.add))), name


def test_a_type_is_trusted_only_under_its_own_loader(tmp_path):
    # LogisticRegression is a reviewed class, but not as a list type: skops would call it with the items.
    import io
    import json
    import zipfile

    import skops.io as sio

    data = sio.dumps([1, 2])
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            body = src.read(name)
            if name == "schema.json":
                tree = json.loads(body)
                tree["__module__"], tree["__class__"] = "sklearn.linear_model._logistic", "LogisticRegression"
                body = json.dumps(tree).encode()
            dst.writestr(name, body)
    with pytest.raises(InvalidInput, match=r"contains sklearn\.linear_model\._logistic\.LogisticRegression as a "
                                           r"ListNode, which ModelGov accepts for that type only as an ObjectNode"):
        safe_load.audit(out.getvalue(), "The file")


def _frame(n=240, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"])
    df["city"] = rng.choice(["x", "y", "z"], size=n)
    y = (df["a"] + (df["city"] == "x") + rng.normal(scale=0.5, size=n) > 0.5).astype(int)
    return df, y


def _models():
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.ensemble import (
        BaggingClassifier,
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
        StackingClassifier,
        VotingClassifier,
    )
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.model_selection import GridSearchCV
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler, TargetEncoder
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    def prep():
        return ColumnTransformer([("num", make_pipeline(SimpleImputer(), StandardScaler()),
                                   make_column_selector(dtype_include="number")),
                                  ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"])])

    numeric = ["a", "b", "c", "d"]
    return {
        "logistic pipeline": (make_pipeline(prep(), LogisticRegression()), None),
        "target-encoded": (make_pipeline(ColumnTransformer([("te", TargetEncoder(), ["city"])],
                                                           remainder="passthrough"), LogisticRegression()), None),
        "hist gradient boosting": (HistGradientBoostingClassifier(max_iter=20), numeric),
        "gradient boosting": (GradientBoostingClassifier(n_estimators=10), numeric),
        "random forest": (make_pipeline(prep(), RandomForestClassifier(n_estimators=10, max_depth=5)), None),
        "extra trees": (ExtraTreesClassifier(n_estimators=5), numeric),
        "decision tree": (DecisionTreeClassifier(max_depth=4), numeric),
        "bagging": (BaggingClassifier(n_estimators=4, max_features=2), numeric),
        "svc": (make_pipeline(StandardScaler(), SVC(probability=True)), numeric),
        "knn kd-tree": (KNeighborsClassifier(algorithm="kd_tree"), numeric),
        "knn ball-tree": (KNeighborsClassifier(algorithm="ball_tree", metric="minkowski", p=3), numeric),
        "knn brute": (KNeighborsClassifier(algorithm="brute"), numeric),
        "mlp": (make_pipeline(StandardScaler(), MLPClassifier(max_iter=50)), numeric),
        "sgd": (SGDClassifier(loss="log_loss"), numeric),
        "naive bayes": (GaussianNB(), numeric),
        "calibrated": (CalibratedClassifierCV(LogisticRegression(), method="isotonic"), numeric),
        "grid search": (GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=3), numeric),
        "voting": (VotingClassifier([("lr", LogisticRegression()), ("dt", DecisionTreeClassifier())],
                                    voting="soft"), numeric),
        "stacking": (StackingClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())], cv=3), numeric),
    }


@pytest.mark.parametrize("name", list(_models()))
def test_real_models_round_trip_through_the_checks(name):
    import warnings

    est, columns = _models()[name]
    df, y = _frame()
    X = df if columns is None else df[columns]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence and deprecation notices of tiny fits
        est.fit(X, y)
    loaded = safe_load.load_skops(artifacts.serialise(est), "The model")
    np.testing.assert_allclose(loaded.predict_proba(X), est.predict_proba(X))


def test_sparse_state_is_checked():
    from sklearn.random_projection import SparseRandomProjection

    X = np.random.default_rng(0).normal(size=(50, 20))
    est = SparseRandomProjection(n_components=5, random_state=0).fit(X)
    assert sparse.issparse(est.components_)
    np.testing.assert_allclose(safe_load.load_skops(artifacts.serialise(est), "m").transform(X), est.transform(X))
    est.components_.indices[0] = 10_000  # a column far outside the 20 it has
    with pytest.raises(InvalidInput, match="sparse matrix's indices point outside it"):
        safe_load.validate(est, "The model")


def test_neighbour_metric_weights_must_match_the_features():
    from sklearn.neighbors import KNeighborsClassifier

    X = np.random.default_rng(0).normal(size=(60, 4))
    y = np.arange(60) % 2
    est = KNeighborsClassifier(algorithm="brute", p=3, metric_params={"w": np.ones(4)}).fit(X, y)
    safe_load.validate(est, "The model")
    est.effective_metric_params_["w"] = np.ones(2)  # the distance code would read weights 2 and 3 past the end
    with pytest.raises(InvalidInput, match="metric weights have the wrong length"):
        safe_load.validate(est, "The model")
