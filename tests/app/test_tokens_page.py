"""AppTest: the Access tokens page makes a person's own token (shown once), revokes it, and offers service tokens
to administrators only."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import tokens, users

MAIN = str(Path(__file__).resolve().parents[2] / "app/main.py")


@pytest.fixture
def app(store, monkeypatch):
    monkeypatch.setenv("MODELGOV_HOME", str(store.home))
    monkeypatch.delenv("MODELGOV_REQUIRE_AUTH", raising=False)
    return AppTest.from_file(MAIN, default_timeout=30)


def test_a_person_makes_and_revokes_their_own_token(app, store, people):
    app.session_state["demo_user"] = people["ds"].email
    app.run()
    app.switch_page("pages/tokens.py").run()
    assert not app.exception
    assert not any(b.key == "tokens_service_submit" for b in app.button)
    app.text_input(key="tokens_description").input("nightly job")
    app.button(key="tokens_create_submit").click().run()
    assert not app.exception
    [made] = tokens.list_tokens(store, people["ds"])
    shown = [c.value for c in app.code]
    assert len(shown) == 1 and shown[0].startswith("mgv_")
    assert tokens.authenticate(store, shown[0]).email == "ada@example.com"
    assert made.description == "nightly job"
    app.run()
    assert not app.code  # shown once
    app.button(key="tokens_revoke_submit").click().run()
    assert not app.exception
    assert tokens.list_tokens(store, people["ds"])[0].status == "revoked"


def test_an_administrator_makes_a_service_token(app, store, people):
    users.grant_role(store, people["admin"], "ci@svc.example.com", "data_scientist")
    app.session_state["demo_user"] = people["admin"].email
    app.run()
    app.switch_page("pages/tokens.py").run()
    app.text_input(key="tokens_service_owner").input("ci@svc.example.com")
    app.button(key="tokens_service_submit").click().run()
    assert not app.exception and not app.error
    [made] = tokens.list_tokens(store, people["admin"])
    assert (made.owner, made.kind, made.scope) == ("ci@svc.example.com", "service", ["data_scientist"])
