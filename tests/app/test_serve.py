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
    code = ("import json, sys; from app import serve; serve.preload(); "
            "print(json.dumps(sorted(m for m in sys.modules if '.' not in m)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    top = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert {"pandas", "plotly", "duckdb", "streamlit", "core", "app"} <= top
    # SHAP and scikit-learn load when an explanation or a model is computed, not for every visitor
    assert not {"shap", "sklearn", "skops"} & top


def test_a_name_that_is_not_a_module_is_skipped(monkeypatch):
    monkeypatch.setattr(serve, "page_imports", lambda: ["json", "json.not_a_module_at_all", "core.errors"])
    assert serve.preload() == ["json", "core.errors"]
