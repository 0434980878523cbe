"""Structural checks of XGBoost JSON models and LightGBM model text, before the library's C++ code reads them.

The libraries' predictors follow child indices and feature indices stored in the model. Their parsers
check some of this; these checks make sure of what matters for memory safety, in Python, before the
native loader runs: every tree's children lie inside the tree, after their parent, with one parent each;
leaves have no children; split features lie below the model's feature count; categorical split tables lie
inside their arrays. A file the checks pass is then parsed by the library, in the child process for a file
a person hands in (`core/registry/safe_load.py`), in-process for an artifact the store hash-checked.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..errors import InvalidInput
from .model_checks import _short

INT32_MAX = 2 ** 31 - 1


def short(e: object, limit: int = 160) -> str:
    return _short(e, limit)


class _Bad(Exception):
    pass


def _need(ok: Any, message: str) -> None:
    if not ok:
        raise _Bad(message)


def _int(value: Any, name: str, low: int = 0, high: int = INT32_MAX) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        n = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        n = value
    else:
        raise _Bad(f"{name} is not a whole number")
    _need(low <= n <= high, f"{name} is out of range")
    return n


def _ints(values: Any, n: int, name: str) -> np.ndarray:
    _need(isinstance(values, list) and len(values) == n, f"{name} does not have one entry per node")
    try:
        a = np.asarray(values) if n else np.zeros(0, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise _Bad(f"{name} holds values that are not whole numbers") from None
    _need(a.ndim == 1 and a.dtype.kind in "iu", f"{name} holds values that are not whole numbers")
    return a.astype(np.int64)


def _children(left: np.ndarray, right: np.ndarray, name: str) -> np.ndarray:
    """Internal-node mask after checking a binary tree stored as child arrays with -1 for a leaf."""
    n = len(left)
    idx = np.arange(n)
    leaf = left == -1
    _need(np.array_equal(leaf, right == -1), f"{name} has a node with one child")
    inner = ~leaf
    _need(np.all((left[inner] > idx[inner]) & (left[inner] < n) & (right[inner] > idx[inner]) & (right[inner] < n)),
          f"{name} has a child index outside the tree or before its parent")
    kids = np.concatenate([left[inner], right[inner]])
    _need(len(np.unique(kids)) == len(kids) == n - 1, f"{name} has a node with two parents or an orphan node")
    return inner


def check_xgboost(data: bytes, what: str) -> dict[str, Any]:
    """The parsed XGBoost JSON model in `data` after the structural checks; InvalidInput if any fails."""
    try:
        model = json.loads(data)
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise InvalidInput(f"{what} is not an XGBoost JSON model (it does not parse as JSON).") from None
    try:
        _check_xgb(model)
    except _Bad as e:
        raise InvalidInput(f"{what} is malformed: {e}; it was refused before XGBoost read it.") from None
    except (KeyError, TypeError, AttributeError, IndexError) as e:
        raise InvalidInput(f"{what} is not a complete XGBoost model ({type(e).__name__}: {_short(e, 60)} "
                           "missing or of the wrong kind); it was refused before XGBoost read it.") from None
    return model


def _check_xgb(model: dict) -> None:
    _need(isinstance(model, dict) and isinstance(model.get("learner"), dict), "it has no learner")
    learner = model["learner"]
    param = learner["learner_model_param"]
    n_features = _int(param["num_feature"], "num_feature", 1)
    n_class = _int(param["num_class"], "num_class")
    _need(_int(param.get("num_target", "1"), "num_target") <= 1, "it predicts several targets, which ModelGov "
          "does not support")
    names = learner.get("feature_names", [])
    _need(isinstance(names, list) and len(names) in (0, n_features), "its feature names do not match num_feature")
    _need(isinstance(learner["objective"]["name"], str), "its objective has no name")
    gb = learner["gradient_booster"]
    _need(gb.get("name") == "gbtree", f"its booster is {_short(gb.get('name'), 20)!r}; ModelGov supports gbtree "
          "boosters (not dart or gblinear)")
    trees_model = gb["model"]
    trees = trees_model["trees"]
    _need(isinstance(trees, list), "its trees are not a list")
    n_trees = _int(trees_model["gbtree_model_param"]["num_trees"], "num_trees")
    _need(n_trees == len(trees), "num_trees does not match the trees it holds")
    info = _ints(trees_model["tree_info"], n_trees, "tree_info")
    _need(np.all((info >= 0) & (info < max(1, n_class))), "tree_info names an output the model does not have")
    indptr = trees_model.get("iteration_indptr")
    if indptr is not None:
        ptr = _ints(indptr, len(indptr), "iteration_indptr")
        _need(len(ptr) >= 1 and ptr[0] == 0 and ptr[-1] == n_trees and np.all(np.diff(ptr) >= 0),
              "iteration_indptr does not cover the trees in order")
    for i, tree in enumerate(trees):
        _check_xgb_tree(tree, i, n_features)


def _check_xgb_tree(tree: dict, i: int, n_features: int) -> None:
    name = f"tree {i}"
    n = _int(tree["tree_param"]["num_nodes"], f"{name}'s num_nodes", 1)
    _need(_int(tree["tree_param"].get("size_leaf_vector", "1"), f"{name}'s size_leaf_vector") <= 1,
          f"{name} has vector leaves, which ModelGov does not support")
    _need(_int(tree.get("id", i), f"{name}'s id") == i, f"{name} has the id of another tree")
    left = _ints(tree["left_children"], n, f"{name}'s left_children")
    right = _ints(tree["right_children"], n, f"{name}'s right_children")
    parents = _ints(tree["parents"], n, f"{name}'s parents")
    feature = _ints(tree["split_indices"], n, f"{name}'s split_indices")
    for key in ("split_conditions", "base_weights", "default_left", "split_type"):
        _need(isinstance(tree[key], list) and len(tree[key]) == n, f"{name}'s {key} does not have one entry per node")
    inner = _children(left, right, name)
    owners = np.flatnonzero(inner)
    _need(np.all(parents[left[inner]] == owners) and np.all(parents[right[inner]] == owners),
          f"{name}'s parents disagree with its children")
    _need(np.all((feature[inner] >= 0) & (feature[inner] < n_features)),
          f"{name} splits on a feature outside the model's {n_features} inputs")
    kinds = _ints(tree["split_type"], n, f"{name}'s split_type")
    _need(np.all((kinds == 0) | (kinds == 1)), f"{name} has an unknown split type")
    cat_nodes = _ints(tree["categories_nodes"], len(tree["categories_nodes"]), f"{name}'s categories_nodes")
    segments = _ints(tree["categories_segments"], len(cat_nodes), f"{name}'s categories_segments")
    sizes = _ints(tree["categories_sizes"], len(cat_nodes), f"{name}'s categories_sizes")
    cats = _ints(tree["categories"], len(tree["categories"]), f"{name}'s categories")
    _need(np.array_equal(np.sort(cat_nodes), np.flatnonzero(inner & (kinds == 1))),
          f"{name}'s categorical nodes do not match its split types")
    _need(np.all((segments >= 0) & (sizes >= 0) & (segments + sizes <= len(cats))),
          f"{name}'s category lists point outside its categories")
    _need(np.all((cats >= 0) & (cats < INT32_MAX)), f"{name} has a negative category")


def check_lightgbm(text: str, what: str) -> dict[str, Any]:
    """The header of the LightGBM model text after the structural checks of every tree; InvalidInput if any fails."""
    try:
        return _check_lgbm(text)
    except _Bad as e:
        raise InvalidInput(f"{what} is malformed: {e}; it was refused before LightGBM read it.") from None
    except (KeyError, ValueError, IndexError) as e:
        raise InvalidInput(f"{what} is not complete LightGBM model text ({type(e).__name__}: {_short(e, 60)}); "
                           "it was refused before LightGBM read it.") from None


def _fields(lines: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if sep:
            _need(key not in out, f"the field {_short(key, 30)!r} appears twice")
            out[key] = value
    return out


def _numbers(value: str, n: int, name: str, kind: type = int) -> np.ndarray:
    parts = value.split() if value.strip() else []
    _need(len(parts) == n, f"{name} has {len(parts)} entries instead of {n}")
    try:
        return np.asarray([kind(p) for p in parts], dtype=np.int64 if kind is int else float)
    except (ValueError, OverflowError):
        raise _Bad(f"{name} holds something that is not a number") from None


def _check_lgbm(text: str) -> dict[str, Any]:
    _need(text.startswith("tree\n"), "it does not start like LightGBM model text")
    body, sep, _tail = text.partition("\nend of trees")
    _need(sep, "it has no 'end of trees' line (the file is cut short)")
    blocks = body.split("\n\n")
    header = _fields(blocks[0].splitlines()[1:])
    n_class = _int(header["num_class"], "num_class", 1)
    per_iter = _int(header["num_tree_per_iteration"], "num_tree_per_iteration", 1)
    max_idx = _int(header["max_feature_idx"], "max_feature_idx")
    names = header["feature_names"].split()
    _need(len(names) == max_idx + 1, "feature_names does not match max_feature_idx")
    _need(per_iter == n_class, "num_tree_per_iteration does not match num_class")
    objective = header.get("objective", "")
    trees = [b for b in blocks[1:] if b.strip()]
    sizes = header.get("tree_sizes", "").split()
    _need(len(sizes) == len(trees), "tree_sizes does not match the trees it holds")
    _need(len(trees) % per_iter == 0, "the trees do not fill whole iterations")
    for i, block in enumerate(trees):
        lines = block.strip("\n").splitlines()
        _need(lines[0] == f"Tree={i}", f"tree {i} is out of place")
        _check_lgbm_tree(_fields(lines[1:]), i, max_idx + 1)
    return {"objective": objective, "num_class": n_class, "feature_names": names, "max_feature_idx": max_idx}


def _check_lgbm_tree(t: dict[str, str], i: int, n_features: int) -> None:
    name = f"tree {i}"
    leaves = _int(t["num_leaves"], f"{name}'s num_leaves", 1)
    _numbers(t["leaf_value"], leaves, f"{name}'s leaf_value", float)
    _need(t.get("is_linear", "0") == "0", f"{name} is a linear tree, which ModelGov does not support")
    n_cat = _int(t.get("num_cat", "0"), f"{name}'s num_cat")
    if leaves == 1:
        return
    inner = leaves - 1
    feature = _numbers(t["split_feature"], inner, f"{name}'s split_feature")
    left = _numbers(t["left_child"], inner, f"{name}'s left_child")
    right = _numbers(t["right_child"], inner, f"{name}'s right_child")
    decision = _numbers(t["decision_type"], inner, f"{name}'s decision_type")
    threshold = _numbers(t["threshold"], inner, f"{name}'s threshold", float)
    _need(np.all((feature >= 0) & (feature < n_features)),
          f"{name} splits on a feature outside the model's {n_features} inputs")
    idx = np.arange(inner)
    kids = np.concatenate([left, right])
    # A child >= 0 is an inner node (after its parent); a child < 0 is leaf ~child.
    _need(np.all(np.where(left >= 0, (left > idx) & (left < inner), ~left < leaves))
          and np.all(np.where(right >= 0, (right > idx) & (right < inner), ~right < leaves)),
          f"{name} has a child index outside the tree or before its parent")
    _need(len(np.unique(kids)) == len(kids) and np.sum(kids < 0) == leaves,
          f"{name} has a node with two parents or an orphan leaf")
    categorical = (decision & 1) == 1
    if np.any(categorical) or n_cat:
        bounds = _numbers(t["cat_boundaries"], n_cat + 1, f"{name}'s cat_boundaries")
        words = t["cat_threshold"].split()
        _need(bounds[0] == 0 and np.all(np.diff(bounds) >= 0) and bounds[-1] == len(words),
              f"{name}'s cat_boundaries do not cover cat_threshold")
        cat_idx = threshold[categorical]
        _need(np.all((cat_idx >= 0) & (cat_idx < n_cat) & (cat_idx == np.floor(cat_idx))),
              f"{name} has a categorical split outside its category table")


def check_ubj_shape(data: bytes, what: str) -> None:
    """A cheap sanity check of a UBJSON file before XGBoost parses it (in the child process only)."""
    if not data.startswith(b"{"):
        raise InvalidInput(f"{what} is not an XGBoost UBJSON model (it does not start with an object).")
