"""Role grants: the first admin of a store, grants and revocations, under separation of duties.

Nobody grants or revokes their own roles, and no grant gives one person both roles of an exclusive pair
(`identity.EXCLUSIVE_ROLES`: an administrator is not also a risk officer). Each refusal is audited.
"""

from __future__ import annotations

from typing import Any

from .audit import record, utcnow
from .errors import Conflict, Forbidden, NotFound
from .events import RoleGranted, RoleRevoked
from .identity import (ADMIN, SYSTEM, Identity, check_role, exclusive_with, granted_roles, normalise_email,
                       require)
from .frozen import frozen_record


@frozen_record
class UserRoles:
    email: str
    roles: list[str]
    granted_at: Any

    def as_dict(self) -> dict[str, Any]:
        return {"email": self.email, "roles": self.roles,
                "granted_at": self.granted_at.isoformat() if self.granted_at else None}


def init_store(store, admin_email: str | None = None) -> bool:
    """Create (or upgrade) the store; with `admin_email`, make the first admin.

    Records `user.grant` by the system. Raises Conflict when the store already has an admin.
    Returns True when an admin was made.
    """
    with store.transaction() as con:
        if admin_email is None:
            return False
        email = normalise_email(admin_email)
        if con.execute("SELECT 1 FROM role_grants WHERE role = 'admin' LIMIT 1").fetchone():
            raise Conflict("This store already has an administrator; ask them to grant roles "
                           "with 'modelgov users grant'.")
        _grant(con, SYSTEM, email, ADMIN)
        return True


def _grant(con, actor: Identity, email: str, role: str) -> bool:
    if con.execute("SELECT 1 FROM role_grants WHERE email = ? AND role = ?", [email, role]).fetchone():
        return False
    con.execute("INSERT INTO role_grants (email, role, granted_by, granted_at) VALUES (?, ?, ?, ?)",
                [email, role, actor.email, utcnow()])
    record(con, actor, RoleGranted(email, role))
    return True


def _refused(actor: Identity, event: type, email: str, message: str) -> Forbidden:
    return Forbidden(message, actor=actor.email, action=event.action, entity_type=event.entity_type,
                     entity_id=email)


def grant_role(store, actor: Identity, email: str, role: str) -> bool:
    """Grant `role` to `email`; False when they already had it (nothing changes then).

    Needs `manage-users`; nobody grants themselves a role, and nobody is given both roles of an exclusive
    pair (admin and risk_officer). Records `user.grant`. Raises InvalidInput, Forbidden (audited).
    """
    email = normalise_email(email)
    check_role(role)
    with store.transaction() as con:
        require(actor, "manage-users", RoleGranted, email)
        if con.execute("SELECT 1 FROM role_grants WHERE email = ? AND role = ?", [email, role]).fetchone():
            return False
        if email == actor.email:
            raise _refused(actor, RoleGranted, email, f"{email} may not grant themselves the role {role}: nobody "
                           "grants their own roles; ask another administrator.")
        clash = [r for r in exclusive_with(role) if r in granted_roles(con, email)]
        if clash:
            raise _refused(actor, RoleGranted, email, f"{email} holds the role {clash[0]}, so they may not also be "
                           f"{role}: separation of duties keeps administrators and risk officers apart; revoke "
                           f"{clash[0]} first or choose another person.")
        return _grant(con, actor, email, role)


def revoke_role(store, actor: Identity, email: str, role: str) -> None:
    """Revoke `role` from `email`.

    Needs `manage-users`; nobody revokes their own roles. Records `user.revoke`. Raises InvalidInput,
    Forbidden (audited), NotFound (no such grant), Conflict (it would remove the last admin).
    """
    email = normalise_email(email)
    check_role(role)
    with store.transaction() as con:
        require(actor, "manage-users", RoleRevoked, email)
        if not con.execute("SELECT 1 FROM role_grants WHERE email = ? AND role = ?", [email, role]).fetchone():
            raise NotFound(f"{email} does not hold the role {role}. See 'modelgov users list'.")
        if role == ADMIN and con.execute("SELECT count(*) FROM role_grants WHERE role = 'admin'").fetchone()[0] == 1:
            raise Conflict(f"{email} is the last administrator; grant the role to someone else first.")
        if email == actor.email:
            raise _refused(actor, RoleRevoked, email, f"{email} may not revoke their own role {role}: nobody "
                           "changes their own roles; ask another administrator.")
        con.execute("DELETE FROM role_grants WHERE email = ? AND role = ?", [email, role])
        record(con, actor, RoleRevoked(email, role))


def list_users(store) -> list[UserRoles]:
    """Everyone holding a granted role, with their roles."""
    with store.read() as con:
        rows = con.execute("SELECT email, array_agg(role ORDER BY role), min(granted_at) FROM role_grants"
                           " GROUP BY email ORDER BY email").fetchall()
    return [UserRoles(e, list(r), g) for e, r, g in rows]


@frozen_record
class AccessEvent:
    """One grant, revocation, access-setting change or refused user management, from the audit trail."""

    seq: int
    ts: Any
    actor: str
    action: str
    person: str
    outcome: str
    detail: str


def access_history(store, actor: Identity, limit: int = 200) -> list[AccessEvent]:
    """The latest grants, revocations and access-setting changes (newest first), refusals included.

    Needs `manage-users`; a refusal is audited. Raises Forbidden.
    """
    with store.transaction() as con:
        require(actor, "manage-users")
        rows = con.execute(
            "SELECT seq, ts, actor, action, entity_id, outcome, CAST(payload AS VARCHAR) FROM audit_log "
            "WHERE entity_type IN ('user', 'setting') AND (action LIKE 'user.%' OR action = 'setting.update' "
            "OR action = 'manage-users') ORDER BY seq DESC LIMIT ?", [int(limit)]).fetchall()
    return [AccessEvent(seq, ts, who, action, entity, outcome, str(payload)) for seq, ts, who, action, entity,
            outcome, payload in rows]
