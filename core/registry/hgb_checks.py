"""Structural checks of histogram-boosting models: their predictors' node arrays and category bitsets, and the
preprocessor scikit-learn builds for native categorical features with its one reviewed function.

Part of layer 2 of the model-file defences (core/registry/model_checks.py calls these while it walks a model).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .model_checks import _int_array, _Refused, _require  # noqa: F401  (_Refused: what the checks raise)


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


def reviewed_partial(func: Any) -> bool:
    """Whether `func` is exactly the `partial(check_array, dtype=[float64], ensure_all_finite=False)` that
    scikit-learn's histogram boosting builds for its numeric columns (trusted_types.REVIEWED_PARTIALS)."""
    import functools

    from sklearn.utils.validation import check_array

    return (type(func) is functools.partial and func.func is check_array and func.args == ()
            and set(func.keywords) == {"dtype", "ensure_all_finite"}
            and func.keywords["ensure_all_finite"] is False
            and isinstance(func.keywords["dtype"], list) and len(func.keywords["dtype"]) == 1
            and func.keywords["dtype"][0] is np.float64 and not vars(func))


def check_function_transformer(est: Any) -> None:
    _require(est.func is None or reviewed_partial(est.func), "a FunctionTransformer holds an unreviewed function")
    _require(est.inverse_func is None, "a FunctionTransformer holds an inverse function")


def _mask(cols: Any, n: int, what: str) -> np.ndarray:
    _require(isinstance(cols, np.ndarray) and cols.dtype == bool and cols.shape == (n,), f"{what} is not a mask")
    return cols


def _check_hgb_preprocessor(est: Any, n: int) -> None:
    """The column transformer histogram boosting builds for categorical features, exactly as scikit-learn builds
    it: categorical columns ordinal-encoded first, then the numeric ones through the reviewed partial, nothing
    dropped or added, so its output has the n columns the trees index (checked by _check_predictors)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

    pre = est._preprocessor
    _require(type(pre) is ColumnTransformer, "a histogram-boosting model has an unreviewed preprocessor")
    ts = pre.transformers_
    _require(isinstance(ts, list) and len(ts) == 3 and [t[0] for t in ts] == ["encoder", "numerical", "remainder"],
             "a histogram-boosting model's preprocessor is not the one scikit-learn builds")
    (_, enc, enc_cols), (_, num, num_cols), (_, rem, rem_cols) = ts
    cat = _mask(enc_cols, n, "the preprocessor's categorical columns")
    _require(np.array_equal(_mask(num_cols, n, "the preprocessor's numeric columns"), ~cat),
             "the preprocessor's numeric columns are not the others")
    _require(rem == "drop" and not np.any(np.asarray(rem_cols, dtype=bool)), "the preprocessor keeps other columns")
    _require(type(enc) is OrdinalEncoder and type(num) is FunctionTransformer,
             "a histogram-boosting model's preprocessor is not the one scikit-learn builds")
    _require(reviewed_partial(num.func) and num.inverse_func is None and num.kw_args is None,
             "the preprocessor's numeric step is not scikit-learn's own")
    k = int(cat.sum())
    _require(isinstance(enc.categories_, list) and len(enc.categories_) == k
             and all(isinstance(c, np.ndarray) and c.ndim == 1 and len(c) <= 255 for c in enc.categories_),
             "the preprocessor's categories do not match its categorical columns")
    _require(pre.n_features_in_ == n and not pre.sparse_output_, "the preprocessor's width is not the model's")
    _require(len(pre._columns) == 2 and np.array_equal(pre._columns[0], cat) and np.array_equal(pre._columns[1], ~cat),
             "the preprocessor's columns disagree")
    out = pre.output_indices_
    _require(out == {"encoder": slice(0, k), "numerical": slice(k, n), "remainder": slice(0, 0)},
             "the preprocessor's output is not n columns, categorical first")
    remapped = getattr(est._bin_mapper, "is_categorical_", None)
    _require(remapped is not None and np.array_equal(np.asarray(remapped, dtype=bool), np.arange(n) < k),
             "the trees' categorical features are not the preprocessor's")


def check_hgb(est: Any) -> None:
    bound = int(est.n_features_in_)
    # Without a preprocessor, predict checks X against n_features_in_; with one (categorical features), it is
    # exactly scikit-learn's and outputs n_features_in_ columns.
    if getattr(est, "_preprocessor", None) is not None:
        _check_hgb_preprocessor(est, bound)
    _require(not getattr(est, "_in_fit", False), "a histogram-boosting model claims to be mid-fit")
    mapper = getattr(est, "_bin_mapper", None)
    is_categorical = getattr(mapper, "is_categorical_", None)
    if is_categorical is not None:
        known = getattr(mapper, "bin_thresholds_", [])
        for f in np.flatnonzero(np.asarray(is_categorical, dtype=bool)):
            _require(f < len(known) and np.all((np.asarray(known[f]) >= 0) & (np.asarray(known[f]) <= 255)),
                     "a histogram-boosting model has category codes outside 0…255")
    _check_predictors([p for stage in est._predictors for p in stage], bound, is_categorical)
