"""Access tokens: made, used, refused and revoked, and the attacks on each step."""

from __future__ import annotations

import json
import multiprocessing
from datetime import timedelta

import pytest

from core import audit, tokens, users
from core.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from core.identity import identity_for

SVC = "ci-pipeline@svc.example.com"


def _audit(store, action):
    with store.read() as con:
        return con.execute("SELECT actor, entity_id, outcome, CAST(payload AS VARCHAR) FROM audit_log "
                           "WHERE action = ? ORDER BY seq", [action]).fetchall()


def _count(store, sql="SELECT count(*) FROM api_tokens"):
    with store.read() as con:
        return con.execute(sql).fetchone()[0]


def test_a_person_makes_a_token_that_acts_as_them_and_is_stored_only_hashed(store, people):
    new = tokens.create_token(store, people["ds"], "ada@example.com")
    assert new.token.startswith("mgv_") and len(new.token) == 47
    assert new.as_dict().keys() == {"id", "token", "owner", "scope", "expires_at"}
    assert new.record.scope == ["data_scientist"] and new.record.kind == "personal"
    with store.read() as con:
        stored = con.execute("SELECT * FROM api_tokens").fetchall()
    assert new.token not in repr(stored) and tokens.digest(new.token) in repr(stored)
    who = tokens.authenticate(store, new.token)
    assert (who.email, who.roles, who.token_id) == ("ada@example.com", frozenset({"data_scientist"}), new.record.id)
    [(actor, entity, outcome, payload)] = _audit(store, "token.create")
    assert (actor, entity, outcome) == ("ada@example.com", new.record.id, "ok")
    assert json.loads(payload)["scope"] == ["data_scientist"]
    assert new.token not in payload
    assert tokens.list_tokens(store, people["ds"])[0].last_used_at is not None


def test_a_change_made_with_a_token_names_the_token_in_its_audit_event(store, people):
    new = tokens.create_token(store, people["ds"], "ada@example.com")
    ada = tokens.authenticate(store, new.token)
    from core.registry import catalog

    catalog.create_model(store, ada, "via-token", risk_tier="low")
    [(_a, _e, _o, payload)] = _audit(store, "model.create")
    assert json.loads(payload)["via_token"] == new.record.id
    with pytest.raises(Forbidden):
        users.grant_role(store, ada, "x@example.com", "viewer")
    refused = _audit(store, "user.grant")[-1]
    assert refused[2] == "refused" and json.loads(refused[3])["via_token"] == new.record.id


@pytest.mark.parametrize("mangle", [
    lambda t: "xyz_" + t[4:],                 # wrong prefix
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # one character off
    lambda t: t + "A",                        # too long
    lambda t: "",
    lambda t: "mgv_" + "A" * 43,              # well-formed, never issued
])
def test_a_wrong_or_forged_token_is_refused_and_nothing_is_written(store, people, mangle):
    new = tokens.create_token(store, people["ds"], "ada@example.com")
    with store.read() as con:
        before = con.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    with pytest.raises(Unauthenticated, match="not valid"):
        tokens.authenticate(store, mangle(new.token))
    assert _count(store, "SELECT count(*) FROM audit_log") == before
    assert tokens.list_tokens(store, people["ds"])[0].last_used_at is None


def test_expired_and_revoked_tokens_are_refused(store, people):
    old = tokens.create_token(store, people["ds"], "ada@example.com", expires_days=1)
    with store.transaction() as con:  # a day and a second later
        con.execute("UPDATE api_tokens SET expires_at = ? WHERE id = ?",
                    [audit.utcnow() - timedelta(seconds=1), old.record.id])
    with pytest.raises(Unauthenticated):
        tokens.authenticate(store, old.token)
    gone = tokens.create_token(store, people["ds"], "ada@example.com")
    tokens.authenticate(store, gone.token)
    assert tokens.revoke_token(store, people["ds"], gone.record.id).status == "revoked"
    with pytest.raises(Unauthenticated):
        tokens.authenticate(store, gone.token)
    assert [r[1] for r in _audit(store, "token.revoke")] == [gone.record.id]
    assert {t.id: t.status for t in tokens.list_tokens(store, people["ds"])} == {
        old.record.id: "expired", gone.record.id: "revoked"}


@pytest.mark.parametrize("days", [0, -1, 366, True])
def test_an_expiry_out_of_range_is_refused(store, people, days):
    with pytest.raises(InvalidInput, match="1 to 365 days"):
        tokens.create_token(store, people["ds"], "ada@example.com", expires_days=days)


def test_a_scope_wider_than_the_owner_is_refused_and_audited(store, people):
    with pytest.raises(Forbidden, match="wider than the owner's roles"):
        tokens.create_token(store, people["ds"], "ada@example.com", scope="data_scientist,risk_officer")
    with pytest.raises(InvalidInput, match="not a role"):
        tokens.create_token(store, people["ds"], "ada@example.com", scope="superuser")
    assert _count(store) == 0
    assert [r[2] for r in _audit(store, "token.create")] == ["refused"]


