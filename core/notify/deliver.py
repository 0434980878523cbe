"""Delivering the outbox after commit: webhooks over HTTP(S), e-mail over SMTP; retries, back-off, the log.

Safe with several processes delivering at once (the dashboard, `modelgov hooks deliver`, `monitor --all`): a
process first takes a short lease on a hook in a transaction (`notification_hooks.lease_owner/lease_until`), so one
process at a time sends a hook's queue, in the order of its events; the deliveries themselves are unique per
(hook, event). The store is not held while anything is sent: one transaction claims a batch, the requests go out,
one transaction records their outcome.

Each delivery is sent until it succeeds (2xx; an SMTP server that accepts the message), at most
`tries_per_run` times in one run; then its hook waits for a later run, after a back-off that doubles with each
attempt, and is given up (`failed`, redeliver it by hand) after `max_attempts`. A later event of a hook is never
sent before an earlier one succeeded or was given up. A process that dies between a receiver's 2xx and recording
it sends that event again later, with the same idempotency id (`X-ModelGov-Id`, `Idempotency-Key`): receivers
drop a repeated id.
"""

from __future__ import annotations

import http.client
import os
import smtplib
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from ..audit import record, utcnow
from ..errors import Conflict, CoreError
from ..events import HookTested
from ..identity import Identity, require
from ..outbox import TEST_EVENT, enqueue_tx, fan_out_tx, json_value
from . import formats
from . import secrets as secret_refs
from .hooks import deliveries, get_hook_tx, recipients

MAX_RESPONSE = 65536


@dataclass
class RunResult:
    """What one delivery run did."""

    delivered: int = 0
    failed_attempts: int = 0    # tries that failed (the delivery stays pending, or was given up)
    gave_up: int = 0            # deliveries that reached the most attempts and are now `failed`
    hooks: list[int] = field(default_factory=list)
    pending: int = 0            # still pending after the run (backed off, or another process has the hook)

    def as_dict(self) -> dict[str, Any]:
        return {"delivered": self.delivered, "failed_attempts": self.failed_attempts, "gave_up": self.gave_up,
                "hooks": self.hooks, "pending": self.pending}


@dataclass(frozen=True)
class _Item:
    delivery_id: int
    attempts: int
    next_attempt_at: datetime
    notification: formats.Notification


@dataclass(frozen=True)
class _Target:
    id: int
    url: str
    format: str
    secret: str | None


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _claim(store, hook_id: int, owner: str, settings) -> tuple[_Target, list[_Item]] | None:
    """Lease the hook and read its next batch of pending deliveries, in event order (None: leased elsewhere)."""
    now = utcnow()
    lease = now + timedelta(seconds=settings.batch * settings.timeout * settings.tries_per_run + 60)
    try:
        with store.transaction() as con:
            row = con.execute(
                "UPDATE notification_hooks SET lease_owner = ?, lease_until = ? WHERE id = ? AND removed_at IS NULL"
                " AND (lease_owner IS NULL OR lease_owner = ? OR lease_until < ?)"
                " RETURNING id, url, format, secret, events, models, tiers, start_event_id",
                [owner, lease, hook_id, owner, now]).fetchall()
            if not row:
                return None
            hid, url, fmt, secret, events, models, tiers, start = row[0]
            fan_out_tx(con, hid, json_value(events), json_value(models), json_value(tiers), start, now)
            rows = con.execute(
                "SELECT d.id, d.attempts, d.next_attempt_at, e.id, e.uid, e.event, e.created_at, e.model, e.version,"
                " e.environment, e.data FROM notification_deliveries d JOIN notification_events e ON e.id = d.event_id"
                " WHERE d.hook_id = ? AND d.status = 'pending' ORDER BY d.event_id LIMIT ?",
                [hook_id, settings.batch]).fetchall()
    except Conflict:  # another process leased it in the same instant
        return None
    items = [_Item(did, attempts, due, formats.Notification(eid, uid, event, created, model, version, env,
                                                             json_value(data) or {}))
             for did, attempts, due, eid, uid, event, created, model, version, env, data in rows]
    return _Target(hid, url, fmt, secret), items


def _record(store, hook_id: int, owner: str, outcomes: list[tuple], release: bool) -> None:
    """Write a batch's outcomes (only onto deliveries still pending: a removed hook's were cancelled).

    Outcomes alike (status, attempts, response, error, next try) are written by one UPDATE, stamped with the time
    of the group's last try: a batch of a hundred is a few statements, not a hundred.
    """
    groups: dict[tuple, list[tuple]] = {}
    for delivery_id, status, attempts, at, code, error, next_at in outcomes:
        groups.setdefault((status, attempts, code, error, next_at if status == "pending" else None), []).append(
            (delivery_id, at))
    with store.transaction() as con:
        for (status, attempts, code, error, next_at), rows in groups.items():
            at = max(t for _, t in rows)
            ids = [i for i, _ in rows]
            con.execute("UPDATE notification_deliveries SET status = ?, attempts = ?, last_attempt_at = ?, "
                        "response_code = ?, last_error = ?, delivered_at = ?, next_attempt_at = ? "
                        f"WHERE id IN ({', '.join('?' * len(ids))}) AND status = 'pending'",
                        [status, attempts, at, code, error, at if status == "delivered" else None, next_at or at,
                         *ids])
        if release:
            con.execute("UPDATE notification_hooks SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND "
                        "lease_owner = ?", [hook_id, owner])


