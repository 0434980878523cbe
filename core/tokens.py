"""Access tokens ModelGov issues for its HTTP API: made, listed, revoked and turned back into an identity.

A token is `mgv_` followed by 43 characters of `secrets.token_urlsafe(32)` (256 random bits). It is shown once,
when it is made; the store keeps only its SHA-256, so a copy of the store gives nobody a usable token. A token
acts as its owner with the roles of its scope, and never with more than the owner holds: the scope is checked
against the owner's grants when the token is made AND each time it is used, so an owner who loses a role takes
it from their tokens too.

Who may make one (`create_token`):
- a person, for themselves, with any of the roles they hold (never more);
- an administrator, for a service account (an identity that is not a person, `service_accounts`), with roles
  granted to that account, but never `risk_officer` or `admin`: the administrator holds the token, and an
  administrator is not also an approver, nor grants roles through a second identity.
Nobody makes a token with a token (a stolen short-lived token must not mint a long-lived one), and nobody makes
one for another person.

Roles from the identity provider's claims are not visible when a token is used (no ID token comes with it), so a
ModelGov token carries only roles granted in ModelGov; a person whose roles come from the provider uses the
provider's bearer tokens instead (core.api_auth).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .audit import record, utcnow
from .errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from .events import TokenCreated, TokenRevoked
from .identity import ADMIN, RISK_OFFICER, Identity, granted_roles, normalise_email, require, separate_duties
from .vocabulary import PERSON_ROLES

PREFIX = "mgv_"
_SHAPE = re.compile(r"^mgv_[A-Za-z0-9_-]{43}$")
DEFAULT_DAYS = 90
MAX_DAYS = 365
# A token's last use is written at most once a minute: the API may answer many requests a second with one token,
# and a write per request would queue every one of them behind the store's file lock.
LAST_USED_EVERY = timedelta(seconds=60)
# Roles a service account's token may not carry: an administrator holds it (see the module's docstring).
SERVICE_FORBIDDEN_ROLES = frozenset({RISK_OFFICER, ADMIN})


@dataclass(frozen=True)
class Token:
    """A token's record (never the token itself, which only `NewToken` carries, once)."""

    id: str
    owner: str
    kind: str
    scope: list[str]
    description: str
    created_at: datetime
    created_by: str
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= utcnow() else "active"

    def as_dict(self) -> dict[str, Any]:
        iso = lambda t: t.isoformat() if t else None  # noqa: E731
        return {"id": self.id, "owner": self.owner, "kind": self.kind, "scope": self.scope,
                "description": self.description, "status": self.status, "created_at": iso(self.created_at),
                "created_by": self.created_by, "expires_at": iso(self.expires_at),
                "last_used_at": iso(self.last_used_at), "revoked_at": iso(self.revoked_at),
                "revoked_by": self.revoked_by}


@dataclass(frozen=True)
class NewToken:
    """A token just made: the secret, shown once, and its record."""

    token: str
    record: Token

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.record.id, "token": self.token, "owner": self.record.owner,
                "scope": self.record.scope, "expires_at": self.record.expires_at.isoformat()}


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like_token(value: str) -> bool:
    """Whether `value` has the shape of a ModelGov token (the API tells them from OIDC JWTs by it)."""
    return isinstance(value, str) and value.startswith(PREFIX)


_COLUMNS = ("id, owner, kind, scope, description, created_at, created_by, expires_at, last_used_at, revoked_at, "
            "revoked_by")


def _row(r: tuple) -> Token:
    return Token(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[6], r[7], r[8], r[9], r[10])


def _scope(requested: str | list[str] | None, available: frozenset[str]) -> list[str]:
    if requested is None or requested == "":
        return sorted(available)
    names = [r.strip() for r in requested.split(",")] if isinstance(requested, str) else list(requested)
    names = [r for r in names if r]
    unknown = [r for r in names if r not in PERSON_ROLES]
    if unknown:
        raise InvalidInput(f"{unknown[0]!r} is not a role; a token's scope lists roles from "
                           f"{', '.join(PERSON_ROLES)}, separated by commas.", field="scope")
    return sorted(set(names))


def _is_service_account(con, email: str) -> bool:
    return con.execute("SELECT 1 FROM service_accounts WHERE email = ?", [email]).fetchone() is not None


