"""`verify_chain` hashes rows inside DuckDB and rechecks only suspect rows in Python (issue 15): it must name the
same break a plain row-by-row walk names, whatever the rows hold and however they were tampered with."""

from __future__ import annotations

import random
import shutil
from datetime import datetime

import pytest

from core import audit
from core.audit import GENESIS, ChainCheck, _row_hash, _ts_text
from core.events import SettingUpdated
from core.store import Store

AWKWARD = ["plain", "héllo \"quoted\" \\ back\\slash", "line\nbreak\ttab\r", "control \x01\x1f\x7f", "\u2028\u2029",
           "emoji 😀", "", "{\"json\": [1, 2]}", "\x00nul"]


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
@pytest.mark.duckdb_only("DuckDB's own time-to-text SQL (PostgreSQL's is checked by the chain tests there)")
def test_duckdb_writes_the_time_as_the_hash_does(store, ts):
    with store.read() as con:
        value, text = con.execute(f"SELECT TIMESTAMP '{ts}', {audit._TS_TEXT_SQL['duckdb']} FROM (SELECT TIMESTAMP '{ts}' AS ts)"
                                  ).fetchone()
    assert isinstance(value, datetime) and text == _ts_text(value)


def test_rows_with_awkward_text_verify(store, people):
    _fill(store, people)
    with store.read() as con:
        assert audit.verify_chain(con) == _walk(con) == ChainCheck(True, _walk(con).rows)


TAMPERINGS = [
    "UPDATE audit_log SET actor = 'mallory@example.com' WHERE seq = {k}",
    "UPDATE audit_log SET payload = '{{\"after\": 1}}' WHERE seq = {k}",
    "UPDATE audit_log SET ts = ts + INTERVAL 1 microsecond WHERE seq = {k}",
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
def test_a_tampering_is_named_as_the_row_by_row_walk_names_it(store, people, sql):
    _fill(store, people)
    with store.read() as con:
        last = con.execute("SELECT max(seq) FROM audit_log").fetchone()[0]
    for k in (2, last // 2, last):
        copy = store.home.parent / f"{store.home.name}-{k}"
        shutil.copytree(store.home, copy)
        other = Store(copy)
        with other.transaction() as con:
            con.execute(sql.format(k=k))
        with other.read() as con:
            got, want = audit.verify_chain(con), _walk(con)
        cut_off_the_end = sql.startswith("DELETE") and (">=" in sql or (k == last and "{k}" in sql))
        assert got == want and got.ok == cut_off_the_end  # only an anchor sees the newest rows cut off
