"""What the model-file checks cost: store loads in-process, files handed in through the child process.

For the demo's model shapes (histogram gradient boosting with 250 iterations,
a 200-tree random forest, a one-hot + logistic pipeline) plus a k-NN on a
KD-tree and an SVM, prints the median time of

- skops alone (`skops.io.loads` trusting what the file names: the old rule's cost, the baseline),
- `safe_load.load_skops` (the reviewed-list audit, skops, the structural checks): every store load,
- `safe_load.validate` alone,

and, for `artifacts.read_model_file` on a skops and a joblib file, the wall time
and the CPU time of the parent and of the child (process start, imports,
checks, and the parent's second check). Times are CPU time (process_time)
unless named wall: this machine is shared, and CPU time is what the checks
cost, whoever else is running. Goal: store loads within 10% (or 20 ms) of
skops alone; a handed-in file in seconds.

Run: .venv/bin/python benchmarks/bench_model_loading.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import joblib  # noqa: E402
import skops.io as sio  # noqa: E402

from benchmarks.common import print_table  # noqa: E402
from core import demo  # noqa: E402
from core.registry import artifacts, safe_load  # noqa: E402


def models() -> dict[str, object]:
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    train, _test = demo.credit_split()
    features = [c for c in train.columns if c != "default"]
    X, y = train[features], train["default"]
    small = train.sample(3000, random_state=0)
    from sklearn.ensemble import RandomForestRegressor

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "HGB, 250 iterations (demo v1)": demo.credit_champion().fit(X, y),
            "one-hot + logistic (demo v2)": demo.credit_challenger(features).fit(X, y),
            "random forest, 200 trees": RandomForestRegressor(200, max_depth=6, n_jobs=1, random_state=0).fit(
                X, train["LIMIT_BAL"]),
            "k-NN on a KD-tree": KNeighborsClassifier().fit(small[features[:5]], small["default"]),
            "SVC, 3,000 rows": make_pipeline(StandardScaler(), SVC()).fit(small[features], small["default"]),
        }


def cpu_ms(fn, repeat: int) -> float:
    """Median CPU milliseconds of `fn` (one warm-up call first)."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.process_time()
        fn()
        times.append((time.process_time() - t) * 1000)
    return statistics.median(times)


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows, handed = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, est in models().items():
            data = artifacts.serialise(est)
            trusted = sio.get_untrusted_types(data=data)
            base = cpu_ms(lambda: sio.loads(data, trusted=trusted), args.repeat)
            checked = cpu_ms(lambda: safe_load.load_skops(data, "m"), args.repeat)
            obj = sio.loads(data, trusted=trusted)
            checks = cpu_ms(lambda: safe_load.validate(obj, "m"), args.repeat)
            rows.append({"model": name, "size_kib": len(data) / 1024, "skops_ms": base, "checked_ms": checked,
                         "of_which_validate_ms": checks, "overhead": f"{(checked / base - 1) * 100:+.0f}%"})
            for kind in ("skops", "joblib"):
                path = Path(tmp) / f"model.{kind}"
                sio.dump(est, path) if kind == "skops" else joblib.dump(est, path)
                wall, cpu, child = time.perf_counter(), time.process_time(), children_cpu_s()
                artifacts.read_model_file(path, allow_pickle=True)
                handed.append({"model": name, "file": kind, "wall_s": time.perf_counter() - wall,
                               "parent_cpu_s": time.process_time() - cpu, "child_cpu_s": children_cpu_s() - child})
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print_table("Store load, CPU ms: skops alone vs reviewed list + skops + structural checks (median)", rows)
    print_table("A file handed in: child process with limits, then checked again (one run)", handed)


if __name__ == "__main__":
    main()
