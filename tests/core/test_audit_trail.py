"""The audit trail: tampering (edit, delete, insert) is found at the right row; listing, filters, CSV; the CLI
contract of approvals, deploy, rollback, recertify and audit."""

from __future__ import annotations

import csv
import io
import json

import pytest

from core import audit
from core.audit import AuditFilter
from core.errors import Forbidden
from core.governance import approvals, deployments
from core.registry import catalog
from tests.conftest import make_version


def _some_history(store, people, n=6):
    for i in range(n):
        catalog.create_model(store, people["ds"], f"model-{i}")


def _seq_count(store):
    with store.read() as con:
        return con.execute("SELECT max(seq) FROM audit_log").fetchone()[0]


def test_an_untouched_trail_verifies(store, people, cli):
    _some_history(store, people)
    assert audit.verify(store).ok
    res = cli(store, "audit", "verify", "--json")
    assert res.code == 0 and json.loads(res.out)["ok"] is True


def test_an_edited_row_is_named(store, people, cli):
    _some_history(store, people)
    target = _seq_count(store) - 3
    with store.transaction() as con:
        con.execute("UPDATE audit_log SET actor = 'mallory@example.com' WHERE seq = ?", [target])
    check = audit.verify(store)
    assert (check.ok, check.first_bad_seq) == (False, target) and "changed" in check.problem
    res = cli(store, "audit", "verify")
    assert res.code == 1 and f"broken at sequence number {target}" in res.err and "Traceback" not in res.err


def test_a_deleted_row_is_named(store, people, cli):
    _some_history(store, people)
    target = _seq_count(store) - 2
    with store.transaction() as con:
        con.execute("DELETE FROM audit_log WHERE seq = ?", [target])
    check = audit.verify(store)
    assert (check.ok, check.first_bad_seq) == (False, target) and "deleted" in check.problem
    assert cli(store, "audit", "verify").code == 1


def test_an_inserted_row_is_named(store, people, cli):
    _some_history(store, people)
    last = _seq_count(store)
    target = last - 2
    with store.transaction() as con:
        # Make room by moving the later rows up one, then slip a forged row in with a plausible prev_hash.
        rows = con.execute("SELECT * FROM audit_log WHERE seq >= ? ORDER BY seq DESC", [target]).fetchall()
        con.execute("DELETE FROM audit_log WHERE seq >= ?", [target])
        for r in rows:
            con.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [r[0] + 1, *r[1:]])
        prev = con.execute("SELECT hash FROM audit_log WHERE seq = ?", [target - 1]).fetchone()[0]
        con.execute("INSERT INTO audit_log VALUES (?, now()::TIMESTAMP, 'mallory@example.com', 'user.grant', 'user',"
                    " 'mallory@example.com', 'ok', '{}', ?, ?)", [target, prev, "f" * 64])
    check = audit.verify(store)
    assert (check.ok, check.first_bad_seq) == (False, target)
    assert cli(store, "audit", "verify").code == 1


def test_an_inserted_row_at_the_end_is_named(store, people):
    _some_history(store, people)
    last = _seq_count(store)
    with store.transaction() as con:
        prev = con.execute("SELECT hash FROM audit_log WHERE seq = ?", [last]).fetchone()[0]
        con.execute("INSERT INTO audit_log VALUES (?, now()::TIMESTAMP, 'mallory@example.com', 'deploy', 'approval',"
                    " '1', 'ok', '{}', ?, ?)", [last + 1, prev, "0" * 64])
    assert audit.verify(store).first_bad_seq == last + 1