def create_service_account(store, actor: Identity, email: str, description: str = "") -> bool:
    """Mark `email` as a service account (an identity that is not a person); False when it already was.

    Needs `manage-users`. Refused for an address that signed in to the dashboard or owns a personal token: that is
    a person, and an administrator must not hold tokens that act as a person. Records `setting.update`
    (key `service_account:EMAIL`). Raises InvalidInput, Forbidden (audited), Conflict.
    """
    from .events import SettingUpdated

    email = normalise_email(email)
    with store.transaction() as con:
        require(actor, "manage-users", SettingUpdated, f"service_account:{email}")
        if _is_service_account(con, email):
            return False
        person = con.execute(
            "SELECT 1 FROM audit_log WHERE action = 'user.sign_in' AND entity_id = ? AND outcome = 'ok' "
            "UNION ALL SELECT 1 FROM api_tokens WHERE owner = ? AND kind = 'personal' LIMIT 1",
            [email, email]).fetchone()
        if person or email == actor.email:
            raise Forbidden(f"{email} is a person (they signed in or made a token of their own), so it cannot "
                            "become a service account; create an address for the pipeline, e.g. "
                            "ci-pipeline@svc.example.com.", actor=actor.email, action=SettingUpdated.action,
                            entity_type=SettingUpdated.entity_type, entity_id=f"service_account:{email}")
        con.execute("INSERT INTO service_accounts (email, description, created_at, created_by) VALUES (?, ?, ?, ?)",
                    [email, description, utcnow(), actor.email])
        record(con, actor, SettingUpdated(f"service_account:{email}", None, {"description": description}))
        return True


def create_token(store, actor: Identity, owner: str, scope: str | list[str] | None = None,
                 expires_days: int = DEFAULT_DAYS, description: str = "") -> NewToken:
    """Make an access token for `owner`; the secret is in the result, and nowhere else, ever.

    A person makes tokens for themselves (needs `view`: any role); an administrator (`manage-users`) makes them for
    service accounts. The scope (default: every role the owner may give it) is never wider than the owner's
    granted roles nor, for their own token, the actor's roles. Records `token.create` with the token's id.
    Raises InvalidInput, Forbidden (audited).
    """
    owner = normalise_email(owner)
    if isinstance(expires_days, bool) or not isinstance(expires_days, int) or not 1 <= expires_days <= MAX_DAYS:
        raise InvalidInput(f"A token expires after 1 to {MAX_DAYS} days; {expires_days!r} is not in that range.",
                           field="expires_days")
    with store.transaction() as con:
        if actor.token_id:
            raise _refused(actor, TokenCreated, owner, f"{actor.email} is signed in with an access token, which "
                           "cannot make another token (a stolen token must not mint a longer-lived one); make it "
                           "from the dashboard or with a sign-in from your identity provider.")
        service = _is_service_account(con, owner)
        owner_roles = separate_duties(granted_roles(con, owner))
        if service:
            require(actor, "manage-users", TokenCreated, owner)
            available = owner_roles - SERVICE_FORBIDDEN_ROLES
        elif owner == actor.email:
            require(actor, "view", TokenCreated, owner)
            available = owner_roles & actor.roles
        else:
            raise _refused(actor, TokenCreated, owner, f"{actor.email} may not make a token for {owner}: a person "
                           "makes only their own tokens, and an administrator makes tokens only for service "
                           f"accounts ('modelgov tokens create --owner {owner} --service-account' if it is one).")
        wanted = _scope(scope, available)
        wider = [r for r in wanted if r not in available]
        if wider:
            why = (f"a service account's token may not carry {wider[0]} (an administrator holds it)"
                   if service and wider[0] in SERVICE_FORBIDDEN_ROLES else
                   f"{owner} does not hold the role {wider[0]}")
            raise _refused(actor, TokenCreated, owner, f"The scope {', '.join(wanted)} is wider than the owner's "
                           f"roles: {why}; a token never holds more than its owner.")
        if not wanted:
            raise InvalidInput(f"{owner} holds no role a token could carry, so the token could do nothing; grant a "
                               "role first ('modelgov users grant').", field="scope")
        token = PREFIX + secrets.token_urlsafe(32)
        token_id = "tok_" + secrets.token_hex(8)
        now = utcnow()
        expires = now + timedelta(days=expires_days)
        kind = "service" if service else "personal"
        con.execute(f"INSERT INTO api_tokens ({_COLUMNS}, token_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, "
                    "NULL, ?)", [token_id, owner, kind, json.dumps(wanted), description, now, actor.email, expires,
                                 digest(token)])
        record(con, actor, TokenCreated(token_id, owner, kind, wanted, expires.isoformat()))
        row = con.execute(f"SELECT {_COLUMNS} FROM api_tokens WHERE id = ?", [token_id]).fetchone()
    return NewToken(token, _row(row))