class _Http:
    """POSTs to one webhook, over one kept-alive connection."""

    def __init__(self, target: _Target, settings) -> None:
        self.target, self.timeout = target, settings.timeout
        parts = urlsplit(target.url)
        self.https = parts.scheme.lower() == "https"
        self.host, self.port = parts.hostname, parts.port
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            if self.https:
                self.conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                                        context=ssl.create_default_context())
            else:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.conn.connect()
            # Small requests one after another on a kept-alive connection: without this, a receiver that answers
            # in two writes makes each one wait for a delayed ACK (40 ms on Linux).
            self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.conn

    def send(self, n: formats.Notification) -> tuple[bool, int | None, str | None]:
        try:
            secret = secret_refs.resolve(self.target.secret, f"secret of hook {self.target.id}")
        except CoreError as e:
            return False, None, str(e)
        raw = formats.body(n, self.target.format)
        for fresh in (False, True):  # a kept-alive connection the server closed meanwhile: once more on a new one
            try:
                conn = self._connection()
                conn.request("POST", self.path, body=raw, headers=formats.headers(n, raw, secret))
                resp = conn.getresponse()
                resp.read(MAX_RESPONSE)
                if resp.will_close or resp.length:
                    self.close()
                ok = 200 <= resp.status < 300
                return ok, resp.status, None if ok else f"HTTP {resp.status} {resp.reason}".strip()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                self.close()
                if fresh:
                    return False, None, f"connection lost: {e}"
            except (OSError, http.client.HTTPException) as e:
                self.close()
                what = f"timed out after {self.timeout:g} s" if isinstance(e, (socket.timeout, TimeoutError)) \
                    else f"{type(e).__name__}: {e}"
                return False, None, what[:300]
        return False, None, "not sent"

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class _Mail:
    """Sends e-mail for one subscription over one SMTP session (STARTTLS unless turned off)."""

    def __init__(self, target: _Target, settings) -> None:
        self.target, self.timeout = target, settings.timeout
        self.smtp: smtplib.SMTP | None = None
        self.cfg = None

    def _session(self) -> smtplib.SMTP:
        if self.smtp is None:
            self.cfg = secret_refs.smtp_settings()
            smtp = smtplib.SMTP(self.cfg.host, self.cfg.port, timeout=self.timeout)
            try:
                smtp.ehlo()
                if self.cfg.starttls:
                    smtp.starttls(context=ssl.create_default_context(cafile=self.cfg.ca_file))
                    smtp.ehlo()
                if self.cfg.user:
                    smtp.login(self.cfg.user, self.cfg.password or "")
            except BaseException:
                smtp.close()
                raise
            self.smtp = smtp
        return self.smtp

    def send(self, n: formats.Notification) -> tuple[bool, int | None, str | None]:
        try:
            smtp = self._session()
            smtp.send_message(formats.email(n, self.cfg.sender, recipients(self.target.url)))
            return True, 250, None
        except CoreError as e:
            return False, None, str(e)
        except smtplib.SMTPResponseException as e:
            self.close()
            return False, e.smtp_code, f"SMTP {e.smtp_code}: {e.smtp_error!r}"[:300]
        except (smtplib.SMTPException, OSError, ssl.SSLError) as e:
            self.close()
            return False, None, f"{type(e).__name__}: {e}"[:300]

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                self.smtp.close()
            self.smtp = None


def _deliver_hook(store, hook_id: int, owner: str, settings, result: RunResult) -> None:
    while True:
        claimed = _claim(store, hook_id, owner, settings)
        if claimed is None:
            return
        target, items = claimed
        sender = _Mail(target, settings) if target.format == "email" else _Http(target, settings)
        outcomes: list[tuple] = []
        stop = not items
        try:
            for item in items:
                if item.next_attempt_at > utcnow():  # the head of the queue is backed off: the rest waits too
                    stop = True
                    break
                tries = 0
                while True:
                    ok, code, error = sender.send(item.notification)
                    tries += 1
                    attempts, now = item.attempts + tries, utcnow()
                    if ok:
                        result.delivered += 1
                        outcomes.append((item.delivery_id, "delivered", attempts, now, code, None, None))
                        break
                    result.failed_attempts += 1
                    if attempts >= settings.max_attempts:
                        result.gave_up += 1
                        outcomes.append((item.delivery_id, "failed", attempts, now, code, error, None))
                        break
                    if tries >= settings.tries_per_run:
                        later = now + timedelta(seconds=settings.wait_after(attempts))
                        outcomes.append((item.delivery_id, "pending", attempts, now, code, error, later))
                        stop = True
                        break
                    if settings.retry_pause:
                        time.sleep(settings.retry_pause)
                if stop:
                    break
        finally:
            sender.close()
            done = stop or len(items) < settings.batch
            _record(store, hook_id, owner, outcomes, release=done)
        if done:
            return


