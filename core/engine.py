"""Which engine reduces data files to counts: DuckDB (the default, in process) or Apache Spark.

Drift and monitoring are aggregations: each column becomes counts per (window, value), each window's labelled
scores a few sums, and the statistics follow from those small tables in numpy (`drift/stattests.py`, `drift/ecdf.py`:
one definition of each statistic). The engines differ only in running that reduction. Its SQL is written once; the
few places where DuckDB and Spark SQL spell a thing differently are the methods of a `Dialect` below, and the
connection a reduction runs on carries its dialect (`dialect_of(con)`).

Spark (`MODELGOV_ENGINE=spark` or `--engine spark`; `MODELGOV_SPARK_MASTER`, default `local[*]`) reads the Parquet
or CSV files where they lie; only the reduced tables come back to the driver (`toPandas()` / `collect()` of grouped
results), never the rows. pyspark and a Java runtime are optional: asking for Spark without them is one sentence
saying what to install.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from typing import Any

from .errors import InvalidInput

ENGINES = ("duckdb", "spark")


def resolve(engine: str | None = None) -> str:
    """The engine to use: `engine` if given, else MODELGOV_ENGINE, else duckdb. Raises InvalidInput naming the
    engines when it is none of them."""
    name = (engine if engine is not None else os.environ.get("MODELGOV_ENGINE") or "duckdb").strip().lower()
    if name not in ENGINES:
        raise InvalidInput(f"Unknown engine {name!r}; use one of {', '.join(ENGINES)} (--engine or MODELGOV_ENGINE).")
    return name


# -- dialects ---------------------------------------------------------------------------------------------------------

class Dialect:
    """DuckDB's spelling of the pieces of reduction SQL that differ between engines (the default)."""

    name = "duckdb"
    # Reduce all numeric columns in one statement (Spark: each statement is a job with a fixed cost) rather than
    # one column at a time while a thread computes the last one's statistics (DuckDB).
    batch_columns = False

    def quote(self, name: str) -> str:
        from .sql import quote

        return quote(name)

    @staticmethod
    def literal(text: str) -> str:
        from .sql import literal

        return literal(text)

    def text(self, expr: str) -> str:
        return f"CAST({expr} AS VARCHAR)"

    def double_or_nan(self, expr: str) -> str:
        """A numeric column as DOUBLE with NULL as NaN: missing values count in one group with NaN."""
        return f"coalesce(CAST({expr} AS DOUBLE), CAST('NaN' AS DOUBLE))"

    def is_infinite(self, expr: str) -> str:
        return f"isinf({expr})"

    def try_timestamp(self, expr: str) -> str:
        return f"TRY_CAST({expr} AS TIMESTAMP)"

    def utc_timestamp(self, expr: str) -> str:
        from .sql import utc_timestamp

        return utc_timestamp(expr)

    def window_epoch(self, window: str, ts: str) -> str:
        """The start of `ts`'s window (hour, day, ISO week from Monday) in seconds since the epoch, UTC."""
        return f"CAST(epoch(date_trunc('{window}', {ts})) AS BIGINT)"

    def window_text(self, window: str, ts: str) -> str:
        """The start of `ts`'s window as text, 'YYYY-MM-DD HH:MM:SS' (DuckDB's CAST(TIMESTAMP AS VARCHAR))."""
        return f"CAST(date_trunc('{window}', {ts}) AS VARCHAR)"

    def timestamp_text(self, expr: str) -> str:
        return f"CAST({expr} AS VARCHAR)"

    def list_item(self, expr: str, index1: str) -> str:
        """The `index1`-th element (1-based) of a list column."""
        return f"list_extract({expr}, {index1})"

    def integers_below(self, k: int, name: str) -> str:
        """A relation of one column `name` holding 0 … k−1."""
        return f"(SELECT unnest(range({int(k)})) AS {name})"

    def files(self, paths: list[str], *, by_name: bool = False) -> str:
        """Parquet files (absolute paths) read in place as one relation."""
        from .sql import literal

        listed = ", ".join(literal(str(p)) for p in paths)
        return f"read_parquet([{listed}]{', union_by_name = true' if by_name else ''})"

    def temp_table(self, con, name: str, select: str) -> None:
        """`select` kept as this connection's table `name` (DuckDB: materialised, so the files are read once)."""
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {select}")

    def describe(self, con, relation: str) -> dict[str, str]:
        """Column name → DuckDB type name."""
        return {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()}


DUCKDB = Dialect()


def dialect_for(engine: str) -> type[Dialect]:
    """The dialect class of an engine by name, for what is written before a connection exists (literals)."""
    return SparkDialect if engine == "spark" else Dialect


def dialect_of(con) -> Dialect:
    """The dialect of a connection: a Spark connection carries its own; anything else speaks DuckDB's SQL."""
    return getattr(con, "dialect", None) or DUCKDB


