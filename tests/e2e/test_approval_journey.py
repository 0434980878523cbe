"""A real browser: a data scientist requests a deployment, a risk officer approves it, the data scientist deploys."""

import re

from playwright.sync_api import expect

from core.governance import live
from tests.e2e.conftest import act_as, open_page, serve_app, settled


def test_request_approve_deploy(demo_store, page):
    with serve_app(demo_store.home) as url:
        page.goto(url)
        page.get_by_role("heading", name="Overview").wait_for(timeout=90_000)

        # Grace asks for credit-limit-advisor:1 in staging (low risk: one approval).
        act_as(page, "grace")
        open_page(page, "Model", "breast-cancer-screening")
        page.get_by_label("Model", exact=True).click()
        page.get_by_role("option", name="credit-limit-advisor").click()
        page.get_by_role("heading", name="credit-limit-advisor").wait_for()
        settled(page)  # the page is still drawing: a dropdown opened now is closed by the rest of the run
        expect(page.get_by_role("tab", name="Deployments", exact=True)).to_have_count(1)  # no stale page left
        page.get_by_role("tab", name="Deployments", exact=True).click()
        page.get_by_label("Justification").wait_for()
        page.get_by_label("Environment").click()
        page.get_by_role("option", name="staging").click()
        page.get_by_label("Justification").fill("Let underwriters try the suggestions in staging first.")
        page.get_by_role("button", name="Request deployment").click()
        page.get_by_text(re.compile(r"Request \d+ is pending")).wait_for()

        # Rita decides it from the queue.
        act_as(page, "rita")
        open_page(page, "Approvals", "Approvals")
        page.get_by_text("credit-limit-advisor:1 → staging as champion").first.wait_for()
        page.get_by_label("Comment (recorded with your decision)").fill("Low risk, evidence complete.")
        page.get_by_role("button", name="Approve").click()
        page.get_by_text(re.compile(r"Request \d+ is now approved")).first.wait_for()

        # Grace deploys her approved request.
        # Still on Approvals: picking Grace redraws it for her. (Clicking the menu link of the page already shown
        # would start it afresh and could reset the tabs under the next click.)
        act_as(page, "grace")
        page.get_by_role("heading", name="Approvals").first.wait_for()
        mine = page.get_by_role("tab", name="My requests")
        expect(mine).to_have_count(1)  # the page as Rita saw it is gone
        mine.click()
        expect(mine).to_have_attribute("aria-selected", "true")
        page.get_by_role("button", name="Deploy credit-limit-advisor:1 to staging as champion").click()
        page.get_by_text(re.compile("Deployed credit-limit-advisor:1 to staging as champion")).first.wait_for()
        page.screenshot(path=str(demo_store.home / "approval-journey.png"), full_page=True)

    champ = live.champion(demo_store, "credit-limit-advisor", "staging")
    assert champ is not None and champ.version == 1 and champ.deployed_by == "grace@modelgov.demo"
