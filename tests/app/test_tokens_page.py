"""AppTest: the Access tokens page makes a person's own token (shown once), revokes it, and offers service tokens
to administrators only (the service-token rules themselves are tested in core: tests/core/test_tokens.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import tokens

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

