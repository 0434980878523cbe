"""Prediction logs, rejections, shadow scoring, outcomes, performance against scikit-learn, alerts and health."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.explain import explanations
from core.governance import live
from core.monitoring import alerts, checks, health, ingest, logs, report
from core.registry import versions
from tests.conftest import logs_relation, outcomes_relation


def _traffic(store, n=200):
    v = versions.get_model_version(store, "credit-default", 1)
    frame, _ = explanations.default_data(store, v)
    return frame.head(n).reset_index(drop=True)


def test_scoring_logs_champion_and_shadow_challenger_with_the_same_ids(demo_store, demo_people, tmp_path):
    rows = _traffic(demo_store)
    rows["rid"] = [f"t-{i}" for i in range(len(rows))]
    f = tmp_path / "in.csv"
    rows.drop(columns=["default"]).to_csv(f, index=False)
    r = ingest.score_file(demo_store, demo_people["ada"], "credit-default", None, f, id_column="rid",
                              output=tmp_path / "out.csv")
    assert (r.rows_in, r.rows_ok, r.rows_rejected) == (200, 200, 0)
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out.columns) == ["request_id", "score_v1", "score_v2"] and len(out) == 200
    _v, est = versions.load_model(demo_store, "credit-default", 1)
    np.testing.assert_allclose(out["score_v1"], est.predict_proba(rows[_v.feature_names])[:, 1], atol=1e-12)
    outcomes = tmp_path / "labels.csv"
    rows[["rid", "default"]].to_csv(outcomes, index=False)
    ingest.log_outcomes(demo_store, demo_people["ada"], "credit-default", outcomes, id_column="rid",
                            label_column="default")
    pairs = logs.shadow_pairs(demo_store, "credit-default", 1, 2, "production", None)
    mine = pairs.iloc[-200:] if len(pairs) >= 200 else pairs
    assert len(pairs) >= 200 and set(pairs.columns) == {"label", "champion_score", "challenger_score"}
    assert mine["label"].isin([0, 1]).all()


def test_rows_that_do_not_fit_are_rejected_counted_and_kept(demo_store, demo_people, tmp_path):
    rows = _traffic(demo_store, 50).drop(columns=["default"]).astype(object)
    rows.loc[3, "AGE"] = "forty"
    rows.loc[7, "PAY_0"] = 1.5  # not an integer
    rows.loc[9, "LIMIT_BAL"] = ""
    f = tmp_path / "bad.csv"
    rows.to_csv(f, index=False)
    r = ingest.log_predictions(demo_store, demo_people["ada"], "credit-default", 1, f)
    assert r.rows_in == 50 and r.rows_rejected == 2 and r.rows_ok == 48
    assert r.reasons == {"AGE: not an integer": 1, "PAY_0: not an integer": 1}
    with demo_store.read() as con:
        kept = con.execute("SELECT row_number, reason FROM ingest_rejections WHERE ingest_id = ? ORDER BY 1",
                           [r.ingest_id]).fetchall()
    assert kept == [(4, "AGE: not an integer"), (8, "PAY_0: not an integer")]
    with pytest.raises(InvalidInput, match="lacks 1 input column"):
        g = tmp_path / "short.csv"
        rows.drop(columns=["SEX"]).to_csv(g, index=False)
        ingest.log_predictions(demo_store, demo_people["ada"], "credit-default", 1, g)
    with pytest.raises(Forbidden):
        ingest.log_predictions(demo_store, demo_people["vera"], "credit-default", 1, f)


def test_outcomes_for_unknown_ids_are_rejected(demo_store, demo_people, tmp_path):
    f = tmp_path / "labels.csv"
    pd.DataFrame({"id": ["cd-000001", "nope", "cd-000002", "cd-000002"], "y": [1, 0, "x", 0]}).to_csv(f, index=False)
    r = ingest.log_outcomes(demo_store, demo_people["ada"], "credit-default", f, id_column="id", label_column="y")
    assert r.rows_ok == 2 and r.reasons["no logged prediction with this request id"] == 1
    assert r.reasons["y: not a number"] == 1


def test_performance_over_time_equals_scikit_learn(demo_store):
    res = report.monitor(demo_store, "credit-default", environment="production")
    tbl = logs_relation(demo_store, "credit-default", 1)
    with demo_store.data() as con:
        d = con.execute(f"""SELECT CAST(date_trunc('day', l.ts) AS VARCHAR) w, l.score s, o.label y FROM {tbl} l
                            JOIN {outcomes_relation(demo_store, "credit-default")} o ON o.request_id = l.request_id
                            WHERE l.environment = 'production'""").df()
    for p in res["performance"][:5]:
        day = d[d["w"] == p["window"]]
        assert p["labelled"] == len(day)
        assert p["auc"] == pytest.approx(roc_auc_score(day["y"], day["s"]), abs=1e-12)
        assert p["brier"] == pytest.approx(brier_score_loss(day["y"], day["s"]), abs=1e-12)
    assert res["rows"] == 3000 and len(res["drift"]["windows"]) >= 28
    assert {"LIMIT_BAL", "PAY_0"} <= {c["column"] for c in res["recent_drift"]["columns"] if c["drifted"]}


def test_the_demo_raises_alerts_that_people_acknowledge_and_resolve(demo_store, demo_people):
    active = alerts.alerts(demo_store, "credit-default", "active")
    kinds = {a.kind for a in active}
    assert {"drift", "performance"} <= kinds
    a = active[0]
    with pytest.raises(Forbidden):
        alerts.update_alert(demo_store, demo_people["vera"], a.id, "acknowledge")
    assert alerts.update_alert(demo_store, demo_people["ada"], a.id, "acknowledge", "looking").status == "acknowledged"
    assert alerts.update_alert(demo_store, demo_people["rita"], a.id, "resolve", "retraining").status == "resolved"
    with pytest.raises(Conflict):
        alerts.update_alert(demo_store, demo_people["rita"], a.id, "resolve")
    # a new check does not duplicate alerts that are still open
    before = len(alerts.alerts(demo_store, "credit-default"))
    checks.check(demo_store, demo_people["ada"], "credit-default")
    assert len(alerts.alerts(demo_store, "credit-default")) <= before + 1


def test_health_explains_itself(demo_store):
    h = health.health(demo_store)["credit-default"]
    assert h["status"] in ("amber", "red") and 0 <= h["score"] < 80
    assert any("drifted" in r for r in h["reasons"]) and any("AUC down" in r for r in h["reasons"])
    assert set(h["components"]) == set(health.HEALTH_WEIGHTS)


def test_scoring_needs_a_champion_or_a_version(demo_store, demo_people, tmp_path):
    f = tmp_path / "x.csv"
    _traffic(demo_store, 5).drop(columns=["default"]).to_csv(f, index=False)
    with pytest.raises(NotFound, match="no champion deployed in staging"):
        ingest.score_file(demo_store, demo_people["ada"], "credit-default", None, f, environment="staging")
    assert live.champion(demo_store, "credit-default", "production").version == 1


def test_cli_score_monitor_and_alerts(demo_store, cli, tmp_path):
    f = tmp_path / "in.csv"
    _traffic(demo_store, 20).drop(columns=["default"]).to_csv(f, index=False)
    res = cli(demo_store, "score", "credit-default", "--input", str(f), "--json", as_="ada@modelgov.demo")
    assert res.code == 0, res.err
    assert json.loads(res.out)["logged"] == 20
    res = cli(demo_store, "monitor", "credit-default", "--json", "--no-store")
    assert res.code == 0, res.err
    out = json.loads(res.out)
    assert {"drift", "performance", "volume", "data_quality", "summary"} <= set(out)
    assert "inputs have shifted" in out["summary"]["sentence"]
    res = cli(demo_store, "alerts", "list", "--status", "active", "--json")
    assert res.code == 0 and json.loads(res.out)
    res = cli(demo_store, "score", "no-such-model", "--input", str(f), as_="ada@modelgov.demo")
    assert res.code == 5 and "Traceback" not in res.err


def test_drift_settings_per_model_and_column(demo_store, demo_people, cli, tmp_path):
    f = tmp_path / "cfg.json"
    f.write_text(json.dumps({"columns": {"LIMIT_BAL": {"method": "psi", "threshold": 0.5}}, "drift_share": 0.4}))
    assert cli(demo_store, "monitor-config", "credit-default", "--config", str(f), as_="ada@modelgov.demo").code == 3
    res = cli(demo_store, "monitor-config", "credit-default", "--config", str(f), "--json", as_="alan@modelgov.demo")
    assert res.code == 0 and json.loads(res.out)["drift_share"] == 0.4
    res = report.monitor(demo_store, "credit-default")
    limit = next(c for c in res["recent_drift"]["columns"] if c["column"] == "LIMIT_BAL")
    assert limit["method"] == "psi" and limit["threshold"] == 0.5 and limit["drifted"] == (limit["psi"] >= 0.5)
    f.write_text(json.dumps({"columns": {"AGE": {"method": "magic"}}}))
    res = cli(demo_store, "monitor-config", "credit-default", "--config", str(f), as_="alan@modelgov.demo")
    assert res.code == 2 and "method must be one of" in res.err


def test_recent_production_rows_can_be_explained_next_to_the_reference(demo_store, demo_people):

    rows = logs.recent_rows(demo_store, "credit-default", 1, days=7, limit=150)
    assert len(rows) == 150 and list(rows.columns) == versions.get_model_version(demo_store, "credit-default", 1).feature_names
    prod = explanations.explain(demo_store, demo_people["ada"], "credit-default", 1, rows, rows=None,
                           label="production, last 7 days")
    assert prod.data_ref == "production, last 7 days" and prod.additivity_ok
