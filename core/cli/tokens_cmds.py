"""tokens create / list / revoke: access tokens for the HTTP API."""

from __future__ import annotations

from .. import tokens
from . import Ctx, held_open, table
from .argtypes import whole_number


def register(sub, common) -> None:
    grp = sub.add_parser("tokens").add_subparsers(dest="tokens_command", metavar="SUBCOMMAND")
    grp.required = True
    p = grp.add_parser("create", parents=[common], help="make an access token (shown once)")
    p.add_argument("--owner", required=True, metavar="EMAIL", help="whom the token acts as")
    p.add_argument("--scope", metavar="ROLE[,ROLE…]", help="the roles it may use (default: all the owner may give)")
    p.add_argument("--expires-days", type=whole_number(1, tokens.MAX_DAYS), default=tokens.DEFAULT_DAYS,
                   metavar="N", help=f"days until it expires (default {tokens.DEFAULT_DAYS}, at most {tokens.MAX_DAYS})")
    p.add_argument("--description", default="", help="what the token is for")
    p.add_argument("--service-account", action="store_true",
                   help="the owner is a pipeline, not a person (admin; marks the owner as a service account)")
    p.set_defaults(handler=cmd_create)
    p = grp.add_parser("list", parents=[common], help="your tokens (an admin sees everyone's); never the secrets")
    p.set_defaults(handler=cmd_list)
    p = grp.add_parser("revoke", parents=[common], help="revoke a token at once")
    p.add_argument("id", metavar="ID")
    p.set_defaults(handler=cmd_revoke)


def cmd_create(ctx: Ctx) -> int:
    actor = ctx.actor()
    if ctx.args.service_account:
        tokens.create_service_account(ctx.store, actor, ctx.args.owner, ctx.args.description)
    new = tokens.create_token(ctx.store, actor, ctx.args.owner, ctx.args.scope, ctx.args.expires_days,
                              ctx.args.description)
    ctx.emit(new.as_dict(), lambda: (
        f"Token {new.record.id} for {new.record.owner} ({', '.join(new.record.scope)}), expires "
        f"{new.record.expires_at:%Y-%m-%d %H:%M} UTC. It is shown only now; keep it secret:\n{new.token}"))
    return 0


@held_open
def cmd_list(ctx: Ctx) -> int:
    items = tokens.list_tokens(ctx.store, ctx.actor())
    ctx.emit([t.as_dict() for t in items], lambda: table(
        [(t.id, t.owner, ",".join(t.scope), t.status, f"{t.expires_at:%Y-%m-%d}",
          f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never") for t in items],
        ["ID", "OWNER", "SCOPE", "STATUS", "EXPIRES", "LAST USED"]))
    return 0


def cmd_revoke(ctx: Ctx) -> int:
    t = tokens.revoke_token(ctx.store, ctx.actor(), ctx.args.id)
    ctx.emit(t.as_dict(), f"Token {t.id} of {t.owner} is revoked.")
    return 0
