"""Content-addressed model artifacts, stored with skops and loaded only after a hash check.

Loading a pickle runs whatever code it names, so the registry never unpickles
what it stores: every version is kept as a skops file, and skops rebuilds
only the reviewed types listed in `core/registry/trusted_types.py` (never a module
prefix, never a function), after which `core/registry/safe_load.py` checks the
structures scikit-learn's compiled code trusts. A file a person hands in is
opened in a child process with memory and CPU limits; a joblib/pickle file is
unpickled there only when the caller passes `allow_pickle=True`, which the
`modelgov register` command does for the person who names the file and no
server path does.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from ..errors import CheckFailed, InvalidInput, NotFound


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def artifact_path(artifacts_dir: Path, sha256: str) -> Path:
    return artifacts_dir / sha256[:2] / f"{sha256}.skops"


def _deterministic_zip(data: bytes) -> bytes:
    """Rewrite skops' zip deterministically, so the same model always has the same SHA-256.

    skops names array files after Python object ids and stamps the current
    time; we rename each file after its content hash and fix the timestamps.
    """
    entries: dict[str, bytes] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        schema = src.read("schema.json").decode()
        for info in src.infolist():
            if info.filename == "schema.json":
                continue
            body = src.read(info.filename)
            suffix = Path(info.filename).suffix
            new = f"{sha256_bytes(body)[:32]}{suffix}"
            schema = schema.replace(f'"{info.filename}"', f'"{new}"')
            entries[new] = body
    ids: dict[int, int] = {}
    tree = json.loads(schema)
    plain = _json_values(tree)

    def renumber(node: Any) -> Any:
        # "__id__" values are Python object ids used to restore shared references;
        # numbering them by first appearance keeps the sharing and drops the randomness.
        if isinstance(node, dict):
            if node.get("__loader__") == "CachedNode" and node.get("__id__") in plain:
                node = plain[node["__id__"]]  # a shared str/number: written out again, see _json_values
            if node.get("__loader__") == "JsonNode":
                ids[object()] = len(ids) + 1  # never shared: its own number
                return {k: (len(ids) if k == "__id__" else renumber(v)) for k, v in node.items()}
            return {k: (ids.setdefault(v, len(ids) + 1) if k == "__id__" else renumber(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [renumber(v) for v in node]
        return node

    entries["schema.json"] = json.dumps(renumber(tree), indent=2).encode()
    return zip_members(entries)


def zip_members(entries: dict[str, bytes]) -> bytes:
    """A zip of `entries` that depends on their names and bytes alone: sorted, one fixed time, one mode."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, entries[name])
    return out.getvalue()


def _json_values(schema: Any) -> dict[Any, dict]:
    """The JsonNodes (str, int, float, bool, None) by id.

    Whether two equal strings are one Python object (interned, or shared with a DataFrame's columns) depends
    on where the model came from, not on the model: an unpickled copy shares differently. These values are
    immutable, so their sharing means nothing; writing each reference out in full makes the same model give
    the same bytes whether it comes from memory, joblib or skops.
    """
    found: dict[Any, dict] = {}
    stack = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("__loader__") == "JsonNode" and "__id__" in item:
                found.setdefault(item["__id__"], item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def format_of(estimator: Any) -> tuple[str, str]:
    """(artifact format, flavour) `serialise` stores `estimator` in: ('skops', 'sklearn') or, for an XGBoost or
    LightGBM model, ('booster-zip', 'xgboost' | 'lightgbm')."""
    from . import boosters

    library = boosters.library_of(estimator)
    return ("booster-zip", library) if library else ("skops", "sklearn")


def serialise(estimator: Any) -> bytes:
    """The artifact bytes of `estimator`, refused if they would need untrusted types to load.

    skops for scikit-learn; an XGBoost or LightGBM model (alone or as a Pipeline's last step) is stored by
    `core/registry/boosters.py`: its booster in the library's own format, the rest in skops.
    """
    from . import boosters

    if boosters.library_of(estimator):
        return boosters.serialise(estimator)
    import skops.io as sio  # imported when used: the CLI answers --help without skops

    from . import safe_load  # with numpy and the structure checks: only where a model is loaded

    try:
        data = _deterministic_zip(sio.dumps(estimator))
    except Exception as e:  # skops raises many types for objects it cannot persist
        raise InvalidInput(f"The model cannot be stored safely with skops: {e}") from e
    safe_load.load_skops(data, "The model")  # what cannot be loaded back must not be stored
    return data


def read_model_file(path: str | Path, *, allow_pickle: bool = False) -> Any:
    """Load a model file a person hands in: opened and checked in a child process, then checked again here.

    A folder is read as an MLflow model (core/registry/mlflow_model.py). A skops file needs no trust in its author. A joblib/pickle file runs the
    code it names when loaded, so it is refused unless `allow_pickle` is
    True; only the `modelgov register` command passes that, for the person
    who names their own file on the command line.
    """
    p = Path(path)
    if p.is_dir():  # an MLflow model folder (its MLmodel file names the model file), or a clear refusal
        from . import mlflow_model

        return mlflow_model.read_model(p, allow_pickle=allow_pickle)[0]
    if not p.is_file():
        raise NotFound(f"Model file {p} does not exist.")
    what = f"Model file {p.name}"
    from . import safe_load

    data = safe_load.open_handed_in(p, what, allow_pickle=allow_pickle)
    model = load_bytes(data, what)  # the child's answer is checked like any other file
    safe_load.ensure_estimator(model, what)
    return model


def write(artifacts_dir: Path, data: bytes) -> tuple[str, Path, bool]:
    """Store `data` under its SHA-256; returns (sha256, path, newly_written)."""
    digest = sha256_bytes(data)
    path = artifact_path(artifacts_dir, digest)
    if path.exists() and sha256_bytes(path.read_bytes()) == digest:
        return digest, path, False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return digest, path, True


def load(artifacts_dir: Path, sha256: str, what: str) -> Any:
    """Load the artifact `sha256` after checking its bytes still hash to it."""
    path = artifact_path(artifacts_dir, sha256)
    if not path.exists():
        raise CheckFailed(f"The artifact of {what} is missing from {path.parent}; restore it from a backup.")
    data = path.read_bytes()
    actual = sha256_bytes(data)
    if actual != sha256:
        raise CheckFailed(
            f"The artifact of {what} does not match its registered SHA-256 "
            f"(expected {sha256[:12]}…, found {actual[:12]}…); it was changed or swapped, so it will not be loaded."
        )
    # Written by us after every check passed, and hash-checked above: loaded here, without a child
    # process, but still through the reviewed list and the structural checks (milliseconds).
    try:
        return load_bytes(data, f"The artifact of {what}")
    except InvalidInput as e:
        raise CheckFailed(str(e)) from None


def load_bytes(data: bytes, what: str) -> Any:
    """The model in artifact bytes: a skops file, or a booster file (`boosters.py`) whose parts are checked alike."""
    from . import boosters, safe_load

    if boosters.is_booster_artifact(data):
        return boosters.load(data, what)
    return safe_load.load_skops(data, what)


def check(artifacts_dir: Path, sha256: str) -> str | None:
    """None when the artifact is present and intact, else what is wrong."""
    path = artifact_path(artifacts_dir, sha256)
    if not path.exists():
        return "missing"
    actual = sha256_bytes(path.read_bytes())
    return None if actual == sha256 else f"hash mismatch (found {actual})"
