"""Prediction logs in: typed Parquet files per model version (core.datafiles), rows that do not fit rejected with a
reason.

Files are read by DuckDB directly; a row that does not fit the version's signature is rejected and
counted with its reason (kept in `ingest_rejections` with its row number), never dropped or coerced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from ..audit import canonical_json, record, utcnow
from ..errors import InvalidInput, NotFound
from ..events import PredictionsLogged, PredictionsScored
from ..governance import live as governance_live
from ..identity import Identity, allowed, require
from ..registry import artifacts
from ..registry.catalog import get_model_tx
from ..registry.records import ModelVersion
from ..registry.versions import get_model_version, score
from .. import datafiles
from ..sql import file_relation, literal, quote, read_error, utc_timestamp
from . import predictions_file, scored as scored_columns
from .scored import MULTICLASS, PROBABILITIES_SQL
from ..vocabulary import validate_environment

SQL_TYPES = {"integer": "BIGINT", "float": "DOUBLE", "boolean": "BOOLEAN", "string": "VARCHAR",
             "datetime": "TIMESTAMP"}


MAX_REJECTIONS_KEPT = 1000


LOG_TABLE = "new_logs"  # the rows an ingest logs, in the data connection, before they are written as files


def create_log_table(dcon, v: ModelVersion, name: str = LOG_TABLE) -> str:
    """A temporary table of the data connection with the columns of `v`'s log files (core.datafiles): what each
    file of the version holds, in this order, whichever ingest wrote it."""
    cols = ", ".join(f"{quote(c['name'])} {SQL_TYPES.get(c['type'], 'VARCHAR')}" for c in v.signature)
    dcon.execute(f"""CREATE OR REPLACE TEMP TABLE {name} (request_id VARCHAR NOT NULL, ts TIMESTAMP NOT NULL,
                    environment VARCHAR, deployment_id INTEGER, role VARCHAR NOT NULL, score DOUBLE, prediction DOUBLE,
                    ingest_id INTEGER NOT NULL, {cols}{PROBABILITIES_SQL if v.task == MULTICLASS else ''})""")
    return name


def log_files(store, v: ModelVersion) -> list[str]:
    with store.read() as con:
        return log_files_tx(con, v)


def log_files_tx(con, v: ModelVersion) -> list[str]:
    """The version's catalogued log files (relative to the data location); [] when nothing was logged for it yet."""
    return datafiles.prediction_files_tx(con, v.id)


def require_first(store, actor: Identity, action: str, event, entity: str) -> None:
    """Refuse before any file is read; the refusal is audited (in a transaction of its own). The action's own
    transaction checks again."""
    if not allowed(actor, action):
        with store.transaction():
            require(actor, action, event, entity)


@dataclass
class Ingested:
    ingest_id: int
    rows_in: int
    rows_ok: int
    rows_rejected: int
    reasons: dict[str, int]
    output: str | None = None
    # The monitoring snapshots refreshed after the ingest committed: {version, environment, window, ok, seconds,
    # error?} each (a failed one never fails the ingest; the page computes it on its next visit).
    snapshots: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"ingest_id": self.ingest_id, "rows": self.rows_in, "logged": self.rows_ok,
                "rejected": self.rows_rejected, "reasons": self.reasons, "output": self.output,
                "snapshots": self.snapshots}


def _refresh_snapshots(store, actor: Identity, model: str, targets: list[tuple[int, str | None]] | None
                       ) -> list[dict[str, Any]]:
    """After an ingest commits: refresh the monitoring snapshots it made stale (`monitoring.snapshots`); never
    raises. `targets` None means every (version, environment) with logs: what outcomes can change. Rows logged
    without an environment are in no environment's review, so they refresh nothing."""
    from . import snapshots  # snapshots builds on the reports, which build on this module

    return snapshots.refresh_after_ingest(store, actor, model, targets)


def _unreadable(source: str, e: Exception) -> InvalidInput:
    return InvalidInput(f"The file {_file_name(source)} could not be read as CSV or Parquet ({read_error(e)}); "
                        "nothing was logged.")


