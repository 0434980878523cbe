"""Content-addressed model artifacts, stored with skops and loaded only after a hash check.

Loading a pickle runs whatever code it names, so the registry never unpickles
what it stores: every version is kept as a skops file, and skops rebuilds only
types on a trusted list (its defaults plus scikit-learn's own internal
classes). A joblib file is unpickled exactly once, at registration, in the
process of the person registering it, and only because they named it.
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

import skops.io as sio

from ..errors import CheckFailed, InvalidInput, NotFound

_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.sparse.")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def artifact_path(artifacts_dir: Path, sha256: str) -> Path:
    return artifacts_dir / sha256[:2] / f"{sha256}.skops"


def _untrusted(data: bytes) -> list[str]:
    types = sio.get_untrusted_types(data=data)
    return [t for t in types if not t.startswith(_TRUSTED_PREFIXES)]


def _trusted_load(data: bytes, what: str) -> Any:
    bad = _untrusted(data)
    if bad:
        raise InvalidInput(
            f"{what} contains types outside scikit-learn and numpy ({', '.join(bad[:3])}); "
            "ModelGov only loads scikit-learn estimators and pipelines."
        )
    return sio.loads(data, trusted=sio.get_untrusted_types(data=data))


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

    def renumber(node: Any) -> Any:
        # "__id__" values are Python object ids used to restore shared references;
        # numbering them by first appearance keeps the sharing and drops the randomness.
        if isinstance(node, dict):
            return {k: (ids.setdefault(v, len(ids) + 1) if k == "__id__" else renumber(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [renumber(v) for v in node]
        return node

    entries["schema.json"] = json.dumps(renumber(json.loads(schema)), indent=2).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, entries[name])
    return out.getvalue()


def serialise(estimator: Any) -> bytes:
    """The skops bytes of `estimator`, refused if they would need untrusted types to load."""
    try:
        data = _deterministic_zip(sio.dumps(estimator))
    except Exception as e:  # skops raises many types for objects it cannot persist
        raise InvalidInput(f"The model cannot be stored safely with skops: {e}") from e
    _trusted_load(data, "The model")
    return data


def read_model_file(path: str | Path) -> Any:
    """Load a model file the registering person named: skops (safe) or joblib (their own file)."""
    p = Path(path)
    if not p.is_file():
        raise NotFound(f"Model file {p} does not exist.")
    data = p.read_bytes()
    if zipfile.is_zipfile(io.BytesIO(data)):
        try:
            return _trusted_load(data, f"Model file {p.name}")
        except InvalidInput:
            raise
        except Exception as e:
            raise InvalidInput(f"{p.name} is a zip file but not a readable skops model: {e}") from e
    import joblib

    try:
        return joblib.load(p)  # the registering person's own file, named by them (see module doc)
    except Exception as e:  # unpickling can fail in many ways; all mean "not a model file"
        raise InvalidInput(
            f"{p.name} is not a scikit-learn model saved with joblib or skops ({type(e).__name__}); "
            "save it with joblib.dump(model, path) or skops.io.dump(model, path)."
        ) from e


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
    return _trusted_load(data, f"The artifact of {what}")


def check(artifacts_dir: Path, sha256: str) -> str | None:
    """None when the artifact is present and intact, else what is wrong."""
    path = artifact_path(artifacts_dir, sha256)
    if not path.exists():
        return "missing"
    actual = sha256_bytes(path.read_bytes())
    return None if actual == sha256 else f"hash mismatch (found {actual})"
