"""Stored monitoring results: `checks.review`'s answer per (version, environment, window), kept for pages.

A review of a month of logs takes seconds; a page must open in one. So the review is computed when data arrives
(after an ingest, an outcome upload and the scheduled `modelgov monitor` run) and stored with the stamp of the data
it read (`logs.data_stamp`). A reader gets the stored review and whether it is still current: when rows arrived
since, it says how old the review is and how many rows it does not include yet, and anyone who may view it may ask
for a fresh one.

One truth: a snapshot is `checks.review`'s answer stored as it was returned, never a second computation. It is a
derived cache, not governed data: not audited (see docs/architecture.md, "Monitoring and drift").
"""

from __future__ import annotations

import json
import math
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from ..audit import utcnow
from ..errors import Conflict, CoreError, NotFound
from ..identity import Identity, allowed, require
from ..registry.catalog import get_model_tx
from ..registry.versions import get_model_version_tx
from .checks import review_monitored
from .ingest import log_files_tx
from .logs import _monitored_tx, data_stamp, stamp_sources_tx

DEFAULT_WINDOW = "day"  # computed when data arrives; the other windows on first request
log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Snapshot:
    """A stored review and how it stands against the data now."""

    model: str
    version: int
    environment: str | None
    window: str
    review: dict[str, Any]      # checks.review's answer
    computed_at: datetime
    computed_by: str
    seconds: float              # how long the computation took
    stamp: dict[str, Any]       # the data it was computed from
    now_stamp: dict[str, Any]   # the data there is now

    @property
    def current(self) -> bool:
        """Whether the data it was computed from is still all the data there is."""
        return self.stamp == self.now_stamp

    @property
    def new_rows(self) -> int:
        """Logged predictions in scope that arrived after it was computed."""
        return max(0, self.now_stamp["log_rows"] - self.stamp["log_rows"])

    @property
    def new_outcomes(self) -> int:
        """Outcomes of the model that arrived after it was computed (relabelled requests do not add to the count)."""
        return max(0, self.now_stamp["outcome_rows"] - self.stamp["outcome_rows"])

    def age_seconds(self, now: datetime | None = None) -> float:
        return max(0.0, ((now or utcnow()) - self.computed_at).total_seconds())

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "version": self.version, "environment": self.environment,
                "window": self.window, "computed_at": self.computed_at.isoformat(), "computed_by": self.computed_by,
                "seconds": self.seconds, "current": self.current, "age_seconds": self.age_seconds(),
                "new_rows": self.new_rows, "new_outcomes": self.new_outcomes}


def _env_key(environment: str | None) -> str:
    return environment or ""  # '' = every environment (the key of a primary key cannot be NULL)


_NONFINITE = "$float"  # {"$float": "NaN"}: a number JSON cannot spell, as PostgreSQL's json type accepts it


def _dumps(value: Any) -> str:
    """The review as JSON text, NaN and the infinities (a test that could not be computed) kept as they were computed.

    JSON has no NaN: Python writes a bare `NaN`, which DuckDB stores but PostgreSQL's json type refuses. So each
    non-finite number is written as {"$float": "NaN"} and read back as the float by `_loads` (and a review stored
    with bare NaN by an older ModelGov still reads)."""
    return json.dumps(_tag(value), separators=(",", ":"), ensure_ascii=False, default=_plain, allow_nan=False)