def _refused(actor: Identity, event: type, entity_id: str, message: str) -> Forbidden:
    refused = Forbidden(message, actor=actor.email, action=event.action, entity_type=event.entity_type,
                        entity_id=entity_id)
    refused.token_id = actor.token_id
    return refused


def revoke_token(store, actor: Identity, token_id: str) -> Token:
    """Revoke a token at once; revoking a revoked token changes nothing.

    Its owner may revoke it; so may an administrator (`manage-users`), whoever owns it. Records `token.revoke`.
    Raises NotFound, Forbidden (audited).
    """
    with store.transaction() as con:
        row = con.execute(f"SELECT {_COLUMNS} FROM api_tokens WHERE id = ?", [str(token_id)]).fetchone()
        if row is None:
            raise NotFound(f"Token {token_id} not found. See 'modelgov tokens list'.")
        token = _row(row)
        if token.owner != actor.email:
            require(actor, "manage-users", TokenRevoked, token.id)
        if token.revoked_at is not None:
            return token
        con.execute("UPDATE api_tokens SET revoked_at = ?, revoked_by = ? WHERE id = ?",
                    [utcnow(), actor.email, token.id])
        record(con, actor, TokenRevoked(token.id, token.owner))
        row = con.execute(f"SELECT {_COLUMNS} FROM api_tokens WHERE id = ?", [token.id]).fetchone()
    return _row(row)


def list_tokens(store, actor: Identity) -> list[Token]:
    """The actor's own tokens; an administrator (`manage-users`) sees everyone's. Newest first; never a secret."""
    from .identity import allowed

    with store.read() as con:
        if allowed(actor, "manage-users"):
            rows = con.execute(f"SELECT {_COLUMNS} FROM api_tokens ORDER BY created_at DESC").fetchall()
        else:
            rows = con.execute(f"SELECT {_COLUMNS} FROM api_tokens WHERE owner = ? ORDER BY created_at DESC",
                               [actor.email]).fetchall()
    return [_row(r) for r in rows]


_REFUSED = ("The access token is not valid (unknown, malformed, expired or revoked); make a new one with "
            "'modelgov tokens create' or from the dashboard.")


def authenticate(store, token: str) -> Identity:
    """The identity a token proves: its owner with the roles of its scope they still hold (duties separated).

    Nothing is recorded in the audit trail for a refused token (an unauthenticated caller must not be able to
    write to the store); the last-used time of a good one is written at most once a minute. Raises
    Unauthenticated with one sentence that does not say which check failed.
    """
    if not isinstance(token, str) or not _SHAPE.match(token):
        raise Unauthenticated(_REFUSED)
    wanted = digest(token)
    with store.read() as con:
        row = con.execute(f"SELECT {_COLUMNS}, token_sha256 FROM api_tokens WHERE token_sha256 = ?",
                          [wanted]).fetchone()
        # The lookup is by the digest of 256 random bits, so its timing tells nothing of another token; the
        # comparison is repeated in constant time all the same, so the check does not rest on the index.
        if row is None or not hmac.compare_digest(row[-1], wanted):
            raise Unauthenticated(_REFUSED)
        found = _row(row[:-1])
        now = utcnow()
        if found.revoked_at is not None or found.expires_at <= now:
            raise Unauthenticated(_REFUSED)
        roles = separate_duties(granted_roles(con, found.owner) & frozenset(found.scope))
        if found.kind == "service":
            roles -= SERVICE_FORBIDDEN_ROLES
    if found.last_used_at is None or now - found.last_used_at >= LAST_USED_EVERY:
        try:
            with store.transaction() as con:
                con.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR "
                            "last_used_at < ?)", [now, found.id, now - LAST_USED_EVERY])
        except Conflict:  # another request with the same token wrote it at the same moment: it is written
            pass
    return Identity(found.owner, roles, token_id=found.id)
