"""Who a signed-in person is: roles from the identity provider's claims plus grants in the store.

The dashboard signs people in with OpenID Connect (Streamlit's `st.login`);
this module holds the rules, free of Streamlit, so they are tested on their own:

- the roles claim (`groups` by default) lists group names; a group named like a
  role grants that role (`risk_officer`, `Risk-Officer`, Keycloak's `/risk_officer`);
- a configured mapping translates other group names (an Entra ID group id, a
  corporate group name) into one or more roles;
- grants an administrator made in the store are added;
- someone with no role at all gets `viewer` only when the store's
  `auth.auto_viewer` setting is on (default off).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from .audit import canonical_json, record, utcnow
from .events import SettingUpdated, UserSignedIn
from .errors import InvalidInput
from .identity import PERSON_ROLES, VIEWER, Identity, granted_roles, normalise_email, require, separate_duties

DEFAULT_ROLES_CLAIM = "groups"
DEFAULT_EMAIL_CLAIMS = ("email", "preferred_username", "upn")
AUTO_VIEWER_KEY = "auth.auto_viewer"


@dataclass(frozen=True)
class AuthSettings:
    """How to read roles from an ID token (from `[modelgov]` in secrets.toml and the environment)."""

    roles_claim: str = DEFAULT_ROLES_CLAIM
    group_roles: Mapping[str, frozenset[str]] = field(default_factory=dict)
    email_claims: tuple[str, ...] = DEFAULT_EMAIL_CLAIMS


def _role_name(text: str) -> str:
    """'Risk-Officer', 'risk officer', '/risk_officer' → 'risk_officer' (may not be a role)."""
    last = str(text).strip().rstrip("/").rsplit("/", 1)[-1]
    return last.strip().lower().replace("-", "_").replace(" ", "_")


def settings_from(section: Mapping[str, Any] | None = None,
                  env: Mapping[str, str] | None = None) -> AuthSettings:
    """Settings from the `[modelgov]` secrets section, with `MODELGOV_ROLES_CLAIM` overriding the claim.

    `section` may hold `roles_claim = "groups"`, `email_claim = "email"` and a table
    `[modelgov.group_roles]` mapping a group name to a role or a list of roles.
    Raises InvalidInput naming a mapped role that does not exist.
    """
    section = dict(section or {})
    env = os.environ if env is None else env
    claim = (env.get("MODELGOV_ROLES_CLAIM") or section.get("roles_claim") or DEFAULT_ROLES_CLAIM).strip()
    mapping: dict[str, frozenset[str]] = {}
    for group, roles in dict(section.get("group_roles") or {}).items():
        roles = [roles] if isinstance(roles, str) else list(roles)
        for role in roles:
            if role not in PERSON_ROLES:
                raise InvalidInput(f"The group {group!r} in [modelgov.group_roles] maps to the unknown role "
                                   f"{role!r}; use one of {', '.join(PERSON_ROLES)}.")
        mapping[str(group)] = frozenset(roles)
    email_claim = section.get("email_claim")
    email_claims = (str(email_claim),) if email_claim else DEFAULT_EMAIL_CLAIMS
    return AuthSettings(claim, mapping, email_claims)


def claim_values(claims: Mapping[str, Any], name: str) -> list[str]:
    """The values of a claim as strings: a list, a single string (comma or space separated), or nothing."""
    value = claims.get(name)
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in value.replace(",", " ").split() if v]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [str(v) for v in value if v is not None and str(v).strip()]
    return [str(value)]


def roles_from_claims(claims: Mapping[str, Any], settings: AuthSettings = AuthSettings()) -> frozenset[str]:
    """The roles the ID token's roles claim grants: groups named like a role, then the mapping."""
    roles: set[str] = set()
    for group in claim_values(claims, settings.roles_claim):
        if group in settings.group_roles:
            roles |= settings.group_roles[group]
        name = _role_name(group)
        if name in PERSON_ROLES:
            roles.add(name)
    return frozenset(roles)


def email_from_claims(claims: Mapping[str, Any], settings: AuthSettings = AuthSettings()) -> str:
    """The person's e-mail from the first present e-mail claim; InvalidInput when none is usable."""
    for name in settings.email_claims:
        value = claims.get(name)
        if isinstance(value, str) and "@" in value:
            return normalise_email(value)
    raise InvalidInput(
        "The identity provider sent no e-mail address (claims tried: "
        f"{', '.join(settings.email_claims)}); add the 'email' scope or set email_claim in [modelgov].")


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
    """The identity of a signed-in person: e-mail and name from the ID token, roles merged.

    Raises InvalidInput when the token carries no usable e-mail address.
    """
    email = email_from_claims(claims, settings)
    name = str(claims.get("name") or "").strip()
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


PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
SHARED_KEYS = ("redirect_uri", "cookie_secret")


def providers(auth_section: Mapping[str, Any] | None) -> list[str]:
    """Names of the fully configured providers in an `[auth]` section ('default' for the unnamed one).

    An `[auth]` section without `redirect_uri` and `cookie_secret` configures nothing.
    """
    if not auth_section or not all(auth_section.get(k) for k in SHARED_KEYS):
        return []
    found = []
    if all(auth_section.get(k) for k in PROVIDER_KEYS):
        found.append("default")
    for name, value in auth_section.items():
        if isinstance(value, Mapping) and all(value.get(k) for k in PROVIDER_KEYS):
            found.append(str(name))
    return found


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
            "SELECT entity_id, max(ts), count(*), arg_max(CAST(payload AS VARCHAR), seq) FROM audit_log "
            "WHERE action = 'user.sign_in' AND outcome = 'ok' GROUP BY entity_id ORDER BY max(ts) DESC LIMIT ?",
            [int(limit)]).fetchall()
    out = []
    for email, ts, n, payload in rows:
        data = json.loads(payload)
        out.append(SignInSummary(email, ts, n, list(data.get("roles", [])), list(data.get("from_provider", []))))
    return out
