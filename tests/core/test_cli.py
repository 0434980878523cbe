"""The CLI contract: JSON fields, exit codes, one-sentence errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import joblib
import pytest
from sklearn.linear_model import LogisticRegression

from core.registry import artifacts, catalog
from core.registry.records import CARD_FIELDS
from tests.conftest import make_version, synthetic_classification

ROOT = Path(__file__).resolve().parents[2]
DS = "ada@example.com"


@pytest.fixture
def files(tmp_path):
    df = synthetic_classification(n=500)
    df.iloc[:350].to_csv(tmp_path / "train.csv", index=False)
    df.iloc[350:].to_parquet(tmp_path / "test.parquet", index=False)
    joblib.dump(LogisticRegression().fit(df[["x1", "x2"]], df["y"]), tmp_path / "model.joblib")
    return tmp_path


def test_register_then_list_and_show(store, cli, files):
    r = cli(store, "register", "cli-model", "--model", str(files / "model.joblib"), "--train-data",
            str(files / "train.csv"), "--target", "y", "--test-data", str(files / "test.parquet"),
            "--risk-tier", "high", "--json", as_=DS)
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert {"name", "version", "sha256"} <= set(out) and out["name"] == "cli-model" and out["version"] == 1
    listed = json.loads(cli(store, "models", "list", "--json").out)
    assert {"name", "owner", "risk_tier", "status", "latest_version", "versions"} <= set(listed[0])
    assert (listed[0]["name"], listed[0]["versions"], listed[0]["latest_version"]) == ("cli-model", 1, 1)
    assert listed[0]["card_completeness"] == 0  # no model-card field filled in yet (0 to 1, as the Overview had it)
    assert cli(store, "models", "update", "cli-model", "--intended-use", "Rank risk.", as_=DS).code == 0
    listed = json.loads(cli(store, "models", "list", "--json").out)
    assert listed[0]["card_completeness"] == pytest.approx(1 / len(CARD_FIELDS))
    shown = json.loads(cli(store, "models", "show", "cli-model", "--json").out)
    assert {"name", "owner", "risk_tier", "description", "versions"} <= set(shown)
    v = shown["versions"][0]
    assert {"version", "sha256", "status", "created_at", "created_by", "metrics", "signature"} <= set(v)
    assert set(v["metrics"]) == {"auc", "ks", "brier", "accuracy", "log_loss"}
    assert v["signature"] == [{"name": "x1", "type": "float"}, {"name": "x2", "type": "float"}]
    assert v["created_by"] == DS


@pytest.mark.parametrize("args, as_, code, message", [
    (["models", "show", "ghost"], None, 5, "Model ghost not found"),
    (["register", "Bad_Name", "--model", "{f}/model.joblib", "--train-data", "{f}/train.csv", "--target", "y"],
     DS, 2, "not lowercase-kebab"),
    (["register", "m", "--model", "{f}/model.joblib", "--train-data", "{f}/train.csv", "--target", "nope"],
     DS, 2, "Target column 'nope'"),
    (["register", "m", "--model", "{f}/train.csv", "--train-data", "{f}/train.csv", "--target", "y"],
     DS, 2, "not a scikit-learn model"),
    (["register", "m", "--model", "{f}/model.joblib", "--train-data", "{f}/train.csv", "--target", "y"],
     "vera@example.com", 3, "may not register model"),
    (["register", "m", "--model", "{f}/model.joblib", "--train-data", "{f}/train.csv", "--target", "y"],
     None, 2, "--as EMAIL"),
    (["models", "list", "--colour", "red"], None, 2, "unrecognized arguments"),
    (["demo"], None, 4, "store already exists"),
])
def test_errors_are_one_sentence_with_the_right_exit_code(store, people, cli, files, args, as_, code, message):
    make_version(store, people["ds"], "existing")
    r = cli(store, *[a.format(f=files) for a in args], as_=as_)
    assert r.code == code, r.err
    assert message in r.err and r.out == ""
    assert r.err.count("\n") == 1 and "Traceback" not in r.err


def test_verify_exits_1_on_a_mismatch(store, people, cli):
    v = make_version(store, people["ds"], "to-verify")
    ok = cli(store, "verify", "--json")
    assert ok.code == 0 and json.loads(ok.out)["ok"] is True
    path = artifacts.artifact_path(store.artifacts_dir, v.sha256)
    path.write_bytes(path.read_bytes()[:-3])
    bad = cli(store, "verify", "--json")
    report = json.loads(bad.out)
    assert bad.code == 1 and report["ok"] is False and report["mismatches"][0]["model"] == "to-verify"
    text = cli(store, "verify")
    assert text.code == 1 and "to-verify:1 hash mismatch" in text.out and "do not serve them" in text.err


def test_users_and_init(store, cli):
    r = cli(store, "users", "grant", "new@example.com", "viewer", as_="alan@example.com")
    assert r.code == 0, r.err
    assert cli(store, "users", "grant", "x@example.com", "admin", as_=DS).code == 3
    listed = json.loads(cli(store, "users", "list", "--json", as_="alan@example.com").out)
    assert {"email": "new@example.com", "roles": ["viewer"]}.items() <= next(
        u for u in listed if u["email"] == "new@example.com").items()
    assert cli(store, "init", "--admin", "second@example.com").code == 4


def test_the_installed_entry_point_runs_as_a_process(store):
    r = subprocess.run([sys.executable, "-m", "core.cli", "--home", str(store.home), "models", "show", "nope"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 5 and r.stderr.strip() == "modelgov: Model nope not found. See 'modelgov models list'."
    assert catalog.search_models(store).total == 0
