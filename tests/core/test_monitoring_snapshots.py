"""Stored monitoring results: the stored review equals the computed one, goes stale when data arrives, is
refreshed by ingests and the scheduled check, never fails an ingest, refuses people without a role, and survives
two processes refreshing it at once."""

from __future__ import annotations

import math
import multiprocessing

import duckdb
import pandas as pd
import pytest

from core.audit import utcnow
from core.drift import report as drift_report
from core.errors import Forbidden
from core.explain import explanations
from core.monitoring import checks, holdout_scores, ingest, snapshots
from core.monitoring.logs import scope_sql
from core.registry import artifacts, versions
from core.registry.datasets import get_dataset_by_id, load_frame
from core.store import Store
from tests.conftest import NOBODY, logs_relation

MODEL = "credit-default"


def same(a, b, path="review") -> None:
    """Equal, except that a float may differ in its last bits: DuckDB's parallel sums (a window's mean score,
    its Brier score) are not bit-reproducible from one run to the next, stored or not."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), (path, set(a) ^ set(b))
        for k in a:
            same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool) and isinstance(b, (int, float)):
        assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15), (path, a, b)
    else:
        assert a == b and type(a) is type(b), (path, a, b)


def _rows(store, n: int, prefix: str) -> pd.DataFrame:
    v = versions.get_model_version(store, MODEL, 1)
    frame, _ = explanations.default_data(store, v)
    rows = frame.head(n).drop(columns=["default"]).reset_index(drop=True)
    rows["rid"] = [f"{prefix}-{i}" for i in range(n)]
    rows["ts"] = pd.Timestamp(utcnow()).floor("s")
    return rows


def _log(store, actor, tmp_path, n=40, prefix="new", **kwargs) -> ingest.Ingested:
    f = tmp_path / f"{prefix}.csv"
    _rows(store, n, prefix).to_csv(f, index=False)
    return ingest.log_predictions(store, actor, MODEL, 1, f, time_column="ts", id_column="rid",
                                  environment="production", **kwargs)


def test_the_stored_review_is_the_computed_one(demo_store, demo_people):
    # The demo's month of traffic arrived through the ingest hooks: its snapshot is there and current.
    snap = snapshots.latest(demo_store, demo_people["vera"], MODEL, 1, "production", "day")
    assert snap is not None and snap.current and snap.new_rows == 0 and snap.new_outcomes == 0
    same(checks.review(demo_store, MODEL, 1, environment="production", window="day"), snap.review)
    assert snap.stamp["log_rows"] == snap.review["result"]["rows"]
    # A window nobody asked for is not stored until someone does.
    assert snapshots.latest(demo_store, demo_people["vera"], MODEL, 1, "production", "week") is None
    week = snapshots.latest_or_refresh(demo_store, demo_people["vera"], MODEL, 1, "production", "week")
    assert week.current and week.computed_by == "vera@modelgov.demo"
    same(checks.review(demo_store, MODEL, 1, environment="production", window="week"), week.review)


def test_score_drift_against_stored_holdout_scores_equals_scoring_the_holdout_again(demo_store):
    """The hold-out scores are kept once; the score drift is exactly what loading the model and scoring gave."""
    v = versions.get_model_version(demo_store, MODEL, 1)
    with demo_store.read() as con:
        ds = get_dataset_by_id(con, v.test_dataset_id)
    with demo_store.data() as dcon:
        cur = dcon.execute(f"SELECT score, ts FROM {logs_relation(demo_store, MODEL, 1)} "
                           f"WHERE {scope_sql('production', None, None)} AND score IS NOT NULL").df()
    assert holdout_scores.path(demo_store, v, ds).exists()  # kept when the demo's traffic was first reviewed
    est = artifacts.load(demo_store.artifacts_dir, v.sha256, v.ref)
    ref = pd.DataFrame({"score": versions.score(est, v.task, load_frame(demo_store, ds)[v.feature_names])})
    stored = pd.read_parquet(holdout_scores.path(demo_store, v, ds))
    assert stored["score"].tolist() == ref["score"].tolist()  # bit for bit
    mem = duckdb.connect()
    mem.register("ref_scores", ref)
    mem.register("cur_scores", cur)
    expected = drift_report.report(mem, "ref_scores", "cur_scores", columns=["score"], time_column="ts",
                                   window="day", time_sql="ts")
    mem.close()
    assert checks.review(demo_store, MODEL, 1)["result"]["score_drift"] == expected


def test_new_rows_make_it_stale_and_say_how_many(demo_store, demo_people, tmp_path):
    r = _log(demo_store, demo_people["ada"], tmp_path, n=40, refresh_snapshots=False)
    assert r.rows_ok == 40 and r.snapshots == []
    snap = snapshots.latest(demo_store, demo_people["vera"], MODEL, 1, "production")
    assert not snap.current and snap.new_rows == 40 and snap.new_outcomes == 0
    assert snap.review["result"]["rows"] == snap.stamp["log_rows"]  # the old figures, as they were
    assert snap.age_seconds() >= 0
    # Anyone who may view it may refresh it; the fresh one counts the new rows.
    fresh = snapshots.refresh(demo_store, demo_people["vera"], MODEL, 1, "production")
    assert fresh.current and fresh.review["result"]["rows"] == snap.review["result"]["rows"] + 40
    assert snapshots.latest(demo_store, demo_people["ada"], MODEL, 1, "production").current
    # Rows of another environment add no production rows, but the review's ingestion section counts every run
    # of the model: stale, with nothing new in scope.
    f = tmp_path / "staging.csv"
    _rows(demo_store, 10, "stg").to_csv(f, index=False)
    ingest.log_predictions(demo_store, demo_people["ada"], MODEL, 1, f, time_column="ts", id_column="rid",
                           environment="staging", refresh_snapshots=False)
    snap = snapshots.latest(demo_store, demo_people["vera"], MODEL, 1, "production")
    assert not snap.current and snap.new_rows == 0


def test_ingest_outcomes_and_the_scheduled_check_refresh_it(demo_store, demo_people, tmp_path):
    ada = demo_people["ada"]
    before = snapshots.latest(demo_store, ada, MODEL, 1, "production")
    r = _log(demo_store, ada, tmp_path, n=30, prefix="hook")
    assert [(s["version"], s["environment"], s["window"], s["ok"]) for s in r.snapshots] == \
        [(1, "production", "day", True)]
    assert r.as_dict()["snapshots"] == r.snapshots
    after = snapshots.latest(demo_store, ada, MODEL, 1, "production")
    assert after.current and after.review["result"]["rows"] == before.review["result"]["rows"] + 30
    # Outcomes can change every logged version's performance: each (version, environment) with logs is refreshed.
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"rid": [f"hook-{i}" for i in range(30)], "y": [i % 2 for i in range(30)]}).to_csv(labels, index=False)
    o = ingest.log_outcomes(demo_store, ada, MODEL, labels, id_column="rid", label_column="y")
    assert {(s["version"], s["environment"]) for s in o.snapshots if s["ok"]} == {(1, "production"), (2, "production")}
    snap = snapshots.latest(demo_store, ada, MODEL, 1, "production")
    assert snap.current and snap.stamp["outcome_rows"] == before.stamp["outcome_rows"] + 30
    # The scheduled run (`modelgov monitor` as a person) stores the same review it raised alerts from.
    _log(demo_store, ada, tmp_path, n=5, prefix="late", refresh_snapshots=False)
    assert not snapshots.latest(demo_store, ada, MODEL, 1, "production").current
    out = checks.check(demo_store, ada, MODEL, 1)
    assert out["snapshot"]["ok"]
    snap = snapshots.latest(demo_store, ada, MODEL, 1, "production")
    assert snap.current and snap.review["summary"] == out["summary"]


def test_a_failing_snapshot_never_fails_the_ingest(demo_store, demo_people, tmp_path, monkeypatch):
    def broken(*_a, **_k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(snapshots, "refresh", broken)
    with demo_store.read() as con:
        audited = con.execute("SELECT count(*) FROM audit_log WHERE action = 'predictions.log'").fetchall()[0][0]
    r = _log(demo_store, demo_people["ada"], tmp_path, n=20, prefix="fire")
    assert r.rows_ok == 20
    assert r.snapshots[0]["ok"] is False and "disk on fire" in r.snapshots[0]["error"]
    with demo_store.read() as con:  # the rows and their audit event committed as before
        assert con.execute("SELECT count(*) FROM audit_log WHERE action = 'predictions.log'").fetchall()[0][0] == \
            audited + 1
    snap = snapshots.latest(demo_store, demo_people["ada"], MODEL, 1, "production")
    assert not snap.current and snap.new_rows == 20


@pytest.mark.parametrize("call", ["latest", "refresh"])
def test_people_without_a_role_are_refused_and_the_refusal_is_audited(demo_store, call):
    with demo_store.read() as con:
        stored = con.execute("SELECT count(*), max(computed_at) FROM monitoring_results").fetchall()[0]
    with pytest.raises(Forbidden, match="nobody@example.com"):
        getattr(snapshots, call)(demo_store, NOBODY, MODEL, 1, "production")
    with pytest.raises(Forbidden):
        getattr(snapshots, call)(demo_store, None, MODEL, 1, "production")
    with demo_store.read() as con:
        assert con.execute("SELECT count(*), max(computed_at) FROM monitoring_results").fetchall()[0] == stored
        refused = con.execute("SELECT actor, action, outcome FROM audit_log ORDER BY seq DESC LIMIT 2").fetchall()
    permission = "view" if call == "latest" else "compute-results"
    assert refused == [("anonymous", permission, "refused"), ("nobody@example.com", permission, "refused")]


def _refresh_in_another_process(home: str, window: str) -> str:
    from core.identity import identity_for

    store = Store(home)
    snap = snapshots.refresh(store, identity_for(store, "vera@modelgov.demo"), MODEL, 2, "production", window)
    return snap.computed_at.isoformat()


def test_two_processes_refreshing_at_once_leave_one_whole_result(demo_store, demo_people):
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        done = pool.starmap(_refresh_in_another_process, [(str(demo_store.home), "week")] * 2)
    assert len(done) == 2
    with demo_store.read() as con:
        rows = con.execute("SELECT count(*) FROM monitoring_results r JOIN model_versions v ON v.id = r.version_id "
                           "WHERE v.version = 2 AND r.environment = 'production' AND r.time_window = 'week'"
                           ).fetchall()[0][0]
    assert rows == 1
    snap = snapshots.latest(demo_store, demo_people["vera"], MODEL, 2, "production", "week")
    assert snap.current and snap.computed_at.isoformat() in done
    same(checks.review(demo_store, MODEL, 2, environment="production", window="week"), snap.review)


def test_cli_ingest_reports_its_snapshots_and_can_skip_them(demo_store, demo_people, tmp_path, cli):
    import json

    f = tmp_path / "cli.csv"
    _rows(demo_store, 15, "cli").to_csv(f, index=False)
    r = cli(demo_store, "log-predictions", "credit-default:1", "--input", str(f), "--time-column", "ts",
            "--id-column", "rid", "--no-snapshot", "--json", as_="ada@modelgov.demo")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["logged"] == 15 and out["snapshots"] == []
    assert snapshots.latest(demo_store, demo_people["ada"], MODEL, 1, "production").new_rows == 15
    f2 = tmp_path / "cli2.csv"
    _rows(demo_store, 5, "cli2").to_csv(f2, index=False)
    r = cli(demo_store, "log-predictions", "credit-default:1", "--input", str(f2), "--time-column", "ts",
            "--id-column", "rid", "--json", as_="ada@modelgov.demo")
    assert r.code == 0, r.err
    assert [(s["version"], s["environment"], s["ok"]) for s in json.loads(r.out)["snapshots"]] == \
        [(1, "production", True)]
    assert snapshots.latest(demo_store, demo_people["ada"], MODEL, 1, "production").current


def test_a_review_keeps_nan_and_infinities_in_json_both_backends_accept():
    """PostgreSQL's json type refuses a bare NaN; the stored review tags non-finite numbers and reads them back."""
    import json
    import math

    import numpy as np

    from core.monitoring.snapshots import _dumps, _loads

    review = {"p_value": float("nan"), "stats": [1.5, float("inf"), -float("inf")], "np": np.float64("nan"),
              "word": "NaN", "n": np.int64(3)}
    text = _dumps(review)
    assert "NaN," not in text and "Infinity]" not in text
    json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))  # strict JSON: no bare NaN
    back = _loads(text)
    assert math.isnan(back["p_value"]) and math.isnan(back["np"]) and back["stats"][1:] == [math.inf, -math.inf]
    assert back["word"] == "NaN" and back["n"] == 3 and back["stats"][0] == 1.5
    assert math.isnan(_loads('{"p": NaN}')["p"])  # a review an older ModelGov stored still reads
