"""users grant / revoke / list."""

from __future__ import annotations

from .. import auth, users
from ..identity import PERSON_ROLES, require
from . import Ctx, held_open, table


def register(sub, common) -> None:
    grp = sub.add_parser("users").add_subparsers(
        dest="users_command", metavar="SUBCOMMAND")
    grp.required = True
    p = grp.add_parser("grant", parents=[common], help="grant a role")
    p.add_argument("email")
    p.add_argument("role", choices=PERSON_ROLES)
    p.set_defaults(handler=cmd_grant)
    p = grp.add_parser("revoke", parents=[common], help="revoke a role")
    p.add_argument("email")
    p.add_argument("role", choices=PERSON_ROLES)
    p.set_defaults(handler=cmd_revoke)
    p = grp.add_parser("list", parents=[common], help="everyone with a granted role")
    p.set_defaults(handler=cmd_list)
    p = grp.add_parser("auto-viewer", parents=[common],
                       help="whether signed-in people without a role get viewer (default off)")
    p.add_argument("state", nargs="?", choices=["on", "off"], help="turn it on or off; omit to show it")
    p.set_defaults(handler=cmd_auto_viewer)


def cmd_grant(ctx: Ctx) -> int:
    new = users.grant_role(ctx.store, ctx.actor(), ctx.args.email, ctx.args.role)
    ctx.emit({"email": ctx.args.email.lower(), "role": ctx.args.role, "changed": new},
             f"{ctx.args.email} {'now holds' if new else 'already held'} the role {ctx.args.role}.")
    return 0


def cmd_revoke(ctx: Ctx) -> int:
    users.revoke_role(ctx.store, ctx.actor(), ctx.args.email, ctx.args.role)
    ctx.emit({"email": ctx.args.email.lower(), "role": ctx.args.role, "changed": True},
             f"{ctx.args.email} no longer holds the role {ctx.args.role}.")
    return 0


@held_open
def cmd_list(ctx: Ctx) -> int:
    actor = ctx.actor()
    with ctx.store.transaction():
        require(actor, "manage-users")
    items = users.list_users(ctx.store)
    ctx.emit([u.as_dict() for u in items],
             lambda: table([(u.email, ", ".join(u.roles)) for u in items], ["EMAIL", "ROLES"]))
    return 0


def cmd_auto_viewer(ctx: Ctx) -> int:
    if ctx.args.state is None:
        on = auth.auto_viewer(ctx.store)
    else:
        on = ctx.args.state == "on"
        auth.set_auto_viewer(ctx.store, ctx.actor(), on)
    ctx.emit({"auto_viewer": on},
             f"Signed-in people without a role {'get viewer automatically' if on else 'see only the no-access page'}"
             f" (auto-viewer {'on' if on else 'off'}).")
    return 0
