"""Paired statistics for champion-vs-challenger comparisons (pure numpy; no store access).

Everything here works on two aligned score arrays and one label array, so the
hold-out path (a labelled file) and the production path (logged shadow
traffic whose outcomes arrived) share one implementation.

Paired bootstrap: replicate b draws n row indices with replacement from a
seeded `numpy.random.Generator` (PCG64) and computes every metric of BOTH
models on those same rows. A resample is represented by its count vector
(how often each row was drawn), so the metrics are weighted sums over rows
sorted ONCE per model: AUC by the Mann–Whitney formula over tie groups, KS by
cumulative sums, the rest as matrix–vector products. These equal
scikit-learn's metrics on the resampled rows (the tests check it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..metrics import CLASSIFICATION_METRICS, MULTICLASS_METRICS, REGRESSION_METRICS

EPS = 1e-15  # log-loss clipping, as core.metrics does
# Fixed replicate chunk (by rows), so the same seed gives the same draws on any machine.
_CHUNK_CELLS = 1 << 21


# -- bootstrap draws -------------------------------------------------------------------------

def chunk_size(n: int) -> int:
    return max(1, _CHUNK_CELLS // max(n, 1))


def bootstrap_indices(n: int, replicates: int, seed: int):
    """Yield (first replicate number, index matrix (k, n)) in fixed-size chunks.

    Replicate b is rows `idx[b]` of the original data; the draws depend only on
    (n, seed) and the replicate number, not on how many replicates are asked for.
    """
    rng = np.random.default_rng(seed)
    step = chunk_size(n)
    for start in range(0, replicates, step):
        k = min(step, replicates - start)
        yield start, rng.integers(0, n, size=(k, n), dtype=np.int64)


def counts_of(idx: np.ndarray, n: int) -> np.ndarray:
    """Count matrix (k, n): how often each row was drawn in each replicate."""
    k = idx.shape[0]
    flat = (idx + (np.arange(k, dtype=np.int64) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=k * n).reshape(k, n).astype(np.float64)


# -- weighted metrics (rows of W are replicates) ---------------------------------------------

@dataclass(frozen=True)
class RankPlan:
    """A model's rows sorted by score once, with tie groups, for weighted AUC and KS."""

    order: np.ndarray
    y_sorted: np.ndarray
    starts: np.ndarray | None  # start of each tie group (None when all scores differ)

    @classmethod
    def of(cls, y: np.ndarray, score: np.ndarray) -> "RankPlan":
        order = np.argsort(score, kind="mergesort")
        s = score[order]
        new_group = np.empty(len(s), dtype=bool)
        new_group[:1] = True
        new_group[1:] = s[1:] != s[:-1]
        starts = np.flatnonzero(new_group)
        return cls(order, y[order].astype(np.float64), None if len(starts) == len(s) else starts)


