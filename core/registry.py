"""The model registry: models, versions, artifacts, search and verification."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from sklearn.base import is_classifier, is_regressor
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from . import artifacts, lineage
from .audit import AuditEvent, canonical_json, record, utcnow
from .datasets import Dataset, get_dataset_by_id, read_table, register_dataset_tx, slug
from .errors import Conflict, InvalidInput, NotFound
from .identity import Identity, require
from .metrics import binary_metrics, regression_metrics

RISK_TIERS = ("low", "medium", "high")
CARD_FIELDS = ("intended_use", "limitations", "training_data_summary", "ethical_considerations", "caveats")
EDITABLE_FIELDS = ("description", "owner", "business_unit", "use_case", "risk_tier", "tags") + CARD_FIELDS
MODEL_STATUSES = ("production", "staging", "development", "retired", "draft")
VERSION_STATUSES = ("registered", "staging", "challenger", "production", "retired", "archived")
SORTS = {"name": "m.name", "owner": "m.owner", "risk_tier": "m.risk_tier", "status": "status",
         "updated": "m.updated_at", "versions": "versions", "latest_version": "latest_version"}
_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class ModelVersion:
    id: int
    model: str
    version: int
    sha256: str
    artifact_format: str
    artifact_size: int
    flavour: str
    estimator: str
    task: str
    signature: list[dict[str, str]]
    target: str
    classes: list[Any] | None
    train_dataset_id: int | None
    test_dataset_id: int | None
    parameters: dict[str, Any]
    metrics: dict[str, float]
    code_ref: str | None
    status: str
    created_at: Any
    created_by: str

    @property
    def ref(self) -> str:
        return f"{self.model}:{self.version}"

    @property
    def feature_names(self) -> list[str]:
        return [c["name"] for c in self.signature]

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "sha256": self.sha256, "status": self.status,
                "created_at": _iso(self.created_at), "created_by": self.created_by, "metrics": self.metrics,
                "signature": self.signature, "target": self.target, "task": self.task,
                "estimator": self.estimator, "code_ref": self.code_ref, "parameters": self.parameters}


@dataclass(frozen=True)
class Model:
    id: int
    name: str
    description: str
    owner: str
    business_unit: str
    use_case: str
    risk_tier: str
    card: dict[str, str]
    tags: list[str]
    created_at: Any
    created_by: str
    updated_at: Any
    versions: list[ModelVersion] = field(default_factory=list)

    @property
    def latest(self) -> ModelVersion | None:
        return self.versions[-1] if self.versions else None

    def card_completeness(self) -> float:
        filled = sum(1 for f in CARD_FIELDS if self.card.get(f, "").strip())
        return filled / len(CARD_FIELDS)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "owner": self.owner, "risk_tier": self.risk_tier,
                "description": self.description, "business_unit": self.business_unit,
                "use_case": self.use_case, "tags": self.tags, "card": self.card,
                "created_at": _iso(self.created_at), "created_by": self.created_by,
                "versions": [v.as_dict() for v in self.versions]}


@dataclass(frozen=True)
class ModelSummary:
    name: str
    owner: str
    risk_tier: str
    status: str
    latest_version: int | None
    versions: int
    business_unit: str
    description: str
    tags: list[str]
    updated_at: Any

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "owner": self.owner, "risk_tier": self.risk_tier, "status": self.status,
                "latest_version": self.latest_version, "versions": self.versions,
                "business_unit": self.business_unit, "description": self.description, "tags": self.tags,
                "updated_at": _iso(self.updated_at)}


@dataclass(frozen=True)
class SearchResult:
    items: list[ModelSummary]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


# -- validation ----------------------------------------------------------------------------

def validate_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > 64:
        suggestion = slug(str(name))[:64]
        raise InvalidInput(
            f"Model name {name!r} is not lowercase-kebab (letters, digits and single dashes, "
            f"at most 64 characters); try {suggestion!r}."
        )
    return name


def validate_tier(tier: str) -> str:
    if tier not in RISK_TIERS:
        raise InvalidInput(f"Risk tier {tier!r} is not one of {', '.join(RISK_TIERS)}.")
    return tier


def parse_ref(ref: str) -> tuple[str, int | None]:
    """'name' or 'name:3' → (name, version or None)."""
    name, _, ver = ref.partition(":")
    if not ver:
        return name, None
    if not ver.isdigit():
        raise InvalidInput(f"{ref!r} is not MODEL or MODEL:VERSION (the version is a whole number).")
    return name, int(ver)


# -- reads -----------------------------------------------------------------------------------

_MODEL_COLS = ("id, name, description, owner, business_unit, use_case, risk_tier, intended_use, limitations,"
               " training_data_summary, ethical_considerations, caveats, tags, created_at, created_by, updated_at")
_VERSION_COLS = ("v.id, m.name, v.version, v.sha256, v.artifact_format, v.artifact_size, v.flavour, v.estimator,"
                 " v.task, CAST(v.signature AS VARCHAR), v.target, CAST(v.classes AS VARCHAR), v.train_dataset_id,"
                 " v.test_dataset_id, CAST(v.parameters AS VARCHAR), CAST(v.metrics AS VARCHAR), v.code_ref,"
                 " v.status, v.created_at, v.created_by")


def _version_row(r) -> ModelVersion:
    return ModelVersion(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], json.loads(r[9]), r[10],
                        json.loads(r[11]) if r[11] else None, r[12], r[13], json.loads(r[14]),
                        json.loads(r[15]), r[16], r[17], r[18], r[19])


def _model_row(r, versions: list[ModelVersion]) -> Model:
    card = dict(zip(CARD_FIELDS, r[7:12]))
    return Model(r[0], r[1], r[2], r[3], r[4], r[5], r[6], card, list(r[12] or []), r[13], r[14], r[15], versions)


def model_not_found(name: str) -> NotFound:
    return NotFound(f"Model {name} not found. See 'modelgov models list'.")


def get_model_tx(con: duckdb.DuckDBPyConnection, name: str) -> Model:
    r = con.execute(f"SELECT {_MODEL_COLS} FROM models WHERE name = ?", [name]).fetchone()
    if r is None:
        raise model_not_found(name)
    rows = con.execute(
        f"SELECT {_VERSION_COLS} FROM model_versions v JOIN models m ON m.id = v.model_id"
        " WHERE m.id = ? ORDER BY v.version", [r[0]]).fetchall()
    return _model_row(r, [_version_row(v) for v in rows])


def get_model(store, name: str) -> Model:
    """A model with all its versions; raises NotFound."""
    with store.read() as con:
        return get_model_tx(con, name)


def get_model_version_tx(con: duckdb.DuckDBPyConnection, name: str, version: int | None = None) -> ModelVersion:
    if version is None:
        r = con.execute(f"SELECT {_VERSION_COLS} FROM model_versions v JOIN models m ON m.id = v.model_id"
                        " WHERE m.name = ? ORDER BY v.version DESC LIMIT 1", [name]).fetchone()
    else:
        r = con.execute(f"SELECT {_VERSION_COLS} FROM model_versions v JOIN models m ON m.id = v.model_id"
                        " WHERE m.name = ? AND v.version = ?", [name, version]).fetchone()
    if r is None:
        if con.execute("SELECT 1 FROM models WHERE name = ?", [name]).fetchone() is None:
            raise model_not_found(name)
        if version is None:
            raise NotFound(f"Model {name} has no versions yet. Register one with 'modelgov register {name} …'.")
        raise NotFound(f"Model version {name}:{version} not found. See 'modelgov models show {name}'.")
    return _version_row(r)


def get_model_version(store, name: str, version: int | None = None) -> ModelVersion:
    """One version (the latest when `version` is None); raises NotFound."""
    with store.read() as con:
        return get_model_version_tx(con, name, version)


def get_version_by_id(con: duckdb.DuckDBPyConnection, version_id: int) -> ModelVersion:
    r = con.execute(f"SELECT {_VERSION_COLS} FROM model_versions v JOIN models m ON m.id = v.model_id"
                    " WHERE v.id = ?", [version_id]).fetchone()
    if r is None:
        raise NotFound(f"Model version id {version_id} not found.")
    return _version_row(r)


_STATUS_SQL = """
    CASE
        WHEN count(v.id) = 0 THEN 'draft'
        WHEN bool_or(v.status = 'production') THEN 'production'
        WHEN bool_or(v.status IN ('staging', 'challenger')) THEN 'staging'
        WHEN bool_or(v.status = 'registered') THEN 'development'
        ELSE 'retired'
    END"""


def search_models(store, text: str | None = None, *, owner: str | None = None, risk_tier: str | None = None,
                  status: str | None = None, tag: str | None = None, sort: str = "name",
                  descending: bool = False, page: int = 1, per_page: int = 50) -> SearchResult:
    """Models matching every filter given, sorted and paginated (pages count from 1)."""
    if sort not in SORTS:
        raise InvalidInput(f"Cannot sort by {sort!r}; choose one of {', '.join(SORTS)}.")
    if risk_tier is not None:
        validate_tier(risk_tier)
    if status is not None and status not in MODEL_STATUSES:
        raise InvalidInput(f"Status {status!r} is not one of {', '.join(MODEL_STATUSES)}.")
    if page < 1 or not 1 <= per_page <= 1000:
        raise InvalidInput("Pages count from 1 and hold 1 to 1000 models.")
    where, params = [], []
    if text:
        where.append("(m.name ILIKE ? OR m.description ILIKE ? OR m.owner ILIKE ?)")
        params += [f"%{text}%"] * 3
    if owner:
        where.append("m.owner = ?")
        params.append(owner)
    if risk_tier:
        where.append("m.risk_tier = ?")
        params.append(risk_tier)
    if tag:
        where.append("list_contains(m.tags, ?)")
        params.append(tag)
    having = "WHERE status = ?" if status else ""
    if status:
        params.append(status)
    order = f"{SORTS[sort]} {'DESC' if descending else 'ASC'} NULLS LAST, m.name"
    sql = f"""
        WITH s AS (
            SELECT m.name, m.owner, m.risk_tier, {_STATUS_SQL} AS status, max(v.version) AS latest_version,
                   count(v.id) AS versions, m.business_unit, m.description, m.tags, m.updated_at
            FROM models m LEFT JOIN model_versions v ON v.model_id = m.id
            {"WHERE " + " AND ".join(where) if where else ""}
            GROUP BY ALL
        )
        SELECT *, count(*) OVER () AS total FROM s m {having}
        ORDER BY {order} LIMIT ? OFFSET ?"""
    with store.read() as con:
        rows = con.execute(sql, params + [per_page, (page - 1) * per_page]).fetchall()
    total = rows[0][-1] if rows else 0
    if not rows and page > 1:
        with store.read() as con:
            total = _count(con, sql, params)
    items = [ModelSummary(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], list(r[8] or []), r[9]) for r in rows]
    return SearchResult(items, total, page, per_page)


def _count(con, sql: str, params: list) -> int:
    inner = sql.rsplit("ORDER BY", 1)[0]
    return con.execute(f"SELECT count(*) FROM ({inner})", params).fetchone()[0]


def list_owners(store) -> list[str]:
    with store.read() as con:
        return [r[0] for r in con.execute("SELECT DISTINCT owner FROM models ORDER BY 1").fetchall()]


def list_tags(store) -> list[str]:
    with store.read() as con:
        return [r[0] for r in con.execute("SELECT DISTINCT unnest(tags) FROM models ORDER BY 1").fetchall()]


# -- writes ----------------------------------------------------------------------------------

def create_model(store, actor: Identity, name: str, *, owner: str | None = None, risk_tier: str = "medium",
                 description: str = "", business_unit: str = "", use_case: str = "",
                 tags: list[str] | None = None, **card: str) -> Model:
    """Create a model with no versions yet.

    Needs `register-model`. Records `model.create`. Raises InvalidInput, Forbidden, Conflict.
    """
    validate_name(name)
    validate_tier(risk_tier)
    _check_card_fields(card)
    with store.transaction() as con:
        require(actor, "register-model", "model", name)
        _insert_model(con, actor, name, owner or actor.email, risk_tier, description, business_unit,
                      use_case, tags or [], card)
        return get_model_tx(con, name)


def _check_card_fields(card: dict[str, Any]) -> None:
    # Card keys become column names in SQL, so only the known fields may pass.
    unknown = set(card) - set(CARD_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown model-card field(s) {', '.join(sorted(unknown))}; use {', '.join(CARD_FIELDS)}.")


def _insert_model(con, actor: Identity, name: str, owner: str, risk_tier: str, description: str,
                  business_unit: str, use_case: str, tags: list[str], card: dict[str, str]) -> int:
    if con.execute("SELECT 1 FROM models WHERE name = ?", [name]).fetchone():
        raise Conflict(f"Model {name} already exists; register a new version of it instead.")
    now = utcnow()
    cols = ["name", "owner", "risk_tier", "description", "business_unit", "use_case", "tags",
            "created_at", "created_by", "updated_at", *card]
    vals = [name, owner, risk_tier, description, business_unit, use_case, list(tags), now, actor.email, now,
            *card.values()]
    model_id = con.execute(f"INSERT INTO models ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                           " RETURNING id", vals).fetchone()[0]
    record(con, actor, AuditEvent("model.create", "model", name,
                                  {"owner": owner, "risk_tier": risk_tier, "tags": list(tags)}))
    return model_id


def update_model(store, actor: Identity, name: str, **changes: Any) -> Model:
    """Change a model's descriptive fields or model card.

    Needs `register-model`. Records `model.update` with old and new values.
    Raises InvalidInput, Forbidden, NotFound.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput(f"Cannot change {', '.join(sorted(unknown))}; editable fields are {', '.join(EDITABLE_FIELDS)}.")
    if "risk_tier" in changes:
        validate_tier(changes["risk_tier"])
    with store.transaction() as con:
        require(actor, "register-model", "model", name)
        before = get_model_tx(con, name)
        current = {"description": before.description, "owner": before.owner, "business_unit": before.business_unit,
                   "use_case": before.use_case, "risk_tier": before.risk_tier, "tags": before.tags, **before.card}
        diff = {k: {"from": current[k], "to": v} for k, v in changes.items() if current[k] != v}
        if diff:
            sets = ", ".join(f"{k} = ?" for k in diff)
            con.execute(f"UPDATE models SET {sets}, updated_at = ? WHERE name = ?",
                        [changes[k] for k in diff] + [utcnow(), name])
            record(con, actor, AuditEvent("model.update", "model", name, {"changes": diff}))
        return get_model_tx(con, name)


