"""The training data an MLflow run logged (`mlflow.log_input(dataset, context="training")`), when ModelGov can read it.

`modelgov import mlflow` needs the data a version was trained on (the drift reference, the signature's types, the
dataset lineage). When the person importing names none, the version's source run may say where it was: MLflow keeps,
per logged dataset, its name, digest, source type and source (`{"uri": ...}`), schema (`mlflow_colspec`) and profile
(`num_rows`). ModelGov uses such a dataset only when its source is one plain local CSV or Parquet file; anything else
(a remote URI such as s3:// or http(s)://, code, a table, a path that is relative, climbs with `..`, or resolves to
something that is not a regular CSV/Parquet file) is refused in one sentence and never fetched: a run on a shared
tracking server may have been logged by anyone, and its source is a name they chose.

MLflow (3.x) does not keep a pandas dataset's `targets` in the tracking store, so the target is the profile's
`targets` when a source wrote one, else the one column of the data that is not among the model signature's inputs.
Nothing here imports MLflow: `mlflow_import` hands over the run's inputs as plain dictionaries.
"""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from ..errors import InvalidInput
from .datasets import DATA_SUFFIXES, read_table

if TYPE_CHECKING:
    import pandas as pd

TRAINING = "training"  # MLflow's context tag for training data (`mlflow.data.context`)
FLAGS = "pass --train-data FILE and --target COLUMN"


def _short(value: Any, n: int = 120) -> str:
    text = "".join(ch if ch.isprintable() else "?" for ch in str(value))
    return text if len(text) <= n else text[: n - 1] + "…"


def dataset_inputs(run: Any) -> list[dict[str, Any]]:
    """The datasets a run logged, as plain dictionaries (MLflow's entities read by attribute, no MLflow import)."""
    out = []
    for di in getattr(getattr(run, "inputs", None), "dataset_inputs", None) or []:
        d = di.dataset
        tags = {t.key: t.value for t in (di.tags or [])}
        out.append({"name": d.name, "digest": d.digest, "context": tags.get("mlflow.data.context"),
                    "source_type": d.source_type, "source": d.source, "schema": d.schema, "profile": d.profile})
    return out


@dataclass(frozen=True)
class LoggedDataset:
    """One dataset a run logged for training, and whether ModelGov can read it (`path`) or why not (`refused`)."""
    name: str
    digest: str
    source_type: str
    uri: str                     # what the source names, as logged (shown, never fetched)
    path: Path | None            # the local file, resolved, when readable
    refused: str | None          # why not, as a clause: "is remote (s3)"
    columns: list[str] | None    # the logged schema's column names
    num_rows: int | None         # the logged profile's row count
    target: str | None           # the profile's `targets`, when a source wrote one

    def describe(self) -> str:
        where = f": {_short(self.uri)}" if self.uri else ""
        return f"'{_short(self.name, 60)}' ({_short(self.source_type, 30)}{where})"


def _json(text: Any) -> Any:
    if not isinstance(text, str) or len(text) > 5_000_000:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _local_path(source_type: str, uri: str) -> tuple[Path | None, str | None]:
    """(the resolved local file, None) or (None, why it is not one ModelGov reads)."""
    if not uri or any(not ch.isprintable() for ch in uri):
        return None, "names no usable path"
    parts = urlsplit(uri)
    if parts.scheme not in ("", "file"):
        return None, f"is remote ({_short(parts.scheme, 20)}://), and ModelGov never fetches a run's data"
    if source_type != "local":
        return None, f"is a {_short(source_type, 30)} source, not a local file"
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
            return None, "is a file URI on another host or with a query, not a plain local path"
        raw = unquote(parts.path)
    else:
        raw = uri
    if "\x00" in raw or not PurePosixPath(raw).is_absolute():
        return None, "is a relative path, which depends on where the run was started"
    if ".." in PurePosixPath(raw).parts:
        return None, "climbs out of its folder with '..'"
    named = Path(raw)
    if named.suffix.lower() not in DATA_SUFFIXES:
        return None, "is not a .csv or .parquet file"
    try:
        real = named.resolve(strict=True)
        mode = real.stat().st_mode
    except (OSError, RuntimeError):
        return None, "does not exist on this machine"
    if real.suffix.lower() not in DATA_SUFFIXES or not stat.S_ISREG(mode):
        return None, "resolves (through a link) to something that is not a .csv or .parquet file"
    return real, None


