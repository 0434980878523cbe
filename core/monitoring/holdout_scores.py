"""A version's scores on its hold-out data: the reference of the score's own drift, computed once and kept.

A version's artifact and hold-out data never change, so neither do its scores on that data. They are written once,
the first time a report needs them, as a Parquet file named by the artifact's SHA-256 and the data's fingerprint
(`datasets/scores/`), and read by DuckDB from then on: no report loads the model again.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pandas as pd

from ..registry import artifacts
from ..registry.datasets import Dataset, load_frame
from ..registry.records import ModelVersion
from ..registry.versions import score


def path(store, v: ModelVersion, ds: Dataset) -> Path:
    """Where the scores of `v` on its hold-out data `ds` are kept (content-addressed: never stale)."""
    return store.datasets_dir / "scores" / f"{v.sha256}-{ds.fingerprint[:32]}.parquet"


def compute(store, v: ModelVersion, ds: Dataset) -> Path:
    """Score the hold-out data with the version (after its SHA-256 matches the registry) and keep the scores.

    The file appears whole or not at all (written aside, then renamed), so two processes computing it at once
    each leave the same complete file.
    """
    target = path(store, v, ds)
    test = load_frame(store, ds)
    est = artifacts.load(store.artifacts_dir, v.sha256, v.ref)
    s = score(est, v.task, test[v.feature_names])
    if v.task == "multiclass_classification":  # as the logs keep it: the predicted class's probability and
        # position, and every class's probability (p_0 … p_{K−1})
        frame = pd.DataFrame({"score": s.max(axis=1), "prediction": s.argmax(axis=1).astype(float),
                              **{f"p_{k}": s[:, k] for k in range(s.shape[1])}})
    else:
        frame = pd.DataFrame({"score": s})
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.partial")
    try:
        frame.to_parquet(partial, index=False)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def per_class(store, v: ModelVersion) -> list[dict] | None:
    """A multiclass version's precision, recall, F1, support and predicted rows per class on its hold-out data
    (core.metrics.per_class_metrics over the kept scores); None for other tasks or without hold-out data."""
    from ..metrics import per_class_metrics
    from ..registry.datasets import get_dataset_by_id
    from ..registry.versions import class_index

    if v.task != "multiclass_classification" or v.test_dataset_id is None:
        return None
    with store.read() as con:
        ds = get_dataset_by_id(con, v.test_dataset_id)
    target = path(store, v, ds)
    if not target.exists():
        compute(store, v, ds)
    predicted = pd.read_parquet(target, columns=["prediction"])["prediction"].to_numpy().astype(int)
    truth = class_index(list(v.classes or []), load_frame(store, ds)[v.target], "The hold-out target")
    return per_class_metrics(truth, predicted, list(v.classes or []))
