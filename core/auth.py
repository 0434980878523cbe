"""Who a signed-in person is, and whether sign-in is configured well enough to run at all.

The dashboard signs people in with OpenID Connect (Streamlit's `st.login`). The
rules live here, free of Streamlit, so they are tested on their own and the
dashboard only applies them. Each rule fails closed:

- Configuration (`sign_in_config`): any `[auth]` section, any `[modelgov]`
  section, or a secrets file that cannot be read means sign-in was intended; a
  problem in it stops the dashboard on one page naming the problem. Only a
  secrets file without either section (or no file) is demo mode.
- The person (`email_from_claims`): the e-mail address in one configured claim
  (`email`), and only when the provider says it verified it (`email_verified`
  is true); unverified addresses only when an operator sets
  `allow_unverified_email = true`. No other claim is ever taken for an address.
- Roles (`roles_from_claims`): the values of one claim (`groups`) looked up,
  exactly, in one table (`[modelgov.group_roles]`; by default each role's own
  name). No case folding, no path segments, no near matches.
- Grants an administrator made in the store are added; someone with no role at
  all gets `viewer` only when the store's `auth.auto_viewer` setting is on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping
from urllib.parse import urlparse

from .audit import canonical_json, record, utcnow
from .events import SettingUpdated, UserSignedIn
from .errors import InvalidInput
from .identity import PERSON_ROLES, VIEWER, Identity, granted_roles, normalise_email, require, separate_duties

SECRETS_FILE = ".streamlit/secrets.toml"
DEFAULT_ROLES_CLAIM = "groups"
DEFAULT_EMAIL_CLAIM = "email"
DEFAULT_EMAIL_VERIFIED_CLAIM = "email_verified"
# With no [modelgov.group_roles] table, a claim value grants a role only when it is exactly that role's name.
DEFAULT_GROUP_ROLES: Mapping[str, frozenset[str]] = MappingProxyType({r: frozenset({r}) for r in PERSON_ROLES})
AUTO_VIEWER_KEY = "auth.auto_viewer"
SETTING_KEYS = ("roles_claim", "group_roles", "email_claim", "email_verified_claim", "allow_unverified_email",
                "service_clients")
# The value secrets.toml.example ships with: a dashboard started with it must not sign cookies with it.
EXAMPLE_COOKIE_SECRET = "replace-with-64-random-hex-characters"
MIN_COOKIE_SECRET = 32
LOOPBACK = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class AuthSettings:
    """How to read a person and their roles from an ID token (`[modelgov]` in secrets.toml)."""

    roles_claim: str = DEFAULT_ROLES_CLAIM
    group_roles: Mapping[str, frozenset[str]] = field(default_factory=lambda: DEFAULT_GROUP_ROLES)
    email_claim: str = DEFAULT_EMAIL_CLAIM
    email_verified_claim: str = DEFAULT_EMAIL_VERIFIED_CLAIM
    allow_unverified_email: bool = False
    group_roles_configured: bool = False  # False: the default table (each role's own name) is in force
    # [modelgov.service_clients]: OAuth client id → the service account it acts as. A bearer token from the
    # client-credentials flow names a client, not a person; only the clients listed here are let in (core/api).
    service_clients: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


def _claim_name(section: Mapping[str, Any], key: str, default: str) -> str:
    value = section.get(key, default)
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise InvalidInput(f"The setting {key} in [modelgov] of {SECRETS_FILE} must name a claim, "
                           f"for example {key} = \"{default}\".")
    return value


def settings_from(section: Mapping[str, Any] | None = None,
                  env: Mapping[str, str] | None = None) -> AuthSettings:
    """Settings from the `[modelgov]` secrets section; `MODELGOV_ROLES_CLAIM` overrides `roles_claim`.

    `[modelgov.group_roles]`, when present, is the whole table: only the claim
    values it names grant roles. Raises InvalidInput naming an unknown setting,
    a setting of the wrong type, or a mapping to a role that does not exist.
    """
    section = dict(section or {})
    env = os.environ if env is None else env
    unknown = sorted(set(section) - set(SETTING_KEYS))
    if unknown:
        raise InvalidInput(f"Unknown setting {unknown[0]!r} in [modelgov] of {SECRETS_FILE}; the settings are "
                           f"{', '.join(SETTING_KEYS)} (see docs/authentication.md).")
    roles_claim = _claim_name(section, "roles_claim", DEFAULT_ROLES_CLAIM)
    if (env.get("MODELGOV_ROLES_CLAIM") or "").strip():
        roles_claim = env["MODELGOV_ROLES_CLAIM"].strip()
    email_claim = _claim_name(section, "email_claim", DEFAULT_EMAIL_CLAIM)
    verified_claim = _claim_name(section, "email_verified_claim", DEFAULT_EMAIL_VERIFIED_CLAIM)
    allow_unverified = section.get("allow_unverified_email", False)
    if not isinstance(allow_unverified, bool):
        raise InvalidInput(f"The setting allow_unverified_email in [modelgov] of {SECRETS_FILE} must be true or "
                           "false without quotes.")
    configured = "group_roles" in section
    mapping = DEFAULT_GROUP_ROLES
    if configured:
        table = section["group_roles"]
        if not isinstance(table, Mapping):
            raise InvalidInput(f"[modelgov.group_roles] in {SECRETS_FILE} must be a table of claim value = role, "
                               'for example "Model Risk Management" = "risk_officer".')
        mapping = {}
        for group, roles in table.items():
            roles = [roles] if isinstance(roles, str) else roles
            if not isinstance(roles, (list, tuple)) or not roles or not all(r in PERSON_ROLES for r in roles):
                raise InvalidInput(f"The group {group!r} in [modelgov.group_roles] maps to {table[group]!r}, "
                                   f"which is not a role or list of roles; use {', '.join(PERSON_ROLES)}.")
            mapping[str(group)] = frozenset(roles)
        mapping = MappingProxyType(mapping)
    clients = section.get("service_clients", {})
    if not isinstance(clients, Mapping) or not all(isinstance(v, str) for v in clients.values()):
        raise InvalidInput(f"[modelgov.service_clients] in {SECRETS_FILE} must be a table of client id = service "
                           'account e-mail, for example "ci-pipeline" = "ci-pipeline@svc.example.com".')
    try:
        clients = MappingProxyType({str(k): normalise_email(v) for k, v in clients.items()})
    except InvalidInput as e:
        raise InvalidInput(f"[modelgov.service_clients] in {SECRETS_FILE} names something that is not an e-mail "
                           "address; map each client id to its service account's address.") from e
    return AuthSettings(roles_claim, mapping, email_claim, verified_claim, allow_unverified, configured, clients)


def claim_values(claims: Mapping[str, Any], name: str) -> list[str]:
    """The values of a claim as strings, each exactly as sent: a list of strings, or one string.

    A single string is one value (never split on spaces or commas, which would
    turn "Model Risk Management" into three names); anything else is ignored.
    """
    value = claims.get(name)
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str) and v]
    return []


def roles_from_claims(claims: Mapping[str, Any], settings: AuthSettings = AuthSettings()) -> frozenset[str]:
    """The roles the ID token's roles claim grants: each value looked up exactly in the settings' table."""
    roles: set[str] = set()
    for value in claim_values(claims, settings.roles_claim):
        roles |= settings.group_roles.get(value, frozenset())
    return frozenset(roles)


def _is_true(value: Any) -> bool:
    """A claim that says yes: JSON true, or the string "true" some providers send (Cognito)."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def email_from_claims(claims: Mapping[str, Any], settings: AuthSettings = AuthSettings()) -> str:
    """The person's e-mail address: the configured claim, verified by the provider.

    Raises InvalidInput when the claim is missing or not an address, or when
    the provider did not mark it verified (unless `allow_unverified_email`).
    The messages never repeat what the token said.
    """
    value = claims.get(settings.email_claim)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(
            f"Your identity provider sent no e-mail address (claim {settings.email_claim}), so ModelGov cannot "
            "tell who you are; ask your administrator to release your e-mail address to ModelGov.")
    try:
        email = normalise_email(value)
    except InvalidInput:
        email = ""
    if not email or not email.isprintable():
        raise InvalidInput(
            f"The claim {settings.email_claim} from your identity provider is not an e-mail address, so ModelGov "
            "cannot tell who you are; ask your administrator to check which claim carries the address.")
    if not settings.allow_unverified_email and not _is_true(claims.get(settings.email_verified_claim)):
        raise InvalidInput(
            "Your identity provider has not confirmed that your e-mail address belongs to you (claim "
            f"{settings.email_verified_claim} is not true), so ModelGov will not sign you in with it; verify the "
            "address with your provider or ask your administrator.")
    return email


