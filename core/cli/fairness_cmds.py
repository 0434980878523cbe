"""fairness: how a version treats the groups of its sensitive attributes; fairness-declare: declare them on the card.

    modelgov fairness MODEL[:VERSION] --data FILE --target COL --sensitive COL[,COL…] [--threshold T]
                      [--attributes FILE --id-column COL] [--fail-below RATIO] [--json]
    modelgov fairness MODEL[:VERSION] [--sensitive …]          (the registered hold-out data, declared attributes)
    modelgov fairness MODEL[:VERSION] --env production [--days N]   (logged traffic, outcomes where they arrived)
    modelgov fairness-declare MODEL --sensitive SEX,AGE [--bands AGE=25,35,45,60] [--labels SEX=1:male,2:female]
                      [--attributes FILE --id-column COL] [--positive-is adverse] [--phrase "predicted to default"]
"""

from __future__ import annotations

import json

from ..errors import CheckFailed, InvalidInput
from ..registry.records import parse_ref
from ..vocabulary import ENVIRONMENTS
from . import EXIT_CHECK, Ctx, table
from .argtypes import SEED, finite_float, whole_number


def register(sub, common) -> None:
    p = sub.add_parser(
        "fairness", parents=[common],
        description="Per-group selection rate, TPR, FPR, precision, AUC and calibration with 95%% bootstrap "
                    "intervals, and the demographic-parity and equalized-odds disparities (fairlearn's definitions).")
    p.add_argument("ref", metavar="MODEL[:VERSION]")
    p.add_argument("--data", metavar="FILE", help="labelled CSV or Parquet (default: the version's hold-out data)")
    p.add_argument("--target", metavar="COL", help="the outcome column in --data")
    p.add_argument("--sensitive", metavar="COL[,COL…]",
                   help="attributes to measure (default: those declared on the model card)")
    p.add_argument("--threshold", type=finite_float, metavar="T",
                   help="a score at or above T is a positive prediction (default 0.5, the model's own)")
    p.add_argument("--attributes", metavar="FILE", help="attribute file joined to --data by --id-column")
    p.add_argument("--id-column", metavar="COL", help="the id column --data and --attributes share")
    p.add_argument("--env", choices=ENVIRONMENTS, help="measure the version's logged traffic in this environment")
    p.add_argument("--days", type=whole_number(1, 3650), default=30, metavar="N",
                   help="with --env: the last N days up to the latest prediction (default 30)")
    p.add_argument("--bootstrap", type=whole_number(0, 5000), default=200, metavar="N",
                   help="bootstrap resamples per group for the 95%% intervals (default 200; 0: estimates only)")
    p.add_argument("--seed", type=SEED, default=0, metavar="S", help="bootstrap seed (default 0)")
    p.add_argument("--fail-below", type=finite_float, metavar="RATIO",
                   help="exit 1 when a demographic-parity ratio is below RATIO (a CI gate; 0.8: the four-fifths rule)")
    p.set_defaults(handler=cmd_fairness)

    d = sub.add_parser("fairness-declare", parents=[common],
                       description="Declare the sensitive attributes on MODEL's card (data scientists).")
    d.add_argument("model", metavar="MODEL")
    d.add_argument("--sensitive", metavar="COL[,COL…]", help="the attribute columns")
    d.add_argument("--config", metavar="FILE",
                   help='the declaration as JSON: [{"column": "AGE", "name": "Age", "bands": [25, 35, 45, 60]}, …]')
    d.add_argument("--bands", action="append", default=[], metavar="COL=E1,E2,…",
                   help="lower band edges of a numeric attribute (repeatable)")
    d.add_argument("--labels", action="append", default=[], metavar="COL=CODE:LABEL,…",
                   help="names of coded values (repeatable); codes sharing a label form one group")
    d.add_argument("--attributes", metavar="FILE", help="attribute file for attributes the model does not take")
    d.add_argument("--id-column", metavar="COL", help="the attribute file's id (a row id, or the request id)")
    d.add_argument("--positive-is", choices=("adverse", "favourable"), default="adverse",
                   help="whether a positive prediction is adverse (a predicted default) or favourable (an approval)")
    d.add_argument("--phrase", default="predicted positive", metavar="WORDS",
                   help="what a positive prediction means in words, e.g. 'predicted to default'")
    d.add_argument("--min-group", type=whole_number(1, 100_000), default=50, metavar="N",
                   help="groups with fewer rows are flagged too small to judge (default 50)")
    d.set_defaults(handler=cmd_declare)