def test_a_token_loses_a_role_its_owner_loses(store, people):
    admin = people["admin"]
    users.grant_role(store, admin, "ada@example.com", "viewer")
    ada = identity_for(store, "ada@example.com")
    new = tokens.create_token(store, ada, "ada@example.com")
    assert tokens.authenticate(store, new.token).roles == {"data_scientist", "viewer"}
    users.revoke_role(store, admin, "ada@example.com", "data_scientist")
    assert tokens.authenticate(store, new.token).roles == {"viewer"}
    users.grant_role(store, admin, "ada@example.com", "risk_officer")  # granted later: not in the token's scope
    assert tokens.authenticate(store, new.token).roles == {"viewer"}


def test_nobody_makes_a_token_for_another_person(store, people):
    for actor in (people["ds2"], people["admin"], people["ro"]):
        with pytest.raises(Forbidden, match="makes only their own tokens"):
            tokens.create_token(store, actor, "ada@example.com")
    assert _count(store) == 0


def test_an_admin_makes_service_tokens_that_cannot_approve(store, people):
    admin = people["admin"]
    assert tokens.create_service_account(store, admin, SVC, "the nightly job")
    users.grant_role(store, admin, SVC, "data_scientist")
    users.grant_role(store, admin, SVC, "risk_officer")
    with pytest.raises(Forbidden, match="may not carry risk_officer"):
        tokens.create_token(store, admin, SVC, scope="risk_officer")
    new = tokens.create_token(store, admin, SVC)
    assert new.record.scope == ["data_scientist"] and new.record.kind == "service"
    assert tokens.authenticate(store, new.token).roles == {"data_scientist"}
    with pytest.raises(Forbidden, match="may not manage users"):  # only an admin makes service tokens
        tokens.create_token(store, people["ds"], SVC)
    with pytest.raises(Forbidden, match="is a person"):
        tokens.create_service_account(store, admin, "alan@example.com")
    tokens.create_token(store, people["ds"], "ada@example.com")
    with pytest.raises(Forbidden, match="is a person"):
        tokens.create_service_account(store, admin, "ada@example.com")


def test_a_token_cannot_make_a_token(store, people):
    new = tokens.create_token(store, people["ds"], "ada@example.com", expires_days=1)
    with pytest.raises(Forbidden, match="cannot make another token"):
        tokens.create_token(store, tokens.authenticate(store, new.token), "ada@example.com", expires_days=365)
    assert _count(store) == 1


def test_only_the_owner_or_an_admin_revokes_a_token(store, people):
    new = tokens.create_token(store, people["ds"], "ada@example.com")
    with pytest.raises(Forbidden):
        tokens.revoke_token(store, people["ds2"], new.record.id)
    assert tokens.authenticate(store, new.token).email == "ada@example.com"
    assert [r[2] for r in _audit(store, "token.revoke")] == ["refused"]
    assert tokens.list_tokens(store, people["ds2"]) == []
    assert tokens.revoke_token(store, people["admin"], new.record.id).revoked_by == "alan@example.com"
    with pytest.raises(NotFound):
        tokens.revoke_token(store, people["admin"], "tok_nope")


def _make(home: str, n: int, out) -> None:
    from core.identity import identity_for
    from core.store import Store

    s = Store(home)
    made = [tokens.create_token(s, identity_for(s, "ada@example.com"), "ada@example.com").record.id
            for _ in range(n)]
    out.put(made)


def test_two_processes_making_tokens_at_once_both_succeed_and_the_chain_holds(store):
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_make, args=(str(store.home), 3, out)) for _ in range(2)]
    for p in procs:
        p.start()
    made = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    ids = made[0] + made[1]
    assert len(set(ids)) == 6 and _count(store) == 6
    assert sorted(r[1] for r in _audit(store, "token.create")) == sorted(ids)
    with store.read() as con:
        assert audit.verify_chain(con).ok


def test_cli_tokens_create_list_revoke(store, cli):
    r = cli(store, "tokens", "create", "--owner", "ada@example.com", "--scope", "data_scientist",
            "--expires-days", "7", "--json", as_="ada@example.com")
    assert r.code == 0, r.err
    made = json.loads(r.out)
    assert set(made) == {"id", "token", "owner", "scope", "expires_at"}
    listed = json.loads(cli(store, "tokens", "list", "--json", as_="ada@example.com").out)
    assert [t["id"] for t in listed] == [made["id"]] and "token" not in listed[0]
    r = cli(store, "tokens", "revoke", made["id"], as_="grace@example.com")
    assert r.code == 3 and r.err.count("\n") == 1
    assert cli(store, "tokens", "revoke", made["id"], as_="ada@example.com").code == 0
    r = cli(store, "tokens", "create", "--owner", "ada@example.com", "--expires-days", "999", as_="ada@example.com")
    assert r.code == 2 and "out of range" in r.err
