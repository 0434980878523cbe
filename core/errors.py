"""Typed errors whose message is one sentence a person can act on."""

from __future__ import annotations


class CoreError(Exception):
    """Base of every error the core raises on purpose.

    `field` names the input at fault when there is one (`comment`, `reason`, `override_reason`, a policy field):
    the message names it in words, a page can point at its form field, and the CLI adds the option that carries
    it (`--comment TEXT`), so core's sentence never speaks of flags a page does not have.
    """

    exit_code = 1
    field: str | None = None


class InvalidInput(CoreError):
    """The caller gave something malformed or inconsistent."""

    exit_code = 2

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class _Refusable(CoreError):
    """An error that can name the refused attempt (who, what, on which entity) for the audit trail."""

    def __init__(self, message: str, *, actor: str = "", action: str = "",
                 entity_type: str = "", entity_id: str = "", field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.actor = actor
        self.action = action
        self.entity_type = entity_type
        self.entity_id = entity_id
        self.token_id = ""  # the access token the refused attempt came with (set by identity.require)


class Forbidden(_Refusable):
    """The acting person lacks the permission for this action."""

    exit_code = 3


class Conflict(_Refusable):
    """The action clashes with the current state (duplicate, busy, already decided).

    Given an `actor` and `action`, the refused attempt is recorded in the audit
    trail like a `Forbidden` one (a forbidden transition, not a busy lock).
    """

    exit_code = 4


class Unauthenticated(CoreError):
    """The caller proved no identity: no credential, or one that is unknown, expired or revoked (HTTP 401)."""

    exit_code = 3


class NotFound(CoreError):
    """The named thing does not exist."""

    exit_code = 5


class CheckFailed(_Refusable):
    """A check ran and found a problem (exit 1 in the CLI)."""

    exit_code = 1


def audited(error: CoreError) -> bool:
    """Whether a refusal is recorded in the audit trail when it ends a transaction."""
    return isinstance(error, Forbidden) or bool(getattr(error, "action", ""))
