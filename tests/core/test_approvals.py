"""The approval state machine: every allowed and forbidden transition, four eyes, policies, deploy, rollback,
re-certification, the frozen evidence pack, its HTML copy, and two processes deciding at once."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest

from core import users
from core.audit import utcnow
from core.errors import CheckFailed, Conflict, Forbidden, InvalidInput, NotFound
from core.governance import (
    approvals,
    deployments,
    evidence,
    evidence_report,
    live,
    policy,
    recertification,
)
from core.identity import identity_for
from core.registry import catalog
from core.registry import versions as registry_versions
from tests.conftest import make_version

ROOT = Path(__file__).resolve().parents[2]
FULL_CARD = {"intended_use": "Rank applicants", "limitations": "Not for minors",
             "training_data_summary": "Synthetic", "ethical_considerations": "Reviewed", "caveats": "None"}


def _model(store, people, name="risk-model", tier="medium", card=True, n=1):
    versions = [make_version(store, people["ds"], name, seed=i, risk_tier=tier) for i in range(n)]
    catalog.update_model(store, people["ds"], name, **(FULL_CARD if card else {}))
    return versions


def _refusals(store, action):
    with store.read() as con:
        return con.execute("SELECT actor, CAST(payload AS VARCHAR) FROM audit_log WHERE action = ? AND "
                           "outcome = 'refused' ORDER BY seq", [action]).fetchall()


def _approved(store, people, version=1, env="production", role="champion", name="risk-model"):
    r = approvals.request_deployment(store, people["ds"], name, version, env, role, "better on hold-out")
    return approvals.approve(store, people["ro"], r.id, "looks fine")


# --- the happy path ------------------------------------------------------------------------------------

def test_request_approve_deploy_makes_the_champion(store, people):
    (v,) = _model(store, people)
    r = approvals.request_deployment(store, people["ds"], "risk-model", v.version, "production", "champion",
                                     "first release")
    assert (r.status, r.approvals_needed, r.checks_failed) == ("pending", 1, 0)
    r = approvals.approve(store, people["ro"], r.id, "evidence is complete")
    assert r.status == "approved" and r.expires_at > utcnow() + timedelta(days=29)
    r = deployments.deploy(store, people["ds"], r.id)
    assert r.status == "deployed" and r.deployed_by == "ada@example.com"
    champ = live.champion(store, "risk-model", "production")
    assert (champ.version, champ.approval_id, champ.id) == (v.version, r.id, r.deployment_id)
    assert registry_versions.get_model_version(store, "risk-model", v.version).status == "production"
    with store.read() as con:
        actions = [a for (a,) in con.execute("SELECT action FROM audit_log WHERE outcome = 'ok' AND "
                                             "entity_type = 'approval' ORDER BY seq").fetchall()]
        edge = con.execute("SELECT relation FROM lineage_edges WHERE src = ? AND dst = ?",
                           [f"model:risk-model:{v.version}",
                            f"deployment:risk-model:production:{r.deployment_id}"]).fetchone()
    assert actions == ["approval.request", "approval.approve", "deploy"]
    assert edge == ("deployed_as",)


def test_a_new_champion_retires_the_old_one_and_a_risk_officer_can_roll_back(store, people):
    v1, v2 = _model(store, people, n=2)
    deployments.deploy(store, people["ds"], _approved(store, people, v1.version).id)
    deployments.deploy(store, people["ds"], _approved(store, people, v2.version).id)
    history = live.history(store, "risk-model")
    assert [(d.version, d.active) for d in history] == [(2, True), (1, False)]
    assert "replaced by risk-model:2" in history[1].end_reason
    assert registry_versions.get_model_version(store, "risk-model", 1).status == "retired"

    with pytest.raises(Forbidden):
        deployments.rollback(store, people["ds"], "risk-model", "production", "v2 misbehaves")
    with pytest.raises(InvalidInput, match="reason"):
        deployments.rollback(store, people["ro"], "risk-model", "production", " ")
    out = deployments.rollback(store, people["ro"], "risk-model", "production", "v2 misbehaves")
    assert (out["from_version"], out["to_version"]) == (2, 1)
    assert live.champion(store, "risk-model", "production").version == 1
    assert registry_versions.get_model_version(store, "risk-model", 2).status == "retired"
    assert "rolled back: v2 misbehaves" in live.history(store, "risk-model")[1].end_reason
    assert len(_refusals(store, "rollback")) == 1


def test_rollback_without_an_earlier_champion_is_refused_and_audited(store, people):
    (v,) = _model(store, people)
    with pytest.raises(Conflict, match="no champion"):
        deployments.rollback(store, people["ro"], "risk-model", "production", "just because")
    deployments.deploy(store, people["ds"], _approved(store, people, v.version).id)
    with pytest.raises(Conflict, match="no earlier champion"):
        deployments.rollback(store, people["ro"], "risk-model", "production", "just because")
    assert len(_refusals(store, "rollback")) == 2


def test_a_challenger_runs_beside_the_champion_and_can_be_promoted(store, people):
    v1, v2 = _model(store, people, n=2)
    deployments.deploy(store, people["ds"], _approved(store, people, v1.version).id)
    deployments.deploy(store, people["ds"], _approved(store, people, v2.version, role="challenger").id)
    assert [(d.version, d.role) for d in live.active(store, "risk-model", "production")] == [
        (1, "champion"), (2, "challenger")]
    assert registry_versions.get_model_version(store, "risk-model", 2).status == "challenger"
    with pytest.raises(Conflict, match="already live"):
        approvals.request_deployment(store, people["ds"], "risk-model", 2, "production", "challenger", "again")
    deployments.deploy(store, people["ds"], _approved(store, people, v2.version).id)  # promote
    assert [(d.version, d.role) for d in live.active(store, "risk-model", "production")] == [
        (2, "champion")]


# --- forbidden transitions -------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["viewer", "ro", "nobody"])
def test_only_data_scientists_request(store, people, who):
    _model(store, people)
    with pytest.raises(Forbidden):
        approvals.request_deployment(store, people[who], "risk-model", 1, "production", "champion", "please")
    assert approvals.list_requests(store, people["ro"]) == []


def test_nobody_decides_their_own_request_or_their_own_version(store, people):
    _model(store, people)
    users.grant_role(store, people["admin"], "ada@example.com", "risk_officer")
    users.grant_role(store, people["admin"], "grace@example.com", "risk_officer")
    ada, grace = identity_for(store, "ada@example.com"), identity_for(store, "grace@example.com")
    r = approvals.request_deployment(store, grace, "risk-model", 1, "production", "champion", "mine")
    with pytest.raises(Forbidden, match="requested .* yourself"):
        approvals.approve(store, grace, r.id, "self-approval")
    with pytest.raises(Forbidden, match="You created risk-model:1"):
        approvals.approve(store, ada, r.id, "I built it")
    assert approvals.get_request(store, people["ro"], r.id).status == "pending"
    assert [a for a, _ in _refusals(store, "approval.approve")] == ["grace@example.com", "ada@example.com"]
    assert approvals.approve(store, people["ro"], r.id, "independent review").status == "approved"


def test_a_high_risk_model_needs_two_distinct_risk_officers(store, people):
    _model(store, people, tier="high")
    r = approvals.request_deployment(store, people["ds"], "risk-model", 1, "production", "champion", "go")
    assert r.approvals_needed == 2
    r = approvals.approve(store, people["ro"], r.id, "first look")
    assert (r.status, len(r.approvals)) == ("pending", 1)
    with pytest.raises(Conflict, match="already approved"):
        approvals.approve(store, people["ro"], r.id, "me again")
    with pytest.raises(Conflict, match="still pending"):
        deployments.deploy(store, people["ds"], r.id)
    r = approvals.approve(store, people["ro2"], r.id, "second look")
    assert (r.status, len(r.approvals)) == ("approved", 2)


def test_rejected_requests_stay_rejected(store, people):
    _model(store, people)
    r = approvals.request_deployment(store, people["ds"], "risk-model", 1, "staging", "champion", "try")
    with pytest.raises(InvalidInput, match="comment"):
        approvals.reject(store, people["ro"], r.id, "")
    r = approvals.reject(store, people["ro"], r.id, "not convincing")
    assert r.status == "rejected"
    with pytest.raises(Conflict, match="already rejected"):
        approvals.approve(store, people["ro2"], r.id, "I disagree")
    with pytest.raises(Conflict, match="it was rejected"):
        deployments.deploy(store, people["ds"], r.id)
    assert len(_refusals(store, "approval.approve")) == 1 and len(_refusals(store, "deploy")) == 1
    # A rejection does not block a fresh request.
    assert approvals.request_deployment(store, people["ds"], "risk-model", 1, "staging", "champion",
                                        "now with more evidence").status == "pending"


def test_deploy_exactly_once_and_only_by_permitted_people(store, people):
    _model(store, people)
    r = _approved(store, people)
    with pytest.raises(Forbidden):
        deployments.deploy(store, people["viewer"], r.id)
    deployments.deploy(store, people["ro"], r.id)
    with pytest.raises(Conflict, match="already deployed by rita@example.com"):
        deployments.deploy(store, people["ds"], r.id)
    assert len(live.history(store, "risk-model")) == 1


def test_a_second_open_request_for_the_same_thing_is_refused(store, people):
    _model(store, people)
    approvals.request_deployment(store, people["ds"], "risk-model", 1, "production", "champion", "first")
    with pytest.raises(Conflict, match="already pending"):
        approvals.request_deployment(store, people["ds2"], "risk-model", 1, "production", "champion", "second")


def test_bad_requests_name_what_is_wrong(store, people):
    _model(store, people)
    with pytest.raises(InvalidInput, match="Unknown environment"):
        approvals.request_deployment(store, people["ds"], "risk-model", 1, "prod", "champion", "x")
    with pytest.raises(InvalidInput, match="champion or challenger"):
        approvals.request_deployment(store, people["ds"], "risk-model", 1, "production", "boss", "x")
    with pytest.raises(InvalidInput, match="justification"):
        approvals.request_deployment(store, people["ds"], "risk-model", 1, "production", "champion", "  ")
    with pytest.raises(NotFound):
        approvals.request_deployment(store, people["ds"], "risk-model", 9, "production", "champion", "x")
    with pytest.raises(NotFound, match="Approval request 42"):
        approvals.approve(store, people["ro"], 42, "ok")
    assert approvals.list_requests(store, people["ro"]) == []


# --- policies and overrides --------------------------------------------------------------------------------

def test_a_failing_check_blocks_approval_unless_overridden(store, people):
    _model(store, people, card=False)  # medium risk needs three card fields
    r = approvals.request_deployment(store, people["ds"], "risk-model", 1, "production", "champion", "go")
    assert r.checks_failed == 1
    with pytest.raises(CheckFailed, match="model card: missing: intended use, limitations"):
        approvals.approve(store, people["ro"], r.id, "fine by me")
    assert approvals.get_request(store, people["ro"], r.id).status == "pending"
    assert len(_refusals(store, "approval.approve")) == 1
    r = approvals.approve(store, people["ro"], r.id, "accepted", override_reason="card follows next week")
    assert r.status == "approved" and r.decisions[0].override_reason == "card follows next week"


def test_the_auc_threshold_comes_from_the_tier_policy(store, people):
    (v,) = _model(store, people)
    auc = v.metrics["auc"]
    with pytest.raises(Forbidden):
        policy.set_policy(store, people["ro"], "medium", min_auc=0.5)
    with pytest.raises(InvalidInput, match="between 0 and 1"):
        policy.set_policy(store, people["admin"], "medium", min_auc=1.5)
    with pytest.raises(InvalidInput, match="Unknown model-card field"):
        policy.set_policy(store, people["admin"], "medium", required_card_fields=["colour"])
    policy.set_policy(store, people["admin"], "medium", min_auc=min(auc + 0.01, 1.0))
    r = approvals.request_deployment(store, people["ds"], "risk-model", 1, "production", "champion", "go")
    pack = evidence.evidence(store, people["ro"], r.id)
    check = next(c for c in pack["checks"] if c["check"] == "minimum AUC")
    assert check["status"] == "fail" and check["value"] == pytest.approx(auc, abs=1e-6)
    policy.set_policy(store, people["admin"], "medium", min_auc=None)
    r2 = approvals.request_deployment(store, people["ds"], "risk-model", 1, "staging", "champion", "go")
    assert all(c["check"] != "minimum AUC" for c in evidence.evidence(store, people["ro"], r2.id)["checks"])


# --- expiry and re-certification ---------------------------------------------------------------------------

def test_an_approval_never_deployed_expires(store, people):
    _model(store, people)
    r = _approved(store, people)
    with store.transaction() as con:
        con.execute("UPDATE approval_requests SET expires_at = ? WHERE id = ?", [utcnow() - timedelta(hours=1), r.id])
    assert approvals.get_request(store, people["ro"], r.id).status == "expired"
    assert [x.id for x in approvals.list_requests(store, people["ro"], status="expired")] == [r.id]
    with pytest.raises(Conflict, match="approval expired"):
        deployments.deploy(store, people["ds"], r.id)
    assert approvals.expire_due(store) == [r.id]
    # The same thing can be requested again.
    approvals.request_deployment(store, people["ds"], "risk-model", 1, "production", "champion", "again")


def test_recertification_due_dates_follow_the_tier_and_recertifying_is_audited(store, people):
    _model(store, people, tier="high")
    r = approvals.request_deployment(store, people["ds"], "risk-model", 1, "production", "champion", "go")
    approvals.approve(store, people["ro"], r.id, "ok")
    approvals.approve(store, people["ro2"], r.id, "ok")
    deployments.deploy(store, people["ds"], r.id)
    (status,) = recertification.recertification_status(store, "risk-model")
    assert status["due"] == (utcnow() + timedelta(days=180)).date().isoformat() and not status["overdue"]
    later = utcnow().date() + timedelta(days=181)
    assert recertification.recertification_status(store, "risk-model", today=later)[0]["overdue"]
    with pytest.raises(Forbidden):
        recertification.recertify(store, people["ds"], "risk-model", "production", "all good")
    with pytest.raises(Conflict, match="no champion in staging"):
        recertification.recertify(store, people["ro"], "risk-model", "staging", "all good")
    out = recertification.recertify(store, people["ro"], "risk-model", "production", "annual review done")
    assert out["next_due"] == (utcnow() + timedelta(days=180)).date().isoformat()
    assert recertification.recertification_status(store, "risk-model")[0]["last_certified"] > status["last_certified"]


# --- the evidence pack ---------------------------------------------------------------------------------------

def test_the_evidence_pack_is_frozen_and_its_hash_checked(store, people):
    _model(store, people)
    r = approvals.request_deployment(store, people["ds"], "risk-model", 1, "production", "champion", "go")
    pack = evidence.evidence(store, people["ro"], r.id)
    assert hashlib.sha256(json.dumps(pack, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                          .encode()).hexdigest() == r.evidence_sha256
    assert pack["model_card"]["completeness"] == 1.0 and pack["metrics"]["auc"] > 0.5
    assert pack["lineage"]["upstream"], "training data is upstream of the version"
    catalog.update_model(store, people["ds"], "risk-model", intended_use="Something else entirely")
    assert evidence.evidence(store, people["ro"], r.id) == pack
    with store.transaction() as con:
        con.execute("UPDATE approval_requests SET evidence = CAST(replace(CAST(evidence AS VARCHAR), 'Rank', 'Bank') AS JSON)")
    with pytest.raises(CheckFailed, match="no longer matches its SHA-256"):
        evidence.evidence(store, people["ro"], r.id)


def test_the_html_report_is_self_contained_and_escapes_everything(store, people):
    _model(store, people)
    r = approvals.request_deployment(store, people["ds"], "risk-model", 1, "production", "champion",
                                     "<script>alert('x')</script> & more")
    approvals.approve(store, people["ro"], r.id, "<b>ok</b>")
    html = evidence_report.evidence_html(store, people["ro"], r.id)
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;ok&lt;/b&gt;" in html
    assert "http://" not in html and "https://" not in html and "<link" not in html
    assert r.evidence_sha256 in html and "rita@example.com" in html


# --- two processes at the same moment ------------------------------------------------------------------------

RACER = textwrap.dedent("""
    import sys, time
    from core.cli import main
    home, go, who, *argv = sys.argv[1:]
    while time.time() < float(go):
        time.sleep(0.001)
    print(main(["--home", home, "--as", who] + argv))
