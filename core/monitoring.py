"""Production monitoring: prediction logs, outcomes, drift and performance over time, alerts and health.

Logs live in one typed DuckDB table per model version (`predlog_<model id>_v<version>`: one column per
input, plus request id, time, environment, deployment, role, score, prediction), so statistics run as SQL
over columns. Files are read by DuckDB directly; a row that does not fit the version's signature is
rejected and counted with its reason (and kept in `ingest_rejections` with its row number), never dropped
silently or coerced.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import csvsafe, deployments, drift, lineage
from .audit import AuditEvent, canonical_json, record, utcnow
from .datasets import get_dataset_by_id, stored_file
from .errors import Conflict, InvalidInput, NotFound
from .identity import Identity, require
from .registry import ModelVersion, get_model_tx, get_model_version, score

SQL_TYPES = {"integer": "BIGINT", "float": "DOUBLE", "boolean": "BOOLEAN", "string": "VARCHAR",
             "datetime": "TIMESTAMP"}
MAX_REJECTIONS_KEPT = 1000
RECENT_DAYS = 7
DEFAULT_ALERTS = {"drifted_share": 0.3, "auc_drop": 0.05, "rmse_rise": 0.2, "missing_rate": 0.1,
                  "rejected_share": 0.01, "stale_days": 3}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def table_name(model_id: int, version: int) -> str:
    return f"predlog_{model_id}_v{version}"


def ensure_table_tx(con, v: ModelVersion) -> str:
    """The version's log table, created on first use."""
    row = con.execute("SELECT table_name FROM prediction_tables WHERE version_id = ?", [v.id]).fetchall()
    if row:
        return row[0][0]
    model_id = con.execute("SELECT model_id FROM model_versions WHERE id = ?", [v.id]).fetchall()[0][0]
    name = table_name(model_id, v.version)
    cols = ", ".join(f"{_q(c['name'])} {SQL_TYPES.get(c['type'], 'VARCHAR')}" for c in v.signature)
    con.execute(f"""CREATE TABLE {name} (request_id VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, environment VARCHAR,
                    deployment_id INTEGER, role VARCHAR NOT NULL, score DOUBLE, prediction DOUBLE,
                    ingest_id INTEGER NOT NULL, {cols})""")
    con.execute("INSERT INTO prediction_tables VALUES (?, ?, ?)", [v.id, name, utcnow()])
    return name


def log_table(store, v: ModelVersion) -> str | None:
    with store.read() as con:
        row = con.execute("SELECT table_name FROM prediction_tables WHERE version_id = ?", [v.id]).fetchall()
    return row[0][0] if row else None


# --- reading input files ------------------------------------------------------------------------------

def _relation(path: str | Path) -> str:
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"No file {p}; give a CSV or Parquet file.")
    s = _lit(str(p.resolve()))
    if p.suffix.lower() == ".parquet":
        return f"read_parquet({s})"
    if p.suffix.lower() == ".csv":
        # every column as text first: the signature decides the types, and a misfit is a rejection, not a guess
        return f"read_csv({s}, header=true, all_varchar=true)"
    raise InvalidInput(f"{p.name} is neither CSV nor Parquet; give a .csv or .parquet file.")


@dataclass
class Ingested:
    ingest_id: int
    rows_in: int
    rows_ok: int
    rows_rejected: int
    reasons: dict[str, int]
    output: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"ingest_id": self.ingest_id, "rows": self.rows_in, "logged": self.rows_ok,
                "rejected": self.rows_rejected, "reasons": self.reasons, "output": self.output}


