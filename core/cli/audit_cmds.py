"""audit list / verify / head / export: the tamper-evident trail (its own module: verifying it needs no
governance code)."""

from __future__ import annotations

import argparse
from datetime import datetime

from .. import audit
from ..errors import CheckFailed
from . import Ctx, deliver, held_open, table
from .argtypes import LIMIT, output_file


def register(sub, common) -> None:
    grp = sub.add_parser("audit").add_subparsers(
        dest="audit_command", metavar="SUBCOMMAND")
    grp.required = True
    p = grp.add_parser("list", parents=[common], help="events, newest first")
    _filters(p)
    p.add_argument("--limit", type=LIMIT, default=100)
    p.set_defaults(handler=cmd_audit_list)
    p = grp.add_parser("verify", parents=[common], help="walk the hash chain; exit 1 at the first broken row")
    p.add_argument("--anchor", metavar="FILE", help="also check that the trail still holds the event saved by "
                   "'audit head --json' in FILE, with its hash (catches deleted newest rows and rewrites)")
    p.set_defaults(handler=cmd_audit_verify)
    p = grp.add_parser("head", parents=[common], help="the newest event's seq and hash, to keep outside the store")
    p.set_defaults(handler=cmd_audit_head)
    p = grp.add_parser("export", parents=[common], help="export events")
    p.add_argument("--format", required=True, choices=["csv"])
    p.add_argument("--output", "-o", type=output_file, metavar="FILE", help="default: stdout")
    _filters(p)
    p.set_defaults(handler=cmd_audit_export)


def _time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date or date-time; use ISO format, e.g. 2026-03-14 "
                                         "or 2026-03-14T09:30") from None


def _filters(p) -> None:
    p.add_argument("--actor", metavar="EMAIL", help="exactly this person")
    p.add_argument("--person", metavar="TEXT", help="people whose address contains TEXT, e.g. rita")
    p.add_argument("--model")
    p.add_argument("--action", help="exact, or a prefix ending in '.', e.g. approval.")
    p.add_argument("--outcome", choices=["ok", "refused"])
    p.add_argument("--since", type=_time, metavar="ISO-TIME")
    p.add_argument("--until", type=_time, metavar="ISO-TIME")


def _filter_of(a) -> audit.AuditFilter:
    return audit.AuditFilter(actor=a.actor, model=a.model, action=a.action, outcome=a.outcome, since=a.since,
                             until=a.until, person=a.person)


@held_open
def cmd_audit_list(ctx: Ctx) -> int:
    events = audit.list_events(ctx.store, ctx.actor(), _filter_of(ctx.args), limit=ctx.args.limit)
    ctx.emit(events, lambda: table([(e["seq"], str(e["ts"])[:19], e["actor"], e["action"],
                                     f"{e['entity_type']} {e['entity_id']}", e["outcome"]) for e in events],
                                   ["SEQ", "TIME (UTC)", "ACTOR", "ACTION", "ENTITY", "OUTCOME"]))
    return 0


@held_open
def cmd_audit_verify(ctx: Ctx) -> int:
    if ctx.args.anchor:
        return _audit_verify_anchor(ctx)
    check = audit.verify(ctx.store)
    data = {"ok": check.ok, "rows": check.rows, "first_bad_seq": check.first_bad_seq, "problem": check.problem}
    if check.ok:
        ctx.emit(data, f"The audit trail is intact: {check.rows} row(s), every hash matches its content and "
                       "the row before it.")
        return 0
    if ctx.json:
        ctx.emit(data)
    raise CheckFailed(f"The audit trail is broken at sequence number {check.first_bad_seq}: {check.problem}; "
                      "restore the store from a backup and investigate who had write access.")


@held_open
def cmd_audit_export(ctx: Ctx) -> int:
    text = audit.export_csv(ctx.store, ctx.actor(), _filter_of(ctx.args))
    return deliver(text, ctx.args.output, f"{text.count(chr(10)) - 1} event(s)")


def _audit_verify_anchor(ctx: Ctx) -> int:
    anchor = audit.load_anchor(ctx.args.anchor)
    check = audit.verify_anchor(ctx.store, ctx.actor(), anchor)
    if check.ok:
        ctx.emit(check.as_dict(), f"The audit trail holds anchored event {anchor.seq} with its hash and is intact: "
                                  f"{check.rows} row(s), newest {check.last_seq}.")
        return 0
    if ctx.json:
        ctx.emit(check.as_dict())
    raise CheckFailed(f"The audit trail fails its anchor: {check.problem}; restore the store from a backup and "
                      "investigate who had write access.")


@held_open
def cmd_audit_head(ctx: Ctx) -> int:
    anchor = audit.head(ctx.store, ctx.actor())
    ctx.emit(anchor.as_dict(), f"Newest audit event: {anchor.seq}, hash {anchor.hash}. Keep "
                               "'modelgov audit head --json' outside the store; check it later with "
                               "'modelgov audit verify --anchor FILE'.")
    return 0
