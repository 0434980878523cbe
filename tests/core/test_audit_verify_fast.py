"""`verify_chain` hashes rows inside DuckDB and rechecks only suspect rows in Python (issue 15): it must name the
same break a plain row-by-row walk names, whatever the rows hold and however they were tampered with."""

from __future__ import annotations

import random
from datetime import datetime

import pytest

from core import audit
from core.audit import GENESIS, ChainCheck, _row_hash, _ts_text
from core.events import SettingUpdated

# Every character a row may hold (a NUL is refused on both backends: the tests at the end).
AWKWARD = ["plain", "héllo \"quoted\" \\ back\\slash", "line\nbreak\ttab\r", "control \x01\x1f\x7f", "\u2028\u2029",
           "emoji 😀", "", "{\"json\": [1, 2]}"]


def _walk(con) -> ChainCheck:
    """The reference: the row-by-row walk `verify_chain` did before issue 15."""
    rows = con.execute("SELECT seq, ts, actor, action, entity_type, entity_id, outcome, CAST(payload AS VARCHAR),"
                       " prev_hash, hash FROM audit_log ORDER BY seq").fetchall()
    prev, expected = GENESIS, 1
    for seq, ts, actor, action, etype, eid, outcome, payload, prev_hash, digest in rows:
        if seq != expected:
            return ChainCheck(False, len(rows), expected,
                              f"row {expected} is {'missing (deleted)' if seq > expected else 'duplicated'}")
        if prev_hash != prev:
            return ChainCheck(False, len(rows), seq, f"row {seq} does not follow the row before it")
        if _row_hash(seq, _ts_text(ts), actor, action, etype, eid, outcome, payload, prev_hash) != digest:
            return ChainCheck(False, len(rows), seq, f"row {seq} was changed after it was written")
        prev, expected = digest, expected + 1
    return ChainCheck(True, len(rows))


def _fill(store, people, n=40):
    rng = random.Random(n)
    with store.transaction() as con:
        for i in range(n):
            audit.record(con, people["admin"], SettingUpdated(rng.choice(AWKWARD) or "k", rng.choice(AWKWARD),
                                                              {"i": i, "text": rng.choice(AWKWARD)}))


@pytest.mark.parametrize("ts", ["2026-01-01 00:00:00", "2026-11-30 05:56:57.000001", "1999-12-31 23:59:59.999999",
                                "2026-03-04 01:02:03.12", "2100-02-28 12:00:00.5"])
def test_the_database_writes_the_time_as_the_hash_does(store, ts):
    """Each backend's own time-to-text SQL (`_TS_TEXT_SQL`: DuckDB's strftime, PostgreSQL's to_char) equals Python's."""
    with store.read() as con:
        value, text = con.execute(f"SELECT ts, {audit._TS_TEXT_SQL[audit._dialect(con)]} "
                                  f"FROM (SELECT TIMESTAMP '{ts}' AS ts) AS t").fetchone()
    assert isinstance(value, datetime) and text == _ts_text(value)


def test_rows_with_awkward_text_verify(store, people):
    _fill(store, people)
    with store.read() as con:
        assert audit.verify_chain(con) == _walk(con) == ChainCheck(True, _walk(con).rows)


TAMPERINGS = [
    "UPDATE audit_log SET actor = 'mallory@example.com' WHERE seq = {k}",
    "UPDATE audit_log SET payload = '{{\"after\": 1}}' WHERE seq = {k}",
    "UPDATE audit_log SET ts = ts + INTERVAL '1 microsecond' WHERE seq = {k}",
    "UPDATE audit_log SET entity_id = entity_id || chr(31) WHERE seq = {k}",
    "UPDATE audit_log SET prev_hash = repeat('a', 64) WHERE seq = {k}",
    "UPDATE audit_log SET hash = repeat('b', 64) WHERE seq = {k}",
    "DELETE FROM audit_log WHERE seq = {k}",
    "DELETE FROM audit_log WHERE seq >= {k}",
    "DELETE FROM audit_log WHERE seq = 1",
    "INSERT INTO audit_log SELECT max(seq) + 5, now()::TIMESTAMP, 'm@example.com', 'x', 'x', 'x', 'ok', '{{}}', "
    "repeat('c', 64), repeat('d', 64) FROM audit_log",
]


