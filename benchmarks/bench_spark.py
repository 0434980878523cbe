"""Drift of a large current sample on Spark (`local[1]`, `local[2]`) against DuckDB, in the same run.

Data (generated once inside DuckDB, written as Parquet into a temp folder; `--folder` keeps it between runs): the
credit-like columns of bench_drift.py (9 small integers and 14 rounded amounts: 23 features), a 100,000-row reference
and a current sample of 10,000,000 (and with `--fifty-million` 50,000,000) rows over 30 days with a shift from day 15.

Each engine runs `files_report(REF, CUR, id_column="ts")` (what `modelgov drift REF CUR --id-column ts --engine E`
does: the overall comparison a CI gate makes; `--windows` adds 30 daily windows) in its own process. Printed per engine: the whole process (start, JVM start and imports included), the
report alone, and peak memory (driver = the Python process's VmHWM; JVM = the Java process's VmHWM, read before it
exits), each as min-max over `--repeat` runs; and that Spark's report equals DuckDB's to 1e-9.

Run: .venv/bin/python benchmarks/bench_spark.py [--repeat 2] [--fifty-million] [--folder /tmp/bench-spark] [--windows]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, os, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
from core.drift.report import files_report
from core import engine
mode, ref, cur, out = sys.argv[2:6]
jvm_pid = None
if mode != "duckdb":
    engine.spark_session(master=mode)  # started here so that the report's time is the report's
    jvm_pid = engine._session._jvm.java.lang.ProcessHandle.current().pid()
t1 = time.perf_counter()
windows = sys.argv[6] == "1"
rep = files_report(ref, cur, time_column="ts" if windows else None, id_column=None if windows else "ts",
                   engine="duckdb" if mode == "duckdb" else "spark")
t2 = time.perf_counter()

def hwm(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

json.dump(rep, open(out, "w"))
print(json.dumps({"report_s": t2 - t1, "start_s": t1 - t0, "driver_mb": hwm("self"),
                  "jvm_mb": hwm(jvm_pid) if jvm_pid else None}))
"""


def run(mode: str, ref: Path, cur: Path, out: Path, windows: bool) -> dict:
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), mode, str(ref), str(cur), str(out), str(int(windows))],
                       capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode:
        raise SystemExit(f"{mode} failed:\n{p.stderr[-3000:]}")
    m = json.loads(p.stdout.strip().splitlines()[-1])
    return m | {"wall_s": wall}


def same(a, b, path="") -> str | None:
    import math

    if isinstance(a, dict):
        if set(a) != set(b):
            return f"{path}: keys differ"
        return next((d for k in a if (d := same(a[k], b[k], f"{path}/{k}"))), None)
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: lengths differ"
        return next((d for i, (x, y) in enumerate(zip(a, b)) if (d := same(x, y, f"{path}[{i}]"))), None)
    if isinstance(a, float) and isinstance(b, float):
        ok = (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-9 * max(1.0, abs(a))
        return None if ok else f"{path}: {a} vs {b}"
    return None if a == b else f"{path}: {a!r} vs {b!r}"


def span(values: list[float], fmt: str = "{:.1f}") -> str:
    lo, hi = min(values), max(values)
    return fmt.format(lo) if fmt.format(lo) == fmt.format(hi) else f"{fmt.format(lo)}-{fmt.format(hi)}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--fifty-million", action="store_true")
    ap.add_argument("--rows", help="comma-separated row counts to run instead (e.g. 50000000 for 50M alone)")
    ap.add_argument("--folder", help="keep the generated Parquet here (default: a temp folder, removed)")
    ap.add_argument("--modes", default="duckdb,local[1],local[2]")
    ap.add_argument("--windows", action="store_true",
                    help="30 daily windows (--time-column ts): the counts then number windows x distinct values, and "
                         "the statistics in numpy (the same for every engine) take most of the time")
    args = ap.parse_args()
    from benchmarks.bench_drift import make_files

    holder = None if args.folder else tempfile.TemporaryDirectory(prefix="bench-spark-")
    folder = Path(args.folder or holder.name)
    folder.mkdir(parents=True, exist_ok=True)
    sizes = ([int(r) for r in args.rows.split(",")] if args.rows
             else [10_000_000] + ([50_000_000] if args.fifty_million else []))
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cores")
    print(f"{'rows':>12}  {'engine':<9} {'process s':>12} {'report s':>12} {'driver MB':>10} {'JVM MB':>10}  same")
    for rows in sizes:
        cur = folder / f"current-{rows}.parquet"
        ref = folder / "reference.parquet"
        if not cur.exists():
            t = time.perf_counter()
            make_files(folder, rows)
            print(f"(generated {rows:,} rows in {time.perf_counter() - t:.0f} s: {cur.stat().st_size / 2**20:.0f} MB)")
        reports = {}
        for mode in args.modes.split(","):
            ms = []
            for i in range(args.repeat):
                ms.append(run(mode, ref, cur, folder / f"report-{mode}.json", args.windows))
            reports[mode] = json.loads((folder / f"report-{mode}.json").read_text())
            diff = same(reports["duckdb"], reports[mode]) if "duckdb" in reports else "no duckdb run"
            jvm = [m["jvm_mb"] for m in ms if m["jvm_mb"]]
            print(f"{rows:>12,}  {mode:<9} {span([m['wall_s'] for m in ms]):>12} {span([m['report_s'] for m in ms]):>12}"
                  f" {span([m['driver_mb'] for m in ms], '{:.0f}'):>10} {span(jvm, '{:.0f}') if jvm else '-':>10}  "
                  f"{'yes' if diff is None else diff}", flush=True)
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    if holder:
        holder.cleanup()


if __name__ == "__main__":
    main()