def _stage(con, v: ModelVersion, source: str, time_column: str | None, id_column: str | None,
           extra: dict[str, str]) -> tuple[int, dict[str, int]]:
    """Read `source` into a temp table `staged` with typed columns and a `reject` reason per row."""
    cols = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
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
        name = _q(c["name"])
        if sql_type == "BIGINT":  # integers written as 3.0 are fine; 3.5 is not
            cast = f"CASE WHEN TRY_CAST({name} AS DOUBLE) = round(TRY_CAST({name} AS DOUBLE)) " \
                   f"THEN CAST(TRY_CAST({name} AS DOUBLE) AS BIGINT) END"
        else:
            cast = f"TRY_CAST({name} AS {sql_type})"
        typed.append(f"{cast} AS {name}")
        checks.append(f"WHEN {name} IS NOT NULL AND trim(CAST({name} AS VARCHAR)) <> '' AND {cast} IS NULL "
                      f"THEN {_lit(c['name'] + ': not ' + ('an ' if c['type'] == 'integer' else 'a ') + c['type'])}")
    if time_column:
        t = f"TRY_CAST({_q(time_column)} AS TIMESTAMP)"
        typed.append(f"{t} AS __ts")
        checks.insert(0, f"WHEN {_q(time_column)} IS NULL OR {t} IS NULL THEN {_lit(time_column + ': not a date-time')}")
    else:
        typed.append("CAST(now() AS TIMESTAMP) AS __ts")
    if id_column:
        typed.append(f"CAST({_q(id_column)} AS VARCHAR) AS __id")
        checks.insert(0, f"WHEN {_q(id_column)} IS NULL THEN {_lit(id_column + ': missing request id')}")
    else:
        typed.append("CAST(uuid() AS VARCHAR) AS __id")
    for alias, col in extra.items():
        typed.append(f"TRY_CAST({_q(col)} AS DOUBLE) AS {alias}")
        checks.append(f"WHEN {_q(col)} IS NOT NULL AND TRY_CAST({_q(col)} AS DOUBLE) IS NULL "
                      f"THEN {_lit(col + ': not a number')}")
    reason = "CASE " + " ".join(checks) + " END" if checks else "NULL"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE staged AS
        SELECT row_number() OVER () AS __row, {reason} AS __reject, {', '.join(typed)} FROM {source}""")
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


def _record_run(con, actor: Identity, model_id: int, kind: str, source: str, n: int, reasons: dict) -> int:
    rejected = sum(reasons.values())
    iid = con.execute("INSERT INTO ingest_runs (model_id, kind, source, rows_in, rows_ok, rows_rejected, reasons,"
                      " created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                      [model_id, kind, source, n, n - rejected, rejected, canonical_json(reasons), utcnow(),
                       actor.email]).fetchall()[0][0]
    con.execute(f"INSERT INTO ingest_rejections SELECT {iid}, __row, __reject FROM staged WHERE __reject IS NOT NULL"
                f" ORDER BY __row LIMIT {MAX_REJECTIONS_KEPT}")
    return iid


def _insert_logs(con, v: ModelVersion, name: str, iid: int, env: str | None, dep_id: int | None, role: str,
                 score_sql: str, prediction_sql: str, where: str = "__reject IS NULL") -> None:
    feats = ", ".join(_q(f) for f in v.feature_names)
    con.execute(f"""INSERT INTO {name} (request_id, ts, environment, deployment_id, role, score, prediction,
                    ingest_id, {feats})
                    SELECT __id, __ts, {_lit(env) if env else 'NULL'}, {dep_id if dep_id else 'NULL'}, {_lit(role)},
                           {score_sql}, {prediction_sql}, {iid}, {feats} FROM staged WHERE {where}""")


def log_predictions(store, actor: Identity, model: str, version: int | None, source: str | Path, *,
                    time_column: str | None = None, id_column: str | None = None, score_column: str | None = "score",
                    environment: str | None = None) -> Ingested:
    """Log predictions made elsewhere (features, and a score column when present)."""
    v = get_model_version(store, model, version)
    rel = _relation(source)
    with store.transaction() as con:
        require(actor, "log-predictions", "model_version", v.ref)
        has_score = score_column and score_column in {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()}
        n, reasons = _stage(con, v, rel, time_column, id_column, {"__score": score_column} if has_score else {})
        if n == 0:
            raise InvalidInput(f"{Path(source).name} has no rows.")
        name = ensure_table_tx(con, v)
        iid = _record_run(con, actor, get_model_tx(con, v.model).id, "log-predictions", str(source), n, reasons)
        _insert_logs(con, v, name, iid, environment, None, "logged", "__score" if has_score else "NULL", "NULL")
        _record_audit(con, actor, "predictions.log", v, n, reasons, str(source))
    return Ingested(iid, n, n - sum(reasons.values()), sum(reasons.values()), reasons)


def _record_audit(con, actor, action, v, n, reasons, source):
    record(con, actor, AuditEvent(action, "model_version", v.ref, {
        "model": v.model, "version": v.version, "source": source, "rows": n, "rejected": sum(reasons.values()),
        "reasons": reasons}))


def score_file(store, actor: Identity, model: str, version: int | None, source: str | Path, *,
               environment: str = "production", output: str | Path | None = None, time_column: str | None = None,
               id_column: str | None = None, batch_rows: int = 200_000) -> Ingested:
    """Score a file with the environment's champion (and every challenger in shadow, same request ids), write the
    predictions out and log every row. With an explicit version, that version alone scores."""
    from . import artifacts

    deployments.validate_environment(environment)
    rel = _relation(source)
    if version is None:
        live = deployments.active(store, model, environment)
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
    with store.transaction() as con:
        require(actor, "log-predictions", "model_version", head.ref)
        n, reasons = _stage(con, head, rel, time_column, id_column, {})
        if n == 0:
            raise InvalidInput(f"{Path(source).name} has no rows.")
        model_id = get_model_tx(con, model).id
        iid = _record_run(con, actor, model_id, "score", str(source), n, reasons)
        feats = head.feature_names
        out_frames = []
        total = con.execute("SELECT count(*) FROM staged WHERE __reject IS NULL").fetchall()[0][0]
        for start in range(0, total, batch_rows):
            batch = con.execute(f"SELECT __row, __id, {', '.join(_q(f) for f in feats)} FROM staged WHERE __reject IS NULL"
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
                pred = (s >= 0.5).astype(float) if v.task == "binary_classification" else s
                result[f"score_v{v.version}" if len(runners) > 1 else "score"] = s
                result[f"__s{v.version}"] = s
                result[f"__p{v.version}"] = pred
            out_frames.append(result)
        scored = pd.concat(out_frames, ignore_index=True) if out_frames else pd.DataFrame(columns=["__row"])
        con.register("scored_rows", scored)
        for v, _d, _r in runners:
            con.execute(f"ALTER TABLE staged ADD COLUMN __s{v.version} DOUBLE")
            con.execute(f"ALTER TABLE staged ADD COLUMN __p{v.version} DOUBLE")
            con.execute(f"UPDATE staged SET __s{v.version} = r.__s{v.version}, __p{v.version} = r.__p{v.version} "
                        f"FROM scored_rows r WHERE staged.__row = r.__row")
        con.unregister("scored_rows")
        for v, dep_id, role in runners:
            name = ensure_table_tx(con, v)
            _insert_logs(con, v, name, iid, environment, dep_id, role, f"__s{v.version}", f"__p{v.version}")
        _record_audit(con, actor, "predictions.score", head, n, reasons, str(source))
    out = Path(output) if output else Path(str(source)).with_suffix(".scored.csv")
    keep = [c for c in scored.columns if not c.startswith("__")]
    csvsafe.write_frame(scored[keep], out)  # request ids come from the input: no formulas, no split rows
    return Ingested(iid, n, n - sum(reasons.values()), sum(reasons.values()), reasons, str(out))


def log_outcomes(store, actor: Identity, model: str, source: str | Path, *, id_column: str, label_column: str) -> Ingested:
    """Record labels that arrived later, joined to logged predictions by request id (the latest label wins)."""
    rel = _relation(source)
    with store.transaction() as con:
        require(actor, "log-predictions", "model", model)
        m = get_model_tx(con, model)
        cols = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()}
        for label, col in (("id", id_column), ("label", label_column)):
            if col not in cols:
                raise InvalidInput(f"The file has no {label} column {col!r}; its columns are {', '.join(sorted(cols)[:12])}.")
        tables = [r[0] for r in con.execute("SELECT t.table_name FROM prediction_tables t JOIN model_versions v ON "
                                            "v.id = t.version_id WHERE v.model_id = ?", [m.id]).fetchall()]
        if not tables:
            raise NotFound(f"{model} has no logged predictions yet; log or score them first, then their outcomes.")
        known = " UNION ".join(f"SELECT request_id FROM {t}" for t in tables)
        con.execute(f"""CREATE OR REPLACE TEMP TABLE staged AS
            SELECT row_number() OVER () AS __row, CAST({_q(id_column)} AS VARCHAR) AS __id,
                   TRY_CAST({_q(label_column)} AS DOUBLE) AS __label, {_q(label_column)} AS __raw FROM {rel}""")
        con.execute("ALTER TABLE staged ADD COLUMN __reject VARCHAR")
        con.execute(f"""UPDATE staged SET __reject = CASE
            WHEN __id IS NULL THEN '{id_column}: missing request id'
            WHEN __label IS NULL THEN '{label_column}: not a number'
            WHEN __id NOT IN ({known}) THEN 'no logged prediction with this request id' END""")
        con.execute("""UPDATE staged SET __reject = 'request id repeated in the file' WHERE __reject IS NULL AND __row IN (
            SELECT __row FROM (SELECT __row, row_number() OVER (PARTITION BY __id ORDER BY __row DESC) AS k
            FROM staged WHERE __reject IS NULL) WHERE k > 1)""")
        n = con.execute("SELECT count(*) FROM staged").fetchall()[0][0]
        if n == 0:
            raise InvalidInput(f"{Path(source).name} has no rows.")
        reasons = {str(k): int(c) for k, c in con.execute(
            "SELECT __reject, count(*) FROM staged WHERE __reject IS NOT NULL GROUP BY 1").fetchall()}
        iid = _record_run(con, actor, m.id, "log-outcomes", str(source), n, reasons)
        con.execute(f"""INSERT INTO outcomes SELECT {m.id}, __id, __label, now()::TIMESTAMP FROM staged
                        WHERE __reject IS NULL ON CONFLICT DO UPDATE SET label = excluded.label,
                        arrived_at = excluded.arrived_at""")
        record(con, actor, AuditEvent("outcomes.log", "model", model, {
            "model": model, "source": str(source), "rows": n, "rejected": sum(reasons.values()), "reasons": reasons}))
    return Ingested(iid, n, n - sum(reasons.values()), sum(reasons.values()), reasons)


# --- reading the logs ---------------------------------------------------------------------------------

def _scope(environment: str | None, since: datetime | None, until: datetime | None) -> str:
    parts = []
    if environment:
        parts.append(f"environment = {_lit(environment)}")
    if since:
        parts.append(f"ts >= TIMESTAMP {_lit(since.isoformat(sep=' '))}")
    if until:
        parts.append(f"ts < TIMESTAMP {_lit(until.isoformat(sep=' '))}")
    return " AND ".join(parts) or "TRUE"


def column_values(store, model: str, version: int, column: str, environment: str | None = "production",
                  limit: int = 50_000) -> tuple[pd.Series, pd.Series]:
    """A sample (at most `limit` rows each) of one input in the training reference and in the logs, for pictures."""
    v = get_model_version(store, model, version)
    if column not in v.feature_names:
        raise InvalidInput(f"{v.ref} has no input {column!r}.")
    name = log_table(store, v)
    if name is None:
        raise NotFound(f"{v.ref} has no logged predictions yet.")
    with store.read() as con:
        ref = con.execute(f"SELECT {_q(column)} FROM {_reference_relation(store, v)} USING SAMPLE {limit} ROWS").df()
        cur = con.execute(f"SELECT {_q(column)} FROM {name} WHERE {_scope(environment, None, None)} "
                          f"USING SAMPLE {limit} ROWS").df()
    return ref[column], cur[column]


def recent_rows(store, model: str, version: int, *, days: int = 7, environment: str | None = "production",
                limit: int = 5000) -> pd.DataFrame:
    """A seeded sample of the inputs logged in the last `days` days (for explaining production traffic)."""
    v = get_model_version(store, model, version)
    name = log_table(store, v)
    if name is None:
        raise NotFound(f"{v.ref} has no logged predictions yet; score or log some first.")
    feats = ", ".join(_q(f) for f in v.feature_names)
    with store.read() as con:
        last = con.execute(f"SELECT max(ts) FROM {name} WHERE {_scope(environment, None, None)}").fetchall()[0][0]
        if last is None:
            raise NotFound(f"{v.ref} has no logged predictions in {environment}.")
        scope = _scope(environment, last - timedelta(days=days), None)
        frame = con.execute(f"SELECT {feats} FROM {name} WHERE {scope} ORDER BY request_id").df()
    return frame.sample(n=min(limit, len(frame)), random_state=0).sort_index() if len(frame) > limit else frame


def shadow_pairs(store, model: str, champion_version: int, challenger_version: int, environment: str,
                 since: datetime | None) -> pd.DataFrame:
    """Rows scored by both versions (same request id) whose outcome arrived: label, champion_score, challenger_score."""
    a, b = get_model_version(store, model, champion_version), get_model_version(store, model, challenger_version)
    ta, tb = log_table(store, a), log_table(store, b)
    if ta is None or tb is None:
        return pd.DataFrame(columns=["label", "champion_score", "challenger_score"])
    with store.read() as con:
        model_id = get_model_tx(con, model).id
        scope = _scope(environment, since, None)
        return con.execute(f"""
            SELECT o.label, x.score AS champion_score, y.score AS challenger_score
            FROM (SELECT request_id, score FROM {ta} WHERE {scope}) x
            JOIN (SELECT request_id, score FROM {tb} WHERE {scope}) y USING (request_id)
            JOIN outcomes o ON o.model_id = {model_id} AND o.request_id = x.request_id
            ORDER BY x.request_id""").df()


def monitored_versions(store, model: str) -> list[dict[str, Any]]:
    with store.read() as con:
        m = get_model_tx(con, model)
        rows = con.execute("SELECT v.version, t.table_name FROM prediction_tables t JOIN model_versions v ON v.id = "
                           "t.version_id WHERE v.model_id = ? ORDER BY v.version", [m.id]).fetchall()
        out = []
        for version, name in rows:
            n, first, last = con.execute(f"SELECT count(*), min(ts), max(ts) FROM {name}").fetchall()[0]
            envs = [r[0] for r in con.execute(f"SELECT DISTINCT environment FROM {name} WHERE environment IS NOT NULL"
                                              ).fetchall()]
            out.append({"version": version, "table": name, "rows": n, "first": first, "last": last,
                        "environments": envs})
    return out


def get_config(store, model: str) -> drift.DriftConfig:
    with store.read() as con:
        m = get_model_tx(con, model)
        row = con.execute("SELECT CAST(config AS VARCHAR) FROM monitoring_config WHERE model_id = ?", [m.id]).fetchall()
    return drift.DriftConfig.from_dict(json.loads(row[0][0]) if row else None)


def set_config(store, actor: Identity, model: str, config: dict[str, Any]) -> drift.DriftConfig:
    cfg = drift.DriftConfig.from_dict(config)
    with store.transaction() as con:
        require(actor, "set-policy", "model", model)
        m = get_model_tx(con, model)
        con.execute("INSERT INTO monitoring_config VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET config = "
                    "excluded.config, updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                    [m.id, canonical_json(cfg.as_dict()), actor.email, utcnow()])
        record(con, actor, AuditEvent("monitoring.configure", "model", model, {"model": model, **cfg.as_dict()}))
    return cfg


def _reference_relation(store, v: ModelVersion) -> str:
    if v.train_dataset_id is None:
        raise InvalidInput(f"{v.ref} has no stored training data to serve as the drift reference.")
    with store.read() as con:
        ds = get_dataset_by_id(con, v.train_dataset_id)
    return f"read_parquet({_lit(str(stored_file(store, ds)))})"


def _pick_version(store, model: str, version: int | None, environment: str | None) -> ModelVersion:
    if version is not None:
        return get_model_version(store, model, version)
    champ = deployments.champion(store, model, environment or "production")
    if champ is not None:
        return get_model_version(store, model, champ.version)
    logged = monitored_versions(store, model)
    if not logged:
        raise NotFound(f"{model} has no logged predictions yet; score or log some with 'modelgov score' or "
                       "'modelgov log-predictions'.")
    return get_model_version(store, model, logged[-1]["version"])


def monitor(store, model: str, version: int | None = None, *, environment: str | None = "production",
            window: str = "day", since: datetime | None = None, until: datetime | None = None) -> dict[str, Any]:
    """Drift (per feature and window, and of the score), performance, volume and data quality of the logs."""
    v = _pick_version(store, model, version, environment)
    name = log_table(store, v)
    if name is None:
        raise NotFound(f"{v.ref} has no logged predictions yet; score or log some first.")
    cfg = get_config(store, model)
    ref = _reference_relation(store, v)
    scope = _scope(environment, since, until)
    with store.read() as con:
        model_id = get_model_tx(con, model).id
        n = con.execute(f"SELECT count(*) FROM {name} WHERE {scope}").fetchall()[0][0]
        if n == 0:
            env_txt = f" in {environment}" if environment else ""
            raise NotFound(f"{v.ref} has no logged predictions{env_txt} in that period.")
        con.execute(f"CREATE OR REPLACE TEMP VIEW mon_cur AS SELECT * FROM {name} WHERE {scope}")
        con.execute(f"CREATE OR REPLACE TEMP VIEW mon_ref AS SELECT * FROM {ref}")
        report = drift.report(con, "mon_ref", "mon_cur", columns=v.feature_names, time_column="ts", window=window,
                              config=cfg, time_sql="ts")
        # The last 7 days as one sample: daily windows of a few hundred rows are noisy, a week is not.
        last_ts = con.execute("SELECT max(ts) FROM mon_cur").fetchall()[0][0]
        con.execute(f"CREATE OR REPLACE TEMP VIEW mon_recent AS SELECT * FROM mon_cur WHERE ts > "
                    f"TIMESTAMP {_lit((last_ts - timedelta(days=RECENT_DAYS)).isoformat(sep=' '))}")
        recent = drift.report(con, "mon_ref", "mon_recent", columns=v.feature_names, config=cfg)
        # The score's own drift: the hold-out scores of the version are the reference when they exist.
        performance = _performance(con, name, model_id, v, scope, window)
        volume = con.execute(f"""SELECT CAST(date_trunc('{window}', ts) AS VARCHAR) AS w, count(*) AS n,
                                        avg(score) AS mean_score FROM {name} WHERE {scope} GROUP BY 1 ORDER BY 1""").df()
        rejected = con.execute("""SELECT CAST(date_trunc(?, created_at) AS VARCHAR), sum(rows_in), sum(rows_rejected)
                                  FROM ingest_runs WHERE model_id = ? AND kind <> 'log-outcomes' GROUP BY 1 ORDER BY 1""",
                               [window, model_id]).fetchall()
        first, last = con.execute(f"SELECT min(ts), max(ts) FROM {name} WHERE {scope}").fetchall()[0]
    score_drift = _score_drift(store, v, name, scope, window)
    quality = [{"column": c["column"], "missing_rate": c.get("missing", 0) / max(1, c.get("missing", 0) + c["rows_current"]),
                "out_of_range": c.get("out_of_range", 0), "unseen_categories": c.get("unseen_categories", [])}
               for c in report["columns"]]
    return {"model": model, "version": v.version, "environment": environment, "window": window, "rows": int(n),
            "first": first.isoformat() if first else None, "last": last.isoformat() if last else None,
            "drift": report, "recent_drift": recent, "recent_days": RECENT_DAYS, "score_drift": score_drift, "performance": performance,
            "volume": volume.to_dict("records"), "data_quality": quality,
            "ingestion": [{"window": w, "rows": int(a), "rejected": int(b)} for w, a, b in rejected],
            "reference": {"rows": report["rows"]["reference"], "source": f"training data of {v.ref}"}}


def _score_drift(store, v: ModelVersion, name: str, scope: str, window: str) -> dict[str, Any] | None:
    """Drift of the score itself against the version's scores on its hold-out data (scored once, in memory)."""
    from . import artifacts
    from .datasets import load_frame

    if v.test_dataset_id is None:
        return None
    with store.read() as con:
        ds = get_dataset_by_id(con, v.test_dataset_id)
    test = load_frame(store, ds)
    est = artifacts.load(store.artifacts_dir, v.sha256, v.ref)
    ref_scores = pd.DataFrame({"score": score(est, v.task, test[v.feature_names])})
    import duckdb

    with store.read() as con:
        cur = con.execute(f"SELECT score, ts FROM {name} WHERE {scope} AND score IS NOT NULL").df()
    if cur.empty:
        return None
    mem = duckdb.connect()
    try:
        mem.register("ref_scores", ref_scores)
        mem.register("cur_scores", cur)
        out = drift.report(mem, "ref_scores", "cur_scores", columns=["score"], time_column="ts", window=window,
                           time_sql="ts")
    finally:
        mem.close()
    return out


