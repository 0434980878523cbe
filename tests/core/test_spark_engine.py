"""The Spark engine gives DuckDB's numbers: drift of files and monitoring of the demo month, to 1e-9.

One SparkSession on local[2] with small settings serves the module (a JVM costs seconds); the module is one xdist
group, so one worker holds the JVM (`make test` runs pytest with `--dist loadgroup`). Without pyspark or Java the
Spark tests skip saying why; MODELGOV_REQUIRE_SPARK=1 (set by .ci/run) makes that a failure.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pandas as pd
import pytest

from core import engine
from core.drift.report import DriftConfig, files_report
from core.errors import InvalidInput

pytestmark = pytest.mark.xdist_group("spark")


@pytest.fixture(scope="module")
def spark():
    missing = engine.spark_available()
    if missing:
        if os.environ.get("MODELGOV_REQUIRE_SPARK") == "1":
            pytest.fail(missing)
        pytest.skip(missing)
    import warnings

    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("modelgov-tests")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.default.parallelism", "2")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.driver.memory", "1g")
               # The JVM only ever runs these short jobs: its quick compiler alone and the serial collector spend
               # less CPU compiling and collecting (the module took 66 s instead of 94 s alone, on a machine the other
               # worker shares). Neither changes what a query computes.
               .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
               .config("spark.sql.catalogImplementation", "in-memory")
               .config("spark.sql.session.timeZone", "UTC")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    engine._session = None


def assert_same(a, b, path: str = "") -> None:
    """Equal structures; floats to 1e-9 (relative above 1), NaN equal to NaN."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), (path, set(a) ^ set(b))
        for k in a:
            assert_same(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), (path, a, b)
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-9 * max(1.0, abs(a)), (path, a, b)
    else:
        assert a == b and type(a) is type(b), (path, a, b)


QUOTED, SPACED, UNICODE = 'quo"te\'s `x`', "two words", "Größe ü €"


