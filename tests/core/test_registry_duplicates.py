"""Same model, same answer: one fitted model saved with joblib and with skops is one artifact, and registering it
again is refused (exit 4, the existing version named) unless a duplicate is asked for."""

from __future__ import annotations

import json

import joblib
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression

from core.errors import Conflict
from core.registry import catalog, versions
from tests.conftest import synthetic_classification
from tests.core.test_artifacts_attacks import DS, modelgov


@pytest.fixture
def files(tmp_path):
    df = synthetic_classification(n=400, seed=3)
    est = LogisticRegression().fit(df[["x1", "x2"]], df["y"])
    joblib.dump(est, tmp_path / "m.joblib")
    sio.dump(est, tmp_path / "m.skops")
    df.to_csv(tmp_path / "train.csv", index=False)
    other = LogisticRegression(C=0.01).fit(df[["x1", "x2"]], df["y"])
    sio.dump(other, tmp_path / "other.skops")
    return tmp_path


def test_joblib_and_skops_of_one_model_are_one_artifact_and_the_second_is_refused(store, files, cli):
    first = cli(store, "register", "dup", "--model", str(files / "m.joblib"), "--train-data",
                str(files / "train.csv"), "--target", "y", "--json", as_=DS)
    assert first.code == 0, first.err
    sha = json.loads(first.out)["sha256"]
    artifacts_before = sorted(p.name for p in store.artifacts_dir.rglob("*") if p.is_file())
    again = modelgov(store, "register", "dup", "--model", str(files / "m.skops"), "--train-data",
                     str(files / "train.csv"), "--target", "y", "--json")
    assert again.returncode == 4
    assert "dup v1 is this same model" in again.stderr and sha[:12] in again.stderr
    assert "(--allow-duplicate)" in again.stderr and again.stderr.count("\n") == 1
    assert [v.version for v in catalog.get_model(store, "dup").versions] == [1]
    assert sorted(p.name for p in store.artifacts_dir.rglob("*") if p.is_file()) == artifacts_before
    with store.read() as con:  # the refused attempt is in the audit trail, with the version it duplicates
        refused = con.execute("SELECT entity_id FROM audit_log WHERE action = 'version.register' "
                              "AND outcome = 'refused'").fetchall()
    assert refused == [("dup:1",)]
    # on purpose: a second version, the same artifact
    on_purpose = cli(store, "register", "dup", "--model", str(files / "m.skops"), "--train-data",
                     str(files / "train.csv"), "--target", "y", "--json", "--allow-duplicate", as_=DS)
    assert on_purpose.code == 0, on_purpose.err
    vs = catalog.get_model(store, "dup").versions
    assert [v.version for v in vs] == [1, 2] and vs[0].sha256 == vs[1].sha256 == sha


def test_another_model_registers_as_the_next_version(store, people, files):
    versions.register_version(store, people["ds"], "dup", str(files / "m.skops"), files / "train.csv", "y")
    v2 = versions.register_version(store, people["ds"], "dup", str(files / "other.skops"), files / "train.csv", "y")
    assert v2.version == 2


def test_core_refuses_the_same_estimator_twice(store, people, files):
    import pandas as pd

    df = pd.read_csv(files / "train.csv")
    est = LogisticRegression().fit(df[["x1", "x2"]], df["y"])
    versions.register_version(store, people["ds"], "dup", est, df, "y")
    with pytest.raises(Conflict, match="dup v1 is this same model") as info:
        versions.register_version(store, people["ds"], "dup", est, df, "y")
    assert info.value.field == "allow_duplicate"
    assert versions.register_version(store, people["ds"], "dup", est, df, "y", allow_duplicate=True).version == 2
