"""Dependency direction: core never imports streamlit; app never touches DuckDB or SQL."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from core import store as store_module

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "core" / "schema.sql"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package, forbidden", [("core", {"streamlit"}), ("app", {"duckdb"})])
def test_dependency_direction(package, forbidden):
    offenders = {str(p.relative_to(ROOT)): sorted(_imports(p) & forbidden)
                 for p in (ROOT / package).rglob("*.py") if _imports(p) & forbidden}
    assert not offenders, f"{package}/ must not import {forbidden}: {offenders}"


def test_app_holds_no_sql():
    for p in (ROOT / "app").rglob("*.py"):
        text = p.read_text()
        for word in ("SELECT ", "INSERT INTO", "UPDATE ", "DELETE FROM", ".execute("):
            assert word not in text, f"{p.relative_to(ROOT)} contains {word!r}: pages ask core, not the store"


def test_migrated_schema_equals_the_committed_snapshot(store):
    with store.read() as con:
        actual = store_module.schema_sql(con)
    if os.environ.get("MODELGOV_UPDATE_SCHEMA") == "1":
        SNAPSHOT.write_text(actual)
    expected = SNAPSHOT.read_text() if SNAPSHOT.exists() else ""
    assert actual == expected, (
        "The migrated schema differs from core/schema.sql. If the change is intended, add a new numbered "
        "migration (never edit an applied one) and regenerate the snapshot with "
        "'MODELGOV_UPDATE_SCHEMA=1 .venv/bin/python -m pytest tests/core/test_architecture.py'.")
