"""Fairness reports: per-group metrics of a version on data (hold-out or a file) and on production traffic.

Every answer has the shape `modelgov fairness --json` prints: {model, version, threshold, attributes: [{attribute,
groups: [...], demographic_parity_ratio, demographic_parity_difference, equalized_odds_difference, …}], …}. The
numbers come from `metrics.group_metrics` over (score, label, group) rows: scores of a hold-out set are the kept
ones (`monitoring.holdout_scores`), production rows come from `monitoring.logs.scored_rows`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidInput, NotFound
from ..identity import Identity, require
from ..registry.records import ModelVersion
from ..registry.versions import get_model_version
from . import metrics
from .attributes import Attribute, FairnessSettings, attribute_frame, get_settings, groups_of, parse_attribute

TASKS = ("binary_classification", "regression")


def _require_view(store, actor: Identity | None, ref: str) -> None:
    with store.transaction():
        require(actor, "view", "fairness", ref)


def _check_task(v: ModelVersion) -> None:
    if v.task not in TASKS:
        raise InvalidInput(f"{v.ref} is a {v.task.replace('_', ' ')} model; fairness covers binary classifiers and "
                           "regressors.")


def _threshold(threshold: Any) -> float:
    if threshold is None:
        return 0.5
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise InvalidInput(f"The threshold must be a number between 0 and 1; got {threshold!r}.") from None
    if not 0.0 <= t <= 1.0:
        raise InvalidInput(f"The threshold must be between 0 and 1; got {threshold!r}.")
    return t


def resolve_attributes(settings: FairnessSettings | None, sensitive: list[str] | str | None) -> list[Attribute]:
    """The attributes to measure: those named (a declared attribute by name or column, or any column), else every
    declared one. Raises InvalidInput when none is named or declared."""
    if isinstance(sensitive, str):
        sensitive = [s.strip() for s in sensitive.split(",") if s.strip()]
    if not sensitive:
        if settings is None or not settings.attributes:
            raise InvalidInput(f"Name the sensitive attributes (--sensitive SEX,AGE) or declare them on the model card"
                               f"{'' if settings is None else ' of ' + settings.model}.")
        return list(settings.attributes)
    return [(settings.attribute(s) if settings else None) or parse_attribute(s) for s in sensitive]


def _join_attributes(frame: pd.DataFrame, attrs: list[Attribute], extra: pd.DataFrame | None,
                     id_column: str | None, what: str) -> pd.DataFrame:
    """`frame` with the attribute columns it lacks taken from `extra`, joined on `id_column`."""
    lacking = [a.column for a in attrs if a.column not in frame.columns]
    if not lacking:
        return frame
    if extra is None or not id_column:
        raise InvalidInput(f"{what} has no column {', '.join(lacking)}; give an attribute file joined by id "
                           "(--attributes FILE --id-column COL) or declare one on the model card.")
    missing = [c for c in lacking if c not in extra.columns]
    if missing or id_column not in frame.columns or id_column not in extra.columns:
        raise InvalidInput(f"Cannot join the attributes {', '.join(lacking)}: both {what} and the attribute file need "
                           f"the id column {id_column!r}, and the attribute file the columns themselves.")
    if extra[id_column].duplicated().any():
        raise InvalidInput(f"The attribute file repeats ids in {id_column}; give one row per id.")
    keyed = extra[[id_column, *lacking]].astype({id_column: str})
    out = frame.assign(**{id_column: frame[id_column].astype(str)}).merge(keyed, on=id_column, how="left")
    return out


def measure(v: ModelVersion, rows: pd.DataFrame, attrs: list[Attribute], *, threshold: float,
            settings: FairnessSettings | None, bootstrap: int = metrics.DEFAULT_BOOTSTRAP, seed: int = 0,
            source: str = "") -> dict[str, Any]:
    """The report of `rows` (score, label and one column per attribute) in the CLI's JSON shape."""
    positive_is = settings.positive_is if settings else "adverse"
    min_group = settings.min_group_size if settings else metrics.DEFAULT_MIN_GROUP
    out_attrs = []
    for a in attrs:
        groups, order = groups_of(a, rows[a.column])
        res = metrics.group_metrics(rows["score"].to_numpy(dtype=float), rows["label"].to_numpy(dtype=float), groups,
                                    task=v.task, threshold=threshold, bootstrap=bootstrap, seed=seed,
                                    min_group_size=min_group, positive_is=positive_is, order=order)
        out_attrs.append({"attribute": a.name, "column": a.column, **res})
    return {"model": v.model, "version": v.version, "task": v.task, "threshold": threshold, "source": source,
            "rows": int(len(rows)), "outcomes": int(rows["label"].notna().sum()), "positive_is": positive_is,
            "prediction_phrase": settings.prediction_phrase if settings else "predicted positive",
            "bootstrap": bootstrap, "attributes": out_attrs}