def _performance(con, name: str, model_id: int, v: ModelVersion, scope: str, window: str) -> list[dict[str, Any]]:
    """Per window, over rows whose outcome arrived: AUC (rank-sum with average ranks for ties), accuracy, Brier and
    mean score vs observed rate (calibration); regression: RMSE, MAE."""
    base = f"""SELECT CAST(date_trunc('{window}', l.ts) AS VARCHAR) AS w, l.score AS s, o.label AS y
               FROM {name} l JOIN outcomes o ON o.model_id = {model_id} AND o.request_id = l.request_id
               WHERE {scope} AND l.score IS NOT NULL"""
    if v.task == "binary_classification":
        rows = con.execute(f"""
            WITH d AS ({base}),
            r AS (SELECT w, s, y, rank() OVER (PARTITION BY w ORDER BY s) + (count(*) OVER (PARTITION BY w, s) - 1) / 2.0
                         AS rk FROM d)
            SELECT w, count(*) AS n, sum(y) AS pos,
                   (sum(rk) FILTER (y = 1) - sum(y) * (sum(y) + 1) / 2.0) / nullif(sum(y) * (count(*) - sum(y)), 0) AS auc,
                   avg(CASE WHEN (s >= 0.5) = (y = 1) THEN 1.0 ELSE 0.0 END) AS accuracy,
                   avg((s - y) * (s - y)) AS brier, avg(s) AS mean_score, avg(y) AS observed_rate
            FROM r GROUP BY w ORDER BY w""").fetchall()
        return [{"window": w, "labelled": int(n), "positives": int(p), "auc": auc, "accuracy": acc, "brier": br,
                 "mean_score": ms, "observed_rate": orate} for w, n, p, auc, acc, br, ms, orate in rows]
    rows = con.execute(f"""WITH d AS ({base}) SELECT w, count(*), sqrt(avg((s - y) * (s - y))), avg(abs(s - y)),
                           avg(s), avg(y) FROM d GROUP BY w ORDER BY w""").fetchall()
    return [{"window": w, "labelled": int(n), "rmse": rmse, "mae": mae, "mean_prediction": mp, "mean_outcome": mo}
            for w, n, rmse, mae, mp, mo in rows]


