"""A monitoring report of a version's logs: drift per input and window, score drift, performance, volume.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..drift import report as drift_report
from ..errors import NotFound
from ..governance import live
from ..registry.catalog import get_model_tx
from ..registry.datasets import get_dataset_by_id
from ..registry.records import Model, ModelVersion
from ..registry.versions import get_model_version_tx
from ..engine import dialect_of
from . import holdout_scores
from .. import datafiles
from .ingest import log_files_tx
from .logs import _monitored_tx, data_stamp, outcome_sql, reference_file_tx, scope_sql, stamp_sources_tx
from .settings import get_config_tx

RECENT_DAYS = 7


def _pick_version_tx(con, model: str, version: int | None, environment: str | None) -> ModelVersion:
    if version is not None:
        return get_model_version_tx(con, model, version)
    champ = live.active_tx(con, model, environment or "production")
    if champ and champ[0].role == "champion":
        return get_model_version_tx(con, model, champ[0].version)
    logged = _monitored_tx(con, get_model_tx(con, model).id)
    if not logged:
        raise NotFound(f"{model} has no logged predictions yet; score or log some with 'modelgov score' or "
                       "'modelgov log-predictions'.")
    return get_model_version_tx(con, model, logged[-1]["version"])


def monitor(store, model: str, version: int | None = None, *, environment: str | None = "production",
            window: str = "day", since: datetime | None = None, until: datetime | None = None,
            engine: str | None = None) -> dict[str, Any]:
    """Drift (per feature and window, and of the score), performance, volume and data quality of the logs."""
    return monitor_version(store, model, version, environment=environment, window=window, since=since,
                           until=until, engine=engine).result


@dataclass(frozen=True)
class Monitored:
    """A monitoring report with the version and model it is of, and the data it was computed from."""

    result: dict[str, Any]
    version: ModelVersion
    model: Model
    stamp: dict[str, Any]  # logs.data_stamp of the whole environment: the files and metadata the report read


def monitor_version(store, model: str, version: int | None = None, *, environment: str | None = "production",
                    window: str = "day", since: datetime | None = None, until: datetime | None = None,
                    engine: str | None = None) -> Monitored:
    """`monitor`, with the version it monitored, its model and the stamp of the data it read.

    `engine` (core/engine.py; default MODELGOV_ENGINE or duckdb) reduces the logs: DuckDB in process, or Spark
    reading the catalogued files where they lie. The SQL is the same but for the dialect's hooks, and every
    statistic is computed from the reduced tables by the same code, so both give the same report.
    """
    from ..engine import data_connection, dialect_for, resolve

    engine = resolve(engine)
    scope = scope_sql(environment, since, until, dialect_for(engine))
    # What to read, from the metadata store in one transaction (released before the statistics): the version, its
    # settings, the catalogued log and outcome files, the ingestion runs, and the stamp's metadata part. Files never
    # change once catalogued, so the stamp names exactly the data every query of the report reads.
    with store.read() as con:
        con.execute("BEGIN TRANSACTION")
        m = get_model_tx(con, model)
        v = _pick_version_tx(con, model, version, environment)
        files = log_files_tx(con, v)
        if not files:
            raise NotFound(f"{v.ref} has no logged predictions yet; score or log some first.")
        cfg = get_config_tx(con, m.id)
        ref = reference_file_tx(con, store, v)
        rejected = con.execute("""SELECT CAST(date_trunc(?, created_at) AS VARCHAR), sum(rows_in), sum(rows_rejected)
                                  FROM ingest_runs WHERE model_id = ? AND kind <> 'log-outcomes' GROUP BY 1 ORDER BY 1""",
                               [window, m.id]).fetchall()
        sources = stamp_sources_tx(con, m.id)
        holdout = get_dataset_by_id(con, v.test_dataset_id) if v.test_dataset_id is not None else None
        con.execute("ROLLBACK")  # it only read
    with data_connection(store, engine) as con:
        d = dialect_of(con)
        # The rows in scope and the outcomes, read from their files once into this connection's own tables: the
        # report runs dozens of statements over them, and each read of the files would open every file again.
        # (Spark: views over the files, which stay with its executors.)
        name, outcomes = "mon_log", "mon_outcomes"
        d.temp_table(con, name, f"SELECT * FROM {datafiles.relation(store, files, dialect=d)} WHERE {scope}")
        d.temp_table(con, outcomes, f"SELECT * FROM "
                     f"{datafiles.outcomes_relation(store, sources['outcome_files'], dialect=d)}")
        n = con.execute(f"SELECT count(*) FROM {name} WHERE {scope}").fetchall()[0][0]
        if n == 0:
            env_txt = f" in {environment}" if environment else ""
            raise NotFound(f"{v.ref} has no logged predictions{env_txt} in that period.")
        con.execute(f"CREATE OR REPLACE TEMPORARY VIEW mon_cur AS SELECT * FROM {name} WHERE {scope}")
        con.execute(f"CREATE OR REPLACE TEMPORARY VIEW mon_ref AS SELECT * FROM {d.files([str(ref)])}")
        inputs = [f for f in v.feature_names if f not in set(cfg.exclude)]  # the model's config may set some aside
        report = drift_report.report(con, "mon_ref", "mon_cur", columns=inputs, time_column="ts", window=window,
                                     config=cfg, time_sql="ts")
        # The last 7 days as one sample: daily windows of a few hundred rows are noisy, a week is not.
        last_ts = con.execute("SELECT max(ts) FROM mon_cur").fetchall()[0][0]
        con.execute(f"CREATE OR REPLACE TEMPORARY VIEW mon_recent AS SELECT * FROM mon_cur WHERE ts > "
                    f"TIMESTAMP {d.literal((last_ts - timedelta(days=RECENT_DAYS)).isoformat(sep=' '))}")
        recent = drift_report.report(con, "mon_ref", "mon_recent", columns=inputs, config=cfg)
        performance = _performance(con, name, outcomes, v, scope, window)
        volume = con.execute(f"""SELECT {d.window_text(window, 'ts')} AS w, count(*) AS n,
                                        avg(score) AS mean_score FROM {name} WHERE {scope} GROUP BY 1 ORDER BY 1""").df()
        first, last = con.execute(f"SELECT min(ts), max(ts) FROM {name} WHERE {scope}").fetchall()[0]
        # The score's own drift: the hold-out scores of the version are the reference when they exist.
        score_drift = _score_drift(con, store, v, holdout, name, scope, window)
        prediction_drift = _prediction_drift(con, store, v, holdout, name, scope, window)
        stamp = data_stamp(con, store, files, sources, environment)
    quality = [{"column": c["column"], "missing_rate": c.get("missing", 0) / max(1, c.get("missing", 0) + c["rows_current"]),
                "out_of_range": c.get("out_of_range", 0), "unseen_categories": c.get("unseen_categories", [])}
               for c in report["columns"]]
    result = {"model": model, "version": v.version, "environment": environment, "window": window, "rows": int(n),
              "first": first.isoformat() if first else None, "last": last.isoformat() if last else None,
              "drift": report, "recent_drift": recent, "recent_days": RECENT_DAYS, "score_drift": score_drift,
              "prediction_drift": prediction_drift,
              "performance": performance,
              "volume": volume.to_dict("records"), "data_quality": quality,
              "ingestion": [{"window": w, "rows": int(a), "rejected": int(b)} for w, a, b in rejected],
              "reference": {"rows": report["rows"]["reference"], "source": f"training data of {v.ref}"}}
    return Monitored(result, v, m, stamp)


def _score_drift(con, store, v: ModelVersion, ds, name: str, scope: str, window: str) -> dict[str, Any] | None:
    """Drift of the score itself against the version's scores on its hold-out data `ds` (scored once, then read
    from the stored file: the model is not loaded again for every report)."""
    if ds is None:
        return None
    path = holdout_scores.path(store, v, ds)
    if not path.exists():
        holdout_scores.compute(store, v, ds)
    d = dialect_of(con)
    con.execute(f"CREATE OR REPLACE TEMPORARY VIEW mon_cur_scores AS SELECT score, ts FROM {name} WHERE {scope} "
                "AND score IS NOT NULL")
    if con.execute("SELECT count(*) FROM mon_cur_scores").fetchall()[0][0] == 0:
        return None
    con.execute(f"CREATE OR REPLACE TEMPORARY VIEW mon_ref_scores AS SELECT score FROM {d.files([str(path)])}")
    return drift_report.report(con, "mon_ref_scores", "mon_cur_scores", columns=["score"], time_column="ts",
                               window=window, time_sql="ts")


def _prediction_drift(con, store, v: ModelVersion, ds, name: str, scope: str, window: str) -> dict[str, Any] | None:
    """Multiclass: drift of the predicted class's distribution (a categorical test, as the registry of tests
    chooses for a categorical column) against the version's predicted classes on its hold-out data. None for
    other tasks, or without hold-out data or scored rows."""
    if v.task != "multiclass_classification" or ds is None:
        return None
    path = holdout_scores.path(store, v, ds)
    if not path.exists():
        holdout_scores.compute(store, v, ds)
    d = dialect_of(con)
    classes = _class_case(v, "prediction", d)
    con.execute(f"CREATE OR REPLACE TEMPORARY VIEW mon_cur_pred AS SELECT {classes} AS predicted_class, ts FROM "
                f"{name} WHERE {scope} AND prediction IS NOT NULL")
    if con.execute("SELECT count(*) FROM mon_cur_pred").fetchall()[0][0] == 0:
        return None
    con.execute(f"CREATE OR REPLACE TEMPORARY VIEW mon_ref_pred AS SELECT {classes} AS predicted_class "
                f"FROM {d.files([str(path)])}")
    return drift_report.report(con, "mon_ref_pred", "mon_cur_pred", columns=["predicted_class"], time_column="ts",
                               window=window, time_sql="ts")


def _class_case(v: ModelVersion, column: str, dialect) -> str:
    """SQL naming each class position (0..K−1) in `column` by its class, as text."""
    whens = " ".join(f"WHEN {i} THEN {dialect.literal(str(c))}" for i, c in enumerate(v.classes or []))
    return dialect.text(f"CASE CAST({column} AS BIGINT) {whens} END")


def _label_index(v: ModelVersion, outcome: str, dialect) -> str:
    """SQL giving an outcome's position in the version's classes (NULL when it is none of them): a numeric class
    by the outcome's number (1, 1.0), a text class ("barolo") by its text (migration 0016)."""
    whens = " ".join(
        f"WHEN {outcome}.label = {float(c)!r} THEN {i}" if isinstance(c, (int, float)) and not isinstance(c, bool)
        else f"WHEN {outcome}.label_text = {dialect.literal(str(c).strip())} THEN {i}"
        for i, c in enumerate(v.classes or []))
    return f"(CASE {whens} END)" if whens else "CAST(NULL AS BIGINT)"