def _tag(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return {_NONFINITE: "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"}
    if isinstance(value, dict):
        return {k: _tag(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_tag(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        return _tag(value.item())
    return value


def _loads(text: str) -> Any:
    return json.loads(text, object_hook=lambda d: float(d[_NONFINITE]) if d.keys() == {_NONFINITE} else d)


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} in a monitoring review cannot be stored")


def _read_tx(con, model: str, version: int, environment: str | None, window: str):
    """(version, its log files, the stored row or None, the metadata part of the stamp now) in one connection;
    `_now_stamp` reads the data part."""
    v = get_model_version_tx(con, model, version)
    files = log_files_tx(con, v)
    if not files:
        raise NotFound(f"{v.ref} has no logged predictions yet; score or log some first.")
    row = con.execute("SELECT CAST(result AS VARCHAR), computed_at, computed_by, seconds, CAST(data_stamp AS VARCHAR) "
                      "FROM monitoring_results WHERE version_id = ? AND environment = ? AND time_window = ?",
                      [v.id, _env_key(environment), window]).fetchall()
    model_id = con.execute("SELECT model_id FROM model_versions WHERE id = ?", [v.id]).fetchall()[0][0]
    return v, files, (row[0] if row else None), stamp_sources_tx(con, model_id)


def _now_stamp(store, files: list[str], sources: dict[str, Any], environment: str | None) -> dict[str, Any]:
    with store.data() as dcon:
        return data_stamp(dcon, store, files, sources, environment)


def latest(store, actor: Identity, model: str, version: int, environment: str | None = "production",
           window: str = DEFAULT_WINDOW) -> Snapshot | None:
    """The stored review of `model:version` in `environment` per `window`, with whether it is current; None when
    none was stored yet.

    Needs `view`. Records nothing (a refusal is audited). Raises Forbidden, NotFound (no such version, or nothing
    logged for it).
    """
    _require(store, actor, "view", model)
    with store.read() as con:
        v, files, row, sources = _read_tx(con, model, version, environment, window)
    if row is None:
        return None
    now = _now_stamp(store, files, sources, environment)
    result, computed_at, computed_by, seconds, stamp = row
    return Snapshot(model, v.version, environment, window, _loads(result), computed_at, computed_by, seconds,
                    _loads(stamp), now)


def refresh(store, actor: Identity, model: str, version: int, environment: str | None = "production",
            window: str = DEFAULT_WINDOW, progress: Progress | None = None) -> Snapshot:
    """Compute the review of `model:version` in `environment` per `window` now and store it.

    Needs `compute-results` (anyone who may view the review may ask for a fresh one: it changes no governed
    data). Records nothing: a derived cache (see the module's docstring). Raises Forbidden (before any work),
    NotFound, InvalidInput.
    """
    _require(store, actor, "compute-results", model)
    if progress:
        progress(0.05, f"Computing drift and performance of {model}:{version}…")
    started = time.perf_counter()
    reviewed, mon = review_monitored(store, model, version, environment=environment, window=window)
    seconds = time.perf_counter() - started
    if progress:
        progress(0.9, "Storing the result…")
    snap = save(store, actor, reviewed, mon.stamp, environment, window, seconds)
    if progress:
        progress(1.0, "Done.")
    return snap


def save(store, actor: Identity, reviewed: dict[str, Any], stamp: dict[str, Any], environment: str | None,
         window: str, seconds: float) -> Snapshot:
    """Store a review just computed by `checks.review_monitored` (with the stamp of the data it read).

    A review computed from older data never replaces one computed from newer data (two refreshes racing, the
    slower one started first). Needs `compute-results`.
    """
    model, version = reviewed["result"]["model"], reviewed["result"]["version"]
    text, stamp_text, now = _dumps(reviewed), _dumps(stamp), utcnow()
    for attempt in range(3):
        try:
            with store.transaction() as con:
                require(actor, "compute-results", "monitoring_result", f"{model}:{version}")
                v = get_model_version_tx(con, model, version)
                con.execute(
                    """INSERT INTO monitoring_results (version_id, environment, time_window, result, computed_at,
                           computed_by, seconds, log_rows, log_last, outcome_rows, ingest_run, data_stamp)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                       ON CONFLICT (version_id, environment, time_window) DO UPDATE SET result = excluded.result,
                           computed_at = excluded.computed_at,
                           computed_by = excluded.computed_by, seconds = excluded.seconds,
                           log_rows = excluded.log_rows, log_last = excluded.log_last,
                           outcome_rows = excluded.outcome_rows, ingest_run = excluded.ingest_run,
                           data_stamp = excluded.data_stamp
                       WHERE coalesce(excluded.ingest_run, 0) >= coalesce(monitoring_results.ingest_run, 0)""",
                    [v.id, _env_key(environment), window, text, now, actor.email, seconds, stamp["log_rows"],
                     stamp["log_last"], stamp["outcome_rows"], stamp["ingest_run"], stamp_text])
                _r, files, row, sources = _read_tx(con, model, version, environment, window)
            break
        except Conflict:
            # Another thread of this process stored the same result at the same moment: its row stands, or
            # ours goes in on the next attempt.
            if attempt == 2:
                raise
            time.sleep(0.05 * (attempt + 1))
    now_stamp = _now_stamp(store, files, sources, environment)
    result, computed_at, computed_by, secs, kept = row
    if computed_at != now or computed_by != actor.email:  # a newer review won: return that one
        return Snapshot(model, version, environment, window, _loads(result), computed_at, computed_by, secs,
                        _loads(kept), now_stamp)
    return Snapshot(model, version, environment, window, _loads(text), now, actor.email, seconds,
                    _loads(stamp_text), now_stamp)


def latest_or_refresh(store, actor: Identity, model: str, version: int, environment: str | None = "production",
                      window: str = DEFAULT_WINDOW, progress: Progress | None = None) -> Snapshot:
    """The stored review, or (when none was ever stored) the review computed now and stored. Stale ones are
    returned as they are: `Snapshot.current` says so, and `refresh` makes a new one."""
    snap = latest(store, actor, model, version, environment, window)
    return snap if snap is not None else refresh(store, actor, model, version, environment, window, progress)


def refresh_after_ingest(store, actor: Identity, model: str, targets: list[tuple[int, str | None]] | None
                         ) -> list[dict[str, Any]]:
    """Refresh the default window's snapshot of each (version, environment) an ingest touched (None: every one
    with logs, which outcomes can change); never raises.

    An ingest has committed by the time this runs, and it stands whatever happens here: a snapshot that could not
    be computed is reported in the ingest's result (and logged), and the page computes it on its next visit. Rows
    logged without an environment are in no environment's review, so they refresh nothing.
    """
    if targets is None:
        try:
            targets = logged_targets(store, model)
        except Exception as e:  # noqa: BLE001 — see _quietly
            return [_failed(model, None, None, DEFAULT_WINDOW, e, 0.0)]
    wanted = sorted({(v, e) for v, e in targets if e})
    return [_quietly(model, version, environment, DEFAULT_WINDOW,
                     lambda v=version, e=environment: refresh(store, actor, model, v, e, DEFAULT_WINDOW))
            for version, environment in wanted]


def logged_targets(store, model: str) -> list[tuple[int, str]]:
    """Every (version, environment) with logged predictions of `model`."""
    with store.read() as con:
        return [(v["version"], e) for v in _monitored_tx(con, get_model_tx(con, model).id) for e in v["environments"]]


def save_quietly(store, actor: Identity, reviewed: dict[str, Any], stamp: dict[str, Any], environment: str | None,
                 window: str, seconds: float) -> dict[str, Any]:
    """`save`, reporting a failure instead of raising it (for runs whose own work has committed)."""
    return _quietly(reviewed["result"]["model"], reviewed["result"]["version"], environment, window,
                    lambda: save(store, actor, reviewed, stamp, environment, window, seconds))


def _quietly(model: str, version: int, environment: str | None, window: str, fn: Callable[[], Any]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        fn()
    except Exception as e:  # noqa: BLE001 — a derived cache must never fail (or undo) a run that committed
        return _failed(model, version, environment, window, e, time.perf_counter() - started)
    return {"version": version, "environment": environment, "window": window, "ok": True,
            "seconds": round(time.perf_counter() - started, 3)}


def _failed(model: str, version: int | None, environment: str | None, window: str, e: Exception,
            seconds: float) -> dict[str, Any]:
    log.warning("monitoring snapshot of %s:%s in %s (%s) failed", model, version, environment, window,
                exc_info=not isinstance(e, CoreError))
    return {"version": version, "environment": environment, "window": window, "ok": False,
            "error": str(e) if isinstance(e, CoreError) else f"{type(e).__name__}: {e}", "seconds": round(seconds, 3)}


def _require(store, actor: Identity | None, permission: str, model: str) -> None:
    """Refuse before any work; the refusal is audited (in a transaction of its own)."""
    if not allowed(actor, permission):
        with store.transaction():
            require(actor, permission, "monitoring_result", model)
