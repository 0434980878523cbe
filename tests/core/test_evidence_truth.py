"""The evidence pack tells the whole truth: the comparison with the live champion and the version's own drift
are checks, and "Every policy check passes" only when every check was evaluated and passed (issue 14)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from core.compare import stored
from core.governance import approvals, deployments, evidence, evidence_report, policy
from core.registry import catalog, versions
from tests.conftest import make_version, synthetic_classification

CARD = {"intended_use": "Rank applicants", "limitations": "Synthetic", "training_data_summary": "Synthetic",
        "ethical_considerations": "Reviewed", "caveats": "None"}


def _check(pack, name):
    return next((c for c in pack["checks"] if c["check"] == name), None)


def _live_champion(store, people):
    """toy-model:1 (a real logistic model) live as production champion, with a full card (low tier)."""
    make_version(store, people["ds"], "toy-model", risk_tier="low")
    catalog.update_model(store, people["ds"], "toy-model", **CARD)
    r = approvals.request_deployment(store, people["ds"], "toy-model", 1, "production", "champion", "first")
    approvals.approve(store, people["ro"], r.id, "ok")
    deployments.deploy(store, people["ds"], r.id)


def _register(store, people, *, worse: bool):
    """toy-model:2: trained on shuffled labels (clearly worse) or on the same data (about as good)."""
    df = synthetic_classification(seed=0)
    train, test = df.iloc[:300].copy(), df.iloc[300:]
    if worse:
        train["y"] = np.random.default_rng(5).permutation(train["y"].to_numpy())
    est = LogisticRegression(C=0.5 if not worse else 1.0).fit(train[["x1", "x2"]], train["y"])
    versions.register_version(store, people["ds"], "toy-model", est, train, "y", test_data=test,
                              allow_duplicate=True)  # a test registers the same model twice on purpose
    return test


def _compare(store, people, test):
    big = pd.concat([synthetic_classification(n=3000, seed=9)], ignore_index=True)
    return stored.compare_and_record(store, people["ds"], "toy-model:1", "toy-model:2", big, "y", bootstrap=200)


def test_a_significantly_worse_challenger_fails_the_comparison_check(store, people):
    _live_champion(store, people)
    test = _register(store, people, worse=True)
    result = _compare(store, people, test)
    assert result["difference"]["auc"]["ci_high"] < 0  # the reference: the stored comparison itself says worse
    r = approvals.request_deployment(store, people["ds"], "toy-model", 2, "production", "champion", "promote")
    pack = evidence.evidence(store, people["ro"], r.id)
    check = _check(pack, "comparison with the live champion")
    assert check["status"] == "fail", check
    assert "significantly worse than the live champion toy-model:1 on AUC" in check["detail"]
    assert f"comparison {result['comparison_id']}" in check["detail"]
    assert pack["comparison"]["id"] == result["comparison_id"] and pack["comparison"]["champion"] == "toy-model:1"
    assert pack["verdict"]["status"] == "fail" and r.checks_failed >= 1
    html = evidence_report.evidence_html(store, people["ro"], r.id)
    assert "Every policy check passes" not in html and "comparison with the live champion" in html
    assert "<th>Challenger is</th>" in html and ">worse</td>" in html  # a table, not raw JSON
    assert '"difference": {' not in html


def test_an_uncompared_version_is_not_evaluated_and_says_what_to_run(store, people):
    _live_champion(store, people)
    _register(store, people, worse=False)
    r = approvals.request_deployment(store, people["ds"], "toy-model", 2, "production", "champion", "promote")
    pack = evidence.evidence(store, people["ro"], r.id)
    check = _check(pack, "comparison with the live champion")
    assert check["status"] == "not evaluated"
    assert "never compared with the live champion toy-model:1" in check["detail"]
    assert "modelgov compare toy-model:1 toy-model:2" in check["detail"]
    verdict = policy.checks_verdict(pack["checks"])
    assert verdict["status"] == "incomplete" and verdict["sentence"] != "Every policy check passes."


def test_a_comparison_with_another_champion_does_not_count(store, people):
    """A comparison of v3 against v2 says nothing about v3 against the live champion v1."""
    _live_champion(store, people)
    _register(store, people, worse=False)
    _register(store, people, worse=False)
    stored.compare_and_record(store, people["ds"], "toy-model:2", "toy-model:3",
                              synthetic_classification(n=500, seed=4), "y", bootstrap=50)
    r = approvals.request_deployment(store, people["ds"], "toy-model", 3, "production", "champion", "promote")
    pack = evidence.evidence(store, people["ro"], r.id)
    assert _check(pack, "comparison with the live champion")["status"] == "not evaluated"
    assert pack["comparison"]["champion"] == "toy-model:2"  # shown for context, not counted


def test_a_challenger_as_good_as_the_champion_passes(store, people):
    _live_champion(store, people)
    test = _register(store, people, worse=False)
    _compare(store, people, test)
    r = approvals.request_deployment(store, people["ds"], "toy-model", 2, "production", "champion", "promote")
    check = _check(evidence.evidence(store, people["ro"], r.id), "comparison with the live champion")
    assert check["status"] == "pass" and "not significantly worse" in check["detail"]


def test_the_first_champion_and_a_shadow_challenger(store, people):
    make_version(store, people["ds"], "toy-model", risk_tier="low")
    r = approvals.request_deployment(store, people["ds"], "toy-model", 1, "production", "champion", "first")
    check = _check(evidence.evidence(store, people["ro"], r.id), "comparison with the live champion")
    assert check["status"] == "pass" and "no champion is live in production" in check["detail"]
    shadow = approvals.request_deployment(store, people["ds"], "toy-model", 1, "staging", "challenger", "shadow")
    assert _check(evidence.evidence(store, people["ro"], shadow.id), "comparison with the live champion") is None


@pytest.mark.parametrize("checks, status", [
    ([{"check": "a", "status": "pass"}], "pass"),
    ([{"check": "a", "status": "pass"}, {"check": "b", "status": "not evaluated"}], "incomplete"),
    ([{"check": "a", "status": "fail"}, {"check": "b", "status": "not evaluated"}], "fail"),
    ([], "pass"),
])
def test_the_verdict_passes_only_when_every_check_was_evaluated_and_passed(checks, status):
    v = policy.checks_verdict(checks)
    assert v["status"] == status
    assert (v["sentence"] == "Every policy check passes.") == (status == "pass")


def test_the_demo_promotion_of_the_worse_challenger_shows_the_whole_truth(demo_store, demo_people):
    """The demo story: credit-default v2 (stored comparison: worse on every metric) runs in production shadow;
    proposing it as champion fails the comparison check, and its drift is measured on its own shadow rows."""
    r = approvals.request_deployment(demo_store, demo_people["grace"], "credit-default", 2, "production",
                                     "champion", "Promote the interpretable model")
    pack = evidence.evidence(demo_store, demo_people["rita"], r.id)
    comparison = _check(pack, "comparison with the live champion")
    assert comparison["status"] == "fail" and "credit-default:1" in comparison["detail"]
    drift = _check(pack, "maximum drift")
    assert drift["status"] in ("pass", "fail"), drift
    with demo_store.read() as con:
        shadow_rows = con.execute("SELECT count(*) FROM data_files f JOIN models m ON m.id = f.model_id WHERE "
                                  "m.name = 'credit-default' AND f.version = 2 AND f.kind = 'predictions'"
                                  ).fetchone()[0]
    assert shadow_rows >= 1 and pack["drift"]["rows"] > 0 and pack["drift"]["version"] == 2
    assert pack["verdict"]["status"] == "fail"