def _label(v: ModelVersion, y: pd.Series) -> np.ndarray:
    if v.task == "regression":
        return pd.to_numeric(y, errors="coerce").to_numpy(dtype=float)
    from ..registry.versions import class_index

    return class_index(list(v.classes or []), y, f"The target of {v.ref}").astype(float)


def fairness_on_data(store, actor: Identity | None, model: str, version: int | None, data, target: str, *,
                     sensitive: list[str] | str | None = None, threshold: float | None = None,
                     attributes=None, id_column: str | None = None, bootstrap: int = metrics.DEFAULT_BOOTSTRAP,
                     seed: int = 0) -> dict[str, Any]:
    """Per-group fairness of a version on a labelled data file or DataFrame (`target` its outcome column).

    Attributes the data lacks come from `attributes` (a file or DataFrame) or the card's attribute file, joined on
    `id_column`. Needs `view` (a refusal is audited). Raises InvalidInput, NotFound, Forbidden.
    """
    from ..registry.datasets import read_table
    from ..registry.versions import load_model, score

    v = get_model_version(store, model, version)
    _require_view(store, actor, v.ref)
    _check_task(v)
    t = _threshold(threshold)
    frame = data if isinstance(data, pd.DataFrame) else read_table(data)
    if target not in frame.columns:
        raise InvalidInput(f"The data has no target column {target!r}.")
    missing = [c for c in v.feature_names if c not in frame.columns]
    if missing:
        raise InvalidInput(f"The data lacks {v.ref}'s inputs {', '.join(missing[:5])}.")
    settings = get_settings(store, model)
    attrs = resolve_attributes(settings, sensitive)
    extra = attributes if isinstance(attributes, pd.DataFrame) else (
        read_table(attributes) if attributes is not None else attribute_frame(store, settings))
    idc = id_column or (settings.id_column if settings else None)
    frame = _join_attributes(frame, attrs, extra, idc, "The data")
    _, est = load_model(store, model, v.version)
    s = score(est, v.task, frame[v.feature_names])
    rows = pd.DataFrame({"score": np.asarray(s, dtype=float), "label": _label(v, frame[target]),
                         **{a.column: frame[a.column].to_numpy() for a in attrs}})
    return measure(v, rows, attrs, threshold=t, settings=settings, bootstrap=bootstrap, seed=seed, source="data")


def holdout_rows(store, v: ModelVersion, columns: list[str]) -> pd.DataFrame:
    """A version's kept hold-out scores beside its hold-out outcomes and the `columns` asked for."""
    from ..monitoring import holdout_scores
    from ..registry.datasets import get_dataset_by_id, load_frame

    if v.test_dataset_id is None:
        raise NotFound(f"{v.ref} has no hold-out data; measure it on a file: 'modelgov fairness {v.ref} --data FILE "
                       f"--target {v.target}'.")
    with store.read() as con:
        ds = get_dataset_by_id(con, v.test_dataset_id)
    path = holdout_scores.path(store, v, ds)
    if not path.exists():
        holdout_scores.compute(store, v, ds)
    scores = pd.read_parquet(path, columns=["score"])["score"]
    test = load_frame(store, ds)
    return pd.DataFrame({"score": scores.to_numpy(dtype=float), "label": _label(v, test[v.target]),
                         **{c: test[c].to_numpy() for c in dict.fromkeys(columns) if c in test.columns}}), test


def fairness_on_holdout(store, actor: Identity | None, model: str, version: int | None = None, *,
                        sensitive: list[str] | str | None = None, threshold: float | None = None,
                        bootstrap: int = metrics.DEFAULT_BOOTSTRAP, seed: int = 0) -> dict[str, Any]:
    """Per-group fairness of a version on its registered hold-out data (the rows every version of the model was
    tested on, so champion and challenger are measured on the same rows). Needs `view`. Raises InvalidInput,
    NotFound, Forbidden."""
    v = get_model_version(store, model, version)
    _require_view(store, actor, v.ref)
    return holdout_report(store, v, sensitive=sensitive, threshold=threshold, bootstrap=bootstrap, seed=seed)


def holdout_report(store, v: ModelVersion, *, sensitive=None, threshold=None,
                   bootstrap: int = metrics.DEFAULT_BOOTSTRAP, seed: int = 0) -> dict[str, Any]:
    """`fairness_on_holdout` without the permission check, for callers that checked it (the evidence pack)."""
    _check_task(v)
    t = _threshold(threshold)
    settings = get_settings(store, v.model)
    attrs = resolve_attributes(settings, sensitive)
    rows, test = holdout_rows(store, v, [a.column for a in attrs])
    if any(a.column not in rows.columns for a in attrs):
        idc = settings.id_column if settings else None
        joined = _join_attributes(test.assign(score=rows["score"].to_numpy(), label=rows["label"].to_numpy()),
                                  attrs, attribute_frame(store, settings), idc, f"{v.ref}'s hold-out data")
        rows = joined[["score", "label", *dict.fromkeys(a.column for a in attrs)]]
    return measure(v, rows, attrs, threshold=t, settings=settings, bootstrap=bootstrap, seed=seed, source="holdout")


