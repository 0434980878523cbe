"""The dashboard loads in a real browser, lists the demo models and opens one."""

from tests.e2e.conftest import serve_app


def test_dashboard_lists_demo_models(demo_store, page):
    with serve_app(demo_store.home) as url:
        page.goto(url)
        page.get_by_role("heading", name="Overview").wait_for()
        page.get_by_text("Demo mode").first.wait_for()
        page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Inventory", exact=True).click()
        page.get_by_role("heading", name="Inventory").wait_for()
        page.get_by_text("5 model(s)").wait_for()
        page.locator("[data-testid='stDataFrame']").first.wait_for()
        page.screenshot(path=str(demo_store.home / "inventory.png"), full_page=True)
        # The grid is a canvas; open a model through the accessible picker instead.
        page.get_by_label("Open a model").click()
        page.get_by_role("option", name="credit-default").click()
        page.get_by_role("button", name="Open model", exact=True).click()
        page.get_by_role("heading", name="credit-default").wait_for()
        page.get_by_text("Probability that a credit-card client defaults").wait_for()
        page.locator("td", has_text="HistGradientBoostingClassifier").first.wait_for(state="attached")