def _file_name(source: str) -> str:
    """The path inside `read_csv('…')` / `read_parquet('…')`, for messages."""
    start, end = source.find("'"), source.rfind("'")
    return source[start + 1:end].replace("''", "'") if 0 <= start < end else source


def _file_errors(fn):
    """A file DuckDB cannot read, found by any statement of `fn` (the whole change rolled back), is InvalidInput."""
    import functools

    @functools.wraps(fn)
    def wrapper(store, actor, *args, **kwargs):
        try:
            return fn(store, actor, *args, **kwargs)
        except duckdb.InvalidInputException as e:
            source = kwargs.get("source", next((a for a in args if isinstance(a, (str, Path)) and
                                                Path(a).suffix.lower() in (".csv", ".parquet")), "the file"))
            raise _unreadable(f"'{source}'", e) from None

    return wrapper


def _describe(con, source: str) -> list[tuple[str, str]]:
    """(column, DuckDB type) of a file relation; a file DuckDB cannot read is one InvalidInput sentence."""
    rows = _read(con, f"DESCRIBE SELECT * FROM {source}", source).fetchall()
    return [(r[0], r[1]) for r in rows]


def _read(con, sql: str, source: str):
    """Run a statement that reads `source`: a garbage, truncated, ragged or empty file is InvalidInput."""
    try:
        return con.execute(sql)
    except (duckdb.InvalidInputException, duckdb.IOException, duckdb.ConversionException) as e:
        raise _unreadable(source, e) from None


_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER")


def _integer_cast(name: str, source_type: str) -> str:
    """SQL that reads column `name` as BIGINT, or NULL when the value is not a whole number that fits.

    Digits are cast exactly (no detour through DOUBLE that would round 2**53 + 1); `3.0` and `3e2` are whole
    numbers and pass, `3.5`, `nan`, `inf`, `1e400` and 1e19 (beyond BIGINT) do not.
    """
    if source_type in _INTEGER_TYPES:
        return f"CAST({name} AS BIGINT)"
    text = f"trim(CAST({name} AS VARCHAR))"
    number = f"TRY_CAST({text} AS DOUBLE)"
    return (f"CASE WHEN regexp_full_match({text}, '[+-]?[0-9]+') THEN TRY_CAST({text} AS BIGINT) "
            f"WHEN isfinite({number}) AND {number} = round({number}) THEN TRY_CAST({number} AS BIGINT) END")


def _not_finite(name: str) -> str:
    """True when the value reads as a number but as NaN or an infinity (`1e400` overflows to one)."""
    text = f"lower(trim(CAST({name} AS VARCHAR)))"
    return (f"(isnan(TRY_CAST({name} AS DOUBLE)) OR isinf(TRY_CAST({name} AS DOUBLE)) "
            f"OR (TRY_CAST({name} AS DOUBLE) IS NULL AND regexp_full_match({text}, "
            f"'[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)e[+-]?[0-9]+')))")


