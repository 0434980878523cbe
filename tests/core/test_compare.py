"""Hold-out comparisons of registered versions, stored evidence, production mode and the CLI contract."""

from __future__ import annotations

import json
import types

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.tree import DecisionTreeClassifier

from core.compare import holdout as compare_holdout
from core.compare import production
from core.compare import stored as compare_stored
from core.errors import Forbidden, InvalidInput, NotFound
from core.registry import versions
from tests.conftest import make_version, synthetic_classification, synthetic_regression


@pytest.fixture
def two_versions(store, people):
    v1 = make_version(store, people["ds"], "toy-model", seed=0)
    df = synthetic_classification(seed=1)
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(df[["x1", "x2"]], df["y"])
    v2 = versions.register_version(store, people["ds2"], "toy-model", tree, df, "y")
    return v1, v2


@pytest.fixture
def holdout(tmp_path):
    df = synthetic_classification(n=800, seed=9)
    df["region"] = np.where(df["x1"] > 0.5, "north", np.where(df["x2"] > 0, "south", "east"))
    path = tmp_path / "holdout.csv"
    df.to_csv(path, index=False)
    return df, path


def test_holdout_scores_both_versions_on_the_same_rows(store, two_versions, holdout):
    v1, v2 = two_versions
    df, path = holdout
    r = compare_holdout.compare_holdout(store, "toy-model:1", "toy-model:2", path, "y", segment="region", bootstrap=200)
    _, m1 = versions.load_model(store, "toy-model", 1)
    _, m2 = versions.load_model(store, "toy-model", 2)
    s1, s2 = m1.predict_proba(df[["x1", "x2"]])[:, 1], m2.predict_proba(df[["x1", "x2"]])[:, 1]
    assert r["champion"]["auc"] == pytest.approx(skm.roc_auc_score(df["y"], s1))
    assert r["challenger"]["auc"] == pytest.approx(skm.roc_auc_score(df["y"], s2))
    assert r["challenger"]["log_loss"] == pytest.approx(skm.log_loss(df["y"], s2))
    assert r["agreement_rate"] == pytest.approx(np.mean((s1 >= 0.5) == (s2 >= 0.5)))
    assert r["rows"] == 800 and r["data"]["fingerprint"] and r["champion_sha256"] == v1.sha256
    assert {s["segment"] for s in r["segments"]} == {"north", "south", "east"}
    assert sum(s["rows"] for s in r["segments"]) == 800
    north = next(s for s in r["segments"] if s["segment"] == "north")
    mask = (df["region"] == "north").to_numpy()
    assert north["challenger"]["brier"] == pytest.approx(skm.brier_score_loss(df["y"][mask], s2[mask]))
    gaps = [d["gap"] for d in r["disagreements"]]
    assert gaps == sorted(gaps, reverse=True) and gaps[0] == pytest.approx(np.max(np.abs(s1 - s2)))
    assert set(r["curves"]["champion"]) == {"roc", "precision_recall", "calibration"}
    assert sum(r["distributions"]["challenger"]["positive"]) == int(df["y"].sum())


def test_numeric_segments_are_quantile_bins(store, two_versions, holdout):
    _, path = holdout
    r = compare_holdout.compare_holdout(store, "toy-model:1", "toy-model:2", path, "y", segment="x2", bootstrap=50)
    assert len(r["segments"]) == 5
    assert all(abs(s["rows"] - 160) <= 1 for s in r["segments"])


def test_regression_comparison(store, people, tmp_path):
    make_version(store, people["ds"], "reg-model", regression=True, seed=0)
    make_version(store, people["ds"], "reg-model", regression=True, seed=3)
    df = synthetic_regression(n=300, seed=11)
    r = compare_holdout.compare_holdout(store, "reg-model:1", "reg-model:2", df, "y", bootstrap=100)
    assert set(r["champion"]) == {"rmse", "mae", "r2"}
    assert "delong" not in r["tests"] and r["verdict"]


@pytest.mark.parametrize("args,error,words", [
    (("nope:1", "toy-model:2"), NotFound, "Model nope not found"),
    (("toy-model:1", "toy-model:9"), NotFound, "toy-model:9 not found"),
    (("toy-model", "toy-model:2"), InvalidInput, "MODEL:VERSION"),
])
def test_bad_references(store, two_versions, holdout, args, error, words):
    with pytest.raises(error, match=words):
        compare_holdout.compare_holdout(store, *args, holdout[1], "y", bootstrap=50)


