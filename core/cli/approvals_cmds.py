"""approvals request/list/show/approve/reject, deploy, deployments list, rollback, recertify, policies."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InvalidInput
from ..governance import (
    approvals,
    deployments,
    evidence,
    live,
    policy,
    recertification,
)
from ..registry.records import parse_ref
from . import Ctx, deliver, held_open, reads_only, table
from .argtypes import ENTITY_ID, optional_finite_float, output_file, whole_number
from ..vocabulary import DEPLOYMENT_ROLES, ENVIRONMENTS
from .output import line


def register(sub, common) -> None:
    grp = sub.add_parser("approvals").add_subparsers(
        dest="approvals_command", metavar="SUBCOMMAND")
    grp.required = True
    p = grp.add_parser("request", parents=[common], help="request deployment of MODEL:VERSION")
    p.add_argument("ref", metavar="MODEL:VERSION")
    p.add_argument("--env", required=True, choices=ENVIRONMENTS)
    p.add_argument("--role", required=True, choices=DEPLOYMENT_ROLES)
    p.add_argument("--reason", required=True, help="the justification a risk officer reads")
    p.set_defaults(handler=cmd_request)
    p = grp.add_parser("list", parents=[common], help="requests, newest first")
    p.add_argument("--status", choices=approvals.STATUSES)
    p.add_argument("--mine", action="store_true", help="only requests made by the acting person")
    p.add_argument("--model")
    p.set_defaults(handler=cmd_list)
    p = grp.add_parser("show", parents=[common], help="a request with its frozen evidence pack")
    p.add_argument("id", type=ENTITY_ID)
    p.add_argument("--html", type=output_file, metavar="FILE", help="also write the self-contained HTML report an auditor keeps")
    p.set_defaults(handler=cmd_show)
    p = grp.add_parser("approve", parents=[common], help="approve a pending request (risk officer)")
    p.add_argument("id", type=ENTITY_ID)
    p.add_argument("--comment", required=True)
    p.add_argument("--override-reason", help="required when a policy check fails; recorded")
    p.set_defaults(handler=cmd_approve)
    p = grp.add_parser("reject", parents=[common], help="reject a pending request (risk officer)")
    p.add_argument("id", type=ENTITY_ID)
    p.add_argument("--comment", required=True)
    p.set_defaults(handler=cmd_reject)
    p = grp.add_parser("export", parents=[common], help="write a request's evidence pack and decisions as HTML")
    p.add_argument("id", type=ENTITY_ID)
    p.add_argument("--output", "-o", type=output_file, metavar="FILE", help="default: stdout")
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("deploy", parents=[common])
    p.add_argument("id", type=ENTITY_ID, metavar="ID")
    p.set_defaults(handler=cmd_deploy)
    grp = sub.add_parser("deployments").add_subparsers(dest="deployments_command",
                                                                             metavar="SUBCOMMAND")
    grp.required = True
    p = grp.add_parser("list", parents=[common], help="deployments, newest first")
    p.add_argument("--model")
    p.add_argument("--active", action="store_true", help="only live deployments")
    p.set_defaults(handler=cmd_deployments)
    p = sub.add_parser("rollback", parents=[common])
    p.add_argument("model")
    p.add_argument("--env", required=True, choices=ENVIRONMENTS)
    p.add_argument("--reason", required=True)
    p.set_defaults(handler=cmd_rollback)
    p = sub.add_parser("recertify", parents=[common])
    p.add_argument("model")
    p.add_argument("--env", required=True, choices=ENVIRONMENTS)
    p.add_argument("--comment", required=True)
    p.set_defaults(handler=cmd_recertify)
    grp = sub.add_parser("policies").add_subparsers(
        dest="policies_command", metavar="SUBCOMMAND")
    grp.required = True
    p = grp.add_parser("list", parents=[common], help="the policy of each risk tier")
    p.set_defaults(handler=cmd_policies)
    p = grp.add_parser("set", parents=[common], help="change a tier's policy (admin)")
    p.add_argument("tier", choices=["low", "medium", "high"])
    keep = argparse.SUPPRESS  # absent unless given, so 'none' can switch a check off
    p.add_argument("--min-auc", type=optional_finite_float, default=keep, help="a number, or 'none' to skip")
    p.add_argument("--min-r2", type=optional_finite_float, default=keep, help="a number, or 'none' to skip")
    p.add_argument("--max-drift-share", type=optional_finite_float, default=keep, help="a share, or 'none' to skip")
    p.add_argument("--required-card-fields", default=keep, help="comma-separated model-card fields")
    p.add_argument("--approvals-needed", type=whole_number(1, 3), default=keep)
    p.add_argument("--recertify-days", type=whole_number(1, 3650), default=keep)
    p.add_argument("--approval-valid-days", type=whole_number(1, 365), default=keep)
    p.add_argument("--min-parity-ratio", type=optional_finite_float, default=keep,
                   help="each declared sensitive attribute's demographic-parity ratio on the hold-out data must reach "
                        "it (0.8: the four-fifths rule), or 'none' to skip")
    p.set_defaults(handler=cmd_policy_set)


def _request_line(r: approvals.Request) -> tuple:
    return (r.id, r.ref, r.environment, r.role, r.status, f"{len(r.approvals)}/{r.approvals_needed}",
            r.checks_failed, r.requested_by, str(r.requested_at)[:16])


_HEAD = ["ID", "VERSION", "ENV", "ROLE", "STATUS", "APPROVALS", "FAILED CHECKS", "REQUESTED BY", "AT"]


def cmd_request(ctx: Ctx) -> int:
    name, version = parse_ref(ctx.args.ref)
    if version is None:
        raise InvalidInput(f"Name the version to deploy as MODEL:VERSION (e.g. {name}:2).")
    r = approvals.request_deployment(ctx.store, ctx.actor(), name, version, ctx.args.env, ctx.args.role,
                                     ctx.args.reason)
    ctx.emit({"id": r.id, "status": r.status, "evidence_sha256": r.evidence_sha256,
              "checks_failed": r.checks_failed, "approvals_needed": r.approvals_needed},
             f"Request {r.id}: {r.ref} to {r.environment} as {r.role}, pending ({r.approvals_needed} approval(s) "
             f"needed, {r.checks_failed} failing check(s)); evidence pack SHA-256 {r.evidence_sha256}.")
    return 0


@held_open
def cmd_list(ctx: Ctx) -> int:
    mine = ctx.actor().email if ctx.args.mine else None
    items = approvals.list_requests(ctx.store, ctx.actor(), status=ctx.args.status, requested_by=mine,
                                    model=ctx.args.model)
    ctx.emit([r.as_dict() for r in items],
             lambda: table([_request_line(r) for r in items], _HEAD) + f"\n{len(items)} request(s)")
    return 0


@held_open
def cmd_show(ctx: Ctx) -> int:
    me = ctx.actor()
    r = approvals.get_request(ctx.store, me, ctx.args.id)
    pack = evidence.evidence(ctx.store, me, r.id)
    if ctx.args.html:
        from ..governance import evidence_report  # with numpy: only when a report is written

        Path(ctx.args.html).write_text(evidence_report.evidence_html(ctx.store, me, r.id), encoding="utf-8")

    def text() -> str:
        lines = [f"Request {r.id}: {r.ref} to {r.environment} as {r.role} — {r.status}",
                 f"Requested by {r.requested_by} at {str(r.requested_at)[:19]}: {line(r.reason)}",
                 f"{r.progress}; risk tiers held since the request: "
                 f"{', '.join(r.tiers_since_request) or r.risk_tier}",
                 f"Evidence pack SHA-256 {r.evidence_sha256} (frozen {pack['assembled_at'][:19]})", "",
                 policy.checks_verdict(pack["checks"])["sentence"],
                 table([(c["check"], c["status"], c["detail"]) for c in pack["checks"]], ["CHECK", "STATUS", "DETAIL"]),
                 ""]
        for d in r.decisions:
            lines.append(f"{d.decision}d by {d.decided_by} at {str(d.decided_at)[:19]}: {line(d.comment)}"
                         + (f" (override: {line(d.override_reason)})" if d.override_reason else ""))
            lines.append(f"  approver's role: {d.role_evidence}")
        return "\n".join(lines)

    ctx.emit({**r.as_dict(), "evidence": pack}, text)
    return 0


def _decided(ctx: Ctx, r: approvals.Request) -> int:
    ctx.emit(r.as_dict(), f"Request {r.id} is now {r.status}: {r.progress}.")
    return 0


def cmd_approve(ctx: Ctx) -> int:
    return _decided(ctx, approvals.approve(ctx.store, ctx.actor(), ctx.args.id, ctx.args.comment,
                                           ctx.args.override_reason))


def cmd_reject(ctx: Ctx) -> int:
    return _decided(ctx, approvals.reject(ctx.store, ctx.actor(), ctx.args.id, ctx.args.comment))


@reads_only
def cmd_export(ctx: Ctx) -> int:
    from ..governance import evidence_report  # with numpy: only when a report is written

    return deliver(evidence_report.evidence_html(ctx.store, ctx.actor(), ctx.args.id), ctx.args.output,
                   f"the evidence report of request {ctx.args.id}")


def cmd_deploy(ctx: Ctx) -> int:
    r = deployments.deploy(ctx.store, ctx.actor(), ctx.args.id)
    ctx.emit({"id": r.id, "status": r.status, "deployment_id": r.deployment_id, "model": r.model,
              "version": r.version, "environment": r.environment, "role": r.role},
             f"Deployed {r.ref} to {r.environment} as {r.role} (deployment {r.deployment_id}).")
    return 0


@held_open
def cmd_deployments(ctx: Ctx) -> int:
    items = [d for d in live.history(ctx.store, ctx.args.model) if d.active or not ctx.args.active]
    data = [{"id": d.id, "model": d.model, "version": d.version, "environment": d.environment, "role": d.role,
             "since": d.since, "until": d.until, "active": d.active, "deployed_by": d.deployed_by,
             "approval_id": d.approval_id, "end_reason": d.end_reason} for d in items]
    ctx.emit(data, lambda: table([(d.id, f"{d.model}:{d.version}", d.environment, d.role,
                                   "live" if d.active else "ended", str(d.since)[:16], d.deployed_by,
                                   d.end_reason or "") for d in items],
                                 ["ID", "VERSION", "ENV", "ROLE", "STATE", "SINCE", "BY", "ENDED BECAUSE"]))
    return 0


def cmd_rollback(ctx: Ctx) -> int:
    out = deployments.rollback(ctx.store, ctx.actor(), ctx.args.model, ctx.args.env, ctx.args.reason)
    ctx.emit(out, f"{out['model']} in {out['environment']}: champion is version {out['to_version']} again "
                  f"(version {out['from_version']} retired).")
    return 0


def cmd_recertify(ctx: Ctx) -> int:
    out = recertification.recertify(ctx.store, ctx.actor(), ctx.args.model, ctx.args.env, ctx.args.comment)
    ctx.emit(out, f"{out['model']}:{out['version']} in {out['environment']} re-certified; next due "
                  f"{out['next_due']}.")
    return 0


@held_open
def cmd_policies(ctx: Ctx) -> int:
    items = policy.policies(ctx.store)
    ctx.emit([p.as_dict() for p in items], lambda: table(
        [(p.risk_tier, p.min_auc, p.min_r2, p.max_drift_share, ", ".join(p.required_card_fields), p.approvals_needed,
          p.recertify_days, p.approval_valid_days, p.min_parity_ratio) for p in items],
        ["TIER", "MIN AUC", "MIN R2", "MAX DRIFT", "CARD FIELDS", "APPROVERS", "RECERT DAYS", "VALID DAYS",
         "MIN PARITY"]))
    return 0


def cmd_policy_set(ctx: Ctx) -> int:
    a = ctx.args
    changes = {k: getattr(a, k) for k in ("min_auc", "min_r2", "max_drift_share", "approvals_needed",
                                          "recertify_days", "approval_valid_days", "min_parity_ratio")
               if hasattr(a, k)}
    if hasattr(a, "required_card_fields"):
        changes["required_card_fields"] = [f.strip() for f in a.required_card_fields.split(",") if f.strip()]
    if not changes:
        raise InvalidInput("Name at least one policy field to change, e.g. --min-auc 0.72.")
    done = policy.change_policy(ctx.store, ctx.actor(), a.tier, **changes)
    ctx.emit({**done.policy.as_dict(), "changes": {k: {"from": policy.iso(c["from"]), "to": policy.iso(c["to"])}
                                                   for k, c in done.changes.items()}}, done.sentence)
    return 0
