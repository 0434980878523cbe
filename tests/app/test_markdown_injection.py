"""Issue 13: Markdown typed into owner, business unit, tags, description or card is shown as text on every page."""

from __future__ import annotations

import pytest

from core.registry import catalog

from .test_foundation_pages import open_app

IMAGE = "![x](http://127.0.0.1:9/x.png)"
LINK = "[click](javascript:alert(1))"
DIRECTIVE = ":red[alarm] :material/warning: $x^2$"


@pytest.fixture
def hostile_store(demo_store, demo_people):
    catalog.update_model(demo_store, demo_people["ada"], "credit-default", owner=IMAGE, business_unit=LINK,
                         tags=[IMAGE, LINK], description=f"{LINK}\n# heading {DIRECTIVE}", intended_use=IMAGE)
    return demo_store


def rendered(at) -> list[str]:
    """Every piece of text the page handed to Markdown (markdown, captions, info and error boxes)."""
    elements = [*at.markdown, *at.caption, *at.info, *at.warning, *at.error, *at.success,
                *at.sidebar.markdown, *at.sidebar.caption]
    return [str(e.value) for e in elements]


def assert_no_live_markdown(texts: list[str]) -> None:
    joined = "\n".join(texts)
    # ':red[alarm]', not ':red[': pages colour their own words (severity, Needs attention); the typed one is caught.
    for raw in ("![x](", "[click](", ":red[alarm]", ":material/warning:", "$x^2$", "\n# heading"):
        assert raw not in joined, raw


def test_model_page_shows_user_text_escaped(hostile_store, monkeypatch):
    at = open_app(hostile_store.home, monkeypatch, "vera@modelgov.demo", "pages/model.py")
    at.selectbox(key="model_pick").select("credit-default").run()
    assert not at.exception
    texts = rendered(at)
    assert_no_live_markdown(texts)
    joined = "\n".join(texts)
    # the characters typed are all there, each special one escaped
    assert r"\!\[x\]\(http\://127\.0\.0\.1\:9/x\.png\)" in joined
    assert r"\[click\]\(javascript\:alert\(1\)\)" in joined
    assert r"\:red\[alarm\]" in joined


@pytest.mark.parametrize("page", [None, "pages/inventory.py"])
def test_overview_and_inventory_draw_no_user_markdown(hostile_store, monkeypatch, page):
    at = open_app(hostile_store.home, monkeypatch, "vera@modelgov.demo", page)
    assert not at.exception
    assert_no_live_markdown(rendered(at))
    if page is None:  # Overview names the hostile owner in Needs attention ("ask the owner (…)"), escaped
        assert r"\!\[x\]\(http\://127\.0\.0\.1\:9/x\.png\)" in "\n".join(rendered(at))
    else:  # the hostile owner is in the table, as plain cell text
        frames = [d.value for d in at.dataframe]
        assert any((f.astype(str) == IMAGE).any().any() for f in frames)


def test_an_alerts_model_message_and_people_are_shown_as_typed():
    """Alert messages name the data's own columns (a drift alert lists them): a hostile column name is text."""
    from datetime import datetime

    from app.components.monitoring import alert_line
    from core.monitoring.alerts import Alert

    a = Alert(1, "credit-default", 2, "production", "drift", "high", f"3 of 9 inputs drifted ({IMAGE}, {LINK})",
              "acknowledged", datetime(2026, 11, 1), DIRECTIVE, None, None)
    line = alert_line(a)
    assert_no_live_markdown([line])
    assert r"\!\[x\]\(http\://127\.0\.0\.1\:9/x\.png\)" in line and r"\:red\[alarm\]" in line
    assert line.startswith(":red[:material/notifications_active: high severity] **credit\\-default** v2 in production")
