"""Hooks: webhooks and e-mail subscriptions, by event type, model and risk tier (audited, checked in core).

An administrator (`manage-hooks`) adds, removes and tests any hook and reads the delivery log. A data scientist or
risk officer (`subscribe-notifications`) may subscribe their own e-mail address (`mailto:` their address only, no
secret) and remove or test what they subscribed; a risk officer subscribes to `approval.requested` for the tiers
they approve. A hook's secret is never shown back (lists show a fingerprint) and never written to the audit trail;
nor is a URL's path of a Slack or Teams hook, which is itself the secret of those services.

A URL must be http(s) (or mailto: for e-mail). Whether it may point at a private address (an internal service, the
host itself) is the administrator's choice: ModelGov does not block it, so only administrators add webhooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from ..audit import record, utcnow
from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..events import DeliveryRequeued, HookCreated, HookRemoved
from ..identity import Identity, allowed, normalise_email, require
from ..outbox import NOTIFICATION_EVENTS, json_value
from ..vocabulary import RISK_TIERS
from . import secrets as secret_refs

FORMATS = ("json", "slack", "teams")
MAX_URL = 2000


@dataclass(frozen=True)
class Hook:
    id: int
    url: str                     # as shown: see `redact_url`
    format: str
    events: list[str]
    models: list[str] | None
    tiers: list[str] | None
    description: str
    secret_fingerprint: str | None
    created_at: datetime
    created_by: str
    removed_at: datetime | None

    @property
    def status(self) -> str:
        return "removed" if self.removed_at else "active"

    @property
    def kind(self) -> str:
        return "email" if self.format == "email" else "webhook"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "url": self.url, "format": self.format, "events": self.events,
                "models": self.models, "tiers": self.tiers, "description": self.description,
                "secret": self.secret_fingerprint, "status": self.status,
                "created_at": self.created_at.isoformat(), "created_by": self.created_by,
                "removed_at": self.removed_at.isoformat() if self.removed_at else None}


def recipients(url: str) -> list[str]:
    """The addresses of a mailto: URL."""
    return [a.strip().lower() for a in unquote(url[len("mailto:"):].split("?", 1)[0]).split(",") if a.strip()]


def redact_url(url: str, fmt: str) -> str:
    """A URL as lists and the audit trail show it: no query, and for Slack and Teams (whose path is the secret)
    no path."""
    if fmt == "email":
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    path = "/…" if fmt in ("slack", "teams") and parts.path not in ("", "/") else parts.path
    return f"{parts.scheme}://{host}{path}" + ("?…" if parts.query else "")


def check_url(url: str, fmt: str | None) -> tuple[str, str]:
    """The URL, stripped, and its format; InvalidInput naming what is wrong."""
    url = (url or "").strip()
    if not url:
        raise InvalidInput("Give the hook's URL: https://… for a webhook, mailto:you@example.com for e-mail.",
                           field="url")
    if len(url) > MAX_URL:
        raise InvalidInput(f"The URL is longer than {MAX_URL} characters.", field="url")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise InvalidInput("The URL contains spaces or control characters.", field="url")
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "mailto":
        if fmt not in (None, "email"):
            raise InvalidInput("A mailto: URL sends e-mail; leave --format out (or give email).", field="format")
        found = recipients(url)
        if not found:
            raise InvalidInput("The mailto: URL names no address; e.g. mailto:rita@example.com.", field="url")
        for address in found:
            normalise_email(address)
        return "mailto:" + ",".join(found), "email"
    if scheme not in ("http", "https"):
        raise InvalidInput(f"The URL {redact_url(url, 'slack')!r} is not http(s) or mailto:; a webhook URL starts "
                           "with https:// (or http://).", field="url")
    fmt = fmt or "json"
    if fmt not in FORMATS:
        raise InvalidInput(f"Unknown format {fmt!r}: use one of {', '.join(FORMATS)} (or a mailto: URL for "
                           "e-mail).", field="format")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError as e:
        raise InvalidInput(f"The URL could not be read: {e}.", field="url") from None
    if not parts.hostname:
        raise InvalidInput("The URL names no host; e.g. https://hooks.example.com/modelgov.", field="url")
    if parts.username or parts.password:
        raise InvalidInput("Put no user or password in the URL (they would be shown and logged); give the hook a "
                           "--secret instead.", field="url")
    if parts.fragment:
        raise InvalidInput("A webhook URL has no #fragment.", field="url")
    return url, fmt


def _names(values: list[str] | str | None) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [v.strip() for item in values for v in str(item).split(",") if v.strip()]


def check_events(events: list[str] | str | None) -> list[str]:
    names = _names(events)
    if not names:
        raise InvalidInput(f"Name the events the hook receives: {', '.join(NOTIFICATION_EVENTS)}.", field="events")
    unknown = [e for e in names if e not in NOTIFICATION_EVENTS]
    if unknown:
        raise InvalidInput(f"Unknown event {unknown[0]!r}: the events are {', '.join(NOTIFICATION_EVENTS)}.",
                           field="events")
    return list(dict.fromkeys(names))


def check_tiers(tiers: list[str] | str | None) -> list[str] | None:
    names = _names(tiers)
    bad = [t for t in names if t not in RISK_TIERS]
    if bad:
        raise InvalidInput(f"Risk tier {bad[0]!r} is not one of {', '.join(RISK_TIERS)}.", field="tier")
    return list(dict.fromkeys(names)) or None


def _own_subscription(actor: Identity, url: str, fmt: str, secret: str | None) -> bool:
    """Whether this hook is one a subscriber may add: their own address, by e-mail, nothing else."""
    return fmt == "email" and not secret and recipients(url) == [actor.email]


def _refuse(actor: Identity, why: str, event: type, entity_id: object = "") -> Forbidden:
    who = actor.email if actor else "anonymous"
    error = Forbidden(why, actor=who, action=event.action, entity_type=event.entity_type, entity_id=str(entity_id))
    error.token_id = actor.token_id if actor else ""
    return error


def create_hook(store, actor: Identity, url: str, events: list[str] | str, *, secret: str | None = None,
                models: list[str] | str | None = None, tiers: list[str] | str | None = None,
                format: str | None = None, description: str = "") -> Hook:
    """Add a webhook (http/https, format json, slack or teams) or an e-mail subscription (mailto:).

    Needs `manage-hooks`, or `subscribe-notifications` for an e-mail subscription to one's own address. Records
    `hook.create` (without the secret). Raises InvalidInput, NotFound (a model), Forbidden.
    """
    url, fmt = check_url(url, format)
    names = check_events(events)
    model_names = _names(models) or None
    tier_names = check_tiers(tiers)
    secret = (secret or "").strip() or None
    if secret and fmt == "email":
        raise InvalidInput("An e-mail subscription has no secret; the SMTP server's credentials are settings.",
                           field="secret")
    description = (description or "").strip()[:200]
    with store.transaction() as con:
        if not allowed(actor, "manage-hooks"):
            if not allowed(actor, "subscribe-notifications"):
                require(actor, "manage-hooks", HookCreated)
            if not _own_subscription(actor, url, fmt, secret):
                raise _refuse(actor, f"{actor.email} may subscribe only their own e-mail address (mailto:"
                              f"{actor.email}); webhooks and other addresses are added by an administrator.",
                              HookCreated)
        for name in model_names or []:
            if not con.execute("SELECT 1 FROM models WHERE name = ?", [name]).fetchall():
                raise NotFound(f"Model {name} not found; see 'modelgov models list'.")
        now = utcnow()
        start = con.execute("SELECT coalesce(max(id), 0) FROM notification_events").fetchall()[0][0]
        hook_id = con.execute(
            "INSERT INTO notification_hooks (url, format, secret, secret_fingerprint, events, models, tiers,"
            " description, created_at, created_by, start_event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " RETURNING id",
            [url, fmt, secret, secret_refs.fingerprint(secret), _json(names), _json(model_names),
             _json(tier_names), description, now, actor.email, start]).fetchall()[0][0]
        record(con, actor, HookCreated(hook_id, redact_url(url, fmt), fmt, names, model_names, tier_names,
                                       bool(secret)))
        return _get_tx(con, hook_id)


def _json(value: Any) -> str | None:
    import json

    return None if value is None else json.dumps(value)


_COLUMNS = ("id, url, format, events, models, tiers, description, secret_fingerprint, created_at, created_by, "
            "removed_at")


def _hook(row) -> Hook:
    hid, url, fmt, events, models, tiers, description, fp, created_at, created_by, removed_at = row
    return Hook(hid, redact_url(url, fmt), fmt, json_value(events), json_value(models), json_value(tiers),
                description, fp, created_at, created_by, removed_at)


def _get_tx(con, hook_id: int) -> Hook:
    row = con.execute(f"SELECT {_COLUMNS} FROM notification_hooks WHERE id = ?", [hook_id]).fetchall()
    if not row:
        raise NotFound(f"Hook {hook_id} not found; see 'modelgov hooks list'.")
    return _hook(row[0])


def _may_touch(actor: Identity, hook: Hook) -> bool:
    """An administrator may change any hook; a subscriber only the subscription they made."""
    return allowed(actor, "manage-hooks") or (allowed(actor, "subscribe-notifications")
                                              and hook.created_by == actor.email and hook.kind == "email")


def get_hook_tx(con, actor: Identity, hook_id: int, event: type) -> Hook:
    """A hook `actor` may change or test (Forbidden, audited under `event`, otherwise; NotFound)."""
    if not (allowed(actor, "manage-hooks") or allowed(actor, "subscribe-notifications")):
        require(actor, "manage-hooks", event, hook_id)
    hook = _get_tx(con, hook_id)
    if not _may_touch(actor, hook):
        raise _refuse(actor, f"Hook {hook_id} is not {actor.email}'s subscription; an administrator manages it.",
                      event, hook_id)
    return hook


def list_hooks(store, actor: Identity, *, include_removed: bool = False) -> list[Hook]:
    """Hooks, newest first: every hook for an administrator, one's own subscriptions for a subscriber.

    Needs `manage-hooks` or `subscribe-notifications` (a refusal is audited). Never the secrets.
    """
    with store.transaction() as con:
        if not allowed(actor, "subscribe-notifications"):
            require(actor, "manage-hooks", "notification_hook")
        where = [] if include_removed else ["removed_at IS NULL"]
        params: list[Any] = []
        if not allowed(actor, "manage-hooks"):
            where.append("created_by = ?")
            params.append(actor.email)
        rows = con.execute(f"SELECT {_COLUMNS} FROM notification_hooks"
                           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC",
                           params).fetchall()
    return [_hook(r) for r in rows]


def remove_hook(store, actor: Identity, hook_id: int) -> Hook:
    """Remove a hook: it gets no new events, and its pending deliveries are cancelled (the log keeps them).

    Needs `manage-hooks` (or `subscribe-notifications` for one's own subscription). Records `hook.remove`.
    Raises NotFound, Forbidden, Conflict (already removed).
    """
    with store.transaction() as con:
        hook = get_hook_tx(con, actor, hook_id, HookRemoved)
        if hook.removed_at is not None:
            raise Conflict(f"Hook {hook_id} was already removed on {hook.removed_at:%Y-%m-%d %H:%M} UTC.")
        now = utcnow()
        con.execute("UPDATE notification_hooks SET removed_at = ?, removed_by = ? WHERE id = ?",
                    [now, actor.email, hook_id])
        cancelled = con.execute("UPDATE notification_deliveries SET status = 'cancelled' WHERE hook_id = ? AND "
                                "status = 'pending' RETURNING id", [hook_id]).fetchall()
        record(con, actor, HookRemoved(hook_id, len(cancelled)))
        return _get_tx(con, hook_id)


@dataclass(frozen=True)
class Delivery:
    id: int
    hook_id: int
    event_id: int
    event_uid: str
    event: str
    model: str | None
    version: int | None
    environment: str | None
    status: str
    attempts: int
    response_code: int | None
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    next_attempt_at: datetime

    def as_dict(self) -> dict[str, Any]:
        iso = lambda t: t.isoformat() if t else None  # noqa: E731
        return {"id": self.id, "hook_id": self.hook_id, "event_id": self.event_id, "idempotency_id": self.event_uid,
                "event": self.event, "model": self.model, "version": self.version, "environment": self.environment,
                "status": self.status, "attempts": self.attempts, "response_code": self.response_code,
                "error": self.last_error, "created_at": iso(self.created_at),
                "last_attempt_at": iso(self.last_attempt_at), "delivered_at": iso(self.delivered_at),
                "next_attempt_at": iso(self.next_attempt_at) if self.status == "pending" else None}


_DELIVERY_SQL = ("SELECT d.id, d.hook_id, d.event_id, e.uid, e.event, e.model, e.version, e.environment, d.status,"
                 " d.attempts, d.response_code, d.last_error, d.created_at, d.last_attempt_at, d.delivered_at,"
                 " d.next_attempt_at FROM notification_deliveries d JOIN notification_events e ON e.id = d.event_id")
STATUSES = ("pending", "delivered", "failed", "cancelled")


def deliveries(store, actor: Identity, *, hook_id: int | None = None, status: str | None = None,
               limit: int = 100) -> list[Delivery]:
    """The delivery log, newest first (status, response code, attempts). Needs `manage-hooks` (a subscriber sees
    their own subscriptions' deliveries)."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"Unknown status {status!r}: use one of {', '.join(STATUSES)}.", field="status")
    where, params = [], []
    with store.transaction() as con:
        if not allowed(actor, "subscribe-notifications"):
            require(actor, "manage-hooks", "notification_delivery")
        if not allowed(actor, "manage-hooks"):
            where.append("d.hook_id IN (SELECT id FROM notification_hooks WHERE created_by = ?)")
            params.append(actor.email)
        if hook_id is not None:
            where.append("d.hook_id = ?")
            params.append(hook_id)
        if status is not None:
            where.append("d.status = ?")
            params.append(status)
        rows = con.execute(_DELIVERY_SQL + (" WHERE " + " AND ".join(where) if where else "")
                           + " ORDER BY d.id DESC LIMIT ?", params + [max(1, int(limit))]).fetchall()
    return [Delivery(*r) for r in rows]


def redeliver(store, actor: Identity, delivery_id: int) -> Delivery:
    """Queue a delivery again (a failed one, or one delivered that the receiver lost), with a fresh count of
    attempts and the same idempotency id. Needs `manage-hooks` (or one's own subscription). Records
    `hook.redeliver`. Raises NotFound, Forbidden, Conflict (its hook was removed, or it is still pending)."""
    with store.transaction() as con:
        row = con.execute("SELECT hook_id, event_id, status FROM notification_deliveries WHERE id = ?",
                          [delivery_id]).fetchall()
        if not row:
            if not (allowed(actor, "manage-hooks") or allowed(actor, "subscribe-notifications")):
                require(actor, "manage-hooks", DeliveryRequeued, delivery_id)
            raise NotFound(f"Delivery {delivery_id} not found; see 'modelgov hooks deliveries'.")
        hook_id, event_id, status = row[0]
        hook = get_hook_tx(con, actor, hook_id, DeliveryRequeued)
        if hook.removed_at is not None or status == "cancelled":
            raise Conflict(f"Delivery {delivery_id} belongs to hook {hook_id}, which was removed; add the hook "
                           "again to receive new events.")
        if status == "pending":
            raise Conflict(f"Delivery {delivery_id} is still pending; 'modelgov hooks deliver' sends it.")
        con.execute("UPDATE notification_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, "
                    "delivered_at = NULL WHERE id = ?", [utcnow(), delivery_id])
        record(con, actor, DeliveryRequeued(delivery_id, hook_id, event_id, status))
        return Delivery(*con.execute(_DELIVERY_SQL + " WHERE d.id = ?", [delivery_id]).fetchall()[0])
