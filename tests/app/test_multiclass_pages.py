"""The demo's multiclass model (wine-cultivar, three classes) on every page that shows a binary one, under AppTest."""

from __future__ import annotations

from tests.app.test_foundation_pages import open_app, texts

MODEL = "wine-cultivar"


def _frame(at, column: str):
    """The table that has `column` (AppTest keeps no keys on dataframes)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _pick(at, key: str, value) -> None:
    at.selectbox(key=key).select(value)
    at.run()
    assert not at.exception, at.exception


def test_model_page_shows_precision_and_recall_per_class(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch, "vera@modelgov.demo", "pages/model.py")
    _pick(at, "model_pick", MODEL)
    table = _frame(at, "Precision")
    assert list(table.columns[:3]) == ["Class", "Precision", "Recall"] and list(table["Class"]) == ["0", "1", "2"]
    assert "macro AUC (one-vs-rest)" in _frame(at, "Version").columns
    assert "Per class" in texts(at)


def test_monitoring_page_shows_multiclass_performance_and_predicted_class_drift(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch, "ada@modelgov.demo", "pages/monitoring.py")
    _pick(at, "mon_model", MODEL)
    assert "macro AUC (one-vs-rest)" in " ".join(m.label for m in at.metric)
    assert "predicted class's distribution" in texts(at)
    at.session_state["mon_tab"] = "Performance"
    at.run()
    assert not at.exception, at.exception
    perf = _frame(at, "Balanced accuracy")
    assert {"Macro auc (one-vs-rest)", "Balanced accuracy", "Log loss", "Macro f1"} <= set(perf.columns)


def test_explanations_page_lets_you_pick_the_class(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch, "vera@modelgov.demo", "pages/explanations.py")
    _pick(at, "xp_model", MODEL)
    at.number_input(key="xp_rows").set_value(100)
    at.run()
    assert "Linear explainer" in texts(at), texts(at)[:400]
    picker = at.selectbox(key=f"xp_class_{MODEL}_1")
    assert picker.value == 0 and len(picker.options) == 3
    first = at.get("plotly_chart")[0].proto.spec
    picker.select(2)
    at.run()
    assert not at.exception, at.exception
    assert at.get("plotly_chart")[0].proto.spec != first  # another class, other contributions
    at.session_state["xp_tab"] = "One case"
    at.run()
    assert "the predicted class" in at.selectbox(key="xp_case_class").options[0]
    at.session_state["xp_tab"] = "What-if"
    at.run()
    at.button(key="xp_whatif_submit").click()
    at.run()
    assert not at.exception, at.exception
    assert any(m.label.startswith("Probability that cultivar is 2") for m in at.metric)


def test_compare_page_shows_the_stored_multiclass_comparison(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch, "rita@modelgov.demo", "pages/compare.py")
    _pick(at, "cmp_model", MODEL)
    metrics = _frame(at, "Metric")
    assert any(m.startswith("macro AUC (one-vs-rest)") for m in metrics["Metric"])
    assert any(m.startswith("macro F1") for m in metrics["Metric"])
