"""Structural checks of built model objects: what scikit-learn's compiled code indexes without bounds checks.

Layer 2 of the model-file defences (see core/registry/safe_load.py): tree nodes, histogram-boosting
predictors, KD and ball trees, libsvm supports, neighbour labels, k-means centres, sparse matrices, and
every estimator's parameters against scikit-learn's own constraints.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidInput



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
        if name == "TreePredictor":  # only its histogram-boosting owner calls it, and checks it (hgb_checks.check_hgb)
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
        if type(est).__name__ == "FunctionTransformer":
            from .hgb_checks import check_function_transformer

            check_function_transformer(est)
        if "BaseHistGradientBoosting" in mro and hasattr(est, "_predictors"):
            from .hgb_checks import check_hgb

            check_hgb(est)
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