def _stage(con, v: ModelVersion, source: str, time_column: str | None, id_column: str | None,
           extra: dict[str, str], text: dict[str, str] | None = None) -> tuple[int, dict[str, int]]:
    """Read `source` into a temp table `staged` with typed columns and a `reject` reason per row.

    A value that does not fit its input's type is a rejection with its reason, never a coercion: NaN and the
    infinities are refused in integer and float inputs alike (an empty cell is the way to say "missing"), since a
    NaN in a DOUBLE column poisons every average and quantile SQL computes over the log afterwards.
    """
    con.execute("SET TimeZone = 'UTC'")  # offsets are converted to UTC; naive times are read as UTC
    types = dict(_describe(con, source))
    cols = set(types)
    missing = [c for c in v.feature_names if c not in cols]
    if missing:
        raise InvalidInput(f"The file lacks {len(missing)} input column(s) of {v.ref}: {', '.join(missing[:8])}"
                           f"{'…' if len(missing) > 8 else ''}; every row needs every input.")
    for label, col in (("time", time_column), ("id", id_column), *extra.items()):
        if col and col not in cols:
            raise InvalidInput(f"The file has no {label} column {col!r}; its columns are {', '.join(sorted(cols)[:12])}.")
    typed, checks = [], []
    for c in v.signature:
        sql_type = SQL_TYPES.get(c["type"], "VARCHAR")
        name = quote(c["name"])
        if sql_type == "BIGINT":  # integers written as 3.0 are fine; 3.5 is not
            cast = _integer_cast(name, types[c["name"]])
        elif sql_type == "TIMESTAMP":
            cast = utc_timestamp(name)
        else:
            cast = f"TRY_CAST({name} AS {sql_type})"
        typed.append(f"{cast} AS {name}")
        present = f"{name} IS NOT NULL AND trim(CAST({name} AS VARCHAR)) <> ''"
        if sql_type in ("BIGINT", "DOUBLE"):
            checks.append(f"WHEN {present} AND {_not_finite(name)} "
                          f"THEN {literal(c['name'] + ': not a finite number (NaN or infinite); leave it empty if missing')}")
        checks.append(f"WHEN {present} AND {cast} IS NULL "
                      f"THEN {literal(c['name'] + ': not ' + ('an ' if c['type'] == 'integer' else 'a ') + c['type'])}")
    if time_column:
        t = utc_timestamp(quote(time_column))
        typed.append(f"{t} AS __ts")
        checks.insert(0, f"WHEN {quote(time_column)} IS NULL OR {t} IS NULL THEN {literal(time_column + ': not a date-time')}")
    else:
        typed.append("CAST(now() AS TIMESTAMP) AS __ts")
    if id_column:
        typed.append(f"CAST({quote(id_column)} AS VARCHAR) AS __id")
        checks.insert(0, f"WHEN {quote(id_column)} IS NULL THEN {literal(id_column + ': missing request id')}")
    else:
        typed.append("CAST(uuid() AS VARCHAR) AS __id")
    for alias, col in (text or {}).items():  # kept as text, checked by the caller
        typed.append(f"nullif(trim(CAST({quote(col)} AS VARCHAR)), '') AS {alias}")
    for alias, col in extra.items():
        typed.append(f"CASE WHEN isfinite(TRY_CAST({quote(col)} AS DOUBLE)) THEN TRY_CAST({quote(col)} AS DOUBLE) END"
                     f" AS {alias}")
        checks.append(f"WHEN {quote(col)} IS NOT NULL AND trim(CAST({quote(col)} AS VARCHAR)) <> '' AND "
                      f"NOT coalesce(isfinite(TRY_CAST({quote(col)} AS DOUBLE)), false) "
                      f"THEN {literal(col + ': not a finite number')}")
    reason = "CASE " + " ".join(checks) + " END" if checks else "NULL"
    _read(con, f"""CREATE OR REPLACE TEMP TABLE staged AS
        SELECT row_number() OVER () AS __row, {reason} AS __reject, {', '.join(typed)} FROM {source}""", source)
    reasons = dict(con.execute("SELECT __reject, count(*) FROM staged WHERE __reject IS NOT NULL GROUP BY 1 "
                               "ORDER BY 2 DESC").fetchall())
    n = con.execute("SELECT count(*) FROM staged").fetchall()[0][0]
    if id_column:
        dup = con.execute("SELECT count(*) - count(DISTINCT __id) FROM staged WHERE __reject IS NULL").fetchall()[0][0]
        if dup:
            con.execute("""UPDATE staged SET __reject = 'request id repeated in the file' WHERE __row IN (
                SELECT __row FROM (SELECT __row, row_number() OVER (PARTITION BY __id ORDER BY __row) AS k
                FROM staged WHERE __reject IS NULL) WHERE k > 1)""")
            reasons["request id repeated in the file"] = int(dup)
    return int(n), {str(k): int(c) for k, c in reasons.items()}


