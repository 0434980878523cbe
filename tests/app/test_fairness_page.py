"""The Fairness page under AppTest, on the quick demo store: a business reader sees sentences, bars with intervals,
champion and challenger on the same rows, and the production trend."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def test_a_viewer_reads_fairness_in_plain_words(monkeypatch, demo_store):
    monkeypatch.setenv("MODELGOV_HOME", str(demo_store.home))
    at = AppTest.from_file(str(ROOT / "app/main.py"), default_timeout=90)
    at.session_state["demo_user"] = "vera@modelgov.demo"
    at.run()
    at.switch_page("pages/fairness.py")
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Fairness"
    assert at.selectbox(key="fair_model").value == "credit-default"
    at.selectbox(key="fair_attribute").set_value("Age").run()
    assert not at.exception, at.exception
    boxes = [w.value for w in at.warning] + [w.value for w in at.info]
    said = " ".join(boxes).replace("\\", "")  # the page escapes Markdown; read it as shown
    # champion and challenger, each in a sentence against the most favoured group, with its interval
    assert "v1 (champion)" in said and "v2 (challenger)" in said
    assert "predicted to default" in said and "as often as the most favoured group" in said and "95% CI" in said
    assert "0.80 the policy asks for" in said
    assert "Both versions are measured on the same hold-out rows." in [c.value for c in at.caption]
    assert len(at.dataframe) >= 2  # each version's table of groups
    at.segmented_control(key="fair_window").set_value("day").run()
    assert not at.exception, at.exception
