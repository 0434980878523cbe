"""Validation metrics, computed with scikit-learn so they match it exactly."""

from __future__ import annotations

import math

import numpy as np

CLASSIFICATION_METRICS = ("auc", "ks", "brier", "accuracy", "log_loss")
REGRESSION_METRICS = ("rmse", "mae", "r2")
# True when a larger value is better (for verdicts and colours).
HIGHER_IS_BETTER = {"auc": True, "ks": True, "brier": False, "accuracy": True, "log_loss": False,
                    "rmse": False, "mae": False, "r2": True}
# How people name each metric, in every page, report and sentence.
METRIC_LABELS = {"auc": "AUC", "ks": "KS", "brier": "Brier", "accuracy": "accuracy", "log_loss": "log loss",
                 "rmse": "RMSE", "mae": "MAE", "r2": "R²"}


def ks_statistic(y_true: np.ndarray, score: np.ndarray) -> float:
    """Kolmogorov–Smirnov separation: max |TPR − FPR| over thresholds."""
    from sklearn import metrics as skm  # imported when used: the CLI answers --help without scikit-learn
    fpr, tpr, _ = skm.roc_curve(y_true, score)
    return float(np.max(np.abs(tpr - fpr)))


def binary_metrics(y_true, score, threshold: float = 0.5) -> dict[str, float]:
    """AUC, KS, Brier, accuracy (at `threshold`) and log loss for positive-class scores."""
    from sklearn import metrics as skm  # imported when used: the CLI answers --help without scikit-learn
    y = np.asarray(y_true).astype(int)
    p = np.asarray(score, dtype=float)
    out = {
        "brier": float(skm.brier_score_loss(y, p)),
        "accuracy": float(skm.accuracy_score(y, (p >= threshold).astype(int))),
        "log_loss": float(skm.log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1])),
    }
    if len(np.unique(y)) == 2:
        out["auc"] = float(skm.roc_auc_score(y, p))
        out["ks"] = ks_statistic(y, p)
    else:
        out["auc"] = out["ks"] = math.nan
    return {k: out[k] for k in CLASSIFICATION_METRICS}


def regression_metrics(y_true, pred) -> dict[str, float]:
    from sklearn import metrics as skm  # imported when used: the CLI answers --help without scikit-learn
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(pred, dtype=float)
    return {
        "rmse": float(math.sqrt(skm.mean_squared_error(y, p))),
        "mae": float(skm.mean_absolute_error(y, p)),
        "r2": float(skm.r2_score(y, p)),
    }
