"""compare: champion vs challenger on a hold-out file, or on logged production traffic.

    modelgov compare CHAMPION CHALLENGER --data FILE --target COLUMN [--segment COLUMN]
                     [--bootstrap N] [--seed S] [--json]
    modelgov compare MODEL --env production [--window 7d] [--json]
"""

from __future__ import annotations


from ..compare import production, scores, stored
from ..errors import InvalidInput
from . import Ctx, table
from .argtypes import SEED, TOP, whole_number
from ..vocabulary import ENVIRONMENTS

# Big plotting arrays stay in the stored record and on the page, not on stdout.
_PLOT_KEYS = ("curves", "distributions")


def register(sub, common) -> None:
    p = sub.add_parser(
        "compare", parents=[common],
        description="Hold-out: modelgov compare CHAMPION CHALLENGER --data FILE --target COLUMN. "
                    "Production: modelgov compare MODEL --env production [--window 7d].")
    p.add_argument("models", nargs="+", metavar="MODEL[:VERSION]",
                   help="CHAMPION CHALLENGER as MODEL:VERSION (hold-out), or MODEL with --env")
    p.add_argument("--data", metavar="FILE", help="labelled hold-out CSV or Parquet scored by both versions")
    p.add_argument("--target", metavar="COLUMN", help="the label column in --data")
    p.add_argument("--segment", metavar="COLUMN", help="also compare within segments of this column")
    p.add_argument("--bootstrap", type=whole_number(scores.MIN_BOOTSTRAP, scores.MAX_BOOTSTRAP), default=scores.DEFAULT_BOOTSTRAP, metavar="N",
                   help="paired bootstrap replicates (default 1000)")
    p.add_argument("--seed", type=SEED, default=0, metavar="S", help="bootstrap seed (default 0)")
    p.add_argument("--env", choices=ENVIRONMENTS,
                   help="compare the environment's champion with its challengers on logged traffic")
    p.add_argument("--window", metavar="SPAN", help="with --env: only traffic of the last SPAN (24h, 7d, 4w)")
    p.add_argument("--top", type=TOP, default=scores.TOP_DISAGREEMENTS, metavar="K",
                   help="rows where the two disagree most to list (default 20)")
    p.add_argument("--no-save", action="store_true",
                   help="do not store the comparison (it is stored when an acting person is named)")
    p.add_argument("--plots", action="store_true", help="include curve and histogram data in --json output")
    p.set_defaults(handler=cmd_compare)


def cmd_compare(ctx: Ctx) -> int:
    a = ctx.args
    if a.env:
        if len(a.models) != 1 or a.data or a.target:
            raise InvalidInput("With --env give one MODEL and no --data/--target: modelgov compare MODEL --env "
                               "production.")
        return _production(ctx)
    if len(a.models) != 2:
        raise InvalidInput("Give CHAMPION and CHALLENGER as MODEL:VERSION with --data FILE --target COLUMN, "
                           "or one MODEL with --env production.")
    if a.window:
        raise InvalidInput("--window applies to production traffic; add --env production or drop it.")
    if not a.data or not a.target:
        raise InvalidInput("A hold-out comparison needs --data FILE and --target COLUMN.")
    if a.top < 0:
        raise InvalidInput("--top must be zero or more.")
    result = stored.compare_and_record(ctx.store, None if a.no_save else ctx.named(), a.models[0],
                                       a.models[1], a.data, a.target, segment=a.segment, bootstrap=a.bootstrap,
                                       seed=a.seed, top=a.top, data_ref=ctx.location(a.data))
    ctx.emit(_public(result, a.plots), lambda: _text(result))
    return 0


def _save_if_named(ctx: Ctx, result: dict) -> int | None:
    actor = None if ctx.args.no_save else ctx.named()
    if actor is None:
        return None
    return stored.save_comparison(ctx.store, actor, result)


def _production(ctx: Ctx) -> int:
    a = ctx.args
    out = production.compare_production(ctx.store, a.models[0], a.env, a.window, bootstrap=a.bootstrap, seed=a.seed)
    for r in out["comparisons"]:
        r["comparison_id"] = _save_if_named(ctx, r)
    out["comparisons"] = [_public(r, a.plots) for r in out["comparisons"]]
    ctx.emit(out, lambda: "\n\n".join(_text(r) for r in out["comparisons"]))
    return 0


def _public(result: dict, plots: bool) -> dict:
    return stored.json_safe({k: v for k, v in result.items() if plots or k not in _PLOT_KEYS})


def _num(x) -> str:
    return "-" if x is None or x != x else f"{x:.4g}"


def _text(r: dict) -> str:
    rows = []
    for m, d in r["difference"].items():
        rows.append((scores.LABELS[m], _num(r["champion"][m]), _num(r["challenger"][m]), _num(d["estimate"]),
                     f"{_num(d['ci_low'])} to {_num(d['ci_high'])}", _num(d["p_value"]), d["p_value_method"]))
    head = (f"{r['champion_ref']} (champion) vs {r['challenger_ref']} (challenger) on {r['rows']:,} rows "
            f"of {r['data']['ref']}; {r['bootstrap']:,} paired bootstrap replicates, seed {r['seed']}")
    lines = [head, "", table(rows, ["METRIC", "CHAMPION", "CHALLENGER", "DIFFERENCE", "95% CI", "P", "TEST"]), "",
             f"Agreement rate: {r['agreement_rate']:.1%}", f"Verdict: {r['verdict']}"]
    if r.get("segments"):
        seg_rows = [(s["segment"], s["rows"], s.get("verdict") or s.get("note", "")) for s in r["segments"]]
        lines += ["", f"By {r['segment']}:", table(seg_rows, ["SEGMENT", "ROWS", "VERDICT"])]
    if r.get("comparison_id"):
        lines.append(f"Stored as comparison {r['comparison_id']}.")
    else:
        lines.append("Not stored (name yourself with --as EMAIL, without --no-save, to keep it as evidence).")
    return "\n".join(lines)
