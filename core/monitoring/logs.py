"""Reading the prediction logs: samples for pictures, recent rows, shadow pairs, what is logged.

Which files to read comes from the metadata store (`store.read()`: the catalogue, core.datafiles); the files are then
read in the data connection (`store.data()`), never in the metadata one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from ..errors import InvalidInput, NotFound
from ..registry.catalog import get_model_tx
from ..registry.datasets import get_dataset_by_id, stored_file
from ..registry.records import ModelVersion
from ..registry.versions import get_model_version, get_model_version_tx
from ..engine import DUCKDB, dialect_of
from ..sql import literal, quote
from .. import datafiles
from .ingest import log_files, log_files_tx


def scope_sql(environment: str | None, since: datetime | None, until: datetime | None, dialect=None) -> str:
    """The WHERE condition of an environment and a time span; `dialect` (core/engine.py) spells its literals."""
    literal = (dialect or DUCKDB).literal
    parts = []
    if environment:
        parts.append(f"environment = {literal(environment)}")
    if since:
        parts.append(f"ts >= TIMESTAMP {literal(since.isoformat(sep=' '))}")
    if until:
        parts.append(f"ts < TIMESTAMP {literal(until.isoformat(sep=' '))}")
    return " AND ".join(parts) or "TRUE"


def column_values(store, model: str, version: int, column: str, environment: str | None = "production",
                  limit: int = 50_000) -> tuple[pd.Series, pd.Series]:
    """A sample (at most `limit` rows each) of one input in the training reference and in the logs, for pictures."""
    with store.read() as con:  # one connection: opening the store costs more than these reads
        v = get_model_version_tx(con, model, version)
        if column not in v.feature_names:
            raise InvalidInput(f"{v.ref} has no input {column!r}.")
        files = log_files_tx(con, v)
        if not files:
            raise NotFound(f"{v.ref} has no logged predictions yet.")
        reference = reference_relation_tx(con, store, v)
    with store.data() as dcon:
        ref = dcon.execute(f"SELECT {quote(column)} FROM {reference} USING SAMPLE {limit} ROWS").df()
        cur = dcon.execute(f"SELECT {quote(column)} FROM {datafiles.relation(store, files)} "
                           f"WHERE {scope_sql(environment, None, None)} USING SAMPLE {limit} ROWS").df()
    return ref[column], cur[column]


def recent_rows(store, model: str, version: int, *, days: int = 7, environment: str | None = "production",
                limit: int = 5000) -> pd.DataFrame:
    """A seeded sample of the inputs logged in the last `days` days (for explaining production traffic)."""
    v = get_model_version(store, model, version)
    files = log_files(store, v)
    if not files:
        raise NotFound(f"{v.ref} has no logged predictions yet; score or log some first.")
    feats = ", ".join(quote(f) for f in v.feature_names)
    with store.data() as dcon:
        logs = datafiles.relation(store, files)
        last = dcon.execute(f"SELECT max(ts) FROM {logs} WHERE {scope_sql(environment, None, None)}").fetchall()[0][0]
        if last is None:
            raise NotFound(f"{v.ref} has no logged predictions in {environment}.")
        scope = scope_sql(environment, last - timedelta(days=days), None)
        frame = dcon.execute(f"SELECT {feats} FROM {logs} WHERE {scope} ORDER BY request_id").df()
    return frame.sample(n=min(limit, len(frame)), random_state=0).sort_index() if len(frame) > limit else frame


def outcome_sql(v: ModelVersion, o: str = "o", dialect=None) -> str:
    """SQL for the number an outcome (row alias `o` of `outcomes`) means to a binary or regression version: its
    number, or for a binary classifier trained on text classes ("no"/"yes") 0 or 1 by its text; NULL otherwise."""
    literal = (dialect or DUCKDB).literal
    whens = " ".join(f"WHEN {o}.label_text = {literal(str(c).strip())} THEN {float(i)!r}"
                     for i, c in enumerate(v.classes or []) if v.task == "binary_classification" and isinstance(c, str))
    return f"(CASE WHEN {o}.label IS NOT NULL THEN {o}.label {whens} END)"


def shadow_pairs(store, model: str, champion_version: int, challenger_version: int, environment: str,
                 since: datetime | None) -> pd.DataFrame:
    """Rows scored by both versions (same request id) whose outcome arrived: label, champion_score, challenger_score."""
    a, b = get_model_version(store, model, champion_version), get_model_version(store, model, challenger_version)
    with store.read() as con:
        fa, fb = log_files_tx(con, a), log_files_tx(con, b)
        outcomes = datafiles.outcome_files_tx(con, get_model_tx(con, model).id)
    if not fa or not fb:
        return pd.DataFrame(columns=["label", "champion_score", "challenger_score"])
    # Multiclass: `score` is the predicted class's probability; the comparison needs every class's probability.
    multi = a.task == b.task == "multiclass_classification"
    col = "probabilities" if multi else "score"
    # Multiclass: the outcome as text ("barolo", or "1.0" for class 1), which registry.versions.class_index matches
    # to a class; otherwise the number it means (outcome_sql).
    label = "coalesce(o.label_text, CAST(o.label AS VARCHAR))" if multi else outcome_sql(a)
    scope = scope_sql(environment, since, None)
    with store.data() as dcon:
        return dcon.execute(f"""
            SELECT {label} AS label, x.{col} AS champion_score, y.{col} AS challenger_score
            FROM (SELECT request_id, {col} FROM {datafiles.relation(store, fa)} WHERE {scope} AND {col} IS NOT NULL) x
            JOIN (SELECT request_id, {col} FROM {datafiles.relation(store, fb)} WHERE {scope} AND {col} IS NOT NULL) y
                USING (request_id)
            JOIN {datafiles.outcomes_relation(store, outcomes)} o ON o.request_id = x.request_id
            WHERE {label} IS NOT NULL ORDER BY x.request_id""").df()


def scored_rows(store, model: str, version: int, *, environment: str | None = "production",
                since: datetime | None = None, until: datetime | None = None,
                columns: list[str] | tuple[str, ...] = ()) -> pd.DataFrame:
    """The rows a binary or regression version scored in a window, with their outcome where it arrived:
    request_id, ts, score, label (NULL until the outcome arrives), and the logged inputs `columns` (for instance
    the sensitive attributes a model takes as inputs). Empty when nothing was logged. Raises InvalidInput, NotFound."""
    v = get_model_version(store, model, version)
    if v.task == "multiclass_classification":
        raise InvalidInput(f"{v.ref} is a multiclass model; its rows are read per class, not as one score.")
    unknown = [c for c in columns if c not in v.feature_names]
    if unknown:
        raise InvalidInput(f"{v.ref} takes no input {', '.join(map(repr, unknown))}.")
    extra = "".join(f", p.{quote(c)}" for c in dict.fromkeys(columns))
    with store.read() as con:
        files = log_files_tx(con, v)
        outcomes = datafiles.outcome_files_tx(con, get_model_tx(con, model).id)
    if not files:
        return pd.DataFrame(columns=["request_id", "ts", "score", "label", *dict.fromkeys(columns)])
    with store.data() as dcon:
        return dcon.execute(f"""
            SELECT p.request_id, p.ts, p.score, {outcome_sql(v)} AS label{extra}
            FROM {datafiles.relation(store, files)} p
            LEFT JOIN {datafiles.outcomes_relation(store, outcomes)} o ON o.request_id = p.request_id
            WHERE {scope_sql(environment, since, until)}
              AND p.score IS NOT NULL
            ORDER BY p.ts, p.request_id""").df()


def monitored_versions(store, model: str) -> list[dict[str, Any]]:
    """The model's versions with logged predictions: rows, first and last time, environments."""
    with store.read() as con:
        return _monitored_tx(con, get_model_tx(con, model).id)


