"""Small helpers for benchmarks: timing with medians, peak memory, a printed table."""

from __future__ import annotations

import resource
import statistics
import time
import tracemalloc
from typing import Any, Callable


def measure(fn: Callable[[], Any], repeat: int = 20, warmup: int = 2) -> dict[str, float]:
    """Median and p95 wall time in ms, and the Python-heap peak in MiB of one call."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    tracemalloc.start()
    fn()
    _cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    times.sort()
    return {"median_ms": statistics.median(times), "p95_ms": times[int(0.95 * (len(times) - 1))],
            "py_peak_mib": peak / 2**20}


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n## {title}")
    headers = list(rows[0])
    cells = [[f"{r[h]:.1f}" if isinstance(r[h], float) else str(r[h]) for h in headers] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    print("  ".join("-" * w for w in widths))
    for c in cells:
        print("  ".join(x.ljust(w) for x, w in zip(c, widths)))
