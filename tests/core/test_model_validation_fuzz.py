"""Corruptions the structural checks let through never crash a process (tests/core/model_fuzz.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("group", ["trees", "boosting", "neighbours", "svm", "others"])
def test_no_corruption_of_a_reviewed_model_crashes_after_the_checks(group):
    done = subprocess.run([sys.executable, "-m", "tests.core.model_fuzz", group], cwd=ROOT, capture_output=True,
                          text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["crashes"] == [], report["crashes"]
    assert report["runs"] > 20 and report["refused"] > 0  # it corrupted things, and the checks caught some
