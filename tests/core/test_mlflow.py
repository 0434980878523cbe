"""MLflow users moving over: an MLflow model folder as --model, and `modelgov import mlflow` from a real sqlite
tracking store (one per module: logging models costs seconds), with every refusal one sentence and nothing stored."""

from __future__ import annotations

import fcntl
import json
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression

from core.errors import Forbidden, InvalidInput, NotFound
from core.lineage import graph
from core.registry import artifacts, catalog, mlflow_import, mlflow_model, mlflow_records, versions
from tests.conftest import synthetic_classification

DS, VIEWER = "ada@example.com", "vera@example.com"
FEATURES = ["x1", "x2"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("mlflow-data")
    df = synthetic_classification(n=400, seed=5)
    df.iloc[:300].to_csv(where / "train.csv", index=False)
    df.iloc[300:].to_csv(where / "test.csv", index=False)
    return where


@pytest.fixture(scope="module")
def tracking(tmp_path_factory, worker_id):
    """A sqlite tracking store with registered model `credit`: v1 (skops, alias champion, tagged, from a run with
    parameters and metrics) and v2 (cloudpickle). Built once per test run, also under xdist: the workers share it
    (logging models costs tens of seconds), under a lock; the tests only read it."""
    pytest.importorskip("mlflow")
    root = tmp_path_factory.getbasetemp()
    root = root.parent if worker_id != "master" else root  # pytest-N/, shared by this run's workers only
    where = root / "mlflow-tracking"
    uri = f"sqlite:///{where / 'mlflow.db'}"
    with open(root / "mlflow-tracking.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (where / "ready").exists():
            shutil.rmtree(where, ignore_errors=True)
            where.mkdir()
            _log_credit_versions(uri, where)
            (where / "ready").touch()
    return uri


def _log_credit_versions(uri: str, where: Path) -> None:
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    train = synthetic_classification(n=400, seed=5).iloc[:300]
    old = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        client = mlflow.MlflowClient(uri)
        exp = client.create_experiment("credit", artifact_location=(where / "artifacts").as_uri())
        client.create_registered_model("credit-logged")
        for C, fmt in ((1.0, "skops"), (0.1, "cloudpickle")):
            est = LogisticRegression(C=C).fit(train[FEATURES], train["y"])
            with mlflow.start_run(experiment_id=exp, run_name=f"lr-{C}"):
                mlflow.log_params({"C": C, "solver": "lbfgs"})
                mlflow.log_metrics({"auc": 0.5 + C / 10, "accuracy": 0.7})
                mlflow.set_tag("team", "credit-risk")
                mlflow.sklearn.log_model(est, name="model", serialization_format=fmt,
                                         signature=infer_signature(train[FEATURES], est.predict_proba(train[FEATURES])),
                                         registered_model_name="credit",
                                         pip_requirements=["scikit-learn"])  # no inference: it loads the model in a subprocess
        client.set_registered_model_alias("credit", "champion", "1")
        client.set_model_version_tag("credit", "1", "validated", "yes")
        _log_runs_with_inputs(client, exp, where, train)
    finally:
        mlflow.set_tracking_uri(old)


def _log_runs_with_inputs(client, exp: str, where: Path, train) -> None:
    """Registered model `credit-logged`, each version credit:1's model from a run that logged training data:
    v1 the local file train.csv (and a remote hold-out), v2 only a remote file and code, v3 nothing."""
    import mlflow

    train.to_csv(where / "train.csv", index=False)
    source = client.get_model_version("credit", "1").source
    runs = {"logged-local": [(str(where / "train.csv"), "credit-train", "training"),
                             ("s3://bucket/holdout.csv", "holdout", "testing")],
            # (another name: MLflow keeps one dataset per name and digest in an experiment, with its first source)
            "logged-remote": [("s3://bucket/train.csv", "train-s3", "training"), (None, "df", "training")],
            "logged-none": []}
    for run_name, inputs in runs.items():
        with mlflow.start_run(experiment_id=exp, run_name=run_name) as run:
            for uri, name, context in inputs:
                mlflow.log_input(mlflow.data.from_pandas(train, source=uri, targets="y", name=name), context=context)
        client.create_model_version("credit-logged", source, run_id=run.info.run_id)


def _import(cli, store, uri, data, *extra, as_=DS):
    return cli(store, "import", "mlflow", "--tracking-uri", uri, "--model", "credit", "--train-data",
               str(data / "train.csv"), "--target", "y", *extra, as_=as_)


def test_import_by_alias_brings_the_version_its_run_and_lineage(store, cli, tracking, data):
    r = _import(cli, store, tracking, data, "--alias", "champion", "--test-data", str(data / "test.csv"), "--json")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert (out["name"], out["version"]) == ("credit", 1) and "auc" in out["metrics"]
    m = out["mlflow"]
    assert (m["model"], m["version"], m["aliases"], m["tags"]) == ("credit", 1, ["champion"], {"validated": "yes"})
    assert m["params"] == {"C": "1.0", "solver": "lbfgs"} and m["metrics"] == {"accuracy": 0.7, "auc": 0.6}
    assert m["run_tags"] == {"team": "credit-risk"} and m["run_name"] == "lr-1.0"

    facts = mlflow_records.get_mlflow_facts(store, "credit", 1)
    assert facts["metrics"] == {"accuracy": 0.7, "auc": 0.6} and facts["flavour"] == "sklearn"
    assert facts["serialization"] == "skops" and facts["tracking_uri"] == tracking
    assert [c["name"] for c in facts["signature"]["inputs"]] == FEATURES
    # ModelGov's own hold-out metrics stay the version's; MLflow's are kept apart
    assert versions.get_model_version(store, "credit", 1).metrics["auc"] != 0.6
    run = mlflow_records.run_node_id(m["run_id"])
    up = graph.upstream(store, "model:credit:1")
    assert run in {n["id"] for n in up.nodes}
    with store.read() as con:
        actions = [a for (a,) in con.execute("SELECT action FROM audit_log WHERE outcome = 'ok' ORDER BY seq").fetchall()]
        edge = con.execute("SELECT relation FROM lineage_edges WHERE src = ? AND dst = 'model:credit:1'", [run]).fetchall()
    assert actions[-2:] == ["version.register", "version.import_mlflow"] and edge == [("produced",)]

    shown = json.loads(cli(store, "models", "show", "credit", "--json").out)["versions"][0]["mlflow"]
    assert shown["aliases"] == ["champion"] and shown["params"]["C"] == "1.0"

    # the same MLflow version again: refused, naming what it became, even when a duplicate artifact is allowed
    again = _import(cli, store, tracking, data, "--version", "1", "--allow-duplicate")
    assert again.code == 4 and "already imported as credit:1" in again.err and again.err.count("\n") == 1
    assert [v.version for v in catalog.get_model(store, "credit").versions] == [1]




def test_without_flags_the_training_data_the_run_logged_is_used_and_becomes_lineage(store, cli, tracking):
    r = cli(store, "import", "mlflow", "--tracking-uri", tracking, "--model", "credit-logged", "--version", "1",
            "--json", as_=DS)
    assert r.code == 0, r.err
    out = json.loads(r.out)
    logged = Path(tracking.removeprefix("sqlite:///")).parent / "train.csv"
    used = out["training_data"]
    assert used["location"] == str(logged.resolve()) and used["from"] == "mlflow"
    assert (used["target"], used["target_from"]) == ("y", "signature")  # MLflow keeps no pandas `targets`
    assert used["mlflow_dataset"]["name"] == "credit-train"
    v = versions.get_model_version(store, "credit-logged", 1)
    assert v.target == "y" and [s["name"] for s in v.signature] == FEATURES
    with store.read() as con:
        (loc, rows), = con.execute("SELECT location, n_rows FROM datasets WHERE id = ?", [v.train_dataset_id]).fetchall()
        edges = con.execute("SELECT src FROM lineage_edges WHERE relation = 'trained_on' "
                            "AND dst = 'model:credit-logged:1'").fetchall()
    assert loc == str(logged.resolve()) and rows == 300 and len(edges) == 1
    up = {n["id"]: n for n in graph.upstream(store, "model:credit-logged:1").nodes}
    assert up[edges[0][0]]["kind"] == "dataset" and up[edges[0][0]]["attributes"]["location"] == loc


def test_explicit_flags_override_what_the_run_logged(store, cli, tracking, data):
    r = cli(store, "import", "mlflow", "--tracking-uri", tracking, "--model", "credit-logged", "--version", "1",
            "--train-data", str(data / "train.csv"), "--json", as_=DS)
    assert r.code == 0, r.err
    used = json.loads(r.out)["training_data"]
    assert used["location"] == str((data / "train.csv").resolve()) and used["from"] == "--train-data"
    assert used["target_from"] == "signature" and used["mlflow_dataset"] is None


@pytest.mark.parametrize("version, phrases", [
    (2, ["logged no training data ModelGov can read", "'train-s3' (s3: s3://bucket/train.csv) is remote (s3://)",
         "'df' (code) is a code source, not a file", "pass --train-data FILE and --target COLUMN"]),
    (3, ["MLflow run logged-none logged no training dataset", "pass --train-data FILE and --target COLUMN"]),
])
def test_no_readable_logged_training_data_is_one_sentence_naming_the_flags(store, cli, tracking, version, phrases):
    r = cli(store, "import", "mlflow", "--tracking-uri", tracking, "--model", "credit-logged", "--version",
            str(version), as_=DS)
    assert r.code == 2 and r.err.count("\n") == 1 and all(p in r.err for p in phrases), r.err
    assert _nothing_stored(store)


def test_the_latest_version_by_default_and_a_cloudpickle_one_is_refused_unopened(store, cli, tracking, data):
    # v2 is cloudpickle: a version on a shared server may be anybody's, so import never unpickles (only
    # `register --model FOLDER`, for one's own folder, does, in the child process)
    r = _import(cli, store, tracking, data, "--name", "credit-lr")
    assert r.code == 2 and "holds a cloudpickle file" in r.err and "serialization_format='skops'" in r.err, r.err
    assert r.err.count("\n") == 1 and _nothing_stored(store)


@pytest.mark.parametrize("args, code, phrase", [
    (("--tracking-uri", "sqlite:////nonexistent/mlflow.db", "--model", "credit"), 5, "No MLflow tracking store"),
    (("--tracking-uri", "http://me:s3cret@127.0.0.1:9", "--model", "credit"), 5,
     "No MLflow tracking server answers at http://127.0.0.1:9 "),
    (("--tracking-uri", "ftp://mlflow.example.com", "--model", "credit"), 2, "is not a tracking URI ModelGov knows"),
    (("--model", "nobody"), 5, "Registered model 'nobody' not found"),
    (("--model", "credit", "--version", "9"), 5, "Version 9 of registered model 'credit' not found"),
    (("--model", "credit", "--alias", "gone"), 5, "Alias 'gone' of registered model 'credit' not found"),
    (("--model", "credit", "--version", "1", "--alias", "champion"), 2, "not allowed with argument"),
])
def test_unknown_store_model_version_or_alias_is_one_sentence(store, cli, tracking, data, args, code, phrase):
    argv = list(args) if args[0] == "--tracking-uri" else ["--tracking-uri", tracking, *args]
    r = cli(store, "import", "mlflow", *argv, "--train-data", str(data / "train.csv"), "--target", "y", as_=DS)
    assert r.code == code and phrase in r.err and r.err.count("\n") == 1 and "s3cret" not in r.err, r.err
    assert catalog.search_models(store).total == 0


def test_a_viewer_may_not_import(store, cli, tracking, data):
    r = _import(cli, store, tracking, data, as_=VIEWER)
    assert r.code == 3 and "may not register model" in r.err
    with store.read() as con:
        assert con.execute("SELECT count(*) FROM audit_log WHERE action = 'version.import_mlflow' "
                           "AND outcome = 'refused'").fetchall() == [(1,)]


def test_without_mlflow_the_command_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)  # `from mlflow.tracking import …` raises ImportError
    with pytest.raises(InvalidInput, match=r"mlflow-skinny.*pip install 'modelgov\[mlflow\]'"):
        mlflow_import._client("sqlite:///x.db")


def test_tracking_uri_credentials_are_not_kept():
    assert mlflow_import.public_uri("https://me:s3cret@mlflow.example.com:5000/") == "https://mlflow.example.com:5000/"


# -- an MLflow model folder as --model ------------------------------------------------------------------


SIGNATURE = json.dumps([{"type": "double", "name": n, "required": True} for n in FEATURES])


def _folder(where: Path, mlmodel: str | None = None, *, data_file: str = "model.skops") -> Path:
    """A hand-made MLflow sklearn model folder (what mlflow.sklearn.save_model writes, minus the environment)."""
    folder = where / "model"
    folder.mkdir(parents=True, exist_ok=True)
    df = synthetic_classification(n=200, seed=1)
    sio.dump(LogisticRegression().fit(df[FEATURES], df["y"]), folder / "model.skops")
    if mlmodel is None:
        mlmodel = textwrap.dedent(f"""\
            flavors:
              python_function: {{loader_module: mlflow.sklearn, model_path: model.skops}}
              sklearn: {{pickled_model: {data_file}, serialization_format: skops, sklearn_version: 1.9.1}}
            mlflow_version: 3.17.2
            run_id: 0123abcd
            signature:
              inputs: '{SIGNATURE}'
              outputs: '[{{"type": "tensor", "tensor-spec": {{"dtype": "float64", "shape": [-1, 2]}}}}]'
            """)
    (folder / "MLmodel").write_text(mlmodel)
    return folder


def test_register_from_an_mlflow_folder_keeps_its_signature(store, cli, tmp_path, data):
    folder = _folder(tmp_path)
    r = cli(store, "register", "folder-model", "--model", str(folder), "--train-data", str(data / "train.csv"),
            "--target", "y", "--json", as_=DS)
    assert r.code == 0, r.err
    facts = mlflow_records.get_mlflow_facts(store, "folder-model", 1)
    assert facts["signature"]["inputs"] == json.loads(SIGNATURE) and facts["run_id"] == "0123abcd"
    assert facts["tracking_uri"] is None and facts["params"] == {}


def _nothing_stored(store) -> bool:
    return catalog.search_models(store).total == 0 and not any(p.is_file() for p in store.artifacts_dir.rglob("*"))


def _outside_file(tmp_path: Path) -> Path:
    outside = tmp_path / "outside.skops"
    shutil.copyfile(_folder(tmp_path / "other") / "model.skops", outside)
    return outside


@pytest.mark.parametrize("case, phrase", [
    ("no-mlmodel", "is a folder without an MLmodel file"),
    ("not-yaml", "is not valid YAML"),
    ("python-tag", "is not valid YAML"),
    ("no-flavors", "has no 'flavors' section"),
    ("too-big", "is larger than 1000 kB"),
    ("deep", "nests too deeply"),
    ("unknown-flavour", "has the flavour(s) python_function, pytorch"),
    ("dotdot", "outside the folder"),
    ("absolute", "outside the folder"),
    ("symlink", "outside the folder"),
    ("missing-file", "is missing"),
    ("unknown-format", "stores its sklearn model as 'dill'"),
    ("bad-signature", "signature's inputs in its MLmodel file is not valid JSON"),
])
def test_hostile_or_broken_folders_are_one_sentence_and_store_nothing(store, people, tmp_path, data, case, phrase):
    folder = _folder(tmp_path)
    mlmodel = (folder / "MLmodel").read_text()
    if case == "no-mlmodel":
        (folder / "MLmodel").unlink()
    elif case == "not-yaml":
        (folder / "MLmodel").write_text("flavors: [unclosed\n  - {")
    elif case == "python-tag":
        (folder / "MLmodel").write_text("flavors: !!python/object/apply:os.system ['touch /tmp/pwned']\n")
    elif case == "too-big":
        (folder / "MLmodel").write_text(mlmodel + "# padding\n" * 200_000)
    elif case == "deep":
        (folder / "MLmodel").write_text("flavors: " + "[" * 50_000 + "]" * 50_000 + "\n")
    elif case == "no-flavors":
        (folder / "MLmodel").write_text("- just\n- a list\n")
    elif case == "unknown-flavour":
        (folder / "MLmodel").write_text("flavors:\n  python_function: {}\n  pytorch: {model_data: data}\n")
    elif case == "dotdot":
        _outside_file(tmp_path)
        _folder(tmp_path, data_file="../outside.skops")
    elif case == "absolute":
        _folder(tmp_path, data_file=str(_outside_file(tmp_path)))
    elif case == "symlink":
        (folder / "model.skops").unlink()
        (folder / "model.skops").symlink_to(_outside_file(tmp_path))
    elif case == "missing-file":
        (folder / "model.skops").unlink()
    elif case == "unknown-format":
        (folder / "MLmodel").write_text(mlmodel.replace("serialization_format: skops", "serialization_format: dill"))
    elif case == "bad-signature":
        (folder / "MLmodel").write_text(mlmodel.replace(SIGNATURE, "[{not json"))
    with pytest.raises(InvalidInput) as e:
        versions.register_version(store, people["ds"], "hostile", str(folder), data / "train.csv", "y")
    assert phrase in str(e.value) and "\n" not in str(e.value)
    assert not Path("/tmp/pwned").exists() and _nothing_stored(store)


def test_a_signature_naming_other_columns_is_refused(tmp_path):
    folder = _folder(tmp_path)
    (folder / "MLmodel").write_text((folder / "MLmodel").read_text().replace('"x2"', '"income"'))
    with pytest.raises(InvalidInput, match="lacks x2 and has income besides"):
        mlflow_model.check_signature(mlflow_model.read_mlmodel(folder), FEATURES)


def test_a_missing_path_still_does_not_exist_and_read_model_file_reads_folders(tmp_path, monkeypatch):
    with pytest.raises(NotFound, match="does not exist"):
        artifacts.read_model_file(tmp_path / "nope.skops")
    with pytest.raises(InvalidInput, match="neither a model file nor an MLflow model"):
        artifacts.read_model_file(tmp_path)
    folder = _folder(tmp_path)
    monkeypatch.setattr(mlflow_model, "read_model", lambda p, allow_pickle: (("read", p, allow_pickle), None))
    assert artifacts.read_model_file(folder) == ("read", folder, False)  # the same reader as register's


def test_a_pickled_folder_of_ones_own_registers_from_the_cli_only(store, cli, tmp_path, data):
    import joblib

    folder = _folder(tmp_path)
    df = synthetic_classification(n=200, seed=1)
    joblib.dump(LogisticRegression(C=0.3).fit(df[FEATURES], df["y"]), folder / "model.pkl")
    (folder / "MLmodel").write_text((folder / "MLmodel").read_text().replace(
        "pickled_model: model.skops, serialization_format: skops", "pickled_model: model.pkl, serialization_format: "
        "cloudpickle"))
    with pytest.raises(InvalidInput, match="holds a cloudpickle file, and loading it runs the code"):
        mlflow_model.read_model(folder)  # core's default: refused before any process starts
    r = cli(store, "register", "own", "--model", str(folder), "--train-data", str(data / "train.csv"), "--target",
            "y", as_=DS)  # unpickled in the child process, as a joblib file would be
    assert r.code == 0, r.err
    assert mlflow_records.get_mlflow_facts(store, "own", 1)["serialization"] == "cloudpickle"
    assert versions.load_model(store, "own", 1)[1].C == 0.3  # from the store: skops, never a pickle


def test_forbidden_before_the_folder_is_read(store, people, tmp_path, data):
    with pytest.raises(Forbidden):
        versions.register_version(store, people["viewer"], "x", str(_folder(tmp_path)), data / "train.csv", "y")


# -- XGBoost and LightGBM flavours: their native files go to read_model_file (branch i16-gbm reads them) --------


def test_xgboost_flavour_native_file(store, people, tmp_path, data):
    xgb = pytest.importorskip("xgboost")
    mlflow_xgboost = pytest.importorskip("mlflow.xgboost")
    df = synthetic_classification(n=300, seed=4)
    est = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(df[FEATURES], df["y"])
    mlflow_xgboost.save_model(est, tmp_path / "xgb")  # model.ubj, model_class XGBClassifier
    assert mlflow_model.read_mlmodel(tmp_path / "xgb").serialization == "ubj"
    v = versions.register_version(store, people["ds"], "xgb", str(tmp_path / "xgb"), data / "train.csv", "y")
    assert mlflow_records.get_mlflow_facts(store, "xgb", v.version)["flavour"] == "xgboost"


def test_lightgbm_flavour_booster_text_file(store, people, tmp_path, data):
    lgb = pytest.importorskip("lightgbm")
    mlflow_lightgbm = pytest.importorskip("mlflow.lightgbm")
    df = synthetic_classification(n=300, seed=4)
    booster = lgb.train({"objective": "binary", "num_leaves": 4, "verbose": -1},
                        lgb.Dataset(df[FEATURES], df["y"]), num_boost_round=5)
    mlflow_lightgbm.save_model(booster, tmp_path / "lgb")  # model.lgb: LightGBM's text format
    assert mlflow_model.read_mlmodel(tmp_path / "lgb").serialization == "lgb"
    v = versions.register_version(store, people["ds"], "lgb", str(tmp_path / "lgb"), data / "train.csv", "y")
    assert mlflow_records.get_mlflow_facts(store, "lgb", v.version)["flavour"] == "lightgbm"
