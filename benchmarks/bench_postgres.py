"""DuckDB and PostgreSQL side by side: registry search at 10,000 models × 5 versions, the audit write path, and two
dashboard processes serving the Inventory page from one PostgreSQL at once.

The PostgreSQL store is the DuckDB one moved with `store copy`, so both answer over the same rows. PostgreSQL is
`MODELGOV_BENCH_DATABASE_URL` (a server-level URL; the benchmark creates and drops its own database) or a throwaway
local cluster (tests/pgserver.py). Timings are medians of repeated calls, each opening a connection as the
dashboard does (DuckDB: the file; PostgreSQL: the process's pool).

Not here yet: ingesting 1M logged predictions on both backends. Prediction logs move to Parquet under the data
location in issue 17's part A (either backend then writes the same files); until it lands they are DuckDB tables
inside the metadata store, which PostgreSQL does not read.

Run: .venv/bin/python benchmarks/bench_postgres.py [--models 10000] [--writes 200]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_inventory import fill  # noqa: E402
from benchmarks.common import measure, print_table  # noqa: E402
from core import pg, users  # noqa: E402
from core.identity import identity_for  # noqa: E402
from core.registry import catalog  # noqa: E402
from core.store import Store  # noqa: E402
from core.store_copy import copy_store  # noqa: E402

PAGE = textwrap.dedent("""
    import os, sys, time, statistics
    from streamlit.testing.v1 import AppTest
    main, runs, go = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    at = AppTest.from_file(main, default_timeout=300)
    at.session_state["demo_user"] = "bench-admin@example.com"
    at.run()  # the landing page (Overview), imports: before the clock
    def visit():  # the Inventory page's script run, as a person opening it from the menu
        at.switch_page("pages/inventory.py")
        at.run()
        assert not at.exception, at.exception
    visit()
    while time.time() < go:
        time.sleep(0.005)
    times = []
    for _ in range(runs):
        t = time.perf_counter(); visit(); times.append(time.perf_counter() - t)
    print(statistics.median(times) * 1000, min(times) * 1000, max(times) * 1000)
""")


def _server_url() -> str:
    url = os.environ.get("MODELGOV_BENCH_DATABASE_URL")
    if url:
        return url
    from tests import pgserver

    srv = pgserver.server()
    if srv is None:
        sys.exit(f"No PostgreSQL: {pgserver.why_not}")
    return srv.url


def _create_database(server_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}"')
        con.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


def _pages(home: Path, url: str, processes: int, runs: int) -> list[tuple[float, float, float]]:
    env = dict(os.environ, MODELGOV_HOME=str(home), MODELGOV_DATABASE_URL=url)
    go = time.time() + 90  # every interpreter has imported Streamlit and drawn the landing page by then
    procs = [subprocess.Popen([sys.executable, "-c", PAGE, str(ROOT / "app" / "main.py"), str(runs), str(go)],
                              env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(processes)]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=600)
        if p.returncode != 0:
            raise SystemExit(f"A page process failed: {stderr.strip().splitlines()[-1:]}")
        out.append(tuple(float(x) for x in stdout.split()[-3:]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=10_000)
    ap.add_argument("--versions", type=int, default=5)
    ap.add_argument("--writes", type=int, default=200)
    ap.add_argument("--page-runs", type=int, default=5)
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-postgres-"))
    duck = Store(home, database_url="")
    t = time.perf_counter()
    fill(duck, args.models, args.versions)
    print(f"Filled DuckDB with {args.models:,} models × {args.versions} versions in {time.perf_counter() - t:.1f} s")
    server = _server_url()
    url = _create_database(server, "modelgov_bench")
    t = time.perf_counter()
    copy_store(duck, url)
    print(f"Copied into PostgreSQL with `store copy` in {time.perf_counter() - t:.1f} s")
    stores = {"duckdb": duck, "postgresql": Store(home, database_url=url)}

    rows = []
    for backend, s in stores.items():
        cases = {
            "search: first page, by name": lambda s=s: catalog.search_models(s),
            "search: text + tier": lambda s=s: catalog.search_models(s, "model-01", risk_tier="high"),
            "search: status (aggregate), page 3": lambda s=s: catalog.search_models(s, status="production", page=3),
            "search: tag, by versions desc": lambda s=s: catalog.search_models(s, tag="tag-3", sort="versions",
                                                                                 descending=True),
        }
        for name, fn in cases.items():
            rows.append({"backend": backend, "operation": name, **measure(fn, repeat=15)})
    print_table("Registry search, 10,000 models × 5 versions (median of 15 calls)", rows)

    rows = []
    for backend, s in stores.items():
        admin = identity_for(s, "bench-admin@example.com")
        counter = iter(range(10**9))

        def write(s=s, admin=admin, backend=backend, counter=counter) -> None:
            users.grant_role(s, admin, f"w{next(counter)}-{backend}@example.com", "viewer")

        t = time.perf_counter()
        for _ in range(args.writes):
            write()
        per = (time.perf_counter() - t) * 1000 / args.writes
        rows.append({"backend": backend, "operation": f"grant_role + audit event, {args.writes} in a row",
                     "mean_ms": per, **measure(write, repeat=30)})
    print_table("The audit write path: one audited change per transaction", rows)

    rows = []
    for backend, n in (("duckdb", 1), ("postgresql", 1), ("postgresql", 2)):
        for k, (med, lo, hi) in enumerate(_pages(home, url if backend == "postgresql" else "", n, args.page_runs)):
            rows.append({"backend": backend, "processes": n, "process": k + 1, "median_ms": med, "fastest_ms": lo,
                         "slowest_ms": hi})
    print_table(f"The Inventory page (AppTest, from the menu) on one process, then two processes on one PostgreSQL "
                f"at once ({args.page_runs} visits each)", rows)
    pg.pool(url).close_all()


if __name__ == "__main__":
    main()
