"""Notifications: what the outbox costs an action, and how fast a queue drains to a local receiver.

1. The outbox inside an action's transaction: `audit.record` of an event people are notified of (`alert.raised`:
   the audit row, then the outbox's tier lookup and INSERT) next to one nobody is notified of (`alert.acknowledge`:
   the audit row alone, the baseline, measured in the same run), each in its own transaction as an action writes it.
2. Delivery: N events to two hooks (JSON signed, Slack) on a local HTTP receiver, healthy, then failing half the
   time; events per second and the number of runs until nothing is pending.

Run: .venv/bin/python benchmarks/bench_notify.py [--events 1000] [--actions 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from core import audit, users  # noqa: E402
from core.audit import utcnow  # noqa: E402
from core.events import AlertAcknowledged, AlertRaised  # noqa: E402
from core.identity import identity_for  # noqa: E402
from core.notify import deliver, hooks  # noqa: E402
from core.notify.secrets import DeliverySettings  # noqa: E402
from core.outbox import enqueue_tx  # noqa: E402
from core.store import Store  # noqa: E402
from tests.core.notify_receivers import Receiver  # noqa: E402

FAST = DeliverySettings(timeout=5, tries_per_run=3, retry_pause=0, backoff=0, max_attempts=1000, batch=100)


def fresh_store() -> tuple[Store, object, duckdb.DuckDBPyConnection]:
    s = Store(tempfile.mkdtemp(prefix="bench-notify-"))
    users.init_store(s, "alan@example.com")
    users.grant_role(s, identity_for(s, "alan@example.com"), "ada@example.com", "data_scientist")
    keep = duckdb.connect(str(s.db_path))  # as the dashboard holds it during a run: opens reuse the instance
    return s, identity_for(s, "alan@example.com"), keep


def per_action(store, actor, event, n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        with store.transaction() as con:
            audit.record(con, actor, event(i + 1) if event is AlertAcknowledged else event(i + 1, "", "drift", "x"))
    return (time.perf_counter() - started) / n * 1000


def drain(events: int, fail_half: bool) -> tuple[float, int]:
    store, admin, keep = fresh_store()
    rng = random.Random(19)
    with Receiver() as rx:
        rx.fail = (lambda n: rng.random() < 0.5) if fail_half else (lambda n: False)
        hooks.create_hook(store, admin, rx.url + "/a", "alert.raised", secret="k")
        hooks.create_hook(store, admin, rx.url + "/b", "alert.raised", format="slack")
        with store.transaction() as con:
            for i in range(events):
                enqueue_tx(con, "alert.raised", ts=utcnow(), data={"n": i})
        started, runs = time.perf_counter(), 0
        while True:
            runs += 1
            if deliver.deliver(store, admin, settings=FAST).pending == 0:
                break
        seconds = time.perf_counter() - started
    keep.close()
    return 2 * events / seconds, runs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--actions", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    store, admin, keep = fresh_store()
    base, notified = [], []
    for _ in range(a.repeat):
        base.append(per_action(store, admin, AlertAcknowledged, a.actions))
        notified.append(per_action(store, admin, AlertRaised, a.actions))
    keep.close()
    print(f"{'per action (ms, median of ' + str(a.repeat) + ')':<44}{'median':>8}{'range':>18}")
    for label, xs in (("audit row only (baseline)", base), ("audit row + outbox event", notified)):
        print(f"  {label:<42}{statistics.median(xs):8.2f}   {min(xs):6.2f} – {max(xs):6.2f}")
    print(f"\ndelivery of {a.events} events to 2 hooks (deliveries/s)")
    for fail_half in (False, True):
        rates, runs = zip(*(drain(a.events, fail_half) for _ in range(a.repeat)))
        print(f"  {'receiver failing half the time' if fail_half else 'healthy receiver':<42}"
              f"{statistics.median(rates):8.0f}   {min(rates):6.0f} – {max(rates):6.0f}   runs {min(runs)}–{max(runs)}")


if __name__ == "__main__":
    main()
