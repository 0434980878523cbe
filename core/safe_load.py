"""Loading model files without running code from them, and refusing what would crash the process.

Three layers, each covering what the one before cannot:

1. `audit`: before anything is built, every node of a skops file must name a
   (loader, type) pair on the reviewed list in `core/trusted_types.py`. No
   module prefix is trusted and no function is ever loaded.
2. `validate`: after skops has built the objects and before anything calls
   them, the structures scikit-learn's compiled code indexes without bounds
   checks are checked: tree nodes, histogram-boosting predictors, KD and ball
   trees, libsvm supports, neighbour labels, k-means centres, sparse matrices,
   and every estimator's parameters against scikit-learn's own constraints.
3. `open_handed_in`: a file a person hands in is opened in a child process
   with memory and CPU limits, so that anything the first two layers miss
   crashes the child, not the CLI or the dashboard, and becomes a refusal.
   Unpickling (joblib/pickle) runs code and happens only there, only when the
   caller passes `allow_pickle=True` (the CLI does; nothing in a server does).

Artifacts in the store were written by ModelGov after all three layers
passed, and their SHA-256 is checked before they are read, so they are loaded
in-process (no child: it would cost about a second per load) but still go
through `audit` and `validate`, which cost milliseconds and keep a swapped
file and registry row from reaching compiled code unchecked.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from . import trusted_types as tt
from .errors import CoreError, InvalidInput, NotFound

MEMORY_MB_DEFAULT = 4096
CPU_SECONDS_DEFAULT = 120


# -- 1. audit: names only, nothing built ---------------------------------------------------------------


def _skops_protocol() -> int:
    from skops.io._protocol import PROTOCOL  # the only protocol whose node classes we reviewed

    return PROTOCOL


def _nodes(schema: Any):
    """Every dict in the schema that skops would build into a node (it needs a `__loader__`)."""
    stack = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "__loader__" in item:
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _bit_generator(node: dict) -> str | None:
    try:
        name = json.loads(node["content"]["bit_generator"]["content"]["bit_generator"]["content"])
    except (KeyError, TypeError, ValueError):
        return None
    return name if isinstance(name, str) else None


def _sklearn_version() -> str:
    import sklearn

    return sklearn.__version__


def audit(data: bytes, what: str) -> list[str]:
    """The type names in the skops bytes `data`, or InvalidInput naming what is not reviewed.

    Reads only `schema.json`: no import, no object is built.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            schema = json.loads(z.read("schema.json"))
    except KeyError:
        raise InvalidInput(f"{what} is a zip file without schema.json, so it is not a skops model file.") from None
    except (zipfile.BadZipFile, ValueError, RecursionError) as e:
        raise InvalidInput(f"{what} is not a readable skops file ({type(e).__name__}).") from None
    if not isinstance(schema, dict):
        raise InvalidInput(f"{what} is not a skops model file (its schema.json is not an object).")
    protocol = schema.get("protocol")
    if protocol != _skops_protocol():
        raise InvalidInput(f"{what} was saved with skops protocol {_short(repr(protocol), 20)}, and ModelGov reads "
                           f"only protocol {_skops_protocol()}; save it again with skops.io.dump using this skops "
                           "version.")
    functions: set[str] = set()
    unreviewed: set[tuple[str, str]] = set()  # (loader, type)
    loaders: set[str] = set()
    calls: set[str] = set()
    names: set[str] = set()
    for node in _nodes(schema):
        loader = node["__loader__"]
        # Names come from the file and end up in messages: printable and short, so they cannot forge lines.
        name = _printable(f"{node.get('__module__')}.{node.get('__class__')}")
        if not isinstance(loader, str):
            loaders.add(_printable(f"{loader!r} ({name})"))
        elif loader == "CachedNode":  # a reference to a node met earlier; skops refuses unknown ids
            continue
        elif loader in tt.FUNCTION_LOADERS:
            content = node.get("content")
            if loader == "MethodNode" and isinstance(content, dict):
                name = _printable(f"{name}.{content.get('func')}")
            functions.add(name)
        elif loader == "ConstructorFromReduceNode":
            calls.add(name)
        elif loader not in tt.ALLOWED:
            loaders.add(_printable(f"{loader} ({name})"))
        elif name not in tt.ALLOWED[loader]:
            unreviewed.add((loader, name))
        else:
            names.add(name)
            if loader == "RandomGeneratorNode":
                bitgen = _printable(f"numpy.random.{_bit_generator(node)}")
                if bitgen not in tt.BIT_GENERATORS:
                    unreviewed.add(("bit generator", bitgen))
    if functions:
        shown = ", ".join(sorted(functions)[:3]) + (f" and {len(functions) - 3} more" if len(functions) > 3 else "")
        raise InvalidInput(
            f"{what} holds the function{'s' if len(functions) > 1 else ''} {shown}, and ModelGov loads only "
            "reviewed classes, never functions, from a model file (FunctionTransformer(func=…), "
            "SelectKBest(score_func=…) and HistGradientBoosting with categorical features keep one), so it was "
            "refused without being loaded.")
    if calls:
        raise InvalidInput(f"{what} asks skops to call {', '.join(sorted(calls)[:3])} with arguments taken from "
                           "the file, which ModelGov never does, so it was refused without being loaded.")
    if loaders:
        raise InvalidInput(f"{what} asks skops to rebuild objects with {', '.join(sorted(loaders)[:3])}, which "
                           "ModelGov does not accept, so it was refused without being loaded.")
    if unreviewed:
        raise InvalidInput(f"{what} contains {_describe_unreviewed(sorted(unreviewed))}; it was refused without "
                           "being loaded (the reviewed list is core/trusted_types.py).")
    return sorted(names)


