"""Explanations: the "no cached explanation" box goes once computed; what-if keeps whole numbers whole, shows a
classifier's probability (log-odds on request) and labels inputs from the model card's feature dictionary."""

from __future__ import annotations

from core.registry import catalog
from tests.app.test_foundation_pages import open_app, texts


def _credit(demo_store, monkeypatch, email="vera@modelgov.demo"):
    at = open_app(demo_store.home, monkeypatch, email, "pages/explanations.py")
    at.selectbox(key="xp_model").select("credit-default")
    at.run()
    at.number_input(key="xp_rows").set_value(300)
    at.session_state["xp_tab"] = "What-if"  # only the open tab is drawn
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_box_is_gone_once_computed(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch, "ada@modelgov.demo", "pages/explanations.py")
    at.selectbox(key="xp_model").select("diabetes-progression")
    at.run()
    assert "no cached explanation" in texts(at)
    at.button(key="xp_compute").click()
    at.run()
    assert not at.exception, at.exception
    assert "no cached explanation" not in texts(at) + " ".join(str(i.value) for i in at.info)
    assert not any(b.key == "xp_compute" for b in at.button)
    assert "Tree explainer" in texts(at)


def test_integer_inputs_step_by_one_and_the_output_is_a_probability(demo_store, monkeypatch):
    at = _credit(demo_store, monkeypatch)
    age = at.number_input(key="xp_wi_AGE")
    assert isinstance(age.value, int) and age.step == 1 and age.format == "%d"
    assert age.label == "Age \\(years\\) (AGE)"  # the business label, escaped, then the column
    pay = at.number_input(key="xp_wi_PAY_0")
    assert isinstance(pay.value, int) and pay.step == 1
    at.button(key="xp_whatif_submit").click()
    at.run()
    assert not at.exception, at.exception
    (metric,) = at.metric
    assert metric.label == "Probability that default is 1" and metric.value.endswith("%")
    assert 0 <= float(metric.value.rstrip("%")) <= 100
    # Log-odds on request.
    at.toggle(key="xp_wi_log_odds").set_value(True)
    at.button(key="xp_whatif_submit").click()
    at.run()
    (metric,) = at.metric
    assert metric.label == "Output (log-odds)"


def test_markdown_in_a_label_is_shown_as_typed(demo_store, monkeypatch, demo_people):
    catalog.update_model(demo_store, demo_people["ada"], "credit-default",
                         feature_dictionary={"AGE": "**Age** [click](https://evil.example) :red[x]"})
    at = _credit(demo_store, monkeypatch)
    label = at.number_input(key="xp_wi_AGE").label
    assert "**" not in label.replace("\\*", "") and "\\[click\\]\\(https\\:" in label and "\\:red\\[x\\]" in label
    # Columns without a label keep their own name.
    assert at.number_input(key="xp_wi_PAY_0").label == "PAY\\_0"