def weighted_auc_ks(plan: RankPlan, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUC and KS for each row of weights W (k, n); NaN where a class is absent."""
    Ws = W[:, plan.order]
    P = Ws * plan.y_sorted
    N = Ws - P
    if plan.starts is not None:
        P = np.add.reduceat(P, plan.starts, axis=1)
        N = np.add.reduceat(N, plan.starts, axis=1)
    cumN = np.cumsum(N, axis=1)
    cumP = np.cumsum(P, axis=1)
    wp, wn = cumP[:, -1], cumN[:, -1]
    # Mann–Whitney: each positive beats the negatives strictly below it and half-ties its own group.
    below = cumN - N
    below += 0.5 * N
    u = np.einsum("ij,ij->i", P, below)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = u / (wp * wn)
        cumP /= wp[:, None]
        cumN /= wn[:, None]
        ks = np.max(np.abs(cumP - cumN), axis=1)
    bad = (wp == 0) | (wn == 0)
    auc[bad] = np.nan
    ks[bad] = np.nan
    return auc, ks


def row_losses_binary(y: np.ndarray, score: np.ndarray, threshold: float = 0.5) -> dict[str, np.ndarray]:
    """Per-row terms whose mean is Brier, accuracy and log loss."""
    p = np.clip(score, EPS, 1 - EPS)
    return {
        "brier": (score - y) ** 2,
        "accuracy": ((score >= threshold).astype(int) == y).astype(np.float64),
        "log_loss": -(y * np.log(p) + (1 - y) * np.log(1 - p)),
    }


def weighted_binary(y: np.ndarray, score: np.ndarray, plan: RankPlan, W: np.ndarray,
                    losses: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    total = W.sum(axis=1)
    auc, ks = weighted_auc_ks(plan, W)
    out = {"auc": auc, "ks": ks}
    for name, v in losses.items():
        out[name] = (W @ v) / total
    return out


def weighted_regression(y: np.ndarray, pred: np.ndarray, W: np.ndarray) -> dict[str, np.ndarray]:
    total = W.sum(axis=1)
    err = pred - y
    sse = W @ (err * err)
    sy, syy = W @ y, W @ (y * y)
    sst = syy - sy * sy / total
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(sst > 0, 1 - sse / sst, np.nan)
    return {"rmse": np.sqrt(sse / total), "mae": (W @ np.abs(err)) / total, "r2": r2}


@dataclass(frozen=True)
class MulticlassPlan:
    """A multiclass model's rows prepared once: one rank plan per class (one-vs-rest), the row terms of accuracy
    and log loss, and one-hot matrices of the true and the predicted class (for per-class weighted counts)."""

    plans: tuple[RankPlan, ...]
    correct: np.ndarray
    loss: np.ndarray
    truth: np.ndarray      # (n, K) one-hot of the true class
    predicted: np.ndarray  # (n, K) one-hot of the predicted class (the most probable; the first on a tie)

    @classmethod
    def of(cls, y: np.ndarray, proba: np.ndarray) -> "MulticlassPlan":
        y = y.astype(np.int64)
        k = proba.shape[1]
        pred = proba.argmax(axis=1)
        eps = np.finfo(np.float64).eps  # scikit-learn's log_loss clips to [eps, 1 − eps]
        p_true = np.clip(proba[np.arange(len(y)), y], eps, 1 - eps)
        eye = np.eye(k)
        return cls(tuple(RankPlan.of((y == c).astype(np.float64), proba[:, c]) for c in range(k)),
                   (pred == y).astype(np.float64), -np.log(p_true), eye[y], eye[pred])


def weighted_multiclass(plan: MulticlassPlan, W: np.ndarray) -> dict[str, np.ndarray]:
    """The multiclass metrics (core.metrics.MULTICLASS_METRICS) for each row of weights W (k, n), as
    scikit-learn computes them on the resampled rows: balanced accuracy and macro F1 over the classes present
    (in the truth, or in the truth or the predictions), the AUCs NaN when a class is absent."""
    total = W.sum(axis=1)
    pos = W @ plan.truth                      # (k, K) rows of each true class
    pred = W @ plan.predicted                 # rows predicted as each class
    tp = W @ (plan.truth * plan.predicted)    # rows of each class predicted right
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(pos > 0, tp / pos, np.nan)
        f1 = np.where(pos + pred > 0, 2 * tp / (pos + pred), np.nan)
        balanced = np.nanmean(recall, axis=1)
        f1_macro = np.nanmean(f1, axis=1)
    aucs = np.column_stack([weighted_auc_ks(p, W)[0] for p in plan.plans])  # NaN where the class is absent
    macro = aucs.mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        weighted = (aucs * pos).sum(axis=1) / pos.sum(axis=1)
    weighted[np.isnan(macro)] = np.nan
    return {"auc_ovr_macro": macro, "auc_ovr_weighted": weighted, "accuracy": (W @ plan.correct) / total,
            "balanced_accuracy": balanced, "log_loss": (W @ plan.loss) / total, "f1_macro": f1_macro}


# -- the paired bootstrap ----------------------------------------------------------------------

@dataclass(frozen=True)
class PairedBootstrap:
    """Replicate metrics of both models on the same resampled rows."""

    champion: dict[str, np.ndarray]
    challenger: dict[str, np.ndarray]
    replicates: int
    seed: int

    def difference(self, metric: str) -> np.ndarray:
        return self.challenger[metric] - self.champion[metric]


def paired_bootstrap(y, champion, challenger, *, task: str, replicates: int = 1000, seed: int = 0,
                     threshold: float = 0.5) -> PairedBootstrap:
    """Metrics of both models on `replicates` paired resamples drawn with `seed`."""
    y = np.asarray(y, dtype=np.float64)
    a = np.asarray(champion, dtype=np.float64)
    b = np.asarray(challenger, dtype=np.float64)
    n = len(y)
    if task == "multiclass_classification":  # y: class positions; a, b: (n, K) class probabilities
        return _paired_multiclass(y, a, b, replicates, seed)
    names = CLASSIFICATION_METRICS if task == "binary_classification" else REGRESSION_METRICS
    out_a = {m: np.empty(replicates) for m in names}
    out_b = {m: np.empty(replicates) for m in names}
    if task == "binary_classification":
        plans = RankPlan.of(y, a), RankPlan.of(y, b)
        losses = row_losses_binary(y, a, threshold), row_losses_binary(y, b, threshold)
    for start, idx in bootstrap_indices(n, replicates, seed):
        W = counts_of(idx, n)
        del idx
        if task == "binary_classification":
            ra = weighted_binary(y, a, plans[0], W, losses[0])
            rb = weighted_binary(y, b, plans[1], W, losses[1])
        else:
            ra, rb = weighted_regression(y, a, W), weighted_regression(y, b, W)
        k = W.shape[0]
        for m in names:
            out_a[m][start:start + k] = ra[m]
            out_b[m][start:start + k] = rb[m]
    return PairedBootstrap(out_a, out_b, replicates, seed)


def _paired_multiclass(y: np.ndarray, a: np.ndarray, b: np.ndarray, replicates: int, seed: int) -> PairedBootstrap:
    n = len(y)
    plans = MulticlassPlan.of(y, a), MulticlassPlan.of(y, b)
    out_a = {m: np.empty(replicates) for m in MULTICLASS_METRICS}
    out_b = {m: np.empty(replicates) for m in MULTICLASS_METRICS}
    for start, idx in bootstrap_indices(n, replicates, seed):
        W = counts_of(idx, n)
        del idx
        ra, rb = weighted_multiclass(plans[0], W), weighted_multiclass(plans[1], W)
        k = W.shape[0]
        for m in MULTICLASS_METRICS:
            out_a[m][start:start + k] = ra[m]
            out_b[m][start:start + k] = rb[m]
    return PairedBootstrap(out_a, out_b, replicates, seed)


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the finite replicate values (NaN, NaN when none)."""
    v = values[np.isfinite(values)]
    if len(v) == 0:
        return math.nan, math.nan
    lo, hi = np.quantile(v, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def bootstrap_p_value(diff: np.ndarray) -> float:
    """Two-sided bootstrap p-value for 'no difference': twice the smaller tail share at 0 (+1 corrected)."""
    v = diff[np.isfinite(diff)]
    if len(v) == 0:
        return math.nan
    below = (1 + np.count_nonzero(v <= 0)) / (len(v) + 1)
    above = (1 + np.count_nonzero(v >= 0)) / (len(v) + 1)
    return float(min(1.0, 2 * min(below, above)))


# -- DeLong's test for two correlated AUCs -----------------------------------------------------

def midranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    n = len(x)
    # Tie groups via boundaries (vectorised): average of first and last position in each group.
    bounds = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1], True])
    first, last = bounds[:-1], bounds[1:]
    avg = (first + last - 1) / 2.0 + 1
    ranks_sorted = np.repeat(avg, last - first)
    out = np.empty(n, dtype=np.float64)
    out[order] = ranks_sorted
    return out