def _record_run(con, dcon, actor: Identity, model_id: int, kind: str, source: str, n: int, reasons: dict) -> int:
    """The ingest run and its first rejections (read from `staged` in the data connection `dcon`), in the
    metadata transaction `con`."""
    rejected = sum(reasons.values())
    iid = con.execute("INSERT INTO ingest_runs (model_id, kind, source, rows_in, rows_ok, rows_rejected, reasons,"
                      " created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                      [model_id, kind, source, n, n - rejected, rejected, canonical_json(reasons), utcnow(),
                       actor.email]).fetchall()[0][0]
    kept = dcon.execute("SELECT __row, __reject FROM staged WHERE __reject IS NOT NULL ORDER BY __row LIMIT ?",
                        [MAX_REJECTIONS_KEPT]).fetchall() if rejected else []
    for start in range(0, len(kept), 250):  # a few statements of many rows: portable, and not one per row
        chunk = kept[start:start + 250]
        con.execute("INSERT INTO ingest_rejections (ingest_id, row_number, reason) VALUES "
                    + ", ".join(["(?, ?, ?)"] * len(chunk)), [x for row, why in chunk for x in (iid, row, why)])
    return iid


def _write_logs(store, con, dcon, v: ModelVersion, model_id: int, iid: int, environment: str | None,
                written: list) -> None:
    """Write the rows of `new_logs` as the version's files and catalogue them in the metadata transaction `con`."""
    files = datafiles.write_days(store, dcon, LOG_TABLE, kind=datafiles.PREDICTIONS, model_id=model_id,
                                 version=v.version, ingest_id=iid, time_column="ts", environment=environment,
                                 written=written)
    datafiles.catalogue_tx(con, files, utcnow())


def _insert_logs(con, v: ModelVersion, name: str, iid: int, env: str | None, dep_id: int | None, role: str,
                 score_sql: str, prediction_sql: str, where: str = "__reject IS NULL",
                 probabilities_sql: str | None = None) -> None:
    feats = ", ".join(quote(f) for f in v.feature_names)
    proba_col = ", probabilities" if v.task == MULTICLASS else ""
    proba_val = f", {probabilities_sql or 'NULL'}" if v.task == MULTICLASS else ""
    con.execute(f"""INSERT INTO {name} (request_id, ts, environment, deployment_id, role, score, prediction,
                    ingest_id, {feats}{proba_col})
                    SELECT __id, __ts, {literal(env) if env else 'NULL'}, {dep_id if dep_id else 'NULL'}, {literal(role)},
                           {score_sql}, {prediction_sql}, {iid}, {feats}{proba_val} FROM staged WHERE {where}""")


