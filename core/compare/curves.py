"""Curve and distribution data for drawing a comparison (plain lists, ready for Plotly)."""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_POINTS = 400  # per curve; enough for a smooth line, small enough for an evidence pack
BINS = 40


def _thin(*arrays: np.ndarray) -> list[list[float]]:
    """At most MAX_POINTS evenly spaced points, always keeping both ends."""
    n = len(arrays[0])
    if n <= MAX_POINTS:
        keep = np.arange(n)
    else:
        keep = np.unique(np.r_[np.linspace(0, n - 1, MAX_POINTS).round().astype(int), n - 1])
    return [np.asarray(a)[keep].astype(float).tolist() for a in arrays]


def roc(y: np.ndarray, score: np.ndarray) -> dict[str, list[float]]:
    from sklearn import metrics as skm  # imported when used: the CLI answers --help without scikit-learn
    fpr, tpr, _ = skm.roc_curve(y, score)
    fpr, tpr = _thin(fpr, tpr)
    return {"fpr": fpr, "tpr": tpr}


def precision_recall(y: np.ndarray, score: np.ndarray) -> dict[str, list[float]]:
    from sklearn import metrics as skm  # imported when used: the CLI answers --help without scikit-learn
    precision, recall, _ = skm.precision_recall_curve(y, score)
    recall, precision = _thin(recall[::-1], precision[::-1])
    return {"recall": recall, "precision": precision,
            "average_precision": float(skm.average_precision_score(y, score))}


def calibration(y: np.ndarray, score: np.ndarray, bins: int = 10) -> dict[str, list[float]]:
    """Observed default rate against mean predicted probability, in quantile bins of the score."""
    from sklearn.calibration import calibration_curve  # imported when used: the CLI answers --help without scikit-learn
    frac, mean_pred = calibration_curve(y, np.clip(score, 0, 1), n_bins=bins, strategy="quantile")
    return {"mean_predicted": mean_pred.astype(float).tolist(), "observed": frac.astype(float).tolist()}


def regression_calibration(y: np.ndarray, pred: np.ndarray, bins: int = 10) -> dict[str, list[float]]:
    """Mean actual against mean prediction in quantile bins of the prediction."""
    edges = np.unique(np.quantile(pred, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, pred, side="right") - 1, 0, max(len(edges) - 2, 0))
    mp, ob = [], []
    for b in np.unique(which):
        m = which == b
        mp.append(float(pred[m].mean()))
        ob.append(float(y[m].mean()))
    return {"mean_predicted": mp, "observed": ob}


def histograms(y: np.ndarray, a: np.ndarray, b: np.ndarray, task: str) -> dict[str, Any]:
    """Score (or prediction) histograms of both models on common bins; by class for classifiers."""
    if task == "binary_classification":
        edges = np.linspace(0.0, 1.0, BINS + 1)
    else:
        lo, hi = float(min(a.min(), b.min())), float(max(a.max(), b.max()))
        edges = np.linspace(lo, hi if hi > lo else lo + 1.0, BINS + 1)
    out: dict[str, Any] = {"edges": edges.tolist()}
    for name, s in (("champion", a), ("challenger", b)):
        s = np.clip(s, edges[0], edges[-1])
        if task == "binary_classification":
            out[name] = {"positive": np.histogram(s[y == 1], edges)[0].tolist(),
                         "negative": np.histogram(s[y == 0], edges)[0].tolist()}
        else:
            out[name] = {"all": np.histogram(s, edges)[0].tolist()}
    return out


def curves(y: np.ndarray, a: np.ndarray, b: np.ndarray, task: str) -> dict[str, Any]:
    if task == "binary_classification":
        both = len(np.unique(y)) == 2
        return {name: ({"roc": roc(y, s), "precision_recall": precision_recall(y, s)} if both else {})
                | {"calibration": calibration(y, s)}
                for name, s in (("champion", a), ("challenger", b))}
    return {name: {"calibration": regression_calibration(y, s)} for name, s in (("champion", a), ("challenger", b))}
