"""Model versions: register (hold-out metrics, datasets, lineage), look up, score, load, verify.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from ..audit import canonical_json, record, utcnow
from ..errors import Conflict, InvalidInput, NotFound
from ..events import VersionRegistered
from ..identity import Identity, require
from ..lineage import nodes as lineage
from . import artifacts, mlflow_model, mlflow_records
from .catalog import check_card_fields, insert_model
from .mlflow_model import MlflowModelDir
from .mlflow_records import MlflowFacts
from .datasets import Dataset, get_dataset_by_id, read_table, register_dataset_tx, slug
from ..vocabulary import validate_tier
from .records import (
    VERSION_COLUMNS,
    ModelVersion,
    model_not_found,
    validate_name,
    version_row,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def get_model_version_tx(con: duckdb.DuckDBPyConnection, name: str, version: int | None = None) -> ModelVersion:
    if version is None:
        r = con.execute(f"SELECT {VERSION_COLUMNS} FROM model_versions v JOIN models m ON m.id = v.model_id"
                        " WHERE m.name = ? ORDER BY v.version DESC LIMIT 1", [name]).fetchone()
    else:
        r = con.execute(f"SELECT {VERSION_COLUMNS} FROM model_versions v JOIN models m ON m.id = v.model_id"
                        " WHERE m.name = ? AND v.version = ?", [name, version]).fetchone()
    if r is None:
        if con.execute("SELECT 1 FROM models WHERE name = ?", [name]).fetchone() is None:
            raise model_not_found(name)
        if version is None:
            raise NotFound(f"Model {name} has no versions yet. Register one with 'modelgov register {name} …'.")
        raise NotFound(f"Model version {name}:{version} not found. See 'modelgov models show {name}'.")
    return version_row(r)


def get_model_version(store, name: str, version: int | None = None) -> ModelVersion:
    """One version (the latest when `version` is None); raises NotFound."""
    with store.read() as con:
        return get_model_version_tx(con, name, version)


def get_version_by_id(con: duckdb.DuckDBPyConnection, version_id: int) -> ModelVersion:
    r = con.execute(f"SELECT {VERSION_COLUMNS} FROM model_versions v JOIN models m ON m.id = v.model_id"
                    " WHERE v.id = ?", [version_id]).fetchone()
    if r is None:
        raise NotFound(f"Model version id {version_id} not found.")
    return version_row(r)


def _describe(estimator: Any) -> str:
    steps = getattr(estimator, "steps", None)
    if steps:
        return "Pipeline(" + " → ".join(type(s).__name__ for _, s in steps) + ")"
    return type(estimator).__name__


def _json_param(value: Any) -> Any:
    import numpy as np  # numpy and pandas are imported when used: the CLI's reads need neither

    if value is None or isinstance(value, (bool, int, float, str)):
        return value if not isinstance(value, float) or np.isfinite(value) else str(value)
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float, bool)) for v in value):
        return list(value)
    return type(value).__name__


def parameters_of(estimator: Any) -> dict[str, Any]:
    try:
        params = estimator.get_params(deep=True)
    except Exception:  # a third-party estimator may not implement get_params fully
        return {}
    return {k: _json_param(v) for k, v in sorted(params.items())}


def git_commit(where: Path) -> str | None:
    """`<sha>` (or `<sha>+dirty`) of the git checkout holding `where`, if any."""
    try:
        sha = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=3)
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=3)
        return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.TimeoutExpired):
        return None


@dataclass
class _Prepared:
    estimator: Any
    task: str
    features: list[str]
    classes: list[Any] | None


def _kind_known(estimator: Any) -> bool:
    """A classifier or regressor; anything else (a dict, an array, a string a joblib file held) is simply not."""
    from sklearn.base import is_classifier, is_regressor  # imported when used: the CLI answers --help without scikit-learn
    if not (callable(getattr(estimator, "fit", None)) and callable(getattr(estimator, "predict", None))):
        return False
    try:  # scikit-learn reads the estimator's tags, which a look-alike object may not provide
        return bool(is_classifier(estimator) or is_regressor(estimator))
    except Exception:
        return False


def _prepare(estimator: Any, train: pd.DataFrame, target: str, source: str) -> _Prepared:
    from sklearn.base import is_classifier
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted  # imported when used: the CLI answers --help without scikit-learn
    if not _kind_known(estimator):
        raise InvalidInput(f"{source} holds a {type(estimator).__name__}, not a scikit-learn classifier or regressor.")
    try:
        check_is_fitted(estimator)
    except NotFittedError as e:
        raise InvalidInput(f"The model in {source} is not fitted; fit it before registering.") from e
    except TypeError as e:
        raise InvalidInput(f"{source} does not hold a scikit-learn estimator: {e}") from e
    if target not in train.columns:
        raise InvalidInput(f"Target column {target!r} is not in the training data; its columns are "
                           f"{', '.join(map(str, train.columns[:30]))}.")
    X = train.drop(columns=[target])
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        features = [str(n) for n in names]
        missing = [n for n in features if n not in X.columns]
        if missing:
            raise InvalidInput(f"The model needs column(s) {', '.join(missing[:10])} that the training data lacks.")
    else:
        features = [str(c) for c in X.columns]
        n_in = getattr(estimator, "n_features_in_", None)
        if n_in is not None and n_in != len(features):
            raise InvalidInput(f"The model expects {n_in} input columns but the training data has "
                               f"{len(features)} besides the target.")
    classes = None
    task = "regression"
    if is_classifier(estimator):
        classes = [_json_param(c) for c in getattr(estimator, "classes_", [])]
        if len(classes) < 2 or not hasattr(estimator, "predict_proba"):
            raise InvalidInput(f"The classifier has {len(classes)} class(es) and "
                               f"{'a' if hasattr(estimator, 'predict_proba') else 'no'} predict_proba; ModelGov "
                               "supports classifiers of two or more classes with predict_proba, and regression.")
        task = "binary_classification" if len(classes) == 2 else "multiclass_classification"
    try:
        sample = X[features].head(500)
        out = estimator.predict_proba(sample) if task != "regression" else estimator.predict(sample)
        if len(out) != len(sample):
            raise ValueError(f"returned {len(out)} rows for {len(sample)}")
    except Exception as e:  # any failure to score means the model and data do not fit
        raise InvalidInput(f"The model cannot score the training data's columns: {type(e).__name__}: {e}") from e
    return _Prepared(estimator, task, features, classes)


def score(estimator: Any, task: str, frame: pd.DataFrame) -> np.ndarray:
    """Positive-class probability (binary), the (n, K) class probabilities in the order of the version's
    classes (multiclass) or the prediction (regression)."""
    import numpy as np

    if task == "binary_classification":
        return np.asarray(estimator.predict_proba(frame))[:, 1]
    if task == "multiclass_classification":
        return np.asarray(estimator.predict_proba(frame), dtype=float)
    return np.asarray(estimator.predict(frame), dtype=float)


def class_index(classes: list[Any], y: pd.Series, what: str) -> np.ndarray:
    """Each label's position in `classes` (0..K−1); a label the model never saw is one InvalidInput sentence.
    Labels match by value, or by their text (a CSV may read class 1 as "1" or 1.0)."""
    import numpy as np

    pos = {c: i for i, c in enumerate(classes)}
    text = {str(c): i for i, c in enumerate(classes)}
    for c, i in list(pos.items()):  # 1.0 read from a file is class 1
        if isinstance(c, (int, float)) and not isinstance(c, bool):
            text.setdefault(str(float(c)), i)
    out = np.empty(len(y), dtype=np.int64)
    unknown: set[str] = set()
    for k, value in enumerate(y.tolist()):
        i = pos.get(value) if not isinstance(value, float) or value == value else None
        if i is None:
            i = text.get(str(value))
        if i is None:
            unknown.add(str(value))
            i = -1
        out[k] = i
    if unknown:
        raise InvalidInput(f"{what} holds value(s) {sorted(unknown)[:5]} the model never saw; its classes are "
                           f"{classes}.")
    return out


def evaluate(prepared: _Prepared, test: pd.DataFrame, target: str) -> dict[str, float]:
    from ..metrics import binary_metrics, multiclass_metrics, regression_metrics

    if target not in test.columns:
        raise InvalidInput(f"Target column {target!r} is not in the test data.")
    missing = [c for c in prepared.features if c not in test.columns]
    if missing:
        raise InvalidInput(f"The test data lacks column(s) {', '.join(missing[:10])} the model needs.")
    y = test[target]
    if y.isna().any():
        raise InvalidInput(f"The test data has {int(y.isna().sum())} empty value(s) in target {target!r}.")
    try:
        s = score(prepared.estimator, prepared.task, test[prepared.features])
    except Exception as e:  # scoring user data can fail in many ways
        raise InvalidInput(f"The model cannot score the test data: {type(e).__name__}: {e}") from e
    if prepared.task == "binary_classification":
        positive = prepared.classes[1]
        unknown = set(y.unique()) - set(prepared.classes)
        if unknown:
            raise InvalidInput(f"The test target holds value(s) {sorted(map(str, unknown))[:5]} the model "
                               f"never saw; its classes are {prepared.classes}.")
        return binary_metrics((y == positive).astype(int).to_numpy(), s)
    if prepared.task == "multiclass_classification":
        return multiclass_metrics(class_index(prepared.classes, y, "The test target"), s)
    return regression_metrics(y.to_numpy(dtype=float), s)


def _frame(data: pd.DataFrame | str | Path, label: str, location: str | None = None
           ) -> tuple[pd.DataFrame, str, str]:
    """(frame, location, default dataset name); `location`, when given, is recorded instead of the file's path: the
    file a frame was already read from, or `upload:<name>` for a file uploaded to the API."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        if location:
            return data, location, slug(Path(location.removeprefix("upload:")).stem)
        return data, f"memory:{label}", label
    p = Path(data).resolve()
    return read_table(p), location or str(p), slug(p.stem)


