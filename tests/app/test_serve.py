"""`python -m app.serve` (what `make run` starts) imports what the pages import before the first visitor comes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from app import serve

ROOT = Path(__file__).resolve().parents[2]


def test_every_page_files_top_level_imports_are_preloaded():
    names = serve.page_imports()
    # the libraries and core modules the pages start with; found in their source, not listed by hand
    for wanted in ("pandas", "streamlit", "app.session", "core.queries", "app.components.charts",
                   "app.components.explain", "core.monitoring.snapshots"):
        assert wanted in names


def test_preloading_loads_the_pages_libraries_but_not_the_heavy_ones_they_load_on_demand():
    code = ("import json, sys; from app import serve; serve.preload(); serve.warm(); "
            "print(json.dumps(sorted(m for m in sys.modules if '.' not in m)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    top = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert {"pandas", "plotly", "duckdb", "streamlit", "core", "app"} <= top
    # SHAP and scikit-learn load when an explanation or a model is computed, not for every visitor
    assert not {"shap", "sklearn", "skops"} & top


def test_warming_marks_streamlits_one_time_repl_check_done():
    code = ("from app import serve; from streamlit import delta_generator as d; "
            "before = d._use_warning_has_been_displayed; serve.warm(); print(before, d._use_warning_has_been_displayed)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True"]


def test_no_page_relies_on_streamlit_magic_which_the_config_turns_off():
    """With `runner.magicEnabled = false` a bare value on a line of its own draws nothing: no app file has one."""
    import ast
    import tomllib

    assert tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["runner"]["magicEnabled"] is False
    bare = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            body = getattr(node, "body", None)
            for i, stmt in enumerate(body if isinstance(body, list) else []):
                if isinstance(stmt, ast.Expr) and not isinstance(stmt.value, (ast.Call, ast.Await, ast.Yield,
                                                                              ast.YieldFrom)):
                    if not (i == 0 and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)):
                        bare.append(f"{path.relative_to(ROOT)}:{stmt.lineno}")
    assert not bare, f"bare values that magic would have drawn: {bare}"


def test_the_overviews_risk_grid_counts_models_by_tier_and_status_in_the_pages_order():
    import pandas as pd

    from app.components import portfolio

    df = pd.DataFrame({"status": ["production", "staging", "production", "retired", "production"],
                       "risk_tier": ["high", "low", "high", "medium", "low"]})
    lines = portfolio.risk_grid(df).splitlines()
    assert lines[0] == "| Risk tier | Production | Staging | Retired | All |"  # no column for a status nobody has
    assert lines[2:] == ["| :red-badge[high risk] | **2** | – | – | 2 |",
                         "| :orange-badge[medium risk] | – | – | **1** | 1 |",
                         "| :green-badge[low risk] | **1** | **1** | – | 2 |"]


def test_the_overviews_health_line_counts_live_champions_by_colour():
    from app.components import portfolio

    health = {"a": {"status": "green"}, "b": {"status": "amber"}, "c": {"status": "unknown", "score": None},
              "d": {"status": "green"}}
    counts = portfolio.health_counts(health)
    assert counts == {"green": 2, "amber": 1, "red": 0, "unknown": 1}
    assert portfolio.health_line(counts) == ":green-badge[2 green] :orange-badge[1 amber] :gray-badge[1 not monitored yet]"


def test_the_server_freezes_what_start_up_loaded_so_each_runs_collection_skips_it(monkeypatch):
    """Streamlit collects garbage after every run; `main` freezes the preloaded libraries first, so that collection
    walks only what runs made (checked in a fresh process: the freeze is process-wide)."""
    code = ("import gc, json; from app import serve; import streamlit.web.cli as c; c.main = lambda: None; "
            "before = gc.get_freeze_count(); serve.main([]); print(json.dumps([before, gc.get_freeze_count()]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "MODELGOV_HOME": str(ROOT / "no-such-home-for-this-test")})
    assert out.returncode == 0, out.stderr
    before, after = json.loads(out.stdout.strip().splitlines()[-1])
    assert before == 0 and after > 100_000  # pandas, Plotly, DuckDB, Streamlit and core: far more than this


def test_a_name_that_is_not_a_module_is_skipped(monkeypatch):
    monkeypatch.setattr(serve, "page_imports", lambda: ["json", "json.not_a_module_at_all", "core.errors"])
    assert serve.preload() == ["json", "core.errors"]
