"""`modelgov import mlflow`: bring one registered MLflow model version into ModelGov.

The version is read from the tracking server (its aliases and tags, its source run's name, tags, parameters
and logged metrics), its model folder is downloaded to a temporary directory, and everything then goes
through `versions.register_version` like `modelgov register`: the same permission check, the same model
loading (core/registry/mlflow_model.py), the same duplicate refusal, the facts and the audit events in its one
transaction. MLflow is an optional extra (`pip install 'modelgov[mlflow]'`); nothing else in ModelGov imports
it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import InvalidInput, NotFound
from ..events import MlflowVersionImported
from ..identity import Identity, require
from .datasets import get_dataset_by_id, read_table, slug
from .mlflow_inputs import LoggedDataset, choose, dataset_inputs, logged_training_data, read_logged, target_of
from .mlflow_model import is_mlflow_dir, read_mlmodel
from .mlflow_records import MlflowFacts, already_imported, finite, imported_as

if TYPE_CHECKING:
    import pandas as pd

    from .records import ModelVersion

INSTALL = "pip install 'modelgov[mlflow]'"
REMOTE_SCHEMES = ("http", "https", "databricks", "postgresql", "mysql", "mssql")


def public_uri(uri: str) -> str:
    """The tracking URI as ModelGov keeps and shows it: without a user name or password."""
    parts = urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    return urlunsplit(parts._replace(netloc=host + (f":{parts.port}" if parts.port else "")))


def check_tracking_uri(uri: str) -> None:
    """Refuse a local tracking store that does not exist: MLflow would quietly create an empty one there."""
    uri = (uri or "").strip()
    if not uri:
        raise InvalidInput("Name the MLflow tracking store with --tracking-uri, e.g. sqlite:///mlflow.db or "
                           "http://mlflow.example.com:5000.")
    scheme = urlsplit(uri).scheme
    if scheme == "sqlite":
        path = uri.split("?", 1)[0].removeprefix("sqlite:///")  # sqlite:///rel.db, sqlite:////abs/path.db
        if not Path(path).is_file() or Path(path).stat().st_size == 0:
            raise NotFound(f"No MLflow tracking store at {public_uri(uri)}: the sqlite file {path} does not exist "
                           "or is empty.")
    elif scheme in ("", "file"):
        path = urlsplit(uri).path if scheme == "file" else uri
        if not Path(path).is_dir():
            raise NotFound(f"No MLflow tracking store at {uri}: the folder does not exist.")
    elif scheme.split("+")[0] not in REMOTE_SCHEMES:
        raise InvalidInput(f"{public_uri(uri)} is not a tracking URI ModelGov knows; use sqlite:///FILE, a folder, "
                           "or http(s)://HOST:PORT.")


@contextlib.contextmanager
def _quiet():
    """MLflow and alembic log set-up chatter and warnings that are not the user's business."""
    loggers = [logging.getLogger(n) for n in ("mlflow", "alembic")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _client(uri: str):
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as e:
        raise InvalidInput(f"Importing from MLflow needs the mlflow-skinny package (with SQLAlchemy and alembic for "
                           f"a sqlite store), which is not installed here: {INSTALL}.") from e
    # A server that does not answer should say so in seconds, not after MLflow's minutes of retries.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # stderr carries sentences only
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


_CREDENTIALS = re.compile(r"//[^/@\s]+@")


def _said(e: BaseException) -> str:
    """The first line of what MLflow or its driver said, short, with any user:password@ in a URL taken out."""
    text = str(getattr(e, "message", None) or e)
    first = text.splitlines()[0] if text.strip() else type(e).__name__
    return _CREDENTIALS.sub("//", first)[:300]


def _ask(what: str, uri: str, call, *args: Any) -> Any:
    """One MLflow call; its failures as NotFound (absent, or no server answers) or InvalidInput, in one sentence."""
    from mlflow.exceptions import MlflowException

    try:
        with _quiet():
            return call(*args)
    except MlflowException as e:
        if e.error_code == "RESOURCE_DOES_NOT_EXIST" or "not found" in str(e.message).lower():  # (an alias)
            raise NotFound(f"{what} not found in the MLflow tracking store at {public_uri(uri)}.") from e
        if "API request to" in str(e.message) and "failed with exception" in str(e.message):
            raise NotFound(f"No MLflow tracking server answers at {public_uri(uri)} (the connection failed or timed "
                           "out); check the URI and that the server is running.") from e
        raise InvalidInput(f"MLflow at {public_uri(uri)} could not give {what} ({_said(e)}).") from e
    except Exception as e:  # the store's driver, the network: many types, one sentence naming the store
        raise InvalidInput(f"MLflow at {public_uri(uri)} could not be read for {what} "
                           f"({type(e).__name__}: {_said(e)}).") from e


def read_mlflow_version(uri: str, model: str, *, version: int | None = None, alias: str | None = None
                        ) -> MlflowFacts:
    """A registered model version (by number, alias, or the latest) and its source run, as MLflow records them."""
    if version is not None and alias is not None:
        raise InvalidInput("Give --version or --alias, not both.")
    check_tracking_uri(uri)
    client = _client(uri)
    _ask(f"Registered model {model!r}", uri, client.get_registered_model, model)
    if alias is not None:
        mv = _ask(f"Alias {alias!r} of registered model {model!r}", uri, client.get_model_version_by_alias,
                  model, alias)
    elif version is not None:
        mv = _ask(f"Version {version} of registered model {model!r}", uri, client.get_model_version, model,
                  str(version))
    else:
        quoted = model.replace("\\", "\\\\").replace("'", "\\'")
        found = _ask(f"the versions of registered model {model!r}", uri, client.search_model_versions,
                     f"name = '{quoted}'")
        if not found:
            raise NotFound(f"Registered model {model!r} has no version in the MLflow tracking store at "
                           f"{public_uri(uri)}.")
        mv = max(found, key=lambda v: int(v.version))
    facts: dict[str, Any] = {}
    if mv.run_id:
        run = _ask(f"Run {mv.run_id}", uri, client.get_run, mv.run_id)
        tags = dict(run.data.tags)
        facts = {"run_id": mv.run_id, "run_name": run.info.run_name, "experiment_id": str(run.info.experiment_id),
                 "run_tags": {k: v for k, v in sorted(tags.items()) if not k.startswith("mlflow.")},
                 "params": dict(sorted(run.data.params.items())),
                 "metrics": {k: finite(v) for k, v in sorted(run.data.metrics.items())},
                 "code_ref": tags.get("mlflow.source.git.commit"), "datasets": dataset_inputs(run)}
    return MlflowFacts(public_uri(uri), mv.name, int(mv.version), sorted(mv.aliases or []),
                       dict(sorted((mv.tags or {}).items())), **facts)


@dataclass(frozen=True)
class TrainingData:
    """The data a version was imported with: the file named by --train-data, or the one its run logged."""
    location: str                      # the file, resolved
    target: str
    target_from: str                   # "--target", "mlflow" (the logged profile) or "signature" (the one non-input)
    logged: LoggedDataset | None       # the dataset of the run it came from; None for --train-data


def import_mlflow_version(store, actor: Identity, uri: str, model: str,
                          train_data: pd.DataFrame | str | Path | None = None, target: str | None = None, *,
                          version: int | None = None, alias: str | None = None,
                          name: str | None = None, test_data: pd.DataFrame | str | Path | None = None,
                          owner: str | None = None, risk_tier: str | None = None, description: str | None = None,
                          allow_pickle: bool = False, allow_duplicate: bool = False
                          ) -> tuple[ModelVersion, MlflowFacts, TrainingData]:
    """Import one registered MLflow model version as the next version of `name` (default: the MLflow name).

    ModelGov needs the training data and its target (the drift reference, the signature's types, the dataset
    lineage dataset → version). Without `train_data`, it is the one local CSV/Parquet file the version's run logged
    with `mlflow.log_input(..., context="training")` (core/registry/mlflow_inputs.py: remote or odd sources are
    refused, never fetched); without `target`, the target the logged profile names, else the one column of the data
    that is not an input of the model's MLflow signature.
    Needs `register-model`. Records what `register_version` records plus `version.import_mlflow`.
    Raises InvalidInput (also: no training data to use), Forbidden, NotFound, Conflict (already imported, or the
    same artifact).
    """
    from . import versions

    name = name or slug(model)
    with store.transaction():  # fail fast (and audited) before talking to MLflow
        require(actor, "register-model", MlflowVersionImported, name)
    facts = read_mlflow_version(uri, model, version=version, alias=alias)
    with store.read() as con:
        existing = imported_as(con, facts)
    if existing:
        with store.transaction():  # audited like any refused action
            raise already_imported(actor, facts, existing)
    found = logged_training_data(facts.datasets)
    logged: LoggedDataset | None = None
    location: str | None = None
    if train_data is None:  # the run's logged file, checked against the run's record of it before any download
        if not facts.run_id:
            raise InvalidInput(f"MLflow model {facts.ref} names no source run, so there is no logged training data "
                               "to use; pass --train-data FILE and --target COLUMN.")
        logged = choose(found, facts.run_name or facts.run_id)
        train_data, location = read_logged(logged), str(logged.path)
    elif target is None and isinstance(train_data, (str, Path)):
        location = str(Path(train_data).resolve())
        train_data = read_table(location)  # read once: its columns tell the target, and register takes the frame
    client = _client(uri)
    where = _ask(f"the files of MLflow model {facts.ref}", uri, client.get_model_version_download_uri,
                 facts.registered_model, str(facts.registered_version))
    with tempfile.TemporaryDirectory(prefix="modelgov-mlflow-") as tmp:
        from mlflow.artifacts import download_artifacts

        try:
            with _quiet():
                local = download_artifacts(artifact_uri=where, dst_path=tmp, tracking_uri=uri)
        except Exception as e:  # the artifact store may be anywhere: one sentence naming the version
            raise InvalidInput(f"The files of MLflow model {facts.ref} could not be downloaded ({type(e).__name__}: "
                               f"{_said(e)}).") from e
        target_from = "--target"
        if target is None:
            # the target a training dataset's profile names (the one used, or the one such of the run), else the
            # one column that is not an input of the MLflow signature
            named = {d.target for d in found if d.target} if logged is None else {logged.target} - {None}
            inputs = read_mlmodel(local).input_names if is_mlflow_dir(local) else None
            named_one = next(iter(named)) if len(named) == 1 else None
            target = target_of([str(c) for c in train_data.columns], inputs, named_one, facts.ref)
            target_from = "mlflow" if named_one else "signature"
        v = versions.register_version(store, actor, name, Path(local), train_data, target, test_data=test_data,
                                      owner=owner, risk_tier=risk_tier, description=description,
                                      code_ref=facts.code_ref or (f"mlflow:run/{facts.run_id}" if facts.run_id else None),
                                      allow_pickle=allow_pickle, allow_duplicate=allow_duplicate, mlflow=facts,
                                      train_location=location)
    with store.read() as con:
        train_ds = get_dataset_by_id(con, v.train_dataset_id)
    return v, facts, TrainingData(train_ds.location, target, target_from, logged)