@pytest.mark.parametrize("sql", TAMPERINGS)
def test_a_tampering_is_named_as_the_row_by_row_walk_names_it(store, people, sql, copy_store):
    _fill(store, people)
    with store.read() as con:
        last = con.execute("SELECT max(seq) FROM audit_log").fetchone()[0]
    for k in (2, last // 2, last):
        other = copy_store(store, store.home.parent / f"{store.home.name}-{k}")
        with other.transaction() as con:
            con.execute(sql.format(k=k))
        with other.read() as con:
            got, want = audit.verify_chain(con), _walk(con)
        cut_off_the_end = sql.startswith("DELETE") and (">=" in sql or (k == last and "{k}" in sql))
        assert got == want and got.ok == cut_off_the_end  # only an anchor sees the newest rows cut off


# A NUL character: PostgreSQL cannot keep one in text, so core refuses it on both backends ---------------------------

@pytest.mark.parametrize("where", ["entity", "payload", "nested payload", "actor"])
def test_an_audited_change_carrying_a_nul_is_refused_in_one_sentence_and_nothing_is_written(store, people, where):
    from dataclasses import replace

    from core.errors import InvalidInput
    from core.sql import NUL_REFUSED

    actor = replace(people["admin"], email="alan\x00@example.com") if where == "actor" else people["admin"]
    event = {"entity": SettingUpdated("k\x00", 1, 2), "payload": SettingUpdated("k", "a\x00b", 2),
             "nested payload": SettingUpdated("k", 1, {"list": ["ok", "\x00"]}),
             "actor": SettingUpdated("k", 1, 2)}[where]
    with store.read() as con:
        before = con.execute("SELECT count(*), max(seq) FROM audit_log").fetchone()
    with pytest.raises(InvalidInput) as e:
        with store.transaction() as con:
            con.execute("INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, ?)",
                        ["half-written", '"x"', datetime(2026, 1, 1), "alan@example.com"])
            audit.record(con, actor, event)
    assert str(e.value) == NUL_REFUSED and "\n" not in str(e.value)
    with store.read() as con:
        assert con.execute("SELECT count(*), max(seq) FROM audit_log").fetchone() == before
        assert con.execute("SELECT count(*) FROM settings WHERE key = 'half-written'").fetchone()[0] == 0
        assert audit.verify_chain(con).ok


def test_a_refused_attempt_carrying_a_nul_is_recorded_with_the_nul_written_out(store, people):
    from core.errors import Forbidden

    with pytest.raises(Forbidden):
        with store.transaction():
            raise Forbidden("No \x00 here.", actor="vera@example.com", action="setting.update",
                            entity_type="setting", entity_id="k\x00")
    with store.read() as con:
        row = con.execute("SELECT entity_id, outcome, CAST(payload AS VARCHAR) FROM audit_log "
                          "WHERE seq = (SELECT max(seq) FROM audit_log)").fetchone()
        assert row[0] == "k\\x00" and row[1] == "refused" and "\\\\x00" in row[2]
        assert audit.verify_chain(con) == _walk(con) == ChainCheck(True, _walk(con).rows)


@pytest.mark.duckdb_only("a DuckDB store may hold rows with a NUL from before core refused it (PostgreSQL never could)")
def test_rows_written_with_a_nul_before_it_was_refused_still_verify(store, people):
    _fill(store, people, n=10)
    with store.transaction() as con:
        raw = con._con  # the connection under core's NulGuard, as a store written before the guard was
        for text in ("\x00nul", "mid\x00dle"):
            audit._append(raw, "alan@example.com", "setting.update", "setting", text, "ok", {"value": text})
    _fill(store, people, n=5)
    with store.read() as con:
        assert audit.verify_chain(con) == _walk(con) == ChainCheck(True, _walk(con).rows)
        con.execute("UPDATE audit_log SET entity_id = 'nul' WHERE entity_id = '\x00nul'")
        got, want = audit.verify_chain(con), _walk(con)
    assert got == want and not got.ok