@_file_errors
def log_predictions(store, actor: Identity, model: str, version: int | None, source: str | Path, *,
                    time_column: str | None = None, id_column: str | None = None, score_column: str | None = "score",
                    prediction_column: str | None = "prediction", environment: str | None = None,
                    refresh_snapshots: bool = True, source_name: str | None = None) -> Ingested:
    """Log predictions made elsewhere (features, and a score column when present); then refresh the version's
    monitoring snapshot in `environment` (unless `refresh_snapshots` is False); `source_name` replaces the path
    kept (an API upload: `upload:<name>`).

    Multiclass: the predicted class from `prediction_column` when the file has it (the class as text or number,
    "barolo" or 2; a value that is none of the version's classes is a rejection) and every class's probability from
    `probability_<class>` columns when the file has all of them (as `score` writes them): the predicted class is then
    their argmax when no prediction column is given, and the score the predicted class's probability when no score
    column is. Without probabilities there is no performance over time; without a class, no drift of the predicted
    class."""
    v = get_model_version(store, model, version)
    rel, named = file_relation(source), source_name or str(source)  # an API upload: `upload:<name>`
    require_first(store, actor, "log-predictions", PredictionsLogged, v.ref)
    written: list[datafiles.DataFile] = []  # the files written, deleted unless their catalogue rows commit
    # The file is read and checked in the data connection, the rows written as the version's files, and the ingest
    # run, the files' catalogue rows and the audit event committed together in the metadata store (held only for
    # that last part).
    with store.data() as dcon:
        names = {c for c, _t in _describe(dcon, rel)}
        has_score = score_column and score_column in names
        extra = {"__score": score_column} if has_score else {}
        multi = v.task == MULTICLASS
        probability_columns = [f"probability_{c}" for c in v.classes or []] if multi else []
        has_probabilities = bool(probability_columns) and all(c in names for c in probability_columns)
        if has_probabilities:
            extra.update({f"__pr_{k}": c for k, c in enumerate(probability_columns)})
        has_prediction = multi and prediction_column and prediction_column in names
        n, reasons = _stage(dcon, v, rel, time_column, id_column, extra,
                            {"__pred": prediction_column} if has_prediction else None)
        if n == 0:
            raise InvalidInput(f"{Path(source).name} has no rows.")
        score_sql, prediction_sql, probabilities_sql = "__score" if has_score else "NULL", "NULL", None
        if multi:
            score_sql, prediction_sql, probabilities_sql = scored_columns.stage_logged_classes(
                dcon, v, reasons, has_score, has_prediction, prediction_column, has_probabilities)
        # The metadata store is held from here on only: the ingest run, the files and the audit event commit together.
        with datafiles.removed_on_error(store, written), store.transaction() as con:
            require(actor, "log-predictions", PredictionsLogged, v.ref)
            model_id = get_model_tx(con, v.model).id
            iid = _record_run(con, dcon, actor, model_id, "log-predictions", named, n, reasons)
            _insert_logs(dcon, v, create_log_table(dcon, v), iid, environment, None, "logged", score_sql,
                         prediction_sql, probabilities_sql=probabilities_sql)
            _write_logs(store, con, dcon, v, model_id, iid, environment, written)
            _record_audit(con, actor, PredictionsLogged, v, n, reasons, named)
    snaps = _refresh_snapshots(store, actor, v.model, [(v.version, environment)]) if refresh_snapshots else []
    return Ingested(iid, n, n - sum(reasons.values()), sum(reasons.values()), reasons, snapshots=snaps)


def _record_audit(con, actor, event: type[PredictionsLogged], v, n, reasons, source):
    record(con, actor, event(v.ref, v.model, v.version, source, n, sum(reasons.values()), reasons))