def _describe_unreviewed(found: list[tuple[str, str]]) -> str:
    loader, first = found[0]
    more = f" and {len(found) - 1} more type(s)" if len(found) > 1 else ""
    elsewhere = sorted(other for other, names in tt.ALLOWED.items() if first in names)
    if elsewhere:
        return (f"{first} as a {loader}{more}, which ModelGov accepts for that type only as "
                f"{' or '.join(('an ' if o[0] in 'AEIOU' else 'a ') + o for o in elsewhere)}")
    if first in tt.NOT_REVIEWED:
        why = f"which ModelGov does not load: {tt.NOT_REVIEWED[first]}"
    elif first.startswith("sklearn."):
        why = (f"which is not on ModelGov's reviewed list for scikit-learn {_sklearn_version()} (a file saved "
               "with another scikit-learn version can name classes that moved)")
    else:
        why = "which is not a reviewed scikit-learn, numpy or scipy type"
    return f"{first}{more}, {why}"


# -- 2. validate: the structures compiled code trusts ---------------------------------------------------


class _Refused(Exception):
    """A structural check failed; the message says which and why."""


def _require(ok: Any, message: str) -> None:
    if not ok:
        raise _Refused(message)


def _int_array(a: Any, name: str, ndim: int = 1) -> np.ndarray:
    _require(isinstance(a, np.ndarray) and a.ndim == ndim and a.dtype.kind in "iu",
             f"{name} is not a {ndim}-D integer array")
    return a


def _check_trees(trees: list[tuple[Any, int | None]]) -> None:
    """sklearn.tree._tree.Tree: apply/predict/decision_path walk child indices with no bounds checks.

    `trees` pairs each tree with the number of features its owner guarantees X has (None: the tree's
    own count). All trees are checked in one pass over their concatenated nodes: a forest of 200 trees
    cost 90 ms of CPU checked one by one.
    """
    if not trees:
        return
    lefts, rights, features, sizes, limits, depths = [], [], [], [], [], []
    for tree, bound in trees:
        # node_count sizes every array view of the nodes: it must match the allocation before any is read.
        _require(tree.node_count == tree.capacity and tree.node_count >= 1,
                 f"a decision tree claims {tree.node_count} nodes but holds {tree.capacity}")
        _require(tree.n_outputs >= 1 and tree.max_n_classes >= 1, "a decision tree has no outputs")
        lefts.append(tree.children_left)
        rights.append(tree.children_right)
        features.append(tree.feature)
        sizes.append(tree.node_count)
        limits.append(tree.n_features if bound is None else min(bound, tree.n_features))
        depths.append(tree.max_depth)
    sizes_a = np.array(sizes)
    starts = np.concatenate([[0], np.cumsum(sizes_a)[:-1]])
    total = int(sizes_a.sum())
    offset = np.repeat(starts, sizes_a)  # per node: where its tree starts
    local = np.arange(total) - offset
    size_of = np.repeat(sizes_a, sizes_a)
    left = np.concatenate(lefts).astype(np.int64)
    right = np.concatenate(rights).astype(np.int64)
    feature = np.concatenate(features).astype(np.int64)
    leaf = left == -1
    _require(np.all(right[leaf] == -1), "a decision tree has a node with only one child")
    inner = np.flatnonzero(~leaf)
    # Children after their parent (how scikit-learn numbers nodes) makes every walk end; one parent
    # per node makes it a tree.
    _require(np.all((left[inner] > local[inner]) & (left[inner] < size_of[inner]) & (right[inner] > local[inner])
                    & (right[inner] < size_of[inner])),
             "a decision tree has a child index out of range or pointing backwards")
    glob_left, glob_right = left + offset, right + offset
    parents = np.bincount(np.concatenate([glob_left[inner], glob_right[inner]]), minlength=total)
    _require(np.all(parents[starts] == 0) and np.sum(parents == 1) == total - len(trees),
             "a decision tree has a node with several parents or none")
    limit_of = np.repeat(np.array(limits), sizes_a)
    bad = (feature[inner] < 0) | (feature[inner] >= limit_of[inner])
    _require(not np.any(bad), "a decision tree splits on a feature index outside 0…"
                              f"{int(limit_of[inner][bad][0]) - 1 if np.any(bad) else 0}")
    depth = np.zeros(total, dtype=np.int64)
    level, d = starts, 0
    while level.size:
        parent = level[~leaf[level]]
        level = np.concatenate([glob_left[parent], glob_right[parent]])
        d += 1
        depth[level] = d
    # decision_path allocates n_samples × (1 + max_depth) entries and writes one per level visited.
    real = np.maximum.reduceat(depth, starts)
    wrong = np.flatnonzero(real != np.array(depths))
    _require(wrong.size == 0, f"a decision tree claims depth {depths[wrong[0]] if wrong.size else 0} but is "
                              f"{real[wrong[0]] if wrong.size else 0} deep")


