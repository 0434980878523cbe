"""Approvals and Audit pages under AppTest on the demo store: the queue, decisions, deploy, the chain check."""

from __future__ import annotations

from core.governance import approvals, live
from core.identity import Identity

RITA = Identity("rita@modelgov.demo", frozenset({"risk_officer"}))
from tests.app.test_foundation_pages import open_app, texts


def _table_with(at, column):
    """The first table with `column` (AppTest does not expose the keys of st.dataframe)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _button(at, key):
    return next(b for b in at.button if b.key == key)


def test_the_queue_shows_the_pending_request_with_its_evidence(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch, "rita@modelgov.demo", "pages/approvals.py")
    assert at.title[0].value == "Approvals"
    assert any(m.label == "Waiting for a decision" and m.value == "1" for m in at.metric)
    page = texts(at)
    assert "diabetes-progression:1" in page and "policy checks fail" in page
    checks = _table_with(at, "Check")
    assert set(checks["Check"]) >= {"model card", "minimum R²"}


def test_approving_a_failing_request_needs_an_override_reason(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch, "rita@modelgov.demo", "pages/approvals.py")
    at.text_area(key="appr_queue_comment").input("Checked the evidence")
    _button(at, "appr_queue_approve").click()
    at.run()
    assert not at.exception
    assert any("override reason" in e.value for e in at.error)
    assert approvals.get_request(demo_store, RITA, 5).status == "pending"

    at.text_area(key="appr_queue_comment").input("Checked the evidence")
    at.text_input(key="appr_queue_override").input("Planning tool only; card completed this week")
    _button(at, "appr_queue_approve").click()
    at.run()
    assert not at.exception
    r = approvals.get_request(demo_store, RITA, 5)
    assert r.status == "approved" and r.decisions[0].override_reason.startswith("Planning tool")


def test_the_requester_cannot_decide_and_deploys_after_approval(demo_store, monkeypatch):
    rita = approvals.get_request(demo_store, RITA, 5)
    at = open_app(demo_store.home, monkeypatch, "ada@modelgov.demo", "pages/approvals.py")
    assert not [b for b in at.button if b.key == "appr_queue_approve"]  # a data scientist has no decision form
    from core.identity import identity_for

    approvals.approve(demo_store, identity_for(demo_store, "rita@modelgov.demo"), rita.id, "ok",
                      override_reason="accepted for the demo")
    at = open_app(demo_store.home, monkeypatch, "ada@modelgov.demo", "pages/approvals.py")
    _button(at, "appr_mine_deploy").click()
    at.run()
    assert not at.exception
    assert live.champion(demo_store, "diabetes-progression", "production").version == 1


def test_viewers_do_not_get_the_page(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch, "vera@modelgov.demo")
    at.switch_page("pages/approvals.py")
    at.run()
    assert not at.exception
    assert "You do not have access to this page" in texts(at)


def test_the_audit_page_checks_the_chain_and_filters(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch, "raj@modelgov.demo", "pages/audit.py")
    assert any("The chain is intact" in s.value for s in at.success)
    at.selectbox(key="audit_model").select("credit-default")
    at.run()
    table = _table_with(at, "Entity")
    assert len(table) > 0 and table["Entity"].str.contains("credit-default|approval|alert").all()
    with demo_store.transaction() as con:
        con.execute("UPDATE audit_log SET actor = 'mallory@example.com' WHERE seq = 3")
    at.run()
    assert any("broken at sequence number 3" in e.value for e in at.error)


def test_the_model_page_offers_the_request_form_and_shows_deployments(demo_store, monkeypatch):
    at = open_app(demo_store.home, monkeypatch, "grace@modelgov.demo", "pages/model.py")
    at.selectbox(key="model_pick").select("breast-cancer-screening")
    at.run()
    at.text_area(key="model_request_breast-cancer-screening_reason").input("Second try with a full card")
    _button(at, "model_request_breast-cancer-screening_submit").click()
    at.run()
    assert not at.exception
    assert any("is pending" in s.value for s in at.success)
    assert approvals.list_requests(demo_store, RITA, status="pending", model="breast-cancer-screening")
