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


def test_lineage_page_shows_a_datasets_column_lineage(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch, "vera@modelgov.demo", "pages/lineage.py")
    at.selectbox(key="lin_focus").select("dataset:s3://lake:features/credit_client_monthly")
    at.run()
    assert not at.exception
    assert at.selectbox(key="lin_column").options == ["AGE", "BILL_AMT1", "LIMIT_BAL", "PAY_0"]
    at.selectbox(key="lin_column").select("LIMIT_BAL")
    at.run()
    up, down = [d.value for d in at.dataframe if "Steps" in d.value.columns]  # made from, then used by
    assert list(up["Dataset"]) == ["dataset:postgres://core-banking.internal:5432:cards.accounts"]
    assert list(up["Column"]) == ["credit_limit"] and list(up["Job"]) == ["cards_daily_snapshot"]
    assert set(down["Column"]) == {"LIMIT_BAL"} and len(down) == 4  # train, test and the advisor's two tables
    # A node without column lineage says what to do.
    at.selectbox(key="lin_focus").select("model:credit-default:1")
    at.run()
    assert any("No column lineage for this node" in i.value for i in at.info)
