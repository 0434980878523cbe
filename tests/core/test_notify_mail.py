"""E-mail notifications over SMTP on 127.0.0.1 (aiosmtpd): STARTTLS and a login from secrets, the same events."""

from __future__ import annotations

import pytest

from core.audit import utcnow
from core.notify import deliver, hooks
from core.notify.secrets import DeliverySettings
from core.outbox import enqueue_tx

from tests.core.notify_receivers import Mailbox

pytest.importorskip("aiosmtpd")
FAST = DeliverySettings(timeout=5, tries_per_run=2, retry_pause=0, backoff=0, max_attempts=10)


def _request_waiting(store, model: str) -> None:
    with store.transaction() as con:
        enqueue_tx(con, "approval.requested", ts=utcnow(), model=model, version=2, environment="production",
                   data={"request_id": 7, "role": "champion", "reason": "better AUC"})


@pytest.fixture
def two_models(store, people):
    from tests.conftest import make_version

    make_version(store, people["ds"], "high-model", risk_tier="high")
    make_version(store, people["ds"], "low-model", risk_tier="low")


def test_a_risk_officer_gets_requests_waiting_for_their_tier_over_starttls(store, people, two_models, tmp_path,
                                                                           monkeypatch):
    with Mailbox(tls_dir=tmp_path) as box:
        (tmp_path / "secrets.toml").write_text(
            f'[smtp]\nhost = "127.0.0.1"\nport = {box.port}\nuser = "mailer"\npassword = "env:MG_SMTP_PW"\n'
            f'from = "modelgov@example.com"\nca_file = "{box.cert_file}"\n')
        monkeypatch.setenv("MODELGOV_SECRETS_FILE", str(tmp_path / "secrets.toml"))
        monkeypatch.setenv("MG_SMTP_PW", "pw")
        hooks.create_hook(store, people["ro"], "mailto:rita@example.com", "approval.requested", tiers="high")
        _request_waiting(store, "high-model")
        _request_waiting(store, "low-model")  # not her tier
        run = deliver.deliver(store, people["ro"], settings=FAST)
    assert (run.delivered, run.pending) == (1, 0)
    [(to, msg)] = box.messages
    assert to == ["rita@example.com"] and box.logins == ["mailer"]
    assert msg["From"] == "modelgov@example.com"
    assert msg["Subject"] == "[ModelGov] high-model:2 in production: a deployment request is waiting for approval"
    assert "better AUC" in msg.get_content() and msg["X-ModelGov-Id"].startswith("evt_")


def test_without_an_smtp_server_the_mail_waits_and_says_why(store, people, two_models, monkeypatch, tmp_path):
    monkeypatch.setenv("MODELGOV_SECRETS_FILE", str(tmp_path / "none.toml"))
    for name in ("HOST", "PORT", "USER", "PASSWORD"):
        monkeypatch.delenv(f"MODELGOV_SMTP_{name}", raising=False)
    hooks.create_hook(store, people["admin"], "mailto:ops@example.com", "approval.requested")
    _request_waiting(store, "high-model")
    run = deliver.deliver(store, people["admin"], settings=FAST)
    assert (run.delivered, run.pending) == (0, 1)
    [d] = hooks.deliveries(store, people["admin"])
    assert d.status == "pending" and "No SMTP server is configured" in d.last_error


def test_plain_smtp_when_starttls_is_turned_off(store, people, two_models, monkeypatch):
    with Mailbox() as box:
        monkeypatch.setenv("MODELGOV_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("MODELGOV_SMTP_PORT", str(box.port))
        monkeypatch.setenv("MODELGOV_SMTP_STARTTLS", "off")
        hooks.create_hook(store, people["admin"], "mailto:ops@example.com,risk@example.com", "approval.requested")
        _request_waiting(store, "low-model")
        assert deliver.deliver(store, people["admin"], settings=FAST).delivered == 1
    [(to, msg)] = box.messages
    assert sorted(to) == ["ops@example.com", "risk@example.com"]
