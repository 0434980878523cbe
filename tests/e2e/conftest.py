"""Real-browser fixtures: the dashboard served as `make run` serves it (`python -m app.serve`) on a free port, Debian's Chromium.

Playwright's own browser download does not work on these machines, so the
tests drive Debian's `chromium`. Without it they skip, unless
MODELGOV_REQUIRE_E2E=1 (set by .ci/run), where a missing browser fails.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("MODELGOV_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"server exited with {proc.returncode}:\n{out[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@contextmanager
def serve_app(home: Path, extra_env: dict[str, str] | None = None, secrets: str | None = None):
    """Run the dashboard on a free port against `home`; yields its base URL.

    `secrets` is the text of a `.streamlit/secrets.toml`; it is written to a
    temporary working directory (Streamlit reads secrets from the cwd).
    """
    port = free_port()
    env = {**os.environ, "MODELGOV_HOME": str(home), "PYTHONPATH": str(ROOT), **(extra_env or {})}
    cwd = home / "_serve"
    (cwd / ".streamlit").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / ".streamlit" / "config.toml", cwd / ".streamlit" / "config.toml")
    if secrets is not None:
        (cwd / ".streamlit" / "secrets.toml").write_text(secrets)
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.serve", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/_stcore/health", proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("MODELGOV_REQUIRE_E2E") == "1":
            pytest.fail(f"Chromium not found at {CHROMIUM}; install Debian's chromium package.")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); browser tests skipped.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(60_000)  # a fresh server's first run imports the scientific stack; the machine is shared
    yield pg
    context.close()


# -- acting in the page: shared by the journeys -----------------------------------------------------------------

def settled(page) -> None:
    """Wait until the script run has finished: the app root carries Streamlit's own run state, which turns
    from `notRunning` to `rerunRequested` in the browser the moment a widget changes, so a run still on its way
    is not mistaken for a finished one (the status widget shows only after a delay)."""
    page.wait_for_timeout(100)
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(state="attached")
    page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden")


def act_as(page, who: str) -> None:
    """One pick in the sidebar's person picker; it must hold (no retry: a lost pick is a bug).

    The picker changes in the browser at once, but the page is redrawn for the new person only when the run
    the pick started reaches the sidebar: wait for the server's "Roles: …" line of that person, then for the
    run to end, so the next click lands on the page drawn for them."""
    from core.demo import DEMO_USERS
    from core.identity import ROLE_LABELS

    email = next(e for e in DEMO_USERS if e.startswith(f"{who}@"))
    roles = "Roles: " + ", ".join(ROLE_LABELS[r] for r in sorted(DEMO_USERS[email][1]))
    settled(page)
    page.get_by_label("Acting as (demo)").click()
    page.get_by_role("option", name=re.compile(f"^{who}@")).click()
    page.get_by_text(roles, exact=True).wait_for()
    settled(page)
    picker = page.get_by_label("Acting as (demo)")
    assert picker.count() == 1 and picker.input_value().startswith(f"{who}@"), picker.all_inner_texts()


def open_page(page, link: str, heading: str) -> None:
    """Open a page from the sidebar menu and wait until it is drawn for the current person."""
    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name=link, exact=True).click()
    page.get_by_role("heading", name=heading).first.wait_for()
    settled(page)  # until the run ends, the previous person's elements may still be on the page
