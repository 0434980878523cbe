"""Exact two-sample statistics from value counts, for many windows at once.

DuckDB reduces each column to counts per (window, value); this module turns those counts into, per window, the
exact Kolmogorov–Smirnov statistic (equal to `scipy.stats.ks_2samp`), the Wasserstein distance (equal to
`scipy.stats.wasserstein_distance` up to rounding), PSI bin counts, the number of distinct values of both samples
together, and the out-of-range count. Every window is handled by the same vectorised numpy calls, so the cost
grows with the number of distinct (window, value) pairs, not with windows × reference values.

Why it is exact: both empirical CDFs are step functions. Between two consecutive current values the current CDF is
constant and the reference CDF is monotone, so |F_cur − F_ref| over that stretch is largest at one of its ends:
at the current value itself, or just before the next one (the last reference value below it). Evaluating those
two points per current value, with F_ref read by binary search in the reference's cumulative counts, visits every
point `ks_2samp` evaluates (the union of both samples) or one with the same value, and the counts are the same
integers divided the same way. The Wasserstein integral on each stretch is split where F_ref crosses the current
level, using prefix integrals of F_ref kept in extended precision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DECILES = np.linspace(0.1, 0.9, 9)


@dataclass
class Reference:
    """One reference column as sorted distinct values with counts, and what every window compares against."""

    values: np.ndarray        # sorted distinct finite-or-infinite values (NaN and NULL left out)
    counts: np.ndarray        # int64, same length
    rows: int                 # every row, missing included
    n: int                    # rows with a value
    cum: np.ndarray           # cumulative counts (int64)
    edges: np.ndarray         # PSI bin edges: the distinct deciles, right-closed bins
    std: float | None         # population standard deviation (np.std), None without values
    lo: float                 # smallest and largest value (0.0 without values), for out-of-range counts
    hi: float
    finite: bool              # no infinity among the values
    _prefix: tuple[np.ndarray, ...] | None = None   # see `prefix`, made on first use

    @classmethod
    def from_counts(cls, values: np.ndarray, counts: np.ndarray, rows: int) -> "Reference":
        keep = ~np.isnan(values)
        values, counts = values[keep], counts[keep].astype(np.int64)
        order = np.argsort(values)
        values, counts = values[order], counts[order]
        cum = np.cumsum(counts)
        n = int(cum[-1]) if len(cum) else 0
        finite = bool(np.isfinite(values).all())
        if n:
            edges = np.unique(quantiles(values, cum, DECILES))
            mean = float(np.sum(values * counts) / n) if finite else float("nan")
            std = float(np.sqrt(np.sum(counts * (values - mean) ** 2) / n)) if finite else float("nan")
            lo, hi = float(values[0]), float(values[-1])
        else:
            edges, std, lo, hi = np.array([]), None, 0.0, 0.0
        return cls(values, counts, int(rows), n, cum, edges, std, lo, hi, finite)

    def bins(self) -> np.ndarray:
        return np.bincount(np.searchsorted(self.edges, self.values, side="left"), weights=self.counts,
                           minlength=len(self.edges) + 1)

    def prefix(self) -> tuple[np.ndarray, ...]:
        """Index k + 1 holds, for the k-th value: ∫ F_ref from the smallest value up to it (as a float64 pair
        hi + lo of a long-double running sum), F_ref there, and the value; index 0 stands for "below every value".

        The Wasserstein sums subtract two of these integrals; keeping the low part makes that difference as
        precise as the stretch it measures, whatever the values' offset and range.
        """
        if self._prefix is None:
            p = self.cum / self.n
            steps = p[:-1].astype(np.longdouble) * np.diff(self.values).astype(np.longdouble)
            s = np.concatenate([np.zeros(2, dtype=np.longdouble), np.cumsum(steps)])
            hi = s.astype(np.float64)
            lo = (s - hi.astype(np.longdouble)).astype(np.float64)
            self._prefix = (hi, lo, np.r_[0.0, p], np.r_[0.0, self.values])
        return self._prefix


def quantiles(values: np.ndarray, cum: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """`np.quantile(sample, qs)` (method 'linear') of the sample the sorted distinct values and cumulative counts
    describe, without expanding it."""
    n = int(cum[-1])
    virtual = (n - 1) * qs
    prev = np.floor(virtual)
    gamma = virtual - prev
    prev_i = prev.astype(np.int64)
    next_i = np.minimum(prev_i + 1, n - 1)
    a = values[np.searchsorted(cum, prev_i, side="right")]
    b = values[np.searchsorted(cum, next_i, side="right")]
    diff = b - a
    return np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)


@dataclass
class Windows:
    """Per window (index 0 … W−1): counts and statistics against one reference."""

    n: np.ndarray             # rows with a value
    ks: np.ndarray            # exact KS statistic (NaN without rows)
    wd: np.ndarray            # Wasserstein distance (not normalised; NaN with an infinity on either side)
    n_values: np.ndarray      # distinct values of reference and window together
    out_of_range: np.ndarray
    bins: np.ndarray          # W × (len(edges) + 1) PSI bin counts


def compare(ref: Reference, w: np.ndarray, x: np.ndarray, c: np.ndarray, n_windows: int) -> Windows:
    """Statistics of every window against `ref`.

    w, x, c: window index, value and count of each distinct (window, value) pair with a value (no NaN), in any
    order. Windows without rows get n = 0 and NaN statistics.
    """
    order = np.argsort(x)
    if n_windows > 1:  # then by window, stably: a radix sort on small integers (lexsort is several times slower)
        small = np.uint16 if n_windows < 2**16 else np.uint32
        order = order[np.argsort(w[order].astype(small), kind="stable")]
    w, x, c = w[order], x[order], c[order].astype(np.int64)
    W = n_windows
    nb = len(ref.edges) + 1
    n = np.bincount(w, weights=c, minlength=W).astype(np.int64)
    ks = np.full(W, np.nan)
    wd = np.full(W, np.nan)
    n_values = np.full(W, len(ref.values), dtype=np.int64)
    if len(x) == 0:
        return Windows(n, ks, wd, n_values, np.zeros(W, dtype=np.int64), np.zeros((W, nb)))
    starts = np.flatnonzero(np.r_[True, w[1:] != w[:-1]])
    present = w[starts]
    # Cumulative current counts within each window: C_i (≤ x_i) and C_i − c_i (< x_i).
    cs = np.cumsum(c)
    c_le = cs - np.repeat(cs[starts] - c[starts], np.diff(np.r_[starts, len(x)]))
    c_lt = c_le - c
    nc = n[w]
    bins = np.bincount(w * nb + np.searchsorted(ref.edges, x, side="left"), weights=c,
                       minlength=W * nb).reshape(W, nb)
    oor = np.bincount(w, weights=c * ((x < ref.lo) | (x > ref.hi)), minlength=W).astype(np.int64)
    if ref.n == 0:
        n_values = np.bincount(w, minlength=W).astype(np.int64)
        return Windows(n, ks, wd, n_values, oor, bins)
    j_le = np.searchsorted(ref.values, x, side="right")
    j_lt = np.searchsorted(ref.values, x, side="left")
    cum0 = np.r_[np.int64(0), ref.cum]
    # The same integers divided the same way as ks_2samp's searchsorted(...) / n.
    f_cur, f_ref = c_le / nc, cum0[j_le] / ref.n
    term = np.maximum(np.abs(f_cur - f_ref), np.abs(c_lt / nc - cum0[j_lt] / ref.n))
    ks[present] = np.maximum.reduceat(term, starts)
    n_values += np.bincount(w, weights=(j_le == j_lt), minlength=W).astype(np.int64)
    if ref.finite:  # an infinite reference value leaves no finite distance (scipy gives NaN or ∞)
        wd[present] = _wasserstein(ref, x, j_le, f_cur, starts)
    return Windows(n, ks, wd, n_values, oor, bins)


def _wasserstein(ref: Reference, x: np.ndarray, j_le: np.ndarray, a: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """∫ |F_cur − F_ref| per window: x sorted within windows, starts = each window's first row, j_le = reference
    values ≤ x, a = F_cur at x.

    On [x_i, x_next) F_cur is the constant a; F_ref is below a up to the first reference value m whose share
    reaches a, and at or above it after, so the integral is a·(m − x_i) − ∫F_ref + ∫F_ref − a·(x_next − m), each
    ∫F_ref the difference of two prefix integrals.
    """
    hi, lo, p, r = ref.prefix()
    ends = np.r_[starts[1:], len(x)] - 1
    finite = np.isfinite(x)
    bad = np.zeros(len(starts), dtype=bool)
    if not finite.all():  # scipy's sum meets ∞ − ∞ or ∞ · 0: no finite distance
        bad[np.searchsorted(starts, np.flatnonzero(~finite), side="right") - 1] = True
        x = np.where(finite, x, 0.0)
    last = np.zeros(len(x), dtype=bool)
    last[ends] = True
    e = np.where(last, x, np.r_[x[1:], 0.0])        # the next value in the same window (x itself at the end)
    k_s = j_le                                       # prefix index of x (0: below every reference value)
    k_e = np.where(last, k_s, np.r_[k_s[1:], 0])
    q = np.searchsorted(p[1:], a, side="left")       # first reference value whose share is ≥ a
    cross = np.where(q < len(r) - 1, r[np.minimum(q + 1, len(r) - 1)], np.inf)
    m = np.minimum(np.maximum(cross, x), e)
    k_m = np.where(m == x, k_s, np.where(m == e, k_e, q + 1))

    def between(t1, k1, t0, k0):  # ∫ F_ref from t0 to t1
        return (hi[k1] - hi[k0]) + (lo[k1] - lo[k0]) + (p[k1] * (t1 - r[k1]) - p[k0] * (t0 - r[k0]))

    mid = a * (m - x) - between(m, k_m, x, k_s) + between(e, k_e, m, k_m) - a * (e - m)
    first, t, k_t = starts, x[ends], k_s[ends]
    head = hi[k_s[first]] + lo[k_s[first]] + p[k_s[first]] * (x[first] - r[k_s[first]])
    top = np.maximum(r[-1], t)
    k_top = np.where(top == t, k_t, len(r) - 1)
    tail = (top - t) - between(top, k_top, t, k_t)
    out = np.add.reduceat(mid, starts) + head + tail
    out[bad] = np.nan
    return out
