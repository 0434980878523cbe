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


def test_the_overviews_chart_counts_models_by_status_and_tier_in_the_pages_order_and_colours():
    import pandas as pd

    from app.components import charts
    from app.components.badges import RISK_COLORS

    df = pd.DataFrame({"status": ["production", "staging", "production", "retired", "production"],
                       "risk_tier": ["high", "low", "high", "medium", "low"]})
    spec = charts.portfolio_spec(df)
    got = {(v["status"], v["risk_tier"]): v["models"] for v in spec["data"]["values"]}
    assert got == {("production", "high"): 2, ("production", "low"): 1, ("staging", "low"): 1,
                   ("retired", "medium"): 1}
    assert spec["encoding"]["x"]["sort"] == ["production", "staging", "retired"]
    color = spec["encoding"]["color"]["scale"]
    assert color["domain"] == ["high", "medium", "low"]
    assert color["range"] == [RISK_COLORS[t] for t in ("high", "medium", "low")]


def test_a_name_that_is_not_a_module_is_skipped(monkeypatch):
    monkeypatch.setattr(serve, "page_imports", lambda: ["json", "json.not_a_module_at_all", "core.errors"])
    assert serve.preload() == ["json", "core.errors"]