def register_version(store, actor: Identity, name: str, model: Any, train_data: pd.DataFrame | str | Path,
                     target: str, *, test_data: pd.DataFrame | str | Path | None = None,
                     owner: str | None = None, risk_tier: str | None = None, description: str | None = None,
                     code_ref: str | None = None, train_name: str | None = None, test_name: str | None = None,
                     tags: list[str] | None = None, allow_pickle: bool = False, allow_duplicate: bool = False,
                     mlflow: MlflowFacts | None = None, train_location: str | None = None,
                     test_location: str | None = None, **card: str) -> ModelVersion:
    """Register `model` (an estimator or a joblib/skops file) as the next version of `name`.

    A joblib/pickle file runs code when loaded: it is refused unless `allow_pickle`
    (only the CLI passes it, for the person naming their own file; see core/registry/safe_load.py).

    The same fitted model gets the same artifact hash however it was saved (joblib or skops): registering
    an artifact a version of `name` already has raises Conflict naming that version, unless
    `allow_duplicate` (a new version on purpose, e.g. the same model with other hold-out data).

    `model` may be an MLflow model folder (core/registry/mlflow_model.py): its signature is checked against the
    model's input columns and kept with the version, with `mlflow` (what `modelgov import mlflow` read from the
    tracking server, core/registry/mlflow_import.py), which also records `version.import_mlflow`.
    A dataset's location is the file's path on this machine, or `train_location` / `test_location` when the caller
    knows better: a file uploaded to the HTTP API sits in a temporary folder that is gone after the request, so the
    API records `upload:<the name the caller sent>` (the fingerprint, a hash of the content, is the same either way).

    Creates the model when new (owner defaults to the actor, tier to medium).
    Needs `register-model`. Records `model.create` (when new), `dataset.register`
    and `version.register`. Raises InvalidInput, Forbidden, NotFound.
    """
    validate_name(name)
    if risk_tier is not None:
        validate_tier(risk_tier)
    check_card_fields(card)
    with store.transaction():  # fail fast (and audited) before the heavy work
        require(actor, "register-model", VersionRegistered, name)
    source = "the estimator"
    folder: MlflowModelDir | None = None
    if not hasattr(model, "fit"):
        source = Path(model).name
        where = Path(model).resolve()
        code_ref = code_ref or git_commit(where if where.is_dir() else where.parent)
        model, folder = mlflow_model.read_model(model, allow_pickle=allow_pickle)
    train, train_loc, train_default = _frame(train_data, f"{name}-train", train_location)
    prepared = _prepare(model, train, target, source)
    if folder is not None:
        mlflow_model.check_signature(folder, prepared.features)
    metrics: dict[str, float] = {}
    test = test_loc = test_default = None
    if test_data is not None:
        test, test_loc, test_default = _frame(test_data, f"{name}-test", test_location)
        metrics = evaluate(prepared, test, target)
    blob = artifacts.serialise(model)
    written: list[Path] = []
    digest, path, new = artifacts.write(store.artifacts_dir, blob)
    if new:
        written.append(path)
    try:
        with store.transaction() as con:
            require(actor, "register-model", VersionRegistered, name)
            row = con.execute("SELECT id FROM models WHERE name = ?", [name]).fetchone()
            if row is None:
                model_id = insert_model(con, actor, name, owner or actor.email, risk_tier or "medium",
                                         description or "", "", "", tags or [], card)
            else:
                model_id = row[0]
                same = con.execute("SELECT version FROM model_versions WHERE model_id = ? AND sha256 = ? "
                                   "ORDER BY version", [model_id, digest]).fetchall()
                if same and not allow_duplicate:
                    raise Conflict(
                        f"{name} v{same[0][0]} is this same model (artifact sha256 {digest[:12]}…), so nothing was "
                        "registered; allow a duplicate to register it again as a new version on purpose.",
                        actor=actor.email, action=VersionRegistered.action, entity_type="model_version",
                        entity_id=f"{name}:{same[0][0]}", field="allow_duplicate")
            cols = prepared.features + [target]
            train_ds = register_dataset_tx(con, store, actor, train[cols], train_name or train_default,
                                           train_loc, written=written)
            test_ds = None
            if test is not None:
                test_ds = register_dataset_tx(con, store, actor, test[cols], test_name or test_default,
                                              test_loc, written=written)
            number = con.execute("SELECT coalesce(max(version), 0) + 1 FROM model_versions WHERE model_id = ?",
                                 [model_id]).fetchone()[0]
            signature = [s for s in train_ds.schema if s["name"] in prepared.features]
            signature.sort(key=lambda s: prepared.features.index(s["name"]))
            fmt, flavour = artifacts.format_of(model)
            version_id = con.execute(
                "INSERT INTO model_versions (model_id, version, sha256, artifact_format, artifact_size, flavour,"
                " estimator, task, signature, target, classes, train_dataset_id, test_dataset_id, parameters,"
                " metrics, code_ref, created_at, created_by)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [model_id, number, digest, fmt, len(blob), flavour, _describe(model), prepared.task,
                 canonical_json(signature), target,
                 canonical_json(prepared.classes) if prepared.classes else None, train_ds.id,
                 test_ds.id if test_ds else None, canonical_json(parameters_of(model)), canonical_json(metrics),
                 code_ref, utcnow(), actor.email]).fetchone()[0]
            if row is not None:
                con.execute("UPDATE models SET updated_at = ? WHERE id = ?", [utcnow(), model_id])
            version = get_version_by_id(con, version_id)
            lineage.record_registration(con, actor, version, train_ds, test_ds)
            record(con, actor, VersionRegistered(version.ref, digest, metrics, train_ds.ref,
                                                 test_ds.ref if test_ds else None, code_ref))
            if folder is not None or mlflow is not None:
                mlflow_records.record_tx(con, actor, version, folder, mlflow)
            return version
    except BaseException:
        for p in written:
            p.unlink(missing_ok=True)
        raise


def load_model(store, name: str, version: int | None = None) -> tuple[ModelVersion, Any]:
    """The version and its estimator, loaded only after its SHA-256 matches the registry."""
    v = get_model_version(store, name, version)
    return v, artifacts.load(store.artifacts_dir, v.sha256, v.ref)


def version_datasets(store, v: ModelVersion) -> tuple[Dataset | None, Dataset | None]:
    with store.read() as con:
        train = get_dataset_by_id(con, v.train_dataset_id) if v.train_dataset_id else None
        test = get_dataset_by_id(con, v.test_dataset_id) if v.test_dataset_id else None
    return train, test


def verify_artifacts(store) -> list[dict[str, Any]]:
    """Re-hash every registered artifact; one row per version with `problem` None when intact."""
    with store.read() as con:
        rows = con.execute("SELECT m.name, v.version, v.sha256 FROM model_versions v JOIN models m"
                           " ON m.id = v.model_id ORDER BY m.name, v.version").fetchall()
    return [{"model": n, "version": ver, "sha256": sha, "problem": artifacts.check(store.artifacts_dir, sha)}
            for n, ver, sha in rows]
