"""Issue 14 on the governance pages: the policy form edits the tier it shows, a request's progress and who may
decide it, errors that name fields, Needs attention per role, the audit filter on part of an address."""

from __future__ import annotations

from core import users
from core.governance import approvals, policy
from core.identity import identity_for
from tests.app.test_foundation_pages import open_app, texts


def _button(at, key):
    return next(b for b in at.button if b.key == key)


def _policies(store):
    return {p.risk_tier: p for p in policy.policies(store)}


def _table_with(at, column):
    return next(d.value for d in at.dataframe if column in d.value.columns)


# --- 1. the policy form ----------------------------------------------------------------------------------------

def test_the_policy_form_saves_the_tier_it_shows_and_says_what_changed(demo_store, monkeypatch):
    before = _policies(demo_store)
    at = open_app(demo_store.home, monkeypatch, "alan@modelgov.demo", "pages/approvals.py")
    # Tier A (high) shows first; its inputs hold high's values.
    assert at.number_input(key="appr_pol_high_approvals_needed").value == before["high"].approvals_needed
    at.button_group(key="appr_pol_tier").set_value("medium").run()
    assert not at.exception
    # Picking tier B (medium) loads medium's values, not high's.
    assert at.number_input(key="appr_pol_medium_approvals_needed").value == before["medium"].approvals_needed
    assert at.number_input(key="appr_pol_medium_min_auc").value == before["medium"].min_auc
    assert at.multiselect(key="appr_pol_medium_required_card_fields").value == before["medium"].required_card_fields
    at.number_input(key="appr_pol_medium_approvals_needed").set_value(3)
    at.number_input(key="appr_pol_medium_min_r2").set_value(None)  # empty = no check
    at.number_input(key="appr_pol_medium_approval_valid_days").set_value(7)
    at.multiselect(key="appr_pol_medium_required_card_fields").select("caveats")
    _button(at, "appr_pol_medium_submit").click().run()
    assert not at.exception
    after = _policies(demo_store)
    assert after["high"] == before["high"]  # tier A untouched
    assert after["medium"].approvals_needed == 3 and after["medium"].min_r2 is None
    assert after["medium"].approval_valid_days == 7 and "caveats" in after["medium"].required_card_fields
    assert after["medium"].min_auc == before["medium"].min_auc
    said = " ".join(s.value for s in at.success)
    assert "Policy for medium risk" in said and "approvers 1 → 3" in said and "minimum R² 0.3 → no check" in said
    # Saving again without a change says so.
    at.button_group(key="appr_pol_tier").set_value("medium").run()
    _button(at, "appr_pol_medium_submit").click().run()
    assert not at.exception
    assert any("nothing changed" in i.value for i in at.info)
    assert _policies(demo_store)["medium"] == after["medium"]


def test_the_policy_table_has_human_headers_and_no_none(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch, "rita@modelgov.demo", "pages/approvals.py")
    table = _table_with(at, "Approvers")
    assert {"Risk tier", "Minimum AUC", "Maximum drifted share", "Approvers"} <= set(table.columns)
    assert not table.isna().any().any() and "None" not in table.astype(str).values
    assert table.set_index("Risk tier").loc["low", "Maximum drifted share"] == "no check"
    assert not [b for b in at.button if (b.key or "").startswith("appr_pol_")]  # only administrators set policy


# --- 2. progress and who may decide ---------------------------------------------------------------------------

def _two_approval_request(store):
    """credit-default (high risk: two approvals) v2 as production champion, asked by ada (grace built v2)."""
    ada = identity_for(store, "ada@modelgov.demo")
    return approvals.request_deployment(store, ada, "credit-default", 2, "production", "champion", "v2 next")


def test_after_the_first_of_two_approvals_the_approver_is_told_why_there_is_no_button(demo_store, monkeypatch):
    r = _two_approval_request(demo_store)
    rita = identity_for(demo_store, "rita@modelgov.demo")
    approvals.approve(demo_store, rita, r.id, "fine by me", override_reason="accepted in the demo")
    at = open_app(demo_store.home, monkeypatch, "rita@modelgov.demo", "pages/approvals.py")
    at.selectbox(key="appr_queue_pick").select(r.id).run()
    assert not at.exception
    page = texts(at)
    assert "1 of 2 approvals — waiting for another risk officer" in page
    assert "You already approved request" in page
    assert not [b for b in at.button if b.key == "appr_queue_approve"]
    # Another risk officer gets the buttons, and the second approval completes it.
    at = open_app(demo_store.home, monkeypatch, "raj@modelgov.demo", "pages/approvals.py")
    at.selectbox(key="appr_queue_pick").select(r.id).run()
    assert "1 of 2 approvals — waiting for another risk officer" in texts(at)
    at.text_area(key="appr_queue_comment").input("agreed")
    if any(w.key == "appr_queue_override" for w in at.text_input):  # when a policy check fails
        at.text_input(key="appr_queue_override").input("accepted in the demo")
    _button(at, "appr_queue_approve").click().run()
    assert not at.exception
    assert approvals.get_request(demo_store, rita, r.id).status == "approved"