def production_rows(store, v: ModelVersion, attrs: list[Attribute], settings: FairnessSettings | None, *,
                    environment: str, since: datetime | None, until: datetime | None) -> pd.DataFrame:
    """Logged rows of the version in the window, with outcomes where they arrived and each attribute's column
    (logged inputs, or the card's attribute file joined by request id)."""
    from ..monitoring.logs import scored_rows

    logged = [a.column for a in attrs if a.column in v.feature_names]
    rows = scored_rows(store, v.model, v.version, environment=environment, since=since, until=until, columns=logged)
    if any(a.column not in rows.columns for a in attrs):
        extra = attribute_frame(store, settings)
        if extra is not None and settings.id_column:
            extra = extra.rename(columns={settings.id_column: "request_id"})
        rows = _join_attributes(rows, attrs, extra, "request_id", f"{v.ref}'s logged predictions")
    return rows


def _production(store, actor: Identity | None, model: str, version: int | None, environment: str, sensitive,
                threshold, until: datetime | None):
    """What both production reports start from: the version (without one, the live champion in `environment`,
    else the latest), checked for `view` and its task, the threshold, the card's settings, the attributes and the
    logged rows (NotFound when there are none)."""
    if version is None:
        from ..governance.live import champion

        live = champion(store, model, environment)
        version = None if live is None else live.version
    v = get_model_version(store, model, version)
    _require_view(store, actor, v.ref)
    _check_task(v)
    t = _threshold(threshold)
    settings = get_settings(store, model)
    attrs = resolve_attributes(settings, sensitive)
    rows = production_rows(store, v, attrs, settings, environment=environment, since=None, until=until)
    if rows.empty:
        raise NotFound(f"{v.ref} has no logged predictions in {environment}.")
    return v, t, settings, attrs, rows


def fairness_in_production(store, actor: Identity | None, model: str, version: int | None = None, *,
                           environment: str = "production", days: int | None = 30, until: datetime | None = None,
                           sensitive: list[str] | str | None = None, threshold: float | None = None,
                           bootstrap: int = metrics.DEFAULT_BOOTSTRAP, seed: int = 0) -> dict[str, Any]:
    """Per-group fairness on the version's logged traffic of the last `days` days (up to its latest prediction):
    selection rates on every row, outcome rates on the rows whose outcome arrived. Without `version`, the live
    champion in `environment` (else the latest version). Needs `view`. Raises InvalidInput, NotFound (nothing
    logged), Forbidden."""
    v, t, settings, attrs, rows = _production(store, actor, model, version, environment, sensitive, threshold, until)
    if days is not None:
        last = pd.Timestamp(rows["ts"].max())
        rows = rows[rows["ts"] > last - pd.Timedelta(days=days)]
    report = measure(v, rows, attrs, threshold=t, settings=settings, bootstrap=bootstrap, seed=seed,
                     source=f"{environment} traffic")
    report.update(environment=environment, since=str(rows["ts"].min()), until=str(rows["ts"].max()))
    return report


def fairness_over_time(store, actor: Identity | None, model: str, version: int | None = None, *,
                       environment: str = "production", window: str = "week",
                       sensitive: list[str] | str | None = None, threshold: float | None = None) -> pd.DataFrame:
    """Selection rate (with its 95% interval), demographic-parity ratio and outcome rate per group and window of
    the version's logged traffic: window, attribute, group, n, selection_rate, ci_low, ci_high, observed_rate,
    demographic_parity_ratio, small. Without `version`, the live champion in `environment` (else the latest
    version), as fairness_in_production. Needs `view`. Raises InvalidInput, NotFound, Forbidden."""
    if window not in ("day", "week"):
        raise InvalidInput(f"The window is day or week; got {window!r}.")
    v, t, settings, attrs, rows = _production(store, actor, model, version, environment, sensitive, threshold, None)
    starts = pd.to_datetime(rows["ts"]).dt.floor("D")
    if window == "week":
        starts = starts - pd.to_timedelta(starts.dt.day_of_week, unit="D")
    out = []
    for start, part in rows.groupby(starts.to_numpy()):
        rep = measure(v, part, attrs, threshold=t, settings=settings, bootstrap=100, seed=0)
        for a in rep["attributes"]:
            for g in a["groups"]:
                ci = (g.get("ci") or {}).get("selection_rate" if v.task != "regression" else "mean_prediction")
                out.append({"window": pd.Timestamp(start), "attribute": a["attribute"], "group": g["group"],
                            "n": g["n"], "value": g.get("selection_rate", g.get("mean_prediction")),
                            "ci_low": ci[0] if ci else None, "ci_high": ci[1] if ci else None,
                            "observed_rate": g.get("observed_rate"), "small": g["small"],
                            "demographic_parity_ratio": a["demographic_parity_ratio"]})
    return pd.DataFrame(out)