def test_bad_inputs_say_what_to_do(store, two_versions, holdout, people):
    df, path = holdout
    with pytest.raises(InvalidInput, match="Target column 'nope' is not in the data"):
        compare_holdout.compare_holdout(store, "toy-model:1", "toy-model:2", path, "nope", bootstrap=50)
    with pytest.raises(InvalidInput, match="lacks column"):
        compare_holdout.compare_holdout(store, "toy-model:1", "toy-model:2", df.drop(columns=["x2"]), "y", bootstrap=50)
    with pytest.raises(InvalidInput, match="Bootstrap replicates"):
        compare_holdout.compare_holdout(store, "toy-model:1", "toy-model:2", path, "y", bootstrap=5)
    with pytest.raises(InvalidInput, match="never saw"):
        compare_holdout.compare_holdout(store, "toy-model:1", "toy-model:2", df.assign(y=df["y"] + 5), "y", bootstrap=50)
    make_version(store, people["ds"], "reg-model", regression=True)
    with pytest.raises(InvalidInput, match="same kind"):
        compare_holdout.compare_holdout(store, "toy-model:1", "reg-model:1", path, "y", bootstrap=50)


def test_saved_comparison_is_audited_and_feeds_the_evidence_pack(store, two_versions, holdout, people):
    r = compare_holdout.compare_holdout(store, "toy-model:1", "toy-model:2", holdout[1], "y", bootstrap=100)
    assert compare_stored.comparison_for_evidence(store, "toy-model:2") is None
    cid = compare_stored.save_comparison(store, people["viewer"], r)
    ev = compare_stored.comparison_for_evidence(store, "toy-model:2")
    json.dumps(ev, allow_nan=False)  # JSON-safe: no NaN, no numpy
    assert ev["id"] == cid and ev["champion"] == "toy-model:1" and ev["challenger"] == "toy-model:2"
    assert ev["data_fingerprint"] == r["data"]["fingerprint"] and ev["challenger_sha256"] == r["challenger_sha256"]
    assert ev["result"]["difference"]["auc"]["ci_low"] == pytest.approx(r["difference"]["auc"]["ci_low"])
    assert "curves" not in ev["result"] and "curves" in compare_stored.get_comparison(store, cid)["result"]
    with store.read() as con:
        row = con.execute("SELECT actor, action, entity_id, CAST(payload AS VARCHAR) FROM audit_log"
                          " ORDER BY seq DESC LIMIT 1").fetchone()
    assert row[:3] == (people["viewer"].email, "comparison.record", "toy-model:2")
    assert json.loads(row[3])["comparison_id"] == cid
    cid2 = compare_stored.save_comparison(store, people["ds"], r)
    assert compare_stored.comparison_for_evidence(store, versions.get_model_version(store, "toy-model", 2))["id"] == cid2
    assert [c["id"] for c in compare_stored.list_comparisons(store, "toy-model")] == [cid2, cid]


