"""Per-group fairness metrics with bootstrap intervals: pure numpy on already-reduced rows (score, label, group).

Each number equals fairlearn's (`MetricFrame` over scikit-learn's metrics, `demographic_parity_ratio`,
`demographic_parity_difference`, `equalized_odds_difference`) on the same rows; tests hold them to it. The
intervals come from one bootstrap: every group is resampled on its own (as many rows as it has), and each
resample is a row of counts, so every metric of every resample is a weighted sum (a matrix product) and the AUC
of every resample follows from one sort of the group's scores.
"""

from __future__ import annotations

from typing import Any

import numpy as np

DEFAULT_BOOTSTRAP = 200
DEFAULT_MIN_GROUP = 50       # fewer rows than this: the group is flagged small ("too small to judge")
DEFAULT_MIN_CLASS = 10       # fewer observed positives or negatives than this: its outcome rates are too few to judge
CLASSIFICATION_METRICS = ("selection_rate", "tpr", "fpr", "precision", "auc", "mean_score", "observed_rate")
REGRESSION_METRICS = ("mean_prediction", "mean_error", "mae")


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def _weights(n: int, bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    """Row 0: every row once (the estimate); rows 1…B: the counts of a resample with replacement."""
    if bootstrap == 0:  # estimates only (an alert judges the estimate)
        return np.ones((1, n))
    idx = rng.integers(0, n, size=(bootstrap, n))
    counts = np.bincount((np.arange(bootstrap)[:, None] * n + idx).ravel(), minlength=bootstrap * n)
    return np.vstack([np.ones((1, n)), counts.reshape(bootstrap, n).astype(float)])


def _weighted_auc(w: np.ndarray, score: np.ndarray, y: np.ndarray) -> np.ndarray:
    """AUC (ties count half, as roc_auc_score) for each row of weights `w`: Σ pos·(neg below + ½ neg equal)."""
    values, inverse = np.unique(score, return_inverse=True)
    k = len(values)
    pos = np.zeros((w.shape[0], k))
    neg = np.zeros((w.shape[0], k))
    for target, mask in ((pos, y == 1), (neg, y == 0)):
        cols = inverse[mask]
        # each resample's weight per distinct score, in one bincount over (resample, score) cells
        cells = (np.arange(w.shape[0])[:, None] * k + cols[None, :]).ravel()
        target += np.bincount(cells, weights=w[:, mask].ravel(), minlength=w.shape[0] * k).reshape(-1, k)
    below = np.cumsum(neg, axis=1) - neg
    num = (pos * (below + 0.5 * neg)).sum(axis=1)
    return _div(num, pos.sum(axis=1) * neg.sum(axis=1))


def _classification(w: np.ndarray, score: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, np.ndarray]:
    pred = (score >= threshold).astype(float)
    has = ~np.isnan(y)
    yy = np.where(has, y, 0.0)
    # every weighted sum in one matrix product (one pass over the resamples' weights)
    sums = w @ np.column_stack([np.ones_like(pred), has.astype(float), yy, pred * has, pred * yy, pred, score])
    n, labelled, positives, predicted_labelled, tp, predicted, total = sums.T
    negatives = labelled - positives
    fp = predicted_labelled - tp
    out = {"selection_rate": _div(predicted, n), "tpr": _div(tp, positives), "fpr": _div(fp, negatives),
           "precision": _div(tp, predicted_labelled), "auc": np.full(len(n), np.nan),
           "mean_score": _div(total, n), "observed_rate": _div(positives, labelled)}
    if has.any():
        both = (positives > 0) & (negatives > 0)
        if both[0]:  # the AUC exists on the rows themselves
            auc = _weighted_auc(w[:, has], score[has], yy[has])
            out["auc"] = np.where(both, auc, np.nan)
    return out


def _regression(w: np.ndarray, pred: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    has = ~np.isnan(y)
    err = np.where(has, pred - np.where(has, y, 0.0), 0.0)
    labelled = w @ has.astype(float)
    return {"mean_prediction": _div(w @ pred, w.sum(axis=1)), "mean_error": _div(w @ err, labelled),
            "mae": _div(w @ np.abs(err), labelled)}


def _number(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _interval(values: np.ndarray) -> list[float | None] | None:
    if values.size == 0:
        return None
    v = values[np.isfinite(values)]
    if len(v) < max(10, len(values) // 2):
        return None
    lo, hi = np.percentile(v, [2.5, 97.5])
    return [float(lo), float(hi)]


def group_metrics(score, label, groups, *, task: str = "binary_classification", threshold: float = 0.5,
                  bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = 0, min_group_size: int = DEFAULT_MIN_GROUP,
                  positive_is: str = "adverse", order: list[str] | None = None) -> dict[str, Any]:
    """Per group: the metrics with 95% bootstrap intervals, and the disparities between groups.

    `score` is the positive class's probability (a classifier) or the prediction (a regressor); `label` the
    observed outcome (0/1, or the true value), NaN where none arrived; `groups` the group of each row (text).
    Predicted positive means `score >= threshold`. `positive_is` says whether a positive prediction is adverse
    (a predicted default: the most favoured group has the lowest selection rate) or favourable (an approval).
    Demographic parity is judged over the groups not flagged `small` (fewer rows than `min_group_size`; they are
    shown, flagged and named in `excluded_groups`); equalized odds also leaves out groups with `few_outcomes`
    (fewer than DEFAULT_MIN_CLASS observed positives or negatives: in production, outcomes arrive late).
    """
    score = np.asarray(score, dtype=float)
    label = np.asarray(label, dtype=float)
    groups = np.asarray(groups, dtype=object).astype(str)
    regression = task == "regression"
    names = [g for g in (order or []) if g in set(groups)] + sorted(set(groups) - set(order or []))
    rng = np.random.default_rng(seed)
    rows, draws = [], {}
    for g in names:
        m = groups == g
        w = _weights(int(m.sum()), bootstrap, rng)
        values = (_regression(w, score[m], label[m]) if regression
                  else _classification(w, score[m], label[m], threshold))
        draws[g] = values
        n = int(m.sum())
        labelled = label[m][~np.isnan(label[m])]
        row = {"group": g, "n": n, "n_outcomes": int(labelled.size)}
        row.update({k: _number(v[0]) for k, v in values.items()})
        row["small"] = bool(n < min_group_size)
        pos = int(labelled.sum()) if not regression else labelled.size
        row["few_outcomes"] = bool(min(pos, labelled.size - pos) < DEFAULT_MIN_CLASS if not regression
                                   else labelled.size < DEFAULT_MIN_CLASS)
        row["ci"] = {k: _interval(v[1:]) for k, v in values.items()}
        rows.append(row)
    out: dict[str, Any] = {"groups": rows, "excluded_groups": [r["group"] for r in rows if r["small"]]}
    judged = [r["group"] for r in rows if not r["small"]]
    if regression:
        out.update({"demographic_parity_ratio": None, "demographic_parity_difference": None,
                    "equalized_odds_difference": None, "favoured_group": None})
        return out
    odds_judged = [r["group"] for r in rows if not r["small"] and not r["few_outcomes"]]
    out["excluded_from_equalized_odds"] = [r["group"] for r in rows if r["group"] not in odds_judged]
    out.update(_disparities(rows, draws, judged, odds_judged, positive_is))
    return out


def _disparities(rows: list[dict], draws: dict, judged: list[str], odds_judged: list[str],
                 positive_is: str) -> dict[str, Any]:
    empty = {"demographic_parity_ratio": None, "demographic_parity_difference": None,
             "equalized_odds_difference": None, "favoured_group": None, "demographic_parity_ratio_ci": None}
    if len(judged) < 2:
        return empty
    sel = np.vstack([draws[g]["selection_rate"] for g in judged])       # groups × (1 + B)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(sel.max(axis=0) > 0, sel.min(axis=0) / sel.max(axis=0), np.nan)
    diff = sel.max(axis=0) - sel.min(axis=0)
    odds = np.full(sel.shape[1], np.nan)
    if len(odds_judged) >= 2:
        tpr = np.vstack([draws[g]["tpr"] for g in odds_judged])
        fpr = np.vstack([draws[g]["fpr"] for g in odds_judged])
        odds = np.maximum(tpr.max(axis=0) - tpr.min(axis=0), fpr.max(axis=0) - fpr.min(axis=0))
    estimates = sel[:, 0]
    fav = int(np.argmin(estimates) if positive_is == "adverse" else np.argmax(estimates))
    for r in rows:  # each group against the most favoured: how many times as often it is predicted positive
        if r["selection_rate"] is None:
            continue
        s = draws[r["group"]]["selection_rate"]
        base = sel[fav]
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(base > 0, s / base, np.nan)
        r["ratio_to_favoured"] = _number(rel[0])
        r["ratio_to_favoured_ci"] = _interval(rel[1:])
        r["difference_to_favoured"] = _number(s[0] - base[0])
        r["difference_to_favoured_ci"] = _interval((s - base)[1:])
    return {"demographic_parity_ratio": _number(ratio[0]), "demographic_parity_difference": _number(diff[0]),
            "equalized_odds_difference": _number(odds[0]), "favoured_group": judged[fav],
            "demographic_parity_ratio_ci": _interval(ratio[1:])}
