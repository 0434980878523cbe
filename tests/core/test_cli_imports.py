"""The CLI loads heavy libraries only in the commands that use them (issue 15): a CI pipeline makes many calls."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("sklearn", "shap", "scipy", "plotly", "skops", "streamlit", "joblib")
# What a read of the store needs none of: the tables come back as tuples, not DataFrames.
DATAFRAMES = ("pandas", "numpy", "pyarrow")


def _loaded(code: str, watch: tuple[str, ...] = HEAVY) -> list[str]:
    probe = code + f"\nimport sys, json\nprint(json.dumps([m for m in {watch!r} if m in sys.modules]))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cli(*argvs: list[str]) -> str:
    """Code that runs `main(argv)` for each argv, quietly."""
    lines = ["import contextlib, io", "from core.cli import main", "with contextlib.redirect_stdout(io.StringIO()), "
             "contextlib.redirect_stderr(io.StringIO()):"]
    for argv in argvs:
        lines += ["    try:", f"        main({argv!r})", "    except SystemExit:", "        pass"]
    return "\n".join(lines)


def test_building_the_cli_imports_no_heavy_library():
    assert _loaded("from core.cli import build_parser\nbuild_parser()") == []


def test_help_and_a_read_import_no_heavy_library(tmp_path):
    assert _loaded(_cli(["--help"], ["--home", str(tmp_path / "home"), "models", "list", "--json"])) == []


def test_help_imports_no_command_module_nor_duckdb_nor_dataframes():
    """`modelgov --help` lists the commands from core.cli.COMMANDS alone."""
    modules = tuple(f"core.cli.{m}" for m in sorted({m for m, _h in _commands().values()}))
    assert _loaded(_cli(["--help"]), ("duckdb", "core.store", "core.identity") + DATAFRAMES + modules) == []
    assert _loaded(_cli(["lineage", "--bogus"]), modules) == ["core.cli.lineage_cmds"]  # only the command used


@pytest.mark.parametrize("argv", [["audit", "verify", "--json"], ["approvals", "list", "--json", "--as", "a@b.c"],
                                  ["lineage", "nodes", "--json"], ["users", "list", "--json", "--as", "a@b.c"],
                                  ["models", "list", "--json"]])
def test_reads_import_no_dataframe_library(tmp_path, argv):
    assert _loaded(_cli(["--home", str(tmp_path / "home")] + argv), HEAVY + DATAFRAMES) == []


def _commands() -> dict[str, tuple[str, str]]:
    from core.cli import COMMANDS

    return COMMANDS


def test_every_listed_command_is_built_by_its_module():
    """COMMANDS names each command's module, and that module builds it: a parser that runs a handler or has
    sub-commands, never the bare stand-in `--help` lists."""
    from core.cli import Commands, build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, Commands))
    for name in _commands():
        parser = sub.build(name)
        assert parser.get_default("handler") is not None or any(
            isinstance(a, argparse._SubParsersAction) for a in parser._actions), name


def test_the_guard_can_fail():
    """The probe sees a heavy library when one is imported (so the tests above can fail)."""
    assert _loaded("import scipy.stats") == ["scipy"]


def test_drift_loads_no_dataframe_library(tmp_path):
    """`modelgov drift` reads both files in DuckDB and computes in numpy: pandas (about half a second of every
    CI call) is loaded only by the commands that score or review logged predictions."""
    ref, cur = tmp_path / "ref.csv", tmp_path / "cur.csv"
    ref.write_text("a,b\n" + "".join(f"{i % 7},{i * 0.5}\n" for i in range(200)))
    cur.write_text("a,b\n" + "".join(f"{i % 5},{i * 0.7}\n" for i in range(300)))
    loaded = _loaded(_cli(["drift", str(ref), str(cur), "--json"]), ("pandas", "sklearn", "pyarrow", "plotly"))
    assert loaded == []
