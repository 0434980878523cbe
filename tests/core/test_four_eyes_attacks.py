"""Four eyes cannot be routed around (issue 13): each attack performed through core and through the CLI.

Every test performs the attack as an attacker would, then shows it refused: the typed error (or exit code)
with one sentence, nothing changed in the tables, and the refused attempt in the audit trail.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core import audit, auth, queries, users
from core.errors import CheckFailed, Conflict, Forbidden, InvalidInput
from core.governance import approvals, deployments, evidence, evidence_report
from core.identity import Identity, identity_for
from core.monitoring import ingest
from core.registry import artifacts, catalog
from tests.conftest import make_version, synthetic_classification

FULL_CARD = {"intended_use": "Rank applicants", "limitations": "Not for minors",
             "training_data_summary": "Synthetic", "ethical_considerations": "Reviewed", "caveats": "None"}
DS, RO, RO2, ADMIN, VIEWER = ("ada@example.com", "rita@example.com", "raj@example.com", "alan@example.com",
                              "vera@example.com")


def _high_risk_model(store, people, name="credit"):
    v = make_version(store, people["ds"], name, risk_tier="high")
    catalog.update_model(store, people["ds"], name, **FULL_CARD)
    return v


def _last_seq(store) -> int:
    with store.read() as con:
        return con.execute("SELECT coalesce(max(seq), 0) FROM audit_log").fetchone()[0]


def _events_after(store, seq):
    with store.read() as con:
        rows = con.execute("SELECT actor, action, entity_id, outcome, CAST(payload AS VARCHAR) FROM audit_log"
                           " WHERE seq > ? ORDER BY seq", [seq]).fetchall()
    return [(a, act, e, o, json.loads(p)) for a, act, e, o, p in rows]


def _count(store, table: str) -> int:
    with store.read() as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # table names are literals here


def _tiers(store, name):
    return [h["risk_tier"] for h in catalog.tier_history(store, name)]


def _one_sentence(text: str) -> None:
    text = text.strip()
    assert text and "\n" not in text and "Traceback" not in text, text


# --- 1. lowering the risk tier ------------------------------------------------------------------------------

def test_a_data_scientist_cannot_lower_the_risk_tier_and_the_refusal_is_audited(store, people):
    _high_risk_model(store, people)
    seq = _last_seq(store)
    with pytest.raises(Forbidden, match="may not set risk tier") as e:
        catalog.update_model(store, people["ds"], "credit", risk_tier="low", reason="it is harmless really")
    _one_sentence(str(e.value))
    with pytest.raises(Forbidden):  # bundled with a harmless edit: the whole change is refused
        catalog.update_model(store, people["ds"], "credit", risk_tier="low", description="now low", reason="x")
    m = catalog.get_model(store, "credit")
    assert (m.risk_tier, m.description) == ("high", "")
    assert _tiers(store, "credit") == ["high"]
    assert [(a, act, o) for a, act, _e, o, _p in _events_after(store, seq)] == [
        (DS, "model.set_risk_tier", "refused")] * 2


@pytest.mark.parametrize("who", ["ds", "admin", "viewer", "nobody"])
def test_only_a_risk_officer_changes_a_tier(store, people, who):
    _high_risk_model(store, people)
    with pytest.raises(Forbidden):
        catalog.set_risk_tier(store, people[who], "credit", "low", "reviewed")
    assert catalog.get_model(store, "credit").risk_tier == "high"


def test_a_risk_officer_changes_a_tier_with_a_reason_recorded_as_a_typed_event(store, people):
    _high_risk_model(store, people)
    seq = _last_seq(store)
    with pytest.raises(InvalidInput, match="reason"):
        catalog.set_risk_tier(store, people["ro"], "credit", "medium", "  ")
    with pytest.raises(InvalidInput, match="already high"):
        catalog.set_risk_tier(store, people["ro"], "credit", "high", "no change")
    assert _events_after(store, seq) == [] and _tiers(store, "credit") == ["high"]
    m = catalog.set_risk_tier(store, people["ro"], "credit", "medium", "scores only internal marketing now")
    assert m.risk_tier == "medium" and _tiers(store, "credit") == ["high", "medium"]
    ((actor, action, entity, outcome, payload),) = _events_after(store, seq)
    assert (actor, action, entity, outcome) == (RO, "model.set_risk_tier", "credit", "ok")
    assert payload == {"model": "credit", "from_tier": "high", "to_tier": "medium",
                       "reason": "scores only internal marketing now"}
    assert audit.verify(store).ok


def test_cli_tier_change_needs_a_risk_officer_and_a_reason(store, people, cli):
    _high_risk_model(store, people)
    res = cli(store, "models", "update", "credit", "--risk-tier", "low", "--reason", "harmless", as_=DS)
    assert res.code == 3 and "may not set risk tier" in res.err
    _one_sentence(res.err)
    res = cli(store, "models", "update", "credit", "--risk-tier", "low", as_=RO)
    assert res.code == 2 and "--reason" in res.err
    assert catalog.get_model(store, "credit").risk_tier == "high"
    res = cli(store, "models", "update", "credit", "--description", "x", "--reason", "why", as_=DS)
    assert res.code == 2 and "--risk-tier" in res.err
    res = cli(store, "models", "update", "credit", "--risk-tier", "medium", "--reason", "re-scoped", "--json",
              as_=RO)
    assert res.code == 0 and json.loads(res.out)["risk_tier"] == "medium"


def test_the_lower_request_approve_deploy_raise_attack_is_refused_end_to_end(store, people, cli):
    """The attack as reported: lower, request, one approval, deploy, raise back. Through the real CLI."""
    _high_risk_model(store, people)
    seq = _last_seq(store)
    assert cli(store, "models", "update", "credit", "--risk-tier", "low", "--reason", "x", as_=DS).code == 3
    res = cli(store, "approvals", "request", "credit:1", "--env", "production", "--role", "champion",
              "--reason", "ship it", "--json", as_=DS)
    assert res.code == 0, res.err
    rid = json.loads(res.out)["id"]
    assert json.loads(res.out)["approvals_needed"] == 2
    assert cli(store, "approvals", "approve", str(rid), "--comment", "ok", as_=RO).code == 0
    res = cli(store, "deploy", str(rid), as_=DS)
    assert res.code == 4 and "1 of 2 approvals" in res.err and "high" in res.err
    _one_sentence(res.err)
    assert cli(store, "models", "update", "credit", "--risk-tier", "high", "--reason", "x", as_=DS).code == 3
    assert _count(store, "deployments") == 0 and catalog.get_model(store, "credit").risk_tier == "high"
    assert approvals.get_request(store, people["ro"], rid).status == "pending"
    refused = [(a, act) for a, act, _e, o, _p in _events_after(store, seq) if o == "refused"]
    assert refused == [(DS, "model.set_risk_tier"), (DS, "deploy"), (DS, "model.set_risk_tier")]


# --- 2. the strictest tier since the request ------------------------------------------------------------------

def test_lowering_the_tier_after_requesting_does_not_lower_the_approvals_needed(store, people, cli):
    _high_risk_model(store, people)
    r = approvals.request_deployment(store, people["ds"], "credit", 1, "production", "champion", "go")
    assert r.approvals_needed == 2
    catalog.set_risk_tier(store, people["ro2"], "credit", "low", "re-scoped to a pilot")
    r = approvals.approve(store, people["ro"], r.id, "fine")
    assert (r.status, r.approvals_needed, r.tiers_since_request) == ("pending", 2, ["high", "low"])
    with pytest.raises(Conflict, match="1 of 2 approvals"):
        deployments.deploy(store, people["ds"], r.id)
    res = cli(store, "deploy", str(r.id), as_=DS)
    assert res.code == 4 and "1 of 2" in res.err
    catalog.set_risk_tier(store, people["ro2"], "credit", "high", "pilot cancelled")  # raise back
    r = approvals.get_request(store, people["ro"], r.id)
    assert (r.status, r.approvals_needed) == ("pending", 2)
    assert _count(store, "deployments") == 0
    r = approvals.approve(store, people["ro2"], r.id, "second pair of eyes")
    assert r.status == "approved"
    assert deployments.deploy(store, people["ds"], r.id).status == "deployed"


def test_an_approval_is_counted_again_when_the_tier_is_raised_before_deployment(store, people, cli):
    make_version(store, people["ds"], "limits", risk_tier="medium")
    catalog.update_model(store, people["ds"], "limits", **FULL_CARD)
    r = approvals.request_deployment(store, people["ds"], "limits", 1, "production", "champion", "go")
    r = approvals.approve(store, people["ro"], r.id, "ok")
    assert (r.status, r.approvals_needed) == ("approved", 1)
    catalog.set_risk_tier(store, people["ro2"], "limits", "high", "now used for lending decisions")
    listed = approvals.list_requests(store, people["ro"], status="pending")
    assert [(x.id, x.approvals_needed, len(x.approvals)) for x in listed] == [(r.id, 2, 1)]
    res = cli(store, "deploy", str(r.id), as_=DS)
    assert res.code == 4 and "1 of 2" in res.err
    assert _count(store, "deployments") == 0
    res = cli(store, "approvals", "approve", str(r.id), "--comment", "re-reviewed as high", "--json", as_=RO2)
    assert res.code == 0 and json.loads(res.out)["status"] == "approved"
    assert cli(store, "deploy", str(r.id), as_=DS).code == 0


def test_a_tier_lowered_before_the_request_is_a_recorded_risk_officer_decision(store, people):
    """The documented rule: a request made after a risk officer lowered the tier follows the lower tier."""
    _high_risk_model(store, people)
    catalog.set_risk_tier(store, people["ro2"], "credit", "low", "only scores a sandbox now")
    r = approvals.request_deployment(store, people["ds"], "credit", 1, "staging", "champion", "go")
    assert (r.approvals_needed, r.tiers_since_request) == (1, ["low"])
    history = catalog.tier_history(store, "credit")
    assert [(h["risk_tier"], h["changed_by"]) for h in history] == [("high", DS), ("low", RO2)]


# --- 3. an administrator approving through roles he grants ---------------------------------------------------

def test_an_admin_cannot_grant_or_revoke_his_own_roles(store, people, cli):
    seq = _last_seq(store)
    with pytest.raises(Forbidden, match="nobody grants their own roles") as e:
        users.grant_role(store, people["admin"], ADMIN, "risk_officer")
    _one_sentence(str(e.value))
    users.grant_role(store, people["admin"], "bob@example.com", "admin")
    bob = identity_for(store, "bob@example.com")
    with pytest.raises(Forbidden, match="their own role"):
        users.revoke_role(store, bob, "bob@example.com", "admin")
    res = cli(store, "users", "grant", ADMIN, "risk_officer", as_=ADMIN)
    assert res.code == 3 and "own roles" in res.err
    assert users.grant_role(store, people["admin"], ADMIN, "admin") is False  # already held: no change, no event
    assert identity_for(store, ADMIN).roles == {"admin"}
    assert identity_for(store, "bob@example.com").roles == {"admin"}
    assert [(a, act, e, o) for a, act, e, o, _p in _events_after(store, seq)] == [
        (ADMIN, "user.grant", ADMIN, "refused"), (ADMIN, "user.grant", "bob@example.com", "ok"),
        ("bob@example.com", "user.revoke", "bob@example.com", "refused"), (ADMIN, "user.grant", ADMIN, "refused")]


@pytest.mark.parametrize("email, role, held", [("bob@example.com", "risk_officer", "admin"),
                                               (RO, "admin", "risk_officer")])
def test_admin_and_risk_officer_are_never_granted_to_one_person(store, people, cli, email, role, held):
    if held == "admin":
        users.grant_role(store, people["admin"], email, "admin")
    seq = _last_seq(store)
    with pytest.raises(Forbidden, match="separation of duties") as e:
        users.grant_role(store, people["admin"], email, role)
    _one_sentence(str(e.value))
    res = cli(store, "users", "grant", email, role, as_=ADMIN)
    assert res.code == 3 and "separation of duties" in res.err
    assert identity_for(store, email).roles == {held}
    assert [(act, o) for _a, act, _e, o, _p in _events_after(store, seq)] == [("user.grant", "refused")] * 2


def test_sign_in_never_gives_admin_and_risk_officer_together(store, people):
    assert auth.merge_roles(frozenset({"admin", "risk_officer"}), frozenset(), False) == {"admin"}
    assert auth.merge_roles(frozenset({"risk_officer"}), frozenset({"admin"}), False) == {"admin"}
    assert auth.merge_roles(frozenset({"risk_officer", "viewer"}), frozenset(), False) == {"risk_officer", "viewer"}
    signed = auth.identity_from_claims(store, {"email": ADMIN, "email_verified": True, "groups": ["risk_officer"]})
    assert signed.identity.roles == {"admin"}


def test_an_administrator_never_decides_even_holding_both_roles(store, people):
    _high_risk_model(store, people)
    r = approvals.request_deployment(store, people["ds"], "credit", 1, "production", "champion", "go")
    both = Identity(ADMIN, frozenset({"admin", "risk_officer"}))
    seq = _last_seq(store)
    with pytest.raises(Forbidden, match="administrators do not decide"):
        approvals.approve(store, both, r.id, "I approve myself")
    with pytest.raises(Forbidden, match="administrators do not decide"):  # an admin grant in the store counts too
        approvals.approve(store, Identity(ADMIN, frozenset({"risk_officer"})), r.id, "claims say risk officer")
    assert approvals.get_request(store, people["ro"], r.id).decisions == []
    assert [(a, act, o) for a, act, _e, o, _p in _events_after(store, seq)] == [
        (ADMIN, "approval.approve", "refused")] * 2


def test_each_decision_shows_who_granted_the_approvers_role_and_when(store, people, cli):
    _high_risk_model(store, people)
    # the admin's two other addresses: allowed (no software tells them from colleagues), but visible
    users.grant_role(store, people["admin"], "alan.two@example.net", "risk_officer")
    r = approvals.request_deployment(store, people["ds"], "credit", 1, "production", "champion", "go")
    approvals.approve(store, identity_for(store, "alan.two@example.net"), r.id, "ok")
    approvals.approve(store, Identity("claims.only@example.com", frozenset({"risk_officer"})), r.id, "ok too")
    res = cli(store, "approvals", "show", str(r.id), "--json", as_=RO)
    assert res.code == 0, res.err
    decisions = {d["decided_by"]: d for d in json.loads(res.out)["decisions"]}
    two = decisions["alan.two@example.net"]
    assert (two["role_source"], two["role_granted_by"]) == ("grant", ADMIN) and two["role_granted_at"]
    claims = decisions["claims.only@example.com"]
    assert (claims["role_source"], claims["role_granted_by"], claims["role_granted_at"]) == ("claim", None, None)
    text = cli(store, "approvals", "show", str(r.id), as_=RO).out
    assert f"approver's role: risk_officer granted by {ADMIN} at" in text
    assert "risk_officer from the identity provider's claims" in text
    html = evidence_report.evidence_html(store, people["ro"], r.id)
    assert f"risk_officer granted by {ADMIN}" in html


# --- 4. a tampered artifact ------------------------------------------------------------------------------------

def _tamper(store, v) -> bytes:
    path = artifacts.artifact_path(store.artifacts_dir, v.sha256)
    original = path.read_bytes()
    path.write_bytes(original + b"\x00planted")
    return original


def _restore(store, v, original: bytes) -> None:
    artifacts.artifact_path(store.artifacts_dir, v.sha256).write_bytes(original)


def test_a_tampered_artifact_is_never_requested_approved_or_deployed(store, people):
    v = _high_risk_model(store, people)
    original = _tamper(store, v)
    seq = _last_seq(store)
    with pytest.raises(CheckFailed, match="credit:1") as e:
        approvals.request_deployment(store, people["ds"], "credit", 1, "production", "champion", "go")
    _one_sentence(str(e.value))
    assert _count(store, "approval_requests") == 0
    _restore(store, v, original)
    r = approvals.request_deployment(store, people["ds"], "credit", 1, "production", "champion", "go")
    _tamper(store, v)
    with pytest.raises(CheckFailed, match="credit:1"):
        approvals.approve(store, people["ro"], r.id, "ok")
    assert _count(store, "approval_decisions") == 0
    _restore(store, v, original)
    approvals.approve(store, people["ro"], r.id, "ok")
    approvals.approve(store, people["ro2"], r.id, "ok")
    artifacts.artifact_path(store.artifacts_dir, v.sha256).unlink()  # a missing file is refused alike
    with pytest.raises(CheckFailed, match="credit:1 is missing"):
        deployments.deploy(store, people["ds"], r.id)
    assert _count(store, "deployments") == 0
    assert approvals.get_request(store, people["ro"], r.id).status == "approved"
    refused = [(a, act, ent) for a, act, ent, o, _p in _events_after(store, seq) if o == "refused"]
    assert refused == [(DS, "approval.request", "credit:1"), (RO, "approval.approve", str(r.id)),
                       (DS, "deploy", str(r.id))]


def test_cli_refuses_a_tampered_artifact_with_exit_1_naming_the_version(store, people, cli):
    v = _high_risk_model(store, people)
    r = approvals.request_deployment(store, people["ds"], "credit", 1, "production", "champion", "go")
    approvals.approve(store, people["ro"], r.id, "ok")
    _tamper(store, v)
    res = cli(store, "approvals", "request", "credit:1", "--env", "staging", "--role", "champion", "--reason", "x",
              as_=DS)
    assert res.code == 1 and "credit:1" in res.err and "SHA-256" in res.err
    _one_sentence(res.err)
    res = cli(store, "approvals", "approve", str(r.id), "--comment", "ok", as_=RO2)
    assert res.code == 1 and "credit:1" in res.err
    assert len(approvals.get_request(store, people["ro"], r.id).approvals) == 1
    assert _count(store, "approval_requests") == 1


# --- 5. reads need view-approvals --------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["viewer", "nobody"])
def test_requests_packs_and_history_are_refused_without_view_approvals(store, people, who):
    _high_risk_model(store, people)
    r = approvals.request_deployment(store, people["ds"], "credit", 1, "production", "champion", "go")
    seq = _last_seq(store)
    reads = [lambda a: approvals.get_request(store, a, r.id), lambda a: approvals.list_requests(store, a),
             lambda a: evidence.evidence(store, a, r.id), lambda a: evidence_report.evidence_html(store, a, r.id),
             lambda a: queries.model_history(store, a, "credit")]
    for read in reads:
        with pytest.raises(Forbidden, match="view approvals"):
            read(people[who])
    rows = _events_after(store, seq)
    assert [(a, act, o) for a, act, _e, o, _p in rows] == [(people[who].email, "view-approvals", "refused")] * 5
    for reader in ("ds", "ro", "admin"):
        assert [x.id for x in approvals.list_requests(store, people[reader])] == [r.id]
        assert not queries.model_history(store, people[reader], "credit").empty
    assert [i for i in queries.attention_items(store, people[who]) if "deployment request" in i.reason] == []
    assert [i for i in queries.attention_items(store, people["ds"]) if "deployment request" in i.reason]


def test_cli_reads_need_a_person_with_view_approvals(store, people, cli, tmp_path):
    _high_risk_model(store, people)
    r = approvals.request_deployment(store, people["ds"], "credit", 1, "production", "champion", "go")
    for args in (("approvals", "list"), ("approvals", "show", str(r.id)), ("approvals", "export", str(r.id)),
                 ("approvals", "show", str(r.id), "--html", str(tmp_path / "pack.html"))):
        res = cli(store, *args, as_=VIEWER)
        assert res.code == 3 and "view approvals" in res.err and res.out == "", (args, res)
        _one_sentence(res.err)
        res = cli(store, *args)
        assert res.code == 2 and "--as EMAIL" in res.err
    assert not (tmp_path / "pack.html").exists()
    assert cli(store, "approvals", "list", as_=DS).code == 0


# --- 6. evidence from the requested environment only --------------------------------------------------------

def _served(store, people, tmp_path, environment, *, shifted, seed):
    """Real traffic of credit:1 logged in `environment`: the training distribution, or every input moved 3 SD."""
    df = synthetic_classification(n=400, seed=seed).drop(columns="y")
    if shifted:
        df[["x1", "x2"]] += 3.0
    df["ts"] = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s") - pd.to_timedelta(
        np.arange(len(df)) * 300, unit="s")
    path = tmp_path / f"served-{environment}.csv"
    df.to_csv(path, index=False)
    ingest.log_predictions(store, people["ds"], "credit", 1, path, time_column="ts", environment=environment)


def test_clean_staging_traffic_does_not_hide_production_drift(store, people, tmp_path):
    _high_risk_model(store, people)
    with store.transaction() as con:
        con.execute("UPDATE policies SET max_drift_share = 0.5 WHERE risk_tier = 'high'")
    _served(store, people, tmp_path, "production", shifted=True, seed=11)
    _served(store, people, tmp_path, "staging", shifted=False, seed=12)  # logged later, and clean
    r = approvals.request_deployment(store, people["ds"], "credit", 1, "production", "champion", "go")
    pack = evidence.evidence(store, people["ro"], r.id)
    assert (pack["drift"]["environment"], pack["drift"]["drifted_share"], pack["drift"]["rows"]) == \
        ("production", 1.0, 400)
    drift_check = next(c for c in pack["checks"] if c["check"] == "maximum drift")
    assert drift_check["status"] == "fail" and "400 rows of its own production traffic" in drift_check["detail"]
    staging = approvals.request_deployment(store, people["ds"], "credit", 1, "staging", "champion", "go")
    clean = evidence.evidence(store, people["ro"], staging.id)
    assert (clean["drift"]["environment"], clean["drift"]["drifted_share"]) == ("staging", 0.0)
    assert next(c for c in clean["checks"] if c["check"] == "maximum drift")["status"] == "pass"


def test_no_traffic_in_the_requested_environment_means_no_drift_evidence(store, people, tmp_path):
    _high_risk_model(store, people)
    _served(store, people, tmp_path, "staging", shifted=False, seed=12)
    r = approvals.request_deployment(store, people["ds"], "credit", 1, "production", "champion", "go")
    pack = evidence.evidence(store, people["ro"], r.id)
    assert pack["drift"] is None
    check = next(c for c in pack["checks"] if c["check"] == "maximum drift")
    assert check["status"] == "not evaluated"
    assert "no logged predictions in production" in check["detail"] and "traffic in staging" in check["detail"]
    assert pack["verdict"]["status"] == "incomplete" and "maximum drift" in pack["verdict"]["sentence"]


# --- upgrade: a store made before migration 0008 gets its tier history from the audit trail ----------------

def test_an_older_store_gets_its_tier_history_back_from_the_audit_trail(tmp_path):
    import duckdb

    from core import store as store_module
    from core.store import Store, migrations

    db = tmp_path / "old" / "modelgov.duckdb"
    db.parent.mkdir()
    con = duckdb.connect(str(db))
    store_module.applied_migrations(con)
    for m in migrations():
        if m.number < 8:
            con.execute(m.sql)
            con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [m.number, m.name])
    for name in ("lowered", "untracked"):
        con.execute("INSERT INTO models (name, owner, risk_tier, created_at, created_by, updated_at) VALUES"
                    " (?, 'o@x.com', ?, TIMESTAMP '2026-01-01', 'o@x.com', TIMESTAMP '2026-01-01')",
                    [name, "low" if name == "lowered" else "medium"])
    for seq, ts, action, payload in [
            (1, "2026-01-01", "model.create", {"owner": "o@x.com", "risk_tier": "high", "tags": []}),
            (2, "2026-01-05", "model.update", {"changes": {"description": {"from": "", "to": "x"}}}),
            (3, "2026-01-09", "model.update", {"changes": {"risk_tier": {"from": "high", "to": "low"}}})]:
        con.execute("INSERT INTO audit_log VALUES (?, ?, 'ds@x.com', ?, 'model', 'lowered', 'ok', ?, 'p', 'h')",
                    [seq, ts, action, json.dumps(payload)])
    con.close()
    s = Store(tmp_path / "old")
    assert [(h["risk_tier"], str(h["since"])[:10]) for h in catalog.tier_history(s, "lowered")] == [
        ("high", "2026-01-01"), ("low", "2026-01-09")]
    assert [h["risk_tier"] for h in catalog.tier_history(s, "untracked")] == ["medium"]
    with s.read() as con:
        assert catalog.tiers_since_tx(con, "lowered", "2026-01-03") == ["high", "low"]
        assert catalog.tiers_since_tx(con, "lowered", "2026-01-10") == ["low"]