def _check_predictors(predictors: list, bound: int, is_categorical: Any) -> None:
    """HistGradientBoosting's TreePredictors: raw node, feature and bitset indices, read without checks.

    All trees are checked at once (one pass over their concatenated nodes): a 250-iteration model has
    250 small trees, and checking them one by one cost 30 ms per load.
    """
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    for p in predictors:
        _require(type(p).__name__ == "TreePredictor", "a histogram-boosting stage is not a tree")
        nodes = p.nodes
        # Field by field: comparing structured dtypes with == promotes them and cost 150 µs a tree.
        _require(isinstance(nodes, np.ndarray) and nodes.ndim == 1 and nodes.size >= 1
                 and nodes.dtype.itemsize == PREDICTOR_RECORD_DTYPE.itemsize
                 and nodes.dtype.fields == PREDICTOR_RECORD_DTYPE.fields, "a histogram-boosting tree has malformed nodes")
    if not predictors:
        return
    sizes = np.array([p.nodes.size for p in predictors])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    # Field by field: concatenating structured arrays promotes their dtypes pairwise (slow).
    nodes = {f: np.concatenate([p.nodes[f] for p in predictors])
             for f in ("is_leaf", "left", "right", "feature_idx", "is_categorical")}
    total = int(sizes.sum())
    size_of = np.repeat(sizes, sizes)  # per node: the size of its own tree
    local = np.arange(total) - np.repeat(starts, sizes)
    inner = np.flatnonzero(nodes["is_leaf"] == 0)
    left, right = nodes["left"][inner].astype(np.int64), nodes["right"][inner].astype(np.int64)
    _require(np.all((left > local[inner]) & (left < size_of[inner]) & (right > local[inner])
                    & (right < size_of[inner])),
             "a histogram-boosting tree has a child index out of range or pointing backwards")
    offset = (np.repeat(starts, sizes))[inner]
    parents = np.bincount(np.concatenate([left + offset, right + offset]), minlength=total)
    _require(np.all(parents[starts] == 0) and np.sum(parents == 1) == total - len(predictors),
             "a histogram-boosting tree has a node with several parents or none")
    feat = nodes["feature_idx"][inner].astype(np.int64)
    _require(np.all((feat >= 0) & (feat < bound)),
             f"a histogram-boosting tree splits on a feature index outside 0…{bound - 1}")
    if not np.any(nodes["is_categorical"][inner]):
        return
    _require(is_categorical is not None, "a histogram-boosting tree has categorical splits but no categories")
    mask = np.asarray(is_categorical, dtype=bool)
    for p in predictors:
        cat = p.nodes[(p.nodes["is_leaf"] == 0) & (p.nodes["is_categorical"] != 0)]
        if not cat.size:
            continue
        _require(mask.shape == (bound,) and np.all(mask[cat["feature_idx"]]),
                 "a histogram-boosting tree has a categorical split on a numeric feature")
        for name in ("raw_left_cat_bitsets", "binned_left_cat_bitsets"):
            bits = getattr(p, name)
            _require(isinstance(bits, np.ndarray) and bits.dtype == np.uint32 and bits.ndim == 2
                     and bits.shape[1] == 8, f"a histogram-boosting tree has malformed {name}")
            _require(np.all(cat["bitset_idx"] < bits.shape[0]),
                     "a histogram-boosting tree points past its category bitsets")


