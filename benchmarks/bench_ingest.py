"""Ingesting 1M logged predictions: `modelgov log-predictions` on a CSV and on a Parquet file of 1,000,000 rows
x 23 credit-default inputs (1% of the rows malformed on purpose, so rejection is part of the work), next to a
baseline measured in the same run: pandas reading the same CSV and checking the types row by row
(pd.to_numeric with errors='coerce'), without writing anything. Goal: seconds, not minutes.

The rows go to production, so each ingest is followed by the refresh of the version's monitoring snapshot (the
review the Monitoring page reads, over every row logged so far): its time is printed apart ("snapshot s") and is
part of "seconds"; "ingest s" is the ingest alone.

With `--postgres` the same files are also ingested into a store whose metadata is on PostgreSQL (the demo store
moved there with `store copy`; `MODELGOV_BENCH_DATABASE_URL` or a throwaway local cluster, tests/pgserver.py), side
by side: the rows go to Parquet under the data location either way, so the backends differ only in the ingest run,
catalogue rows and audit event they commit, and in the snapshot's metadata reads.

Run: .venv/bin/python benchmarks/bench_ingest.py [--rows 1000000] [--postgres]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.common import max_rss_mib, print_table  # noqa: E402
from core import demo
from core.identity import identity_for  # noqa: E402
from core.monitoring import ingest, snapshots
from core.registry import versions
from core.store import Store  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--postgres", action="store_true", help="also ingest with the metadata on PostgreSQL")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "home")
        demo.build(store, quick=True)
        ada = identity_for(store, "ada@modelgov.demo")
        v = versions.get_model_version(store, "credit-default", 1)
        feats = v.feature_names
        held = pd.read_csv(store.home / "inputs" / "credit_default_test.csv")[feats]
        con = duckdb.connect()
        con.register("held", held)
        cols = ", ".join(f'CASE WHEN i % 100 = 7 AND {j} = 0 THEN \'n/a\' ELSE CAST(h."{c}" AS VARCHAR) END AS "{c}"'
                         for j, c in enumerate(feats))
        con.execute(f"""CREATE TABLE big AS SELECT 'r' || i AS request_id,
                        TIMESTAMP '2026-03-01' + to_seconds(i % 2592000) AS ts, {cols}
                        FROM range({a.rows}) t(i) JOIN (SELECT row_number() OVER () - 1 AS k, * FROM held) h
                        ON h.k = i % {len(held)}""")
        csv, parquet = Path(tmp) / "logs.csv", Path(tmp) / "logs.parquet"
        con.execute(f"COPY big TO '{csv}' (HEADER)")
        con.execute(f"COPY big TO '{parquet}' (FORMAT parquet)")
        stores = [("DuckDB", store)]
        if a.postgres:
            stores.append(("PostgreSQL", _on_postgres(store, Path(tmp))))
        rows = []
        for (backend, target), f in [(b, f) for b in stores for f in (csv, parquet)]:
            t = time.perf_counter()
            r = ingest.log_predictions(target, ada, "credit-default", 1, f, time_column="ts",
                                       id_column="request_id", environment="production")
            took = time.perf_counter() - t
            snap = sum(x["seconds"] for x in r.snapshots)
            over = snapshots.latest(target, ada, "credit-default", 1).stamp["log_rows"]
            if not all(x["ok"] for x in r.snapshots):
                raise SystemExit(f"A snapshot failed: {r.snapshots}")
            rows.append({"what": f"log-predictions from {f.suffix[1:].upper()}" + (f", metadata on {backend}"
                                                                                   if a.postgres else ""),
                         "rows": f"{r.rows_in:,}",
                         "logged": f"{r.rows_ok:,}", "rejected": f"{r.rows_rejected:,}", "seconds": took,
                         "ingest s": took - snap, "snapshot s": snap,
                         "snapshot over": f"{over:,} rows"})
        t = time.perf_counter()
        df = pd.read_csv(csv, dtype=str, keep_default_na=False, na_values=[""])
        bad = pd.Series(False, index=df.index)
        for c in feats:
            bad |= pd.to_numeric(df[c], errors="coerce").isna() & df[c].notna()
        took = time.perf_counter() - t
        rows.append({"what": "baseline: pandas read_csv + to_numeric checks (no writing)", "rows": f"{len(df):,}",
                     "logged": "-", "rejected": f"{int(bad.sum()):,}", "seconds": took, "ingest s": took,
                     "snapshot s": "-", "snapshot over": "-"})
        print_table(f"Ingesting {a.rows:,} logged predictions x {len(feats)} inputs", rows)
        print(f"\nPeak RSS of this process: {max_rss_mib():.0f} MiB")


def _on_postgres(store: Store, tmp: Path) -> Store:
    """A second home whose metadata is the demo store copied into a fresh PostgreSQL database (`store copy`)."""
    import os
    import shutil

    import psycopg

    from core import store_copy

    url = os.environ.get("MODELGOV_BENCH_DATABASE_URL")
    if not url:
        from tests import pgserver

        srv = pgserver.server()
        if srv is None:
            raise SystemExit(f"No PostgreSQL: {pgserver.why_not}")
        url = srv.url
    with psycopg.connect(url, autocommit=True) as con:
        con.execute('DROP DATABASE IF EXISTS "modelgov_bench_ingest"')
        con.execute('CREATE DATABASE "modelgov_bench_ingest"')
    db_url = url.rsplit("/", 1)[0] + "/modelgov_bench_ingest"
    home = tmp / "pg-home"
    shutil.copytree(store.home, home, ignore=shutil.ignore_patterns("modelgov.duckdb*"))
    store_copy.copy_store(store, db_url)
    return Store(home, database_url=db_url)


if __name__ == "__main__":
    main()
