"""Model files never run code: crafted files, handed to `modelgov register` and to core, are refused.

Each attack is first shown to be real (skops trusting what the file names, as
the old prefix rule did for anything under `numpy.` or `sklearn.`, runs the
code or crashes the process), then performed against ModelGov: one sentence,
exit 2, nothing written, no marker file.
"""

from __future__ import annotations

import io
import json
import pickle
import subprocess
import sys
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import joblib
import numpy as np
import pytest
import skops.io as sio
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from core.registry import artifacts
from core.registry import catalog
from core.registry import versions
from core.errors import CheckFailed, InvalidInput
from tests.conftest import synthetic_classification

ROOT = Path(__file__).resolve().parents[2]
DS = "ada@example.com"
NODE_DTYPE = [("left_child", "<i8"), ("right_child", "<i8"), ("feature", "<i8"), ("threshold", "<f8"),
              ("impurity", "<f8"), ("n_node_samples", "<i8"), ("weighted_n_node_samples", "<f8"),
              ("missing_go_to_left", "u1")]


# -- crafting ------------------------------------------------------------------------------------------


def _rewrite(data: bytes, schema=None, arrays=None) -> bytes:
    """A copy of the skops bytes `data` with schema.json edited by `schema` and .npy arrays by `arrays`."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            body = src.read(name)
            if name == "schema.json" and schema:
                tree = json.loads(body)
                schema(tree)
                body = json.dumps(tree).encode()
            elif name.endswith(".npy") and arrays:
                new = arrays(np.load(io.BytesIO(body), allow_pickle=False))
                if new is not None:
                    buf = io.BytesIO()
                    np.save(buf, new, allow_pickle=False)
                    body = buf.getvalue()
            dst.writestr(name, body)
    return out.getvalue()


def _json(value) -> dict:
    return {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode", "content": json.dumps(value),
            "is_json": True}


def _add_attribute(tree: dict, key: str, node: dict) -> None:
    tree["content"]["content"][key] = node
    tree["content"]["key_types"]["content"].append({"__class__": "str", "__module__": "builtins",
                                                    "__loader__": "TypeNode"})


def _data():
    df = synthetic_classification(n=300)
    return df, df[["x1", "x2"]].to_numpy(), df["y"].to_numpy()


def runstring_file(marker: Path) -> bytes:
    """A fitted LogisticRegression whose state names numpy's `runstring` as a constructor: it writes `marker`."""
    _df, X, y = _data()
    call = {"__class__": "runstring", "__module__": "numpy.testing._private.utils",
            "__loader__": "ConstructorFromReduceNode",
            "content": {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode", "content": [
                _json(f"open({str(marker)!r}, 'w').write('code from a model file ran')"),
                {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode", "content": {},
                 "key_types": {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode",
                               "content": []}}]}}
    return _rewrite(sio.dumps(LogisticRegression().fit(X, y)), schema=lambda t: _add_attribute(t, "note_", call))


def function_value_file() -> bytes:
    """A fitted LogisticRegression holding the function `runstring` as a plain attribute value."""
    _df, X, y = _data()
    fn = {"__class__": "runstring", "__module__": "numpy.testing._private.utils", "__loader__": "FunctionNode"}
    return _rewrite(sio.dumps(LogisticRegression().fit(X, y)), schema=lambda t: _add_attribute(t, "hook_", fn))


def out_of_range_hgb_file() -> bytes:
    """A HistGradientBoosting model whose trees' roots point 3e9 nodes away: predict reads far outside."""
    _df, X, y = _data()
    est = HistGradientBoostingClassifier(max_iter=3, random_state=0).fit(X, y)

    def corrupt(a):
        if a.dtype == PREDICTOR_RECORD_DTYPE:
            a = a.copy()
            a["left"][0] = a["right"][0] = 3_000_000_000
            return a
        return None

    return _rewrite(sio.dumps(est), arrays=corrupt)


def out_of_range_forest_file() -> bytes:
    """A random forest whose trees' roots point a billion nodes away."""
    _df, X, y = _data()
    est = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y)

    def corrupt(a):
        if a.dtype.names and "left_child" in a.dtype.names:
            a = a.copy()
            a["left_child"][0] = a["right_child"][0] = 1_000_000_000
            return a
        return None

    return _rewrite(sio.dumps(est), arrays=corrupt)


class _Reduce:
    """Pickles as `call(*args)`: what unpickling a hostile joblib file runs."""

    def __init__(self, call, *args):
        self.call, self.args = call, args

    def __reduce__(self):
        return self.call, self.args