def _check_hgb(est: Any) -> None:
    bound = int(est.n_features_in_)
    # Without a preprocessor, predict checks X against n_features_in_; with one, its output width is
    # whatever the file says (it also holds a function, so audit refuses it before we get here).
    _require(getattr(est, "_preprocessor", None) is None, "a histogram-boosting model has an unreviewed preprocessor")
    _require(not getattr(est, "_in_fit", False), "a histogram-boosting model claims to be mid-fit")
    mapper = getattr(est, "_bin_mapper", None)
    is_categorical = getattr(mapper, "is_categorical_", None)
    if is_categorical is not None:
        known = getattr(mapper, "bin_thresholds_", [])
        for f in np.flatnonzero(np.asarray(is_categorical, dtype=bool)):
            _require(f < len(known) and np.all((np.asarray(known[f]) >= 0) & (np.asarray(known[f]) <= 255)),
                     "a histogram-boosting model has category codes outside 0…255")
    _check_predictors([p for stage in est._predictors for p in stage], bound, is_categorical)


_METRICS = {"EuclideanDistance64", "ManhattanDistance64", "ChebyshevDistance64", "MinkowskiDistance64"}


def _check_binary_tree(t: Any, n_features: int | None) -> None:
    """KDTree/BallTree: queries follow idx_array, node_data and n_nodes without bounds checks."""
    (data, idx, node_data, bounds, leaf_size, n_levels, n_nodes, *_rest, metric, weight) = t.__getstate__()
    _require(isinstance(data, np.ndarray) and data.ndim == 2 and data.shape[0] >= 1, "a neighbour tree has no data")
    n, d = data.shape
    _require(n_features is None or d == n_features, "a neighbour tree's data width differs from the model's")
    idx = _int_array(idx, "a neighbour tree's index")
    _require(idx.shape == (n,) and np.all((idx >= 0) & (idx < n)), "a neighbour tree's index points outside its data")
    _require(isinstance(n_levels, int) and 1 <= n_levels <= 48 and n_nodes == 2 ** n_levels - 1
             and isinstance(node_data, np.ndarray) and node_data.shape == (n_nodes,) and leaf_size >= 1,
             "a neighbour tree's node count is inconsistent")
    start, end = node_data["idx_start"], node_data["idx_end"]
    _require(np.all((start >= 0) & (start <= end) & (end <= n)), "a neighbour tree's node points outside its data")
    inner = np.flatnonzero(node_data["is_leaf"] == 0)
    _require(np.all(2 * inner + 2 < n_nodes), "a neighbour tree's inner node has no children")
    rows = 2 if type(t).__name__ == "KDTree" else 1
    _require(isinstance(bounds, np.ndarray) and bounds.shape == (rows, n_nodes, d),
             "a neighbour tree's node bounds have the wrong shape")
    _require(weight is None or (isinstance(weight, np.ndarray) and weight.shape == (n,)),
             "a neighbour tree's sample weights have the wrong length")
    _require(type(metric).__name__ in _METRICS, f"a neighbour tree uses an unreviewed metric {type(metric).__name__}")
    if type(metric).__name__ == "MinkowskiDistance64":  # the only reviewed metric that reads its vector
        _p, vec, _mat = metric.__getstate__()
        _require(vec.shape[0] in (0, d), "a neighbour tree's metric weights have the wrong length")


def _check_neighbors(est: Any) -> None:
    """Neighbour models: labels and counts are read by compiled code at the neighbours' indices."""
    from scipy import sparse

    fit_x = est._fit_X
    _require(getattr(est, "_fit_method", None) in ("brute", "kd_tree", "ball_tree"),
             "a neighbour model has an unknown search method")
    _require(isinstance(fit_x, np.ndarray) and fit_x.ndim == 2 or sparse.issparse(fit_x),
             "a neighbour model's training data is not a matrix")
    n, d = fit_x.shape
    _require(est.n_samples_fit_ == n and getattr(est, "n_features_in_", d) == d,
             "a neighbour model's sample or feature count differs from its training data")
    params = getattr(est, "effective_metric_params_", None) or {}
    # Distance objects built from these parameters read weight vectors and matrices by the input width.
    _require(isinstance(params, dict) and set(params) <= {"p", "w"},
             f"a neighbour model uses unreviewed metric parameters {sorted(map(str, params))[:3]}")
    if params.get("w") is not None:
        _require(np.shape(params["w"]) == (d,), "a neighbour model's metric weights have the wrong length")
    if est._fit_method != "brute":
        tree = est._tree
        _require(type(tree).__name__ == {"kd_tree": "KDTree", "ball_tree": "BallTree"}[est._fit_method],
                 "a neighbour model's tree does not match its search method")
        _require(tree.__getstate__()[0].shape == (n, d), "a neighbour model's tree holds other data")
    y = getattr(est, "_y", None)
    if y is not None:
        _require(isinstance(y, np.ndarray) and y.shape[0] == n, "a neighbour model has a label per sample missing")
        classes = getattr(est, "classes_", None)
        if classes is not None:
            cols = y.reshape(n, -1)
            per_col = classes if isinstance(classes, list) else [classes]
            _require(cols.dtype.kind in "iu" and len(per_col) == cols.shape[1],
                     "a neighbour classifier's labels are not class indices")
            for j, cls in enumerate(per_col):
                _require(np.all((cols[:, j] >= 0) & (cols[:, j] < len(cls))),
                         "a neighbour classifier's labels point outside its classes")


