"""Notifications (issue 19): the outbox in the action's transaction, hooks and their permissions, webhook delivery
(signature, payload, idempotency id, retries, order, exactly once), redelivery and removal."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time

import pytest

from core import audit
from core.audit import utcnow
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.events import AlertRaised
from core.monitoring import alerts
from core.notify import deliver, hooks
from core.notify.secrets import DeliverySettings
from core.outbox import enqueue_tx

from tests.conftest import make_version
from tests.core.notify_receivers import Receiver

FAST = DeliverySettings(timeout=5, tries_per_run=3, retry_pause=0, backoff=0, max_attempts=1000, batch=100)


def _events(store, n: int, model: str | None = None) -> None:
    """`n` alert.raised events in one transaction, as the outbox writes them."""
    with store.transaction() as con:
        for i in range(n):
            enqueue_tx(con, "alert.raised", ts=utcnow(), model=model, version=1, environment="production",
                       data={"n": i})


def _outbox(store) -> list[tuple]:
    with store.read() as con:
        return con.execute("SELECT event, model, data FROM notification_events ORDER BY id").fetchall()


@pytest.fixture
def toy(store, people):
    """A small registered model with one open alert."""
    make_version(store, people["ds"], "toy-model", risk_tier="high")
    with store.transaction() as con:
        mid = con.execute("SELECT id FROM models WHERE name = 'toy-model'").fetchone()[0]
        aid = con.execute("INSERT INTO alerts (model_id, version, environment, kind, severity, message, metric, value,"
                          " threshold, status, created_at) VALUES (?, 1, 'production', 'drift', 'high', 'x drifted', "
                          "'drifted_share', 0.5, 0.3, 'open', ?) RETURNING id", [mid, utcnow()]).fetchone()[0]
    return aid


# --- the outbox -------------------------------------------------------------------------------------------------

def test_an_audited_action_writes_its_notification_in_its_own_transaction(store, people, toy):
    hook = hooks.create_hook(store, people["admin"], "https://hooks.example.com/in", "alert.resolved,alert.raised")
    alerts.update_alert(store, people["ro"], toy, "resolve", "retrained")
    [(event, model, data)] = _outbox(store)
    assert (event, model) == ("alert.resolved", "toy-model")
    assert json.loads(data) | {} == {"alert_id": toy, "kind": "drift", "severity": "high", "message": "x drifted",
                                     "resolved_by": "rita@example.com", "note": "retrained"}
    assert hooks.deliveries(store, people["admin"]) == []  # the deliverer makes each hook's delivery after commit
    assert hook.id
    # A failing action leaves neither its audit row nor its notification.
    with pytest.raises(RuntimeError):
        with store.transaction() as con:
            audit.record(con, people["ds"], AlertRaised(toy, "toy-model", "drift", "again"))
            raise RuntimeError("the action failed after its audit row")
    assert len(_outbox(store)) == 1
    # A refused action writes no notification either.
    with pytest.raises(Forbidden):
        alerts.update_alert(store, people["viewer"], toy, "acknowledge")
    assert len(_outbox(store)) == 1


def test_subscriptions_filter_by_event_model_and_tier(store, people, toy):
    make_version(store, people["ds"], "other-model", risk_tier="low")
    admin = people["admin"]
    with Receiver() as rx:
        _events(store, 1, "toy-model")  # before any hook: nobody receives it
        hooks.create_hook(store, admin, rx.url + "/every", ["alert.raised"])
        hooks.create_hook(store, admin, rx.url + "/mine", ["alert.raised"], models="toy-model")
        hooks.create_hook(store, admin, rx.url + "/high", ["alert.raised"], tiers="high")
        hooks.create_hook(store, admin, rx.url + "/requests", ["approval.requested"])
        _events(store, 1, "toy-model")
        _events(store, 1, "other-model")
        deliver.deliver(store, admin, settings=FAST)
        deliver.deliver(store, admin, settings=FAST)  # a second run sends nothing again
    got = sorted((a["path"], a["body"]["model"]) for a in rx.accepted)
    assert got == [("/every", "other-model"), ("/every", "toy-model"), ("/high", "toy-model"), ("/mine", "toy-model")]


def test_a_snapshot_with_dataset_drift_raises_drift_gate_failed(store, people, toy):
    from core.events import MonitoringSnapshotStored

    for drifted in (False, True):
        with store.transaction() as con:
            con.execute("INSERT INTO monitor_snapshots SELECT id, 1, 'production', ?, ? FROM models WHERE name = ? "
                        "ON CONFLICT (model_id, version, environment) DO UPDATE SET summary = excluded.summary",
                        [utcnow(), json.dumps({"dataset_drift": drifted, "drifted_share": 0.6, "rows": 300,
                                               "drifted_columns": ["x1", "x2"], "sentence": "2 of 2 shifted."}),
                         "toy-model"])
            audit.record(con, people["ds"], MonitoringSnapshotStored("toy-model", 1, "production", 300, 0.6))
    [(event, model, data)] = _outbox(store)
    assert (event, model) == ("drift.gate_failed", "toy-model")
    assert json.loads(data)["drifted_columns"] == ["x1", "x2"]


# --- hooks: validation and permissions ---------------------------------------------------------------------------

@pytest.mark.parametrize("url, fmt, message", [
    ("", None, "Give the hook's URL"),
    ("ftp://example.com/x", None, r"not http\(s\) or mailto"),
    ("file:///etc/passwd", None, r"not http\(s\) or mailto"),
    ("javascript:alert(1)", None, r"not http\(s\) or mailto"),
    ("https://", None, "names no host"),
    ("https://user:pw@example.com/", None, "no user or password"),
    ("https://example.com/a b", None, "spaces or control characters"),
    ("https://example.com:99999/", None, "could not be read"),
    ("https://example.com/", "xml", "Unknown format"),
    ("mailto:", None, "names no address"),
    ("mailto:not-an-address", None, "is not an e-mail address"),
    ("mailto:rita@example.com", "slack", "leave --format out"),
])
def test_a_bad_url_is_one_sentence_and_changes_nothing(store, people, url, fmt, message):
    with pytest.raises(InvalidInput, match=message):
        hooks.create_hook(store, people["admin"], url, "alert.raised", format=fmt)
    assert hooks.list_hooks(store, people["admin"]) == []


def test_unknown_events_tiers_and_models_are_refused(store, people):
    with pytest.raises(InvalidInput, match="Unknown event 'alert.exploded'"):
        hooks.create_hook(store, people["admin"], "https://x.example.com/", "alert.exploded")
    with pytest.raises(InvalidInput, match="Name the events"):
        hooks.create_hook(store, people["admin"], "https://x.example.com/", "")
    with pytest.raises(InvalidInput, match="Risk tier 'huge'"):
        hooks.create_hook(store, people["admin"], "https://x.example.com/", "alert.raised", tiers="huge")
    with pytest.raises(NotFound, match="Model no-such-model not found"):
        hooks.create_hook(store, people["admin"], "https://x.example.com/", "alert.raised", models="no-such-model")


def test_hooks_are_admin_actions_audited_without_their_secret(store, people):
    secret = "s3cr3t-value-never-shown"
    hook = hooks.create_hook(store, people["admin"], "https://hooks.slack.com/services/T0/B0/XYZ?token=abc",
                             "alert.raised", secret=secret, format="slack")
    assert hook.url == "https://hooks.slack.com/…?…" and hook.secret_fingerprint.startswith("sha256:")
    listed = json.dumps([h.as_dict() for h in hooks.list_hooks(store, people["admin"])])
    with store.read() as con:
        trail = json.dumps(con.execute("SELECT * FROM audit_log").fetchall(), default=str)
    for text in (listed, trail):
        assert secret not in text and "XYZ" not in text and "token=abc" not in text
    [row] = audit.list_events(store, people["admin"], audit.AuditFilter(action="hook.create"))
    assert row["outcome"] == "ok" and row["payload"]["signed"] is True
    for who in ("ds", "ro", "viewer"):
        with pytest.raises(Forbidden):
            hooks.create_hook(store, people[who], "https://x.example.com/", "alert.raised")
    with pytest.raises(Forbidden):
        hooks.remove_hook(store, people["ro"], hook.id)
    refused = audit.list_events(store, people["admin"], audit.AuditFilter(action="hook.create", outcome="refused"))
    assert len(refused) == 3
    assert len(hooks.list_hooks(store, people["admin"])) == 1


def test_a_risk_officer_subscribes_their_own_address_to_requests_waiting_for_their_tiers(store, people):
    ro = people["ro"]
    sub = hooks.create_hook(store, ro, "mailto:rita@example.com", "approval.requested", tiers="high,medium")
    assert (sub.kind, sub.tiers) == ("email", ["high", "medium"])
    with pytest.raises(Forbidden, match="only their own e-mail address"):
        hooks.create_hook(store, ro, "mailto:raj@example.com", "approval.requested")
    with pytest.raises(Forbidden, match="only their own e-mail address"):
        hooks.create_hook(store, ro, "https://x.example.com/", "approval.requested")
    assert [h.id for h in hooks.list_hooks(store, ro)] == [sub.id]
    assert [h.id for h in hooks.list_hooks(store, people["ro2"])] == []
    with pytest.raises(Forbidden):
        hooks.remove_hook(store, people["ro2"], sub.id)
    with pytest.raises(Forbidden):
        hooks.list_hooks(store, people["viewer"])
    assert hooks.remove_hook(store, ro, sub.id).status == "removed"


# --- delivery ------------------------------------------------------------------------------------------------

def test_a_webhook_is_signed_and_carries_the_event_and_its_idempotency_id(store, people, toy):
    with Receiver() as rx:
        hook = hooks.create_hook(store, people["admin"], rx.url + "/in?team=risk", "alert.resolved",
                                 secret="topsecret")
        alerts.update_alert(store, people["ds"], toy, "resolve", "fixed")
        run = deliver.deliver(store, people["viewer"], settings=FAST)
    assert (run.delivered, run.pending) == (1, 0)
    [got] = rx.accepted
    assert got["path"] == "/in?team=risk"
    expected = "sha256=" + hmac.new(b"topsecret", got["raw"], hashlib.sha256).hexdigest()
    assert got["headers"]["X-ModelGov-Signature"] == expected
    body = got["body"]
    assert set(body) == {"id", "event", "time", "model", "version", "environment", "data"}
    assert (body["event"], body["model"], body["version"], body["environment"]) == (
        "alert.resolved", "toy-model", 1, "production")
    assert body["data"]["alert_id"] == toy and body["id"].startswith("evt_")
    assert got["headers"]["X-ModelGov-Id"] == got["headers"]["Idempotency-Key"] == body["id"]
    [d] = hooks.deliveries(store, people["admin"], hook_id=hook.id)
    assert (d.status, d.attempts, d.response_code, d.event_uid) == ("delivered", 1, 200, body["id"])


def test_slack_and_teams_formats(store, people):
    with Receiver() as rx:
        hooks.create_hook(store, people["admin"], rx.url + "/slack", "alert.raised", format="slack")
        hooks.create_hook(store, people["admin"], rx.url + "/teams", "alert.raised", format="teams")
        _events(store, 1)
        deliver.deliver(store, people["admin"], settings=FAST)
    by_path = {a["path"]: a["body"] for a in rx.accepted}
    assert "monitoring alert was raised" in by_path["/slack"]["text"]
    assert by_path["/teams"]["@type"] == "MessageCard" and "monitoring alert" in by_path["/teams"]["title"]
    assert "X-ModelGov-Signature" not in rx.accepted[0]["headers"]  # no secret, no signature


def test_a_thousand_events_reach_each_hook_exactly_once_in_order_after_the_receiver_recovers(store, people):
    """Receiver failing half the time, then recovering: every event once per hook, in order, none lost."""
    started = time.perf_counter()
    rng = random.Random(19)
    with Receiver() as rx:
        rx.fail = lambda n: rng.random() < 0.5
        a = hooks.create_hook(store, people["admin"], rx.url + "/a", "alert.raised", secret="k1")
        b = hooks.create_hook(store, people["admin"], rx.url + "/b", "alert.raised", format="slack")
        _events(store, 1000)
        uids = [u for (u,) in _ordered_uids(store)]
        for _ in range(3):  # runs while it fails half the time: each hook stops at a delivery failing 3 times
            deliver.deliver(store, people["admin"], settings=FAST)
        assert deliver.pending_count(store) > 0
        rx.fail = lambda n: False  # it recovers
        runs = 0
        while deliver.pending_count(store) and runs < 5:
            deliver.deliver(store, people["admin"], settings=FAST)
            runs += 1
    assert deliver.pending_count(store) == 0
    got_a = [x["headers"]["X-ModelGov-Id"] for x in rx.accepted if x["path"] == "/a"]
    got_b = [x["headers"]["X-ModelGov-Id"] for x in rx.accepted if x["path"] == "/b"]
    assert got_a == uids and got_b == uids  # each exactly once, in the order of the events
    for x in rx.accepted:
        if x["path"] == "/a":
            assert x["headers"]["X-ModelGov-Signature"] == \
                "sha256=" + hmac.new(b"k1", x["raw"], hashlib.sha256).hexdigest()
    log = hooks.deliveries(store, people["admin"], limit=5000)
    assert len(log) == 2000 and {d.status for d in log} == {"delivered"}
    assert any(d.attempts > 1 for d in log) and {d.hook_id for d in log} == {a.id, b.id}
    assert time.perf_counter() - started < 60  # generous; it takes a few seconds


def _ordered_uids(store):
    with store.read() as con:
        return con.execute("SELECT uid FROM notification_events ORDER BY id").fetchall()


def test_a_dead_endpoint_backs_off_then_gives_up_and_is_redelivered_by_hand(store, people):
    with Receiver() as rx:
        rx.fail = lambda n: True
        hook = hooks.create_hook(store, people["admin"], rx.url + "/x", "alert.raised")
        _events(store, 2)
        waiting = DeliverySettings(timeout=5, tries_per_run=2, retry_pause=0, backoff=3600, max_attempts=3)
        run = deliver.deliver(store, people["admin"], settings=waiting)
        assert (run.delivered, run.failed_attempts, run.pending) == (0, 2, 2)
        first, second = sorted(hooks.deliveries(store, people["admin"]), key=lambda d: d.event_id)
        assert first.attempts == 2 and first.response_code == 503 and "HTTP 503" in first.last_error
        assert second.attempts == 0  # the later event waits behind the earlier one
        assert first.next_attempt_at > utcnow()  # backed off: the next run sends nothing yet
        assert deliver.deliver(store, people["admin"], settings=waiting).failed_attempts == 0
        now = DeliverySettings(timeout=5, tries_per_run=2, retry_pause=0, backoff=0, max_attempts=3)
        with store.transaction() as con:  # the back-off has passed
            con.execute("UPDATE notification_deliveries SET next_attempt_at = ?", [utcnow()])
        run = deliver.deliver(store, people["admin"], settings=now)
        assert run.gave_up == 1 and run.pending == 1  # the first after its third attempt; the second tried twice
        run = deliver.deliver(store, people["admin"], settings=now)
        assert run.gave_up == 1 and run.pending == 0
        assert {d.status for d in hooks.deliveries(store, people["admin"])} == {"failed"}
        rx.fail = lambda n: False
        again = hooks.redeliver(store, people["admin"], first.id)
        assert (again.status, again.attempts) == ("pending", 0)
        with pytest.raises(Conflict, match="still pending"):
            hooks.redeliver(store, people["admin"], first.id)
        assert deliver.deliver(store, people["admin"], settings=now).delivered == 1
    assert [x["headers"]["X-ModelGov-Id"] for x in rx.accepted] == [first.event_uid]
    assert audit.list_events(store, people["admin"], audit.AuditFilter(action="hook.redeliver"))
    with pytest.raises(NotFound):
        hooks.redeliver(store, people["admin"], 999999)
    assert hook.id


def test_removing_a_hook_cancels_its_pending_deliveries(store, people):
    hook = hooks.create_hook(store, people["admin"], "http://127.0.0.1:9/never", "alert.raised")
    _events(store, 3)
    once = DeliverySettings(timeout=2, tries_per_run=1, retry_pause=0, backoff=3600, max_attempts=5)
    assert deliver.deliver(store, people["admin"], settings=once).pending == 3  # port 9: refused
    removed = hooks.remove_hook(store, people["admin"], hook.id)
    assert removed.status == "removed"
    assert {d.status for d in hooks.deliveries(store, people["admin"])} == {"cancelled"}
    _events(store, 1)
    assert len(hooks.deliveries(store, people["admin"])) == 3  # no new deliveries
    with pytest.raises(Conflict, match="already removed"):
        hooks.remove_hook(store, people["admin"], hook.id)
    assert deliver.deliver(store, people["admin"], settings=FAST).hooks == []


def test_a_test_delivery_reports_its_outcome(store, people):
    with Receiver() as rx:
        hook = hooks.create_hook(store, people["admin"], rx.url + "/t", "alert.raised", secret="env:MG_TEST_SECRET")
        d = deliver.send_test(store, people["admin"], hook.id, settings=FAST)
    assert (d.status, d.response_code, d.event) == ("failed", None, "hook.test") or d.status == "pending"
    assert "MG_TEST_SECRET" in (d.last_error or "")  # the referenced secret is not set here
    assert not rx.accepted


def test_a_secret_reference_is_resolved_when_delivering(store, people, monkeypatch):
    monkeypatch.setenv("MG_TEST_SECRET", "from-the-environment")
    with Receiver() as rx:
        hook = hooks.create_hook(store, people["admin"], rx.url + "/t", "alert.raised", secret="env:MG_TEST_SECRET")
        assert hook.secret_fingerprint == "env:MG_TEST_SECRET"
        d = deliver.send_test(store, people["admin"], hook.id, settings=FAST)
    assert (d.status, d.response_code, d.event) == ("delivered", 200, "hook.test")
    [got] = rx.accepted
    assert got["headers"]["X-ModelGov-Signature"] == \
        "sha256=" + hmac.new(b"from-the-environment", got["raw"], hashlib.sha256).hexdigest()


def test_two_deliverers_at_once_send_each_event_once(store, people):
    """Two threads (the dashboard's and a cron run) deliver the same queue: the hook's lease lets one at a time."""
    import threading

    with Receiver() as rx:
        hooks.create_hook(store, people["admin"], rx.url + "/a", "alert.raised")
        _events(store, 300)
        small = DeliverySettings(timeout=5, tries_per_run=3, retry_pause=0, backoff=0, max_attempts=1000, batch=20)
        threads = [threading.Thread(target=deliver.deliver, args=(store, people["admin"]),
                                    kwargs={"settings": small}) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        while deliver.pending_count(store):
            deliver.deliver(store, people["admin"], settings=small)
    got = [x["headers"]["X-ModelGov-Id"] for x in rx.accepted]
    assert got == [u for (u,) in _ordered_uids(store)]


def test_two_processes_delivering_at_once_send_each_event_once_in_order(store, people):
    """`modelgov hooks deliver` twice at the same moment (cron and the dashboard's host): the store's file is shared
    between the processes unit of work by unit of work; the hook's lease keeps one sender and the order."""
    import os
    import subprocess
    import sys

    with Receiver() as rx:
        hooks.create_hook(store, people["admin"], rx.url + "/p", "alert.raised")
        _events(store, 60)  # six batches of ten: the processes alternate on the file between them
        env = {**os.environ, "MODELGOV_HOOK_BATCH": "10", "MODELGOV_HOOK_RETRY_PAUSE": "0"}
        cmd = [sys.executable, "-m", "core.cli", "--home", str(store.home), "--as", "vera@example.com", "hooks",
               "deliver", "--json"]
        procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        outs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        # Whichever started second may have found the hook leased and left the rest: a last run sends it.
        deliver.deliver(store, people["admin"], settings=FAST)
    got = [x["headers"]["X-ModelGov-Id"] for x in rx.accepted]
    assert got == [u for (u,) in _ordered_uids(store)]
    assert sum(json.loads(o)["delivered"] for o, _ in outs) <= 60