# -- configuration ------------------------------------------------------------------------------------

PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
SHARED_KEYS = ("redirect_uri", "cookie_secret")
DEFAULT_PROVIDER_TABLES = ("client_kwargs",)  # sub-tables of [auth] that belong to the unnamed provider


@dataclass(frozen=True)
class SignInConfig:
    """What the dashboard may do: sign people in ("oidc"), run the demo ("demo"), or nothing.

    "refused": no provider while MODELGOV_REQUIRE_AUTH is set; "broken": sign-in
    was intended but its configuration has a problem (`problem` names it).
    """

    mode: str
    providers: tuple[str, ...] = ()
    settings: AuthSettings | None = None
    problem: str = ""


def _named_providers(auth_section: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(k): v for k, v in auth_section.items()
            if isinstance(v, Mapping) and k not in DEFAULT_PROVIDER_TABLES}


def providers(auth_section: Mapping[str, Any] | None) -> list[str]:
    """Names of the fully configured providers in an `[auth]` section ('default' for the unnamed one).

    An `[auth]` section without `redirect_uri` and `cookie_secret` configures nothing.
    """
    if not isinstance(auth_section, Mapping) or not all(auth_section.get(k) for k in SHARED_KEYS):
        return []
    found = []
    if all(auth_section.get(k) for k in PROVIDER_KEYS):
        found.append("default")
    found += [name for name, value in _named_providers(auth_section).items()
              if all(value.get(k) for k in PROVIDER_KEYS)]
    return found


