"""The Explanations page under AppTest: a cached explanation opens at once; computing a new one; what-if."""

from __future__ import annotations

from core.explain import explanations
from tests.app.test_foundation_pages import open_app, texts


def test_the_cached_demo_explanation_opens_with_every_view(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch, "vera@modelgov.demo", "pages/explanations.py")
    at.selectbox(key="xp_model").select("credit-default")
    at.run()
    at.number_input(key="xp_rows").set_value(300)
    at.run()
    assert not at.exception
    page = texts(at) + " ".join(s.value for s in at.success)
    assert "Tree explainer" in page and "log-odds" in page and "matter most are PAY_0" in page
    # Only the open tab is drawn: Importance first, one chart; the others when opened.
    assert len(at.get("plotly_chart")) == 1
    assert not [s for s in at.selectbox if s.key == "xp_dep_feature"]
    at.session_state["xp_tab"] = "Dependence"
    at.run()
    at.selectbox(key="xp_dep_feature").select("LIMIT_BAL")
    at.run()
    assert not at.exception and len(at.get("plotly_chart")) == 1
    at.session_state["xp_tab"] = "One case"
    at.run()
    at.selectbox(key="xp_row").select(3)
    at.run()
    assert not at.exception
    assert "For this case the score is" in " ".join(i.value for i in at.info)
    picked = at.selectbox(key="xp_row").options[3].split(" · ")[0]  # "row N"
    at.session_state["xp_tab"] = "What-if"
    at.run()
    assert f"Starting from {picked}, the case chosen under One case" in texts(at)  # the pick holds across tabs
    at.button(key="xp_whatif_submit").click()
    at.run()
    assert not at.exception
    assert any(m.label.startswith("Probability that default") for m in at.metric)


def test_computing_a_new_explanation_from_the_page(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch, "ada@modelgov.demo", "pages/explanations.py")
    at.selectbox(key="xp_model").select("diabetes-progression")
    at.run()
    assert "no cached explanation" in texts(at)
    at.button(key="xp_compute").click()
    at.run()
    assert not at.exception
    assert explanations.latest(demo_store, "diabetes-progression", 1) is not None
    assert "Tree explainer" in texts(at)
