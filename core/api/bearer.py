"""Who is calling: the `Authorization: Bearer` header turned into an Identity, or a 401 sentence.

Two kinds of bearer token are accepted, told apart by their shape:
- a ModelGov access token (`mgv_…`): `core.tokens.authenticate` (scope ∩ the owner's grants now);
- a JWT from an identity provider configured in `[auth]` (the dashboard's own `.streamlit/secrets.toml`): its
  signature is checked against the provider's published keys (JWKS, from `server_metadata_url`), and its
  issuer, audience (the provider's `client_id` must be in `aud`), expiry and not-before time. A person is the
  verified e-mail of the token, with roles from its claims and grants exactly as at the dashboard's sign-in
  (`core.auth.identity_from_claims`); a token with no e-mail from the client-credentials flow is a service account
  only when its client id (`client_id` or `azp` claim) is listed in `[modelgov.service_clients]`.
JWTs are checked with joserfc, the JOSE library of Authlib's authors that Authlib itself now delegates to
(`authlib.jose` is deprecated in Authlib 1.7+ in favour of it; it ships as Authlib's dependency). Signatures with
a shared secret (HS*) or none are refused: only the provider's public keys prove anything here.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .. import auth, tokens
from ..errors import InvalidInput, Unauthenticated
from ..identity import Identity, granted_roles

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY_SECONDS = 30          # clock skew between the provider and this server
JWKS_REFRESH_SECONDS = 60    # an unknown key id fetches the keys again, at most this often
NEEDS_TOKEN = ("This request needs a bearer token: send 'Authorization: Bearer TOKEN' with a ModelGov access token "
               "('modelgov tokens create') or a token from your identity provider.")
BAD_JWT = ("The identity provider's token was refused (bad signature, wrong issuer or audience, or expired); "
           "get a new one from your identity provider.")


@dataclass
class Provider:
    """One `[auth]` provider: where its metadata is, whom its tokens are for, and its keys once fetched."""

    name: str
    metadata_url: str
    client_id: str
    issuer: str = ""
    jwks_uri: str = ""
    keys: Any = None
    fetched_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def _get_json(url: str) -> Any:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (the operator's configured URL)
            return json.loads(response.read())
    except (OSError, ValueError) as e:
        raise Unauthenticated(f"ModelGov could not reach the identity provider to check the token ({url}); try "
                              "again, and ask your administrator if it persists.") from e


class Verifier:
    """Checks provider JWTs for the `[auth]` configuration; built once per server."""

    def __init__(self, secrets: Mapping[str, Any] | None, env: Mapping[str, str] | None = None) -> None:
        config = auth.sign_in_config(secrets, env=env)
        if config.mode == "broken":
            raise InvalidInput(config.problem)
        self.settings = config.settings or auth.AuthSettings()
        self.providers: list[Provider] = []
        # "now" for expiry and not-before: the system clock; a test moves it to see a real token expire.
        self.clock: Callable[[], float] = time.time
        if config.mode == "oidc":
            section = dict((secrets or {})["auth"])
            for name in config.providers:
                values = section if name == "default" else section[name]
                self.providers.append(Provider(name, values["server_metadata_url"], values["client_id"]))

    @property
    def enabled(self) -> bool:
        return bool(self.providers)

    def _load(self, p: Provider, *, refresh: bool = False) -> None:
        from joserfc.jwk import KeySet

        with p.lock:
            if p.keys is not None and not refresh:
                return
            if refresh and time.monotonic() - p.fetched_at < JWKS_REFRESH_SECONDS:
                return
            if not p.issuer:
                meta = _get_json(p.metadata_url)
                p.issuer, p.jwks_uri = str(meta.get("issuer", "")), str(meta.get("jwks_uri", ""))
            p.keys = KeySet.import_key_set(_get_json(p.jwks_uri))
            p.fetched_at = time.monotonic()

    def claims(self, token: str) -> dict[str, Any]:
        """The verified claims of a provider's JWT. Raises Unauthenticated."""
        from joserfc import jwt
        from joserfc.errors import JoseError

        try:
            unverified = json.loads(_b64(token.split(".")[1]))
            issuer = unverified.get("iss") if isinstance(unverified, dict) else None
        except (ValueError, IndexError):
            raise Unauthenticated(BAD_JWT) from None
        for p in self.providers:
            self._load(p)
            if p.issuer != issuer:
                continue
            for attempt in (0, 1):
                try:
                    decoded = jwt.decode(token, p.keys, algorithms=list(ALGORITHMS))
                    break
                except (JoseError, ValueError) as e:
                    if attempt == 0 and "key" in str(e).lower():  # the provider rolled its keys: fetch them again
                        self._load(p, refresh=True)
                        continue
                    raise Unauthenticated(BAD_JWT) from None
            registry = jwt.JWTClaimsRegistry(
                now=lambda: int(self.clock()), leeway=LEEWAY_SECONDS, iss={"essential": True, "value": p.issuer},
                aud={"essential": True, "value": p.client_id}, exp={"essential": True})
            try:
                registry.validate(decoded.claims)
            except (JoseError, ValueError):
                raise Unauthenticated(BAD_JWT) from None
            return dict(decoded.claims)
        raise Unauthenticated(BAD_JWT)

    def identity(self, store, claims: Mapping[str, Any]) -> Identity:
        """The person (verified e-mail) or service account (listed client id) a verified token names."""
        if claims.get(self.settings.email_claim) is not None:
            try:
                return auth.identity_from_claims(store, claims, self.settings).identity
            except InvalidInput as e:
                raise Unauthenticated(str(e)) from None
        client = claims.get("client_id") or claims.get("azp")
        email = self.settings.service_clients.get(client) if isinstance(client, str) else None
        if not email:
            raise Unauthenticated("The identity provider's token names no verified e-mail address, and its client "
                                  "is not a service account listed in [modelgov.service_clients]; ask your "
                                  "administrator to list it.")
        with store.read() as con:
            grants = granted_roles(con, email)
        return Identity(email, auth.merge_roles(auth.roles_from_claims(claims, self.settings), grants, False))


def _b64(part: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def identify(store, header: str | None, verifier: Verifier | None) -> Identity:
    """The identity an `Authorization` header proves. Raises Unauthenticated (one sentence, nothing recorded)."""
    if not header or not header[:7].lower() == "bearer " or not header[7:].strip():
        raise Unauthenticated(NEEDS_TOKEN)
    token = header[7:].strip()
    if tokens.looks_like_token(token):
        return tokens.authenticate(store, token)
    if token.count(".") == 2 and verifier is not None and verifier.enabled:
        return verifier.identity(store, verifier.claims(token))
    raise Unauthenticated("The bearer token is neither a ModelGov access token (mgv_…) nor a token from the "
                          "configured identity provider; see docs/api.md.")
