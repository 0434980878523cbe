"""Lineage impact: the sentence comes from core and agrees with the list below it (issue 14)."""

from __future__ import annotations

from core.governance import live
from core.lineage import graph
from tests.app.test_foundation_pages import open_app


def test_a_live_versions_impact_never_says_nothing_depends(demo_store, monkeypatch):
    deployed = next(d for d in live.live(demo_store, environment="production"))
    focus = f"model:{deployed.model}:{deployed.version}"
    at = open_app(demo_store.home, monkeypatch, "vera@modelgov.demo", "pages/lineage.py")
    at.selectbox(key="lin_focus").select(focus)
    at.run()
    assert not at.exception, at.exception
    sentence = " ".join(str(b.value) for b in (*at.warning, *at.info) if "depend" in str(b.value))
    assert sentence == graph.impact_summary(graph.impact(demo_store, focus))
    assert "Nothing" not in sentence and "in production" in sentence and deployed.model in sentence
    table = next(d.value for d in at.dataframe if "Hops" in d.value.columns)
    listed_live = table[(table["Live"] == "yes") & (table["Environment"] == "production")]
    assert f"deployment:{deployed.model}:production:{deployed.id}" in set(listed_live["Depends on it"])
    assert "None" not in table.astype(str).to_numpy().ravel().tolist()
    assert list(table.columns) == ["Depends on it", "Kind", "Hops", "Live", "Environment", "Role"]


def test_a_leaf_says_nothing_depends_above_an_empty_list(demo_store, monkeypatch):
    deployed = next(d for d in live.live(demo_store, environment="production"))
    focus = f"deployment:{deployed.model}:production:{deployed.id}"
    at = open_app(demo_store.home, monkeypatch, "vera@modelgov.demo", "pages/lineage.py")
    at.selectbox(key="lin_focus").select(focus)
    at.run()
    assert not at.exception, at.exception
    assert any(str(i.value).startswith("Nothing registered depends on") for i in at.info)
    assert not any("Hops" in d.value.columns for d in at.dataframe)