def test_refused_save_writes_nothing(store, two_versions, holdout, people):
    r = compare_holdout.compare_holdout(store, "toy-model:1", "toy-model:2", holdout[1], "y", bootstrap=50)
    with pytest.raises(Forbidden):
        compare_stored.save_comparison(store, people["nobody"], r)
    with store.read() as con:
        assert con.execute("SELECT count(*) FROM comparisons").fetchone()[0] == 0
        assert con.execute("SELECT outcome FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()[0] == "refused"


def _deploy(store, v, role):
    with store.transaction() as con:
        con.execute("INSERT INTO deployments (version_id, environment, role, since, deployed_by)"
                    " VALUES (?, 'production', ?, now(), 'test')", [v.id, role])


def test_production_mode_without_deployments_or_traffic(store, two_versions, monkeypatch):
    v1, v2 = two_versions
    with pytest.raises(NotFound, match="No champion of toy-model is deployed in production"):
        production.compare_production(store, "toy-model")
    _deploy(store, v1, "champion")
    with pytest.raises(NotFound, match="no challenger running in shadow"):
        production.compare_production(store, "toy-model")
    _deploy(store, v2, "challenger")
    with pytest.raises(NotFound, match="No logged shadow traffic with outcomes for toy-model in production"):
        production.compare_production(store, "toy-model", window="7d")
    with pytest.raises(InvalidInput, match="Window"):
        production.compare_production(store, "toy-model", window="soon")
    with pytest.raises(NotFound, match="Model nope not found"):
        production.compare_production(store, "nope")


def test_production_mode_compares_aligned_shadow_scores(store, two_versions, monkeypatch):
    v1, v2 = two_versions
    _deploy(store, v1, "champion")
    _deploy(store, v2, "challenger")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    pairs = pd.DataFrame({"label": y, "champion_score": np.clip(0.3 * y + rng.random(500) * 0.7, 0, 1),
                          "challenger_score": np.clip(0.4 * y + rng.random(500) * 0.6, 0, 1)})
    seen = {}

    def shadow_pairs(store_, model, champion, challenger, environment, since):
        seen.update(model=model, champion=champion, challenger=challenger, env=environment, since=since)
        return pairs

    fake = types.ModuleType("core.monitoring.logs")
    fake.shadow_pairs = shadow_pairs
    monkeypatch.setattr(production, "monitoring_logs", fake)
    out = production.compare_production(store, "toy-model", window="24h", bootstrap=100)
    assert seen["champion"] == 1 and seen["challenger"] == 2 and seen["since"] is not None
    (r,) = out["comparisons"]
    assert r["challenger"]["auc"] == pytest.approx(skm.roc_auc_score(y, pairs["challenger_score"]))
    assert r["source"] == "production"


# -- CLI contract ------------------------------------------------------------------------------

def test_cli_contract(store, two_versions, holdout, cli):
    _, path = holdout
    res = cli(store, "compare", "toy-model:1", "toy-model:2", "--data", str(path), "--target", "y",
              "--segment", "region", "--bootstrap", "100", "--seed", "3", "--json")
    assert res.code == 0, res.err
    out = json.loads(res.out)
    for key in ("champion", "challenger", "difference", "agreement_rate", "verdict", "segments"):
        assert key in out
    assert set(out["difference"]["auc"]) >= {"estimate", "ci_low", "ci_high", "p_value"}
    assert out["comparison_id"] is None and "curves" not in out  # nobody named: not stored
    again = json.loads(cli(store, "compare", "toy-model:1", "toy-model:2", "--data", str(path), "--target", "y",
                           "--segment", "region", "--bootstrap", "100", "--seed", "3", "--json").out)
    assert again["difference"] == out["difference"]
    stored = cli(store, "compare", "toy-model:1", "toy-model:2", "--data", str(path), "--target", "y",
                 "--bootstrap", "100", "--json", as_="ada@example.com")
    assert stored.code == 0 and isinstance(json.loads(stored.out)["comparison_id"], int)
    text = cli(store, "compare", "toy-model:1", "toy-model:2", "--data", str(path), "--target", "y",
               "--bootstrap", "50")
    assert text.code == 0 and "Verdict:" in text.out and "AUC" in text.out


@pytest.mark.parametrize("args,code,words", [
    (("nope:1", "toy-model:2", "--target", "y"), 5, "Model nope not found"),
    (("toy-model:1", "toy-model:2", "--target", "missing"), 2, "Target column 'missing'"),
    (("toy-model:1", "--target", "y"), 2, "CHAMPION and CHALLENGER"),
    (("toy-model:1", "toy-model:2"), 2, "--target"),
    (("toy-model:1", "toy-model:2", "--target", "y", "--bootstrap", "3"), 2, "--bootstrap: 3 is out of range"),
])
def test_cli_exit_codes(store, two_versions, holdout, cli, args, code, words):
    res = cli(store, "compare", *args, "--data", str(holdout[1]))
    assert res.code == code and words in res.err and not res.out
    assert "Traceback" not in res.err


def test_cli_production_form(store, two_versions, cli):
    res = cli(store, "compare", "toy-model", "--env", "production", "--window", "7d", "--json")
    assert res.code == 5 and "No champion of toy-model" in res.err
    assert cli(store, "compare", "toy-model", "toy-model:2", "--env", "production").code == 2
    assert cli(store, "compare", "toy-model", "--env", "moon").code == 2


def test_demo_store_holds_a_comparison_for_the_challenger(demo_store):
    ev = compare_stored.comparison_for_evidence(demo_store, "credit-default:2")
    assert ev["created_by"] == "grace@modelgov.demo" and ev["champion"] == "credit-default:1"
    assert ev["result"]["verdict_summary"] == "champion_better"  # the logistic challenger is weaker on every metric
    assert [s["segment"] for s in ev["result"]["segments"]][:2] == ["2", "1"]
