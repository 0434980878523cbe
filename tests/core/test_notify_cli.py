"""Notifications from the command line: `modelgov hooks …` and `modelgov monitor --all` (issue 19)."""

from __future__ import annotations

import json

from core.notify import deliver, hooks

from tests.core.notify_receivers import Receiver

ADMIN, RO, VIEWER = "alan@example.com", "rita@example.com", "vera@example.com"


def test_hooks_add_list_test_deliveries_and_remove(store, cli, monkeypatch):
    monkeypatch.setenv("MODELGOV_HOOK_RETRY_PAUSE", "0")
    with Receiver() as rx:
        r = cli(store, "hooks", "add", "--url", rx.url + "/in", "--events", "alert.raised,approval.requested",
                "--secret", "never-shown", "--tier", "high", "--json", as_=ADMIN)
        assert r.code == 0, r.err
        added = json.loads(r.out)
        assert added["events"] == ["alert.raised", "approval.requested"] and added["tiers"] == ["high"]
        assert added["secret"].startswith("sha256:") and "never-shown" not in r.out
        r = cli(store, "hooks", "list", as_=ADMIN)
        assert r.code == 0 and "never-shown" not in r.out and "/in" in r.out
        r = cli(store, "hooks", "test", str(added["id"]), "--json", as_=ADMIN)
        assert r.code == 0, r.err
        assert json.loads(r.out)["status"] == "delivered" and rx.accepted[0]["body"]["event"] == "hook.test"
    r = cli(store, "hooks", "deliveries", "--json", as_=ADMIN)
    [d] = json.loads(r.out)
    assert (d["status"], d["response_code"], d["attempts"]) == ("delivered", 200, 1)
    r = cli(store, "hooks", "test", str(added["id"]), as_=ADMIN)  # the receiver is gone now
    assert r.code == 1 and "pending" in r.out and "Traceback" not in r.err
    r = cli(store, "hooks", "deliver", "--json", as_=VIEWER)
    assert r.code == 0 and json.loads(r.out)["pending"] == 1
    r = cli(store, "hooks", "remove", str(added["id"]), as_=ADMIN)
    assert r.code == 0 and "removed" in r.out
    assert hooks.list_hooks(store, hooks_identity(store)) == []


def hooks_identity(store):
    from core.identity import identity_for

    return identity_for(store, ADMIN)


def test_hooks_refusals_and_bad_input_are_one_sentence(store, cli):
    cases = [
        (("hooks", "add", "--url", "https://x.example.com/", "--events", "alert.raised"), RO, 3, "own e-mail"),
        (("hooks", "add", "--url", "https://x.example.com/", "--events", "alert.raised"), VIEWER, 3, "may not"),
        (("hooks", "add", "--url", "gopher://x", "--events", "alert.raised"), ADMIN, 2, "not http(s)"),
        (("hooks", "add", "--url", "https://x.example.com/", "--events", "nope"), ADMIN, 2, "Unknown event"),
        (("hooks", "add", "--url", "https://x.example.com/", "--events", "alert.raised", "--format", "xml"), ADMIN,
         2, "invalid choice"),
        (("hooks", "remove", "99"), ADMIN, 5, "Hook 99 not found"),
        (("hooks", "redeliver", "99"), ADMIN, 5, "Delivery 99 not found"),
        (("hooks", "list",), VIEWER, 3, "may not"),
        (("hooks", "deliveries", "--status", "lost"), ADMIN, 2, "invalid choice"),
    ]
    for args, who, code, words in cases:
        r = cli(store, *args, as_=who)
        assert r.code == code, (args, r.err)
        assert words in r.err and "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1, r.err


def test_a_risk_officer_subscribes_by_mail_from_the_cli(store, cli):
    r = cli(store, "hooks", "add", "--url", "mailto:rita@example.com", "--events", "approval.requested", "--tier",
            "high", "--json", as_=RO)
    assert r.code == 0, r.err
    assert json.loads(r.out)["kind"] == "email"
    r = cli(store, "hooks", "list", "--json", as_=RO)
    assert [h["url"] for h in json.loads(r.out)] == ["mailto:rita@example.com"]