# Spark's types as the DuckDB type names the rest of core reads (kind_of, TEMPORAL_TYPES).
_SPARK_TYPES = {"ByteType": "TINYINT", "ShortType": "SMALLINT", "IntegerType": "INTEGER", "LongType": "BIGINT",
                "FloatType": "FLOAT", "DoubleType": "DOUBLE", "StringType": "VARCHAR", "VarcharType": "VARCHAR",
                "CharType": "VARCHAR", "BooleanType": "BOOLEAN", "DateType": "DATE",
                "TimestampType": "TIMESTAMP WITH TIME ZONE", "TimestampNTZType": "TIMESTAMP", "BinaryType": "BLOB",
                "NullType": "NULL"}


def duckdb_type(spark_type) -> str:
    kind = type(spark_type).__name__
    if kind == "DecimalType":
        return f"DECIMAL({spark_type.precision},{spark_type.scale})"
    if kind == "ArrayType":
        return duckdb_type(spark_type.elementType) + "[]"
    return _SPARK_TYPES.get(kind, kind.removesuffix("Type").upper())


class SparkDialect(Dialect):
    """Spark SQL's spelling (session time zone UTC; see `spark_session`)."""

    name = "spark"
    batch_columns = True

    def __init__(self, spark) -> None:
        self.spark = spark
        self._views: dict[str, str] = {}
        self._cached: set[str] = set()

    def quote(self, name: str) -> str:
        from .sql import quote

        quote(name)  # the same names are refused (empty, NUL)
        return "`" + name.replace("`", "``") + "`"

    @staticmethod
    def literal(text: str) -> str:
        """Spark reads backslash escapes in string literals and takes '' as two literals run together, so DuckDB's
        doubled quote would let a value ending in a backslash (a class label, say) end the literal early."""
        from .sql import refuse_nul

        refuse_nul(text)
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def text(self, expr: str) -> str:
        return f"CAST({expr} AS STRING)"

    def is_infinite(self, expr: str) -> str:
        return f"(abs({expr}) = CAST('Infinity' AS DOUBLE))"

    def try_timestamp(self, expr: str) -> str:
        return f"try_cast({expr} AS TIMESTAMP)"

    def utc_timestamp(self, expr: str) -> str:
        # An offset keeps the instant, a time without one is read in the session's time zone (UTC): as DuckDB does.
        return f"try_cast({expr} AS TIMESTAMP)"

    def window_epoch(self, window: str, ts: str) -> str:
        return f"unix_timestamp(date_trunc('{window.upper()}', {ts}))"

    def window_text(self, window: str, ts: str) -> str:
        return f"date_format(date_trunc('{window.upper()}', {ts}), 'yyyy-MM-dd HH:mm:ss')"

    def timestamp_text(self, expr: str) -> str:
        return f"CAST({expr} AS STRING)"

    def list_item(self, expr: str, index1: str) -> str:
        return f"element_at({expr}, CAST({index1} AS INT))"

    def integers_below(self, k: int, name: str) -> str:
        return f"(SELECT explode(sequence(0, {int(k) - 1})) AS {name})"

    def files(self, paths: list[str], *, by_name: bool = False) -> str:
        """The files as a temporary view (Spark SQL has no list-of-files relation); one view per set of files."""
        key = hashlib.sha256("\n".join(map(str, paths)).encode()).hexdigest()[:16]
        view = self._views.get(key)
        if view is None:
            view = f"mg_files_{key}"
            reader = self.spark.read.option("mergeSchema", "true") if by_name else self.spark.read
            reader.parquet(*[str(p) for p in paths]).createOrReplaceTempView(view)
            self._views[key] = view
        return view

    def temp_table(self, con, name: str, select: str) -> None:
        # Cached where Spark keeps data (its executors' memory, spilling to their disks), as DuckDB materialises it:
        # the report's dozens of statements then do not each open every file again. Never on the driver.
        self.spark.catalog.dropTempView(name)
        con.execute(f"CACHE TABLE {name} AS {select}")
        self._cached.add(name)

    def describe(self, con, relation: str) -> dict[str, str]:
        return {f.name: duckdb_type(f.dataType) for f in self.spark.sql(f"SELECT * FROM {relation}").schema.fields}


# -- Spark ------------------------------------------------------------------------------------------------------------

class SparkResult:
    """The part of a DuckDB result the reductions use, over a Spark DataFrame (small: an aggregate)."""

    def __init__(self, frame) -> None:
        self._frame = frame

    # collect(), not toPandas(): the results are a few thousand rows at most, and pyspark 4.3 warns that it does not
    # fully support pandas 3 in its conversions.
    def fetchall(self) -> list[tuple]:
        return [tuple(r) for r in self._frame.collect()]

    def df(self):
        import pandas as pd

        return pd.DataFrame.from_records(self.fetchall(), columns=self._frame.columns)

    def fetchnumpy(self) -> dict[str, Any]:
        """Columns as arrays, through Arrow: a continuous column's counts have as many rows as distinct values."""
        table = self._frame.toArrow()
        return {c: table.column(c).to_numpy(zero_copy_only=False) for c in table.column_names}


