"""AppTest: the Notifications page adds a webhook, sends a test delivery, shows the log and removes the hook (an
administrator); a risk officer subscribes their own address; a viewer never gets the page. Rules: tests/core."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.notify import hooks

from tests.core.notify_receivers import Receiver

MAIN = str(Path(__file__).resolve().parents[2] / "app/main.py")


@pytest.fixture
def app(store, monkeypatch):
    monkeypatch.setenv("MODELGOV_HOME", str(store.home))
    monkeypatch.setenv("MODELGOV_HOOK_RETRY_PAUSE", "0")
    monkeypatch.delenv("MODELGOV_REQUIRE_AUTH", raising=False)
    return AppTest.from_file(MAIN, default_timeout=30)


def test_an_administrator_adds_tests_reads_the_log_and_removes_a_hook(app, store, people):
    app.session_state["demo_user"] = people["admin"].email
    app.run()
    app.switch_page("pages/notifications.py").run()
    assert not app.exception
    with Receiver() as rx:
        app.text_input(key="notify_url").input(rx.url + "/hook")
        app.text_input(key="notify_secret").input("page-secret")
        app.multiselect(key="notify_events").set_value(["alert.raised", "approval.requested"])
        app.button(key="notify_add_submit").click().run()
        assert not app.exception and not app.error
        [h] = hooks.list_hooks(store, people["admin"])
        assert h.events == ["alert.raised", "approval.requested"] and h.secret_fingerprint.startswith("sha256:")
        assert not any("page-secret" in str(e.value) for e in app.dataframe)
        app.button(key="notify_test_submit").click().run()
        assert not app.exception
        assert any("delivered" in s.value for s in app.success)
        assert rx.accepted[0]["body"]["event"] == "hook.test"
    app.run()
    [log] = [d.value for d in app.dataframe if "Attempts" in d.value.columns]
    assert log["Status"].tolist() == ["delivered"] and log["Response"].tolist() == [200]
    app.button(key="notify_remove_submit").click().run()
    assert not app.exception
    assert hooks.list_hooks(store, people["admin"]) == []


def test_a_risk_officer_subscribes_their_own_address(app, store, people):
    app.session_state["demo_user"] = people["ro"].email
    app.run()
    app.switch_page("pages/notifications.py").run()
    assert not app.exception
    assert not any(t.key == "notify_url" for t in app.text_input)  # no webhooks for them
    app.multiselect(key="notify_tiers").set_value(["high"])
    app.button(key="notify_add_submit").click().run()
    assert not app.exception and not app.error
    [h] = hooks.list_hooks(store, people["ro"])
    assert (h.url, h.events, h.tiers) == ("mailto:rita@example.com", ["approval.requested"], ["high"])


def test_a_viewer_does_not_get_the_page(app, people):
    app.session_state["demo_user"] = people["viewer"].email
    app.run()
    app.switch_page("pages/notifications.py").run()
    assert not app.exception
    assert not any(t.key == "notify_add_submit" for t in app.button)
