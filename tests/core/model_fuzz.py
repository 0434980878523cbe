"""Corrupt fitted models and check that whatever `safe_load.validate` lets through cannot crash a process.

Run by tests/core/test_model_validation_fuzz.py in its own process (OpenMP and
BLAS pinned to one thread, so forked children do not inherit busy thread
pools):

    python -m tests.core.model_fuzz GROUP

For every model of the group, every numeric array, integer attribute, tree,
KD/ball tree and sparse matrix reachable from it (the first members of an
ensemble) is corrupted in turn: shrunk along its first or last axis, emptied,
and for integer data pushed far out of range or made negative. A forked child
runs the corruptions in turn, each on a fresh unpickled copy of the model: if
`validate` refuses it, fine; if not, the child calls every prediction method on
real input. A signal that kills the child (a hang is killed by SIGALRM) is a
crash of the corruption it was on; a new child goes on from the next. The
last line printed is JSON: {"runs": N, "refused": N, "crashes": [[model, corruption, signal], ...]}.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import sys
import time
import warnings

os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")

import numpy as np  # noqa: E402
from scipy import sparse  # noqa: E402

from core.registry import safe_load  # noqa: E402
from core.errors import InvalidInput  # noqa: E402

ALARM = 30  # seconds a corruption may run before it counts as a hang (SIGALRM)
# The harness checking itself (group "selfcheck"): corruption index -> how its process dies.
_INJECTED: dict[int, str] = {}

METHODS = ("predict", "predict_proba", "decision_function", "transform", "score_samples", "decision_path")


def models(group: str) -> dict:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.cluster import KMeans
    from sklearn.datasets import make_classification
    from sklearn.decomposition import PCA
    from sklearn.ensemble import (
        AdaBoostClassifier,
        BaggingClassifier,
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        HistGradientBoostingClassifier,
        IsolationForest,
        RandomForestClassifier,
    )
    from sklearn.impute import KNNImputer
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.naive_bayes import CategoricalNB, GaussianNB
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestCentroid, RadiusNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import (
        KBinsDiscretizer,
        OneHotEncoder,
        PolynomialFeatures,
        QuantileTransformer,
        StandardScaler,
        TargetEncoder,
    )
    from sklearn.random_projection import SparseRandomProjection
    from sklearn.svm import SVC, SVR, NuSVC, OneClassSVM
    from sklearn.tree import DecisionTreeClassifier

    X, y = make_classification(120, 4, random_state=0)
    y3 = np.arange(120) % 3
    Xs = sparse.csr_matrix(np.where(np.abs(X) > 0.7, X, 0))
    Xi = (np.abs(X) * 2).astype(int)
    groups = {
        "trees": lambda: {
            "decision tree": (DecisionTreeClassifier(max_depth=4).fit(X, y), X),
            "random forest": (RandomForestClassifier(3, max_depth=3).fit(X, y), X),
            "gradient boosting": (GradientBoostingClassifier(n_estimators=3).fit(X, y), X),
            "gradient boosting, 3 classes": (GradientBoostingClassifier(n_estimators=3).fit(X, y3), X),
            "gradient boosting regressor": (GradientBoostingRegressor(n_estimators=3).fit(X, X[:, 0]), X),
            "bagging on 2 features": (BaggingClassifier(n_estimators=3, max_features=2).fit(X, y), X),
            "isolation forest": (IsolationForest(n_estimators=3, max_features=2).fit(X), X),
            "adaboost": (AdaBoostClassifier(n_estimators=3).fit(X, y), X),
        },
        "boosting": lambda: {
            "hist gradient boosting": (HistGradientBoostingClassifier(max_iter=3).fit(X, y), X),
            "hist gradient boosting, 3 classes": (HistGradientBoostingClassifier(max_iter=3).fit(X, y3), X),
        },
        "neighbours": lambda: {
            "k-NN, KD-tree": (KNeighborsClassifier(algorithm="kd_tree").fit(X, y), X),
            "k-NN, ball tree": (KNeighborsClassifier(algorithm="ball_tree").fit(X, y3), X),
            "k-NN, Minkowski p=3": (KNeighborsClassifier(algorithm="kd_tree", p=3).fit(X, y), X),
            "k-NN, brute": (KNeighborsClassifier(algorithm="brute").fit(X, y3), X),
            "k-NN regressor": (KNeighborsRegressor(algorithm="brute").fit(X, X[:, 0]), X),
            "radius neighbours": (RadiusNeighborsClassifier(radius=3.0, algorithm="brute").fit(X, y), X),
            "nearest centroid": (NearestCentroid().fit(X, y), X),
            "KNN imputer": (make_pipeline(KNNImputer(), LogisticRegression()).fit(X, y), X),
        },
        "svm": lambda: {
            "SVC with probabilities": (SVC(probability=True).fit(X, y), X),
            "SVC, 3 classes": (SVC().fit(X, y3), X),
            "NuSVC": (NuSVC().fit(X, y), X),
            "SVR": (SVR().fit(X, X[:, 0]), X),
            "one-class SVM": (OneClassSVM().fit(X), X),
            "SVC on sparse data": (SVC().fit(Xs, y), Xs),
        },
        "others": lambda: {
            "k-means + logistic": (make_pipeline(KMeans(3, n_init=1), LogisticRegression()).fit(X, y), X),
            "scaler + PCA + logistic": (make_pipeline(StandardScaler(), PCA(2), LogisticRegression()).fit(X, y), X),
            "SGD": (SGDClassifier().fit(X, y), X),
            "Gaussian naive Bayes": (GaussianNB().fit(X, y), X),
            "categorical naive Bayes": (CategoricalNB().fit(Xi, y), Xi),
            "MLP": (MLPClassifier(max_iter=20).fit(X, y), X),
            "isotonic calibration": (CalibratedClassifierCV(LogisticRegression(), method="isotonic").fit(X, y), X),
            "polynomial features": (make_pipeline(PolynomialFeatures(), LogisticRegression()).fit(X, y), X),
            "quantiles + bins": (make_pipeline(QuantileTransformer(n_quantiles=20), KBinsDiscretizer(
                quantile_method="averaged_inverted_cdf"), LogisticRegression()).fit(X, y), X),
            "sparse random projection": (make_pipeline(SparseRandomProjection(3, dense_output=True),
                                                       LogisticRegression()).fit(X, y), X),
            "one-hot": (make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression()).fit(Xi, y), Xi),
            "target encoder": (make_pipeline(TargetEncoder(), LogisticRegression()).fit(Xi, y), Xi),
        },
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return groups[group]()


def targets(obj, path, seen):
    """(kind, path, handle) for each corruptible part of `obj`; the first member of a collection (the checks treat
    every member alike, and each corruption costs a fork)."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            for i, item in enumerate(obj.ravel()[:1]):
                yield from targets(item, f"{path}[{i}]", seen)
        return
    if isinstance(obj, (list, tuple)):
        for i, item in enumerate(obj[:1]):
            yield from targets(item, f"{path}[{i}]", seen)
        return
    if isinstance(obj, dict):
        for key, item in obj.items():
            yield from targets(item, f"{path}[{key!r}]", seen)
        return
    name = type(obj).__name__
    if name == "Tree":
        yield "tree", path, obj
    elif name in ("KDTree", "BallTree"):
        yield "neighbour tree", path, obj
    elif sparse.issparse(obj):
        yield "sparse", path, obj
    elif hasattr(obj, "__dict__"):
        for key, value in vars(obj).items():
            if isinstance(value, np.ndarray) and value.dtype != object:
                yield "array", f"{path}.{key}", (obj, key)
            elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                yield "int", f"{path}.{key}", (obj, key)
            else:
                yield from targets(value, f"{path}.{key}", seen)


