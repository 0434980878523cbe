"""Anchoring the audit trail: what the chain alone cannot see (rows cut off its end, every row gone, a trail
rewritten with recomputed hashes) an anchor kept outside the store catches, naming the anchored event.

Each attack is done the way someone with write access to the DuckDB file would do it: SQL on the store.
"""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from core import audit
from core.registry import catalog
from core.audit import Anchor
from core.errors import Forbidden, InvalidInput, NotFound

GENESIS = "0" * 64


def _history(store, people, n=6):
    for i in range(n):
        catalog.create_model(store, people["ds"], f"model-{i}")


def _rows(store):
    with store.read() as con:
        return con.execute("SELECT seq, hash FROM audit_log ORDER BY seq").fetchall()


def _save_head(cli, store, path, who="rita@example.com"):
    res = cli(store, "audit", "head", "--json", as_=who)
    assert res.code == 0, res.err
    path.write_text(res.out)
    return json.loads(res.out)


def _documented_hash(seq, ts, actor, action, entity_type, entity_id, outcome, payload, prev_hash):
    """The row hash from the formula in docs/approvals.md, written out here as an attacker's tool would."""
    body = json.dumps([seq, ts, actor, action, entity_type, entity_id, outcome, payload, prev_hash],
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def _rewrite_from(con, seq, **changes):
    """Change row `seq` and recompute every hash from there on: the chain verifies afterwards."""
    sets = ", ".join(f"{k} = ?" for k in changes)
    con.execute(f"UPDATE audit_log SET {sets} WHERE seq = ?", [*changes.values(), seq])
    prev = con.execute("SELECT hash FROM audit_log WHERE seq = ?", [seq - 1]).fetchone()
    prev = prev[0] if prev else GENESIS
    ts_text = audit._TS_TEXT_SQL[getattr(con, "dialect", "duckdb")]  # the time as the trail hashes it
    rows = con.execute(f"SELECT seq, {ts_text}, actor, action, entity_type, entity_id,"
                       " outcome, CAST(payload AS VARCHAR) FROM audit_log WHERE seq >= ? ORDER BY seq",
                       [seq]).fetchall()
    for r in rows:
        digest = _documented_hash(*r, prev)
        con.execute("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?", [prev, digest, r[0]])
        prev = digest


# --- head -------------------------------------------------------------------------------------------------

def test_head_is_the_newest_event_as_the_public_json(store, people, cli):
    _history(store, people)
    newest = _rows(store)[-1]
    assert audit.head(store, people["ro"]) == Anchor(newest[0], newest[1])
    res = cli(store, "audit", "head", "--json", as_="alan@example.com")
    assert res.code == 0 and res.err == ""
    assert json.loads(res.out) == {"seq": newest[0], "hash": newest[1]}
    assert list(json.loads(res.out)) == ["seq", "hash"]           # exactly these fields, in this order
    res = cli(store, "audit", "head", as_="rita@example.com")
    assert res.code == 0 and str(newest[0]) in res.out and newest[1] in res.out


def test_head_and_anchored_verify_need_the_audit_read_permission(store, people, cli, tmp_path):
    _history(store, people, 2)
    anchor = tmp_path / "anchor.json"
    _save_head(cli, store, anchor)
    for who in ("ds", "viewer", "nobody"):
        with pytest.raises(Forbidden):
            audit.head(store, people[who])
        with pytest.raises(Forbidden):
            audit.verify_anchor(store, people[who], audit.load_anchor(anchor))
    before = _rows(store)[-1][0]
    res = cli(store, "audit", "head", "--json", as_="ada@example.com")
    assert (res.code, res.out) == (3, "") and "read audit" in res.err
    res = cli(store, "audit", "verify", "--anchor", str(anchor), as_="vera@example.com")
    assert (res.code, res.out) == (3, "") and res.err.count("\n") == 1
    # The two refusals are themselves in the trail, naming who tried.
    refused = audit.list_events(store, people["ro"], audit.AuditFilter(outcome="refused"))
    assert [(e["actor"], e["action"]) for e in refused if e["seq"] > before] == [
        ("vera@example.com", "read-audit"), ("ada@example.com", "read-audit")]
    res = cli(store, "audit", "head", "--json")
    assert res.code == 2 and "--as" in res.err


def test_head_of_an_empty_trail_is_not_found(store, people, cli):
    with store.transaction() as con:
        con.execute("DELETE FROM audit_log")
    with pytest.raises(NotFound, match="no events"):
        audit.head(store, people["ro"])
    assert cli(store, "audit", "head", "--json", as_="rita@example.com").code == 5


# --- verify --anchor: the intact cases ---------------------------------------------------------------------

def test_an_anchor_holds_while_the_trail_grows(store, people, cli, tmp_path):
    _history(store, people, 3)
    anchor = tmp_path / "anchor.json"
    saved = _save_head(cli, store, anchor)
    res = cli(store, "audit", "verify", "--anchor", str(anchor), as_="rita@example.com")
    assert res.code == 0 and f"anchored event {saved['seq']}" in res.out
    catalog.create_model(store, people["ds"], "later-model")
    catalog.create_model(store, people["ds2"], "another-model")
    res = cli(store, "audit", "verify", "--anchor", str(anchor), "--json", as_="raj@example.com")
    out = json.loads(res.out)
    assert res.code == 0 and out["ok"] is True and out["anchor"] == saved and out["last_seq"] == saved["seq"] + 2


# --- verify --anchor: the attacks ----------------------------------------------------------------------------

def test_deleting_the_newest_rows_passes_plain_verify_but_not_the_anchor(store, people, cli, tmp_path):
    _history(store, people)
    anchor = tmp_path / "anchor.json"
    saved = _save_head(cli, store, anchor)
    with store.transaction() as con:
        con.execute("DELETE FROM audit_log WHERE seq > ?", [saved["seq"] - 3])
    assert audit.verify(store).ok                                   # the chain alone cannot see the cut
    assert cli(store, "audit", "verify").code == 0
    check = audit.verify_anchor(store, people["ro"], Anchor(saved["seq"], saved["hash"]))
    assert not check.ok and check.last_seq == saved["seq"] - 3
    res = cli(store, "audit", "verify", "--anchor", str(anchor), as_="rita@example.com")
    assert res.code == 1 and res.out == "" and "Traceback" not in res.err
    assert f"event {saved['seq']} is gone" in res.err and f"ends at event {saved['seq'] - 3}" in res.err
    assert res.err.count("\n") == 1                                  # one sentence


def test_deleting_every_row_passes_plain_verify_but_not_the_anchor(store, people, cli, tmp_path):
    _history(store, people)
    anchor = tmp_path / "anchor.json"
    saved = _save_head(cli, store, anchor)
    with store.transaction() as con:
        con.execute("DELETE FROM audit_log")
    res = cli(store, "audit", "verify", "--json")
    assert res.code == 0 and json.loads(res.out) == {"ok": True, "rows": 0, "first_bad_seq": None, "problem": ""}
    res = cli(store, "audit", "verify", "--anchor", str(anchor), as_="rita@example.com")
    assert res.code == 1 and f"event {saved['seq']} is gone" in res.err and "every row was deleted" in res.err
    res = cli(store, "audit", "verify", "--anchor", str(anchor), "--json", as_="rita@example.com")
    out = json.loads(res.out)
    assert res.code == 1 and out["ok"] is False and out["rows"] == 0 and out["last_seq"] is None


def test_cut_rows_whose_numbers_new_events_took_are_caught(store, people, cli, tmp_path):
    _history(store, people)
    anchor = tmp_path / "anchor.json"
    saved = _save_head(cli, store, anchor)
    with store.transaction() as con:
        con.execute("DELETE FROM audit_log WHERE seq > ?", [saved["seq"] - 2])
    catalog.create_model(store, people["ds"], "new-one")
    catalog.create_model(store, people["ds"], "new-two")
    assert _rows(store)[-1][0] == saved["seq"] and audit.verify(store).ok
    res = cli(store, "audit", "verify", "--anchor", str(anchor), as_="rita@example.com")
    assert res.code == 1 and f"event {saved['seq']} no longer has the anchored hash {saved['hash'][:12]}" in res.err


def test_an_edit_with_recomputed_hashes_passes_plain_verify_but_not_the_anchor(store, people, cli, tmp_path):
    _history(store, people)
    anchor = tmp_path / "anchor.json"
    saved = _save_head(cli, store, anchor)
    target = saved["seq"] - 4
    with store.transaction() as con:
        _rewrite_from(con, target, actor="mallory@example.com")
        assert con.execute("SELECT actor FROM audit_log WHERE seq = ?", [target]).fetchone()[0] == "mallory@example.com"
    assert audit.verify(store).ok                                   # a full rewrite fools the chain
    assert cli(store, "audit", "verify").code == 0
    res = cli(store, "audit", "verify", "--anchor", str(anchor), as_="rita@example.com")
    assert res.code == 1 and f"event {saved['seq']} no longer has the anchored hash" in res.err


def test_a_plain_edit_is_named_with_the_anchor_and_the_broken_row(store, people, cli, tmp_path):
    _history(store, people)
    anchor = tmp_path / "anchor.json"
    saved = _save_head(cli, store, anchor)
    target = saved["seq"] - 2
    with store.transaction() as con:
        con.execute("UPDATE audit_log SET actor = 'mallory@example.com' WHERE seq = ?", [target])
    assert cli(store, "audit", "verify").code == 1
    res = cli(store, "audit", "verify", "--anchor", str(anchor), as_="rita@example.com")
    assert res.code == 1
    assert f"event {saved['seq']} still has the anchored hash, but the chain breaks at {target}" in res.err


def test_an_edit_after_the_anchor_still_fails_the_anchored_verify(store, people, cli, tmp_path):
    _history(store, people, 3)
    anchor = tmp_path / "anchor.json"
    saved = _save_head(cli, store, anchor)
    catalog.create_model(store, people["ds"], "after-anchor")
    with store.transaction() as con:
        con.execute("UPDATE audit_log SET entity_id = 'other' WHERE seq = ?", [saved["seq"] + 1])
    res = cli(store, "audit", "verify", "--anchor", str(anchor), as_="rita@example.com")
    assert res.code == 1 and f"chain breaks at {saved['seq'] + 1}" in res.err


def test_deleting_just_the_anchored_row_is_named(store, people, cli, tmp_path):
    _history(store, people, 3)
    anchor = tmp_path / "anchor.json"
    saved = _save_head(cli, store, anchor)
    catalog.create_model(store, people["ds"], "after-anchor")
    with store.transaction() as con:
        con.execute("DELETE FROM audit_log WHERE seq = ?", [saved["seq"]])
    res = cli(store, "audit", "verify", "--anchor", str(anchor), as_="rita@example.com")
    assert res.code == 1 and f"event {saved['seq']} is gone: it was deleted" in res.err


def test_an_anchor_from_the_future_does_not_hold(store, people, cli, tmp_path):
    _history(store, people, 2)
    last = _rows(store)[-1][0]
    anchor = tmp_path / "anchor.json"
    anchor.write_text(json.dumps({"seq": last + 50, "hash": "a" * 64}))
    res = cli(store, "audit", "verify", "--anchor", str(anchor), as_="rita@example.com")
    assert res.code == 1 and f"event {last + 50} is gone" in res.err


# --- bad anchor files: exit 2, one sentence, nothing written ---------------------------------------------------

_GOOD = {"seq": 3, "hash": "ab" * 32}
BAD_CONTENTS = {
    "empty": b"",
    "not json": b"seq=3 hash=abc",
    "a list": json.dumps([3, "ab" * 32]).encode(),
    "a string": json.dumps("ab" * 32).encode(),
    "no hash": json.dumps({"seq": 3}).encode(),
    "no seq": json.dumps({"hash": "ab" * 32}).encode(),
    "an extra field": json.dumps({**_GOOD, "note": "x"}).encode(),
    "seq as text": json.dumps({**_GOOD, "seq": "3"}).encode(),
    "seq as float": json.dumps({**_GOOD, "seq": 3.0}).encode(),
    "seq as bool": json.dumps({**_GOOD, "seq": True}).encode(),
    "seq zero": json.dumps({**_GOOD, "seq": 0}).encode(),
    "seq negative": json.dumps({**_GOOD, "seq": -4}).encode(),
    "seq beyond BIGINT": json.dumps({**_GOOD, "seq": 2**63}).encode(),
    "seq NaN": b'{"seq": NaN, "hash": "' + b"ab" * 32 + b'"}',
    "short hash": json.dumps({**_GOOD, "hash": "abc"}).encode(),
    "upper-case hash": json.dumps({**_GOOD, "hash": "AB" * 32}).encode(),
    "hash not hex": json.dumps({**_GOOD, "hash": "zz" * 32}).encode(),
    "hash with newline": json.dumps({**_GOOD, "hash": "ab" * 32 + "\n"}).encode(),
    "hash as number": json.dumps({**_GOOD, "hash": 12}).encode(),
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
    "huge": json.dumps({**_GOOD, "pad": "x" * 10_000_000}).encode(),
    "not utf-8": b'{"seq": 3, "hash": "\xff\xfe"}',
    "two anchors": (json.dumps(_GOOD) + "\n" + json.dumps(_GOOD)).encode(),
}


@pytest.mark.parametrize("case", sorted(BAD_CONTENTS))
def test_a_file_that_is_not_an_anchor_is_refused(store, people, cli, tmp_path, case):
    _history(store, people, 2)
    path = tmp_path / "anchor.json"
    path.write_bytes(BAD_CONTENTS[case])
    before = _rows(store)
    with pytest.raises(InvalidInput, match="is not an audit anchor"):
        audit.load_anchor(path)
    res = cli(store, "audit", "verify", "--anchor", str(path), as_="rita@example.com")
    assert (res.code, res.out) == (2, ""), res.err
    assert res.err.count("\n") == 1 and "audit head --json" in res.err and "Traceback" not in res.err
    assert _rows(store) == before


def _unreadable_regular_file():
    # Root reads any file regardless of its mode; /proc/self/mem is a regular file whose first bytes fail to read.
    return "/proc/self/mem" if os.path.exists("/proc/self/mem") else None


@pytest.mark.parametrize("case", ["missing", "a folder", "a device", "unreadable"])
def test_a_missing_or_unreadable_anchor_file_is_refused(store, people, cli, tmp_path, case):
    _history(store, people, 2)
    path = {"missing": str(tmp_path / "nope.json"), "a folder": str(tmp_path), "a device": "/dev/zero",
            "unreadable": _unreadable_regular_file()}[case]
    if path is None or (case == "a device" and not os.path.exists(path)):
        pytest.skip(f"no {case} on this system")
    before = _rows(store)
    res = cli(store, "audit", "verify", "--anchor", path, as_="rita@example.com")
    assert (res.code, res.out) == (2, ""), res.err
    assert res.err.count("\n") == 1 and "anchor file" in res.err and "Traceback" not in res.err
    assert _rows(store) == before
