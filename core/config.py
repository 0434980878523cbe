"""Where the store lives and the few settings read from the environment."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_home() -> Path:
    """`MODELGOV_HOME`, else the project's `data/` folder (or ./data when installed elsewhere)."""
    env = os.environ.get("MODELGOV_HOME")
    if env:
        return Path(env).expanduser().resolve()
    if (PROJECT_ROOT / "pyproject.toml").exists():
        return PROJECT_ROOT / "data"
    return Path.cwd() / "data"


def lock_timeout() -> float:
    """Seconds a unit of work waits for another process's lock before giving up."""
    try:
        return float(os.environ.get("MODELGOV_LOCK_TIMEOUT", "15"))
    except ValueError:
        return 15.0


def data_dir() -> Path | None:
    """`MODELGOV_DATA_DIR`: where prediction logs, outcomes and cached result files live (shared storage when several
    replicas serve one metadata store); None when unset (the home's `data/`)."""
    env = os.environ.get("MODELGOV_DATA_DIR")
    return Path(env).expanduser().resolve() if env else None


def database_url() -> str | None:
    """`MODELGOV_DATABASE_URL` (postgresql://user:pass@host:port/db) when the metadata lives on PostgreSQL."""
    return os.environ.get("MODELGOV_DATABASE_URL") or None
