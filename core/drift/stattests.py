"""Drift statistical tests as a registry, the way Evidently's `stattests` are: one record per test.

A record names the test, the column kinds it applies to, its default threshold, which side of the
threshold means drift, and the pure function that computes its score from a column's window summary
(`Sample`). Adding a test is one function and one `register(StatTest(...))`; the configuration check,
the CLI's choices and the Evidently-compatible default choice (`default_test`) all read the registry.

Definitions (docs/monitoring.md explains them):
- PSI: reference deciles as right-closed bin edges (categories for categorical columns); empty-bin
  proportions become 0.0001; PSI = Σ (cur − ref) · ln(cur / ref).
- KS: statistic and p-value equal `scipy.stats.ks_2samp(ref, cur)` (method 'auto').
- Wasserstein: `scipy.stats.wasserstein_distance(ref, cur)` / max(np.std(ref), 0.001), as Evidently.
- chi-square: Evidently's goodness of fit of the current counts against the reference proportions.
- z: Evidently's two-proportion z-test on the share of the first (sorted) value.
- Jensen–Shannon: `scipy.spatial.distance.jensenshannon` (natural logarithm) on the proportions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import ksdist

EMPTY = 0.0001
KINDS = ("numeric", "categorical")


@dataclass
class Sample:
    """What a test may read of one column in one window: sizes, the exact KS and Wasserstein figures
    computed from the counts, PSI bin proportions and, for few distinct values, the value counts."""

    kind: str
    n_ref: int
    n_cur: int
    ks_statistic: float | None = None
    ks_p_value: float | None = None
    wasserstein: float | None = None
    psi: float | None = None
    ref_counts: dict[Any, int] = field(default_factory=dict)   # empty when the column has many values
    cur_counts: dict[Any, int] = field(default_factory=dict)


@dataclass(frozen=True)
class StatTest:
    name: str
    title: str
    kinds: tuple[str, ...]
    default_threshold: float
    drift_when: str                       # "below", "at_or_below" (p-values) or "at_or_above" (distances)
    score: Callable[[Sample], float | None]  # None: the test cannot judge this sample (e.g. needs categories)
    statistic: str = ""                   # what `score` returns, for people: "p-value", "JS distance", "PSI"

    @property
    def is_p_value(self) -> bool:
        return self.drift_when != "at_or_above"

    @property
    def drift_rule(self) -> str:
        """Which side of the threshold means drift, as a sign: "<", "≤" or "≥"."""
        return {"below": "<", "at_or_below": "≤", "at_or_above": "≥"}[self.drift_when]

    def drifted(self, score: float, threshold: float) -> bool:
        if self.drift_when == "below":
            return score < threshold
        if self.drift_when == "at_or_below":
            return score <= threshold
        return score >= threshold


REGISTRY: dict[str, StatTest] = {}


def register(test: StatTest) -> StatTest:
    if test.name in REGISTRY:
        raise ValueError(f"A drift test named {test.name!r} is already registered.")
    if (not set(test.kinds) <= set(KINDS) or test.drift_when not in ("below", "at_or_below", "at_or_above")
            or not test.statistic):
        raise ValueError(f"Drift test {test.name!r} is malformed.")
    REGISTRY[test.name] = test
    return test


def get(name: str) -> StatTest:
    return REGISTRY[name]


# --- the statistics (pure functions of counts; equal to scipy's on the raw samples) --------------------

def ks_p_value(d: float, n1: int, n2: int) -> float:
    """The two-sided p-value `scipy.stats.ks_2samp` reports for statistic d and sizes n1, n2 (method 'auto')."""
    if n1 == 0 or n2 == 0:
        return float("nan")
    g = math.gcd(n1, n2)
    if exact_mode(n1, n2):
        try:
            from scipy.stats._stats_py import _attempt_exact_2kssamp

            ok, _d, prob = _attempt_exact_2kssamp(n1, n2, g, d, "two-sided")
            if ok:
                return float(np.clip(prob, 0, 1))
        except ImportError:  # a SciPy without the helper: fall through to the asymptotic formula, like scipy does
            pass
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    return float(np.clip(ksdist.sf(d, np.round(en)), 0, 1))


def exact_mode(n1: int, n2: int) -> bool:
    """Whether `ks_2samp` (method 'auto') uses its exact distribution for these sizes."""
    g = math.gcd(n1, n2)
    return max(n1, n2) <= 10000 and n1 // g < 2**31 / (n2 // g)


def ks_statistics(d: np.ndarray, n_ref: int, n_cur: np.ndarray) -> np.ndarray:
    """The KS statistics as `ks_2samp` reports them: in its exact mode it rounds d to the nearest multiple of
    1/lcm(n1, n2), the grid the statistic lives on, so equal fractions compare equal."""
    out = np.array(d, dtype=float)
    for i, n in enumerate(np.asarray(n_cur, dtype=np.int64)):
        if n > 0 and n_ref > 0 and not np.isnan(out[i]) and exact_mode(n_ref, int(n)):
            lcm = (n_ref // math.gcd(n_ref, int(n))) * int(n)
            out[i] = int(np.round(out[i] * lcm)) * 1.0 / lcm
    return out


def ks_p_value_array(d: np.ndarray, n_ref: int, n_cur: np.ndarray) -> list[float | None]:
    """`ks_p_value` for many windows against one reference (None where a side has no values).

    Windows that share a statistic and a size share a p-value: each distinct pair is computed once (hourly
    windows of a few rows repeat them often, and each costs scipy's exact Durbin or Pomeranz algorithm).
    """
    out: list[float | None] = [None] * len(d)
    if n_ref == 0:
        return out
    done: dict[tuple[float, int], float] = {}
    for i, (stat, n) in enumerate(zip(np.asarray(d, dtype=float), np.asarray(n_cur, dtype=np.int64))):
        if n > 0:
            key = (float(stat), int(n))
            if key not in done:
                done[key] = ks_p_value(key[0], n_ref, key[1])
            out[i] = done[key]
    return out


def psi(ref_props: np.ndarray, cur_props: np.ndarray) -> float:
    r = np.where(ref_props == 0, EMPTY, ref_props)
    c = np.where(cur_props == 0, EMPTY, cur_props)
    return float(np.sum((c - r) * np.log(c / r)))


def z_p_value(ref_counts: dict, cur_counts: dict) -> float:
    """Evidently's two-proportion z-test on the share of the first (sorted) value."""
    from scipy import stats  # imported when used: the CLI answers --help without scipy
    keys = sorted(set(ref_counts) | set(cur_counts), key=lambda k: (str(type(k)), k))
    if len(keys) == 1:
        return 1.0
    n1, n2 = sum(ref_counts.values()), sum(cur_counts.values())
    p1 = 1 - ref_counts.get(keys[0], 0) / n1
    p2 = 1 - cur_counts.get(keys[0], 0) / n2
    P = (p1 * n1 + p2 * n2) / (n1 + n2)
    if P in (0.0, 1.0):
        return 1.0 if p1 == p2 else 0.0
    z = (p1 - p2) / math.sqrt(P * (1 - P) * (1 / n1 + 1 / n2))
    return float(2 * (1 - stats.norm.cdf(abs(z))))


def chisquare_gof_p_value(ref_counts: dict, cur_counts: dict) -> float:
    """Evidently's chi-square: current counts against reference proportions scaled to the current size."""
    from scipy import stats  # imported when used: the CLI answers --help without scipy
    keys = list(set(ref_counts) | set(cur_counts))
    n_ref, n_cur = sum(ref_counts.values()), sum(cur_counts.values())
    f_exp = np.array([ref_counts.get(k, 0) * n_cur / n_ref for k in keys], dtype=float)
    f_obs = np.array([cur_counts.get(k, 0) for k in keys], dtype=float)
    if (f_exp == 0).any():  # a value the reference never had: certain drift (scipy would divide by zero)
        return 0.0
    return float(stats.chisquare(f_obs, f_exp)[1])


def homogeneity_p_value(ref_counts: dict, cur_counts: dict) -> float | None:
    """`scipy.stats.chi2_contingency(table, correction=False)` p-value of the 2×k table, written out with
    scipy.special's chi-square survival (`chi2.sf` is `chdtrc`): scipy.stats costs a process a second to import."""
    from scipy.special import chdtrc  # imported when used: the CLI answers --help without scipy

    keys = sorted(set(ref_counts) | set(cur_counts), key=str)
    table = np.array([[ref_counts.get(k, 0) for k in keys], [cur_counts.get(k, 0) for k in keys]], dtype=float)
    if table.shape[1] < 2:
        return 1.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return float(chdtrc(table.shape[1] - 1, statistic))


def js_distance(ref_counts: dict, cur_counts: dict) -> float:
    """`scipy.spatial.distance.jensenshannon` of the two proportions (natural logarithm), written out: importing
    scipy.spatial costs a drift process more than a second, the formula three lines."""
    keys = sorted(set(ref_counts) | set(cur_counts), key=str)
    p = np.array([ref_counts.get(k, 0) for k in keys], dtype=float)
    q = np.array([cur_counts.get(k, 0) for k in keys], dtype=float)
    p, q = p / p.sum(), q / q.sum()
    p, q = p / p.sum(), q / q.sum()  # jensenshannon normalises what it is given once more
    m = (p + q) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):  # rel_entr: x·ln(x/y), 0 where x = 0
        left = np.where(p > 0, p * np.log(p / m), 0.0)
        right = np.where(q > 0, q * np.log(q / m), 0.0)
    return float(np.sqrt((np.sum(left) + np.sum(right)) / 2.0))