# --- summaries, alerts, health ------------------------------------------------------------------------

def summarise(result: dict[str, Any], v: ModelVersion) -> dict[str, Any]:
    """The few numbers health, alerts and the plain sentence rest on (stored as a snapshot)."""
    wins = result["drift"].get("windows", [])
    recent = result["recent_drift"]
    # When did it start? The change point of the drifted inputs' own drift scores, window by window.
    flagged = [c["column"] for c in recent["columns"] if c["drifted"]]
    series = []
    for w in wins:
        scores = [(1 - c["drift_score"]) if c["method"] in drift.P_VALUE_METHODS else c["drift_score"]
                  for c in w["columns"] if c["column"] in flagged]
        series.append(float(np.mean(scores)) if scores else 0.0)
    top = max(series, default=0.0)
    k = change_point([x / top for x in series]) if top > 0 else None
    shift_start = wins[k]["start"] if k is not None else None
    perf = [p for p in result["performance"] if p["labelled"] >= 30]
    metric = "auc" if v.task == "binary_classification" else "rmse"
    baseline = v.metrics.get(metric)
    last_perf = [p for p in perf[-7:] if p[metric] is not None]
    current = float(np.average([p[metric] for p in last_perf], weights=[p["labelled"] for p in last_perf])) \
        if last_perf else None
    drifted_cols = [c["column"] for c in recent["columns"] if c["drifted"]]
    last_missing = max((q["missing_rate"] for q in result["data_quality"]), default=0.0)
    ingest = result["ingestion"]
    rejected_share = (sum(i["rejected"] for i in ingest) / max(1, sum(i["rows"] for i in ingest))) if ingest else 0.0
    return {"model": result["model"], "version": result["version"], "environment": result["environment"],
            "rows": result["rows"], "last": result["last"], "first": result["first"],
            "drifted_share": recent["drifted_share"], "dataset_drift": recent["dataset_drift"],
            "drifted_columns": drifted_cols, "n_columns": len(recent["columns"]), "recent_days": RECENT_DAYS,
            "shift_start": shift_start, "metric": metric, "baseline": baseline, "current": current,
            "max_missing_rate": last_missing, "rejected_share": rejected_share}