def _check_svm(est: Any) -> None:
    """libsvm models: counts, coefficients and support vectors are copied and indexed in C."""
    from scipy import sparse

    _require(est._impl == type(est)._impl, "an SVM claims another libsvm type")
    support = _int_array(est.support_, "an SVM's support indices")
    n_sv = support.shape[0]
    sv = est.support_vectors_
    n_train, d_fit = est.shape_fit_
    _require(np.all((support >= 0) & (support < n_train)), "an SVM's support indices point outside its training set")
    if est.kernel != "precomputed":
        _require(sv.shape == (n_sv, d_fit) and est.n_features_in_ == d_fit,
                 "an SVM's support vectors do not match its feature count")
    _require(bool(est._sparse) == sparse.issparse(sv), "an SVM's support vectors have the wrong storage")
    counts = _int_array(est._n_support, "an SVM's support counts")
    classification = est._impl in ("c_svc", "nu_svc")
    k = counts.shape[0]
    if classification:
        _require(k == len(est.classes_) and k >= 2 and np.all(counts >= 0) and counts.sum() == n_sv,
                 "an SVM's support counts do not add up to its support vectors")
    else:
        _require(k == 2, "an SVM's support counts have the wrong shape")
    rows = k - 1 if classification else 1
    pairs = k * (k - 1) // 2 if classification else 1
    coef = est._dual_coef_
    _require(coef.shape == (rows, n_sv), "an SVM's dual coefficients do not match its support vectors")
    if sparse.issparse(coef):
        _require(coef.nnz == rows * n_sv, "an SVM's sparse dual coefficients are incomplete")
    _require(est._intercept_.shape == (pairs,), "an SVM's intercepts do not match its classes")
    for name in ("_probA", "_probB"):
        _require(getattr(est, name).shape in ((0,), (pairs,)), f"an SVM's {name} does not match its classes")
    weights = getattr(est, "class_weight_", None)
    _require(weights is None or not classification or weights.shape == (k,),
             "an SVM's class weights do not match its classes")


def _check_kmeans(est: Any) -> None:
    centres = est.cluster_centers_
    _require(isinstance(centres, np.ndarray) and centres.ndim == 2 and centres.shape[0] >= 1
             and centres.shape[1] == est.n_features_in_, "k-means centres do not match the feature count")


def _check_sparse(m: Any) -> None:
    """Compiled sparse kernels index data by indptr and indices without checks."""
    _require(m.format in ("csr", "csc"), f"a sparse matrix is stored as {m.format}, which is not reviewed")
    major, minor = m.shape if m.format == "csr" else m.shape[::-1]
    indptr, indices = _int_array(m.indptr, "a sparse matrix's indptr"), _int_array(m.indices, "a sparse index")
    _require(indptr.shape == (major + 1,) and indptr[0] == 0 and np.all(np.diff(indptr) >= 0)
             and indptr[-1] == indices.shape[0] == m.data.shape[0], "a sparse matrix's row pointers are inconsistent")
    _require(np.all((indices >= 0) & (indices < minor)), "a sparse matrix's indices point outside it")


def _gb_smoke(est: Any) -> None:
    # predict_stages writes out[i, k] for k < estimators_.shape[1], out sized by the init estimator.
    estimators = est.estimators_
    _require(isinstance(estimators, np.ndarray) and estimators.ndim == 2 and estimators.size >= 1,
             "a gradient-boosting model has no stages")
    for tree in estimators.ravel():
        _require(type(tree).__name__ == "DecisionTreeRegressor", "a gradient-boosting stage is not a regression tree")
    raw = est._raw_predict_init(np.zeros((1, est.n_features_in_), dtype=np.float32))
    _require(raw.shape == (1, estimators.shape[1]), "a gradient-boosting model's stages do not match its outputs")


_TREE_FAMILY = ("BaseDecisionTree", "BaseForest", "BaseGradientBoosting", "BaseBagging", "BaseWeightBoosting")


