"""The Monitoring page reads the stored review: a stale one says how old it is and how many rows arrived since,
with a Refresh button; a window nobody computed yet is computed once and kept."""

from __future__ import annotations

import pandas as pd

from core.audit import utcnow
from core.explain import explanations
from core.monitoring import ingest, snapshots
from core.registry import versions
from tests.app.test_foundation_pages import open_app, texts


def _log_unrefreshed(store, actor, tmp_path, n: int) -> None:
    v = versions.get_model_version(store, "credit-default", 1)
    frame, _ = explanations.default_data(store, v)
    rows = frame.head(n).drop(columns=["default"]).reset_index(drop=True)
    rows["rid"], rows["ts"] = [f"late-{i}" for i in range(n)], pd.Timestamp(utcnow()).floor("s")
    f = tmp_path / "late.csv"
    rows.to_csv(f, index=False)
    ingest.log_predictions(store, actor, "credit-default", 1, f, time_column="ts", id_column="rid",
                           environment="production", refresh_snapshots=False)


def test_a_current_review_shows_no_stale_caption_nor_refresh(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch, "vera@modelgov.demo", "pages/monitoring.py")
    assert "arrived, not counted" not in texts(at)
    assert not [b for b in at.button if b.key == "mon_refresh"]


def test_a_stale_review_says_how_old_and_refreshes_on_request(demo_store, demo_people, tmp_path, monkeypatch):
    _log_unrefreshed(demo_store, demo_people["ada"], tmp_path, 25)
    at = open_app(demo_store.home, monkeypatch, "vera@modelgov.demo", "pages/monitoring.py")
    caption = next(c.value for c in at.caption if "arrived, not counted" in c.value)
    assert caption.startswith("Computed ") and " ago from 3,000 logged predictions" in caption
    assert "since then 25 logged predictions arrived" in caption
    # The figures shown are the stored ones, as they were.
    assert any(m.label == "Logged predictions" and m.value == "3,000" for m in at.metric)
    refresh = next(b for b in at.button if b.key == "mon_refresh")
    refresh.click()
    at.run()
    assert not at.exception
    assert "arrived, not counted" not in texts(at)
    assert any(m.label == "Logged predictions" and m.value == "3,025" for m in at.metric)
    snap = snapshots.latest(demo_store, demo_people["vera"], "credit-default", 1, "production")
    assert snap.current and snap.computed_by == "vera@modelgov.demo"


def test_a_window_nobody_computed_is_computed_once_and_kept(demo_store, demo_people, monkeypatch):
    assert snapshots.latest(demo_store, demo_people["vera"], "credit-default", 1, "production", "week") is None
    at = open_app(demo_store.home, monkeypatch, "vera@modelgov.demo", "pages/monitoring.py")
    at.selectbox(key="mon_window").select("week")
    at.run()
    assert not at.exception
    snap = snapshots.latest(demo_store, demo_people["vera"], "credit-default", 1, "production", "week")
    assert snap is not None and snap.current
    assert any(m.label == "Logged predictions" and m.value == "3,000" for m in at.metric)