def pickle_file(path: Path, payload) -> Path:
    with open(path, "wb") as f:
        pickle.dump(payload, f)
    return path


# -- harness -------------------------------------------------------------------------------------------


def _state(store) -> dict:
    """Every row and file an attack could leave behind."""
    with store.read() as con:
        rows = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("models", "model_versions", "datasets", "lineage_edges", "audit_log")}
    files = sorted(str(p.relative_to(store.home)) for p in store.home.rglob("*")
                   if p.is_file() and not p.name.startswith("modelgov.duckdb"))
    return {"rows": rows, "files": files}


@pytest.fixture
def train_csv(tmp_path) -> Path:
    df, _X, _y = _data()
    df.to_csv(tmp_path / "train.csv", index=False)
    return tmp_path / "train.csv"


def modelgov(store, *args: str, own_process: bool = False) -> subprocess.CompletedProcess:
    """The real CLI, as a person or a pipeline runs it: in this process (its model-loading server then serves
    every test of the worker), or with `own_process` in a process of its own."""
    argv = ["--home", str(store.home), "--as", DS, *args]
    if own_process:
        return subprocess.run([sys.executable, "-m", "core.cli", *argv], cwd=ROOT, capture_output=True, text=True,
                              timeout=600)
    from core.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def assert_refused(result: subprocess.CompletedProcess, *phrases: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.startswith("modelgov: ") and result.stderr.count("\n") == 1, result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


def _crashes_under_plain_skops(path: Path) -> int:
    """Return code of a process that loads `path` trusting everything it names, then predicts."""
    code = ("import sys, numpy as np, skops.io as sio; d = open(sys.argv[1], 'rb').read(); "
            "m = sio.loads(d, trusted=sio.get_untrusted_types(data=d)); m.predict(np.zeros((50, 2)))")
    return subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, timeout=300).returncode


# -- a numpy function named as a constructor -----------------------------------------------------------


def test_the_runstring_file_is_a_real_attack(tmp_path):
    marker = tmp_path / "ran.txt"
    path = tmp_path / "m.skops"
    path.write_bytes(runstring_file(marker))
    names = sio.get_untrusted_types(data=path.read_bytes())
    assert names == ["numpy.testing._private.utils.runstring"]  # what the "numpy." prefix used to trust
    subprocess.run([sys.executable, "-c", "import sys, skops.io as sio; d = open(sys.argv[1], 'rb').read(); "
                    "sio.loads(d, trusted=sio.get_untrusted_types(data=d))", str(path)], check=True, timeout=300)
    assert marker.read_text() == "code from a model file ran"


def test_modelgov_register_refuses_the_runstring_file_without_running_it(store, tmp_path, train_csv):
    marker = tmp_path / "ran.txt"
    path = tmp_path / "lr.skops"
    path.write_bytes(runstring_file(marker))
    before = _state(store)
    result = modelgov(store, "register", "attacked", "--model", str(path), "--train-data", str(train_csv),
                      "--target", "y")
    assert_refused(result, "numpy.testing._private.utils.runstring", "never does")
    assert not marker.exists()
    assert _state(store) == before


@pytest.mark.parametrize("craft, phrase", [
    ("runstring", "asks skops to call numpy.testing._private.utils.runstring"),
    ("function value", "holds the function numpy.testing._private.utils.runstring"),
])
def test_core_refuses_functions_in_a_file_before_building_anything(store, people, tmp_path, train_csv, craft,
                                                                    phrase):
    marker = tmp_path / "ran.txt"
    path = tmp_path / "m.skops"
    path.write_bytes(runstring_file(marker) if craft == "runstring" else function_value_file())
    before = _state(store)
    with pytest.raises(InvalidInput, match=phrase) as info:
        versions.register_version(store, people["ds"], "attacked", str(path), train_csv, "y")
    assert "\n" not in str(info.value)
    assert not marker.exists() and _state(store) == before


def test_even_functions_skops_trusts_by_default_are_refused(tmp_path):
    _df, X, y = _data()
    path = tmp_path / "log.skops"
    sio.dump(make_pipeline(FunctionTransformer(np.log1p), LogisticRegression()).fit(np.abs(X), y), path)
    assert sio.get_untrusted_types(file=path) == []  # skops would load it as it is
    with pytest.raises(InvalidInput, match=r"holds the function numpy\.log1p.*never functions"):
        artifacts.read_model_file(path)


