"""init, demo, models, register, datasets, verify."""

from __future__ import annotations

import sys

from .. import users
from ..errors import CheckFailed, InvalidInput
from ..registry import catalog, mlflow_records, records, versions
from ..registry.datasets import search_datasets
from ..governance import live
from ..vocabulary import RISK_TIERS
from . import EXIT_CHECK, Ctx, held_open, reads_only, table
from .argtypes import PAGE, PER_PAGE


def register(sub, common) -> None:
    p = sub.add_parser("init", parents=[common])
    p.add_argument("--admin", metavar="EMAIL", help="make this person the first administrator")
    p.set_defaults(handler=cmd_init)

    p = sub.add_parser("demo", parents=[common])
    p.add_argument("--if-missing", action="store_true", help="do nothing (exit 0) when a store already exists")
    p.add_argument("--quick", action="store_true", help="smaller models and less traffic (for tests)")
    p.set_defaults(handler=cmd_demo)

    models = sub.add_parser("models").add_subparsers(
        dest="models_command", metavar="SUBCOMMAND")
    models.required = True
    p = models.add_parser("list", parents=[common], help="list models")
    p.add_argument("--search", metavar="TEXT")
    p.add_argument("--owner")
    p.add_argument("--risk-tier", choices=RISK_TIERS)
    p.add_argument("--status", choices=records.MODEL_STATUSES)
    p.add_argument("--tag")
    p.add_argument("--sort", default="name", choices=list(catalog.SORTS))
    p.add_argument("--desc", action="store_true", help="sort descending")
    p.add_argument("--page", type=PAGE, default=1)
    p.add_argument("--per-page", type=PER_PAGE, default=1000)
    p.set_defaults(handler=cmd_models_list)
    p = models.add_parser("show", parents=[common], help="show one model and its versions")
    p.add_argument("name")
    p.set_defaults(handler=cmd_models_show)
    p = models.add_parser("update", parents=[common], help="edit a model's description or card")
    p.add_argument("name")
    for f in records.EDITABLE_FIELDS:
        if f not in ("tags", records.FEATURE_DICTIONARY):
            p.add_argument(f"--{f.replace('_', '-')}", dest=f)
    p.add_argument("--feature-dictionary", dest=records.FEATURE_DICTIONARY, metavar="JSON|FILE",
                   help='business labels of the input columns: a JSON object like {"LIMIT_BAL": "Credit limit"}, a '
                        ".json file or a two-column .csv file (column,label); '{}' clears it")
    p.add_argument("--tags", help="comma-separated tags (replaces the list)")
    p.add_argument("--reason", help="why the risk tier changes: required with --risk-tier, which only a risk "
                                    "officer may change")
    p.set_defaults(handler=cmd_models_update)

    p = sub.add_parser("register", parents=[common])
    p.add_argument("name")
    p.add_argument("--model", required=True, metavar="FILE",
                   help="skops or joblib file of a fitted estimator (loading joblib runs its code: name only your own), "
                        "or a native XGBoost (.json/.ubj) or LightGBM (.txt) booster, or an MLflow model folder "
                        "(the one holding MLmodel: sklearn, xgboost or lightgbm flavour)")
    p.add_argument("--train-data", required=True, metavar="FILE", help="CSV or Parquet the model was trained on")
    p.add_argument("--target", required=True, metavar="COLUMN")
    p.add_argument("--test-data", metavar="FILE", help="hold-out CSV or Parquet for validation metrics")
    p.add_argument("--owner")
    p.add_argument("--risk-tier", choices=RISK_TIERS)
    p.add_argument("--description")
    p.add_argument("--code-ref", help="code reference (default: git commit of the model file's checkout)")
    p.add_argument("--allow-duplicate", action="store_true",
                   help="register even when a version of this model is the same artifact (exit 4 otherwise)")
    p.set_defaults(handler=cmd_register)

    p = sub.add_parser("verify", parents=[common])
    p.set_defaults(handler=cmd_verify)

    ds = sub.add_parser("datasets").add_subparsers(dest="datasets_command",
                                                                               metavar="SUBCOMMAND")
    ds.required = True
    p = ds.add_parser("list", parents=[common], help="list datasets")
    p.set_defaults(handler=cmd_datasets_list)


def cmd_init(ctx: Ctx) -> int:
    made = users.init_store(ctx.store, ctx.args.admin)
    msg = f"Store ready at {ctx.store.location}."
    if made:
        msg += f" {ctx.args.admin} is its first administrator."
    ctx.emit({"store": str(ctx.store.location), "admin": ctx.args.admin if made else None}, msg)
    return 0


def cmd_demo(ctx: Ctx) -> int:
    from .. import demo

    if ctx.args.if_missing and ctx.store.exists():
        if not ctx.json:
            print(f"A store already exists at {ctx.store.location}; leaving it as it is (no demo built).",
                  file=sys.stderr)
        return 0
    summary = demo.build(ctx.store, quick=ctx.args.quick, progress=None if ctx.json else _progress)
    ctx.emit(summary, lambda: f"Demo store built at {ctx.store.location}: " +
             ", ".join(f"{m['name']} ({m['versions']} versions)" for m in summary["models"]))
    return 0