def cmd_fairness(ctx: Ctx) -> int:
    from ..fairness import report

    a = ctx.args
    name, version = parse_ref(a.ref)
    if a.fail_below is not None and not 0 <= a.fail_below <= 1:
        raise InvalidInput(f"--fail-below is a ratio between 0 and 1; got {a.fail_below}.")
    if a.data and not a.target:
        raise InvalidInput("--data needs --target COL, the outcome column.")
    if a.env and (a.data or a.target):
        raise InvalidInput("--env measures logged traffic; drop --data/--target, or drop --env.")
    actor = ctx.actor()  # group outcomes of protected attributes are governed data: a named person reads them
    common = dict(sensitive=a.sensitive, threshold=a.threshold, bootstrap=a.bootstrap, seed=a.seed)
    if a.env:
        result = report.fairness_in_production(ctx.store, actor, name, version, environment=a.env, days=a.days,
                                               **common)
    elif a.data:
        result = report.fairness_on_data(ctx.store, actor, name, version, a.data, a.target, attributes=a.attributes,
                                         id_column=a.id_column, **common)
    else:
        result = report.fairness_on_holdout(ctx.store, actor, name, version, **common)
    low = [x["attribute"] for x in result["attributes"] if a.fail_below is not None
           and x["demographic_parity_ratio"] is not None and x["demographic_parity_ratio"] < a.fail_below]
    result["fail_below"] = a.fail_below
    result["failing"] = low
    ctx.emit(result, lambda: _text(result))
    if low:
        if not ctx.json:
            raise CheckFailed(f"Demographic-parity ratio below {a.fail_below:g} for {', '.join(low)}.")
        return EXIT_CHECK
    return 0


def _fmt(x, spec: str = ".3f") -> str:
    return "" if x is None else format(x, spec)


def _text(r: dict) -> str:
    from ..fairness.words import attribute_sentence

    out = [f"{r['model']}:{r['version']} on {r['rows']:,} rows ({r['source']}), threshold {r['threshold']:g}."]
    for x in r["attributes"]:
        out.append("")
        if r["task"] == "regression":
            out.append(table([(g["group"], g["n"], _fmt(g["mean_prediction"], ".4g"), _fmt(g["mean_error"], ".4g"),
                               _fmt(g["mae"], ".4g"), "small" if g["small"] else "") for g in x["groups"]],
                             [x["attribute"].upper(), "N", "MEAN PRED", "MEAN ERROR", "MAE", ""]))
        else:
            out.append(table([(g["group"], g["n"], _fmt(g["selection_rate"]), _fmt(g["tpr"]), _fmt(g["fpr"]),
                               _fmt(g["precision"]), _fmt(g["auc"]), _fmt(g["mean_score"]), _fmt(g["observed_rate"]),
                               "small" if g["small"] else "") for g in x["groups"]],
                             [x["attribute"].upper(), "N", "SELECTED", "TPR", "FPR", "PRECISION", "AUC", "MEAN SCORE",
                              "OBSERVED", ""]))
            out.append(f"demographic parity ratio {_fmt(x['demographic_parity_ratio'])}, difference "
                       f"{_fmt(x['demographic_parity_difference'])}; equalized odds difference "
                       f"{_fmt(x['equalized_odds_difference'])}")
        out.append(attribute_sentence(r, x))
    return "\n".join(out)


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        col, sep, rest = item.partition("=")
        if not sep or not col.strip() or not rest.strip():
            raise InvalidInput(f"Give --{what} as COL=…; got {item!r}.")
        out[col.strip()] = rest
    return out


def cmd_declare(ctx: Ctx) -> int:
    from ..fairness import attributes

    a = ctx.args
    if a.config:
        try:
            with open(a.config, encoding="utf-8") as f:
                specs = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise InvalidInput(f"The declaration {a.config} could not be read: {e}.") from None
    elif a.sensitive:
        bands, labels = _pairs(a.bands, "bands"), _pairs(a.labels, "labels")
        specs = []
        for col in (c.strip() for c in a.sensitive.split(",") if c.strip()):
            spec: dict = {"column": col}
            if col in bands:
                spec["bands"] = [b.strip() for b in bands[col].split(",")]
            if col in labels:
                pairs = [p.partition(":") for p in labels[col].split(",")]
                if any(not s or not k.strip() for k, s, _v in pairs):
                    raise InvalidInput(f"Give --labels as {col}=CODE:LABEL,CODE:LABEL.")
                spec["labels"] = {k.strip(): v for k, _s, v in pairs}
            specs.append(spec)
    else:
        raise InvalidInput("Name the attributes with --sensitive COL[,COL…] or give --config FILE.json.")
    done = attributes.declare(ctx.store, ctx.actor(), a.model, specs, positive_is=a.positive_is,
                              prediction_phrase=a.phrase, min_group_size=a.min_group, attribute_file=a.attributes,
                              id_column=a.id_column)
    ctx.emit(done.as_dict(), f"{a.model} declares {', '.join(x.name for x in done.attributes)} as sensitive.")
    return 0