class SparkConnection:
    """A Spark session behind the connection surface the reductions use (`execute(sql).fetchall/fetchnumpy/df`),
    with its dialect."""

    def __init__(self, spark) -> None:
        self.spark = spark
        self.dialect = SparkDialect(spark)

    def execute(self, sql: str, params: list | None = None) -> SparkResult:
        if params:
            raise ValueError("the Spark connection takes no bound parameters: reductions bind none")
        return SparkResult(self.spark.sql(sql))

    def csv_view(self, name: str, path: str) -> None:
        """A CSV file (with a header) as the view `name`, its types inferred from every row."""
        # RFC 4180 quoting (a quote inside a quoted field is doubled), as DuckDB and pandas write and read it.
        (self.spark.read.option("header", "true").option("inferSchema", "true").option("mode", "FAILFAST")
         .option("escape", '"').option("multiLine", "true").csv(path).createOrReplaceTempView(name))

    def parquet_view(self, name: str, path: str) -> None:
        self.spark.read.parquet(path).createOrReplaceTempView(name)

    def close(self) -> None:
        for name in self.dialect._cached:
            self.spark.sql(f"UNCACHE TABLE IF EXISTS {name}")
            self.spark.catalog.dropTempView(name)
        for view in self.dialect._views.values():
            self.spark.catalog.dropTempView(view)
        self.dialect._views.clear()
        self.dialect._cached.clear()


_session = None
_session_lock = threading.Lock()

INSTALL_SPARK = ("install it with `pip install 'modelgov[spark]'` and a Java runtime (17 or newer: "
                 "`apt-get install default-jre-headless`), or use --engine duckdb")


def spark_available() -> str | None:
    """None when Spark can be started here, else the sentence saying what is missing."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return f"The Spark engine needs pyspark, which is not installed: {INSTALL_SPARK}."
    java_home = os.environ.get("JAVA_HOME")
    if not (java_home and os.path.exists(os.path.join(java_home, "bin", "java"))) and not shutil.which("java"):
        return f"The Spark engine needs Java, which was not found (no `java` on PATH, no JAVA_HOME): {INSTALL_SPARK}."
    return None


def spark_session(master: str | None = None):
    """The process's SparkSession (started once: a JVM costs seconds), time zone UTC.

    An existing active session (a `spark-submit` job's, or a test's) is used as it is, its time zone set to UTC.
    Raises InvalidInput with what to install when pyspark or Java is missing or the JVM cannot start.
    """
    global _session
    with _session_lock:
        if _session is not None and _session.sparkContext._jsc is not None:
            return _session
        missing = spark_available()
        if missing:
            raise InvalidInput(missing)
        import warnings

        # pyspark 4.3 warns (at import and on its first pandas use) that pandas 3 is newer than it knows; ModelGov
        # hands it no pandas data and takes back only Arrow tables and rows.
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
        from py4j.protocol import Py4JError
        from pyspark.errors import PySparkException
        from pyspark.sql import SparkSession

        try:
            active = SparkSession.getActiveSession()
            if active is not None:
                spark = active
            else:
                master = master or os.environ.get("MODELGOV_SPARK_MASTER") or "local[*]"
                log4j = os.path.join(os.path.dirname(__file__), "spark-log4j2.properties")
                builder = SparkSession.builder.master(master).appName("modelgov")
                if master.startswith("local"):
                    # One machine: Spark's 200 shuffle partitions would make each small grouped count 200 tasks.
                    builder = builder.config("spark.sql.shuffle.partitions", str(2 * (os.cpu_count() or 1)))
                spark = (builder
                         .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{log4j}")
                         .config("spark.sql.session.timeZone", "UTC")
                         .config("spark.ui.enabled", "false")
                         .config("spark.ui.showConsoleProgress", "false")
                         .getOrCreate())
                spark.sparkContext.setLogLevel("ERROR")
        except (PySparkException, Py4JError, OSError) as e:  # no JVM: Java too old, no memory, a bad master URL
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise InvalidInput(f"Spark could not start ({first}); check MODELGOV_SPARK_MASTER and the Java runtime, "
                               "or use --engine duckdb.") from None
        # The statistics need UTC windows and exact doubles; these hold whoever made the session.
        spark.conf.set("spark.sql.session.timeZone", "UTC")
        _session = spark
        return spark


def spark_connection(master: str | None = None) -> SparkConnection:
    return SparkConnection(spark_session(master))


class _Closing:
    def __init__(self, con) -> None:
        self.con = con

    def __enter__(self):
        return self.con

    def __exit__(self, *exc) -> None:
        self.con.close()


def data_connection(store, engine: str | None = None):
    """A context giving the connection that reads the data files: `store.data()` (DuckDB), or the Spark
    connection (its file views dropped on exit)."""
    if resolve(engine) == "spark":
        return _Closing(spark_connection())
    return store.data()
