"""Explanations of a version: computed once, cached by artifact, data and settings, audited.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..audit import canonical_json, record, utcnow
from ..errors import InvalidInput, NotFound
from ..events import ExplanationComputed
from ..identity import Identity, allowed, require
from ..lineage import nodes as lineage
from ..registry import artifacts
from ..registry.datasets import fingerprint, load_frame, read_table
from ..registry.records import ModelVersion
from ..registry.versions import get_model_version, load_model, version_datasets
from .compute import (
    BACKGROUND_ROWS,
    DEFAULT_ROWS,
    SETTINGS_VERSION,
    Explanation,
    Progress,
    check_data,
    compute,
    for_class,
    split_pipeline,
    to_probability,
)


def _home(store):
    """Where SHAP values are cached: `explanations/` under the data location (shared by replicas, as the logs are)."""
    path = store.data_dir / "explanations"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _cached_file(store, key: str) -> Path:
    """The cached values of `key`: under the data location, or where a store written before it kept them (the
    home's `explanations/`; content-addressed, so never stale)."""
    path = _home(store) / f"{key}.parquet"
    older = store.home / "explanations" / f"{key}.parquet"
    return older if not path.exists() and older.exists() else path


def cache_key(version: ModelVersion, data_fp: str, settings: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json([version.sha256, data_fp, settings]).encode()).hexdigest()


def _row_to_explanation(store, r, cached: bool) -> Explanation:
    (eid, key, model, version, explainer, space, base, err, ok, features, data_ref, created_at, created_by) = r
    path = _cached_file(store, key)
    if not path.exists():
        raise NotFound(f"The cached values of explanation {eid} are missing from {path.parent}; compute it again.")
    return Explanation(eid, key, model, version, explainer, space, base, err, ok, json.loads(features),
                       pd.read_parquet(path), data_ref, created_at, created_by, cached)


_SELECT = """SELECT e.id, e.cache_key, m.name, v.version, e.explainer, e.output_space, e.base_value,
                    e.additivity_max_error, e.additivity_ok, CAST(e.features AS VARCHAR), e.data_ref, e.created_at,
                    e.created_by
             FROM explanations e JOIN model_versions v ON v.id = e.version_id JOIN models m ON m.id = v.model_id"""


def cached(store, key: str) -> Explanation | None:
    with store.read() as con:
        r = con.execute(_SELECT + " WHERE e.cache_key = ?", [key]).fetchall()
    return _row_to_explanation(store, r[0], True) if r else None


def list_explanations(store, model: str | None = None, version: int | None = None) -> list[dict[str, Any]]:
    where, params = [], []
    if model:
        where.append("m.name = ?")
        params.append(model)
    if version is not None:
        where.append("v.version = ?")
        params.append(version)
    sql = ("SELECT e.id, m.name, v.version, e.explainer, e.output_space, e.rows, e.data_ref, e.additivity_ok,"
           " e.additivity_max_error, e.created_at, e.created_by, e.cache_key FROM explanations e JOIN model_versions v"
           " ON v.id = e.version_id JOIN models m ON m.id = v.model_id"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY e.created_at DESC, e.id DESC")
    with store.read() as con:
        rows = con.execute(sql, params).fetchall()
    cols = ["id", "model", "version", "explainer", "output_space", "rows", "data_ref", "additivity_ok",
            "additivity_max_error", "created_at", "created_by", "key"]
    return [dict(zip(cols, r)) for r in rows]


def latest(store, model: str, version: int) -> Explanation | None:
    items = list_explanations(store, model, version)
    return cached(store, items[0]["key"]) if items else None


def background_for(store, version: ModelVersion, n: int = BACKGROUND_ROWS) -> pd.DataFrame:
    train, _test = version_datasets(store, version)
    if train is None:
        raise InvalidInput(f"{version.ref} has no stored training data to draw a background sample from.")
    frame = load_frame(store, train)[version.feature_names]
    return frame.sample(n=min(n, len(frame)), random_state=0).sort_index()


def training_data(store, version: ModelVersion) -> pd.DataFrame:
    """The version's training data (the reference an explanation shift compares production with)."""
    train, _test = version_datasets(store, version)
    if train is None:
        raise InvalidInput(f"{version.ref} has no stored training data.")
    return load_frame(store, train)


def default_data(store, version: ModelVersion) -> tuple[pd.DataFrame, str]:
    """The version's hold-out data (else its training data) and a reference naming it."""
    train, test = version_datasets(store, version)
    ds = test or train
    if ds is None:
        raise InvalidInput(f"{version.ref} has no stored data; give a data file to explain.")
    return load_frame(store, ds), f"dataset:{ds.ref}"


def prepare(store, model: str, version: int | None, data: pd.DataFrame | str | None = None,
            rows: int | None = DEFAULT_ROWS, label: str | None = None
            ) -> tuple[ModelVersion, pd.DataFrame, str, str, dict[str, Any]]:
    """The version, the rows to explain, a reference to the data, the cache key and the settings."""
    v = get_model_version(store, model, version)
    if data is None:
        frame, data_ref = default_data(store, v)
    elif isinstance(data, pd.DataFrame):
        frame, data_ref = data, label or "frame"
    else:
        frame, data_ref = read_table(data), label or f"file:{data}"  # label: an API upload's `upload:<name>`
    if rows is not None and rows < 1:
        raise InvalidInput(f"--rows must be 1 or more; got {rows}.")
    X = check_data(v, frame)
    if rows is not None and len(X) > rows:
        X = X.sample(n=rows, random_state=0).sort_index()
    settings = {"v": SETTINGS_VERSION, "rows": len(X), "background": BACKGROUND_ROWS, "seed": 0,
                "data_fingerprint": fingerprint(X)}
    return v, X, data_ref, cache_key(v, settings["data_fingerprint"], settings), settings


def find(store, model: str, version: int | None, data: pd.DataFrame | str | None = None,
         rows: int | None = DEFAULT_ROWS, label: str | None = None) -> Explanation | None:
    """The cached explanation for these inputs, or None (computes nothing)."""
    return cached(store, prepare(store, model, version, data, rows, label)[3])


def explain(store, actor: Identity, model: str, version: int | None, data: pd.DataFrame | str | None = None, *,
            rows: int | None = DEFAULT_ROWS, progress: Progress | None = None, use_cache: bool = True,
            label: str | None = None) -> Explanation:
    """Explain up to `rows` rows of `data` (a frame or a CSV/Parquet path — named by `label` when given —, or None
    for the hold-out data)."""
    v, X, data_ref, key, settings = prepare(store, model, version, data, rows, label)
    if use_cache:
        hit = cached(store, key)
        if hit is not None:
            if progress:
                progress(1.0, "Opened the cached explanation.")
            return hit
    if not allowed(actor, "compute-results"):  # refuse early, before minutes of work (and audit it)
        with store.transaction():
            require(actor, "compute-results", ExplanationComputed, v.ref)

    estimator = artifacts.load(store.artifacts_dir, v.sha256, v.ref)  # after its SHA-256 matches the registry
    try:
        result = compute(v, estimator, X, lambda: background_for(store, v), progress)
    except InvalidInput:
        raise
    except Exception as e:  # an estimator shap cannot handle: one sentence, nothing cached
        raise InvalidInput(f"{v.ref} ({type(split_pipeline(estimator)[1]).__name__}) could not be explained: "
                           f"{type(e).__name__}: {e}") from e
    frame_out = _frame_of(X, result)
    if v.task == "multiclass_classification":  # the row's base value and the additivity check: class 0's
        result = {**result, "base_value": float(result["base_value"][0])}
    path = _home(store) / f"{key}.parquet"
    tmp = path.with_suffix(".tmp")
    frame_out.to_parquet(tmp, index=False)
    now = utcnow()
    try:
        with store.transaction() as con:
            require(actor, "compute-results", ExplanationComputed, v.ref)
            con.execute("DELETE FROM explanations WHERE cache_key = ?", [key])
            eid = con.execute(
                "INSERT INTO explanations (cache_key, version_id, data_fingerprint, data_ref, settings, explainer,"
                " output_space, base_value, additivity_max_error, additivity_ok, features, rows, seconds, created_at,"
                " created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [key, v.id, settings["data_fingerprint"], data_ref, canonical_json(settings), result["explainer"],
                 result["output_space"], result["base_value"], result["additivity_max_error"],
                 result["additivity_ok"], canonical_json(result["features"]), len(X), None, now, actor.email],
            ).fetchall()[0][0]
            tmp.replace(path)
            lineage.record_result_tx(con, actor, "explanation", v.model, v.version, key[:12],
                                     f"SHAP ({result['explainer']}) on {len(X):,} rows",
                                     {"explainer": result["explainer"], "rows": len(X), "data": data_ref})
            record(con, actor, ExplanationComputed(v.ref, v.model, v.version, result["explainer"], len(X), data_ref,
                                                   result["additivity_max_error"], result["additivity_ok"]))
    finally:
        tmp.unlink(missing_ok=True)
    if progress:
        progress(1.0, "Done.")
    return Explanation(eid, key, v.model, v.version, result["explainer"], result["output_space"],
                       result["base_value"], result["additivity_max_error"], result["additivity_ok"],
                       result["features"], frame_out, data_ref, now, actor.email, False)


def class_position(store, model: str, version: int | None, value: Any) -> int:
    """The position of class `value` (a class of the version, or its text, as a person types it) among a multiclass
    version's classes; one InvalidInput sentence when the version is not multiclass or has no such class."""
    v = get_model_version(store, model, version)
    if v.task != "multiclass_classification":
        raise InvalidInput(f"{v.ref} is not a multiclass classifier; its explanation has no classes to choose from.")
    classes = list(v.classes or [])
    match = [k for k, c in enumerate(classes) if c == value or str(c) == str(value)]
    if not match:
        raise InvalidInput(f"{v.ref} has no class {value!r}; its classes are {classes}.")
    return match[0]


def _frame_of(X: pd.DataFrame, result: dict[str, Any]) -> pd.DataFrame:
    """The stored frame: index, prediction, x__FEATURE, s__FEATURE; multiclass adds, per class position k,
    c{k}__prediction, c{k}__s__FEATURE, c{k}__base and c{k}__additivity, and `predicted_class` (the position of
    the class with the highest output); the unprefixed columns hold class 0's (Explanation.for_class)."""
    values, prediction = result["values"], result["prediction"]
    multi = values.ndim == 3
    out = pd.DataFrame({"index": X.index.to_numpy(), "prediction": prediction[:, 0] if multi else prediction})
    for f in result["features"]:
        out[f"x__{f}"] = X[f].to_numpy()
    for i, f in enumerate(result["features"]):
        out[f"s__{f}"] = values[:, i, 0] if multi else values[:, i]
    if multi:
        columns = {"predicted_class": prediction.argmax(axis=1)}
        for k in range(values.shape[2]):
            columns[f"c{k}__prediction"] = prediction[:, k]
            columns[f"c{k}__base"] = float(result["base_value"][k])
            columns[f"c{k}__additivity"] = result["class_additivity_max_error"][k]
            for i, f in enumerate(result["features"]):
                columns[f"c{k}__s__{f}"] = values[:, i, k]
        out = pd.concat([out, pd.DataFrame(columns, index=out.index)], axis=1)
    return out


def explain_record(store, model: str, version: int, record_: dict[str, Any], class_index: int | None = None
                   ) -> dict[str, Any]:
    """What-if: one typed-in record's score and contributions (not cached; nothing is stored); a classifier's
    `probability` of the positive class besides its output in the explainer's space (None for regression).

    Multiclass: the contributions to class position `class_index` (default: the predicted class), with
    `class_index`, `predicted_class` and `class_probabilities` (every class's probability)."""
    v, estimator = load_model(store, model, version)
    frame = pd.DataFrame([record_])
    X = check_data(v, frame)
    for col in v.signature:  # typed numbers arrive as floats; give the model its training types
        if col["type"] == "integer":
            X[col["name"]] = X[col["name"]].round().astype("int64")
    result = compute(v, estimator, X, lambda: background_for(store, v, 100))
    extra: dict[str, Any] = {}
    if v.task == "multiclass_classification":
        probabilities = [float(p) for p in estimator.predict_proba(X)[0]]
        predicted = int(np.argmax(probabilities))
        k = predicted if class_index is None else int(class_index)
        if not 0 <= k < len(v.classes or []):
            raise InvalidInput(f"{v.ref} has {len(v.classes or [])} classes; class position {k} is none of them.")
        result = for_class(result, k)
        extra = {"class_index": k, "class": v.classes[k], "predicted_class": v.classes[predicted],
                 "class_probabilities": dict(zip(map(str, v.classes), probabilities))}
    prediction = float(result["prediction"][0])
    probability = to_probability(prediction, result["output_space"])
    if v.task == "multiclass_classification":  # a class's raw score is no log-odds: its probability is the model's
        probability = extra["class_probabilities"][str(v.classes[extra["class_index"]])]
    return {**extra, "explainer": result["explainer"], "output_space": result["output_space"],
            "base_value": result["base_value"], "prediction": prediction,
            "probability": probability,
            "values": dict(zip(result["features"], map(float, result["values"][0]))),
            "additivity_max_error": result["additivity_max_error"]}