def change_point(series: list[float], min_gap: float = 0.15) -> int | None:
    """Index where the mean of a series shifts up the most (mean after − mean before), if by at least `min_gap`."""
    if len(series) < 4:
        return None
    x = np.asarray(series, dtype=float)
    best, where = 0.0, None
    for k in range(2, len(x) - 1):
        gap = x[k:].mean() - x[:k].mean()
        if gap > best:
            best, where = gap, k
    return where if best >= min_gap else None


def plain_sentence(s: dict[str, Any]) -> str:
    parts = []
    n, k = len(s["drifted_columns"]), s["n_columns"]
    since = f" since {pd.Timestamp(s['shift_start']).strftime('%-d %B')}" if s.get("shift_start") else ""
    parts.append(f"{n} of {k} inputs have shifted{since}" if n else f"none of its {k} inputs has shifted")
    if s.get("current") is not None and s.get("baseline") is not None:
        if s["metric"] == "auc":
            delta = (s["current"] - s["baseline"]) * 100
            parts.append(f"AUC is {'down' if delta < 0 else 'up'} {abs(delta):.0f} points "
                         f"({s['current']:.3f} vs {s['baseline']:.3f} at validation)" if abs(delta) >= 1
                         else f"AUC holds at {s['current']:.3f}")
        else:
            ratio = s["current"] / s["baseline"] - 1 if s["baseline"] else 0
            parts.append(f"RMSE is {'up' if ratio > 0 else 'down'} {abs(ratio):.0%}")
    else:
        parts.append("no outcomes have arrived yet to measure performance")
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:]