def hostile_frames(n: int = 300) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ties, NaN and NULL, a constant column, a column NULL in some windows, unseen categories, values near the
    int64 limit, booleans, a gap of empty days, and names with quotes, spaces, backticks and unicode."""
    rng = np.random.default_rng(7)
    ref = pd.DataFrame({
        "ties": rng.integers(0, 4, n).astype(float),
        "with_nan": np.where(rng.random(n) < 0.15, np.nan, rng.normal(size=n).round(2)),
        "with_null": pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(0, 50, n)), dtype="Int64"),
        "constant": np.full(n, 3.5),
        "big": rng.integers(2**62, 2**62 + 6, n, dtype=np.int64),
        "flag": rng.random(n) < 0.3,
        "cat": rng.choice(["a", "b", "c"], n),
        QUOTED: rng.normal(size=n).round(1),
        SPACED: rng.choice(["x y", "z"], n),
        UNICODE: rng.exponential(size=n).round(3),
    })
    cur = ref.sample(frac=1.0, random_state=3).reset_index(drop=True)
    cur["ties"] = cur["ties"] + (np.arange(n) > n // 2)  # a shift half way
    cur.loc[: n // 5, "cat"] = "unseen ü"
    cur.loc[n // 5: n // 4, "cat"] = None
    cur.loc[: n // 3, "with_nan"] = np.nan  # the first days hold no value of this column at all
    cur["constant"] = 3.5
    cur[QUOTED] = cur[QUOTED] * 1.5
    # Ten minutes apart, then a gap of three days with no row (empty windows), then the rest.
    minutes = np.arange(n) * 10 + np.where(np.arange(n) >= n // 2, 3 * 1440, 0)
    cur["ts"] = pd.Timestamp("2026-03-01 23:00") + pd.to_timedelta(minutes, unit="min")
    return ref, cur


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    ref, cur = hostile_frames()
    out = {}
    for ext in ("parquet", "csv"):
        r, c = folder / f"reference.{ext}", folder / f"current.{ext}"
        if ext == "parquet":
            ref.to_parquet(r)
            cur.to_parquet(c)
        else:
            ref.to_csv(r, index=False)
            cur.to_csv(c, index=False)
        out[ext] = (str(r), str(c))
    return out


def test_drift_of_hostile_files_equals_duckdb_on_every_statistic_and_verdict(spark, hostile_files):
    config = DriftConfig.from_dict({"columns": {"ties": {"method": "psi"}, "cat": {"method": "jensenshannon"},
                                                UNICODE: {"method": "wasserstein"}, SPACED: {"method": "chisquare"},
                                                "big": {"kind": "categorical"}}})
    # Each report holds the overall comparison ("columns") and every window's: both are compared.
    for ext, window, cfg, methods in (("parquet", "day", config, {"ks", "psi", "jensenshannon", "wasserstein",
                                                                   "chisquare"}),
                                      ("csv", "week", None, {"ks", "chisquare", "z"})):
        ref, cur = hostile_files[ext]
        kw = dict(time_column="ts", window=window, config=cfg)
        duck = files_report(ref, cur, **kw)
        sparked = files_report(ref, cur, engine="spark", **kw)
        assert_same(duck, sparked, f"{ext}/{window}")
        assert any(c["drifted"] for c in duck["columns"]) and any(not c["drifted"] for c in duck["columns"])
        assert methods <= {c["method"] for c in duck["columns"]}
        if window == "day":  # the three empty days (March 3 to 5) are no window, in either engine
            assert len(duck["windows"]) == 4


def test_refusals_are_the_same_sentence_on_both_engines(spark, tmp_path):
    ref, cur = hostile_frames(60)
    cur.loc[3, "with_nan"] = np.inf
    ref.to_parquet(tmp_path / "r.parquet")
    cur.to_parquet(tmp_path / "c.parquet")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    for args in ((tmp_path / "r.parquet", tmp_path / "c.parquet"), (tmp_path / "r.parquet", tmp_path / "bad.parquet")):
        messages = []
        for eng in ("duckdb", "spark"):
            with pytest.raises(InvalidInput) as e:
                files_report(str(args[0]), str(args[1]), time_column="ts", engine=eng)
            messages.append(str(e.value))
        if "bad" in str(args[1]):  # each engine says why in its own words, after the same first part
            assert all(m.startswith(f"The file {args[1]} could not be read as CSV or Parquet (") for m in messages)
        else:
            assert messages[0] == messages[1] and "infinite values in with_nan (1 row)" in messages[0]


def test_monitoring_the_demo_month_equals_duckdb(spark, demo_store, cli):
    """The demo month of credit-default (binary: AUC, Brier, calibration; 23 inputs; score drift) through the CLI
    end to end, and wine-cultivar (multiclass: one-vs-rest AUC, log loss, predicted-class drift) in core."""
    from core.monitoring.report import monitor

    duck = cli(demo_store, "monitor", "credit-default", "--no-store", "--json")
    sparked = cli(demo_store, "monitor", "credit-default", "--no-store", "--json", "--engine", "spark")
    assert duck.code == sparked.code == 0, sparked.err
    a, b = json.loads(duck.out), json.loads(sparked.out)
    assert_same(a, b)
    # Every window's AUC, None where a day holds one class only (the demo's last day, by the clock, may hold two rows).
    assert sum(p["auc"] is not None for p in a["performance"]) >= len(a["performance"]) - 1 >= 20
    assert a["score_drift"]["columns"]
    assert_same(monitor(demo_store, "wine-cultivar"), monitor(demo_store, "wine-cultivar", engine="spark"))


def test_the_cli_flag_end_to_end_and_its_refusals(spark, hostile_files, demo_store, cli, monkeypatch):
    ref, cur = hostile_files["parquet"]
    duck = cli(demo_store, "drift", ref, cur, "--time-column", "ts", "--json")
    monkeypatch.setenv("MODELGOV_ENGINE", "spark")  # the environment chooses; the flag would too
    sparked = cli(demo_store, "drift", ref, cur, "--time-column", "ts", "--json")
    assert duck.code == sparked.code == 0 and sparked.err == ""
    assert_same(json.loads(duck.out), json.loads(sparked.out))


def test_an_unknown_or_missing_engine_is_one_sentence(demo_store, cli, monkeypatch, tmp_path):
    ref, cur = hostile_frames(40)
    ref.to_parquet(tmp_path / "r.parquet")
    cur.to_parquet(tmp_path / "c.parquet")
    r = cli(demo_store, "drift", str(tmp_path / "r.parquet"), str(tmp_path / "c.parquet"), "--engine", "hadoop")
    assert r.code == 2 and r.err.strip() == ("modelgov: Unknown engine 'hadoop'; use one of duckdb, spark (--engine "
                                             "or MODELGOV_ENGINE).")
    r = cli(demo_store, "monitor", "credit-default", "--no-store", "--engine", "hadoop")
    assert r.code == 2 and "Unknown engine 'hadoop'" in r.err and "Traceback" not in r.err
    # Spark asked for where it cannot start: what to install, never a traceback.
    monkeypatch.setattr(engine, "_session", None)
    monkeypatch.setattr(engine, "spark_available", lambda: "The Spark engine needs Java, which was not found (no "
                        "`java` on PATH, no JAVA_HOME): " + engine.INSTALL_SPARK + ".")
    for args in (("drift", str(tmp_path / "r.parquet"), str(tmp_path / "c.parquet"), "--engine", "spark"),
                 ("monitor", "credit-default", "--no-store", "--engine", "spark")):
        r = cli(demo_store, *args)
        assert r.code == 2 and "needs Java" in r.err and "default-jre-headless" in r.err, r.err
        assert len(r.err.strip().splitlines()) == 1 and r.out == ""


def test_text_literals_read_back_exactly_in_both_dialects(spark):
    """Class labels and environments are written into the reduction SQL as literals. Spark reads backslash escapes
    and takes '' as two literals run together, so DuckDB's spelling would end a Spark literal early at a value
    ending in a backslash; each dialect spells its own."""
    import duckdb

    values = ["it's", "x\\", "a\\' OR 1=1 --", "\\\\'", "''", "naïve 列 🚀", "tab\there", "line\nbreak", "%_"]
    spark_sql = "SELECT " + ", ".join(f"{engine.SparkDialect.literal(v)} AS c{i}" for i, v in enumerate(values))
    duck_sql = "SELECT " + ", ".join(f"{engine.Dialect.literal(v)} AS c{i}" for i, v in enumerate(values))
    assert list(spark.sql(spark_sql).collect()[0]) == values
    assert list(duckdb.sql(duck_sql).fetchall()[0]) == values
