"""SQL text that must be built from names: identifier quoting, literals and file relations.

Values are always bound as parameters; what cannot be bound (a column name, a file path in
read_parquet) goes through these helpers, and nothing else builds SQL from input.
"""

from __future__ import annotations

from pathlib import Path

from .errors import InvalidInput


def quote(name: str) -> str:
    """`name` as one SQL identifier (a column or table name), whatever characters it holds.

    Double quotes are doubled inside double quotes, so quotes, semicolons, newlines and any unicode stay part
    of the name. The one name SQL cannot spell, the empty one (or one holding a NUL), is refused.
    """
    if not isinstance(name, str) or not name or "\x00" in name:
        raise InvalidInput(f"{name!r} cannot be a column or table name; name a column the file has.")
    return '"' + name.replace('"', '""') + '"'


# PostgreSQL cannot keep a NUL character in text, and DuckDB can: so that no text is kept on one backend and refused
# on the other, core refuses it on both (audit.record for every audited change, core.pg for every value bound there).
NUL_REFUSED = ("The text given contains a NUL character (\\x00), which ModelGov does not store; remove it and "
               "try again.")


def refuse_nul(value: object) -> None:
    """Raise InvalidInput (`NUL_REFUSED`) when `value`, or any text inside it (dict keys and values, list items), holds
    a NUL character."""
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidInput(NUL_REFUSED)
    elif isinstance(value, dict):
        for k, v in value.items():
            refuse_nul(k)
            refuse_nul(v)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            refuse_nul(v)


def refuse_nul_param(p: object) -> None:
    """`refuse_nul` for one value bound to a statement: text, and the text in a list (a dict is bound as JSON text,
    where a NUL is written as the escape \\u0000, so both backends keep it)."""
    if isinstance(p, str):
        if "\x00" in p:
            raise InvalidInput(NUL_REFUSED)
    elif isinstance(p, (list, tuple)):
        refuse_nul(p)


class NulGuard:
    """A DuckDB connection to the metadata store that refuses text holding a NUL in the values bound to it (and in
    the text columns of a DataFrame registered on it) as core.pg does on PostgreSQL, before the statement runs: one
    sentence, the same on both backends. Everything else is the connection's own."""

    __slots__ = ("_con",)

    def __init__(self, con) -> None:
        self._con = con

    def execute(self, sql: str, params=None):
        if params is None:
            return self._con.execute(sql)
        for p in (params.values() if isinstance(params, dict) else params):
            refuse_nul_param(p)
        return self._con.execute(sql, params)

    def executemany(self, sql: str, rows):
        rows = list(rows)
        for row in rows:
            for p in row:
                refuse_nul_param(p)
        return self._con.executemany(sql, rows)

    def register(self, name: str, frame):
        for c in frame.columns:
            if frame[c].dtype.kind in "OSUT" or str(frame[c].dtype) in ("str", "string"):
                for v in frame[c]:
                    refuse_nul_param(v)
        return self._con.register(name, frame)

    def __getattr__(self, name: str):
        return getattr(self._con, name)


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def file_relation(path: str | Path) -> str:
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"No file {p}; give a CSV or Parquet file.")
    s = literal(str(p.resolve()))
    if p.suffix.lower() == ".parquet":
        return f"read_parquet({s})"
    if p.suffix.lower() == ".csv":
        # every column as text first: the signature decides the types, and a misfit is a rejection, not a guess
        return f"read_csv({s}, header=true, all_varchar=true)"
    raise InvalidInput(f"{p.name} is neither CSV nor Parquet; give a .csv or .parquet file.")


def utc_timestamp(expr: str) -> str:
    """SQL reading `expr` (a quoted column) as a UTC TIMESTAMP, NULL when it is no finite date-time.

    An offset (`-02:00`, `Z`, `+00:00`) keeps the instant; a time without one is taken as UTC. The connection's
    TimeZone must be UTC (`SET TimeZone = 'UTC'`), which every caller sets before using it.
    """
    ts = f"CAST(TRY_CAST({expr} AS TIMESTAMPTZ) AS TIMESTAMP)"
    return f"CASE WHEN isfinite({ts}) THEN {ts} END"


def read_error(e: Exception) -> str:
    """DuckDB's reason a file could not be read, in one line ('CSV Error on Line: 7; Expected Number of …')."""
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    if not lines:
        return type(e).__name__
    first = lines[0].removeprefix("Invalid Input Error: ").removeprefix("IO Error: ").rstrip(".")
    detail = [ln.rstrip(".") for ln in lines[1:] if ln.startswith("Expected Number of Columns")]
    return "; ".join([first] + detail)
