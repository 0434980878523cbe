"""What a delivery sends: the JSON payload, its signature, and the Slack, Teams and e-mail renderings."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from ..outbox import EVENT_LABELS

SIGNATURE_HEADER = "X-ModelGov-Signature"
ID_HEADER = "X-ModelGov-Id"        # the idempotency id; also sent as Idempotency-Key
EVENT_HEADER = "X-ModelGov-Event"


@dataclass(frozen=True)
class Notification:
    """One event of the outbox, as every format renders it."""

    event_id: int
    uid: str
    event: str
    time: datetime
    model: str | None
    version: int | None
    environment: str | None
    data: dict[str, Any]

    def payload(self) -> dict[str, Any]:
        """The webhook body: {"id", "event", "time", "model", "version", "environment", "data"}."""
        return {"id": self.uid, "event": self.event, "time": self.time.isoformat(timespec="seconds") + "Z",
                "model": self.model, "version": self.version, "environment": self.environment, "data": self.data}

    def subject(self) -> str:
        what = EVENT_LABELS.get(self.event, self.event)
        ref = f"{self.model}:{self.version}" if self.model and self.version else (self.model or "")
        where = f" in {self.environment}" if self.environment else ""
        return f"[ModelGov] {ref}{where}: {what}" if ref else f"[ModelGov] {what}"

    def lines(self) -> list[str]:
        out = [self.subject().removeprefix("[ModelGov] ") + "."]
        for key, value in self.data.items():
            if value not in (None, "", [], {}):
                shown = ", ".join(map(str, value)) if isinstance(value, list) else value
                out.append(f"{key.replace('_', ' ')}: {shown}")
        out.append(f"event {self.event}, id {self.uid}, at {self.time:%Y-%m-%d %H:%M} UTC")
        return out


def body(n: Notification, fmt: str) -> bytes:
    """The bytes POSTed for a webhook of format json, slack or teams (signed as they are)."""
    if fmt == "slack":  # Slack's incoming webhooks: {"text": …} (mrkdwn)
        lines = n.lines()
        doc: dict[str, Any] = {"text": f"*{lines[0]}*\n" + "\n".join(lines[1:])}
    elif fmt == "teams":  # Microsoft Teams' incoming webhooks: a MessageCard
        lines = n.lines()
        doc = {"@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": n.subject(),
               "title": lines[0], "text": "\n\n".join(lines[1:])}
    else:
        doc = n.payload()
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False).encode()


def signature(raw: bytes, secret: str) -> str:
    """`sha256=<hex HMAC-SHA256 of the raw body with the hook's secret>`."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def headers(n: Notification, raw: bytes, secret: str | None) -> dict[str, str]:
    out = {"Content-Type": "application/json", "User-Agent": "ModelGov-Hooks/1", EVENT_HEADER: n.event,
           ID_HEADER: n.uid, "Idempotency-Key": n.uid, "Content-Length": str(len(raw))}
    if secret:
        out[SIGNATURE_HEADER] = signature(raw, secret)
    return out


def email(n: Notification, sender: str, recipients: list[str]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = n.subject()
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Message-ID"] = f"<{n.uid}@modelgov>"  # the idempotency id: a mail client shows a resent one once
    msg[ID_HEADER] = n.uid
    msg.set_content("\n".join(n.lines()) + "\n\n" + json.dumps(n.payload(), indent=2, default=str) + "\n")
    return msg
