"""Benchmark: paired bootstrap of champion vs challenger, 1,000 replicates on 100,000 rows.

Goal: under 10 s on 2 cores for the whole comparison. Baseline in the same run: the naive
loop (scikit-learn metrics of both models on each resampled frame, via core.metrics), timed
on fewer replicates and extrapolated linearly (each replicate costs the same).

    /work/main/.venv/bin/python benchmarks/bench_compare.py [--rows 100000] [--replicates 1000]
                                                           [--baseline-replicates 20]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.compare import paired, scores
from core.metrics import binary_metrics  # noqa: E402


def data(n: int, seed: int = 0):
    """Realistic scores: probabilities from two correlated logistic models, the challenger rounded (ties)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.22).astype(int)
    z = rng.normal(size=n)
    a = 1 / (1 + np.exp(-(-1.6 + 1.3 * y + 0.9 * z)))
    b = 1 / (1 + np.exp(-(-1.6 + 1.4 * y + 0.8 * z + 0.4 * rng.normal(size=n))))
    return y, a, np.round(b, 4)


def measure(fn):
    tracemalloc.start()
    t = time.perf_counter()
    out = fn()
    elapsed = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, elapsed, peak


def naive(y, a, b, replicates: int, seed: int):
    """The obvious loop: draw the same indices, call scikit-learn for both models per replicate."""
    out = []
    for _, idx in paired.bootstrap_indices(len(y), replicates, seed):
        for i in idx:
            out.append((binary_metrics(y[i], a[i]), binary_metrics(y[i], b[i])))
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--replicates", type=int, default=1000)
    p.add_argument("--baseline-replicates", type=int, default=20)
    args = p.parse_args()
    y, a, b = data(args.rows)
    n, B, nb = args.rows, args.replicates, args.baseline_replicates

    boot, t_boot, m_boot = measure(lambda: paired.paired_bootstrap(
        y, a, b, task="binary_classification", replicates=B, seed=1))
    full, t_full, m_full = measure(lambda: scores.compare_scores(
        y, a, b, task="binary_classification", bootstrap=B, seed=1))
    ref, t_naive, m_naive = measure(lambda: naive(y, a, b, nb, 1))

    # The vectorised replicates equal scikit-learn's on the same resamples.
    worst = max(abs(ref[r][side][m] - getattr(boot, name)[m][r])
                for r in range(nb) for side, name in ((0, "champion"), (1, "challenger")) for m in ref[r][side])
    per_naive = t_naive / nb
    rows = [
        ("paired bootstrap, 5 metrics x 2 models (vectorised)", B, t_boot, m_boot),
        ("whole comparison (bootstrap + DeLong + McNemar + curves)", B, t_full, m_full),
        (f"naive loop, sklearn per replicate (measured on {nb})", nb, t_naive, m_naive),
        (f"naive loop extrapolated to {B} replicates", B, per_naive * B, m_naive),
    ]
    print(f"rows={n:,}  replicates={B:,}  cpus={os.cpu_count()}  "
          f"numpy={np.__version__}  max |vectorised - sklearn| over {nb} replicates = {worst:.2e}")
    print(f"{'what':62} {'replicates':>10} {'time s':>9} {'peak MiB':>9}")
    for what, reps, t, mem in rows:
        print(f"{what:62} {reps:>10,} {t:>9.2f} {mem / 2**20:>9.1f}")
    print(f"speed-up over the naive loop: {per_naive * B / t_boot:.0f}x; goal (< 10 s whole comparison): "
          f"{'met' if t_full < 10 else 'NOT met'}")
    print(f"process max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