def check(store, actor: Identity, model: str, version: int | None = None, environment: str = "production",
          window: str = "day", thresholds: dict[str, float] | None = None) -> dict[str, Any]:
    """Run monitoring, store the snapshot and raise alerts for crossed thresholds (one open alert per kind)."""
    th = {**DEFAULT_ALERTS, **(thresholds or {})}
    result = monitor(store, model, version, environment=environment, window=window)
    v = get_model_version(store, model, result["version"])
    s = summarise(result, v)
    s["sentence"] = plain_sentence(s)
    raised = []
    candidates = []
    if s["drifted_columns"] and (s["dataset_drift"] or s["drifted_share"] >= th["drifted_share"]
                                 or s.get("shift_start")):
        candidates.append(("drift", "high" if s["dataset_drift"] else "medium",
                           f"{len(s['drifted_columns'])} of {s['n_columns']} inputs drifted over the last "
                           f"{RECENT_DAYS} days ({', '.join(s['drifted_columns'][:4])})"
                           + (f"; the shift began around {s['shift_start'][:10]}" if s.get("shift_start") else ""),
                           "drifted_share", s["drifted_share"], th["drifted_share"]))
    if s["current"] is not None and s["baseline"] is not None:
        if s["metric"] == "auc" and s["baseline"] - s["current"] >= th["auc_drop"]:
            candidates.append(("performance", "high", f"AUC {s['current']:.3f}, {100 * (s['baseline'] - s['current']):.0f}"
                               f" points below validation ({s['baseline']:.3f})", "auc", s["current"],
                               s["baseline"] - th["auc_drop"]))
        if s["metric"] == "rmse" and s["current"] > s["baseline"] * (1 + th["rmse_rise"]):
            candidates.append(("performance", "high", f"RMSE {s['current']:.3g} vs {s['baseline']:.3g} at validation",
                               "rmse", s["current"], s["baseline"] * (1 + th["rmse_rise"])))
    if s["max_missing_rate"] >= th["missing_rate"]:
        candidates.append(("data_quality", "medium", f"up to {s['max_missing_rate']:.0%} of an input is missing",
                           "missing_rate", s["max_missing_rate"], th["missing_rate"]))
    if s["rejected_share"] >= th["rejected_share"]:
        candidates.append(("data_quality", "medium", f"{s['rejected_share']:.1%} of logged rows were rejected",
                           "rejected_share", s["rejected_share"], th["rejected_share"]))
    if s["last"] and datetime.fromisoformat(s["last"]) < utcnow() - timedelta(days=th["stale_days"]):
        candidates.append(("freshness", "medium", f"no predictions logged since {s['last'][:10]}", "stale_days",
                           (utcnow() - datetime.fromisoformat(s["last"])).days, th["stale_days"]))
    with store.transaction() as con:
        require(actor, "compute-results", "model", model)
        m = get_model_tx(con, model)
        con.execute("INSERT INTO monitor_snapshots VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                    "computed_at = excluded.computed_at, summary = excluded.summary",
                    [m.id, v.version, environment or "", utcnow(), canonical_json(s)])
        for kind, sev, msg, metric, value, thr in candidates:
            exists = con.execute("SELECT id FROM alerts WHERE model_id = ? AND kind = ? AND metric = ? AND status <> "
                                 "'resolved'", [m.id, kind, metric]).fetchall()
            if exists:
                continue
            aid = con.execute("INSERT INTO alerts (model_id, version, environment, kind, severity, message, metric, value,"
                              " threshold, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?) RETURNING id",
                              [m.id, v.version, environment, kind, sev, msg, metric, value, thr, utcnow()]).fetchall()[0][0]
            raised.append(aid)
            record(con, actor, AuditEvent("alert.raise", "alert", str(aid), {"model": model, "kind": kind,
                                                                              "message": msg}))
        lineage.record_result_tx(con, actor, "monitoring", model, v.version, environment or "all",
                                 f"monitoring of {v.ref} in {environment}", {"rows": s["rows"], "last": s["last"],
                                                                             "drifted_share": s["drifted_share"]})
    return {"summary": s, "alerts_raised": raised, "result": result}