def test_no_approve_button_on_your_own_request_and_core_still_refuses(demo_store, monkeypatch):
    alan = identity_for(demo_store, "alan@modelgov.demo")
    users.grant_role(demo_store, alan, "raj@modelgov.demo", "data_scientist")
    raj = identity_for(demo_store, "raj@modelgov.demo")
    r = approvals.request_deployment(demo_store, raj, "breast-cancer-screening", 1, "staging", "champion", "mine")
    at = open_app(demo_store.home, monkeypatch, "raj@modelgov.demo", "pages/approvals.py")
    at.selectbox(key="appr_queue_pick").select(r.id).run()
    assert not at.exception
    assert "yourself" in texts(at) and "four eyes" in texts(at)
    assert not [b for b in at.button if b.key == "appr_queue_approve"]
    # The request for someone else's work still offers raj the decision.
    at.selectbox(key="appr_queue_pick").select(5).run()
    assert [b for b in at.button if b.key == "appr_queue_approve"]


# --- 3. errors name the field -----------------------------------------------------------------------------------

def test_an_empty_comment_is_named_as_the_field_not_a_cli_flag(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch, "rita@modelgov.demo", "pages/approvals.py")
    _button(at, "appr_queue_reject").click().run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "Give a comment with your decision" in errors and "--" not in errors
    at.text_area(key="appr_queue_comment").input("Checked the evidence")
    _button(at, "appr_queue_approve").click().run()
    errors = " ".join(e.value for e in at.error)
    assert "override reason" in errors and "--override-reason" not in errors


# --- 4. Needs attention -----------------------------------------------------------------------------------------

def _attention(at) -> list[str]:
    return [m.value for m in at.markdown if "Action needed" in m.value or "Watch" in m.value]


def test_needs_attention_lists_health_and_unmonitored_deployments_with_next_steps(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch, "vera@modelgov.demo")
    lines = [line.replace("\\", "") for line in _attention(at)]
    assert any("credit-default" in x and "amber" in x for x in lines)
    assert any("credit-limit-advisor" in x and "not monitored" in x for x in lines)
    assert all("Next: " in x for x in lines)
    assert not any("'modelgov " in x or " --" in x for x in lines)  # a viewer is told whom to ask
    # Severity is words with an icon, never a high/medium/low badge like the risk tiers.
    assert all(":material/" in x and "-badge[" not in x.split("**")[0] for x in _attention(at))
    # Every model's row (the Overview links to it) shows no None.
    portfolio = _table_with(open_app(demo_store.home, monkeypatch, "vera@modelgov.demo", "pages/inventory.py"), "Why")
    assert not portfolio.isna().any().any() and "None" not in portfolio.astype(str).values
    at = open_app(demo_store.home, monkeypatch, "ada@modelgov.demo")
    lines = [line.replace("\\", "") for line in _attention(at)]
    assert any("modelgov monitor credit-limit-advisor:1 --env production" in x for x in lines)
    at = open_app(demo_store.home, monkeypatch, "rita@modelgov.demo")
    lines = [line.replace("\\", "") for line in _attention(at)]
    assert any("deployment request 5" in x and "decide it on the Approvals page" in x for x in lines)


# --- 5. the audit filter ----------------------------------------------------------------------------------------

def test_the_audit_person_filter_finds_part_of_an_address(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch, "raj@modelgov.demo", "pages/audit.py")
    at.text_input(key="audit_person").input("rita").run()
    assert not at.exception
    table = _table_with(at, "Person")
    assert len(table) > 0 and set(table["Person"]) == {"rita@modelgov.demo"}
    assert "None" not in table.astype(str).values and not table.isna().any().any()
    at.text_input(key="audit_person").input("%").run()
    assert any("No event matches" in i.value for i in at.info)