def _active_hooks(store, hook_id: int | None) -> list[int]:
    """The hooks to deliver: every active one (each claim first makes the deliveries of its new events)."""
    with store.read() as con:
        sql = "SELECT id FROM notification_hooks WHERE removed_at IS NULL"
        params: list[Any] = []
        if hook_id is not None:
            sql += " AND id = ?"
            params.append(hook_id)
        return [r[0] for r in con.execute(sql + " ORDER BY id", params).fetchall()]


def pending_count(store, hook_id: int | None = None) -> int:
    """Deliveries not yet delivered nor given up (a cheap read: the dashboard asks it before delivering)."""
    with store.read() as con:
        sql = "SELECT count(*) FROM notification_deliveries WHERE status = 'pending'"
        return con.execute(sql + (" AND hook_id = ?" if hook_id is not None else ""),
                           [hook_id] if hook_id is not None else []).fetchall()[0][0]


def deliver(store, actor: Identity, *, hook_id: int | None = None, settings=None) -> RunResult:
    """Send what is pending now, hook by hook, each in the order of its events.

    Needs `view` (it sends only what actions already decided to send; it changes no governed data). Records no
    audit event: the delivery log is the record. Never raises for a failed delivery: it is logged and retried.
    """
    with store.transaction():
        require(actor, "view", "notification_delivery")
    settings = settings or secret_refs.DeliverySettings.from_env()
    owner = _owner()
    result = RunResult()
    for hid in _active_hooks(store, hook_id):
        result.hooks.append(hid)
        _deliver_hook(store, hid, owner, settings, result)
    result.pending = pending_count(store, hook_id)
    return result


_background = threading.Lock()
_seen = {"events": -1}  # the newest event when this process last delivered in the background


def _work_waiting(store) -> bool:
    """Whether a background run has anything to do: a new event since the last one, or a delivery due now."""
    with store.read() as con:
        newest, due = con.execute(
            "SELECT (SELECT coalesce(max(id), 0) FROM notification_events), (SELECT count(*) FROM "
            "notification_deliveries WHERE status = 'pending' AND next_attempt_at <= ?)", [utcnow()]).fetchall()[0]
        active = con.execute("SELECT count(*) FROM notification_hooks WHERE removed_at IS NULL").fetchall()[0][0]
    fresh = newest != _seen["events"]
    _seen["events"] = newest
    return bool(active) and (fresh or due > 0)


def deliver_in_background(store, actor: Identity) -> bool:
    """Start delivering in a thread of this process if anything waits and no such thread runs (the dashboard does
    this after a page run, so an action's notification leaves without anybody waiting for it). Whether it started."""
    if not _background.acquire(blocking=False):
        return False
    try:
        waiting = _work_waiting(store)
    except CoreError:
        waiting = False
    if not waiting:
        _background.release()
        return False

    def run() -> None:
        try:
            deliver(store, actor)
        except CoreError:
            pass  # the delivery log and the next run say what happened; a page never breaks on it
        finally:
            _background.release()

    threading.Thread(target=run, name="modelgov-deliver", daemon=True).start()
    return True


def send_test(store, actor: Identity, hook_id: int, *, settings=None):
    """Send a test event (`hook.test`) to one hook now and return its delivery (status, response code, error).

    Needs `manage-hooks` (or one's own subscription). Records `hook.test`. The test waits behind the hook's
    earlier pending deliveries, as any event does. Raises NotFound, Forbidden.
    """
    with store.transaction() as con:
        hook = get_hook_tx(con, actor, hook_id, HookTested)
        if hook.removed_at is not None:
            raise Conflict(f"Hook {hook_id} was removed; add it again to test it.")
        event_id = enqueue_tx(con, TEST_EVENT, ts=utcnow(), only_hook=hook_id,
                              data={"message": "A test delivery from ModelGov.", "requested_by": actor.email})
        record(con, actor, HookTested(hook_id, event_id))
    settings = settings or secret_refs.DeliverySettings.from_env()
    _deliver_hook(store, hook_id, _owner(), settings, RunResult())
    return next(d for d in deliveries(store, actor, hook_id=hook_id, limit=50) if d.event_id == event_id)
