"""The evidence pack on the Approvals page: the whole truth as words, tables and charts, never raw JSON."""

from __future__ import annotations

from core.governance import approvals
from core.identity import identity_for
from tests.app.test_foundation_pages import open_app, texts


def test_a_worse_challengers_pack_fails_and_reads_as_tables(demo_store, monkeypatch):
    grace = identity_for(demo_store, "grace@modelgov.demo")
    r = approvals.request_deployment(demo_store, grace, "credit-default", 2, "production", "champion",
                                     "Promote the interpretable model")
    at = open_app(demo_store.home, monkeypatch, "rita@modelgov.demo", "pages/approvals.py")
    at.selectbox(key="appr_queue_pick").set_value(r.id).run()
    assert not at.exception
    page = texts(at)
    assert "Every policy check passes" not in page
    assert any("comparison with the live champion" in w.value for w in at.warning)
    checks = next(d.value for d in at.dataframe if "Check" in d.value.columns)
    row = checks[checks["Check"] == "comparison with the live champion"].iloc[0]
    assert row["Result"] == "fail" and "significantly worse" in row["Detail"]
    drift = checks[checks["Check"] == "maximum drift"].iloc[0]
    assert drift["Result"] != "not evaluated", drift["Detail"]
    # the comparison and drift sections are tables and charts; the JSON only when asked for
    assert len(at.json) == 0
    assert any("Input" in d.value.columns and "Statistic" in d.value.columns for d in at.dataframe)
    assert len(at.get("plotly_chart")) >= 2
    at.toggle(key="appr_queue_pack_json_toggle").set_value(True).run()
    assert len(at.json) == 1
