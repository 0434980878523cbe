"""Datasets: reading data files, signatures, fingerprints and reference profiles.

A registered dataset is copied into the store as Parquet (content-addressed by
its fingerprint), so drift and explanations can later read the reference rows
with DuckDB without depending on where the original file lived.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from ..audit import canonical_json, record, utcnow
from ..errors import InvalidInput, NotFound
from ..events import DatasetRegistered
from ..identity import Identity
from ..frozen import frozen_record

if TYPE_CHECKING:
    import pandas as pd

DATA_SUFFIXES = (".csv", ".parquet", ".pq")
_SLUG = re.compile(r"[^a-z0-9]+")


@frozen_record
class Dataset:
    id: int
    name: str
    version: int
    location: str
    stored_path: str
    fingerprint: str
    n_rows: int
    n_columns: int
    schema: list[dict[str, str]]
    profile: dict[str, Any]
    created_at: Any
    created_by: str

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"


def slug(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-") or "dataset"


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file into a DataFrame, with a clear sentence when it cannot."""
    import pandas as pd  # imported when used, like numpy below: the CLI's reads need neither
    p = Path(path)
    if not p.is_file():
        raise NotFound(f"Data file {p} does not exist.")
    suffix = p.suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise InvalidInput(f"{p.name} is neither CSV nor Parquet; give a .csv or .parquet file.")
    try:
        if suffix == ".csv":
            return pd.read_csv(p)
        return pd.read_parquet(p)
    except Exception as e:  # parser errors come in many types; all mean "unreadable"
        raise InvalidInput(f"{p.name} could not be read as {suffix[1:].upper()}: {e}") from e


def column_type(series: pd.Series) -> str:
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    return "string"


def signature_of(frame: pd.DataFrame) -> list[dict[str, str]]:
    """Feature names and types, in column order."""
    return [{"name": str(c), "type": column_type(frame[c])} for c in frame.columns]


def fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 over column names, types and every value (row order matters)."""
    import pandas as pd

    h = hashlib.sha256(canonical_json(signature_of(frame)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


def profile(frame: pd.DataFrame, max_categories: int = 50) -> dict[str, Any]:
    """Reference profile per column: deciles and moments, or category frequencies."""
    import numpy as np

    out: dict[str, Any] = {}
    for col in frame.columns:
        s = frame[col]
        kind = column_type(s)
        entry: dict[str, Any] = {"type": kind, "missing": int(s.isna().sum()), "n_unique": int(s.nunique())}
        if kind in ("integer", "float"):
            v = s.dropna().to_numpy(dtype=float)
            if len(v):
                entry.update(
                    min=float(v.min()), max=float(v.max()), mean=float(v.mean()),
                    std=float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                    deciles=[float(q) for q in np.unique(np.quantile(v, np.linspace(0.1, 0.9, 9)))],
                )
        else:
            counts = s.astype("string").value_counts(dropna=True)
            entry["frequencies"] = {str(k): int(n) for k, n in counts.head(max_categories).items()}
        out[str(col)] = entry
    return out


def _row(r) -> Dataset:
    return Dataset(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8]), json.loads(r[9]), r[10], r[11])


_COLUMNS = ("id, name, version, location, stored_path, fingerprint, n_rows, n_columns,"
            " CAST(\"schema\" AS VARCHAR), CAST(profile AS VARCHAR), created_at, created_by")


def get_dataset_by_id(con: duckdb.DuckDBPyConnection, dataset_id: int) -> Dataset:
    r = con.execute(f"SELECT {_COLUMNS} FROM datasets WHERE id = ?", [dataset_id]).fetchone()
    if r is None:
        raise NotFound(f"Dataset id {dataset_id} not found.")
    return _row(r)


def get_dataset(store, name: str, version: int | None = None) -> Dataset:
    """A registered dataset by name (latest version unless given)."""
    with store.read() as con:
        if version is None:
            r = con.execute(f"SELECT {_COLUMNS} FROM datasets WHERE name = ? ORDER BY version DESC LIMIT 1",
                            [name]).fetchone()
        else:
            r = con.execute(f"SELECT {_COLUMNS} FROM datasets WHERE name = ? AND version = ?",
                            [name, version]).fetchone()
    if r is None:
        suffix = f":{version}" if version is not None else ""
        raise NotFound(f"Dataset {name}{suffix} not found. See 'modelgov datasets list'.")
    return _row(r)


def search_datasets(store) -> list[Dataset]:
    with store.read() as con:
        return [_row(r) for r in con.execute(f"SELECT {_COLUMNS} FROM datasets ORDER BY name, version").fetchall()]


def stored_file(store, dataset: Dataset) -> Path:
    return store.home / dataset.stored_path


def load_frame(store, dataset: Dataset) -> pd.DataFrame:
    import pandas as pd

    path = stored_file(store, dataset)
    if not path.exists():
        raise NotFound(f"The stored copy of dataset {dataset.ref} is missing ({path}).")
    return pd.read_parquet(path)


def write_copy(store, frame: pd.DataFrame, fp: str) -> tuple[str, bool]:
    """Write the Parquet copy for fingerprint `fp`; returns (relative path, newly written)."""
    rel = f"datasets/{fp}.parquet"
    path = store.home / rel
    if path.exists():
        return rel, False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)
    return rel, True


def register_dataset_tx(con: duckdb.DuckDBPyConnection, store, actor: Identity, frame: pd.DataFrame,
                        name: str, location: str, *, fp: str | None = None,
                        written: list[Path] | None = None) -> Dataset:
    """Register `frame` inside the caller's transaction; reuses a version with the same fingerprint.

    Needs the caller to have checked `register-model`. Records `dataset.register`.
    """
    if frame.empty:
        raise InvalidInput(f"Dataset {name} has no rows; give a file with data.")
    fp = fp or fingerprint(frame)
    r = con.execute(f"SELECT {_COLUMNS} FROM datasets WHERE name = ? AND fingerprint = ?", [name, fp]).fetchone()
    if r is not None:
        return _row(r)
    rel, new = write_copy(store, frame, fp)
    if new and written is not None:
        written.append(store.home / rel)
    version = con.execute("SELECT coalesce(max(version), 0) + 1 FROM datasets WHERE name = ?", [name]).fetchone()[0]
    schema = signature_of(frame)
    prof = profile(frame)
    now = utcnow()
    new_id = con.execute(
        "INSERT INTO datasets (name, version, location, stored_path, fingerprint, n_rows, n_columns, \"schema\","
        " profile, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [name, version, location, rel, fp, len(frame), frame.shape[1], canonical_json(schema),
         canonical_json(prof), now, actor.email],
    ).fetchone()[0]
    record(con, actor, DatasetRegistered(f"{name}:{version}", location, fp, len(frame)))
    return get_dataset_by_id(con, new_id)
