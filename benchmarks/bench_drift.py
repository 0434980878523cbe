"""`modelgov drift` as a CI pipeline runs it: a whole process, start included, against Evidently and the old code.

Data (generated inside DuckDB, written as Parquet): credit-like columns, 9 small integers and 14 rounded
continuous amounts (23 columns); a 100,000-row reference and a 1,000,000-row current sample over 30 days with a
shift from day 15 (PAY_0 and LIMIT_BAL drift).

Each system runs in its own process, timed from start to exit (imports included), its peak RSS read from the
kernel (wait4):
- ModelGov: `python -m core.cli drift REF CUR --json` from this tree (overall; and with daily windows).
- the old baseline: the same command from another commit's `core/` (default 369bcbc, the last one before the
  fast drift path), extracted with `git archive`.
- Evidently: `Report([DataDriftPreset()]).run(reference_data, current_data)` on the same Parquet files read with
  pandas, in a Python that has Evidently (`--evidently-python`; Evidently 0.7 needs pandas < 3, so it lives in its
  own environment: `python -m venv /tmp/ev && /tmp/ev/bin/pip install evidently "pandas<3" pyarrow`).
- `--ten-million`: ModelGov alone on a 10,000,000-row current sample.
Goals (issue 15): ModelGov ≥ 20× faster than Evidently's DataDriftPreset with less memory; 10M rows < 10 s.

Run: .venv/bin/python benchmarks/bench_drift.py [--repeat 3] [--evidently-python /tmp/ev/bin/python]
                                                [--baseline-rev 369bcbc] [--ten-million]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

INTS = ["SEX", "EDUCATION", "MARRIAGE", "PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"]
FLOATS = ["LIMIT_BAL", "AGE", "BILL_AMT1", "BILL_AMT2", "BILL_AMT3", "BILL_AMT4", "BILL_AMT5", "BILL_AMT6",
          "PAY_AMT1", "PAY_AMT2", "PAY_AMT3", "PAY_AMT4", "PAY_AMT5", "PAY_AMT6"]
REF_ROWS, CUR_ROWS = 100_000, 1_000_000

EVIDENTLY = """
import sys
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
ref = pd.read_parquet(sys.argv[1])
cur = pd.read_parquet(sys.argv[2])[list(ref.columns)]
snapshot = Report([DataDriftPreset()]).run(reference_data=ref, current_data=cur)
drifted = snapshot.dict()["metrics"][0]["value"]
print(int(drifted["count"]), "columns drifted")
"""


def _columns(shift: str) -> str:
    cols = [f"CAST(floor(random() * {k}) AS BIGINT) + {'(CASE WHEN ' + shift + ' THEN 1 ELSE 0 END)' if c == 'PAY_0' else '0'} AS {c}"
            for c, k in zip(INTS, [2, 4, 3, 9, 9, 9, 9, 9, 9])]
    cols += [f"round(exp(random() * 3 + 8) * (CASE WHEN {shift} AND '{c}' = 'LIMIT_BAL' THEN 0.8 ELSE 1 END), 0) AS {c}"
             for c in FLOATS]
    return ", ".join(cols)


def make_files(folder: Path, cur_rows: int, ref_rows: int = REF_ROWS) -> tuple[Path, Path]:
    import duckdb

    ref, cur = folder / "reference.parquet", folder / f"current-{cur_rows}.parquet"
    con = duckdb.connect()
    con.execute("SELECT setseed(0.42)")
    if not ref.exists():
        con.execute(f"COPY (SELECT {_columns('FALSE')} FROM range({ref_rows})) TO '{ref}'")
    con.execute(f"""COPY (SELECT TIMESTAMP '2026-03-01' + to_seconds(CAST(i * (30 * 86400.0 / {cur_rows}) AS BIGINT)) AS ts,
                    {_columns(f"i >= {cur_rows // 2}")} FROM range({cur_rows}) t(i)) TO '{cur}'""")
    con.close()
    return ref, cur


def measure(cmd: list[str], cwd: Path, repeat: int) -> dict:
    """Min and max wall time, CPU seconds and the largest peak RSS over `repeat` runs (each a fresh process)."""
    walls, cpus, rss = [], [], []
    for _ in range(repeat):
        with tempfile.TemporaryFile() as errf:
            t = time.perf_counter()
            proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=errf)
            _pid, status, usage = os.wait4(proc.pid, 0)  # the child's own rusage: its peak RSS and CPU time
            walls.append(time.perf_counter() - t)
            proc.returncode = code = os.waitstatus_to_exitcode(status)
            errf.seek(0)
            err = errf.read().decode(errors="replace")
        if code not in (0, 1):  # 1: drift found (--fail-on-drift is not passed, but be lenient)
            raise SystemExit(f"{' '.join(cmd)} failed ({code}):\n{err[-2000:]}")
        cpus.append(usage.ru_utime + usage.ru_stime)
        rss.append(usage.ru_maxrss / 1024)
    return {"min_s": min(walls), "median_s": statistics.median(walls), "max_s": max(walls),
            "cpu_s": statistics.median(cpus), "peak_rss_mib": max(rss)}


def old_tree(rev: str, folder: Path) -> Path:
    """`core/` of commit `rev`, extracted next to nothing else: the old `modelgov` as it was."""
    dest = folder / f"old-{rev}"
    dest.mkdir()
    archive = subprocess.run(["git", "archive", rev, "core"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def row(name: str, m: dict, reference: dict | None) -> dict:
    out = {"process": name, "wall_s (min-max)": f"{m['min_s']:.2f}-{m['max_s']:.2f}", "median_s": m["median_s"],
           "cpu_s": m["cpu_s"], "peak_rss_mib": m["peak_rss_mib"]}
    out["modelgov_faster"] = f"{m['median_s'] / reference['median_s']:.1f}x" if reference else "-"
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3, help="runs per process (min, median and max are printed)")
    ap.add_argument("--evidently-python", default=os.environ.get("MODELGOV_BENCH_EVIDENTLY"),
                    help="a Python with evidently installed (default $MODELGOV_BENCH_EVIDENTLY; skipped without)")
    ap.add_argument("--evidently-repeat", type=int, default=1)
    ap.add_argument("--baseline-rev", default="369bcbc", help="the commit whose core/ is the old baseline")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--ten-million", action="store_true", help="also run ModelGov on 10,000,000 current rows")
    ap.add_argument("--data", help="a folder for the generated files (kept; default a temporary one)")
    a = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)

    from benchmarks.common import print_table

    tmp = tempfile.TemporaryDirectory()
    folder = Path(a.data) if a.data else Path(tmp.name)
    folder.mkdir(parents=True, exist_ok=True)
    ref, cur = (folder / "reference.parquet", folder / f"current-{CUR_ROWS}.parquet")
    if not cur.exists():
        make_files(folder, CUR_ROWS)
    py = sys.executable
    drift = ["-m", "core.cli", "drift", str(ref), str(cur), "--json"]
    daily = drift + ["--time-column", "ts", "--window", "day"]
    results: list[tuple[str, dict]] = []
    new = measure([py] + drift, ROOT, a.repeat)
    results.append(("modelgov drift (this tree)", new))
    # What a process pays before any drift: Python, the CLI's imports and argument parsing.
    results.append(("  of which start: modelgov --help", measure([py, "-m", "core.cli", "--help"], ROOT, a.repeat)))
    new_daily = measure([py] + daily, ROOT, a.repeat)
    old = old_daily = None
    if not a.no_baseline:
        tree = old_tree(a.baseline_rev, Path(tmp.name))
        old = measure([py] + drift, tree, a.repeat)
        results.append((f"modelgov drift (old, {a.baseline_rev})", old))
    ev = None
    if a.evidently_python and Path(a.evidently_python).exists():
        script = Path(tmp.name) / "evidently_drift.py"
        script.write_text(EVIDENTLY)
        ev = measure([a.evidently_python, str(script), str(ref), str(cur)], ROOT, a.evidently_repeat)
        results.append(("Evidently DataDriftPreset", ev))
    else:
        print("(Evidently skipped: pass --evidently-python or set MODELGOV_BENCH_EVIDENTLY)")
    rows = [row(name, m, new if m is not new and not name.startswith("  ") else None) for name, m in results]
    print_table(f"Drift of {CUR_ROWS:,} current vs {REF_ROWS:,} reference rows x 23 columns, whole process "
                f"({a.repeat} runs each; 2 cores)", rows)
    if ev:
        print(f"ModelGov vs Evidently: {ev['median_s'] / new['median_s']:.1f}x faster (median wall), "
              f"{ev['cpu_s'] / new['cpu_s']:.1f}x less CPU time, {ev['peak_rss_mib'] / new['peak_rss_mib']:.1f}x less "
              "peak memory. Goal: >= 20x, less memory. (On a shared machine the wall ratio moves with the load "
              "each process met; the CPU ratio much less.)")
    if old:
        print(f"ModelGov vs the old baseline: {old['median_s'] / new['median_s']:.1f}x faster.")
    windowed = [row("modelgov drift --window day (this tree)", new_daily, None)]
    if not a.no_baseline:
        old_daily = measure([py] + daily, tree, a.repeat)
        windowed.append(row(f"modelgov drift --window day (old, {a.baseline_rev})", old_daily, new_daily))
    print_table("The same with 30 daily windows (--time-column ts --window day)", windowed)
    if a.ten_million:
        big_cur = folder / "current-10000000.parquet"
        if not big_cur.exists():
            make_files(folder, 10_000_000)
        big = measure([py, "-m", "core.cli", "drift", str(ref), str(big_cur), "--json"], ROOT, 1)
        print_table("10,000,000 current rows vs 100,000 reference rows x 23 columns, whole process",
                    [row("modelgov drift (this tree)", big, None)])
        print(f"Goal: 10M rows under 10 s: {big['median_s']:.1f} s.")
    tmp.cleanup()


if __name__ == "__main__":
    main()