def _describe(estimator: Any) -> str:
    steps = getattr(estimator, "steps", None)
    if steps:
        return "Pipeline(" + " → ".join(type(s).__name__ for _, s in steps) + ")"
    return type(estimator).__name__


def _json_param(value: Any) -> Any:
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


def _prepare(estimator: Any, train: pd.DataFrame, target: str, source: str) -> _Prepared:
    if not (is_classifier(estimator) or is_regressor(estimator)):
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
        if len(classes) != 2 or not hasattr(estimator, "predict_proba"):
            raise InvalidInput(f"The classifier has {len(classes)} classes; ModelGov supports binary "
                               "classification (with predict_proba) and regression.")
        task = "binary_classification"
    try:
        sample = X[features].head(500)
        out = estimator.predict_proba(sample) if task == "binary_classification" else estimator.predict(sample)
        if len(out) != len(sample):
            raise ValueError(f"returned {len(out)} rows for {len(sample)}")
    except Exception as e:  # any failure to score means the model and data do not fit
        raise InvalidInput(f"The model cannot score the training data's columns: {type(e).__name__}: {e}") from e
    return _Prepared(estimator, task, features, classes)


def score(estimator: Any, task: str, frame: pd.DataFrame) -> np.ndarray:
    """Positive-class probability (classification) or prediction (regression)."""
    if task == "binary_classification":
        return np.asarray(estimator.predict_proba(frame))[:, 1]
    return np.asarray(estimator.predict(frame), dtype=float)


