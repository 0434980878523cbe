"""Champion vs challenger on a labelled hold-out: both versions scored on the same rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import CoreError, InvalidInput
from ..explain import summary as explain_summary
from ..registry.datasets import Dataset, fingerprint, load_frame, read_table
from ..registry.records import ModelVersion, parse_ref
from ..registry.versions import class_index, get_model_version, load_model, score
from .scores import (
    DEFAULT_BOOTSTRAP,
    TOP_DISAGREEMENTS,
    check_bootstrap,
    compare_scores,
    disagreements,
    segments,
)


def resolve_version(store, ref: str | ModelVersion) -> ModelVersion:
    if isinstance(ref, ModelVersion):
        return ref
    name, number = parse_ref(ref)
    if number is None:
        raise InvalidInput(f"Name the version to compare as MODEL:VERSION, e.g. {name}:1.")
    return get_model_version(store, name, number)


def _frame(store, data: pd.DataFrame | Dataset | str | Path) -> tuple[pd.DataFrame, str]:
    if isinstance(data, pd.DataFrame):
        return data, "in-memory frame"
    if isinstance(data, Dataset):
        return load_frame(store, data), f"dataset:{data.ref}"
    p = Path(data).resolve()
    return read_table(p), str(p)


def _labels(v: ModelVersion, y: pd.Series, target: str) -> np.ndarray:
    if y.isna().any():
        raise InvalidInput(f"Target column {target!r} has {int(y.isna().sum())} empty value(s); "
                           "drop those rows or fill in their outcomes.")
    if v.task == "regression":
        try:
            return y.to_numpy(dtype=float)
        except (TypeError, ValueError) as e:
            raise InvalidInput(f"Target column {target!r} is not numeric, but {v.ref} is a regression.") from e
    classes = list(v.classes or [])
    values = set(y.unique().tolist())
    if not values <= set(classes):
        as_str = {str(c): c for c in classes}
        if {str(x) for x in values} <= set(as_str):
            y = y.map(lambda x: as_str[str(x)])
        else:
            raise InvalidInput(f"Target column {target!r} holds value(s) {sorted(map(str, values - set(classes)))[:5]} "
                               f"that {v.ref} never saw; its classes are {classes}.")
    if v.task == "multiclass_classification":
        return class_index(classes, y, f"Target column {target!r}")
    return (y == classes[1]).to_numpy().astype(int)


def _scores(store, v: ModelVersion, frame: pd.DataFrame) -> np.ndarray:
    missing = [c for c in v.feature_names if c not in frame.columns]
    if missing:
        raise InvalidInput(f"The data lacks column(s) {', '.join(missing[:10])} that {v.ref} needs.")
    _, estimator = load_model(store, v.model, v.version)
    try:
        return score(estimator, v.task, frame[v.feature_names])
    except Exception as e:  # scoring user data can fail in many ways; all mean "these rows do not fit"
        raise InvalidInput(f"{v.ref} cannot score the data: {type(e).__name__}: {e}") from e


def compare_holdout(store, champion: str | ModelVersion, challenger: str | ModelVersion,
                    data: pd.DataFrame | Dataset | str | Path, target: str | None = None, *,
                    segment: str | None = None, bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = 0,
                    top: int = TOP_DISAGREEMENTS, data_ref: str | None = None) -> dict[str, Any]:
    """Compare two registered versions on the same labelled rows (read-only; see `save_comparison`).

    `data_ref` names the rows in the record (default: the file path or dataset reference).

    Raises NotFound (version, file), InvalidInput (target, columns, classes, task mismatch).
    """
    check_bootstrap(bootstrap)
    va, vb = resolve_version(store, champion), resolve_version(store, challenger)
    if va.task != vb.task:
        raise InvalidInput(f"{va.ref} is a {va.task.replace('_', ' ')} and {vb.ref} a "
                           f"{vb.task.replace('_', ' ')}; compare versions of the same kind.")
    if va.task != "regression" and list(va.classes or []) != list(vb.classes or []):
        raise InvalidInput(f"{va.ref} predicts classes {va.classes} but {vb.ref} predicts {vb.classes}.")
    frame, default_ref = _frame(store, data)
    data_ref = data_ref or default_ref
    target = target or va.target
    if target not in frame.columns:
        raise InvalidInput(f"Target column {target!r} is not in the data; its columns are "
                           f"{', '.join(map(str, frame.columns[:30]))}.")
    if segment is not None and segment not in frame.columns:
        raise InvalidInput(f"Segment column {segment!r} is not in the data; pick one of its columns.")
    if frame.empty:
        raise InvalidInput("The data has no rows; give a labelled hold-out file.")
    frame = frame.reset_index(drop=True)
    y = _labels(va, frame[target], target)
    a, b = _scores(store, va, frame), _scores(store, vb, frame)
    result = compare_scores(y, a, b, task=va.task, bootstrap=bootstrap, seed=seed)
    result.update({
        "source": "holdout", "champion_ref": va.ref, "challenger_ref": vb.ref,
        "champion_sha256": va.sha256, "challenger_sha256": vb.sha256,
        "data": {"ref": data_ref, "fingerprint": fingerprint(frame), "rows": len(frame), "target": target},
        "segment": segment,
        "segments": segments(frame, segment, y, a, b, va.task, bootstrap, seed) if segment else [],
        "disagreements": disagreements(frame, y, a, b, va, vb, top),
    })
    importance = shap_side_by_side(store, va, vb)
    if importance is not None:
        result["importance"] = importance
    return result


def shap_side_by_side(store, va: ModelVersion, vb: ModelVersion) -> list[dict[str, Any]] | None:
    """Global SHAP importance of both versions from their newest cached explanations; None when neither has one."""
    try:
        ia = explain_summary.global_importance(store, va.model, va.version)
        ib = explain_summary.global_importance(store, vb.model, vb.version)
    except CoreError:
        return None
    ia, ib = _importance_dict(ia), _importance_dict(ib)
    if not ia and not ib:
        return None
    feats = sorted(set(ia) | set(ib), key=lambda f: -max(ia.get(f, 0.0), ib.get(f, 0.0)))
    return [{"feature": f, "champion": ia.get(f), "challenger": ib.get(f)} for f in feats]


def _importance_dict(value: Any) -> dict[str, float]:
    if value is None:
        return {}
    if isinstance(value, pd.DataFrame):
        cols = list(value.columns)
        return {str(k): float(v) for k, v in zip(value[cols[0]], value[cols[1]])}
    if isinstance(value, pd.Series):
        return {str(k): float(v) for k, v in value.items()}
    if isinstance(value, dict):
        return {str(k): float(v) for k, v in value.items() if isinstance(v, (int, float))}
    return {}