def test_listing_filters_and_csv_export_for_auditors_only(store, people, cli):
    make_version(store, people["ds"], "alpha")
    make_version(store, people["ds2"], "beta")
    with pytest.raises(Forbidden):
        audit.list_events(store, people["ds"])
    by_grace = audit.list_events(store, people["ro"], AuditFilter(actor="GRACE@example.com"))
    assert by_grace and {e["actor"] for e in by_grace} == {"grace@example.com"}
    alpha = audit.list_events(store, people["ro"], AuditFilter(model="alpha"))
    assert alpha and all("alpha" in (e["entity_id"] + json.dumps(e["payload"])) for e in alpha)
    assert not any("beta" in e["entity_id"] for e in alpha)
    versions = audit.list_events(store, people["admin"], AuditFilter(action="version."))
    assert {e["action"] for e in versions} == {"version.register"}
    refused = audit.list_events(store, people["admin"], AuditFilter(outcome="refused"))
    assert [e["actor"] for e in refused] == ["ada@example.com"]  # her attempt to read the trail above

    text = audit.export_csv(store, people["ro"], AuditFilter(model="alpha"))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["seq"]) for r in rows] == sorted(e["seq"] for e in alpha)
    assert set(rows[0]) == set(audit.AUDIT_COLUMNS) and len(rows[0]["hash"]) == 64

    res = cli(store, "audit", "export", "--format", "csv", "--model", "alpha", as_="rita@example.com")
    assert res.code == 0 and res.out == text
    res = cli(store, "audit", "list", "--json", "--action", "model.create", as_="alan@example.com")
    assert res.code == 0 and {e["entity_id"] for e in json.loads(res.out)} == {"alpha", "beta"}
    assert cli(store, "audit", "list", as_="ada@example.com").code == 3
    res = cli(store, "audit", "list", "--since", "yesterday", as_="alan@example.com")
    assert res.code == 2 and "ISO format" in res.err


def test_cli_contract_request_list_show_approve_deploy_rollback_recertify(store, people, cli, tmp_path):
    make_version(store, people["ds"], "credit")
    make_version(store, people["ds"], "credit", seed=1)
    catalog.update_model(store, people["ds"], "credit", intended_use="x", limitations="y",
                          training_data_summary="z")
    res = cli(store, "approvals", "request", "credit:1", "--env", "production", "--role", "champion",
              "--reason", "first", "--json", as_="ada@example.com")
    assert res.code == 0, res.err
    out = json.loads(res.out)
    assert {"id", "status"} <= set(out) and out["status"] == "pending"
    rid = out["id"]
    res = cli(store, "approvals", "list", "--status", "pending", "--json", as_="rita@example.com")
    assert res.code == 0 and [r["id"] for r in json.loads(res.out)] == [rid]
    res = cli(store, "approvals", "show", str(rid), "--json", "--html", str(tmp_path / "pack.html"),
              as_="rita@example.com")
    shown = json.loads(res.out)
    assert shown["evidence"]["version"]["version"] == 1 and (tmp_path / "pack.html").read_text().startswith(
        "<!doctype html>")
    assert cli(store, "approvals", "approve", str(rid), "--comment", "ok", as_="ada@example.com").code == 3
    assert cli(store, "deploy", str(rid), as_="ada@example.com").code == 4
    assert cli(store, "approvals", "approve", str(rid), "--comment", "ok", as_="rita@example.com").code == 0
    assert cli(store, "approvals", "approve", str(rid), "--comment", "again", as_="raj@example.com").code == 4
    res = cli(store, "deploy", str(rid), "--json", as_="ada@example.com")
    assert res.code == 0 and json.loads(res.out)["status"] == "deployed"
    assert cli(store, "deploy", str(rid), as_="ada@example.com").code == 4

    r2 = approvals.request_deployment(store, people["ds"], "credit", 2, "production", "champion", "better")
    approvals.approve(store, people["ro"], r2.id, "ok")
    deployments.deploy(store, people["ds"], r2.id)
    res = cli(store, "deployments", "list", "--json")
    assert [(d["version"], d["active"]) for d in json.loads(res.out)] == [(2, True), (1, False)]
    assert cli(store, "rollback", "credit", "--env", "production", "--reason", "x", as_="ada@example.com").code == 3
    res = cli(store, "rollback", "credit", "--env", "production", "--reason", "drift", "--json", as_="rita@example.com")
    assert res.code == 0 and json.loads(res.out)["to_version"] == 1
    res = cli(store, "recertify", "credit", "--env", "production", "--comment", "reviewed", "--json",
              as_="raj@example.com")
    assert res.code == 0 and json.loads(res.out)["version"] == 1
    assert cli(store, "recertify", "credit", "--env", "staging", "--comment", "x", as_="raj@example.com").code == 4
    assert cli(store, "approvals", "show", "999", as_="rita@example.com").code == 5
    res = cli(store, "approvals", "request", "credit", "--env", "production", "--role", "champion", "--reason", "x",
              as_="ada@example.com")
    assert res.code == 2 and "MODEL:VERSION" in res.err
    res = cli(store, "policies", "set", "high", "--min-auc", "none", "--json", as_="alan@example.com")
    assert res.code == 0 and json.loads(res.out)["min_auc"] is None
    assert audit.verify(store).ok
