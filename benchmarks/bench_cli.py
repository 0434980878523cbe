"""The CLI as a CI pipeline meets it: every call a fresh process.

Builds a store (the quick demo: models, versions, requests, deployments, monitoring snapshots) and tops its
audit trail up to 10,000 events, then runs `modelgov --help`, `models list`, `approvals list` and
`audit verify` as new processes several times each, printing the median wall time and the peak RSS of the
process. Baselines measured in the same run, with the same interpreter:

- `python -c pass`: the interpreter's own start, which no command can beat;
- `python -c "import duckdb"`: the floor of any command that reads the store;
- `python -c "import pandas, sklearn"`: what every command paid before issue 15, when importing the CLI
  pulled in pandas and scikit-learn (measured on main at 369bcbc: `--help` 0.9–2.2 s).

Goals (issue 15): `--help` under 0.3 s; each read under 0.6 s.

Bytecode: an installed package runs from compiled bytecode (pip compiles it on install; an editable install
writes `__pycache__` on its first run), unless the environment says PYTHONDONTWRITEBYTECODE=1 and nothing
compiled it, as on this project's shared machine: then every process compiles the ~230 kB of core it imports
(50-70 ms). So the measured checkout is compiled first (`python -m compileall core`, as pip does), and one
row, marked "no bytecode", runs `models list` from a copy of core without any, as every run did before.

Run: .venv/bin/python benchmarks/bench_cli.py [--events 10000] [--repeat 7] [--root DIR] [--home DIR]
(`--root` runs the commands of another checkout of ModelGov, e.g. an older commit unpacked with `git archive`,
against the same store; `--home` keeps the store in DIR and reuses it when it exists, for runs that compare.)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Only the standard library here: this process starts every measured one, and a child's peak RSS counts the
# parent's memory at the fork, so the store is built in a child of its own (`--build-store`).
from benchmarks.common import print_table  # noqa: E402

ADMIN, OFFICER = "ada@example.com", "rita@example.com"


def build_store(home: Path, events: int) -> dict:
    """The quick demo store, with its audit trail topped up to `events` rows through `audit.record`."""
    from core import audit, demo
    from core.events import SettingUpdated
    from core.identity import identity_for
    from core.store import Store

    store = Store(home)
    demo.build(store, quick=True)
    with store.read() as con:
        have = con.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    actor = identity_for(store, _demo_admin(store))
    with store.transaction() as con:
        for i in range(max(0, events - have)):
            audit.record(con, actor, SettingUpdated("bench.setting", i, i + 1))
    with store.read() as con:
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("audit_log", "models", "model_versions", "approval_requests")}
    return {"counts": counts, "reader": _demo_reader(store)}


def _demo_admin(store) -> str:
    from core import users

    return next(u.email for u in users.list_users(store) if "admin" in u.roles)


def _demo_reader(store) -> str:
    from core import users

    return next(u.email for u in users.list_users(store) if "risk_officer" in u.roles)


def run_once(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, int]:
    """(seconds, peak RSS in MiB, exit code) of one fresh process; the RSS is that child's own (wait4)."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.stderr.close()
    if proc.returncode not in (0,):
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {err[-500:]}")
    return took, usage.ru_maxrss / 1024, proc.returncode


def measure(argv: list[str], sides: list[tuple[Path, dict[str, str]]], repeat: int) -> list[dict[str, float]]:
    """One summary per side (checkout): the sides' runs alternate, so a load that comes and goes hits both."""
    for cwd, env in sides:
        run_once(argv, cwd, env)  # warm the page cache
    runs: list[list[tuple[float, float, int]]] = [[] for _ in sides]
    for _ in range(repeat):
        for i, (cwd, env) in enumerate(sides):
            runs[i].append(run_once(argv, cwd, env))
    out = []
    for side in runs:
        times = sorted(r[0] for r in side)
        out.append({"median_s": statistics.median(times), "min_s": times[0], "max_s": times[-1],
                    "peak_rss_mib": max(r[1] for r in side)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--root", type=Path, default=ROOT, help="the checkout whose CLI is measured (default: this one)")
    ap.add_argument("--home", type=Path, help="keep the store here, and reuse it when it exists")
    ap.add_argument("--before", type=Path, help="also run each command of this checkout (e.g. the commit before "
                                                "issue 15, unpacked with git archive), alternating with --root's")
    ap.add_argument("--build-store", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.build_store:
        print(json.dumps(build_store(a.build_store, a.events)))
        return
    py = sys.executable
    root = a.root.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        home = (a.home or Path(tmp) / "home").resolve()
        t = time.perf_counter()
        made = home / "bench_cli.json"
        if a.home and made.exists():
            built = json.loads(made.read_text())
        else:
            built = json.loads(subprocess.run([py, __file__, "--build-store", str(home), "--events", str(a.events)],
                                              check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
            made.write_text(json.dumps(built))
        counts, reader = built["counts"], built["reader"]
        print(f"Store built in {time.perf_counter() - t:.0f} s: {counts}; CLI of {root}")
        # `python -m core.cli` from the checkout's folder runs that checkout's core (the editable install of
        # this one comes after the current folder on sys.path).
        env = {**os.environ, "MODELGOV_HOME": str(home), "PYTHONPATH": str(root)}
        env.pop("MODELGOV_USER", None)
        subprocess.run([py, "-m", "compileall", "-q", str(root / "core")], check=True)
        bare = Path(tmp) / "no-bytecode"  # core as a checkout without __pycache__, never written one
        shutil.copytree(root / "core", bare / "core", ignore=shutil.ignore_patterns("__pycache__"))
        no_bytecode = {**env, "PYTHONPATH": str(bare), "PYTHONDONTWRITEBYTECODE": "1"}
        sides = [(root, env)]
        if a.before:
            sides.append((a.before.resolve(), {**env, "PYTHONPATH": str(a.before.resolve())}))
            print(f"Each command also as at {a.before.resolve()} (rows marked 'before'), runs alternating")
        cli = [py, "-m", "core.cli"]
        rows = []
        for label, argv, goal in (
                ("baseline: python -c pass", [py, "-c", "pass"], "-"),
                ("baseline: python -c 'import duckdb'", [py, "-c", "import duckdb"], "-"),
                ("baseline: python -c 'import pandas, sklearn'", [py, "-c", "import pandas, sklearn"], "-"),
                ("modelgov --help", cli + ["--help"], 0.3),
                ("modelgov models list --json", cli + ["models", "list", "--json"], 0.6),
                ("  no bytecode: models list --json", cli + ["models", "list", "--json"], "-"),
                ("modelgov approvals list --json", cli + ["approvals", "list", "--json", "--as", reader], 0.6),
                (f"modelgov audit verify --json ({counts['audit_log']:,} events)", cli + ["audit", "verify", "--json"],
                 0.6)):
            baseline = label.startswith("baseline")
            if label.startswith("  no bytecode"):
                results = measure(argv, [(bare, no_bytecode)], a.repeat)
                rows.append({"command": label, **results[0], "goal_s": goal})
                continue
            results = measure(argv, sides[:1] if baseline else sides, a.repeat)
            rows.append({"command": label, **results[0], "goal_s": goal})
            if len(results) > 1:
                rows.append({"command": "  before", **results[1], "goal_s": "-"})
        print_table(f"Fresh processes, {a.repeat} runs each (median, fastest, slowest; peak RSS of one process)",
                    [{k: (f"{v:.3f}" if isinstance(v, float) and k.endswith("_s") else v) for k, v in r.items()}
                     for r in rows])


if __name__ == "__main__":
    main()