@dataclass
class Alert:
    id: int
    model: str
    version: int | None
    environment: str | None
    kind: str
    severity: str
    message: str
    status: str
    created_at: datetime
    acknowledged_by: str | None
    resolved_by: str | None
    note: str | None

    def as_dict(self) -> dict[str, Any]:
        return {k: (getattr(self, k).isoformat() if isinstance(getattr(self, k), datetime) else getattr(self, k))
                for k in self.__dataclass_fields__}


def alerts(store, model: str | None = None, status: str | None = None) -> list[Alert]:
    where, params = [], []
    if model:
        where.append("m.name = ?")
        params.append(model)
    if status == "active":
        where.append("a.status <> 'resolved'")
    elif status:
        where.append("a.status = ?")
        params.append(status)
    sql = ("SELECT a.id, m.name, a.version, a.environment, a.kind, a.severity, a.message, a.status, a.created_at, "
           "a.acknowledged_by, a.resolved_by, a.note FROM alerts a JOIN models m ON m.id = a.model_id"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY a.status = 'resolved', a.created_at DESC")
    with store.read() as con:
        return [Alert(*r) for r in con.execute(sql, params).fetchall()]


def update_alert(store, actor: Identity, alert_id: int, action: str, note: str = "") -> Alert:
    """Acknowledge or resolve an alert (data scientists and risk officers; audited)."""
    if action not in ("acknowledge", "resolve"):
        raise InvalidInput("An alert is acknowledged or resolved.")
    with store.transaction() as con:
        require(actor, "manage-alerts", "alert", alert_id)
        row = con.execute("SELECT status FROM alerts WHERE id = ?", [alert_id]).fetchall()
        if not row:
            raise NotFound(f"Alert {alert_id} not found.")
        status = row[0][0]
        if status == "resolved" or (action == "acknowledge" and status == "acknowledged"):
            raise Conflict(f"Alert {alert_id} is already {status}.", actor=actor.email, action=f"alert.{action}",
                           entity_type="alert", entity_id=str(alert_id))
        if action == "acknowledge":
            con.execute("UPDATE alerts SET status = 'acknowledged', acknowledged_by = ?, acknowledged_at = ?, note = ? "
                        "WHERE id = ?", [actor.email, utcnow(), note or None, alert_id])
        else:
            con.execute("UPDATE alerts SET status = 'resolved', resolved_by = ?, resolved_at = ?, note = coalesce(?, note)"
                        " WHERE id = ?", [actor.email, utcnow(), note or None, alert_id])
        record(con, actor, AuditEvent(f"alert.{action}", "alert", str(alert_id), {"note": note}))
    return next(a for a in alerts(store) if a.id == alert_id)


HEALTH_WEIGHTS = {"drift": 0.30, "performance": 0.30, "data_quality": 0.15, "freshness": 0.10, "recertification": 0.15}


def health(store) -> dict[str, dict[str, Any]]:
    """A 0–100 health score per monitored model, from its latest snapshot and re-certification status.

    drift = 100 × (1 − drifted share of the inputs); performance = 100 when AUC is within 2 points of
    validation (RMSE within 5%), falling linearly to 0 at 10 points (50%); data quality = 100 × (1 − 5 ×
    the worst missing rate − 10 × the rejected share), floored at 0; freshness = 100 up to 2 days since the
    last logged prediction, 0 after 14; re-certification = 100, or 0 when overdue. Weighted 30/30/15/10/15.
    Green ≥ 80, amber ≥ 60, red below; an unresolved high-severity alert caps the score at 79 (amber).
    """
    from .approvals import recertification_status

    with store.read() as con:
        rows = con.execute("SELECT m.name, s.version, s.environment, CAST(s.summary AS VARCHAR), s.computed_at FROM "
                           "monitor_snapshots s JOIN models m ON m.id = s.model_id ORDER BY s.computed_at").fetchall()
        open_alerts = dict(con.execute("SELECT m.name, count(*) FROM alerts a JOIN models m ON m.id = a.model_id "
                                       "WHERE a.status <> 'resolved' GROUP BY 1").fetchall())
        high_alerts = dict(con.execute("SELECT m.name, count(*) FROM alerts a JOIN models m ON m.id = a.model_id "
                                       "WHERE a.status <> 'resolved' AND a.severity = 'high' GROUP BY 1").fetchall())
    overdue = {d["model"] for d in recertification_status(store) if d["overdue"]}
    out = {}
    for name, _version, env, text, _at in rows:
        if env not in ("production", "") and name in out:
            continue
        s = json.loads(text)
        parts, reasons = {}, []
        parts["drift"] = 100 * (1 - s["drifted_share"])
        if s["drifted_columns"]:
            reasons.append(f"{len(s['drifted_columns'])} of {s['n_columns']} inputs drifted")
        if s.get("current") is not None and s.get("baseline"):
            if s["metric"] == "auc":
                drop = (s["baseline"] - s["current"]) * 100
                parts["performance"] = float(np.clip(100 - (drop - 2) * 12.5, 0, 100))
                if drop >= 2:
                    reasons.append(f"AUC down {drop:.0f} points")
            else:
                rise = s["current"] / s["baseline"] - 1
                parts["performance"] = float(np.clip(100 - (rise - 0.05) * 222.2, 0, 100))
                if rise >= 0.05:
                    reasons.append(f"RMSE up {rise:.0%}")
        else:
            parts["performance"] = 100.0
        parts["data_quality"] = float(np.clip(100 * (1 - 5 * s["max_missing_rate"] - 10 * s["rejected_share"]), 0, 100))
        if parts["data_quality"] < 80:
            reasons.append("data quality issues")
        age = (utcnow() - datetime.fromisoformat(s["last"])).total_seconds() / 86400 if s.get("last") else 99
        parts["freshness"] = float(np.clip(100 - (age - 2) * (100 / 12), 0, 100))
        if age > 2:
            reasons.append(f"no traffic for {age:.0f} days")
        parts["recertification"] = 0.0 if name in overdue else 100.0
        if name in overdue:
            reasons.append("re-certification overdue")
        total = sum(HEALTH_WEIGHTS[k] * v for k, v in parts.items())
        if high_alerts.get(name):  # an unresolved high-severity alert never shows green
            total = min(total, 79.0)
            reasons.append(f"{high_alerts[name]} high-severity alert(s) open")
        status = "green" if total >= 80 else "amber" if total >= 60 else "red"
        out[name] = {"score": round(total), "status": status, "components": {k: round(v) for k, v in parts.items()},
                     "reasons": reasons, "open_alerts": int(open_alerts.get(name, 0)), "sentence": s.get("sentence", "")}
    return out


def evidence_for(store, model: str, version: int) -> dict[str, Any] | None:
    """Drift status of a version for an approval's evidence pack (its latest snapshot), or None."""
    with store.read() as con:
        row = con.execute("SELECT CAST(s.summary AS VARCHAR), s.computed_at FROM monitor_snapshots s JOIN models m ON "
                          "m.id = s.model_id WHERE m.name = ? AND s.version = ? ORDER BY s.computed_at DESC LIMIT 1",
                          [model, version]).fetchall()
    if not row:
        return None
    s = json.loads(row[0][0])
    return {"computed_at": row[0][1].isoformat(), "drifted_share": s["drifted_share"],
            "dataset_drift": s["dataset_drift"], "drifted_columns": s["drifted_columns"], "rows": s["rows"],
            "metric": s["metric"], "current": s["current"], "baseline": s["baseline"], "sentence": s.get("sentence")}
