"""hooks add / list / remove / test / deliveries / redeliver / deliver: notifications by webhook and e-mail."""

from __future__ import annotations

from ..notify import deliver as delivery, hooks
from ..outbox import NOTIFICATION_EVENTS
from . import Ctx, held_open, table
from .argtypes import ENTITY_ID, whole_number


def register(sub, common) -> None:
    grp = sub.add_parser("hooks").add_subparsers(dest="hooks_command", metavar="SUBCOMMAND")
    grp.required = True
    p = grp.add_parser("add", parents=[common], help="add a webhook (admin) or subscribe your e-mail (mailto:)")
    p.add_argument("--url", required=True, metavar="URL",
                   help="https://… for a webhook; mailto:you@example.com for e-mail")
    p.add_argument("--events", required=True, metavar="E[,E…]", help=f"any of: {', '.join(NOTIFICATION_EVENTS)}")
    p.add_argument("--secret", metavar="S", help="HMAC key of X-ModelGov-Signature, or env:NAME / file:PATH "
                                                  "(never shown again)")
    p.add_argument("--model", action="append", metavar="M", help="only events about this model (repeatable)")
    p.add_argument("--tier", action="append", metavar="T", help="only models of this risk tier (repeatable)")
    p.add_argument("--format", choices=["json", "slack", "teams"], help="payload style (default json)")
    p.add_argument("--description", default="", metavar="TEXT")
    p.set_defaults(handler=cmd_add)
    p = grp.add_parser("list", parents=[common], help="hooks and subscriptions (never their secrets)")
    p.add_argument("--all", action="store_true", help="include removed hooks")
    p.set_defaults(handler=cmd_list)
    p = grp.add_parser("remove", parents=[common], help="remove a hook (its pending deliveries are cancelled)")
    p.add_argument("id", type=ENTITY_ID)
    p.set_defaults(handler=cmd_remove)
    p = grp.add_parser("test", parents=[common], help="send a test event to a hook now")
    p.add_argument("id", type=ENTITY_ID)
    p.set_defaults(handler=cmd_test)
    p = grp.add_parser("deliveries", parents=[common], help="the delivery log, newest first")
    p.add_argument("--hook", type=ENTITY_ID, metavar="ID")
    p.add_argument("--status", choices=hooks.STATUSES)
    p.add_argument("--limit", type=whole_number(1, 10000), default=50, metavar="N")
    p.set_defaults(handler=cmd_deliveries)
    p = grp.add_parser("redeliver", parents=[common], help="send a failed (or lost) delivery again")
    p.add_argument("id", type=ENTITY_ID, metavar="DELIVERY_ID")
    p.set_defaults(handler=cmd_redeliver)
    p = grp.add_parser("deliver", parents=[common], help="deliver what is pending now (cron, or after an outage)")
    p.add_argument("--hook", type=ENTITY_ID, metavar="ID", help="only this hook")
    p.set_defaults(handler=cmd_deliver)


def _hook_row(h: hooks.Hook) -> tuple:
    return (h.id, h.kind, h.format, h.url, ",".join(h.events), ",".join(h.models or []) or "all",
            ",".join(h.tiers or []) or "all", h.secret_fingerprint or "", h.status)


HOOK_HEADERS = ["ID", "KIND", "FORMAT", "URL", "EVENTS", "MODELS", "TIERS", "SECRET", "STATUS"]


def cmd_add(ctx: Ctx) -> int:
    h = hooks.create_hook(ctx.store, ctx.actor(), ctx.args.url, ctx.args.events, secret=ctx.args.secret,
                          models=ctx.args.model, tiers=ctx.args.tier, format=ctx.args.format,
                          description=ctx.args.description)
    ctx.emit(h.as_dict(), f"Hook {h.id} added: {h.url} receives {', '.join(h.events)}"
                          + (" (signed)" if h.secret_fingerprint else "") + ".")
    return 0


@held_open
def cmd_list(ctx: Ctx) -> int:
    items = hooks.list_hooks(ctx.store, ctx.actor(), include_removed=ctx.args.all)
    ctx.emit([h.as_dict() for h in items], lambda: table([_hook_row(h) for h in items], HOOK_HEADERS)
             if items else "No hooks yet; add one with 'modelgov hooks add --url URL --events E'.")
    return 0


def cmd_remove(ctx: Ctx) -> int:
    h = hooks.remove_hook(ctx.store, ctx.actor(), ctx.args.id)
    ctx.emit(h.as_dict(), f"Hook {h.id} removed; it receives no more events.")
    return 0


def _delivery_text(d: hooks.Delivery) -> str:
    code = f" (HTTP {d.response_code})" if d.response_code and d.status == "delivered" else ""
    why = f": {d.last_error}" if d.last_error and d.status != "delivered" else ""
    return f"Delivery {d.id} of {d.event} to hook {d.hook_id}: {d.status}{code} after {d.attempts} attempt(s){why}."


def cmd_test(ctx: Ctx) -> int:
    d = delivery.send_test(ctx.store, ctx.actor(), ctx.args.id)
    ctx.emit(d.as_dict(), _delivery_text(d))
    return 0 if d.status == "delivered" else 1


@held_open
def cmd_deliveries(ctx: Ctx) -> int:
    items = hooks.deliveries(ctx.store, ctx.actor(), hook_id=ctx.args.hook, status=ctx.args.status,
                             limit=ctx.args.limit)
    ctx.emit([d.as_dict() for d in items], lambda: table(
        [(d.id, d.hook_id, d.event, f"{d.model}:{d.version}" if d.model else "", d.status, d.attempts,
          d.response_code or "", (d.last_error or "")[:60], f"{d.created_at:%Y-%m-%d %H:%M}") for d in items],
        ["ID", "HOOK", "EVENT", "MODEL", "STATUS", "ATTEMPTS", "CODE", "ERROR", "CREATED"])
        if items else "No deliveries yet.")
    return 0


def cmd_redeliver(ctx: Ctx) -> int:
    d = hooks.redeliver(ctx.store, ctx.actor(), ctx.args.id)
    ctx.emit(d.as_dict(), f"Delivery {d.id} is queued again; 'modelgov hooks deliver' sends it.")
    return 0


def cmd_deliver(ctx: Ctx) -> int:
    r = delivery.deliver(ctx.store, ctx.actor(), hook_id=ctx.args.hook)
    ctx.emit(r.as_dict(), f"Delivered {r.delivered}; {r.failed_attempts} failed attempt(s), {r.gave_up} given up; "
                          f"{r.pending} pending.")
    return 0
