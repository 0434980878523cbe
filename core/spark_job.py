"""`spark-submit` entry point: a `modelgov` command run as a Spark application, its reductions on the cluster.

    spark-submit --master yarn --deploy-mode client "$(python -c 'import core.spark_job as j; print(j.__file__)')" \
        monitor --all --window day --json

The arguments are `modelgov`'s. The session spark-submit configured (master, executors, memory) becomes the
engine's (`core.engine.spark_session` takes the active session, its time zone set to UTC), and MODELGOV_ENGINE is
spark unless set otherwise. Only SQL runs on the executors (no Python code is shipped to them), so they need no
ModelGov install; the driver needs ModelGov, the store (MODELGOV_DATABASE_URL for a shared PostgreSQL store) and
the data location at a path the executors read too (MODELGOV_DATA_DIR on a shared file system). docs/monitoring.md.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    import warnings

    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("modelgov").config("spark.sql.session.timeZone", "UTC").getOrCreate()
    os.environ.setdefault("MODELGOV_ENGINE", "spark")
    from core.cli import main as cli

    try:
        return cli(sys.argv[1:] if argv is None else argv)
    finally:
        spark.stop()


if __name__ == "__main__":
    sys.exit(main())
