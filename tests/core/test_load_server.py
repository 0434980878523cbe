"""The server that opens handed-in model files (core/registry/load_server.py), attacked from the files it opens.

Its children are forked from one process; a hostile file must not be able to forge the answer to the next
file, kill the way in for good, or outlive its time limit.
"""

from __future__ import annotations

import pickle
import threading
from pathlib import Path

import joblib
import pytest
from sklearn.linear_model import LogisticRegression

from core.errors import InvalidInput
from core.registry import artifacts, load_server
from tests.conftest import synthetic_classification


class _Reduce:
    def __init__(self, call, *args):
        self.call, self.args = call, args

    def __reduce__(self):
        return self.call, self.args


def _hostile(path: Path, code: str) -> Path:
    with open(path, "wb") as f:
        pickle.dump(_Reduce(exec, code), f)
    return path


@pytest.fixture
def honest(tmp_path) -> Path:
    df = synthetic_classification(n=200)
    path = tmp_path / "honest.joblib"
    joblib.dump(LogisticRegression().fit(df[["x1", "x2"]], df["y"]), path)
    return path


# Writes a whole forged answer (a header and a skops model) into every descriptor it can find, hoping one of
# them is the server's channel to the caller: the next file would then "load" as the forger's model.
FORGE = """
import os, json, io, skops.io as sio
from sklearn.dummy import DummyClassifier
body = sio.dumps(DummyClassifier().fit([[0, 0], [1, 1]], [0, 1]))
forged = json.dumps({"code": 0, "size": 0}).encode() + b"\\n" + json.dumps({"ok": True, "size": len(body)}).encode() + b"\\n" + body
for fd in range(0, 256):
    try:
        os.write(fd, forged)
    except OSError:
        pass
"""


def test_a_file_cannot_forge_the_answer_for_the_next_file(tmp_path, honest):
    with pytest.raises(InvalidInput):
        artifacts.read_model_file(_hostile(tmp_path / "forger.joblib", FORGE), allow_pickle=True)
    model = artifacts.read_model_file(honest, allow_pickle=True)
    assert type(model).__name__ == "LogisticRegression"


def test_a_file_that_kills_the_server_is_refused_and_the_next_file_loads(tmp_path, honest):
    killer = _hostile(tmp_path / "killer.joblib", "import os, signal; os.kill(os.getppid(), signal.SIGKILL)")
    with pytest.raises(InvalidInput) as info:
        artifacts.read_model_file(killer, allow_pickle=True)
    assert "killer.joblib" in str(info.value)
    assert type(artifacts.read_model_file(honest, allow_pickle=True)).__name__ == "LogisticRegression"


def test_a_file_that_sleeps_past_the_limit_is_refused_and_stopped(tmp_path, honest, monkeypatch):
    monkeypatch.setenv("MODELGOV_LOAD_CPU_SECONDS", "1")  # time limit: 2 × 1 + 60 s; shortened below
    real_run = load_server.run
    monkeypatch.setattr(load_server, "run", lambda *a, **k: real_run(*a, **{**k, "timeout": 3}))
    sleeper = _hostile(tmp_path / "sleeper.joblib", "import time; time.sleep(600)")
    with pytest.raises(InvalidInput) as info:
        artifacts.read_model_file(sleeper, allow_pickle=True)
    assert "did not finish" in str(info.value)
    monkeypatch.undo()
    assert type(artifacts.read_model_file(honest, allow_pickle=True)).__name__ == "LogisticRegression"


def test_two_threads_each_get_an_answer_of_their_own(tmp_path, honest):
    df = synthetic_classification(n=200)
    other = tmp_path / "other.joblib"
    joblib.dump(LogisticRegression(C=0.5).fit(df[["x1", "x2"]], df["y"]), other)
    got: dict[str, float] = {}

    def load(path: Path) -> None:
        got[path.name] = artifacts.read_model_file(path, allow_pickle=True).C

    threads = [threading.Thread(target=load, args=(p,)) for p in (honest, other)]  # one waits for no one
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == {"honest.joblib": 1.0, "other.joblib": 0.5}


def test_a_file_sees_none_of_the_callers_secrets(tmp_path, honest, monkeypatch):
    """The process that unpickles a handed-in file inherits no store URL, token or password from ours."""
    secrets = {"MODELGOV_DATABASE_URL": "postgresql://mg:hunter2@db/mg", "MODELGOV_TOKEN": "mgt_secret",
               "MODELGOV_SMTP_PASSWORD": "hunter3", "AWS_SECRET_ACCESS_KEY": "hunter4"}
    for k, v in secrets.items():
        monkeypatch.setenv(k, v)
    # The child may write no file (its file-size limit is 0): it says what it saw in the error it raises.
    spy = _hostile(tmp_path / "spy.joblib", f"import os; names = {sorted(secrets)!r}; values = {sorted(secrets.values())!r}; "
                   "raise ValueError('LEAKED' if set(names) & set(os.environ) or set(values) & set(os.environ.values()) "
                   "else 'clean, threads ' + os.environ.get('OMP_NUM_THREADS', '?') + ', path ' + str('PATH' in os.environ))")
    with pytest.raises(InvalidInput) as info:
        artifacts.read_model_file(spy, allow_pickle=True)
    assert "ValueError: clean, threads 1, path True" in str(info.value), str(info.value)


def test_one_server_serves_calls_whose_environment_differs_only_in_what_the_loader_never_sees(honest, monkeypatch):
    artifacts.read_model_file(honest, allow_pickle=True)
    first = load_server._server["proc"].pid
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "another test")  # pytest sets it anew for every test
    monkeypatch.setenv("MODELGOV_HOME", "/elsewhere")
    artifacts.read_model_file(honest, allow_pickle=True)
    assert load_server._server["proc"].pid == first