def evaluate(prepared: _Prepared, test: pd.DataFrame, target: str) -> dict[str, float]:
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
    return regression_metrics(y.to_numpy(dtype=float), s)


def _frame(data: pd.DataFrame | str | Path, label: str) -> tuple[pd.DataFrame, str, str]:
    """(frame, location, default dataset name)."""
    if isinstance(data, pd.DataFrame):
        return data, f"memory:{label}", label
    p = Path(data).resolve()
    return read_table(p), str(p), slug(p.stem)


def register_version(store, actor: Identity, name: str, model: Any, train_data: pd.DataFrame | str | Path,
                     target: str, *, test_data: pd.DataFrame | str | Path | None = None,
                     owner: str | None = None, risk_tier: str | None = None, description: str | None = None,
                     code_ref: str | None = None, train_name: str | None = None, test_name: str | None = None,
                     tags: list[str] | None = None, allow_pickle: bool = False, **card: str) -> ModelVersion:
    """Register `model` (an estimator or a joblib/skops file) as the next version of `name`.

    A joblib/pickle file runs code when loaded: it is refused unless `allow_pickle`
    (only the CLI passes it, for the person naming their own file; see core/safe_load.py).

    Creates the model when new (owner defaults to the actor, tier to medium).
    Needs `register-model`. Records `model.create` (when new), `dataset.register`
    and `version.register`. Raises InvalidInput, Forbidden, NotFound.
    """
    validate_name(name)
    if risk_tier is not None:
        validate_tier(risk_tier)
    _check_card_fields(card)
    with store.transaction():  # fail fast (and audited) before the heavy work
        require(actor, "register-model", "model", name)
    source = "the estimator"
    if not hasattr(model, "fit"):
        source = Path(model).name
        code_ref = code_ref or git_commit(Path(model).resolve().parent)
        model = artifacts.read_model_file(model, allow_pickle=allow_pickle)
    train, train_loc, train_default = _frame(train_data, f"{name}-train")
    prepared = _prepare(model, train, target, source)
    metrics: dict[str, float] = {}
    test = test_loc = test_default = None
    if test_data is not None:
        test, test_loc, test_default = _frame(test_data, f"{name}-test")
        metrics = evaluate(prepared, test, target)
    blob = artifacts.serialise(model)
    written: list[Path] = []
    digest, path, new = artifacts.write(store.artifacts_dir, blob)
    if new:
        written.append(path)
    try:
        with store.transaction() as con:
            require(actor, "register-model", "model", name)
            row = con.execute("SELECT id FROM models WHERE name = ?", [name]).fetchone()
            if row is None:
                model_id = _insert_model(con, actor, name, owner or actor.email, risk_tier or "medium",
                                         description or "", "", "", tags or [], card)
            else:
                model_id = row[0]
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
            version_id = con.execute(
                "INSERT INTO model_versions (model_id, version, sha256, artifact_format, artifact_size, flavour,"
                " estimator, task, signature, target, classes, train_dataset_id, test_dataset_id, parameters,"
                " metrics, code_ref, created_at, created_by)"
                " VALUES (?, ?, ?, 'skops', ?, 'sklearn', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [model_id, number, digest, len(blob), _describe(model), prepared.task, canonical_json(signature),
                 target, canonical_json(prepared.classes) if prepared.classes else None, train_ds.id,
                 test_ds.id if test_ds else None, canonical_json(parameters_of(model)), canonical_json(metrics),
                 code_ref, utcnow(), actor.email]).fetchone()[0]
            if row is not None:
                con.execute("UPDATE models SET updated_at = ? WHERE id = ?", [utcnow(), model_id])
            version = get_version_by_id(con, version_id)
            lineage.record_registration(con, actor, version, train_ds, test_ds)
            record(con, actor, AuditEvent("version.register", "model_version", version.ref,
                                          {"sha256": digest, "metrics": metrics, "train_dataset": train_ds.ref,
                                           "test_dataset": test_ds.ref if test_ds else None,
                                           "code_ref": code_ref}))
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