def test_monitor_needs_a_model_or_all(store, cli):
    r = cli(store, "monitor", as_="ada@example.com")
    assert r.code == 2 and "--all" in r.err
    r = cli(store, "monitor", "x", "--all", as_="ada@example.com")
    assert r.code == 2 and "not both" in r.err
    r = cli(store, "monitor", "--all", as_=VIEWER)
    assert r.code == 3 and "data_scientist" in r.err
    r = cli(store, "monitor", "--all", "--json", as_="ada@example.com")  # nothing live: nothing to do
    assert r.code == 0, r.err
    assert json.loads(r.out)["runs"] == []


def test_monitor_all_runs_every_live_deployment_raises_and_delivers(demo_store, demo_people, cli, monkeypatch):
    """The scheduled run: exit 1 when it raised a new alert, its events delivered in the same run."""
    from core.monitoring import alerts

    monkeypatch.setenv("MODELGOV_HOOK_RETRY_PAUSE", "0")
    for a in alerts.alerts(demo_store, "credit-default", "active"):
        alerts.update_alert(demo_store, demo_people["rita"], a.id, "resolve", "retrained")
    with Receiver() as rx:
        hooks.create_hook(demo_store, demo_people["alan"], rx.url + "/ops",
                          ["alert.raised", "drift.gate_failed", "recertification.due"])
        r = cli(demo_store, "monitor", "--all", "--window", "day", "--json", as_="ada@modelgov.demo")
        assert r.code == 1, r.err
        out = json.loads(r.out)
        live = {(x["model"], x["version"], x["environment"]) for x in out["runs"]}
        assert ("credit-default", 1, "production") in live and ("credit-default", 2, "production") in live
        assert out["alerts_raised"] and out["delivery"]["pending"] == 0
        got = [a["body"] for a in rx.accepted]
        raised = sorted(b["data"]["alert_id"] for b in got if b["event"] == "alert.raised")
        assert raised == sorted(out["alerts_raised"])
        gates = {(b["model"], b["version"], b["environment"]) for b in got if b["event"] == "drift.gate_failed"}
        assert gates == {(x["model"], x["version"], x["environment"]) for x in out["runs"] if x.get("dataset_drift")}
    # (exit 0 when nothing new was raised: test_monitor_needs_a_model_or_all; a second run over the demo would cost
    # as much again, and `checks.check` not raising an open alert twice is tested in test_monitoring.py)


def test_governance_actions_notify_and_recertification_notices_are_raised_once(demo_store, demo_people,
                                                                               monkeypatch):
    """Real actions on the demo: approving the waiting request and deploying it leave their events; a champion due
    for re-certification raises its notice once per due date."""
    from core.governance import approvals, deployments
    from core.notify import schedule

    admin, rita = demo_people["alan"], demo_people["rita"]
    with Receiver() as rx:
        hooks.create_hook(demo_store, admin, rx.url + "/gov", ["approval.decided", "deployment.created",
                                                              "recertification.due"])
        [waiting] = approvals.list_requests(demo_store, rita, status="pending")
        approvals.decide(demo_store, rita, waiting.id, "approve", "reviewed", override_reason="a drill")
        deployments.deploy(demo_store, demo_people["ada"], waiting.id)
        monkeypatch.setenv("MODELGOV_RECERTIFY_NOTICE_DAYS", "100000")  # every live champion is "due"
        first = schedule.raise_recertification_notices(demo_store, demo_people["ada"])
        assert first and schedule.raise_recertification_notices(demo_store, demo_people["ada"]) == []
        deliver.deliver(demo_store, admin)
    got = [a["body"] for a in rx.accepted]
    decided = next(b for b in got if b["event"] == "approval.decided")
    assert (decided["model"], decided["data"]["status"], decided["data"]["decided_by"]) == (
        waiting.model, "approved", "rita@modelgov.demo")
    deployed = next(b for b in got if b["event"] == "deployment.created")
    assert (deployed["model"], deployed["version"], deployed["environment"], deployed["data"]["deployed_by"]) == (
        waiting.model, waiting.version, waiting.environment, "ada@modelgov.demo")
    notices = [b for b in got if b["event"] == "recertification.due"]
    assert len(notices) == len(first) and {n["data"]["due"] for n in notices} == {r["due"] for r in first}