EPS = 2.220446049250313e-16  # numpy's float64 eps: scikit-learn's log_loss clips probabilities to [eps, 1 − eps]


def _performance_multiclass(con, name: str, outcomes: str, v: ModelVersion, scope: str, window: str
                            ) -> list[dict[str, Any]]:
    """Per window, over rows whose outcome arrived, in SQL: accuracy, balanced accuracy, log loss, macro F1 and
    one-vs-rest AUC (macro and weighted; the rank-sum AUC of each class against the rest, NULL when a class is
    absent from the window), each as scikit-learn computes it on those rows."""
    k = len(v.classes or [])
    d = dialect_of(con)
    base = f"""SELECT {d.window_text(window, 'l.ts')} AS w, l.probabilities AS pr,
                      CAST(l.prediction AS BIGINT) AS pred, {_label_index(v, 'o', d)} AS y
               FROM {name} l JOIN {outcomes} o ON o.request_id = l.request_id
               WHERE {scope} AND l.probabilities IS NOT NULL"""
    rows = con.execute(f"""
        WITH d AS (SELECT * FROM ({base}) WHERE y IS NOT NULL),
        per_row AS (SELECT w, count(*) AS n, avg(CASE WHEN pred = y THEN 1e0 ELSE 0e0 END) AS accuracy,
                           avg(-ln(greatest(least({d.list_item('pr', 'y + 1')}, 1 - {EPS!r}), {EPS!r}))) AS log_loss
                    FROM d GROUP BY w),
        cls AS {d.integers_below(k, 'c')},
        per_class AS (SELECT d.w, cls.c, count(*) FILTER (WHERE d.y = cls.c) AS pos,
                             count(*) FILTER (WHERE d.pred = cls.c) AS predicted,
                             count(*) FILTER (WHERE d.y = cls.c AND d.pred = cls.c) AS tp
                      FROM d CROSS JOIN cls GROUP BY ALL),
        ranked AS (SELECT d.w, cls.c, d.y = cls.c AS hit,
                          rank() OVER (PARTITION BY d.w, cls.c ORDER BY {d.list_item('d.pr', 'cls.c + 1')})
                          + (count(*) OVER (PARTITION BY d.w, cls.c, {d.list_item('d.pr', 'cls.c + 1')}) - 1) / 2e0
                          AS rk
                   FROM d CROSS JOIN cls),
        auc AS (SELECT w, c, count(*) AS n, count(*) FILTER (WHERE hit) AS pos,
                       (sum(rk) FILTER (WHERE hit) - count(*) FILTER (WHERE hit) * (count(*) FILTER (WHERE hit) + 1) / 2e0)
                       / nullif(count(*) FILTER (WHERE hit) * (count(*) - count(*) FILTER (WHERE hit)), 0) AS auc
                FROM ranked GROUP BY w, c),
        per_window AS (SELECT p.w,
                              avg(p.tp / nullif(p.pos, 0)) FILTER (WHERE p.pos > 0) AS balanced_accuracy,
                              avg(2e0 * p.tp / nullif(p.pos + p.predicted, 0)) FILTER (WHERE p.pos + p.predicted > 0)
                                  AS f1_macro,
                              CASE WHEN count(*) FILTER (WHERE p.pos = 0) = 0 THEN avg(a.auc) END AS auc_ovr_macro,
                              CASE WHEN count(*) FILTER (WHERE p.pos = 0) = 0 THEN sum(a.auc * p.pos) / sum(p.pos) END
                                  AS auc_ovr_weighted
                       FROM per_class p JOIN auc a ON a.w = p.w AND a.c = p.c GROUP BY p.w)
        SELECT r.w, r.n, pw.auc_ovr_macro, pw.auc_ovr_weighted, r.accuracy, pw.balanced_accuracy, r.log_loss,
               pw.f1_macro
        FROM per_row r JOIN per_window pw USING (w) ORDER BY r.w""").fetchall()
    return [{"window": w, "labelled": int(n), "auc_ovr_macro": am, "auc_ovr_weighted": aw, "accuracy": acc,
             "balanced_accuracy": ba, "log_loss": ll, "f1_macro": f1}
            for w, n, am, aw, acc, ba, ll, f1 in rows]


