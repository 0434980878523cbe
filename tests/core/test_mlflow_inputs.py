"""The training data an MLflow run logged: only a plain local CSV/Parquet file is read; every other source is one
sentence and is never opened or fetched. Plain dictionaries as `mlflow_inputs.dataset_inputs` hands them over (no
MLflow needed); the end-to-end import from a sqlite tracking store is in test_mlflow.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from core.errors import InvalidInput
from core.registry import mlflow_inputs
from tests.conftest import synthetic_classification

COLSPEC = json.dumps({"mlflow_colspec": [{"type": "double", "name": n, "required": True} for n in ("x1", "x2", "y")]})


def _input(uri: str | None, *, source_type: str = "local", name: str = "train", context: str = "training",
           rows: int = 50, profile: dict | None = None) -> dict:
    return {"name": name, "digest": "abc", "context": context, "source_type": source_type,
            "source": json.dumps({"uri": uri} if uri is not None else {"tags": {}}), "schema": COLSPEC,
            "profile": json.dumps(profile if profile is not None else {"num_rows": rows, "num_elements": rows * 3})}


@pytest.fixture(scope="module")
def csv(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("logged") / "train.csv"
    synthetic_classification(n=50, seed=2).to_csv(p, index=False)
    return p


def _one(d: dict) -> mlflow_inputs.LoggedDataset:
    (found,) = mlflow_inputs.logged_training_data([d])
    return found


def test_a_plain_local_file_or_file_uri_is_read(csv):
    assert _one(_input(str(csv))).path == csv.resolve()
    spaced = csv.parent / "with space.csv"
    spaced.write_bytes(csv.read_bytes())
    found = _one(_input("file://" + str(spaced).replace(" ", "%20")))
    assert found.path == spaced.resolve() and found.columns == ["x1", "x2", "y"] and found.num_rows == 50
    assert len(mlflow_inputs.read_logged(found)) == 50


def test_only_training_inputs_count(csv):
    assert mlflow_inputs.logged_training_data([_input(str(csv), context="testing"), _input(str(csv), context=None)]) == []


@pytest.mark.parametrize("case, phrase", [
    ("s3://bucket/train.csv", "is remote (s3://)"),
    ("https://example.com/train.csv", "is remote (https://)"),
    ("hf://datasets/x/train.csv", "is remote (hf://)"),
    ("train.csv", "is a relative path"),
    ("./data/train.csv", "is a relative path"),
    ("{dir}/../{dir_name}/train.csv", "climbs out of its folder"),
    ("file://{dir}/%2e%2e/{dir_name}/train.csv", "climbs out of its folder"),
    ("file://otherhost{dir}/train.csv", "on another host"),
    ("file://{dir}/train.csv?version=2", "with a query"),
    ("/etc/passwd", "is not a .csv or .parquet file"),
    ("{dir}/missing.csv", "does not exist on this machine"),
    ("{dir}/link.csv", "resolves (through a link) to something that is not"),
    ("{dir}/fifo.csv", "resolves (through a link) to something that is not"),
    ("{dir}/folder.csv", "resolves (through a link) to something that is not"),
    ("{dir}/bad\nname.csv", "names no usable path"),
    ("", "names no usable path"),
])
def test_other_sources_are_refused_unopened(csv, case, phrase):
    d = csv.parent
    if not (d / "link.csv").exists():
        (d / "link.csv").symlink_to("/etc/passwd")
        os.mkfifo(d / "fifo.csv")  # opening it would hang: it must be refused from its metadata alone
        (d / "folder.csv").mkdir()
    uri = case.format(dir=d, dir_name=d.name)
    source_type = {"s3": "s3", "https": "http", "hf": "huggingface"}.get(uri.split(":")[0], "local")
    found = _one(_input(uri, source_type=source_type))
    assert found.path is None and phrase in found.refused, found.refused
    with pytest.raises(InvalidInput) as e:
        mlflow_inputs.choose([found], "run-7")
    assert "MLflow run run-7 logged no training data ModelGov can read" in str(e.value)
    assert "pass --train-data FILE and --target COLUMN" in str(e.value) and "\n" not in str(e.value)


def test_code_and_table_sources_are_named_by_kind():
    found = _one(_input(None, source_type="code", name="df"))
    assert found.path is None and found.describe() == "'df' (code)" and "is a code source" in found.refused


def test_choose_wants_exactly_one_readable_training_file(csv):
    other = csv.parent / "train2.csv"
    other.write_bytes(csv.read_bytes())
    two = mlflow_inputs.logged_training_data([_input(str(csv)), _input(str(other), name="again")])
    with pytest.raises(InvalidInput, match="several training datasets ModelGov could read"):
        mlflow_inputs.choose(two, "r")
    same = mlflow_inputs.logged_training_data([_input(str(csv)), _input("file://" + str(csv), name="again")])
    assert mlflow_inputs.choose(same, "r").path == csv.resolve()  # one file logged twice is one file
    with pytest.raises(InvalidInput, match="logged no training dataset"):
        mlflow_inputs.choose([], "r")


def test_a_file_that_changed_since_the_run_is_refused(csv):
    with pytest.raises(InvalidInput, match="has 50 rows but the run logged 60, so it changed"):
        mlflow_inputs.read_logged(_one(_input(str(csv), rows=60)))
    d = _input(str(csv))
    d["schema"] = COLSPEC.replace('"x2"', '"income"')
    with pytest.raises(InvalidInput, match="lacks the column.s. income the run logged"):
        mlflow_inputs.read_logged(_one(d))


@pytest.mark.parametrize("columns, inputs, logged, expected", [
    (["x1", "x2", "y"], ["x1", "x2"], None, "y"),
    (["y", "x1", "x2"], ["x2", "x1"], None, "y"),
    (["x1", "x2", "y", "id"], ["x1", "x2"], "y", "y"),  # a profile naming the target wins
    (["x1", "x2", "y", "id"], ["x1", "x2"], None, "2 column(s) besides the model's inputs (y, id)"),
    (["x1", "x2"], ["x1", "x2"], None, "0 column(s) besides the model's inputs (none)"),
    (["x1", "x2", "y"], None, None, "has no column signature"),
    (["x1", "x2", "y"], ["x1", "x2"], "label", "names the target 'label', which it does not have"),
])
def test_the_target_is_named_or_the_one_column_the_model_does_not_read(columns, inputs, logged, expected):
    if expected in columns:
        assert mlflow_inputs.target_of(columns, inputs, logged, "m/1") == expected
    else:
        with pytest.raises(InvalidInput) as e:
            mlflow_inputs.target_of(columns, inputs, logged, "m/1")
        assert expected in str(e.value) and "pass --target COLUMN" in str(e.value)


def test_a_profile_naming_targets_is_kept(csv):
    assert _one(_input(str(csv), profile={"num_rows": 50, "targets": "y"})).target == "y"