def _with_counts(fn: Callable[[dict, dict], float]) -> Callable[[Sample], float | None]:
    return lambda s: fn(s.ref_counts, s.cur_counts) if s.ref_counts else None


# --- the registry ---------------------------------------------------------------------------------------

register(StatTest("ks", "Kolmogorov–Smirnov p-value", ("numeric",), 0.05, "at_or_below", lambda s: s.ks_p_value,
                  statistic="KS p-value"))
register(StatTest("wasserstein", "Wasserstein distance (normalised)", ("numeric",), 0.1, "at_or_above",
                  lambda s: s.wasserstein, statistic="Wasserstein distance"))
register(StatTest("psi", "Population stability index", KINDS, 0.1, "at_or_above", lambda s: s.psi,
                  statistic="PSI"))
register(StatTest("jensenshannon", "Jensen–Shannon distance", KINDS, 0.1, "at_or_above", _with_counts(js_distance),
                  statistic="JS distance"))
register(StatTest("chisquare", "chi-square p-value", KINDS, 0.05, "below", _with_counts(chisquare_gof_p_value),
                  statistic="chi-square p-value"))
register(StatTest("z", "two-proportion z-test p-value", KINDS, 0.05, "below", _with_counts(z_p_value),
                  statistic="z-test p-value"))

