"""Overview, Inventory and Model pages under AppTest, on the demo store and on an empty one."""

from __future__ import annotations

import re

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.registry import catalog

MAIN = str(Path(__file__).resolve().parents[2] / "app" / "main.py")


def open_app(home: Path, monkeypatch, who: str | None = "ada@modelgov.demo", page: str | None = None) -> AppTest:
    monkeypatch.setenv("MODELGOV_HOME", str(home))
    at = AppTest.from_file(MAIN, default_timeout=60)
    if who:
        at.session_state["demo_user"] = who
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    """The page's text as a person reads it: user text is Markdown-escaped in the source (`credit\\-card`)."""
    raw = " ".join(str(m.value) for m in [*at.markdown, *at.info, *at.caption, *at.title, *at.error, *at.warning])
    return re.sub(r"\\(.)", r"\1", raw)


def test_overview_shows_the_portfolio_and_what_needs_attention(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch)
    assert at.title[0].value == "Overview"
    assert any(m.label == "Models" and m.value == "6" for m in at.metric)  # wine-cultivar is the sixth
    assert "churn-early-warning" in texts(at)  # has no version yet: needs attention
    assert "Demo mode" in texts(at)
    # The risk grid counts what core's portfolio says, tier by tier (highest first), status by status.
    from core import queries

    df = queries.portfolio(demo_store)
    grid = next(str(m.value) for m in at.markdown if str(m.value).startswith("| Risk tier |"))
    rows = {line.split("|")[1].strip(): [c.strip().strip("*") for c in line.split("|")[2:-1]]
            for line in grid.splitlines()[2:]}
    header = [c.strip() for c in grid.splitlines()[0].split("|")[2:-1]]
    for tier, cells in rows.items():
        t = re.search(r"\[(\w+) risk\]", tier).group(1)
        for status, cell in zip(header, cells):
            same = df[df["risk_tier"] == t]
            want = len(same) if status == "All" else int((same["status"] == status.lower()).sum())
            assert cell == (str(want) if want else "–"), (t, status)
    assert [re.search(r"\[(\w+) risk\]", k).group(1) for k in rows] == ["high", "medium", "low"]
    # Health: the live production champions by colour, as core's health gives them.
    from core.monitoring import health as monitoring_health

    live = monitoring_health.health(demo_store)
    line = next(str(m.value) for m in at.markdown if "Health of the champions live in production" in str(m.value))
    amber = sum(1 for h in live.values() if h["status"] == "amber")
    assert (f"[{amber} amber]" in line) == bool(amber)
    # The landing page draws no chart and no data grid (their browser libraries would delay the first load); every
    # model's row is one link away, and alerts are acted on in Monitoring.
    assert not at.dataframe and not at.get("arrow_vega_lite_chart") and not at.get("plotly_chart")
    links = [(p.proto.label, p.proto.page) for p in at.get("page_link")]
    assert any("Inventory" in label for label, _ in links) and any("Monitoring" in label for label, _ in links)
    assert not [b for b in at.button if "Acknowledge" in b.label or "Resolve" in b.label]
    assert "high severity" in texts(at)  # the demo's open alerts are listed


@pytest.mark.parametrize("who", ["vera@modelgov.demo", "rita@modelgov.demo", "ada@modelgov.demo"])
def test_inventory_filters_and_opens_a_model(demo_store, monkeypatch, who):
    at = open_app(demo_store.home, monkeypatch, who, "pages/inventory.py")
    assert "6 model(s)" in texts(at)  # wine-cultivar is the sixth
    at.selectbox(key="inv_tier").select("high").run()
    assert "2 model(s)" in texts(at)
    at.text_input(key="inv_search").input("credit").run()
    assert "1 model(s)" in texts(at)
    at.text_input(key="inv_search").input("no such thing").run()
    assert "No model matches these filters" in texts(at)
    at.text_input(key="inv_search").input("").run()
    at.selectbox(key="inv_open_choice").select("credit-default").run()
    at.button(key="inv_open").click().run()
    assert not at.exception
    assert at.title[0].value == "credit-default"


def test_model_page_shows_versions_card_and_history(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch, "vera@modelgov.demo", "pages/model.py")
    at.selectbox(key="model_pick").select("credit-default").run()
    assert at.title[0].value == "credit-default"
    assert len(at.dataframe) >= 2
    # A viewer reads the card but gets no form to change it, nor the change history (view-approvals).
    assert "Save model card" not in [b.label for b in at.button]
    assert "Rank credit-card clients" in texts(at)
    assert "change history" in texts(at) and not any("action" in d.value.columns for d in at.dataframe)
    at = open_app(demo_store.home, monkeypatch, "ada@modelgov.demo", "pages/model.py")
    at.selectbox(key="model_pick").select("credit-default").run()
    history = next(d.value for d in at.dataframe if "action" in d.value.columns)
    assert "model.create" in set(history["action"])


def test_a_data_scientist_edits_the_model_card_through_core(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch, "grace@modelgov.demo", "pages/model.py")
    at.selectbox(key="model_pick").select("churn-early-warning").run()
    assert "has no version yet" in texts(at)
    at.text_area(key="card_churn-early-warning_intended_use").input("Warn account managers early.")
    submit = next(b for b in at.button if b.label == "Save model card")
    submit.click().run()
    assert not at.exception
    assert catalog.get_model(demo_store, "churn-early-warning").card["intended_use"] == "Warn account managers early."


def test_empty_store_says_what_to_do_next(tmp_path, monkeypatch):
    at = open_app(tmp_path / "empty", monkeypatch, who=None)
    assert "modelgov demo" in texts(at) or "modelgov init" in " ".join(str(i.value) for i in at.sidebar.info)
