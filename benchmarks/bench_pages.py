"""Pages: the first and the warm visit of each page under AppTest on the demo store, next to a baseline measured in
the same run: the live computation the page used to make on a first visit (for Monitoring, `checks.review` of the
champion's month of traffic, which the page now reads from a stored snapshot).

Each repeat runs in a fresh Python process, so a "first visit" starts with empty Streamlit caches, as a new server
process would: the app's first load (Overview), then `switch_page` + `run` (first visit), then the same again
(warm visit), then the baseline. Goals (issue 15): under 2 s on a first visit and under 1 s warm; the app's first
load under 2.5 s.

Run: .venv/bin/python benchmarks/bench_pages.py [--home DIR] [--repeat 3] [--pages monitoring]
     (without --home the demo store is built in a temporary folder first, which takes a minute or two)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import max_rss_mib, print_table  # noqa: E402

WHO = "ada@modelgov.demo"


def _monitoring_baseline(store) -> None:
    from core.monitoring import checks

    checks.review(store, "credit-default", 1, environment="production", window="day")


def _explanations_baseline(store) -> None:
    """SHAP computed live for what the page shows first (the live champion on its hold-out rows), as a page
    without the stored explanation would have to."""
    from core.explain import explanations
    from core.governance import live
    from core.identity import identity_for

    champ = live.champion(store, "credit-default", "production")
    explanations.explain(store, identity_for(store, WHO), "credit-default", champ.version if champ else None,
                         use_cache=False)


@dataclass(frozen=True)
class PageBench:
    key: str                                  # --pages name
    title: str
    path: str                                 # as st.navigation knows it (AppTest.switch_page)
    baseline: str                             # what the baseline computes, for the table
    run_baseline: Callable[[object], None]    # the live computation, given a Store


# The pages this benchmark times. Add a page here: its file, and the live computation it is compared with.
PAGES: dict[str, PageBench] = {p.key: p for p in [
    PageBench("monitoring", "Monitoring", "pages/monitoring.py",
              "checks.review(credit-default:1, production, day)", _monitoring_baseline),
    PageBench("explanations", "Explanations", "pages/explanations.py",
              "SHAP of credit-default's champion on its hold-out rows, computed live", _explanations_baseline),
]}

# The app's first load (Overview) is timed in every child process before any page; its baseline (what the first
# load cost before it was made faster) belongs here, next to it, when someone measures one.
# (The first load in a real browser, served as `make run` serves it, is benchmarks/bench_first_load.py.)
FIRST_LOAD_BASELINE: tuple[str, Callable[[object], None]] | None = None


def child(home: str, keys: list[str]) -> None:
    """One fresh process: first load, then each page's first and warm visit, then its baseline; prints JSON."""
    os.environ["MODELGOV_HOME"] = home
    from streamlit.testing.v1 import AppTest

    from core.store import Store

    out: dict = {"pages": {}}
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=300)
    at.session_state["demo_user"] = WHO
    t = time.perf_counter()
    at.run()
    out["first_load"] = time.perf_counter() - t
    out["first_load_ok"] = not at.exception
    for key in keys:
        page = PAGES[key]
        visits = []
        for _ in range(2):
            at.switch_page(page.path)
            t = time.perf_counter()
            at.run()
            visits.append(time.perf_counter() - t)
            if at.exception:
                raise SystemExit(f"{page.title} raised: {at.exception[0].value}")
        t = time.perf_counter()
        page.run_baseline(Store(home))
        out["pages"][key] = {"first": visits[0], "warm": visits[1], "baseline": time.perf_counter() - t}
    if FIRST_LOAD_BASELINE is not None:
        t = time.perf_counter()
        FIRST_LOAD_BASELINE[1](Store(home))
        out["first_load_baseline"] = time.perf_counter() - t
    out["rss_mib"] = max_rss_mib()
    print("BENCH " + json.dumps(out))


def _spread(values: list[float]) -> str:
    med = statistics.median(values)
    return f"{med:.2f} ({min(values):.2f}–{max(values):.2f})" if len(values) > 1 else f"{med:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", help="a demo store to reuse (default: build one in a temporary folder)")
    ap.add_argument("--repeat", type=int, default=3, help="fresh processes per measurement (default 3)")
    ap.add_argument("--pages", nargs="*", default=list(PAGES), choices=list(PAGES))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.home, a.pages)
        return
    with tempfile.TemporaryDirectory() as tmp:
        home = a.home
        if home is None:
            home = str(Path(tmp) / "home")
            from core import demo
            from core.store import Store

            t = time.perf_counter()
            demo.build(Store(home), quick=False)
            print(f"Built the demo store in {time.perf_counter() - t:.0f} s at {home}")
        runs = []
        for _ in range(a.repeat):
            proc = subprocess.run([sys.executable, __file__, "--child", "--home", home, "--pages", *a.pages],
                                  capture_output=True, text=True, cwd=ROOT)
            line = next((x for x in proc.stdout.splitlines() if x.startswith("BENCH ")), None)
            if proc.returncode or line is None:
                raise SystemExit(f"A measuring process failed:\n{proc.stderr[-3000:]}")
            runs.append(json.loads(line[6:]))
    rows = [{"what": "first load of the app (Overview)",
             "seconds, median (range)": _spread([r["first_load"] for r in runs]),
             "baseline": FIRST_LOAD_BASELINE[0] if FIRST_LOAD_BASELINE else "-",
             "baseline seconds": _spread([r["first_load_baseline"] for r in runs]) if FIRST_LOAD_BASELINE else "-"}]
    for key in a.pages:
        page = PAGES[key]
        base = _spread([r["pages"][key]["baseline"] for r in runs])
        for visit in ("first", "warm"):
            rows.append({"what": f"{page.title}: {visit} visit",
                         "seconds, median (range)": _spread([r["pages"][key][visit] for r in runs]),
                         "baseline": page.baseline, "baseline seconds": base})
    print_table(f"Pages under AppTest, {a.repeat} fresh process(es), demo store"
                + (f" reused from {a.home}" if a.home else " built for this run"), rows)
    print(f"\nPeak RSS of a measuring process: {_spread([r['rss_mib'] for r in runs])} MiB")


if __name__ == "__main__":
    main()