def logged_training_data(inputs: list[dict[str, Any]]) -> list[LoggedDataset]:
    """The run's datasets logged with context "training", each checked: readable local file or the reason not."""
    out: list[LoggedDataset] = []
    for d in inputs:
        if d.get("context") != TRAINING:
            continue
        source = _json(d.get("source"))
        uri = source.get("uri") if isinstance(source, dict) else None
        if isinstance(uri, str):
            path, refused = _local_path(str(d.get("source_type") or ""), uri)
        else:
            path, refused = None, f"is a {_short(d.get('source_type') or 'unknown', 30)} source, not a file"
            uri = ""
        schema = _json(d.get("schema"))
        spec = schema.get("mlflow_colspec") if isinstance(schema, dict) else None
        columns = [c["name"] for c in spec if isinstance(c, dict) and isinstance(c.get("name"), str)] \
            if isinstance(spec, list) else None
        profile = _json(d.get("profile"))
        profile = profile if isinstance(profile, dict) else {}
        rows = profile.get("num_rows")
        target = profile.get("targets")
        out.append(LoggedDataset(str(d.get("name") or "dataset"), str(d.get("digest") or ""),
                                 str(d.get("source_type") or "unknown"), uri, path, refused, columns,
                                 rows if isinstance(rows, int) and not isinstance(rows, bool) else None,
                                 target if isinstance(target, str) and target else None))
    return out


def choose(found: list[LoggedDataset], run: str) -> LoggedDataset:
    """The one readable training dataset of the run, or InvalidInput naming what it logged and the flags to pass."""
    readable = {d.path: d for d in found if d.path is not None}
    if len(readable) == 1:
        return next(iter(readable.values()))
    if len(readable) > 1:
        names = ", ".join(d.describe() for d in list(readable.values())[:4])
        raise InvalidInput(f"MLflow run {run} logged several training datasets ModelGov could read ({names}), so "
                           f"which one trained the model is not clear; {FLAGS}.")
    if not found:
        raise InvalidInput(f"MLflow run {run} logged no training dataset (mlflow.log_input(dataset, "
                           f"context='training')), so ModelGov has no data to take the drift reference from; {FLAGS}.")
    what = "; ".join(f"{d.describe()} {d.refused}" for d in found[:3]) + ("; …" if len(found) > 3 else "")
    raise InvalidInput(f"MLflow run {run} logged no training data ModelGov can read ({what}); {FLAGS}.")


def read_logged(d: LoggedDataset) -> pd.DataFrame:
    """The logged file's rows, checked against what the run logged of it (its columns and row count)."""
    frame = read_table(d.path)
    where = f"The training data MLflow logged at {_short(d.path)}"
    if d.columns is not None and (missing := [c for c in d.columns if c not in frame.columns]):
        raise InvalidInput(f"{where} lacks the column(s) {', '.join(map(_short, missing[:5]))} the run logged, so it "
                           f"is not the data the model was trained on any more; {FLAGS}.")
    if d.num_rows is not None and d.num_rows != len(frame):
        raise InvalidInput(f"{where} has {len(frame)} rows but the run logged {d.num_rows}, so it changed since "
                           f"the model was trained; {FLAGS}.")
    return frame


def target_of(columns: list[str], inputs: list[str] | None, logged: str | None, model: str) -> str:
    """The target column: the one the dataset's profile names, else the one column that is not a model input."""
    if logged is not None:
        if logged not in columns:
            raise InvalidInput(f"The training data logged for MLflow model {model} names the target {_short(logged)!r}, "
                               "which it does not have; pass --target COLUMN.")
        return logged
    if inputs is None:
        raise InvalidInput(f"MLflow model {model} has no column signature, so the target cannot be told from its "
                           "inputs; pass --target COLUMN.")
    rest = [c for c in columns if c not in inputs]
    if len(rest) != 1:
        shown = ", ".join(map(_short, rest[:6])) or "none"
        raise InvalidInput(f"The training data of MLflow model {model} has {len(rest)} column(s) besides the model's "
                           f"inputs ({shown}), so the target is not clear; pass --target COLUMN.")
    return rest[0]
