"""The comparison engine: two aligned score arrays and the labels in, metrics with honest uncertainty out.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidInput
from ..metrics import (
    CLASSIFICATION_METRICS,
    HIGHER_IS_BETTER,
    METRIC_LABELS,
    MULTICLASS_METRICS,
    REGRESSION_METRICS,
    binary_metrics,
    multiclass_metrics,
    regression_metrics,
)
from ..registry.datasets import column_type
from ..registry.records import ModelVersion
from . import curves, paired

LABELS = METRIC_LABELS


DEFAULT_BOOTSTRAP = 1000


MIN_BOOTSTRAP, MAX_BOOTSTRAP = 20, 100_000


MIN_SEGMENT_ROWS = 30


MAX_SEGMENTS = 12


TOP_DISAGREEMENTS = 20


THRESHOLD = 0.5  # class threshold for accuracy and agreement, as core.metrics uses


REGRESSION_AGREEMENT = 0.1  # predictions "agree" when within 0.1 standard deviations of the target


def compare_scores(y, champion, challenger, *, task: str, bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = 0,
                   with_curves: bool = True) -> dict[str, Any]:
    """Side-by-side metrics, paired-bootstrap CIs, DeLong / McNemar, agreement and verdict.

    `y` is 0/1 (classification) or numeric; `champion`/`challenger` are aligned scores
    (positive-class probabilities) or predictions. Difference = challenger − champion.
    """
    check_bootstrap(bootstrap)
    if task == "multiclass_classification":
        return _compare_multiclass(y, champion, challenger, bootstrap=bootstrap, seed=seed, with_curves=with_curves)
    y = np.asarray(y, dtype=np.float64)
    a = np.asarray(champion, dtype=np.float64)
    b = np.asarray(challenger, dtype=np.float64)
    if not (len(y) == len(a) == len(b)):
        raise InvalidInput(f"Labels and scores must be aligned; got {len(y)}, {len(a)} and {len(b)} rows.")
    if len(y) < 2:
        raise InvalidInput("A comparison needs at least two labelled rows.")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise InvalidInput("A model returned empty or infinite scores; check the input rows for missing values.")
    classification = task == "binary_classification"
    if classification:
        ma, mb = binary_metrics(y.astype(int), a, THRESHOLD), binary_metrics(y.astype(int), b, THRESHOLD)
        names = CLASSIFICATION_METRICS
    else:
        ma, mb = regression_metrics(y, a), regression_metrics(y, b)
        names = REGRESSION_METRICS
    boot = paired.paired_bootstrap(y, a, b, task=task, replicates=bootstrap, seed=seed, threshold=THRESHOLD)
    tests: dict[str, Any] = {}
    if classification:
        both_classes = min(int(y.sum()), int(len(y) - y.sum())) >= 2
        if both_classes:
            tests["delong"] = paired.delong_test(y, a, b).as_dict()
        tests["mcnemar"] = paired.mcnemar_test(
            y.astype(int), (a >= THRESHOLD).astype(int), (b >= THRESHOLD).astype(int)).as_dict()
    difference = _differences(boot, names, ma, mb, tests)
    out: dict[str, Any] = {
        "task": task, "rows": int(len(y)), "bootstrap": bootstrap, "seed": seed, "confidence_level": 0.95,
        "champion": ma, "challenger": mb, "difference": difference,
        "agreement_rate": agreement_rate(y, a, b, task), "tests": tests,
    }
    if classification:
        out["positives"] = int(y.sum())
    out["verdict"], out["verdict_summary"] = verdict(difference)
    if with_curves:
        out["curves"] = curves.curves(y, a, b, task)
        out["distributions"] = curves.histograms(y, a, b, task)
    return out


def _differences(boot, names, ma: dict[str, float], mb: dict[str, float], tests: dict[str, Any]
                 ) -> dict[str, dict[str, Any]]:
    """Per metric: challenger minus champion, its 95% paired-bootstrap interval and a p-value (DeLong for a
    binary AUC, McNemar for accuracy when those tests ran; the paired bootstrap otherwise)."""
    difference = {}
    for m in names:
        d = boot.difference(m)
        lo, hi = paired.percentile_interval(d)
        if m == "auc" and "delong" in tests:
            p, method = tests["delong"]["p_value"], "DeLong"
        elif m == "accuracy" and "mcnemar" in tests:
            p, method = tests["mcnemar"]["p_value"], "McNemar (" + tests["mcnemar"]["method"] + ")"
        else:
            p, method = paired.bootstrap_p_value(d), "paired bootstrap"
        difference[m] = {"estimate": mb[m] - ma[m], "ci_low": lo, "ci_high": hi, "p_value": p,
                         "p_value_method": method, "replicates_used": int(np.isfinite(d).sum())}
    return difference


def _compare_multiclass(y, champion, challenger, *, bootstrap: int, seed: int, with_curves: bool) -> dict[str, Any]:
    """`compare_scores` of two multiclass versions: `y` holds each row's class position (0..K−1), `champion` and
    `challenger` the (n, K) class probabilities. The six multiclass metrics with paired-bootstrap intervals;
    McNemar on the predicted classes' correctness (accuracy); the other p-values from the bootstrap."""
    y = np.asarray(y, dtype=np.int64)
    a = np.asarray(champion, dtype=np.float64)
    b = np.asarray(challenger, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape or len(y) != len(a):
        raise InvalidInput(f"Labels and class probabilities must be aligned; got {len(y)} labels and "
                           f"{a.shape} and {b.shape} probabilities.")
    if len(y) < 2:
        raise InvalidInput("A comparison needs at least two labelled rows.")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise InvalidInput("A model returned empty or infinite scores; check the input rows for missing values.")
    ma, mb = multiclass_metrics(y, a), multiclass_metrics(y, b)
    boot = paired.paired_bootstrap(y, a, b, task="multiclass_classification", replicates=bootstrap, seed=seed)
    pa, pb = a.argmax(axis=1), b.argmax(axis=1)
    tests = {"mcnemar": paired.mcnemar_test(y, pa, pb).as_dict()}
    difference = _differences(boot, MULTICLASS_METRICS, ma, mb, tests)
    out: dict[str, Any] = {
        "task": "multiclass_classification", "rows": int(len(y)), "bootstrap": bootstrap, "seed": seed,
        "confidence_level": 0.95, "champion": ma, "challenger": mb, "difference": difference,
        "agreement_rate": float(np.mean(pa == pb)), "tests": tests,
        "class_rows": np.bincount(y, minlength=a.shape[1]).tolist(),
    }
    out["verdict"], out["verdict_summary"] = verdict(difference)
    if with_curves:  # the predicted class's probability against being right (top-label calibration)
        out["curves"] = {name: {"calibration": curves.calibration((p.argmax(axis=1) == y).astype(float),
                                                                  p.max(axis=1))}
                         for name, p in (("champion", a), ("challenger", b))}
        # the predicted class's probability, for rows predicted right and wrong
        hist = curves.histograms((pa == y).astype(float), a.max(axis=1), b.max(axis=1), "binary_classification")
        out["distributions"] = {"edges": hist["edges"], **{
            side: {"wrong": hist[side]["negative"], "right": hist[side]["positive"]}
            for side in ("champion", "challenger")}}
    return out


def agreement_rate(y: np.ndarray, a: np.ndarray, b: np.ndarray, task: str) -> float:
    """Share of rows where both decide alike (same class at 0.5; regression: within 0.1 SD of the target)."""
    if task == "binary_classification":
        return float(np.mean((a >= THRESHOLD) == (b >= THRESHOLD)))
    tol = REGRESSION_AGREEMENT * float(np.std(y)) if len(y) > 1 else 0.0
    return float(np.mean(np.abs(a - b) <= tol))


def check_bootstrap(n: int) -> None:
    if not isinstance(n, (int, np.integer)) or not MIN_BOOTSTRAP <= n <= MAX_BOOTSTRAP:
        raise InvalidInput(f"Bootstrap replicates must be a whole number from {MIN_BOOTSTRAP} to {MAX_BOOTSTRAP:,}; "
                           f"got {n!r} (1,000 is the usual choice).")


def _fmt(metric: str, x: float) -> str:
    return f"{x:.4g}" if metric in ("rmse", "mae") else f"{x:.3f}"


def verdict(difference: dict[str, dict[str, float]]) -> tuple[str, str]:
    """Plain words from the 95% intervals: where the challenger is better, worse, or not clearly different.

    Significance means the paired-bootstrap interval of the difference excludes 0. The
    interval shown is of the improvement (or the loss) in the direction stated.
    """
    better, worse, same, unknown = [], [], [], []
    for m, d in difference.items():
        lo, hi, est = d["ci_low"], d["ci_high"], d["estimate"]
        if any(v is None or not math.isfinite(v) for v in (lo, hi, est)):
            unknown.append(LABELS[m])
            continue
        sign = 1 if HIGHER_IS_BETTER[m] else -1
        gain, g_lo, g_hi = sign * est, *sorted((sign * lo, sign * hi))
        if g_lo > 0:
            better.append(f"{LABELS[m]} by {_fmt(m, gain)} (95% CI {_fmt(m, g_lo)} to {_fmt(m, g_hi)})")
        elif g_hi < 0:
            worse.append(f"{LABELS[m]} by {_fmt(m, -gain)} (95% CI {_fmt(m, -g_hi)} to {_fmt(m, -g_lo)})")
        else:
            same.append(LABELS[m])
    parts = []
    if better:
        parts.append("challenger better on " + ", ".join(better))
    if worse:
        parts.append("challenger worse on " + ", ".join(worse))
    if same:
        parts.append("no significant difference in " + ", ".join(same))
    if unknown:
        parts.append("undefined on these rows: " + ", ".join(unknown))
    summary = ("mixed" if better and worse else "challenger_better" if better else "champion_better" if worse
               else "no_significant_difference" if same else "undetermined")
    return "; ".join(parts) + ".", summary


def metric_direction(metric: str, estimate: float | None) -> str:
    """'better', 'worse' or 'equal' for the challenger from a difference (challenger − champion), with the
    metric's direction (lower Brier, log loss, RMSE and MAE are better); 'undefined' without a number."""
    if estimate is None or not math.isfinite(estimate):
        return "undefined"
    gain = estimate if HIGHER_IS_BETTER[metric] else -estimate
    return "better" if gain > 0 else "worse" if gain < 0 else "equal"


def promotion_caution(verdict_summary: str | None) -> str | None:
    """The warning a promotion request deserves from a comparison's verdict, or None when the data does not
    argue against promoting the challenger."""
    if verdict_summary == "champion_better":
        return ("The comparison says the challenger is significantly worse than the champion and better on "
                "nothing: promoting it replaces a better model. Request it only for a reason the data does not "
                "show, and say that reason.")
    if verdict_summary == "mixed":
        return ("The comparison says the challenger is significantly worse than the champion on some metrics "
                "(and better on others): say in the justification why the losses are acceptable.")
    return None


def segment_labels(values: pd.Series, bins: int = 5) -> tuple[pd.Series, list[str]]:
    """(label per row, labels in display order): quantile bins for a numeric column with many
    values, categories otherwise (the most frequent first, rare ones pooled as '(other)')."""
    kind = column_type(values)
    if kind in ("integer", "float") and values.nunique() > 10:
        cut = pd.qcut(values.astype(float), q=bins, duplicates="drop")
        names = {c: f"({c.left:.4g}, {c.right:.4g}]" for c in cut.cat.categories}
        order = list(names.values())
        labels = cut.map(names).astype("string")
    else:
        labels = values.astype("string")
        counts = labels.value_counts()
        keep = list(counts.index[:MAX_SEGMENTS - 1])
        labels = labels.where(labels.isin(keep) | labels.isna(), "(other)")
        order = [str(k) for k in keep] + ["(other)"]
    labels = labels.fillna("(missing)")
    order = [o for o in order + ["(missing)"] if (labels == o).any()]
    return labels, order


def segments(frame: pd.DataFrame, column: str, y: np.ndarray, a: np.ndarray, b: np.ndarray, task: str,
             bootstrap: int, seed: int) -> list[dict[str, Any]]:
    """The comparison within each segment of `column`, each with its own seeded bootstrap (seed + 1 + i)."""
    labels, order = segment_labels(frame[column])
    out = []
    for i, name in enumerate(order):
        mask = (labels == name).to_numpy()
        entry: dict[str, Any] = {"segment": name, "column": column, "rows": int(mask.sum())}
        if task == "binary_classification":
            entry["positives"] = int(y[mask].sum())
        if task == "multiclass_classification":
            entry["class_rows"] = np.bincount(y[mask].astype(int), minlength=a.shape[1]).tolist()
        if mask.sum() < MIN_SEGMENT_ROWS:
            entry["note"] = f"fewer than {MIN_SEGMENT_ROWS} rows; not compared"
        else:
            r = compare_scores(y[mask], a[mask], b[mask], task=task, bootstrap=bootstrap, seed=seed + 1 + i,
                               with_curves=False)
            entry.update({k: r[k] for k in ("champion", "challenger", "difference", "agreement_rate",
                                            "verdict", "verdict_summary")})
        out.append(entry)
    return out


def disagreements(frame: pd.DataFrame, y: np.ndarray, a: np.ndarray, b: np.ndarray, va: ModelVersion,
                  vb: ModelVersion, top: int) -> list[dict[str, Any]]:
    """The `top` rows where the two scores differ most, with their inputs."""
    if va.task == "multiclass_classification":
        return _disagreements_multiclass(frame, y, a, b, va, vb, top)
    gap = np.abs(b - a)
    rows = np.argsort(-gap, kind="mergesort")[:top]
    features = list(dict.fromkeys(va.feature_names + vb.feature_names))[:30]
    out = []
    for r in rows:
        entry = {"row": int(r), "champion": float(a[r]), "challenger": float(b[r]), "gap": float(gap[r]),
                 "label": float(y[r]) if va.task == "regression" else int(y[r])}
        if va.task == "binary_classification":
            entry["decisions_differ"] = bool((a[r] >= THRESHOLD) != (b[r] >= THRESHOLD))
        entry["features"] = {c: _plain(frame.at[r, c]) for c in features if c in frame.columns}
        out.append(entry)
    return out


def _disagreements_multiclass(frame: pd.DataFrame, y: np.ndarray, a: np.ndarray, b: np.ndarray, va: ModelVersion,
                              vb: ModelVersion, top: int) -> list[dict[str, Any]]:
    """The `top` rows where the class probabilities differ most (total variation: half the summed absolute
    differences); `champion`/`challenger` are each one's probability of its predicted class, named beside it."""
    gap = 0.5 * np.abs(b - a).sum(axis=1)
    rows = np.argsort(-gap, kind="mergesort")[:top]
    features = list(dict.fromkeys(va.feature_names + vb.feature_names))[:30]
    classes = list(va.classes or [])
    out = []
    for r in rows:
        ca, cb = int(a[r].argmax()), int(b[r].argmax())
        out.append({"row": int(r), "champion": float(a[r, ca]), "challenger": float(b[r, cb]), "gap": float(gap[r]),
                    "label": _plain(classes[int(y[r])]), "champion_class": _plain(classes[ca]),
                    "challenger_class": _plain(classes[cb]), "decisions_differ": ca != cb,
                    "features": {c: _plain(frame.at[r, c]) for c in features if c in frame.columns}})
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, (np.generic,)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v if isinstance(v, (int, float, str, bool)) or v is None else str(v)