def corruptions(a: np.ndarray):
    out = []
    if a.ndim >= 1 and a.shape[0] > 1:
        out.append(("half", a[: a.shape[0] // 2].copy()))
    if a.ndim >= 2 and a.shape[-1] > 1:
        out.append(("last column dropped", np.ascontiguousarray(a[..., :-1])))
    if a.dtype.names:
        for field in a.dtype.names:
            if a.dtype[field].kind in "iu":
                b = a.copy()
                b[field][: max(1, len(b) // 2)] = 2 ** 30 if a.dtype[field].itemsize >= 4 else 200
                out.append((f"{field} out of range", b))
    elif a.dtype.kind in "iu" and a.dtype.itemsize >= 4:
        out.append(("out of range", (a + 10 ** 6).astype(a.dtype)))
        if a.dtype.kind == "i":
            out.append(("negative", np.full_like(a, -5)))
    out.append(("empty", np.zeros((0,) + a.shape[1:], a.dtype)))
    return out


def mutations(kind, path, handle):
    if kind == "array":
        obj, key = handle
        for name, new in corruptions(getattr(obj, key)):
            yield f"{path}: {name}", (lambda o=obj, k=key, n=new: setattr(o, k, n))
    elif kind == "int":
        obj, key = handle
        for delta in (1000, -1, 0):
            yield f"{path}: {'0' if delta == 0 else f'{delta:+d}'}", (
                lambda o=obj, k=key, d=delta: setattr(o, k, getattr(o, k) + d if d else 0))
    elif kind == "tree":
        state = handle.__getstate__()
        for name, new in corruptions(state["nodes"]):
            def set_nodes(t=handle, s=state, n=new):
                s = dict(s, nodes=n, node_count=len(n))
                if len(n) != len(state["nodes"]):
                    s["values"] = state["values"][: len(n)]
                t.__setstate__(s)
            yield f"{path}: nodes {name}", set_nodes
        for count in (state["node_count"] + 50, 0):
            yield f"{path}: node_count {count}", (
                lambda t=handle, s=state, c=count: t.__setstate__(dict(s, node_count=c)))
        yield f"{path}: max_depth 0", (lambda t=handle, s=state: t.__setstate__(dict(s, max_depth=0)))
    elif kind == "neighbour tree":
        state = list(handle.__getstate__())
        for i, part in enumerate(("data", "index", "nodes", "bounds")):
            for name, new in corruptions(state[i]):
                def set_part(t=handle, s=state, i=i, n=new):
                    t.__setstate__(tuple(s[:i] + [n] + s[i + 1:]))
                yield f"{path}: {part} {name}", set_part
        for i, part in ((5, "n_levels"), (6, "n_nodes")):
            yield f"{path}: {part} +3", (
                lambda t=handle, s=state, i=i: t.__setstate__(tuple(s[:i] + [s[i] + 3] + s[i + 1:])))
    elif kind == "sparse":
        for attr in ("indices", "indptr", "data"):
            for name, new in corruptions(getattr(handle, attr)):
                yield f"{path}.{attr}: {name}", (lambda m=handle, a=attr, n=new: setattr(m, a, n))


def _plan(model) -> list[tuple[str, object]]:
    """(name, mutate) for each corruption of `model`, in order: the same order for any unpickled copy of it."""
    return [m for kind, path, handle in list(targets(model, "model", set())) for m in mutations(kind, path, handle)]


def _attempt(model, X, mutate) -> int:
    """0 ran, 10 refused by validate, 12 the corruption itself failed, 13 validate failed otherwise."""
    try:
        mutate()
    except Exception:
        return 12
    try:
        safe_load.validate(model, "The model")
    except InvalidInput:
        return 10
    except Exception:
        return 13
    for method in METHODS:
        if hasattr(model, method):
            try:
                getattr(model, method)(X)
            except Exception:
                pass
    try:
        getattr(model, "feature_importances_", None)
    except Exception:
        pass
    return 0


def _child(blob: bytes, X, first: int, last: int, out: int) -> None:
    """In a forked child: corruptions `first` to `last`, each on a fresh copy of the pristine model, writing "i"
    before and "i code" after each; never returns. A signal that kills it names the corruption it was on."""
    try:
        for i in range(first, last + 1):
            model = pickle.loads(blob)
            plan = _plan(model)
            os.write(out, f"{i}\n".encode())
            signal.alarm(ALARM)  # a corruption that hangs is a crash too (SIGALRM)
            _inject(i, alone=i == first)
            code = _attempt(model, X, plan[i][1])
            signal.alarm(0)
            os.write(out, f"{i} {code}\n".encode())
    finally:
        os._exit(0)


def _run_child(blob: bytes, X, first: int, last: int) -> tuple[dict[int, int], int | None, int]:
    """Run corruptions `first` to `last` in one forked child: the results it reported, the corruption it was on
    when it died (None if it finished) and the signal that killed it (0 if none)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        _child(blob, X, first, last, write)
    os.close(write)
    results: dict[int, int] = {}
    started = None
    with os.fdopen(read) as lines:
        for line in lines:
            parts = line.split()
            if len(parts) == 1:
                started = int(parts[0])
            else:
                results[int(parts[0])] = int(parts[1])
                started = None
    _pid, status = os.waitpid(pid, 0)
    return results, started, os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0


def run_all(model, X) -> list[tuple[str, int]]:
    """(corruption, result) for every corruption of `model`: the result as `_attempt` returns it, or minus the
    signal that killed the process. One forked child runs them in turn, each on its own unpickled copy (a fork per
    corruption cost 25 ms, most of the run, with scikit-learn loaded); after a crash a new child goes on from the
    next one. A corruption that crashed only after earlier ones ran in the same child is run again alone, and
    reported either way."""
    names, blob = [what for what, _mutate in _plan(model)], pickle.dumps(model)
    results: dict[int, int] = {}
    first = 0
    while first < len(names):
        done, started, signum = _run_child(blob, X, first, len(names) - 1)
        results.update(done)
        if started is None:
            break
        if signum and started > first:  # not the first in its child: does it crash alone?
            _done, _started, alone = _run_child(blob, X, started, started)
            results[started] = -(alone or signum)
        else:
            results[started] = -signum if signum else 13
        first = started + 1
    return [(names[i], results[i]) for i in range(len(names))]


def _inject(i: int, alone: bool) -> None:
    how = _INJECTED.get(i)
    if how == "segv" or (how == "segv after others" and not alone):
        os.kill(os.getpid(), signal.SIGSEGV)
    elif how == "hang":
        time.sleep(ALARM * 5)


def main(group: str) -> None:
    global ALARM
    warnings.simplefilter("ignore")
    runs = refused = 0
    crashes = []
    if group == "selfcheck":  # deaths injected into a real model's corruptions: each must be reported, no other
        from sklearn.datasets import make_classification
        from sklearn.tree import DecisionTreeClassifier

        ALARM = 1
        _INJECTED.update({0: "segv", 5: "segv", 6: "segv", 10: "hang", 20: "segv after others"})
        X, y = make_classification(120, 4, random_state=0)
        chosen = {"decision tree": (DecisionTreeClassifier(max_depth=4, random_state=0).fit(X, y), X)}
    else:
        chosen = models(group)
    for name, (model, X) in chosen.items():
        for what, result in run_all(model, X):
            runs += 1
            refused += result == 10
            if result < 0:
                crashes.append([name, what, signal.Signals(-result).name])
    print(json.dumps({"runs": runs, "refused": refused, "crashes": crashes}))


if __name__ == "__main__":
    main(sys.argv[1])
