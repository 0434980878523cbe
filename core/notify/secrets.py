"""Secrets and settings of delivery: references to secrets, SMTP settings, retry and back-off settings.

A secret is given as itself or as a reference resolved when it is used, so it need not be stored anywhere ModelGov
writes: `env:NAME` (an environment variable) or `file:/path` (the first line of a file, e.g. a mounted Kubernetes
secret). SMTP settings come from `MODELGOV_SMTP_*` variables, or from the `[smtp]` table of the secrets file
(`.streamlit/secrets.toml`, or `MODELGOV_SECRETS_FILE`), whose values may be such references; a variable wins.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInput

REFERENCE_PREFIXES = ("env:", "file:")


def is_reference(value: str) -> bool:
    return value.startswith(REFERENCE_PREFIXES)


def resolve(value: str | None, what: str) -> str | None:
    """The secret a value stands for: itself, or what its `env:`/`file:` reference names (InvalidInput if absent)."""
    if not value:
        return None
    if value.startswith("env:"):
        name = value[4:]
        found = os.environ.get(name)
        if not found:
            raise InvalidInput(f"The {what} refers to the environment variable {name}, which is not set on this "
                               "machine; set it where deliveries run.")
        return found
    if value.startswith("file:"):
        try:
            return Path(value[5:]).read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, IndexError) as e:
            raise InvalidInput(f"The {what} refers to the file {value[5:]}, which could not be read.") from e
    return value


def fingerprint(secret: str | None) -> str | None:
    """What lists show instead of a secret: a reference as it is (it names where the secret lives, not the secret),
    a secret as the first 12 hex digits of its SHA-256."""
    if not secret:
        return None
    if is_reference(secret):
        return secret
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:12]


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a number of seconds or a count, not {raw!r}.") from None
    if value < 0:
        raise InvalidInput(f"{name} must not be negative.")
    return value


@dataclass(frozen=True)
class DeliverySettings:
    """How deliveries are tried: timeout per request, retries within one run, back-off between runs, give-up."""

    timeout: float = 10.0          # seconds per HTTP request or SMTP session
    tries_per_run: int = 3         # tries of one delivery within one run before its hook waits for the next run
    retry_pause: float = 1.0       # seconds between those tries
    backoff: float = 60.0          # first wait after a failed run; doubles with each attempt
    max_backoff: float = 3600.0
    max_attempts: int = 12         # then the delivery is `failed` (redeliver it by hand)
    batch: int = 100               # deliveries claimed at once per hook

    @classmethod
    def from_env(cls) -> "DeliverySettings":
        d = cls()
        return cls(timeout=_number("MODELGOV_HOOK_TIMEOUT", d.timeout),
                   tries_per_run=max(1, int(_number("MODELGOV_HOOK_TRIES_PER_RUN", d.tries_per_run))),
                   retry_pause=_number("MODELGOV_HOOK_RETRY_PAUSE", d.retry_pause),
                   backoff=_number("MODELGOV_HOOK_BACKOFF", d.backoff),
                   max_backoff=_number("MODELGOV_HOOK_MAX_BACKOFF", d.max_backoff),
                   max_attempts=max(1, int(_number("MODELGOV_HOOK_MAX_ATTEMPTS", d.max_attempts))),
                   batch=max(1, int(_number("MODELGOV_HOOK_BATCH", d.batch))))

    def wait_after(self, attempts: int) -> float:
        """Seconds before the next run tries a delivery that has failed `attempts` times."""
        return min(self.max_backoff, self.backoff * 2 ** max(0, attempts - 1))


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    user: str | None = None
    password: str | None = None
    sender: str = "modelgov@localhost"
    starttls: bool = True
    ca_file: str | None = None     # a private CA's certificate to trust for STARTTLS (default: the system's)


def _secrets_table() -> dict:
    path = Path(os.environ.get("MODELGOV_SECRETS_FILE") or ".streamlit/secrets.toml")
    if not path.exists():
        return {}
    try:
        with path.open("rb") as f:
            table = tomllib.load(f).get("smtp", {})
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise InvalidInput(f"The secrets file {path} could not be read for its [smtp] settings: {e}.") from e
    if not isinstance(table, dict):
        raise InvalidInput(f"[smtp] in {path} must be a table (host, port, user, password, from, starttls).")
    return table


def smtp_settings() -> SmtpSettings:
    """The SMTP server e-mail goes through; InvalidInput saying what to set when none is configured."""
    table = _secrets_table()

    def get(key: str, env: str):
        value = os.environ.get(env)
        return value if value not in (None, "") else table.get(key)

    host = get("host", "MODELGOV_SMTP_HOST")
    if not host:
        raise InvalidInput("No SMTP server is configured for e-mail notifications; set MODELGOV_SMTP_HOST (and "
                           "MODELGOV_SMTP_PORT, _USER, _PASSWORD, _FROM) or the [smtp] table of the secrets file.")
    port = get("port", "MODELGOV_SMTP_PORT") or 587
    starttls = get("starttls", "MODELGOV_SMTP_STARTTLS")
    if isinstance(starttls, str):
        starttls = starttls.strip().lower() not in ("0", "false", "no", "off")
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise InvalidInput(f"The SMTP port must be a number, not {port!r}.") from None
    return SmtpSettings(host=str(host), port=port, user=resolve(get("user", "MODELGOV_SMTP_USER"), "SMTP user"),
                        password=resolve(get("password", "MODELGOV_SMTP_PASSWORD"), "SMTP password"),
                        sender=str(get("from", "MODELGOV_SMTP_FROM") or "modelgov@localhost"),
                        starttls=True if starttls is None else bool(starttls),
                        ca_file=get("ca_file", "MODELGOV_SMTP_CA_FILE"))