@dataclass(frozen=True)
class DeLongResult:
    auc_champion: float
    auc_challenger: float
    difference: float
    se: float
    z: float
    p_value: float
    ci_low: float
    ci_high: float
    covariance: list[list[float]]

    def as_dict(self) -> dict[str, float]:
        return {"auc_champion": self.auc_champion, "auc_challenger": self.auc_challenger,
                "difference": self.difference, "se": self.se, "z": self.z, "p_value": self.p_value,
                "ci_low": self.ci_low, "ci_high": self.ci_high}


def delong_covariance(y, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fast DeLong (Sun & Xu 2014): AUCs and their covariance for k score rows (k, n)."""
    y = np.asarray(y).astype(bool)
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    pos, neg = scores[:, y], scores[:, ~y]
    m, n = pos.shape[1], neg.shape[1]
    if m < 2 or n < 2:
        raise ValueError("DeLong needs at least two positives and two negatives")
    k = scores.shape[0]
    tx = np.vstack([midranks(pos[r]) for r in range(k)])
    ty = np.vstack([midranks(neg[r]) for r in range(k)])
    tz = np.vstack([midranks(np.concatenate([pos[r], neg[r]])) for r in range(k)])
    aucs = tz[:, :m].sum(axis=1) / m / n - (m + 1.0) / 2.0 / n
    v10 = (tz[:, :m] - tx) / n          # structural component of each positive
    v01 = 1.0 - (tz[:, m:] - ty) / m    # structural component of each negative
    s10 = np.atleast_2d(np.cov(v10))
    s01 = np.atleast_2d(np.cov(v01))
    return aucs, s10 / m + s01 / n


def delong_test(y, champion, challenger, level: float = 0.95) -> DeLongResult:
    """DeLong, DeLong & Clarke-Pearson (1988) test of AUC(challenger) − AUC(champion) = 0."""
    aucs, cov = delong_covariance(y, np.vstack([champion, challenger]))
    diff = float(aucs[1] - aucs[0])
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    se = math.sqrt(max(var, 0.0))
    zq = _norm_ppf(1 - (1 - level) / 2)
    if se == 0:
        z, p = (0.0, 1.0) if diff == 0 else (math.copysign(math.inf, diff), 0.0)
    else:
        z = diff / se
        p = math.erfc(abs(z) / math.sqrt(2))
    return DeLongResult(float(aucs[0]), float(aucs[1]), diff, se, z, p, diff - zq * se, diff + zq * se,
                        cov.tolist())


def _norm_ppf(q: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(q))


# -- McNemar's test for paired accuracy ------------------------------------------------------

EXACT_BELOW = 25  # discordant pairs below this: exact binomial test, else chi-square with correction


@dataclass(frozen=True)
class McNemarResult:
    champion_only: int    # rows the champion gets right and the challenger wrong (b)
    challenger_only: int  # rows the challenger gets right and the champion wrong (c)
    method: str           # "exact binomial" | "chi-square with continuity correction"
    statistic: float
    p_value: float

    def as_dict(self) -> dict[str, object]:
        return {"champion_only_correct": self.champion_only, "challenger_only_correct": self.challenger_only,
                "method": self.method, "statistic": self.statistic, "p_value": self.p_value}


def mcnemar_test(y, champion_pred, challenger_pred) -> McNemarResult:
    """McNemar's test on the discordant pairs of two classifiers' correctness."""
    y = np.asarray(y)
    ok_a = np.asarray(champion_pred) == y
    ok_b = np.asarray(challenger_pred) == y
    b = int(np.count_nonzero(ok_a & ~ok_b))
    c = int(np.count_nonzero(~ok_a & ok_b))
    n = b + c
    if n == 0:
        return McNemarResult(b, c, "exact binomial", 0.0, 1.0)
    if n < EXACT_BELOW:
        tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2 ** n
        return McNemarResult(b, c, "exact binomial", float(min(b, c)), min(1.0, 2 * tail))
    stat = (abs(b - c) - 1) ** 2 / n
    return McNemarResult(b, c, "chi-square with continuity correction", float(stat),
                         math.erfc(math.sqrt(stat / 2)))
