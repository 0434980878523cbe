"""import mlflow: one registered MLflow model version, with its run's facts, as a ModelGov version."""

from __future__ import annotations

from ..registry import mlflow_import
from ..vocabulary import RISK_TIERS
from . import Ctx, table
from .argtypes import whole_number


def register(sub, common) -> None:
    sources = sub.add_parser("import").add_subparsers(dest="import_command", metavar="SOURCE")
    sources.required = True
    p = sources.add_parser("mlflow", parents=[common],
                           help="a registered MLflow model version, its run's parameters, metrics and tags")
    p.add_argument("--tracking-uri", required=True, metavar="URI",
                   help="the MLflow tracking store: sqlite:///mlflow.db, a folder, or http(s)://HOST:PORT")
    p.add_argument("--model", required=True, metavar="NAME", help="the registered model's name in MLflow")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--version", type=whole_number(1, 10 ** 9), metavar="N", help="its version (default: the latest)")
    which.add_argument("--alias", metavar="ALIAS", help="the version an alias points to, e.g. champion")
    p.add_argument("--name", metavar="NAME", help="the ModelGov model to add it to (default: the MLflow name, "
                                                  "lowercase-kebab)")
    p.add_argument("--train-data", metavar="FILE",
                   help="CSV or Parquet the model was trained on; drift needs it (default: the local file the run "
                        "logged with mlflow.log_input(..., context='training'))")
    p.add_argument("--target", metavar="COLUMN",
                   help="the target column (default: the one column of the training data that is not an input of "
                        "the model's MLflow signature)")
    p.add_argument("--test-data", metavar="FILE", help="hold-out CSV or Parquet: ModelGov's own metrics, shown "
                                                        "beside MLflow's")
    p.add_argument("--owner")
    p.add_argument("--risk-tier", choices=RISK_TIERS)
    p.add_argument("--description")
    p.add_argument("--allow-duplicate", action="store_true",
                   help="import even when a version of this model is the same artifact (exit 4 otherwise)")
    p.set_defaults(handler=cmd_import_mlflow)


def cmd_import_mlflow(ctx: Ctx) -> int:
    a = ctx.args
    v, facts, used = mlflow_import.import_mlflow_version(
        ctx.store, ctx.actor(), a.tracking_uri, a.model, a.train_data, a.target, version=a.version, alias=a.alias,
        name=a.name, test_data=a.test_data, owner=a.owner, risk_tier=a.risk_tier, description=a.description,
        # No allow_pickle: a version on a shared tracking server may have been logged by anyone, so a pickle or
        # cloudpickle model is refused here (core's default); `register --model FOLDER` takes one's own.
        allow_duplicate=a.allow_duplicate)
    data = {"name": v.model, "version": v.version, "sha256": v.sha256, "metrics": v.metrics,
            "mlflow": {"tracking_uri": facts.tracking_uri, "model": facts.registered_model,
                       "version": facts.registered_version, "aliases": facts.aliases, "tags": facts.version_tags,
                       "run_id": facts.run_id, "run_name": facts.run_name, "experiment_id": facts.experiment_id,
                       "run_tags": facts.run_tags, "params": facts.params, "metrics": facts.metrics},
            "training_data": {"location": used.location, "target": used.target, "target_from": used.target_from,
                              "from": "mlflow" if used.logged else "--train-data",
                              "mlflow_dataset": {"name": used.logged.name, "digest": used.logged.digest,
                                                 "source": used.logged.uri} if used.logged else None}}

    def text() -> str:
        out = (f"Imported MLflow model {facts.registered_model} version {facts.registered_version}"
               + (f" (aliases {', '.join(facts.aliases)})" if facts.aliases else "")
               + f" as {v.ref} (sha256 {v.sha256[:12]}…)"
               + (f", from run {facts.run_name or facts.run_id}" if facts.run_id else "") + "."
               + (f"\nTrained on {used.location}" + (f" (logged by the run as '{used.logged.name}')"
                                                       if used.logged else "")
                  + f", target {used.target}" + {"mlflow": " (as the run logged it)",
                                                 "signature": " (the one column the model does not read)"}
                  .get(used.target_from, "") + "."))
        names = sorted(set(v.metrics) | set(facts.metrics))
        if names:
            fmt = lambda x: "-" if x is None else f"{x:.4g}" if isinstance(x, (int, float)) else str(x)  # noqa: E731
            out += "\n\n" + table([(n, fmt(v.metrics.get(n)), fmt(facts.metrics.get(n))) for n in names],
                                  ["METRIC", "MODELGOV (HOLD-OUT)", "MLFLOW (LOGGED)"])
        return out

    ctx.emit(data, text)
    return 0