@_file_errors
def score_file(store, actor: Identity, model: str, version: int | None, source: str | Path, *,
               environment: str = "production", output: str | Path | None = None, time_column: str | None = None,
               id_column: str | None = None, batch_rows: int = 200_000, refresh_snapshots: bool = True,
               source_name: str | None = None, max_output_bytes: int | None = None) -> Ingested:
    """Score a file with the environment's champion (and every challenger in shadow, same request ids), write the
    predictions out and log every row. With an explicit version, that version alone scores. Then refresh the
    monitoring snapshots of the versions that scored (unless `refresh_snapshots` is False). A predictions file
    past `max_output_bytes` (what an API answer may carry) is refused and nothing is logged."""

    validate_environment(environment)
    rel = file_relation(source)
    out = Path(output) if output else predictions_file.default_output(source)
    predictions_file.check_output(out)
    if version is None:
        live = governance_live.active(store, model, environment)
        champion = next((d for d in live if d.role == "champion"), None)
        if champion is None:
            raise NotFound(f"{model} has no champion deployed in {environment}; deploy one through an approval, or "
                           f"name a version: 'modelgov score {model}:1 …'.")
        runners = [(get_model_version(store, model, d.version), d.id, d.role) for d in live]
    else:
        runners = [(get_model_version(store, model, version), None, "direct")]
    head = runners[0][0]
    for v, _d, _r in runners[1:]:
        if set(v.feature_names) - set(head.feature_names):
            raise InvalidInput(f"Challenger {v.ref} needs inputs the champion {head.ref} does not have; score it "
                               "with its own file.")
    estimators = [artifacts.load(store.artifacts_dir, v.sha256, v.ref) for v, _d, _r in runners]
    require_first(store, actor, "log-predictions", PredictionsScored, head.ref)
    written: list[Path] = []  # the predictions file written before the commit, removed if it does not commit
    logged: list[datafiles.DataFile] = []  # the log files written, deleted unless their catalogue rows commit
    with predictions_file.removed_on_error(written), store.data() as dcon:
        n, reasons = _stage(dcon, head, rel, time_column, id_column, {})
        if n == 0:
            raise InvalidInput(f"{Path(source).name} has no rows.")
        feats = head.feature_names
        out_frames = []
        total = dcon.execute("SELECT count(*) FROM staged WHERE __reject IS NULL").fetchall()[0][0]
        for start in range(0, total, batch_rows):
            batch = dcon.execute(f"SELECT __row, __id, {', '.join(quote(f) for f in feats)} FROM staged WHERE __reject IS NULL"
                                 f" ORDER BY __row LIMIT {batch_rows} OFFSET {start}").df()
            X = batch[feats].copy()
            for c in head.signature:  # nullable integers from DuckDB → floats (NaN) that scikit-learn accepts
                if c["type"] in ("integer", "float") and X[c["name"]].isna().any():
                    X[c["name"]] = X[c["name"]].astype("float64")
            result = pd.DataFrame({"__row": batch["__row"], "request_id": batch["__id"]})
            for (v, dep_id, role), est in zip(runners, estimators):
                try:
                    s = score(est, v.task, X)
                except ValueError as e:
                    raise InvalidInput(f"{v.ref} cannot score these rows ({str(e).splitlines()[0]}); fill the missing "
                                       "inputs or log them with 'modelgov log-predictions' instead.") from None
                shown, internal = scored_columns.columns(v, s, f"_v{v.version}" if len(runners) > 1 else "")
                for col, values in {**shown, **internal}.items():
                    result[col] = values
            out_frames.append(result)
        scored = pd.concat(out_frames, ignore_index=True) if out_frames else pd.DataFrame(columns=["__row"])
        dcon.register("scored_rows", scored)
        probabilities: dict[int, str | None] = {}
        for v, _d, _r in runners:
            dcon.execute(f"ALTER TABLE staged ADD COLUMN __s{v.version} DOUBLE")
            dcon.execute(f"ALTER TABLE staged ADD COLUMN __p{v.version} DOUBLE")
            dcon.execute(f"UPDATE staged SET __s{v.version} = r.__s{v.version}, __p{v.version} = r.__p{v.version} "
                         f"FROM scored_rows r WHERE staged.__row = r.__row")
            probabilities[v.version] = scored_columns.stage_probabilities(dcon, v, "scored_rows")
        dcon.unregister("scored_rows")
        with datafiles.removed_on_error(store, logged), store.transaction() as con:
            require(actor, "log-predictions", PredictionsScored, head.ref)
            model_id = get_model_tx(con, model).id
            iid = _record_run(con, dcon, actor, model_id, "score", source_name or str(source), n, reasons)
            for v, dep_id, role in runners:
                _insert_logs(dcon, v, create_log_table(dcon, v), iid, environment, dep_id, role, f"__s{v.version}",
                             f"__p{v.version}", probabilities_sql=probabilities[v.version])
                _write_logs(store, con, dcon, v, model_id, iid, environment, logged)
            _record_audit(con, actor, PredictionsScored, head, n, reasons, source_name or str(source))
            # Written before the commit (beside the target, renamed after it): a file that cannot be written rolls
            # the logged rows back instead of leaving them logged with no predictions handed out.
            written.append(predictions_file.write_output(
                scored[[c for c in scored.columns if not c.startswith("__")]], out, max_output_bytes))
    predictions_file.move_into_place(written[0], out, iid)
    snaps = (_refresh_snapshots(store, actor, head.model, [(v.version, environment) for v, _d, _r in runners])
             if refresh_snapshots else [])
    return Ingested(iid, n, n - sum(reasons.values()), sum(reasons.values()), reasons, str(out), snaps)


# Outcomes live in their own module (below 450 lines each); `ingest.log_outcomes` stays where callers find it.
from .outcomes import log_outcomes  # noqa: E402,F401  (outcomes imports this module's helpers)