def test_a_swapped_artifact_in_the_store_is_refused_without_running(tmp_path):
    # Someone who can write the store puts the crafted file in place and its hash in the registry.
    marker = tmp_path / "ran.txt"
    data = runstring_file(marker)
    digest, _path, _new = artifacts.write(tmp_path / "artifacts", data)
    with pytest.raises(CheckFailed, match="runstring"):
        artifacts.load(tmp_path / "artifacts", digest, "attacked:1")
    assert not marker.exists()


# -- indices that point outside the model's arrays -----------------------------------------------------


@pytest.mark.parametrize("craft", [out_of_range_hgb_file, out_of_range_forest_file])
def test_the_out_of_range_files_really_crash_scikit_learn(tmp_path, craft):
    path = tmp_path / "m.skops"
    path.write_bytes(craft())
    assert _crashes_under_plain_skops(path) < 0  # killed by a signal (a segmentation fault)


def test_modelgov_register_refuses_the_out_of_range_hgb_file(store, tmp_path, train_csv):
    path = tmp_path / "hgb.skops"
    path.write_bytes(out_of_range_hgb_file())
    before = _state(store)
    result = modelgov(store, "register", "attacked", "--model", str(path), "--train-data", str(train_csv),
                      "--target", "y")
    assert_refused(result, "hgb.skops is malformed", "child index out of range")
    assert _state(store) == before


@pytest.mark.parametrize("craft, phrase", [
    (out_of_range_hgb_file, "histogram-boosting tree has a child index out of range"),
    (out_of_range_forest_file, "decision tree has a child index out of range"),
])
def test_core_refuses_out_of_range_trees(store, people, tmp_path, train_csv, craft, phrase):
    path = tmp_path / "m.skops"
    path.write_bytes(craft())
    before = _state(store)
    with pytest.raises(InvalidInput, match=phrase):
        versions.register_version(store, people["ds"], "attacked", str(path), train_csv, "y")
    assert _state(store) == before


def test_a_crash_while_loading_is_a_refusal_not_a_crash_of_the_cli(store, tmp_path, train_csv):
    # Whatever the checks miss crashes the child process only. This pickle segfaults when loaded.
    path = pickle_file(tmp_path / "crash.joblib", _Reduce(eval, "__import__('ctypes').string_at(0)"))
    before = _state(store)
    result = modelgov(store, "register", "crashing", "--model", str(path), "--train-data", str(train_csv),
                      "--target", "y", own_process=True)
    assert_refused(result, "crashed the separate process", "SIGSEGV", "nothing was registered")
    assert _state(store) == before


def test_a_file_that_exhausts_memory_or_cpu_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELGOV_LOAD_MEMORY_MB", "2048")
    hog = pickle_file(tmp_path / "hog.joblib", _Reduce(bytearray, 8 * 2 ** 30))
    with pytest.raises(InvalidInput, match="needs more than 2048 MB"):
        artifacts.read_model_file(hog, allow_pickle=True)
    monkeypatch.setenv("MODELGOV_LOAD_CPU_SECONDS", "2")
    spin = pickle_file(tmp_path / "spin.joblib", _Reduce(exec, "while True: pass"))
    with pytest.raises(InvalidInput, match=r"SIGXCPU: it used more than 2 seconds of CPU"):
        artifacts.read_model_file(spin, allow_pickle=True)


# -- joblib/pickle: unpickling is code execution -------------------------------------------------------


def test_the_dashboard_path_refuses_a_pickle_without_unpickling_it(store, people, tmp_path, train_csv):
    marker = tmp_path / "ran.txt"
    path = pickle_file(tmp_path / "model.joblib", _Reduce(eval, f"open({str(marker)!r}, 'w').write('x')"))
    before = _state(store)
    for call in (lambda: versions.register_version(store, people["ds"], "from-upload", str(path), train_csv, "y"),
                 lambda: artifacts.read_model_file(path)):
        with pytest.raises(InvalidInput, match=r"not a skops file.*modelgov register.*skops\.io\.dump"):
            call()
    assert not marker.exists() and _state(store) == before


