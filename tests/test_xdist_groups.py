"""The Spark tests share one JVM only if `--dist loadgroup` keeps their group on one worker (tests/xdist_groups.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MODULE = '''
import os
import pytest

pytestmark = pytest.mark.xdist_group("together")


@pytest.mark.parametrize("i", range(6))
def test_in_the_group(i):
    with open(os.path.join(os.environ["RAN_DIR"], f"ran-{i}"), "w") as f:
        f.write(os.environ["PYTEST_XDIST_WORKER"])


@pytest.mark.parametrize("i", range(6))
def test_free(i):
    pass
'''


def test_a_group_runs_on_one_worker(tmp_path):
    (tmp_path / "test_grouped.py").write_text(MODULE)
    done = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-q", "-p",
                           "tests.xdist_groups", "-p", "no:cacheprovider", str(tmp_path / "test_grouped.py")],
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT), "RAN_DIR": str(tmp_path)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    workers = {(tmp_path / f"ran-{i}").read_text() for i in range(6)}
    assert len(workers) == 1, workers
