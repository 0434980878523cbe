"""Demo mode in a real browser: who acts before anyone is chosen, and the choice surviving.

Until someone is chosen the demo acts as its least-privileged person (Vera, a
viewer): a deep link to Approvals, even as the very first request to a fresh
server, shows a refusal and not the queue. Once Rita is chosen she stays chosen
across the menu, the click-through from Inventory, a refresh and a new tab of
the same browser (a cookie), but not in another browser (a fresh context).
The first pick is made on a fresh server and must hold without retrying: it used
to be lost to the next run (see `app.session._as_entry_script`).
"""

from __future__ import annotations

import re

from core.registry import catalog
from tests.e2e.conftest import serve_app, settled

VIEWER, RITA = "vera@modelgov.demo", "rita@modelgov.demo"


def _acting_as(page) -> list[str]:
    settled(page)
    page.get_by_label("Acting as (demo)").first.wait_for()
    return [p.input_value().split(" · ")[0] for p in page.get_by_label("Acting as (demo)").all()]


def _refused(page) -> bool:
    return page.get_by_text("You do not have access to this page").count() > 0


def test_the_chosen_person_survives_navigation_refresh_and_new_tab(demo_store, browser, page):
    with serve_app(demo_store.home) as url:
        # A fresh browser deep-links to Approvals as the server's first request: the viewer, refused.
        page.goto(url + "/approvals")
        # The first run of a fresh server imports the scientific stack: 20 s and more on a busy 2-core machine.
        page.get_by_text("You do not have access to this page").wait_for(timeout=90_000)
        assert _acting_as(page) == [VIEWER]
        assert page.get_by_text("credit-limit-advisor:1").count() == 0

        page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Overview", exact=True).click()
        page.get_by_role("heading", name="Overview").wait_for()
        settled(page)
        page.get_by_label("Acting as (demo)").click()
        page.get_by_role("option", name=re.compile(f"^{RITA}")).click()
        assert _acting_as(page) == [RITA]  # one pick, no retry

        for link, heading in (("Approvals", "Approvals"), ("Inventory", "Inventory"), ("Lineage", "Lineage")):
            page.get_by_test_id("stSidebarNavItems").get_by_role("link", name=link, exact=True).click()
            page.get_by_role("heading", name=heading).first.wait_for()
            assert _acting_as(page) == [RITA], link
        assert not _refused(page)

        # Click-through from Inventory (st.switch_page, which drops widget values).
        page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Inventory", exact=True).click()
        page.get_by_role("heading", name="Inventory").wait_for()
        shown = f"{len(catalog.search_models(demo_store).items)} model(s)"
        page.get_by_text(shown).wait_for()  # the demo's models are listed, as many as core has
        settled(page)
        page.get_by_label("Open a model").click()
        page.get_by_role("option", name="credit-default").click()
        settled(page)
        page.get_by_role("button", name="Open model", exact=True).click()
        page.get_by_role("heading", name="credit-default").wait_for()
        page.get_by_text("Probability that a credit-card client defaults").wait_for()
        assert _acting_as(page) == [RITA]

        page.reload()
        page.get_by_role("heading", name="credit-default").wait_for()
        assert _acting_as(page) == [RITA]

        tab = page.context.new_page()
        tab.set_default_timeout(30_000)
        tab.goto(url + "/approvals")
        tab.get_by_role("heading", name="Approvals").first.wait_for()
        assert _acting_as(tab) == [RITA] and not _refused(tab)
        tab.get_by_role("tab", name="Queue").wait_for()  # the queue a risk officer decides from

        # Another browser: nothing chosen there, so the viewer, and no queue.
        other = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            fresh = other.new_page()
            fresh.set_default_timeout(30_000)
            fresh.goto(url + "/approvals")
            fresh.get_by_text("You do not have access to this page").wait_for()
            assert _acting_as(fresh) == [VIEWER]
            assert fresh.get_by_role("tab").count() == 0
        finally:
            other.close()
