"""What sign-in costs per page run: roles from claims, the store read for grants, the sign-in record.

Every page run resolves the person again (claims → roles, plus the grants and
the auto-viewer setting read from the store), so this must stay a small part
of a page run. Baseline, measured in the same run: the foundation's
`identity_for` (grants only, what demo mode and the CLI do).

    .venv/bin/python benchmarks/bench_identity.py [--people 5000] [--repeat 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import auth, users  # noqa: E402
from core.identity import PERSON_ROLES, identity_for, require  # noqa: E402
from core.store import Store  # noqa: E402


def measure(fn, repeat: int) -> tuple[float, float, float]:
    """Median and p95 milliseconds per call, and peak traced memory in MiB."""
    fn()  # warm up (first open migrates)
    times = []
    tracemalloc.start()
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=5000, help="people holding grants in the store")
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-identity-")) / "home"
    store = Store(home)
    users.init_store(store, "admin@example.com")
    admin = identity_for(store, "admin@example.com")
    t0 = time.perf_counter()
    with store.transaction() as con:  # bulk grants for the benchmark only
        con.executemany("INSERT INTO role_grants VALUES (?, ?, 'admin@example.com', now())",
                        [(f"p{i}@example.com", PERSON_ROLES[i % len(PERSON_ROLES)]) for i in range(args.people)])
    setup = time.perf_counter() - t0
    settings = auth.settings_from({"group_roles": {f"corp-group-{i}": "viewer" for i in range(200)}}, env={})
    claims = {"email": "p17@example.com", "email_verified": True, "name": "P 17",
              "groups": [f"corp-group-{i}" for i in range(0, 400, 3)] + ["risk_officer"]}
    signed = auth.identity_from_claims(store, claims, settings)

    rows = [
        ("baseline: identity_for (grants only, demo/CLI)", measure(lambda: identity_for(store, "p17@example.com"),
                                                                    args.repeat)),
        ("roles_from_claims (pure, 134 groups, 200 mapped)", measure(lambda: auth.roles_from_claims(claims, settings),
                                                                      args.repeat)),
        ("identity_from_claims (claims + grants + setting)", measure(
            lambda: auth.identity_from_claims(store, claims, settings), args.repeat)),
        ("record_sign_in (one audited write, once a session)", measure(lambda: auth.record_sign_in(store, signed),
                                                                        max(20, args.repeat // 10))),
        ("require() allowed (pure)", measure(lambda: require(admin, "manage-users"), args.repeat)),
    ]
    print(f"store: {args.people} people with grants (setup {setup:.2f} s); {args.repeat} repeats\n")
    print(f"{'operation':<52} {'median ms':>10} {'p95 ms':>9} {'peak MiB*':>9}")
    print("-" * 83)
    for name, (med, p95, peak) in rows:
        print(f"{name:<52} {med:>10.3f} {p95:>9.3f} {peak:>9.2f}")
    base = rows[0][1][0]
    print(f"\nidentity_from_claims / baseline: {rows[2][1][0] / base:.2f}x")
    print("* Python heap traced by tracemalloc; DuckDB's own (C++) memory is not included.")


if __name__ == "__main__":
    main()
