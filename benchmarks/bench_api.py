"""The HTTP API (issue 22): requests per second for a read and for `log-predictions` uploads.

A small store (the template people, a few registered models) is served by `modelgov api serve` in a process of its
own, as in production; this process is the client (`requests`, one connection per client thread). Each row is a
number of calls, in rounds, reported as the range over the rounds. Baselines in the same run:

- the same call through the local CLI, a fresh `modelgov … --as` process per call (what a CI job pays today);
- the same core call in-process with no HTTP and no process start (the floor: what the handler itself costs).

The read is `models list` (what `modelgov models list --json` does: the inventory with each model's health);
`whoami` shows what the API itself adds (checking the token, HTTP) to any call.

Run: .venv/bin/python benchmarks/bench_api.py [--reads 30] [--uploads 6] [--models 5] [--rows 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import print_table  # noqa: E402

BIN = Path(sys.executable).parent / "modelgov"
ADA, ALAN = "ada@example.com", "alan@example.com"


def build(home: Path, models: int, rows: int) -> tuple[str, Path]:
    """A store with `models` small models; returns ada's token and a CSV of `rows` served predictions."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from core import tokens, users
    from core.identity import identity_for
    from core.registry import versions
    from core.store import Store

    store = Store(home)
    users.init_store(store, ALAN)
    users.grant_role(store, identity_for(store, ALAN), ADA, "data_scientist")
    ada = identity_for(store, ADA)
    rng = np.random.default_rng(0)
    df = pd.DataFrame({f"x{i}": rng.normal(size=400) for i in range(5)})
    df["y"] = (df.x0 + rng.normal(size=400) > 0).astype(int)
    for m in range(models):
        est = LogisticRegression().fit(df.iloc[:300, :5], df.y.iloc[:300])
        versions.register_version(store, ada, f"bench-model-{m}", est, df.iloc[:300], "y", test_data=df.iloc[300:],
                                  risk_tier="low", allow_duplicate=True)
    served = pd.DataFrame({f"x{i}": rng.normal(size=rows) for i in range(5)})
    served["id"] = [f"r{i}" for i in range(rows)]
    served["ts"] = pd.Timestamp("2026-11-01") + pd.to_timedelta(rng.integers(0, 86400 * 7, rows), unit="s")
    path = home / "served.csv"
    served.to_csv(path, index=False)
    return tokens.create_token(store, ada, ADA).token, path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rate(n: int, threads: int, call) -> float:
    """Calls per second of `n` calls spread over `threads` client threads."""
    per = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]
    errors: list[str] = []

    def work(k: int) -> None:
        for _ in range(k):
            problem = call()
            if problem:
                errors.append(problem)

    t = time.perf_counter()
    pool = [threading.Thread(target=work, args=(k,)) for k in per]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    took = time.perf_counter() - t
    if errors:
        raise SystemExit(f"a call failed: {errors[0]}")
    return n / took


def span(values: list[float]) -> str:
    lo, hi = f"{min(values):.1f}", f"{max(values):.1f}"
    return lo if lo == hi else f"{lo}–{hi}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reads", type=int, default=30)
    ap.add_argument("--uploads", type=int, default=6)
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--models", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()

    import requests

    home = Path(tempfile.mkdtemp(prefix="bench-api-")) / "home"
    token, served = build(home, a.models, a.rows)
    env = dict(os.environ, MODELGOV_HOME=str(home))
    for var in ("MODELGOV_URL", "MODELGOV_TOKEN", "MODELGOV_USER"):
        env.pop(var, None)
    port = free_port()
    server = subprocess.Popen([str(BIN), "api", "serve", "--port", str(port), "--secrets", "/nonexistent"], env=env,
                              cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(base + "/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.05)
        auth = {"Authorization": f"Bearer {token}"}
        sessions = threading.local()

        def session() -> requests.Session:
            if not hasattr(sessions, "s"):
                sessions.s = requests.Session()
            return sessions.s

        def api_read() -> str:
            r = session().get(base + "/v1/models/list", headers=auth, timeout=60)
            return "" if r.ok else r.text

        def api_whoami() -> str:
            r = session().get(base + "/v1/whoami", headers=auth, timeout=60)
            return "" if r.ok else r.text

        def api_upload() -> str:
            with served.open("rb") as f:
                r = session().post(base + "/v1/log-predictions", headers=auth, timeout=600,
                                   data={"ref": "bench-model-0:1", "id_column": "id", "time_column": "ts",
                                         "no_snapshot": "true"}, files={"input": ("served.csv", f)})
            return "" if r.ok else r.text

        def cli(*argv: str) -> str:
            p = subprocess.run([str(BIN), *argv, "--as", ADA], env=env, cwd=home, capture_output=True, text=True)
            return "" if p.returncode == 0 else p.stderr

        results: dict[str, list[float]] = {}

        def add(name: str, value: float) -> None:
            results.setdefault(name, []).append(value)

        cli_reads, cli_uploads = max(5, a.reads // 6), max(3, a.uploads // 3)
        for _ in range(a.rounds):
            add("whoami (token check + HTTP only): API, 1 client", rate(a.reads, 1, api_whoami))
            add("read: API, 1 client", rate(a.reads, 1, api_read))
            add("read: API, 4 clients", rate(a.reads, 4, api_read))
            add("read: local CLI process per call", rate(cli_reads, 1, lambda: cli("models", "list", "--json")))
            add("upload: API, 1 client", rate(a.uploads, 1, api_upload))
            add("upload: API, 2 clients", rate(a.uploads, 2, api_upload))
            add("upload: local CLI process per call", rate(cli_uploads, 1, lambda: cli(
                "log-predictions", "bench-model-0:1", "--input", str(served), "--id-column", "id",
                "--time-column", "ts", "--no-snapshot", "--json")))
    finally:
        server.terminate()
        server.wait(timeout=30)

    # The floor: the same calls in this process, no HTTP, no process start (the server has stopped: one holder).
    from core.api import endpoints
    from core.identity import identity_for
    from core.store import Store

    store = Store(home)
    ada = identity_for(store, ADA)
    table = endpoints.endpoints()
    for _ in range(a.rounds):
        def floor_read() -> str:
            with store.session():  # as the server holds a short read
                return "" if endpoints.run(table["/v1/models/list"], store, ada, {}).status == 200 else "failed"

        add("read: in-process handler (floor)", rate(a.reads, 1, floor_read))
        add("upload: in-process handler (floor)", rate(a.uploads, 1, lambda: "" if endpoints.run(
            table["/v1/log-predictions"], store, ada, {"ref": "bench-model-0:1", "id_column": "id",
                                                       "time_column": "ts", "no_snapshot": True},
            {"input": served}).status == 200 else "failed"))

    print(f"\n{a.models} models; uploads of {a.rows:,} rows × 5 inputs (CSV, {served.stat().st_size / 1024:.0f} KiB); "
          f"{a.rounds} rounds; requests/s as the range over the rounds (higher is better)")
    print_table("API requests per second", [{"call": k, "per second": span(v)} for k, v in results.items()])


if __name__ == "__main__":
    main()