def _progress(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


@held_open
def cmd_models_list(ctx: Ctx) -> int:
    from ..monitoring import health as monitoring_health  # the monitoring package, only where health is shown

    a = ctx.args
    result = catalog.search_models(ctx.store, a.search, owner=a.owner, risk_tier=a.risk_tier, status=a.status,
                                    tag=a.tag, sort=a.sort, descending=a.desc, page=a.page, per_page=a.per_page)
    statuses = {name: h["status"] for name, h in monitoring_health.health(ctx.store).items()}
    data = [{**m.as_dict(), "health": statuses.get(m.name)} for m in result.items]
    ctx.emit(data, lambda: table([(m.name, m.owner, m.risk_tier, m.status, m.latest_version, m.versions,
                                   statuses.get(m.name) or "-") for m in result.items],
                                 ["NAME", "OWNER", "RISK", "STATUS", "LATEST", "VERSIONS", "HEALTH"])
             + f"\n{result.total} model(s)" + (f", page {result.page} of {result.pages}" if result.pages > 1 else ""))
    return 0


@held_open
def cmd_models_show(ctx: Ctx) -> int:
    from ..monitoring import health as monitoring_health

    m = catalog.get_model(ctx.store, ctx.args.name)
    deployed = [{k: v for k, v in d.as_dict().items() if k != "deployment_id"} for d in live.live(ctx.store, m.name)]
    health = [{k: h[k] for k in ("environment", "version", "status", "score", "reasons")}
              for h in monitoring_health.health_by_environment(ctx.store, m.name).get(m.name, [])]

    def text() -> str:
        head = [f"{m.name}  ({m.risk_tier} risk, owner {m.owner})", m.description or "(no description)", ""]
        rows = [(v.version, v.status, v.estimator, _fmt_metrics(v.metrics), v.created_by, v.sha256[:12])
                for v in m.versions]
        out = "\n".join(head) + table(rows, ["VERSION", "STATUS", "ESTIMATOR", "METRICS", "BY", "SHA256"])
        if deployed:
            out += "\n\nLive:\n" + table([(d["environment"], d["role"], d["version"], d["since"][:10]) for d in deployed],
                                          ["ENVIRONMENT", "ROLE", "VERSION", "SINCE"])
        if health:
            out += "\n\nHealth of the live champions:\n" + table(
                [(h["environment"], h["version"], h["status"], "-" if h["score"] is None else h["score"],
                  "; ".join(h["reasons"])) for h in health], ["ENVIRONMENT", "VERSION", "STATUS", "SCORE", "WHY"])
        return out

    from_mlflow = mlflow_records.mlflow_facts_by_version(ctx.store, m.name)
    data = m.as_dict()
    for v in data["versions"]:  # what a version brought from MLflow (docs/mlflow.md), null for the others
        v["mlflow"] = from_mlflow.get(v["version"])
    ctx.emit({**data, "live": deployed, "health": health}, text)
    return 0


def _fmt_metrics(metrics: dict) -> str:
    return " ".join(f"{k}={v:.3f}" for k, v in metrics.items() if isinstance(v, (int, float))) or "-"


def cmd_models_update(ctx: Ctx) -> int:
    changes = {f: getattr(ctx.args, f) for f in records.EDITABLE_FIELDS
               if f != "tags" and getattr(ctx.args, f) is not None}
    if changes.get(records.FEATURE_DICTIONARY) is not None:
        changes[records.FEATURE_DICTIONARY] = records.load_feature_dictionary(changes[records.FEATURE_DICTIONARY])
    if ctx.args.tags is not None:
        changes["tags"] = [t.strip() for t in ctx.args.tags.split(",") if t.strip()]
    if not changes:
        raise InvalidInput("Nothing to change; pass at least one field, e.g. --description TEXT.")
    if ctx.args.reason is not None and "risk_tier" not in changes:
        raise InvalidInput("--reason explains a risk-tier change; give it with --risk-tier TIER.")
    m = catalog.update_model(ctx.store, ctx.actor(), ctx.args.name, reason=ctx.args.reason, **changes)
    ctx.emit(m.as_dict(), f"Updated {m.name}.")
    return 0


def cmd_register(ctx: Ctx) -> int:
    a = ctx.args
    v = versions.register_version(ctx.store, ctx.actor(), a.name, a.model, a.train_data, a.target,
                                  test_data=a.test_data, owner=a.owner, risk_tier=a.risk_tier,
                                  description=a.description, code_ref=a.code_ref, allow_duplicate=a.allow_duplicate,
                                  # The person running the command names their own file: only here may a
                                  # joblib/pickle file be unpickled (in a child process, core/registry/safe_load.py).
                                  # A file uploaded to the HTTP API is someone else's code on the server: never.
                                  allow_pickle=not ctx.remote,
                                  train_location=ctx.location(a.train_data), test_location=ctx.location(a.test_data))
    ctx.emit({"name": v.model, "version": v.version, "sha256": v.sha256, "metrics": v.metrics},
             f"Registered {v.ref} (sha256 {v.sha256[:12]}…) {_fmt_metrics(v.metrics)}")
    return 0


@reads_only
def cmd_verify(ctx: Ctx) -> int:
    rows = versions.verify_artifacts(ctx.store)
    bad = [r for r in rows if r["problem"]]
    ctx.emit({"ok": not bad, "checked": len(rows), "mismatches": bad},
             lambda: "\n".join([f"{r['model']}:{r['version']} {r['problem']}" for r in bad]
                               + [f"{len(rows)} artifact(s) checked, {len(bad)} problem(s)."]))
    if bad and not ctx.json:
        raise CheckFailed(f"{len(bad)} artifact(s) do not match the registry; do not serve them.")
    return EXIT_CHECK if bad else 0


@held_open
def cmd_datasets_list(ctx: Ctx) -> int:
    items = search_datasets(ctx.store)
    ctx.emit([{"name": d.name, "version": d.version, "location": d.location, "fingerprint": d.fingerprint,
               "rows": d.n_rows, "columns": d.n_columns} for d in items],
             lambda: table([(d.name, d.version, d.n_rows, d.n_columns, d.location) for d in items],
                           ["NAME", "VERSION", "ROWS", "COLUMNS", "LOCATION"]))
    return 0
