"""score, log-predictions, log-outcomes, drift, monitor, alerts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..drift import report as drift_report
from ..errors import InvalidInput
from ..registry.records import parse_ref
from . import Ctx, hands_back, held_open, reads_only, table
from .argtypes import ENTITY_ID, output_file
from ..vocabulary import ENVIRONMENTS


ENGINE_HELP = ("what reduces the data to counts: duckdb (default) or spark (pyspark and Java; MODELGOV_SPARK_MASTER, "
               "default local[*]); default MODELGOV_ENGINE or duckdb. The numbers are the same")

NO_SNAPSHOT = ("do not refresh the stored monitoring review afterwards (for bulk backfills; the Monitoring page "
               "says it is stale and computes it on request)")


def register(sub, common) -> None:
    p = sub.add_parser("score", parents=[common])
    p.add_argument("ref", metavar="MODEL[:VERSION]")
    p.add_argument("--input", required=True, metavar="FILE")
    p.add_argument("--env", default="production", choices=ENVIRONMENTS)
    p.add_argument("--output", type=output_file, metavar="FILE", help="where the predictions go (default: INPUT.scored.csv)")
    p.add_argument("--time-column", metavar="C", help="when each row happened (default: now)")
    p.add_argument("--id-column", metavar="C", help="request ids (default: generated)")
    p.add_argument("--no-snapshot", action="store_true", help=NO_SNAPSHOT)
    p.set_defaults(handler=cmd_score)
    p = sub.add_parser("log-predictions", parents=[common])
    p.add_argument("ref", metavar="MODEL[:VERSION]")
    p.add_argument("--input", required=True, metavar="FILE")
    p.add_argument("--time-column", metavar="C")
    p.add_argument("--id-column", metavar="C")
    p.add_argument("--score-column", metavar="C", default="score", help="the model's score, if logged (default: score)")
    p.add_argument("--prediction-column", metavar="C", default="prediction",
                   help="multiclass: the predicted class (text or number), if logged (default: prediction); every "
                        "class's probability is read from probability_<class> columns when all are there")
    p.add_argument("--env", choices=ENVIRONMENTS, default="production")
    p.add_argument("--no-snapshot", action="store_true", help=NO_SNAPSHOT)
    p.set_defaults(handler=cmd_log_predictions)
    p = sub.add_parser("log-outcomes", parents=[common])
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--input", required=True, metavar="FILE")
    p.add_argument("--id-column", required=True, metavar="C")
    p.add_argument("--label-column", required=True, metavar="C")
    p.add_argument("--no-snapshot", action="store_true", help=NO_SNAPSHOT)
    p.set_defaults(handler=cmd_log_outcomes)
    p = sub.add_parser("drift", parents=[common])
    p.add_argument("reference", metavar="REFERENCE")
    p.add_argument("current", metavar="CURRENT")
    p.add_argument("--time-column", metavar="C", help="split CURRENT into windows by this column (never compared)")
    p.add_argument("--id-column", metavar="C", help="a row identifier: never compared")
    p.add_argument("--exclude", metavar="COL[,COL...]", action="append", default=[],
                   help="columns not to compare (repeatable)")
    p.add_argument("--window", choices=drift_report.WINDOWS, default="day")
    p.add_argument("--config", metavar="FILE", help='JSON: {"columns": {"AGE": {"kind", "method", "threshold"}}, '
                                                   '"drift_share": 0.5, "exclude": ["COL"]}')
    p.add_argument("--fail-on-drift", action="store_true", help="exit 1 when the dataset drifted (a CI/CD gate)")
    p.add_argument("--engine", metavar="ENGINE", help=ENGINE_HELP)
    p.set_defaults(handler=cmd_drift)
    p = sub.add_parser("monitor", parents=[common])
    p.add_argument("ref", metavar="MODEL[:VERSION]", nargs="?")
    p.add_argument("--all", action="store_true",
                   help="every live deployment in one run (cron, Airflow): stores each snapshot, raises alerts, "
                        "delivers notifications; exit 1 when any new alert was raised")
    p.add_argument("--window", choices=drift_report.WINDOWS, default="day")
    p.add_argument("--env", choices=ENVIRONMENTS, default="production")
    p.add_argument("--no-store", action="store_true",
                   help="only print; by default a named person's run stores the snapshot and raises alerts")
    p.add_argument("--engine", metavar="ENGINE", help=ENGINE_HELP)
    p.set_defaults(handler=cmd_monitor)
    p = sub.add_parser("monitor-config", parents=[common])
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--config", metavar="FILE", help='JSON: {"columns": {"AGE": {"kind", "method", "threshold"}}, '
                                                   '"drift_share": 0.5}; omit to show the current one')
    p.set_defaults(handler=cmd_monitor_config)
    grp = sub.add_parser("alerts").add_subparsers(dest="alerts_command", metavar="SUBCOMMAND")
    grp.required = True
    p = grp.add_parser("list", parents=[common], help="alerts, open first")
    p.add_argument("--model")
    p.add_argument("--status", choices=["open", "acknowledged", "resolved", "active"])
    p.set_defaults(handler=cmd_alerts)
    for action in ("acknowledge", "resolve"):
        p = grp.add_parser(action, parents=[common], help=f"{action} an alert")
        p.add_argument("id", type=ENTITY_ID)
        p.add_argument("--note", default="")
        p.set_defaults(handler=cmd_alert_update, action=action)


def _ingested_text(kind: str, r: dict) -> str:
    """The text of an ingest from its JSON answer (`Ingested.as_dict`): the CLI in remote mode prints it too."""
    lines = [f"{kind}: {r['logged']:,} of {r['rows']:,} row(s) logged, {r['rejected']:,} rejected"
             + (f"; predictions written to {r['output']}" if r.get("output") else "") + "."]
    lines += [f"  rejected {n:,}: {reason}" for reason, n in r["reasons"].items()]
    if r["rejected"]:
        from ..monitoring.ingest import MAX_REJECTIONS_KEPT  # here: `modelgov drift` loads no pandas

        lines.append(f"  (the first {MAX_REJECTIONS_KEPT:,} rejected rows are kept with their row numbers, "
                     f"ingest {r['ingest_id']})")
    lines += [f"  the stored monitoring review of v{s['version']} in {s['environment']} was not refreshed: "
              f"{s['error']} (the Monitoring page computes it on request)" for s in r["snapshots"] if not s["ok"]]
    return "\n".join(lines)


def score_target(args) -> Path:
    """Where `score` writes its predictions on the caller's machine: --output, else beside the input; checked before
    anything is scored or logged."""
    from ..monitoring import predictions_file

    out = Path(args.output) if args.output else predictions_file.default_output(args.input)
    predictions_file.check_output(out)
    return out


def score_text(r: dict) -> str:
    return _ingested_text("Scored", r)


@hands_back(score_target, score_text)
def cmd_score(ctx: Ctx) -> int:
    from ..monitoring import ingest  # per command: `modelgov drift` loads no pandas

    name, version = parse_ref(ctx.args.ref)
    r = ingest.score_file(ctx.store, ctx.actor(), name, version, ctx.args.input, environment=ctx.args.env,
                              output=ctx.args.output, time_column=ctx.args.time_column, id_column=ctx.args.id_column,
                              refresh_snapshots=not ctx.args.no_snapshot, source_name=ctx.location(ctx.args.input),
                              max_output_bytes=ctx.max_result_bytes)
    answer = r.as_dict()
    if ctx.remote:  # the request's temporary folder goes with it: the predictions travel in the answer
        out = Path(r.output)
        answer["output"], answer["csv"] = out.name, out.read_bytes().decode("utf-8")
    ctx.emit(answer, lambda: score_text(answer))
    return 0


def cmd_log_predictions(ctx: Ctx) -> int:
    from ..monitoring import ingest  # per command: `modelgov drift` loads no pandas

    name, version = parse_ref(ctx.args.ref)
    r = ingest.log_predictions(ctx.store, ctx.actor(), name, version, ctx.args.input,
                                   time_column=ctx.args.time_column, id_column=ctx.args.id_column,
                                   score_column=ctx.args.score_column,
                                   prediction_column=ctx.args.prediction_column, environment=ctx.args.env,
                                   refresh_snapshots=not ctx.args.no_snapshot,
                                   source_name=ctx.location(ctx.args.input))
    ctx.emit(r.as_dict(), lambda: _ingested_text("Logged", r.as_dict()))
    return 0


def cmd_log_outcomes(ctx: Ctx) -> int:
    from ..monitoring import ingest  # per command: `modelgov drift` loads no pandas

    r = ingest.log_outcomes(ctx.store, ctx.actor(), ctx.args.model, ctx.args.input, id_column=ctx.args.id_column,
                                label_column=ctx.args.label_column, refresh_snapshots=not ctx.args.no_snapshot,
                                source_name=ctx.location(ctx.args.input))
    ctx.emit(r.as_dict(), lambda: _ingested_text("Outcomes", r.as_dict()))
    return 0


def _drift_table(columns: list[dict]) -> str:
    rows = [(c["column"], c["kind"], c["method"], f"{c['drift_score']:.4g}", "DRIFT" if c["drifted"] else "",
             f"{c['psi']:.3f}" if c["psi"] is not None else "") for c in columns]
    return table(rows, ["COLUMN", "KIND", "METHOD", "SCORE", "DRIFTED", "PSI"])


@reads_only
def cmd_drift(ctx: Ctx) -> int:
    cfg = None
    if ctx.args.config:
        try:
            with open(ctx.args.config, encoding="utf-8") as f:
                cfg = drift_report.DriftConfig.from_dict(json.load(f))
        except (OSError, json.JSONDecodeError) as e:
            raise InvalidInput(f"The drift config {ctx.args.config} could not be read: {e}.") from None
    exclude = [c.strip() for arg in ctx.args.exclude for c in arg.split(",") if c.strip()]
    rep = drift_report.files_report(ctx.args.reference, ctx.args.current, time_column=ctx.args.time_column,
                                    window=ctx.args.window, config=cfg, id_column=ctx.args.id_column,
                                    exclude=exclude, engine=ctx.args.engine)

    def text() -> str:
        head = (f"{'DATASET DRIFT' if rep['dataset_drift'] else 'No dataset drift'}: {rep['drifted_share']:.0%} of "
                f"{len(rep['columns'])} columns drifted (threshold {rep['drift_share_threshold']:.0%}); "
                f"{rep['rows']['reference']:,} reference rows, {rep['rows']['current']:,} current rows.")
        out = [head, "", _drift_table(rep["columns"])]
        if rep.get("excluded"):
            out += ["", "Not compared: " + "; ".join(f"{e['column']} ({e['reason']})" for e in rep["excluded"]) + "."]
        if "windows" in rep:
            out.append("")
            out.append(table([(w["start"], w["rows"], f"{w['drifted_share']:.0%}", "DRIFT" if w["dataset_drift"] else "")
                              for w in rep["windows"]], ["WINDOW", "ROWS", "DRIFTED", ""]))
            if rep["time_column"]["unparsed"]:
                out.append(f"{rep['time_column']['unparsed']:,} row(s) had a time that could not be read; they count "
                           "in the overall comparison only.")
        return "\n".join(out)

    ctx.emit(rep, text)
    if ctx.args.fail_on_drift and rep["dataset_drift"]:
        if not ctx.json:
            print("modelgov: dataset drift detected (--fail-on-drift).", file=sys.stderr)
        return 1
    return 0


def cmd_monitor(ctx: Ctx) -> int:
    from ..monitoring import checks  # per command: `modelgov drift` loads no pandas

    from ..engine import resolve

    engine = resolve(ctx.args.engine)  # an unknown engine is refused before any work
    if ctx.args.all:
        return _monitor_all(ctx, engine)
    if not ctx.args.ref:
        raise InvalidInput("Name the model to monitor (modelgov monitor MODEL[:VERSION]), or monitor every live "
                           "deployment with --all.")
    name, version = parse_ref(ctx.args.ref)
    named = None if ctx.args.no_store else ctx.named()
    if named is not None:
        out = checks.check(ctx.store, named, name, version, ctx.args.env, ctx.args.window, engine=engine)
        result, summary = out["result"], out["summary"]
        result["alerts_raised"] = out["alerts_raised"]
        if ctx.args.env:  # the scheduled run also holds the live versions' recent traffic to the tier's fairness bar
            from ..fairness.alerts import check_fairness

            result["fairness"] = check_fairness(ctx.store, named, name, ctx.args.env)
            result["alerts_raised"] = result["alerts_raised"] + result["fairness"]["alerts_raised"]
    else:
        reviewed = checks.review(ctx.store, name, version, environment=ctx.args.env, window=ctx.args.window,
                                 engine=engine)
        result, summary = reviewed["result"], reviewed["summary"]
    result["summary"] = summary

    def text() -> str:
        out = [f"{name}:{result['version']} in {result['environment']}: {result['rows']:,} logged rows "
               f"({(result['first'] or '')[:10]} to {(result['last'] or '')[:10]}).", summary["sentence"], "",
               _drift_table(result["drift"]["columns"]), ""]
        perf = result["performance"]
        if perf:
            key = summary["metric"]  # the task's primary metric: AUC, macro one-vs-rest AUC or RMSE
            extra = ["accuracy"] if key == "auc_ovr_macro" else []
            out.append(table([(p["window"][:10], p["labelled"],
                               *(f"{p[k]:.3f}" if p[k] is not None else "" for k in [key, *extra]))
                              for p in perf], ["WINDOW", "LABELLED", *(k.upper() for k in [key, *extra])]))
        if result.get("alerts_raised"):
            out.append(f"\nRaised alert(s): {', '.join(map(str, result['alerts_raised']))}.")
        return "\n".join(out)

    ctx.emit(result, text)
    return 0


def _monitor_all(ctx: Ctx, engine: str) -> int:
    from ..notify import schedule  # per command: `modelgov drift` loads no pandas

    if ctx.args.ref:
        raise InvalidInput("Give either a MODEL or --all, not both.")
    if ctx.args.no_store:
        raise InvalidInput("--all stores every snapshot and raises alerts; --no-store is for one MODEL.")
    out = schedule.monitor_all(ctx.store, ctx.actor(), window=ctx.args.window, engine=engine)

    def text() -> str:
        rows = [(f"{r['model']}:{r['version']}", r["environment"], r["role"],
                 ", ".join(map(str, r["alerts_raised"])) or "-", r.get("sentence") or r.get("error", ""))
                for r in out["runs"]]
        lines = [table(rows, ["VERSION", "ENV", "ROLE", "NEW ALERTS", "SUMMARY"]) if rows else
                 "Nothing is live yet: no deployment to monitor."]
        lines += [f"Re-certification due: {n['model']} in {n['environment']} on {n['due']}."
                  for n in out["recertification_due"]]
        d = out["delivery"]
        if d is not None:
            lines.append(f"Notifications: {d['delivered']} delivered, {d['pending']} pending.")
        if out["alerts_raised"]:
            lines.append(f"New alert(s): {', '.join(map(str, out['alerts_raised']))}.")
        return "\n".join(lines)

    ctx.emit(out, text)
    if out["failed"] and not ctx.json:
        print(f"modelgov: {len(out['failed'])} deployment(s) could not be monitored; see SUMMARY.", file=sys.stderr)
    return 1 if out["alerts_raised"] or out["failed"] else 0


def cmd_monitor_config(ctx: Ctx) -> int:
    from ..monitoring import settings  # per command: `modelgov drift` loads no pandas

    if ctx.args.config:
        try:
            with open(ctx.args.config, encoding="utf-8") as f:
                raw = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise InvalidInput(f"The config {ctx.args.config} could not be read: {e}.") from None
        cfg = settings.set_config(ctx.store, ctx.actor(), ctx.args.model, raw)
    else:
        cfg = settings.get_config(ctx.store, ctx.args.model)
    ctx.emit(cfg.as_dict(), json.dumps(cfg.as_dict(), indent=2))
    return 0


@held_open
def cmd_alerts(ctx: Ctx) -> int:
    from ..monitoring import alerts  # per command: `modelgov drift` loads no pandas

    items = alerts.alerts(ctx.store, ctx.args.model, ctx.args.status)
    ctx.emit([a.as_dict() for a in items], lambda: table(
        [(a.id, a.model, a.kind, a.severity, a.status, a.message) for a in items],
        ["ID", "MODEL", "KIND", "SEVERITY", "STATUS", "MESSAGE"]))
    return 0


def cmd_alert_update(ctx: Ctx) -> int:
    from ..monitoring import alerts  # per command: `modelgov drift` loads no pandas

    a = alerts.update_alert(ctx.store, ctx.actor(), ctx.args.id, ctx.args.action, ctx.args.note)
    ctx.emit(a.as_dict(), f"Alert {a.id} is now {a.status}.")
    return 0