def test_only_the_register_command_passes_allow_pickle():
    # The dashboard and any server path go through core's default, which refuses pickles; core only
    # forwards the flag it was given.
    import ast

    def forwards_or_refuses(value) -> bool:
        return (isinstance(value, ast.Constant) and value.value is False) or (
            isinstance(value, ast.Name) and value.id == "allow_pickle")

    callers = []
    for path in [*(ROOT / "app").rglob("*.py"), *(ROOT / "core").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and any(k.arg == "allow_pickle" and not forwards_or_refuses(k.value)
                                                  for k in node.keywords):
                callers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert [c.split(":")[0] for c in callers] == ["core/cli/registry_cmds.py"], callers


@pytest.mark.parametrize("payload, holds", [
    ({"model": "not really"}, "holds a dict, not a fitted scikit-learn estimator"),
    (np.arange(6).reshape(3, 2), "holds a numpy array of shape (3, 2), not a fitted scikit-learn estimator"),
])
def test_a_joblib_file_without_an_estimator_is_one_sentence(store, people, tmp_path, train_csv, payload, holds):
    path = tmp_path / "thing.joblib"
    joblib.dump(payload, path)
    before = _state(store)
    result = modelgov(store, "register", "not-a-model", "--model", str(path), "--train-data", str(train_csv),
                      "--target", "y")
    assert_refused(result, holds, "joblib.dump(model, path)")
    with pytest.raises(InvalidInput, match=holds.replace("(", r"\(").replace(")", r"\)")):
        versions.register_version(store, people["ds"], "not-a-model", str(path), train_csv, "y", allow_pickle=True)
    assert _state(store) == before


def test_a_missing_module_is_named(tmp_path):
    # xgboost and lightgbm are installed for the tests now (tests/core/test_boosters.py covers them missing)
    path = tmp_path / "cat.joblib"
    path.write_bytes(b"\x80\x02ccatboost\nCatBoostClassifier\n)\x81.")  # a pickled CatBoost model, minus its state
    with pytest.raises(InvalidInput, match="needs the Python module 'catboost', which is not installed here"):
        artifacts.read_model_file(path, allow_pickle=True)
    path.write_bytes(b"\x80\x02cxgboost\nXGBClassifier\n)\x81.")  # an xgboost model without its state
    with pytest.raises(InvalidInput, match="holds an unfitted XGBClassifier"):
        artifacts.read_model_file(path, allow_pickle=True)


def test_an_unreviewed_scikit_learn_class_is_named_with_the_reason(tmp_path):
    from sklearn.cluster import DBSCAN

    path = tmp_path / "dbscan.skops"
    sio.dump(DBSCAN().fit(np.random.default_rng(0).normal(size=(30, 2))), path)
    with pytest.raises(InvalidInput, match=r"contains sklearn\.cluster\._dbscan\.DBSCAN, which ModelGov does not "
                                           r"load: an unsupervised estimator"):
        artifacts.read_model_file(path)


def test_an_honest_file_still_registers_through_the_cli(store, tmp_path, train_csv):
    _df, X, y = _data()
    est = HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(X, y)
    sio.dump(est, tmp_path / "hgb.skops")
    joblib.dump(est, tmp_path / "hgb.joblib")
    for name in ("hgb.skops", "hgb.joblib"):
        result = modelgov(store, "register", "honest", "--model", str(tmp_path / name), "--train-data",
                          str(train_csv), "--target", "y", "--json")
        assert result.returncode == 0, result.stderr
    assert len(catalog.get_model(store, "honest").versions) == 2


def test_code_in_a_registered_pickle_cannot_write_to_files(store, people, tmp_path, train_csv):
    # Registering a joblib file runs its code (the CLI's user accepted that by naming it), but in a child
    # that may not write a byte to any file: the store, its audit trail, anything else.
    target = tmp_path / "tampered.txt"
    payload = _Reduce(eval, f"open({str(target)!r}, 'w').write('tampered') and None")
    path = pickle_file(tmp_path / "writer.joblib", payload)
    with pytest.raises(InvalidInput):
        versions.register_version(store, people["ds"], "writer", str(path), train_csv, "y", allow_pickle=True)
    assert not target.exists() or target.read_text() == ""


def test_names_from_a_file_cannot_forge_lines_in_the_refusal(tmp_path):
    _df, X, y = _data()

    def rename(tree):
        tree["__class__"] = "Evil\x1b[8m hidden\nmodelgov: Registered evil:1"

    path = tmp_path / "evil.skops"
    path.write_bytes(_rewrite(sio.dumps(LogisticRegression().fit(X, y)), schema=rename))
    with pytest.raises(InvalidInput) as info:
        artifacts.read_model_file(path)
    message = str(info.value)
    assert "Evil" in message and "\x1b" not in message and "\n" not in message
