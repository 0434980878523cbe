"""Validation metrics, computed with scikit-learn so they match it exactly."""

from __future__ import annotations

import math

import numpy as np

CLASSIFICATION_METRICS = ("auc", "ks", "brier", "accuracy", "log_loss")
REGRESSION_METRICS = ("rmse", "mae", "r2")
# Multiclass: the first is the primary metric (health, evidence checks, alerts).
MULTICLASS_METRICS = ("auc_ovr_macro", "auc_ovr_weighted", "accuracy", "balanced_accuracy", "log_loss", "f1_macro")
from .vocabulary import AUC_LIKE, PRIMARY_METRIC  # noqa: E402,F401  (the words, defined once)
# True when a larger value is better (for verdicts and colours).
HIGHER_IS_BETTER = {"auc": True, "ks": True, "brier": False, "accuracy": True, "log_loss": False,
                    "rmse": False, "mae": False, "r2": True, "balanced_accuracy": True, "auc_ovr_macro": True,
                    "auc_ovr_weighted": True, "f1_macro": True}
# How people name each metric, in every page, report and sentence.
METRIC_LABELS = {"auc": "AUC", "ks": "KS", "brier": "Brier", "accuracy": "accuracy", "log_loss": "log loss",
                 "rmse": "RMSE", "mae": "MAE", "r2": "R²", "balanced_accuracy": "balanced accuracy",
                 "auc_ovr_macro": "macro AUC (one-vs-rest)", "auc_ovr_weighted": "weighted AUC (one-vs-rest)",
                 "f1_macro": "macro F1"}


def metrics_of(task: str) -> tuple[str, ...]:
    """The hold-out metrics of a task, in display order."""
    return {"binary_classification": CLASSIFICATION_METRICS, "multiclass_classification": MULTICLASS_METRICS
            }.get(task, REGRESSION_METRICS)


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


def multiclass_metrics(y_index, proba) -> dict[str, float]:
    """Accuracy, balanced accuracy, log loss, one-vs-rest AUC (macro and weighted) and macro F1.

    `y_index` holds each row's class as its position in the model's classes (0..K−1); `proba` is the (n, K) matrix
    of class probabilities in that order. Each equals scikit-learn's; an AUC is NaN when a class is absent.
    """
    import warnings

    from sklearn import metrics as skm  # imported when used: the CLI answers --help without scikit-learn
    y = np.asarray(y_index).astype(int)
    p = np.asarray(proba, dtype=float)
    labels = list(range(p.shape[1]))
    pred = p.argmax(axis=1)
    with warnings.catch_warnings():  # a class absent from these rows is a fact the numbers show, not a warning
        warnings.simplefilter("ignore")
        out = {
            "accuracy": float(skm.accuracy_score(y, pred)),
            "balanced_accuracy": float(skm.balanced_accuracy_score(y, pred)),
            "log_loss": float(skm.log_loss(y, p, labels=labels)),
            "f1_macro": float(skm.f1_score(y, pred, average="macro")),
        }
        if len(np.unique(y)) == p.shape[1]:
            out["auc_ovr_macro"] = float(skm.roc_auc_score(y, p, multi_class="ovr", average="macro", labels=labels))
            out["auc_ovr_weighted"] = float(skm.roc_auc_score(y, p, multi_class="ovr", average="weighted",
                                                              labels=labels))
        else:
            out["auc_ovr_macro"] = out["auc_ovr_weighted"] = math.nan
    return {k: out[k] for k in MULTICLASS_METRICS}


def per_class_metrics(y_index, pred_index, classes: list) -> list[dict[str, object]]:
    """Per class: precision, recall, F1 and support (rows of that class), as scikit-learn's
    precision_recall_fscore_support (a class never predicted has precision 0)."""
    import warnings

    from sklearn import metrics as skm  # imported when used: the CLI answers --help without scikit-learn
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, r, f, n = skm.precision_recall_fscore_support(np.asarray(y_index).astype(int),
                                                         np.asarray(pred_index).astype(int),
                                                         labels=list(range(len(classes))), zero_division=0)
    predicted = np.bincount(np.asarray(pred_index).astype(int), minlength=len(classes))
    return [{"class": c, "precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
             "support": int(n[i]), "predicted": int(predicted[i])} for i, c in enumerate(classes)]
