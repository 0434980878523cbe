"""The Monitoring page under AppTest on the demo store's month of traffic."""

from __future__ import annotations

from core.monitoring import alerts
from tests.app.test_foundation_pages import open_app, texts


def test_monitoring_page_shows_the_shift_performance_and_alerts(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch, "ada@modelgov.demo", "pages/monitoring.py")
    assert at.title[0].value == "Monitoring"
    warning = " ".join(w.value for w in at.warning)
    assert "inputs have shifted since" in warning and "AUC is down" in warning
    assert "Simulated" in texts(at)
    assert any(m.label == "Logged predictions" and m.value == "3,000" for m in at.metric)
    assert len(at.get("plotly_chart")) == 1  # only the open tab (Drift) is drawn: its heatmap
    at.session_state["mon_tab"] = "Distributions"
    at.run()
    at.selectbox(key="mon_dist_col").select("LIMIT_BAL")
    at.run()
    assert not at.exception and len(at.get("plotly_chart")) == 1
    at.session_state["mon_tab"] = "Alerts"
    at.run()
    open_ = alerts.alerts(demo_store, "credit-default", "open")
    ack = next(b for b in at.button if b.key == f"mon_alerts_ack_{open_[0].id}")
    ack.click()
    at.run()
    assert not at.exception
    assert alerts.alerts(demo_store, "credit-default", "acknowledged")


def test_monitoring_page_empty_state(store, monkeypatch):
    at = open_app(store.home, monkeypatch, "vera@example.com", "pages/monitoring.py")
    assert "No logged predictions yet" in texts(at)