class _Validator:
    def __init__(self) -> None:
        from scipy import sparse
        from sklearn.base import BaseEstimator

        self.seen: set[tuple[int, int | None]] = set()
        self.trees: list[tuple[Any, int | None]] = []
        self.boosters: list[Any] = []
        self.param_names: dict[type, list[str]] = {}
        self.params_ok: set[tuple] = set()
        self.issparse, self.estimator_type = sparse.issparse, BaseEstimator

    def visit(self, obj: Any, bound: int | None = None) -> None:
        key = (id(obj), bound)
        if key in self.seen or obj is None or isinstance(obj, (str, bytes, int, float, bool, type)):
            return
        self.seen.add(key)
        if isinstance(obj, np.ndarray):
            if obj.dtype == object:
                for item in obj.ravel():
                    self.visit(item, bound)
            return
        if self.issparse(obj):
            _check_sparse(obj)
            return
        if isinstance(obj, (list, tuple, set, frozenset)):
            for item in obj:
                self.visit(item, bound)
            return
        if isinstance(obj, dict):
            for item in obj.values():
                self.visit(item, bound)
            return
        name = type(obj).__name__
        if name == "Tree" and type(obj).__module__ == "sklearn.tree._tree":
            self.trees.append((obj, bound))  # checked together at the end (_check_trees)
            return
        if name in ("KDTree", "BallTree"):
            _check_binary_tree(obj, None)
            return
        if name == "TreePredictor":  # only its histogram-boosting owner calls it, and checks it (_check_hgb)
            return
        if isinstance(obj, self.estimator_type):
            self.estimator(obj, bound)
            return
        if hasattr(obj, "__dict__"):
            for item in vars(obj).values():
                self.visit(item, None)

    def parameters(self, est: Any) -> None:
        """scikit-learn's own constraints on `est`'s parameters, checked once per distinct set of values.

        The members of a forest share every parameter but their seed; validating each one cost 6 ms a
        tree (mostly inspecting the signature), so results are kept per class and scalar values.
        """
        from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints

        cls = type(est)
        constraints = getattr(cls, "_parameter_constraints", None)
        if not constraints:
            return
        names = self.param_names.get(cls)
        if names is None:
            names = self.param_names[cls] = cls._get_param_names()
        params = {name: getattr(est, name) for name in names}
        seed = params.get("random_state")
        if isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed < 2 ** 32:
            params.pop("random_state")  # valid as it is, and different in every member
        key = None
        if all(v is None or isinstance(v, (bool, int, float, str)) for v in params.values()):
            key = (cls, tuple(sorted((k, type(v).__name__, v) for k, v in params.items())))
            if key in self.params_ok:
                return
        try:
            validate_parameter_constraints(constraints, params, caller_name=cls.__name__)
        except InvalidParameterError as e:
            raise _Refused(f"{cls.__name__} has an invalid parameter ({str(e).splitlines()[0]})") from None
        if key is not None:
            self.params_ok.add(key)

    def estimator(self, est: Any, bound: int | None) -> None:
        from sklearn.ensemble import BaseEnsemble

        self.parameters(est)
        mro = {c.__name__ for c in type(est).__mro__}
        tree_family = bool(mro & set(_TREE_FAMILY)) or type(est).__name__ == "IsolationForest"
        n_in = getattr(est, "n_features_in_", None)
        inner = None
        if tree_family:
            inner = n_in if bound is None else (bound if n_in is None else min(bound, n_in))
        if "BaseHistGradientBoosting" in mro and hasattr(est, "_predictors"):
            _check_hgb(est)
        if "BaseLibSVM" in mro and hasattr(est, "support_"):
            _check_svm(est)
        if "NeighborsBase" in mro and hasattr(est, "_fit_X"):
            _check_neighbors(est)
            if est._fit_method != "brute":
                _check_binary_tree(est._tree, est._fit_X.shape[1])
        if "_BaseKMeans" in mro and hasattr(est, "cluster_centers_"):
            _check_kmeans(est)
        features = getattr(est, "estimators_features_", None)
        for attr, value in vars(est).items():
            if attr == "estimators_" and features is not None and isinstance(est, BaseEnsemble):
                # Bagging and isolation forests give each member only its own columns.
                _require(len(features) == len(value), "an ensemble's members and their feature lists differ")
                for member, cols in zip(value, features):
                    cols = _int_array(np.asarray(cols), "an ensemble member's feature list")
                    _require(n_in is None or np.all((cols >= 0) & (cols < n_in)),
                             "an ensemble member reads a feature outside the model's input")
                    self.visit(member, len(cols) if inner is None else min(inner, len(cols)))
            else:
                self.visit(value, inner)
        if "BaseGradientBoosting" in mro and hasattr(est, "estimators_"):
            self.boosters.append(est)  # its check runs the initial estimator: after every tree is checked


def validate(obj: Any, what: str) -> None:
    """Check the structures scikit-learn's compiled code indexes without bounds checks; InvalidInput if wrong."""
    try:
        checker = _Validator()
        checker.visit(obj)
        _check_trees(checker.trees)
        for booster in checker.boosters:
            _gb_smoke(booster)
    except _Refused as e:
        raise InvalidInput(f"{what} is malformed: {e}; it was refused before any prediction ran.") from None
    except RecursionError:
        raise InvalidInput(f"{what} is nested too deeply to check, so it was refused.") from None
    except (AttributeError, TypeError, ValueError, IndexError, KeyError) as e:
        raise InvalidInput(f"{what} is malformed ({type(e).__name__} while checking it: {_short(e)}); "
                           "it was refused before any prediction ran.") from None