METHODS: tuple[str, ...] = tuple(REGISTRY)
DEFAULT_THRESHOLDS = {t.name: t.default_threshold for t in REGISTRY.values()}
P_VALUE_METHODS: tuple[str, ...] = tuple(t.name for t in REGISTRY.values() if t.is_p_value)

# Evidently's DataDriftPreset choice (`_get_default_stattest`): (reference ≤ 1,000 rows?, kind, at most N
# distinct values or None for any) → test, first match wins.
_DEFAULTS: tuple[tuple[bool, str, int | None, str], ...] = (
    (True, "numeric", 2, "z"), (True, "numeric", 5, "chisquare"), (True, "numeric", None, "ks"),
    (True, "categorical", 2, "z"), (True, "categorical", None, "chisquare"),
    (False, "numeric", 5, "jensenshannon"), (False, "numeric", None, "wasserstein"),
    (False, "categorical", None, "jensenshannon"),
)
assert all(name in REGISTRY and kind in REGISTRY[name].kinds for _s, kind, _n, name in _DEFAULTS)


def default_test(kind: str, n_ref: int, n_values: int) -> StatTest:
    small = n_ref <= 1000
    for s, k, most, name in _DEFAULTS:
        if s == small and k == kind and (most is None or n_values <= most):
            return REGISTRY[name]
    raise ValueError(f"No default drift test for a {kind} column.")


def default_method(kind: str, n_ref: int, n_values: int) -> str:
    """The name of Evidently's default test for a column (see `default_test`)."""
    return default_test(kind, n_ref, n_values).name


def verdict(method: str, score: float, threshold: float) -> bool:
    return REGISTRY[method].drifted(score, threshold)
