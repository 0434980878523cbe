"""The Champion vs challenger page under AppTest, on the quick demo store."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.compare import stored
from core.governance import approvals, evidence
from core.identity import Identity

RAJ = Identity("raj@modelgov.demo", frozenset({"risk_officer"}))

ROOT = Path(__file__).resolve().parents[2]


def _page(monkeypatch, store, email):
    monkeypatch.setenv("MODELGOV_HOME", str(store.home))
    at = AppTest.from_file(str(ROOT / "app/main.py"), default_timeout=60)
    at.session_state["demo_user"] = email
    at.run()
    at.switch_page("pages/compare.py")
    at.run()
    assert not at.exception, at.exception
    return at


def test_data_scientist_compares_on_the_test_data_and_it_is_stored(monkeypatch, demo_store):
    at = _page(monkeypatch, demo_store, "ada@modelgov.demo")
    assert at.title[0].value == "Champion vs challenger"
    assert at.selectbox(key="cmp_model").value in ("credit-default", "breast-cancer-screening")
    at.selectbox(key="cmp_model").set_value("credit-default").run()
    at.selectbox(key="cmp_champion").set_value(1).run()
    at.selectbox(key="cmp_challenger").set_value(2).run()
    assert at.selectbox(key="cmp_target").value == "default"
    at.selectbox(key="cmp_segment").set_value("EDUCATION")
    at.number_input(key="cmp_bootstrap").set_value(100)
    at.button(key="cmp_run").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    verdict = " ".join(str(x.value) for x in (*at.success, *at.error, *at.warning, *at.info))
    assert "Verdict" in verdict
    ev = stored.comparison_for_evidence(demo_store, "credit-default:2")
    assert ev is not None and ev["champion"] == "credit-default:1" and ev["bootstrap"] == 100
    assert ev["data_ref"].startswith("dataset:") and ev["segment"] == "EDUCATION"
    # A data scientist can ask for promotion right from the comparison.
    assert any(b.key == "cmp_promote_submit" for b in at.button)


@pytest.mark.parametrize("email", ["vera@modelgov.demo", "rita@modelgov.demo"])
def test_other_roles_open_the_page(monkeypatch, demo_store, email):
    at = _page(monkeypatch, demo_store, email)
    assert at.button(key="cmp_run")


def test_empty_store_says_what_to_do(monkeypatch, store):
    at = _page(monkeypatch, store, "ada@example.com")
    assert any("two versions" in str(i.value) for i in at.info)


def test_request_promotion_calls_approvals_when_present(monkeypatch, demo_store):
    import sys
    import types

    import core.governance

    calls = []
    fake = types.ModuleType("core.governance.approvals")

    def request_deployment(store, actor, model, version, environment, role, justification):
        calls.append((actor.email, model, version, environment, role, justification))
        return types.SimpleNamespace(id=41)

    fake.request_deployment = request_deployment
    monkeypatch.setitem(sys.modules, "core.governance.approvals", fake)
    monkeypatch.setattr(core.governance, "approvals", fake, raising=False)
    at = _page(monkeypatch, demo_store, "ada@modelgov.demo")
    at.selectbox(key="cmp_model").set_value("credit-default").run()
    at.selectbox(key="cmp_champion").set_value(1).run()
    at.selectbox(key="cmp_challenger").set_value(2).run()
    at.number_input(key="cmp_bootstrap").set_value(50)
    at.button(key="cmp_run").click().run()
    # v2 is worse: nothing is pre-filled, so the requester chooses and says why in their own words.
    assert at.selectbox(key="cmp_promote_env").value is None and at.text_area(key="cmp_promote_why").value == ""
    at.selectbox(key="cmp_promote_env").set_value("staging")
    at.selectbox(key="cmp_promote_role").set_value("champion")
    at.text_area(key="cmp_promote_why").input("Shadow test in staging only, to measure latency.")
    at.button(key="cmp_promote_submit").click().run()
    assert not at.exception, at.exception
    assert len(calls) == 1
    email, model, version, env, role, why = calls[0]
    assert (email, model, version, env, role) == ("ada@modelgov.demo", "credit-default", 2, "staging", "champion")
    assert why == "Shadow test in staging only, to measure latency."
    assert any("Requested: 41" in str(s.value) for s in at.success)


def test_promotion_is_requested_from_the_comparison_with_it_in_the_evidence(monkeypatch, demo_store):

    at = _page(monkeypatch, demo_store, "grace@modelgov.demo")
    at.selectbox(key="cmp_model").set_value("credit-default").run()
    at.selectbox(key="cmp_champion").set_value(1).run()
    at.selectbox(key="cmp_challenger").set_value(2).run()
    at.number_input(key="cmp_bootstrap").set_value(100)
    at.button(key="cmp_run").click().run()
    at.selectbox(key="cmp_promote_env").set_value("staging")
    at.selectbox(key="cmp_promote_role").set_value("champion")
    at.text_area(key="cmp_promote_why").input("Staging trial to measure latency; the comparison is known.")
    at.button(key="cmp_promote_submit").click().run()
    assert not at.exception, at.exception
    assert any("Requested" in s.value for s in at.success), [e.value for e in at.error]
    (req,) = approvals.list_requests(demo_store, RAJ, status="pending", model="credit-default")
    assert (req.version, req.environment, req.requested_by) == (2, "staging", "grace@modelgov.demo")
    pack = evidence.evidence(demo_store, RAJ, req.id)
    assert pack["comparison"]["challenger"] == "credit-default:2" and pack["explanations"]["top_features"]
