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


def test_the_harness_reports_every_death_and_names_its_corruption():
    """Deaths injected into a decision tree's corruptions (the first in a child, two in a row, a hang, and one that
    kills only after other corruptions ran in the same child) are each reported, in order, and nothing else is."""
    done = subprocess.run([sys.executable, "-m", "tests.core.model_fuzz", "selfcheck"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert [signal for _model, _what, signal in report["crashes"]] == ["SIGSEGV"] * 3 + ["SIGALRM", "SIGSEGV"]
    assert len({what for _model, what, _signal in report["crashes"]}) == 5 and report["runs"] > 20
