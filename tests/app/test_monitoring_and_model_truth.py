"""Monitoring and Model pages tell one truth: core's review, the drift registry's statistics, the live champion."""

from __future__ import annotations

import json

from app.components.monitoring import stat_text, verdict_text
from core.drift import stattests
from core.governance import approvals, deployments
from core.monitoring import checks
from tests.app.test_foundation_pages import open_app, texts


def figures(at) -> dict[str, dict]:
    """Every Plotly chart on the page by its key: the figure as Plotly JSON."""
    out = {}
    for el in at.get("plotly_chart"):
        key = el.proto.id.rsplit("-", 1)[-1] if el.proto.id else ""
        out[key] = json.loads(el.proto.spec)
    return out


def by_key(at, fragment: str) -> dict:
    found = [f for k, f in figures(at).items() if k.endswith(fragment)]
    assert len(found) == 1, (fragment, list(figures(at)))
    return found[0]


def open_tab(at, label: str):
    """Only the open tab is drawn: open another one as a person's click does (the tabs' key)."""
    at.session_state["mon_tab"] = label
    at.run()
    assert not at.exception, at.exception
    return at


def table(at, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_performance_and_volume_share_one_time_axis(demo_store, monkeypatch):
    at = open_tab(open_app(demo_store.home, monkeypatch, "vera@modelgov.demo", "pages/monitoring.py"), "Performance")
    fig = by_key(at, "mon_perf_volume")
    layout, traces = fig["layout"], fig["data"]
    # One figure: the AUC line above, the prediction counts below, their x axes tied together.
    assert {t["type"] for t in traces} >= {"scatter", "bar"}
    axes_of = {t["type"]: t.get("xaxis", "x") for t in traces}
    assert axes_of["scatter"] != axes_of["bar"]
    tied = {layout["xaxis"].get("matches"), layout["xaxis2"].get("matches")}
    assert tied & {"x", "x2"}, "the two time axes are matched"
    # Round ticks: weekly dates, AUC to two decimals, rates as percentages, counts as integers.
    assert layout["xaxis"]["tickformat"] == "%-d %b" and layout["xaxis"]["dtick"] == 7 * 86_400_000
    assert layout["yaxis"]["tickformat"] == ".2f"
    assert any(layout[a].get("tickformat") == ".0%" for a in layout if a.startswith("yaxis"))
    assert any(layout[a].get("tickformat") == ",d" for a in layout if a.startswith("yaxis"))
    assert not any(k.endswith("mon_volume") or k.endswith("mon_perf") for k in figures(at))


def test_data_quality_says_no_rows_rejected(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch, "vera@modelgov.demo", "pages/monitoring.py")
    assert not any("No rows rejected" in s.value for s in at.success)  # the Drift tab opens first, alone
    open_tab(at, "Data quality")
    assert any("No rows rejected" in s.value for s in at.success)
    assert not any(k.endswith("mon_rejections") for k in figures(at))
    quality = table(at, "Unseen categories")
    assert list(quality.columns) == ["Input", "Missing", "Out of range", "Unseen categories"]
    assert not quality.isna().any().any()


def test_drift_table_shows_each_tests_own_statistic(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch, "vera@modelgov.demo", "pages/monitoring.py")
    drift = table(at, "Statistic")
    assert list(drift.columns) == ["Input", "Kind", "Test", "Statistic", "Value", "Drifts when", "Drifted"]
    js = drift[drift["Test"] == "Jensen–Shannon distance"]
    assert not js.empty and set(js["Statistic"]) == {"JS distance"}
    assert set(js["Drifts when"]) == {"≥ 0.1"}
    wd = drift[drift["Test"].str.startswith("Wasserstein")]
    assert not wd.empty and set(wd["Statistic"]) == {"Wasserstein distance"}
    assert not drift.isin(["None", "nan"]).any().any() and not drift.isna().any().any()
    # The page repeats core's review: its sentence, whether it needs attention.
    review = checks.review(demo_store, "credit-default", 1, environment="production")
    shown = at.warning if review["needs_attention"] else at.success
    assert any(review["summary"]["sentence"] in m.value for m in shown)
    health = next(m for m in at.metric if m.label.startswith("Health"))
    assert health.label == "Health of v1"  # the live production champion's (the environment picked by default)
    from core.monitoring.health import health as live_health
    assert health.value == f"{live_health(demo_store)['credit-default']['status']} " \
                           f"{live_health(demo_store)['credit-default']['score']}"


def test_statistics_read_like_numbers():
    assert stat_text(5.2e-34, True) == "5e-34"
    assert stat_text(0.0312, True) == "0.031"
    assert stat_text(0.04567, False) == "0.0457"
    assert stat_text(None, True) == "—" and stat_text(float("nan"), False) == "—"
    # Rounding never puts a value on the other side of its threshold from its verdict.
    wasserstein, ks = stattests.get("wasserstein"), stattests.get("ks")
    assert verdict_text(0.099963, wasserstein, 0.1, drifted=False) == "0.09996"
    assert verdict_text(0.0500004, ks, 0.05, drifted=False) == "0.0500004"
    assert verdict_text(0.246, wasserstein, 0.1, drifted=True) == "0.246"


def test_model_page_draws_higher_and_lower_is_better_apart(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch, "vera@modelgov.demo", "pages/model.py")
    at.selectbox(key="model_pick").select("credit-default").run()
    assert not at.exception
    higher, lower = by_key(at, "model_metrics_higher"), by_key(at, "model_metrics_lower")
    metrics = lambda fig: {x for t in fig["data"] for x in t["x"]}  # noqa: E731
    assert metrics(higher) == {"AUC", "KS", "accuracy"}
    assert metrics(lower) == {"Brier", "log loss"}
    assert "higher is better" in higher["layout"]["yaxis"]["title"]["text"]
    assert "lower is better" in lower["layout"]["yaxis"]["title"]["text"]
    assert "Higher is better" in texts(at) and "Lower is better" in texts(at)
    versions = table(at, "Estimator")
    assert {"AUC", "Brier", "Version", "Created"} <= set(versions.columns)


def test_model_page_speaks_of_the_live_champion_after_a_new_deployment(demo_store, demo_people, monkeypatch):
    p = demo_people
    at = open_app(demo_store.home, monkeypatch, "vera@modelgov.demo", "pages/model.py")
    at.selectbox(key="model_pick").select("credit-default").run()
    old = next(m.value for m in at.markdown if m.value.startswith("**Production**"))
    assert "champion version 1" in old and "in shadow: version 2" in old

    r = approvals.request_deployment(demo_store, p["ada"], "credit-default", 2, "production", "champion",
                                     "Promote the logistic model.")
    for ro in (p["rita"], p["raj"]):
        approvals.approve(demo_store, ro, r.id, "Reviewed.", override_reason="Test of the page, not of the policy.")
    deployments.deploy(demo_store, p["ada"], r.id)

    at = open_app(demo_store.home, monkeypatch, "vera@modelgov.demo", "pages/model.py")
    at.selectbox(key="model_pick").select("credit-default").run()
    line = next(m.value for m in at.markdown if m.value.startswith("**Production**"))
    assert "champion version 2" in line and "not monitored yet" in line and "shadow" not in line
    assert line != old

    checks.check(demo_store, p["ada"], "credit-default", 2)
    at = open_app(demo_store.home, monkeypatch, "vera@modelgov.demo", "pages/model.py")
    at.selectbox(key="model_pick").select("credit-default").run()
    line = next(m.value for m in at.markdown if m.value.startswith("**Production**"))
    from core.monitoring.health import health
    h = health(demo_store)["credit-default"]
    assert h["version"] == 2
    assert "champion version 2" in line and f"{h['status']} {h['score']}" in line
