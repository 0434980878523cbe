"""First load of the dashboard in a real browser, and each page opened after it.

Serves the dashboard as `make run` does (`python -m app.serve`) on the demo store (built in a temporary home, or --home), opens it in
Debian's Chromium (Playwright) as a demo person, and prints:
- first load: a fresh server's first page, from navigation until Streamlit reports the run ended and the
  Overview is drawn (what a person waits for when opening the app). The Overview draws no chart or data grid
  (app/components/portfolio.py), so nothing of it arrives after the run ends: this run printed 3.72 s before, and
  4.21 s until its Vega chart was drawn, on an Overview with a chart and a grid;
- each page opened from the menu afterwards, first visit and again (warm);
next to a baseline measured in the same run: the same browser opening a one-line Streamlit app (`st.title`),
the floor that Streamlit itself costs here. Goals (issue 15): first load under 2.5 s; Monitoring and
Explanations under 2 s on a first visit and under 1 s warm.

Run: .venv/bin/python benchmarks/bench_first_load.py [--home PATH] [--repeat 3]
"""

from __future__ import annotations

import argparse
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

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, free_port, wait_http  # noqa: E402

DONE = "[data-testid='stApp'][data-test-script-state='notRunning']"
PERSON = "ada@modelgov.demo"
from app.navigation import PAGES as SPECS  # noqa: E402

URLS = {s.title: "" if s.default else s.url_path for s in SPECS}


def serve(script: Path, home: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cwd = home / "_serve"
    (cwd / ".streamlit").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / ".streamlit" / "config.toml", cwd / ".streamlit" / "config.toml")
    env = {**os.environ, "MODELGOV_HOME": str(home), "PYTHONPATH": str(ROOT)}
    # ModelGov as `make run` serves it (app.serve preloads the pages' imports); the baseline with `streamlit run`.
    start = ["-m", "app.serve"] if script == ROOT / "app" / "main.py" else ["-m", "streamlit", "run", str(script)]
    proc = subprocess.Popen([sys.executable, *start, "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false"],
                            cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/_stcore/health", proc=proc)
    return proc, url


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def settled(page) -> None:
    page.locator(DONE).wait_for(state="attached")
    page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden")


def open_from_menu(page, title: str) -> None:
    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name=title, exact=True).click()
    if URLS[title]:
        page.wait_for_url(f"**/{URLS[title]}*")
    else:
        page.get_by_role("heading", name=title).first.wait_for()
    page.wait_for_timeout(50)  # the click's run has started: the run state leaves notRunning
    settled(page)


def first_load(browser, script: Path, home: Path, ready: str, person: bool) -> float:
    """A fresh server, a fresh browser context: seconds from navigation until `ready` is drawn and the run ended."""
    proc, url = serve(script, home)
    try:
        ctx = browser.new_context()
        if person:
            ctx.add_cookies([{"name": "modelgov_demo_person", "value": PERSON, "url": url}])
        page = ctx.new_page()
        t = time.perf_counter()
        page.goto(url)
        page.get_by_role("heading", name=ready).first.wait_for()
        settled(page)
        took = time.perf_counter() - t
        ctx.close()
        return took
    finally:
        stop(proc)


def page_visits(browser, home: Path) -> dict[str, tuple[float, float]]:
    """Per page: seconds to open it from the menu the first time, and the second time."""
    proc, url = serve(ROOT / "app" / "main.py", home)
    out: dict[str, tuple[float, float]] = {}
    try:
        ctx = browser.new_context()
        ctx.add_cookies([{"name": "modelgov_demo_person", "value": PERSON, "url": url}])
        page = ctx.new_page()
        page.goto(url)
        page.get_by_role("heading", name="Overview").first.wait_for()
        settled(page)
        for title in [s.title for s in SPECS if not s.default]:
            menu = page.get_by_test_id("stSidebarNavItems").get_by_role("link", name=title, exact=True)
            if not menu.count():  # not on this person's menu
                continue
            times = []
            for _ in range(2):
                t = time.perf_counter()
                open_from_menu(page, title)
                times.append(time.perf_counter() - t)
                open_from_menu(page, "Overview")
            out[title] = (times[0], times[1])
        ctx.close()
    finally:
        stop(proc)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", help="a demo store to use (default: build one in a temporary folder)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bench-first-load-"))
    home = Path(args.home) if args.home else tmp / "demo"
    if not args.home:
        print("Building the demo store…", flush=True)
        subprocess.run([sys.executable, "-m", "core.cli", "--home", str(home), "demo"], check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL)
    hello = tmp / "hello.py"
    hello.write_text("import streamlit as st\nst.title('Hello')\n")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            base = [first_load(browser, hello, tmp, "Hello", False) for _ in range(args.repeat)]
            ours = [first_load(browser, ROOT / "app" / "main.py", home, "Overview", True) for _ in range(args.repeat)]
            visits = page_visits(browser, home)
        finally:
            browser.close()
    print("\n## First load in Chromium (fresh server, fresh browser context), seconds")
    print(f"baseline: one-line Streamlit app   median {statistics.median(base):.2f}  runs "
          + ", ".join(f"{x:.2f}" for x in base))
    print(f"ModelGov Overview as {PERSON}   median {statistics.median(ours):.2f}  runs "
          + ", ".join(f"{x:.2f}" for x in ours) + "   goal < 2.5")
    print("\n## Pages opened from the menu after the first load, seconds")
    print(f"{'page':<14}{'first visit':>12}{'warm':>8}")
    for title, (first, warm) in visits.items():
        print(f"{title:<14}{first:>12.2f}{warm:>8.2f}")
    print("goals: Monitoring and Explanations < 2 first visit, < 1 warm")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