def _url_problem(key: str, where: str, url: Any, *, callback: bool = False) -> str:
    parsed = urlparse(url) if isinstance(url, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.hostname:
        return f"{key} in {where} is not a web address"
    if parsed.scheme != "https" and parsed.hostname not in LOOPBACK:
        return f"{key} in {where} must use https (plain http is accepted only for localhost)"
    if callback and not parsed.path.endswith("/oauth2callback"):
        return f"{key} in {where} must end with /oauth2callback"
    return ""


def _auth_problem(auth_section: Any) -> str:
    """What is wrong with an `[auth]` section, as the middle of a sentence; "" when it can sign people in."""
    where = f"[auth] of {SECRETS_FILE}"
    if not isinstance(auth_section, Mapping):
        return f"auth in {SECRETS_FILE} is not a table"
    missing = [k for k in SHARED_KEYS if not isinstance(auth_section.get(k), str) or not auth_section.get(k)]
    if missing:
        return f"{where} lacks {' and '.join(missing)}"
    secret = auth_section["cookie_secret"]
    if secret == EXAMPLE_COOKIE_SECRET or len(secret) < MIN_COOKIE_SECRET:
        return (f"cookie_secret in {where} is the example's or shorter than {MIN_COOKIE_SECRET} characters, "
                "so anyone could forge a sign-in cookie")
    if problem := _url_problem("redirect_uri", where, auth_section["redirect_uri"].replace("{port}", "1"),
                               callback=True):
        return problem
    sections = {}
    if any(k in auth_section for k in PROVIDER_KEYS):
        sections["the unnamed provider"] = (where, auth_section)
    for name, value in _named_providers(auth_section).items():
        if "_" in name:
            return f"the provider name {name!r} in [auth.{name}] contains _, which Streamlit does not allow"
        sections[f"provider {name}"] = (f"[auth.{name}] of {SECRETS_FILE}", value)
    if not sections:
        return f"{where} names no identity provider (client_id, client_secret, server_metadata_url)"
    for label, (place, values) in sections.items():
        missing = [k for k in PROVIDER_KEYS if not isinstance(values.get(k), str) or not values.get(k)]
        if missing:
            return f"{place} lacks {', '.join(missing)} for {label}"
        if problem := _url_problem("server_metadata_url", place, values["server_metadata_url"]):
            return problem
    return ""


def sign_in_config(secrets: Mapping[str, Any] | None, *, unreadable: str = "",
                   env: Mapping[str, str] | None = None) -> SignInConfig:
    """Decide how the dashboard runs from the parsed secrets (None: no secrets file at all).

    `unreadable` is why an existing secrets file could not be read. Anything
    that shows sign-in was intended (an `[auth]` or `[modelgov]` section, an
    unreadable file) never yields demo mode: either sign-in works ("oidc") or
    `problem` says in one sentence what is wrong and what to do ("broken").
    """
    env = os.environ if env is None else env
    fix = "; correct it (see docs/authentication.md) and restart ModelGov."
    if unreadable:
        return SignInConfig("broken", problem=(
            f"ModelGov cannot read {SECRETS_FILE} ({unreadable}), so it cannot tell how people sign in" + fix))
    secrets = dict(secrets or {})
    auth_keys = [k for k in secrets if str(k).lower() == "auth"]
    if auth_keys and "auth" not in secrets:
        return SignInConfig("broken", problem=f"{SECRETS_FILE} has a section [{auth_keys[0]}] but ModelGov and "
                                              "Streamlit read only [auth] (lower case); rename it and restart "
                                              "ModelGov.")
    if "auth" not in secrets:
        if "modelgov" in secrets:
            return SignInConfig("broken", problem=f"{SECRETS_FILE} has sign-in settings in [modelgov] but no "
                                                  "[auth] section naming an identity provider" + fix)
        return SignInConfig("refused" if require_auth(env) else "demo")
    if problem := _auth_problem(secrets["auth"]):
        return SignInConfig("broken", problem="Sign-in is not usable: " + problem + fix)
    modelgov = secrets.get("modelgov", {})
    if not isinstance(modelgov, Mapping):
        return SignInConfig("broken", problem=f"Sign-in is not usable: modelgov in {SECRETS_FILE} is not a "
                                              "table" + fix)
    try:
        settings = settings_from(modelgov, env)
    except InvalidInput as e:
        return SignInConfig("broken", problem=str(e).rstrip(".") + "; restart ModelGov after correcting it.")
    return SignInConfig("oidc", tuple(providers(secrets["auth"])), settings)


def auto_viewer(store) -> bool:
    """Whether signed-in people without any role get `viewer` (the `auth.auto_viewer` setting; default off)."""
    with store.read() as con:
        row = con.execute("SELECT value FROM settings WHERE key = ?", [AUTO_VIEWER_KEY]).fetchone()
    return bool(row) and str(row[0]).strip().lower() == "true"


def set_auto_viewer(store, actor: Identity, enabled: bool) -> bool:
    """Turn automatic `viewer` for people without a role on or off; False when it was already so.

    Needs `manage-users`. Records `setting.update`. Raises Forbidden.
    """
    enabled = bool(enabled)
    with store.transaction() as con:
        require(actor, "manage-users", SettingUpdated, AUTO_VIEWER_KEY)
        row = con.execute("SELECT value FROM settings WHERE key = ?", [AUTO_VIEWER_KEY]).fetchone()
        before = bool(row) and str(row[0]).strip().lower() == "true"
        if row is not None and before == enabled:
            return False
        con.execute(
            "INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, "
            "updated_by = excluded.updated_by",
            [AUTO_VIEWER_KEY, canonical_json(enabled), utcnow(), actor.email])
        record(con, actor, SettingUpdated(AUTO_VIEWER_KEY, before, enabled))
        return before != enabled


@dataclass(frozen=True)
class SignedIn:
    """A signed-in person: their identity and where each role came from."""

    identity: Identity
    from_claims: frozenset[str]
    from_grants: frozenset[str]
    auto_viewer: bool

    def source_of(self, role: str) -> str:
        where = []
        if role in self.from_claims:
            where.append("identity provider")
        if role in self.from_grants:
            where.append("granted in ModelGov")
        if not where and self.auto_viewer and role == VIEWER:
            where.append("automatic viewer")
        return " and ".join(where)


def merge_roles(claim_roles: frozenset[str], grants: frozenset[str], auto_viewer_on: bool) -> frozenset[str]:
    """Claims ∪ grants, duties separated (admin with risk_officer keeps admin only: `identity.separate_duties`);
    `viewer` alone when both are empty and automatic viewer is on."""
    roles = frozenset(claim_roles) | frozenset(grants)
    if not roles and auto_viewer_on:
        return frozenset({VIEWER})
    return separate_duties(roles)


def identity_from_claims(store, claims: Mapping[str, Any], settings: AuthSettings = AuthSettings()) -> SignedIn:
    """The identity of a signed-in person: the verified e-mail and name from the ID token, roles merged.

    Raises InvalidInput when the token carries no usable verified e-mail address.
    """
    email = email_from_claims(claims, settings)
    name = claims.get("name")
    name = "".join(c for c in name if c.isprintable()).strip() if isinstance(name, str) else ""
    from_claims = roles_from_claims(claims, settings)
    with store.read() as con:
        grants = granted_roles(con, email)
        row = con.execute("SELECT value FROM settings WHERE key = ?", [AUTO_VIEWER_KEY]).fetchone()
    auto = bool(row) and str(row[0]).strip().lower() == "true"
    roles = merge_roles(from_claims, grants, auto)
    return SignedIn(Identity(email, roles, name), from_claims, grants, auto and not (from_claims | grants))


def require_auth(env: Mapping[str, str] | None = None) -> bool:
    """`MODELGOV_REQUIRE_AUTH=1` (or true/yes): refuse to run without an identity provider."""
    env = os.environ if env is None else env
    return (env.get("MODELGOV_REQUIRE_AUTH") or "").strip().lower() in {"1", "true", "yes", "on"}


def record_sign_in(store, signed: SignedIn) -> None:
    """Record `user.sign_in` with the roles the provider gave and those granted in the store.

    Signing in needs no permission (a person without a role may sign in and
    see that they have none); the event lets an administrator see who came in
    with which provider roles, which the store's grants alone do not show.
    """
    me = signed.identity
    with store.transaction() as con:
        record(con, me, UserSignedIn(me.email, sorted(signed.from_claims), sorted(signed.from_grants), signed.auto_viewer,
                                 sorted(me.roles)))


@dataclass(frozen=True)
class SignInSummary:
    email: str
    last_sign_in: Any
    sign_ins: int
    roles: list[str]
    from_provider: list[str]


def recent_sign_ins(store, actor: Identity, limit: int = 500) -> list[SignInSummary]:
    """Everyone who signed in, newest first, with the roles they had at their last sign-in.

    Needs `manage-users`; a refusal is audited. Raises Forbidden.
    """
    import json

    with store.transaction() as con:
        require(actor, "manage-users")
        rows = con.execute(
            "SELECT entity_id, max(ts), count(*), (array_agg(CAST(payload AS VARCHAR) ORDER BY seq DESC))[1] FROM audit_log "
            "WHERE action = 'user.sign_in' AND outcome = 'ok' GROUP BY entity_id ORDER BY max(ts) DESC LIMIT ?",
            [int(limit)]).fetchall()
    out = []
    for email, ts, n, payload in rows:
        data = json.loads(payload)
        out.append(SignInSummary(email, ts, n, list(data.get("roles", [])), list(data.get("from_provider", []))))
    return out
