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
