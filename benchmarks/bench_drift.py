"""Drift at scale: 1M and 10M logged rows x 23 features, a full drift computation over daily windows.

Each size runs in a fresh process (so its peak RSS is its own) on a DuckDB file written by another process:
the rows are generated inside DuckDB
(credit-like columns: 9 small integers, 14 continuous amounts; a 21,000-row reference; 30 days of
traffic with a shift from day 15) and core.drift.report computes PSI, KS (statistic and p-value),
normalised Wasserstein, chi-square and Jensen-Shannon per column and per day, plus the overall
comparison. The baseline, at 1M rows in the same run, computes the same statistics per column and day
with pandas + scipy (ks_2samp, wasserstein_distance, numpy PSI) on data fetched into pandas.
Goals: 10M rows under 30 s with peak memory under 2 GB; at least 10x faster than pandas + scipy at 1M.

Run: .venv/bin/python benchmarks/bench_drift.py [--rows 1000000 10000000] [--no-baseline]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

INTS = ["SEX", "EDUCATION", "MARRIAGE", "PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"]
FLOATS = ["LIMIT_BAL", "AGE", "BILL_AMT1", "BILL_AMT2", "BILL_AMT3", "BILL_AMT4", "BILL_AMT5", "BILL_AMT6",
          "PAY_AMT1", "PAY_AMT2", "PAY_AMT3", "PAY_AMT4", "PAY_AMT5", "PAY_AMT6"]


def _columns(shift: str) -> str:
    cols = [f"CAST(floor(random() * {k}) AS BIGINT) + {'(CASE WHEN ' + shift + ' THEN 1 ELSE 0 END)' if c == 'PAY_0' else '0'} AS {c}"
            for c, k in zip(INTS, [2, 4, 3, 9, 9, 9, 9, 9, 9])]
    cols += [f"round(exp(random() * 3 + 8) * (CASE WHEN {shift} AND '{c}' = 'LIMIT_BAL' THEN 0.8 ELSE 1 END), 0) AS {c}"
             for c in FLOATS]
    return ", ".join(cols)


def make_data(con, rows: int) -> None:
    con.execute("SELECT setseed(0.42)")
    con.execute(f"CREATE TABLE ref AS SELECT {_columns('FALSE')} FROM range(21000)")
    con.execute(f"""CREATE TABLE cur AS SELECT TIMESTAMP '2026-03-01' + to_seconds(CAST(i * (30 * 86400.0 / {rows}) AS BIGINT)) AS ts,
                    {_columns(f"i >= {rows // 2}")} FROM range({rows}) t(i)""")


def child(rows: int, baseline: bool, db: str) -> dict:
    """Generate the data into a DuckDB file in a throw-away process, then measure the drift in this one."""
    import duckdb

    from core.drift import report

    t = time.perf_counter()
    gen = subprocess.run([sys.executable, __file__, "--generate", str(rows), "--db", db], cwd=ROOT)
    if gen.returncode:
        raise SystemExit("generating the data failed")
    gen = time.perf_counter() - t
    con = duckdb.connect(db, read_only=True)
    t = time.perf_counter()
    rep = report.report(con, "ref", "cur", time_column="ts", window="day", time_sql="ts")
    took = time.perf_counter() - t
    out = {"rows": rows, "generate_s": gen, "drift_s": took, "windows": len(rep["windows"]),
           "columns": len(rep["columns"]), "dataset_drift": rep["dataset_drift"],
           "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if baseline:
        out["baseline_s"] = pandas_scipy(con)
    return out


def pandas_scipy(con) -> float:
    """The same statistics per column and day the straightforward way."""
    import numpy as np
    from scipy import stats

    t = time.perf_counter()
    ref = con.execute("SELECT * FROM ref").df()
    cur = con.execute("SELECT * FROM cur").df()
    cur["w"] = cur["ts"].dt.floor("D")
    for col in INTS + FLOATS:
        r = ref[col].dropna().to_numpy(dtype=float)
        edges = np.unique(np.quantile(r, np.linspace(0.1, 0.9, 9)))
        rb = np.bincount(np.searchsorted(edges, r), minlength=len(edges) + 1) / len(r)
        sd = max(np.std(r), 0.001)
        groups = [(None, cur[col])] + list(cur.groupby("w")[col])
        for _w, s in groups:
            c = s.dropna().to_numpy(dtype=float)
            stats.ks_2samp(r, c)
            stats.wasserstein_distance(r, c) / sd
            cb = np.bincount(np.searchsorted(edges, c), minlength=len(edges) + 1) / len(c)
            rb2, cb2 = np.where(rb == 0, 1e-4, rb), np.where(cb == 0, 1e-4, cb)
            float(np.sum((cb2 - rb2) * np.log(cb2 / rb2)))
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.generate:
        import duckdb

        con = duckdb.connect(a.db)
        make_data(con, a.generate)
        con.close()
        return
    if a.child:
        print(json.dumps(child(a.child, a.baseline, a.db)))
        return
    import tempfile

    from benchmarks.common import print_table

    results = []
    tmp = tempfile.TemporaryDirectory()
    for n in a.rows:
        db = str(Path(tmp.name) / f"logs-{n}.duckdb")
        cmd = [sys.executable, __file__, "--child", str(n), "--db", db] + (
            ["--baseline"] if n == min(a.rows) and not a.no_baseline else [])
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if out.returncode != 0:
            print(out.stderr[-2000:])
            raise SystemExit(1)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    rows = []
    for r in results:
        row = {"rows": f"{r['rows']:,}", "features": r["columns"], "daily_windows": r["windows"],
               "drift_s": r["drift_s"], "peak_rss_mib": r["peak_rss_mib"]}
        if "baseline_s" in r:
            row["pandas_scipy_s"] = r["baseline_s"]
            row["speedup"] = r["baseline_s"] / r["drift_s"]
        else:
            row["pandas_scipy_s"] = "-"
            row["speedup"] = "-"
        rows.append(row)
    print_table("Full drift computation over daily windows (core.drift.report in DuckDB, 2 cores)", rows)
    print("Goals: 10M rows < 30 s and < 2,048 MiB peak; >= 10x faster than pandas + scipy at 1M. The rows live in "
          "a DuckDB file written by another process, as the prediction logs do; peak RSS is the measuring process's "
          "(at 1M it includes the pandas baseline).")
    tmp.cleanup()


if __name__ == "__main__":
    main()
