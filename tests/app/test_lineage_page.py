"""The Lineage page under AppTest on the demo store: focus, neighbourhood graph, impact, table, whole graph."""

from __future__ import annotations

from tests.app.test_foundation_pages import open_app, texts


def test_lineage_page_focuses_a_node_and_shows_its_impact(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch, "vera@modelgov.demo", "pages/lineage.py")
    assert at.title[0].value == "Lineage"
    assert at.selectbox(key="lin_focus").value.startswith("model:")
    assert len(at.get("plotly_chart")) >= 1
    at.selectbox(key="lin_focus").select("dataset:postgres://core-banking.internal:5432:cards.payments")
    at.run()
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "2 of them in production: credit-default, credit-limit-advisor" in warning
    impact = next(d.value for d in at.dataframe if "Hops" in d.value.columns)
    assert set(impact["Depends on it"]) >= {"model:credit-default:1", "deployment:credit-default:production:1"}
    at.radio(key="lin_view").set_value("Whole graph")
    at.run()
    assert not at.exception
    assert "Showing" in texts(at)


def test_lineage_page_empty_state(store, monkeypatch):
    at = open_app(store.home, monkeypatch, "vera@example.com", "pages/lineage.py")
    assert "No lineage yet" in texts(at)