def _short(e: object, limit: int = 160) -> str:
    text = " ".join(_printable(str(e), 10 * limit).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _printable(text: str, limit: int = 120) -> str:
    text = "".join(c if c.isprintable() else " " if c.isspace() else "?" for c in text[: limit + 1])
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- loading -------------------------------------------------------------------------------------------


def load_skops(data: bytes, what: str) -> Any:
    """The object in the skops bytes `data`, after `audit`, skops' own audit and `validate`."""
    import skops.io as sio

    names = audit(data, what)
    try:
        obj = sio.loads(data, trusted=names)
    except ModuleNotFoundError as e:
        raise InvalidInput(f"{what} needs the Python module {e.name!r}, which is not installed here.") from None
    except ImportError as e:
        raise InvalidInput(f"{what} needs something this installation cannot import ({_short(e)}).") from None
    except AttributeError as e:
        raise InvalidInput(f"{what} names a class this scikit-learn ({_sklearn_version()}) does not have "
                           f"({_short(e)}); save it again with this version.") from None
    except MemoryError:
        raise
    except Exception as e:  # skops and the classes it rebuilds raise many types for malformed state
        raise InvalidInput(f"{what} is not a readable skops model ({type(e).__name__}: {_short(e)}).") from None
    validate(obj, what)
    return obj


def ensure_estimator(obj: Any, what: str) -> None:
    """InvalidInput unless `obj` is a scikit-learn estimator (a file may hold a dict, an array, …)."""
    from sklearn.base import BaseEstimator

    if isinstance(obj, BaseEstimator):
        return
    if isinstance(obj, np.ndarray):
        kind = f"a numpy array of shape {obj.shape}"
    elif isinstance(obj, (dict, list, tuple, str, int, float)):
        kind = f"a {type(obj).__name__}"
    else:
        kind = f"an object of type {type(obj).__module__}.{type(obj).__qualname__}"
    raise InvalidInput(f"{what} holds {kind}, not a fitted scikit-learn estimator; save the estimator itself "
                       "with joblib.dump(model, path) or skops.io.dump(model, path).")


def _limits() -> tuple[int, int]:
    def number(name: str, default: int) -> int:
        raw = os.environ.get(name, "")
        try:
            value = int(raw) if raw else default
        except ValueError:
            raise InvalidInput(f"{name} must be a whole number, not {raw!r}.") from None
        if value <= 0:
            raise InvalidInput(f"{name} must be positive, not {value}.")
        return value

    return number("MODELGOV_LOAD_MEMORY_MB", MEMORY_MB_DEFAULT), number("MODELGOV_LOAD_CPU_SECONDS",
                                                                        CPU_SECONDS_DEFAULT)


def open_handed_in(path: Path, what: str, *, allow_pickle: bool) -> bytes:
    """Open the model file a person hands in, in a child process with limits; the estimator as skops bytes.

    A skops file is audited and validated there; a joblib/pickle file is
    unpickled there only with `allow_pickle` (unpickling runs the code it
    names). The caller must still `load_skops` the result: the child's output
    is not trusted either, since a pickle can make the child say anything.
    """
    memory_mb, cpu_s = _limits()
    with open(path, "rb") as f:
        is_zip = zipfile.is_zipfile(f)
    if not is_zip and not allow_pickle:
        raise InvalidInput(
            f"{what} is not a skops file, and loading a joblib or pickle file runs the code inside it, so ModelGov "
            "does it only for the person registering it on the command line (modelgov register); save it with "
            "skops.io.dump(model, path) to hand it in here.")
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p),
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONWARNINGS="ignore",
               MODELGOV_LOAD_MEMORY_MB=str(memory_mb), MODELGOV_LOAD_CPU_SECONDS=str(cpu_s))
    cmd = [sys.executable, "-m", "core.safe_load", str(Path(path).resolve()), what,
           "pickle" if allow_pickle else "skops"]
    try:
        done = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=2 * cpu_s + 60,
                              cwd=root)
    except subprocess.TimeoutExpired:
        raise InvalidInput(f"Loading {what} did not finish within {2 * cpu_s + 60} seconds, so it was refused "
                           "(raise MODELGOV_LOAD_CPU_SECONDS if the model is genuinely that large).") from None
    if done.returncode < 0:
        raise InvalidInput(_crash_sentence(what, -done.returncode, memory_mb, cpu_s))
    header, _, body = done.stdout.partition(b"\n")
    try:
        reply = json.loads(header)
    except ValueError:
        reply = None
    if not isinstance(reply, dict):
        raise InvalidInput(f"Loading {what} ended without an answer (exit status {done.returncode}), so it was "
                           "refused.")
    if not reply.get("ok"):
        error = {"NotFound": NotFound}.get(reply.get("error"), InvalidInput)
        raise error(str(reply.get("message") or f"{what} could not be loaded."))
    if len(body) != reply.get("size"):
        raise InvalidInput(f"Loading {what} returned a truncated answer, so it was refused.")
    return body