def monitored_models(store, models: list[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """`monitored_versions` of every model (or of `models`) that has logged predictions, in one connection."""
    with store.read() as con:
        rows = con.execute("SELECT id, name FROM models ORDER BY name").fetchall()
        out = {}
        for model_id, name in rows:
            if models is not None and name not in models:
                continue
            versions = _monitored_tx(con, model_id)
            if versions:
                out[name] = versions
    return out


def _monitored_tx(con, model_id: int) -> list[dict[str, Any]]:
    """From the catalogue of log files alone (no data read): each logged version's rows, first and last time,
    environments."""
    return datafiles.logged_versions_tx(con, model_id)


def reference_relation(store, v: ModelVersion) -> str:
    with store.read() as con:
        return reference_relation_tx(con, store, v)


def reference_relation_tx(con, store, v: ModelVersion) -> str:
    """The version's training data (the drift reference) as a relation DuckDB reads in place."""
    return f"read_parquet({literal(str(reference_file_tx(con, store, v)))})"


def reference_file_tx(con, store, v: ModelVersion):
    """The Parquet file of the version's training data (the drift reference)."""
    if v.train_dataset_id is None:
        raise InvalidInput(f"{v.ref} has no stored training data to serve as the drift reference.")
    return stored_file(store, get_dataset_by_id(con, v.train_dataset_id))


def data_stamp_tx(con, dcon, store, model_id: int, files: list[str], environment: str | None) -> dict[str, Any]:
    """What a monitoring report of the log `files` in `environment` is computed from, in a few figures: the metadata
    part read in `con` (the transaction that listed `files`), the data part in the data connection `dcon`.

    Two equal stamps mean equal reports: the logged rows in scope (count, latest time, latest ingest), the model's
    outcomes (count, latest arrival: a label that changes moves it), its ingestion runs (rejected rows count in the
    report), its drift settings and its model card's caveats. A report is a function of these and of things that
    never change (the version's artifact, training and hold-out data).
    """
    return data_stamp(dcon, store, files, stamp_sources_tx(con, model_id), environment)


def stamp_sources_tx(con, model_id: int) -> dict[str, Any]:
    """The metadata part of a data stamp, and the outcome files its data part reads."""
    runs, config_at, caveats = con.execute(
        """SELECT (SELECT max(id) FROM ingest_runs WHERE model_id = ?),
                  (SELECT CAST(updated_at AS VARCHAR) FROM monitoring_config WHERE model_id = ?),
                  (SELECT md5(caveats) FROM models WHERE id = ?)""", [model_id] * 3).fetchall()[0]
    return {"ingest_run": runs, "config_at": config_at, "caveats": caveats,
            "outcome_files": datafiles.outcome_files_tx(con, model_id)}


def data_stamp(dcon, store, files: list[str], sources: dict[str, Any], environment: str | None) -> dict[str, Any]:
    """`data_stamp_tx` from the metadata part already read (`stamp_sources_tx`), reading the files in `dcon`."""
    d = dialect_of(dcon)
    scope = scope_sql(environment, None, None, d)
    rows, last, ingest_id = dcon.execute(f"SELECT count(*), {d.timestamp_text('max(ts)')}, max(ingest_id) FROM "
                                         f"{datafiles.relation(store, files, dialect=d)} WHERE {scope}"
                                         ).fetchall()[0]
    outcomes, arrived = dcon.execute(
        f"SELECT count(*), {d.timestamp_text('max(arrived_at)')} FROM "
        f"{datafiles.outcomes_relation(store, sources['outcome_files'], dialect=d)}").fetchall()[0]
    return {"log_rows": int(rows), "log_last": last, "log_ingest": ingest_id, "outcome_rows": int(outcomes),
            "outcome_last": arrived, "ingest_run": sources["ingest_run"], "config_at": sources["config_at"],
            "caveats": sources["caveats"]}
