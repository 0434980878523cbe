"""The demo story per role in a real browser (issue 14): the cockpit tells one truth.

- A data scientist proposes credit-default v2 (worse than the live champion in the stored comparison) as
  production champion; the risk officer's evidence pack fails the comparison check and never says "Every
  policy check passes".
- After v2 is deployed as champion (two risk officers, an override, the data scientist deploys), a viewer
  reads v2's health on Overview and the Model page, never v1's old "amber".
- An administrator's policy form saves the tier it shows (the same server, to spare a start).
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from core.governance import approvals, deployments, policy
from core.identity import identity_for
from core.monitoring import health as monitoring_health
from tests.e2e.conftest import act_as, open_page, serve_app, settled


def _pick(page, label: str, option: str) -> None:
    page.get_by_label(label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()
    settled(page)


def test_the_demo_story_per_role(demo_store, page):
    before = monitoring_health.health(demo_store)["credit-default"]
    assert before["version"] == 1 and before["status"] != "green"  # the demo's shifted champion
    with serve_app(demo_store.home) as url:
        page.goto(url)
        page.get_by_role("heading", name="Overview").wait_for(timeout=90_000)

        # Grace (data scientist) proposes v2 as production champion from the Model page.
        act_as(page, "grace")
        open_page(page, "Model", "breast-cancer-screening")
        _pick(page, "Model", "credit-default")
        page.get_by_role("heading", name="credit-default").first.wait_for()
        settled(page)
        expect(page.get_by_role("tab", name="Deployments", exact=True)).to_have_count(1)  # no stale page left
        page.get_by_role("tab", name="Deployments", exact=True).click()
        page.get_by_label("Justification").wait_for()
        # the form starts on the newest version (2), production, champion: what Grace wants
        page.get_by_label("Justification").fill("Promote the interpretable model.")
        page.get_by_role("button", name="Request deployment").click()
        page.get_by_text(re.compile(r"Request \d+ is pending")).wait_for()

        # Rita (risk officer) reads the frozen evidence: the comparison check fails, nothing says all pass.
        act_as(page, "rita")
        open_page(page, "Approvals", "Approvals")
        _pick(page, "Request", next(o for o in _options(demo_store) if "credit-default:2 → production" in o))
        page.get_by_text(re.compile(r"policy checks? fails? \(.*comparison with the live champion")).first.wait_for()
        assert page.get_by_text("Every policy check passes").count() == 0
        # the "Champion vs challenger" section opens by itself when the pack holds a comparison
        # the stored comparison, as words and a table (not JSON): v2 is worse than the live champion v1
        page.get_by_text(re.compile(r"champion credit-default:1 vs challenger credit-default:2")).first.wait_for()
        page.get_by_text(re.compile(r"challenger worse on AUC")).first.wait_for()
        page.screenshot(path=str(demo_store.home / "journey-risk-officer.png"), full_page=True)

    # Two risk officers approve with an override and Grace deploys (the approval clicks have their own journey).
    people = {n: identity_for(demo_store, f"{n}@modelgov.demo") for n in ("grace", "rita", "raj")}
    request = next(r for r in approvals.list_requests(demo_store, people["rita"], status="pending")
                   if r.ref == "credit-default:2")
    for who in ("rita", "raj"):
        approvals.approve(demo_store, people[who], request.id, "Accepted for the demo", "Business decision")
    deployments.deploy(demo_store, people["grace"], request.id)
    after = monitoring_health.health(demo_store)["credit-default"]
    assert after["version"] == 2

    with serve_app(demo_store.home) as url:
        # Vera (viewer): Overview and the Model page speak of v2, never of v1's old figure.
        page.goto(url)
        page.get_by_role("heading", name="Overview").wait_for(timeout=90_000)
        act_as(page, "vera")
        open_page(page, "Model", "breast-cancer-screening")
        _pick(page, "Model", "credit-default")
        page.get_by_text(re.compile(r"Production: champion version 2 since")).first.wait_for()
        assert page.get_by_text(re.compile(r"champion version 1 since")).count() == 0
        if before["score"] is not None:
            assert page.get_by_text(f"{before['status']} {before['score']}").count() == 0
        # Overview's Needs attention speaks of v2 (live, not monitored yet), never of v1's old health.
        open_page(page, "Overview", "Overview")
        page.get_by_text("version 2 is live in production as champion but not monitored").first.wait_for()
        assert page.get_by_text(re.compile(r"version 1 in production is (amber|red)")).count() == 0
        page.screenshot(path=str(demo_store.home / "journey-viewer.png"), full_page=True)

        # Alan (administrator): the policy form saves the tier it shows, and only that tier.
        policies_before = {p.risk_tier: p for p in policy.policies(demo_store)}
        act_as(page, "alan")
        open_page(page, "Approvals", "Approvals")
        expect(page.get_by_role("tab", name="Policies")).to_have_count(1)  # no stale page left
        page.get_by_role("tab", name="Policies").click()
        settled(page)
        page.get_by_role("button", name="Save the high-risk policy").wait_for()  # the first tier shown
        page.get_by_text("medium risk", exact=True).click()
        settled(page)
        page.get_by_role("button", name="Save the medium-risk policy").wait_for()
        field = page.get_by_label("Re-certify every (days)")
        field.fill("123")
        field.press("Tab")
        page.get_by_role("button", name="Save the medium-risk policy").click()
        page.get_by_text(re.compile(r"Policy for medium risk: re-certify.*→ 123")).first.wait_for()
    after = {p.risk_tier: p for p in policy.policies(demo_store)}
    assert after["medium"].recertify_days == 123
    assert after["high"] == policies_before["high"]  # the tier shown before is untouched …
    for field in policy.POLICY_FIELDS:  # … and none of its values leaked into medium
        if field != "recertify_days":
            assert getattr(after["medium"], field) == getattr(policies_before["medium"], field), field


def _options(store) -> list[str]:
    """The labels the Approvals page's request picker shows (as core lists them)."""
    rita = identity_for(store, "rita@modelgov.demo")
    return [f"{r.id}: {r.ref} → {r.environment} as {r.role} ({r.status})"
            for r in approvals.list_requests(store, rita, status="pending")]
