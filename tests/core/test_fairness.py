"""Fairness (issue 18): numbers equal fairlearn's, the declaration on the card, the CLI contract, the policy check,
the evidence pack and the production alert."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import mean_absolute_error, precision_score, roc_auc_score

from core.errors import Forbidden, InvalidInput
from core.fairness import attributes, metrics, report
from core.fairness.words import attribute_sentence
from core.governance import approvals, evidence, policy
from core.monitoring import alerts, logs
from core.registry import versions

VERA = "vera@example.com"


def _random(n=600, seed=0):
    rng = np.random.default_rng(seed)
    g = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    s = np.clip(np.round(rng.random(n) * 0.8 + (g == "b") * 0.15, 2), 0, 1)  # ties on purpose
    y = (rng.random(n) < s).astype(int)
    return s, y, g


def test_group_metrics_equal_fairlearn():
    threshold = 0.3  # not the default: the threshold is applied as fairlearn's y_pred is built (score >= T)
    s, y, g = _random()
    r = metrics.group_metrics(s, y, g, threshold=threshold, bootstrap=50, min_group_size=10)
    pred = (s >= threshold).astype(int)
    mf = MetricFrame(metrics={"selection_rate": selection_rate, "tpr": true_positive_rate,
                              "fpr": false_positive_rate, "precision": precision_score},
                     y_true=y, y_pred=pred, sensitive_features=g)
    auc = MetricFrame(metrics=roc_auc_score, y_true=y, y_pred=s, sensitive_features=g).by_group
    for row in r["groups"]:
        ref = mf.by_group.loc[row["group"]]
        for k in ("selection_rate", "tpr", "fpr", "precision"):
            assert row[k] == pytest.approx(ref[k], abs=1e-12), k
        m = g == row["group"]
        assert row["auc"] == pytest.approx(auc.loc[row["group"]], abs=1e-12)
        assert row["mean_score"] == pytest.approx(s[m].mean(), abs=1e-12)
        assert row["observed_rate"] == pytest.approx(y[m].mean(), abs=1e-12)
        assert row["n"] == m.sum() and not row["small"]
        lo, hi = row["ci"]["selection_rate"]
        assert lo <= row["selection_rate"] <= hi
    assert r["demographic_parity_ratio"] == pytest.approx(demographic_parity_ratio(y, pred, sensitive_features=g))
    assert r["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(y, pred, sensitive_features=g))
    assert r["equalized_odds_difference"] == pytest.approx(equalized_odds_difference(y, pred, sensitive_features=g))


def test_small_groups_are_flagged_shown_and_left_out_of_the_disparities():
    s, y, g = _random()
    g = g.astype(object)
    g[:12] = "tiny"
    r = metrics.group_metrics(s, y, g, bootstrap=50, min_group_size=30)
    tiny = next(x for x in r["groups"] if x["group"] == "tiny")
    assert tiny["small"] and tiny["n"] == 12 and r["excluded_groups"] == ["tiny"]
    keep = g != "tiny"
    pred = (s >= 0.5).astype(int)
    assert r["demographic_parity_ratio"] == pytest.approx(
        demographic_parity_ratio(y[keep], pred[keep], sensitive_features=g[keep]))
    assert r["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(y[keep], pred[keep], sensitive_features=g[keep]))


def test_groups_without_outcomes_yet_are_judged_on_what_was_predicted():
    s, y, g = _random()
    y = np.full(len(s), np.nan)  # production: outcomes arrive days later
    r = metrics.group_metrics(s, y, g, bootstrap=0, min_group_size=10)
    assert not any(x["small"] for x in r["groups"]) and all(x["few_outcomes"] for x in r["groups"])
    assert r["demographic_parity_ratio"] is not None and r["equalized_odds_difference"] is None
    assert all(x["tpr"] is None and x["ci"]["selection_rate"] is None for x in r["groups"])


def test_an_admin_sets_the_tiers_minimum_parity_ratio(store, cli):
    res = cli(store, "policies", "set", "high", "--min-parity-ratio", "0.8", "--json", as_="alan@example.com")
    assert res.code == 0, res.err
    assert json.loads(res.out)["min_parity_ratio"] == 0.8
    assert cli(store, "policies", "set", "high", "--min-parity-ratio", "1.5", as_="alan@example.com").code == 2
    assert cli(store, "policies", "set", "high", "--min-parity-ratio", "0.9", as_=VERA).code == 3


def test_favoured_group_ratio_and_sentence():
    s, y, g = _random()
    r = metrics.group_metrics(s, y, g, bootstrap=100, min_group_size=10)
    rates = {x["group"]: x["selection_rate"] for x in r["groups"]}
    fav = min(rates, key=rates.get)  # a positive prediction is adverse: the favoured group is selected least
    assert r["favoured_group"] == fav
    worst = max(r["groups"], key=lambda x: x["ratio_to_favoured"])
    assert worst["ratio_to_favoured"] == pytest.approx(rates[worst["group"]] / rates[fav])
    lo, hi = worst["ratio_to_favoured_ci"]
    assert lo < worst["ratio_to_favoured"] < hi
    text = attribute_sentence({"prediction_phrase": "predicted to default", "task": "binary_classification"},
                              {"attribute": "Group", **r})
    assert f"Group {worst['group']} is predicted to default" in text and f"(Group {fav};" in text


def test_regression_groups_equal_scikit_learn():
    rng = np.random.default_rng(3)
    g = rng.choice(["x", "y"], 300)
    y = rng.normal(size=300)
    p = y + rng.normal(scale=0.5, size=300) + (g == "y") * 0.3
    r = metrics.group_metrics(p, y, g, task="regression", bootstrap=50)
    for row in r["groups"]:
        m = g == row["group"]
        assert row["mean_prediction"] == pytest.approx(p[m].mean())
        assert row["mean_error"] == pytest.approx((p[m] - y[m]).mean())
        assert row["mae"] == pytest.approx(mean_absolute_error(y[m], p[m]))
    assert r["demographic_parity_ratio"] is None


def test_bands_labels_and_merged_codes():
    age = attributes.parse_attribute({"column": "AGE", "bands": [25, 35, 60]})
    groups, order = attributes.groups_of(age, pd.Series([20, 25, 34, 35, 59, 60, 80, None]))
    assert groups == ["under 25", "25–34", "25–34", "35–59", "35–59", "60+", "60+", "unknown"]
    assert order == ["under 25", "25–34", "35–59", "60+", "unknown"]
    default = attributes.parse_attribute("AGE")
    assert attributes.groups_of(default, pd.Series(range(18, 80)))[1] == attributes.band_labels(attributes.AGE_BANDS)
    edu = attributes.parse_attribute({"column": "EDUCATION", "labels": {"1": "graduate", "0": "other", "5": "other"}})
    groups, order = attributes.groups_of(edu, pd.Series([1.0, 0.0, 5.0, 2.0]))
    assert groups == ["graduate", "other", "other", "2"] and order == ["other", "graduate", "2"]
    with pytest.raises(InvalidInput, match="increasing"):
        attributes.parse_attribute({"column": "AGE", "bands": [40, 30]})


# --- a small real model on a temporary store ------------------------------------------------------------------

def _people_data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"x1": rng.normal(size=n), "age": rng.integers(18, 80, n), "sex": rng.choice([1, 2], n)})
    df["y"] = (df["x1"] + (df["age"] < 30) * 0.8 + rng.normal(scale=0.8, size=n) > 0.3).astype(int)
    df["row_id"] = [f"r{i}" for i in range(n)]
    return df


@pytest.fixture
def fair_model(store, people):
    df = _people_data()
    train, test = df.iloc[:250], df.iloc[250:].reset_index(drop=True)
    est = LogisticRegression().fit(train[["x1", "age"]], train["y"])
    versions.register_version(store, people["ds"], "lending", est, train[["x1", "age", "y"]], "y",
                              test_data=test[["x1", "age", "y"]])
    return test


def test_declare_needs_a_data_scientist_checks_columns_and_is_audited(store, people, fair_model):
    with pytest.raises(Forbidden):
        attributes.declare(store, people["viewer"], "lending", ["age"])
    with pytest.raises(InvalidInput, match="no column sex"):
        attributes.declare(store, people["ds"], "lending", ["sex"])
    extra = fair_model[["row_id", "sex"]]
    done = attributes.declare(store, people["ds"], "lending", [{"column": "age", "bands": [30, 50]},
                                                               {"column": "sex", "labels": {"1": "m", "2": "f"}}],
                              attribute_file=extra, id_column="row_id", prediction_phrase="predicted to repay")
    assert [a.name for a in done.attributes] == ["age", "sex"] and done.attribute_dataset_id is not None
    with store.read() as con:
        actions = [r[0] for r in con.execute("SELECT action FROM audit_log ORDER BY seq").fetchall()]
    assert "fairness.declare" in actions and actions.count("fairness.declare") >= 2  # the refusal and the success


def test_cli_contract_fields_exit_codes_and_attribute_file(store, people, fair_model, cli, tmp_path):
    data, attrs = tmp_path / "test.csv", tmp_path / "attrs.csv"
    fair_model[["row_id", "x1", "age", "y"]].to_csv(data, index=False)
    fair_model[["row_id", "sex"]].to_csv(attrs, index=False)
    res = cli(store, "fairness", "lending:1", "--data", str(data), "--target", "y", "--sensitive", "age,sex",
              "--attributes", str(attrs), "--id-column", "row_id", "--bootstrap", "50", "--json", as_=VERA)
    assert res.code == 0, res.err
    out = json.loads(res.out)
    assert {"model", "version", "threshold", "attributes"} <= set(out) and out["threshold"] == 0.5
    a = out["attributes"][0]
    assert {"attribute", "groups", "demographic_parity_ratio", "demographic_parity_difference",
            "equalized_odds_difference"} <= set(a)
    assert {"group", "n", "selection_rate", "tpr", "fpr", "precision", "auc", "mean_score", "observed_rate",
            "small"} <= set(a["groups"][0])
    # the numbers are fairlearn's on the same rows, banded as declared by default (age: AGE_BANDS)
    est = versions.load_model(store, "lending", 1)[1]
    pred = (est.predict_proba(fair_model[["x1", "age"]])[:, 1] >= 0.5).astype(int)
    sex = fair_model["sex"].astype(str)
    b = out["attributes"][1]
    assert b["demographic_parity_ratio"] == pytest.approx(
        demographic_parity_ratio(fair_model["y"], pred, sensitive_features=sex))
    low = min(x["demographic_parity_ratio"] for x in out["attributes"] if x["demographic_parity_ratio"])
    gate = cli(store, "fairness", "lending:1", "--data", str(data), "--target", "y", "--sensitive", "sex",
               "--attributes", str(attrs), "--id-column", "row_id", "--bootstrap", "50",
               "--fail-below", "0.999", "--json", as_=VERA)
    assert gate.code == (1 if b["demographic_parity_ratio"] < 0.999 else 0)
    assert json.loads(gate.out)["failing"] == (["sex"] if b["demographic_parity_ratio"] < 0.999 else [])
    assert low > 0
    bad = cli(store, "fairness", "lending:1", "--data", str(data), "--target", "y", "--sensitive", "sex", as_=VERA)
    assert bad.code == 2 and "attribute file" in bad.err and "Traceback" not in bad.err
    assert cli(store, "fairness", "lending:1", "--threshold", "2", "--sensitive", "age", as_=VERA).code == 2
    assert cli(store, "fairness", "lending:1", "--sensitive", "age", as_="nobody@example.com").code == 3


def test_regression_and_holdout_reports(store, people):
    df = _people_data()
    df["amount"] = df["x1"] * 3 + df["age"] / 10
    est = LinearRegression().fit(df[["x1", "age"]].iloc[:250], df["amount"].iloc[:250])
    versions.register_version(store, people["ds"], "limits", est, df[["x1", "age", "amount"]].iloc[:250], "amount",
                              test_data=df[["x1", "age", "amount"]].iloc[250:])
    r = report.fairness_on_holdout(store, people["viewer"], "limits", sensitive="age", bootstrap=50)
    g = r["attributes"][0]["groups"]
    assert r["task"] == "regression" and {"mean_prediction", "mean_error", "mae"} <= set(g[0])
    assert sum(x["n"] for x in g) == 150


def test_policy_check_fails_passes_or_is_not_evaluated():
    pol = policy.Policy("high", None, None, None, [], 2, 365, 30, "alan@example.com", None, min_parity_ratio=0.8)
    section = {"rows": 900, "task": "binary_classification",
               "attributes": [{"attribute": "Age", "demographic_parity_ratio": 0.6},
                              {"attribute": "Sex", "demographic_parity_ratio": 0.9}]}
    c = policy.fairness_check(pol, section, "")
    assert c["status"] == "fail" and c["value"] == 0.6 and "Age 0.60" in c["detail"]
    section["attributes"][0]["demographic_parity_ratio"] = 0.85
    assert policy.fairness_check(pol, section, "")["status"] == "pass"
    assert policy.fairness_check(pol, None, "declare them")["status"] == "not evaluated"


# --- the demo: declared, checked at approval, alerted in production ---------------------------------------------

def test_demo_declares_the_credit_attributes_and_the_pack_carries_the_failing_check(demo_store, demo_people):
    s = attributes.get_settings(demo_store, "credit-default")
    assert [a.column for a in s.attributes] == ["SEX", "AGE", "MARRIAGE", "EDUCATION"]
    r = approvals.list_requests(demo_store, demo_people["rita"])
    first = min((x for x in r if x.model == "credit-default" and x.version == 1), key=lambda x: x.id)
    pack = evidence.evidence(demo_store, demo_people["rita"], first.id)
    check = next(c for c in pack["checks"] if c["check"].startswith("fairness"))
    assert check["status"] == "fail" and pack["fairness"]["attributes"][0]["groups"]
    assert any(d.override_reason for d in first.decisions)


def test_production_rows_equal_fairlearn_and_the_demo_raised_a_fairness_alert(demo_store, demo_people):
    rows = logs.scored_rows(demo_store, "credit-default", 1, columns=["SEX"])
    assert {"request_id", "ts", "score", "label", "SEX"} <= set(rows.columns) and rows["label"].isna().any()
    r = report.fairness_in_production(demo_store, demo_people["vera"], "credit-default", 1, sensitive="Sex",
                                      days=None, bootstrap=50)
    lab = rows.dropna(subset=["label"])
    sex = lab["SEX"].map({1: "male", 2: "female"})
    pred = (lab["score"] >= 0.5).astype(int)
    sel = MetricFrame(metrics=selection_rate, y_true=rows["score"] * 0, y_pred=(rows["score"] >= 0.5).astype(int),
                      sensitive_features=rows["SEX"].map({1: "male", 2: "female"})).by_group
    tpr = MetricFrame(metrics=true_positive_rate, y_true=lab["label"], y_pred=pred, sensitive_features=sex).by_group
    for g in r["attributes"][0]["groups"]:
        assert g["selection_rate"] == pytest.approx(sel[g["group"]]) and g["tpr"] == pytest.approx(tpr[g["group"]])
    kinds = {a.kind for a in alerts.alerts(demo_store, "credit-default")}
    assert "fairness" in kinds


def test_production_joins_an_attribute_file_by_request_id(store, people, fair_model, tmp_path):
    """The lawful case: the model never sees `sex`; the card's attribute file supplies it by request id."""
    from core.monitoring import ingest

    served = fair_model.rename(columns={"row_id": "request_id"}).assign(ts="2026-01-05 10:00:00")
    est = versions.load_model(store, "lending", 1)[1]
    served["score"] = est.predict_proba(served[["x1", "age"]])[:, 1]
    f = tmp_path / "served.csv"
    served[["request_id", "ts", "x1", "age", "score"]].to_csv(f, index=False)
    ingest.log_predictions(store, people["ds"], "lending", 1, f, time_column="ts", id_column="request_id",
                           prediction_column=None, environment="production", refresh_snapshots=False)
    attributes.declare(store, people["ds"], "lending", ["sex"], attribute_file=served[["request_id", "sex"]],
                       id_column="request_id")
    r = report.fairness_in_production(store, people["viewer"], "lending", 1, days=None, bootstrap=0)
    pred = (served["score"] >= 0.5).astype(int)
    a = r["attributes"][0]
    assert a["attribute"] == "sex" and sum(g["n"] for g in a["groups"]) == len(served)
    assert a["demographic_parity_ratio"] == pytest.approx(
        demographic_parity_ratio(served["y"], pred, sensitive_features=served["sex"].astype(str)))
