"""Lineage-aware drift (issue 21) on the demo store, whose imported pipelines carry column lineage: a drifted
input of credit-default names its source column in the core banking system and the jobs between, and the other
live model trained on the same snapshot (credit-limit-advisor) is named where it reads the same source."""

from __future__ import annotations

from core.governance import live
from core.monitoring import checks, drift_sources
from core.registry.versions import get_model_version


def test_a_drifted_input_names_its_source_and_the_jobs_between(demo_store):
    rev = checks.review(demo_store, "credit-default", 1)
    traced = rev["summary"]["drift_sources"]
    assert "LIMIT_BAL" in rev["summary"]["drifted_columns"] and set(traced) <= set(rev["summary"]["drifted_columns"])
    limit = traced["LIMIT_BAL"]
    assert [(s["name"], s["via"]) for s in limit["sources"]] == [
        ("cards.accounts.credit_limit", ["cards_daily_snapshot", "credit_default_training_split"])]
    assert limit["readers"] == [] and limit["sentence"].endswith("no other live model reads it.")
    assert limit["sentence"].startswith("LIMIT_BAL comes from cards.accounts.credit_limit via cards_daily_snapshot "
                                        "and credit_default_training_split")


def test_other_live_models_reading_the_same_source_are_named(demo_store):
    """credit-limit-advisor (live in production) is trained on the same monthly snapshot and reads BILL_AMT1 and
    PAY_0 (repayment status), which drifts in the demo's traffic."""
    assert any(d.model == "credit-limit-advisor" and d.environment == "production" for d in live.live(demo_store))
    v = get_model_version(demo_store, "credit-default", 1)
    with demo_store.read() as con:
        traced = drift_sources.trace_tx(con, v, ["BILL_AMT1", "PAY_0", "EDUCATION"])
    assert set(traced) == {"BILL_AMT1", "PAY_0"}  # EDUCATION carries no column lineage in the demo
    assert [(r["model"], r["environment"], r["inputs"]) for r in traced["BILL_AMT1"]["readers"]] == [
        ("credit-limit-advisor", "production", ["BILL_AMT1"])]
    assert traced["BILL_AMT1"]["sentence"] == (
        "BILL_AMT1 comes from cards.statements.bill_amount_m1 via cards_daily_snapshot and "
        "credit_default_training_split; 1 other production model reads that column (credit-limit-advisor).")
    assert [r["model"] for r in traced["PAY_0"]["readers"]] == ["credit-limit-advisor"]
    rev = checks.review(demo_store, "credit-default", 1)
    assert "PAY_0" in rev["summary"]["drift_sources"]  # drifted in the demo: the story shows on first run
    assert rev["summary"]["drift_sources"]["PAY_0"]["sentence"].endswith(
        "1 other production model reads that column (credit-limit-advisor).")


def test_the_drift_alert_names_the_source(demo_store, demo_people):
    from core.monitoring import alerts

    checks.check(demo_store, demo_people["ada"], "credit-default")  # the demo's own check raised it already
    drift = [a for a in alerts.alerts(demo_store, "credit-default", "open") if a.kind == "drift"]
    assert len(drift) == 1 and "LIMIT_BAL comes from cards.accounts.credit_limit via cards_daily_snapshot" in \
        drift[0].message
