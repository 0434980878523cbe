"""Champion vs challenger on arrival: the stored comparison of the live pair, a warning when the challenger is
worse, a form that pre-fills nothing the data argues against, and a chart coloured by direction."""

from __future__ import annotations

import pytest

from app.components import compare as figs
from core.compare import scores, stored
from tests.app.test_compare_page import _page


def test_core_names_the_live_pairs_latest_comparison(demo_store):
    rec = stored.latest_comparison(demo_store, "credit-default", "production")
    assert rec is not None and rec["environment"] == "production"
    assert (rec["champion"], rec["challenger"]) == ("credit-default:1", "credit-default:2")
    assert rec["result"]["comparison_id"] == rec["id"]
    assert rec["result"]["verdict_summary"] == "champion_better"
    assert stored.latest_comparison(demo_store, "credit-default", "staging") is None
    assert stored.latest_between(demo_store, "credit-default:2", "credit-default:1") is None


def test_the_stored_comparison_shows_on_arrival_with_a_warning(monkeypatch, demo_store):
    at = _page(monkeypatch, demo_store, "vera@modelgov.demo")
    at.selectbox(key="cmp_model").set_value("credit-default").run()
    assert not at.exception, at.exception
    assert (at.selectbox(key="cmp_champion").value, at.selectbox(key="cmp_challenger").value) == (1, 2)
    warnings = " ".join(str(w.value) for w in at.warning)
    assert "Verdict" in warnings and "challenger worse" in warnings
    rec = stored.latest_comparison(demo_store, "credit-default")
    assert any(f"Stored comparison {rec['id']}" in str(c.value) for c in at.caption)
    table = at.dataframe[0].value
    cells = table.astype(str).to_numpy().ravel().tolist()
    assert "None" not in cells and "nan" not in cells
    assert list(table.columns)[:3] == ["Metric", "Champion", "Challenger"]
    assert "Brier (lower is better)" in table["Metric"].tolist()
    # A viewer does not see the form, nor a warning about it.
    assert not any(b.key == "cmp_promote_submit" for b in at.button)


def test_a_worse_challenger_pre_fills_nothing(monkeypatch, demo_store):
    at = _page(monkeypatch, demo_store, "ada@modelgov.demo")
    at.selectbox(key="cmp_model").set_value("credit-default").run()
    assert any(scores.promotion_caution("champion_better") == w.value for w in at.warning)
    assert at.selectbox(key="cmp_promote_env").value is None
    assert at.selectbox(key="cmp_promote_role").value is None
    assert at.text_area(key="cmp_promote_why").value == ""
    at.button(key="cmp_promote_submit").click().run()
    assert not at.exception, at.exception
    assert any("Environment" in e.value and "Justification" in e.value for e in at.error)


def _result(estimates: dict[str, float]) -> dict:
    diff = {m: {"estimate": e, "ci_low": e - 0.01, "ci_high": e + 0.01, "p_value": 5.1e-34,
                "p_value_method": "paired bootstrap"} for m, e in estimates.items()}
    return {"difference": diff, "champion": {m: 0.5 for m in diff}, "challenger": {m: 0.5 for m in diff}}


def test_the_difference_chart_colours_by_direction():
    # Higher AUC is better, lower Brier and log loss are better: core's HIGHER_IS_BETTER decides.
    fig = figs.difference_bars(_result({"auc": -0.02, "brier": -0.03, "log_loss": 0.05, "accuracy": 0.0}))
    colours = {tr.name: tr.marker.color for tr in fig.data}
    by_metric = dict(zip(["auc", "brier", "log_loss", "accuracy"], (tr.marker.color for tr in fig.data)))
    assert by_metric["auc"] == figs.DIRECTION_COLORS["worse"]
    assert by_metric["brier"] == figs.DIRECTION_COLORS["better"]
    assert by_metric["log_loss"] == figs.DIRECTION_COLORS["worse"]
    assert by_metric["accuracy"] == figs.DIRECTION_COLORS["equal"]
    assert set(colours) <= {"better", "worse", "equal", "undefined"}


@pytest.mark.parametrize("p, shown", [(5.1e-34, "5e-34"), (0.0421, "0.042"), (None, "—"), (float("nan"), "—")])
def test_p_values_read_like_people_write_them(p, shown):
    assert figs.p_value(p) == shown


def test_the_metrics_table_has_readable_cells():
    table = figs.metrics_table(_result({"auc": -0.02, "rmse": float("nan")}) | {})
    assert table.loc[0, "p-value"] == "5e-34" and table.loc[0, "95% interval"] == "−0.03 to −0.01"
    assert table.loc[1, "Difference"] == "—" and table.loc[1, "Challenger is"] == "—"