def _crash_sentence(what: str, signum: int, memory_mb: int, cpu_s: int) -> str:
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    cause = {
        "SIGSEGV": "a segmentation fault, the mark of indices that point outside the model's own arrays",
        "SIGBUS": "a bus error, the mark of indices that point outside the model's own arrays",
        "SIGXCPU": f"it used more than {cpu_s} seconds of CPU (MODELGOV_LOAD_CPU_SECONDS)",
        "SIGKILL": f"it was killed, most likely for using more than {memory_mb} MB (MODELGOV_LOAD_MEMORY_MB)",
        "SIGABRT": "an abort inside compiled code",
    }.get(name, name)
    return (f"Loading {what} crashed the separate process that checks model files ({name}: {cause}); the file is "
            "damaged or crafted, so it was refused and nothing was registered.")


# -- the child process ---------------------------------------------------------------------------------


def _limit_resources(memory_mb: int, cpu_s: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash leaves no core file behind
    usage = resource.getrusage(resource.RUSAGE_SELF)  # RLIMIT_CPU counts from process start: add the imports
    spent = int(usage.ru_utime + usage.ru_stime) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (spent + cpu_s, spent + cpu_s + 5))
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 2 ** 20, memory_mb * 2 ** 20))
    # Not a sandbox, but the unpickled code (and anything it starts) cannot write a byte to a file, such
    # as the store; the answer leaves through a pipe, which this limit does not cover.
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def _child(path: Path, what: str, mode: str) -> dict[str, Any] | tuple[dict[str, Any], bytes]:
    import joblib  # noqa: F401  (imported before the limits, like everything the loaders need)
    import skops.io as sio
    import sklearn.ensemble  # noqa: F401
    import sklearn.pipeline  # noqa: F401

    memory_mb, cpu_s = _limits()
    _limit_resources(memory_mb, cpu_s)
    try:
        data = path.read_bytes()
        if zipfile.is_zipfile(io.BytesIO(data)):
            obj = load_skops(data, what)
        elif mode == "pickle":
            obj = _unpickle(path, what)
        else:  # the parent checks this too; kept so the child never unpickles on its own
            raise InvalidInput(f"{what} is not a skops file.")
        ensure_estimator(obj, what)
        validate(obj, what)
        out = sio.dumps(obj)
    except CoreError as e:
        return {"ok": False, "error": type(e).__name__, "message": str(e)}
    except MemoryError:
        return {"ok": False, "error": "InvalidInput",
                "message": f"Loading {what} needs more than {memory_mb} MB (MODELGOV_LOAD_MEMORY_MB), so it was "
                           "refused."}
    except Exception as e:  # skops cannot store what the pickle held, or an unforeseen failure: one sentence
        return {"ok": False, "error": "InvalidInput",
                "message": f"{what} cannot be stored safely ({type(e).__name__}: {_short(e)})."}
    return {"ok": True, "size": len(out)}, out


def _unpickle(path: Path, what: str) -> Any:
    import joblib

    try:
        return joblib.load(path)  # runs the code the file names: only here, only for the CLI's user
    except ModuleNotFoundError as e:
        raise InvalidInput(f"{what} needs the Python module {e.name!r}, which is not installed here; ModelGov "
                           "registers scikit-learn models.") from None
    except AttributeError as e:
        raise InvalidInput(f"{what} names a class this installation does not have ({_short(e)}); it was probably "
                           f"saved with another version of the library (scikit-learn here is "
                           f"{_sklearn_version()}).") from None
    except MemoryError:
        raise
    except Exception as e:  # unpickling fails in many ways; all mean "not a model file we can read"
        raise InvalidInput(f"{path.name} is not a scikit-learn model saved with joblib or skops "
                           f"({type(e).__name__}); save it with joblib.dump(model, path) or "
                           "skops.io.dump(model, path).") from None


def _main(argv: list[str]) -> int:
    # Everything the loaded file might print goes to /dev/null; the answer goes to the original stdout.
    answer = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    path, what, mode = Path(argv[0]), argv[1], argv[2]
    result = _child(path, what, mode)
    header, body = (result, b"") if isinstance(result, dict) else result
    answer.write(json.dumps(header).encode() + b"\n" + body)
    answer.flush()
    os._exit(0)  # skip whatever exit handlers an unpickled file may have registered


if __name__ == "__main__":
    _main(sys.argv[1:])
