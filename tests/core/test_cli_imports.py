"""The CLI loads heavy libraries only in the commands that use them (issue 15): a CI pipeline makes many calls."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("sklearn", "shap", "scipy", "plotly", "skops", "streamlit", "joblib")


def _loaded(code: str) -> list[str]:
    probe = code + f"\nimport sys, json\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_building_the_cli_imports_no_heavy_library():
    assert _loaded("from core.cli import build_parser\nbuild_parser()") == []


def test_help_and_a_read_import_no_heavy_library(tmp_path):
    code = ("import contextlib, io\nfrom core.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
            f"    main(['--home', {str(tmp_path / 'home')!r}, 'models', 'list', '--json'])")
    assert _loaded(code) == []


def test_the_guard_can_fail():
    """The probe sees a heavy library when one is imported (so the tests above can fail)."""
    assert _loaded("import scipy.stats") == ["scipy"]