""")


def _race(store, commands):
    go = time.time() + 2.5  # both interpreters are up and imported by then
    procs = [subprocess.Popen([sys.executable, "-c", RACER, str(store.home), str(go), who, *argv], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for who, argv in commands]
    results = [p.communicate(timeout=120) for p in procs]
    return [(int(out.strip().splitlines()[-1]), err) for out, err in results]


def test_two_risk_officers_deciding_at_once_from_two_processes(store, people):
    _model(store, people)
    r = approvals.request_deployment(store, people["ds"], "risk-model", 1, "production", "champion", "go")
    results = _race(store, [("rita@example.com", ["approvals", "approve", str(r.id), "--comment", "yes"]),
                            ("raj@example.com", ["approvals", "reject", str(r.id), "--comment", "no"])])
    codes = sorted(code for code, _ in results)
    assert codes == [0, 4], results
    loser_err = next(err for code, err in results if code == 4)
    assert f"Request {r.id} is already" in loser_err
    final = approvals.get_request(store, people["ro"], r.id)
    assert len(final.decisions) == 1 and final.status in ("approved", "rejected")

    if final.status == "approved":
        results = _race(store, [("ada@example.com", ["deploy", str(r.id)]),
                                ("rita@example.com", ["deploy", str(r.id)])])
        assert sorted(code for code, _ in results) == [0, 4], results
        assert len(live.history(store, "risk-model")) == 1


def test_recertification_status_reads_all_champions_at_once_and_counts_only_this_deployments_certificates(
        demo_store, demo_people):
    """The whole portfolio's status is the same as each model's asked alone, and a champion's last certificate is the
    newest one of its own environment since it went live: one given before it, or in another environment, is not."""
    whole = recertification.recertification_status(demo_store)
    assert len(whole) >= 3
    alone = [s for name in sorted({s["model"] for s in whole})
             for s in recertification.recertification_status(demo_store, name)]
    assert sorted(whole, key=lambda s: (s["model"], s["environment"])) == \
        sorted(alone, key=lambda s: (s["model"], s["environment"]))
    target = next(s for s in whole if s["model"] == "credit-default" and s["environment"] == "production")
    from core.governance.live import live

    since = next(d.since for d in live(demo_store, "credit-default") if d.environment == "production"
                 and d.role == "champion")
    with demo_store.transaction() as con:
        model_id, version_id = con.execute(
            "SELECT m.id, v.id FROM models m JOIN model_versions v ON v.model_id = m.id WHERE m.name = 'credit-default'"
            " AND v.version = ?", [target["version"]]).fetchone()
        # before this deployment went live (a certificate of what was live then), and in another environment
        for env, at in (("production", since - timedelta(seconds=1)), ("staging", since + timedelta(days=2))):
            con.execute("INSERT INTO recertifications (model_id, environment, version_id, recertified_by, "
                        "recertified_at, comment, next_due) VALUES (?, ?, ?, 'x@example.com', ?, 'crafted', ?)",
                        [model_id, env, version_id, at, (at + timedelta(days=180)).date()])
    assert recertification.recertification_status(demo_store) == whole  # neither counts
    recertification.recertify(demo_store, demo_people["rita"], "credit-default", "production", "reviewed")
    after = {(s["model"], s["environment"]): s for s in recertification.recertification_status(demo_store)}
    assert after[("credit-default", "production")]["last_certified"] > target["last_certified"]
    assert [s for k, s in after.items() if k != ("credit-default", "production")] == \
        [s for s in whole if (s["model"], s["environment"]) != ("credit-default", "production")]