def _performance(con, name: str, outcomes: str, v: ModelVersion, scope: str, window: str) -> list[dict[str, Any]]:
    """Per window, over rows whose outcome arrived: AUC (rank-sum with average ranks for ties), accuracy, Brier and
    mean score vs observed rate (calibration); regression: RMSE, MAE."""
    if v.task == "multiclass_classification":
        return _performance_multiclass(con, name, outcomes, v, scope, window)
    d = dialect_of(con)
    y = outcome_sql(v, dialect=d)  # a number; a binary model's text class ("yes") as 0/1
    base = f"""SELECT {d.window_text(window, 'l.ts')} AS w, l.score AS s, {y} AS y
               FROM {name} l JOIN {outcomes} o ON o.request_id = l.request_id
               WHERE {scope} AND l.score IS NOT NULL AND {y} IS NOT NULL"""
    if v.task == "binary_classification":
        rows = con.execute(f"""
            WITH d AS ({base}),
            r AS (SELECT w, s, y, rank() OVER (PARTITION BY w ORDER BY s) + (count(*) OVER (PARTITION BY w, s) - 1) / 2e0
                         AS rk FROM d)
            SELECT w, count(*) AS n, sum(y) AS pos,
                   (sum(rk) FILTER (WHERE y = 1) - sum(y) * (sum(y) + 1) / 2e0)
                   / nullif(sum(y) * (count(*) - sum(y)), 0) AS auc,
                   avg(CASE WHEN (s >= 0.5e0) = (y = 1) THEN 1e0 ELSE 0e0 END) AS accuracy,
                   avg((s - y) * (s - y)) AS brier, avg(s) AS mean_score, avg(y) AS observed_rate
            FROM r GROUP BY w ORDER BY w""").fetchall()
        return [{"window": w, "labelled": int(n), "positives": int(p), "auc": auc, "accuracy": acc, "brier": br,
                 "mean_score": ms, "observed_rate": orate} for w, n, p, auc, acc, br, ms, orate in rows]
    rows = con.execute(f"""WITH d AS ({base}) SELECT w, count(*), sqrt(avg((s - y) * (s - y))), avg(abs(s - y)),
                           avg(s), avg(y) FROM d GROUP BY w ORDER BY w""").fetchall()
    return [{"window": w, "labelled": int(n), "rmse": rmse, "mae": mae, "mean_prediction": mp, "mean_outcome": mo}
            for w, n, rmse, mae, mp, mo in rows]
