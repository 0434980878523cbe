"""Dependency direction: core never imports streamlit; app never touches DuckDB or SQL."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from core import store as store_module

ROOT = Path(__file__).resolve().parents[2]
# The migrated schema as each backend reports it: DuckDB's CREATE statements, PostgreSQL's catalogue (core/pg.py).
SNAPSHOT = ROOT / "core" / ("schema.postgresql.sql" if os.environ.get("MODELGOV_TEST_BACKEND", "").strip().lower()
                            == "postgresql" else "schema.sql")


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
        f"The migrated schema differs from core/{SNAPSHOT.name}. If the change is intended, add a new numbered "
        "migration (never edit an applied one) and regenerate both snapshots with "
        "'MODELGOV_UPDATE_SCHEMA=1 .venv/bin/python -m pytest tests/core/test_architecture.py' (and the same with "
        "MODELGOV_TEST_BACKEND=postgresql).")


# --- the direction of dependencies between core's packages ------------------------------------------------

BASE = {"core", "core.errors", "core.config", "core.vocabulary", "core.frozen", "core.events", "core.sql", "core.csvsafe",
        "core.identity", "core.audit", "core.store", "core.datadb", "core.datafiles", "core.metrics",
        "core.outbox", "core.engine"}
# package -> the core modules (or module prefixes) it may import besides BASE and itself
MAY_IMPORT = {
    "core.lineage": set(),
    "core.registry": {"core.lineage"},
    "core.drift": set(),
    "core.explain": {"core.registry", "core.lineage"},
    "core.monitoring": {"core.registry", "core.lineage", "core.drift", "core.governance.live",
                        "core.governance.policy", "core.governance.recertification"},
    "core.compare": {"core.registry", "core.lineage", "core.explain.summary", "core.explain.compute",
                     "core.explain.explanations", "core.monitoring.logs", "core.governance.live"},
    "core.fairness": {"core.registry", "core.lineage", "core.monitoring.logs", "core.monitoring.holdout_scores",
                      "core.governance.live", "core.governance.policy"},
    # The API runs the CLI's commands: it knows identities (auth, tokens) and the CLI, and no domain directly.
    "core.api": {"core.auth", "core.tokens", "core.cli"},
    # Hooks and delivery sit on the outbox (BASE); scheduled monitoring runs every live deployment's check.
    "core.notify": {"core.monitoring", "core.governance.live", "core.governance.recertification"},
}
# Only these may import the evidence pack, which sits on top of the sections it cites.
EVIDENCE_IMPORTERS = {"core.governance.approvals", "core.governance.evidence_report", "core.governance.evidence"}


def _core_imports(path: Path) -> set[str]:
    """Absolute names of the core modules `path` imports (relative imports resolved)."""
    mod = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    package = mod.rsplit(".", 1)[0] if path.name != "__init__.py" else mod.removesuffix(".__init__")
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("core"):
                subs = {f"{target}.{a.name}" for a in node.names if _is_module(f"{target}.{a.name}")}
                out |= subs or {target}   # `from core.x import module` imports the module, not the package
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("core")}
    return out


def _core_modules():
    for p in sorted((ROOT / "core").rglob("*.py")):
        yield ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"), p


def _is_module(name: str) -> bool:
    return (ROOT / (name.replace(".", "/") + ".py")).exists() or (ROOT / name.replace(".", "/")).is_dir()


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_core_packages_import_only_downwards(package):
    allowed_prefixes = BASE | MAY_IMPORT[package] | {package}
    offenders = {}
    for mod, path in _core_modules():
        if mod != package and not mod.startswith(package + "."):
            continue
        bad = sorted(t for t in _core_imports(path) if t != "core" and _is_module(t) and not any(
            t == a or (a != "core" and t.startswith(a + ".")) for a in allowed_prefixes))
        if bad:
            offenders[mod] = bad
    assert not offenders, f"{package} imports above itself: {offenders}; see docs/architecture.md for the map"


def test_nothing_but_requests_and_reports_imports_the_evidence_pack():
    users = sorted(mod for mod, path in _core_modules() if "core.governance.evidence" in _core_imports(path)
                   and mod not in EVIDENCE_IMPORTERS and not mod.startswith("core.cli"))
    assert not users, f"{users} import the evidence pack; it imports its sections, never the other way"


def test_core_uses_no_importlib():
    for mod, path in _core_modules():
        text = path.read_text()
        assert "import_module" not in text and "__import__(" not in text, f"{mod} imports by name"


def test_modules_stay_small():
    big = {mod: n for mod, path in _core_modules() if (n := len(path.read_text().splitlines())) > 450}
    assert not big, f"modules past 450 lines want splitting by concern: {big}"


def _tables_and_columns(snapshot: Path) -> dict[str, list[str]]:
    """Each table's columns (names, in order, with NOT NULL) from a schema snapshot's CREATE TABLE statements."""
    found = {}
    for line in snapshot.read_text().splitlines():
        if not line.startswith("CREATE TABLE "):
            continue
        name, body = line[len("CREATE TABLE "):].split("(", 1)
        parts, depth, start = [], 0, 0
        for i, ch in enumerate(body):
            depth += ch == "("
            depth -= ch == ")"
            if (ch == "," and depth == 0) or depth < 0:
                parts.append(body[start:i].strip())
                start = i + 1
                if depth < 0:
                    break
        found[name] = [p.split()[0].strip('"') + (" NOT NULL" if "NOT NULL" in p or "PRIMARY KEY" in p else "")
                       for p in parts if not p.upper().startswith(("CHECK", "PRIMARY KEY", "UNIQUE", "FOREIGN KEY"))]
    return found


def test_both_backends_migrate_to_the_same_tables_and_columns():
    """No feature on one backend only: the two committed snapshots name the same tables, with the same columns in the
    same order and the same NOT NULLs (a primary key's columns are NOT NULL on PostgreSQL)."""
    duck = _tables_and_columns(ROOT / "core" / "schema.sql")
    pg = _tables_and_columns(ROOT / "core" / "schema.postgresql.sql")
    assert duck and duck.keys() == pg.keys()
    for table in duck:
        assert [c.removesuffix(" NOT NULL") for c in duck[table]] == [c.removesuffix(" NOT NULL") for c in pg[table]]
        assert {c for c in duck[table] if c.endswith("NOT NULL")} <= set(pg[table]), table
