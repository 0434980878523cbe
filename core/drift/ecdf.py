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
    _prefix: np.ndarray | None = None   # ∫ F_ref up to each value (long double), made on first use

    @classmethod
    def from_counts(cls, values: np.ndarray, counts: np.ndarray, rows: int) -> "Reference":
        keep = ~np.isnan(values)
        values, counts = values[keep], counts[keep].astype(np.int64)
        order = np.argsort(values, kind="stable")
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

    def prefix(self) -> np.ndarray:
        """S[k] = ∫ F_ref from the smallest value to values[k], in long double (the Wasserstein sums subtract
        these, so the extra bits keep the result equal to scipy's positive-term sum)."""
        if self._prefix is None:
            p = (self.cum / self.n).astype(np.longdouble)
            steps = p[:-1] * np.diff(self.values.astype(np.longdouble))
            self._prefix = np.concatenate([np.zeros(1, dtype=np.longdouble), np.cumsum(steps)])
        return self._prefix

    def integral(self, t: np.ndarray) -> np.ndarray:
        """∫ F_ref from −∞ to each t (long double)."""
        k = np.searchsorted(self.values, t, side="right") - 1
        kk = np.maximum(k, 0)
        p = (self.cum[kk] / self.n).astype(np.longdouble)
        s = self.prefix()[kk] + p * (t.astype(np.longdouble) - self.values[kk].astype(np.longdouble))
        return np.where(k < 0, np.longdouble(0), s)


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
    order = np.lexsort((x, w))
    w, x, c = w[order], x[order], c[order].astype(np.int64)
    W = n_windows
    nb = len(ref.edges) + 1
    n = np.bincount(w, weights=c, minlength=W).astype(np.int64)
    ks = np.full(W, np.nan)
    wd = np.full(W, np.nan)
    n_values = np.full(W, len(ref.values), dtype=np.int64)
    oor = np.zeros(W, dtype=np.int64)
    bins = np.zeros((W, nb))
    if len(x) == 0:
        return Windows(n, ks, wd, n_values, oor, bins)
    starts = np.flatnonzero(np.r_[True, w[1:] != w[:-1]])
    present = w[starts]
    # Cumulative current counts within each window: C_i (≤ x_i) and C_i − c_i (< x_i).
    cs = np.cumsum(c)
    base = (cs[starts] - c[starts])
    c_le = cs - np.repeat(base, np.diff(np.r_[starts, len(x)]))
    c_lt = c_le - c
    nc = n[w]
    bins = np.bincount(w * nb + np.searchsorted(ref.edges, x, side="left"), weights=c,
                       minlength=W * nb).reshape(W, nb)
    outside = (x < ref.lo) | (x > ref.hi)
    oor = np.bincount(w, weights=c * outside, minlength=W).astype(np.int64)
    if ref.n == 0:
        n_values = np.bincount(w, minlength=W).astype(np.int64)
        return Windows(n, ks, wd, n_values, oor, bins)
    j_le = np.searchsorted(ref.values, x, side="right")
    j_lt = np.searchsorted(ref.values, x, side="left")
    cum0 = np.r_[np.int64(0), ref.cum]
    r_le, r_lt = cum0[j_le], cum0[j_lt]
    # The same integers divided the same way as ks_2samp's searchsorted(...) / n.
    term = np.maximum(np.abs(c_le / nc - r_le / ref.n), np.abs(c_lt / nc - r_lt / ref.n))
    ks[present] = np.maximum.reduceat(term, starts)
    n_values += np.bincount(w, weights=(j_le == j_lt), minlength=W).astype(np.int64)
    if ref.finite:  # an infinite reference value leaves no finite distance (scipy gives NaN or ∞)
        wd[present] = _wasserstein(ref, x, c_le, nc, starts)
    return Windows(n, ks, wd, n_values, oor, bins)


def _wasserstein(ref: Reference, x: np.ndarray, c_le: np.ndarray, nc: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """∫ |F_cur − F_ref| per window; x sorted within windows, starts = each window's first row."""
    ends = np.r_[starts[1:], len(x)] - 1
    finite = np.isfinite(x)
    if not finite.all():  # scipy's sum meets ∞ − ∞ or ∞ · 0: NaN or ∞; drift reads it as no finite distance
        bad = np.bincount(np.searchsorted(starts, np.flatnonzero(~finite), side="right") - 1, minlength=len(starts))
    else:
        bad = np.zeros(len(starts), dtype=np.int64)
    xs = np.where(finite, x, 0.0)
    L = np.longdouble
    r_hi = L(ref.values[-1])
    a = (c_le / nc).astype(L)             # F_cur on [x_i, x_{i+1})
    s = xs.astype(L)
    e = np.r_[xs[1:], 0.0].astype(L)      # next value in the same window (ignored at each window's end)
    last = np.zeros(len(x), dtype=bool)
    last[ends] = True
    e = np.where(last, s, e)
    # Where F_ref reaches the level a: the first reference value whose cumulative share is ≥ a.
    q = np.searchsorted(ref.cum / ref.n, c_le / nc, side="left")
    cross = np.where(q < len(ref.values), ref.values[np.minimum(q, len(ref.values) - 1)], np.inf).astype(L)
    m = np.minimum(np.maximum(cross, s), e)
    S_s, S_m, S_e = ref.integral(s), ref.integral(m), ref.integral(e)
    mid = a * (m - s) - (S_m - S_s) + (S_e - S_m) - a * (e - m)
    # Before each window's first value F_cur = 0; after its last F_cur = 1.
    head = ref.integral(s[starts])
    t = s[ends]
    top = np.maximum(r_hi, t)
    tail = (top - t) - (ref.integral(top) - ref.integral(t))
    per = np.add.reduceat(mid, starts) + head + tail
    out = per.astype(np.float64)
    out[bad > 0] = np.nan
    return out
