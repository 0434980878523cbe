"""The process's in-memory DuckDB for data files (prediction logs, outcomes, input files): `Store.data()` hands out its
cursors. Never the metadata store's connection; it holds no lock on it."""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import duckdb

_data_db: duckdb.DuckDBPyConnection | None = None
_data_db_lock = threading.Lock()
_data_db_pid = 0


def warm() -> None:
    """Set DuckDB up in this process before a server's first request: its first connection in a process costs about
    0.1 s, which the first page or API call would otherwise pay. Makes the process's in-memory data database."""
    cursor().close()


def cursor() -> duckdb.DuckDBPyConnection:
    """A cursor of the process's in-memory DuckDB for data files (the database made again in a forked child, which
    must not share it; cursors made under a lock, as the dashboard's threads ask at once)."""
    global _data_db, _data_db_pid
    with _data_db_lock:
        if _data_db is None or _data_db_pid != os.getpid():
            # An in-memory database spills to `.tmp` in the working folder by default: keep spills in the temp folder.
            spill = Path(tempfile.gettempdir()) / f"modelgov-data-{os.getpid()}"
            _data_db, _data_db_pid = duckdb.connect(":memory:", config={"temp_directory": str(spill)}), os.getpid()
        return _data_db.cursor()
