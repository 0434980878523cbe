"""explain: SHAP values of a model version on a data file, cached in the store."""

from __future__ import annotations

import sys

from ..explain import compute, explanations, summary
from ..registry.records import parse_ref
from . import Ctx, table
from .argtypes import ROWS


def register(sub, common) -> None:
    p = sub.add_parser("explain", parents=[common])
    p.add_argument("ref", metavar="MODEL[:VERSION]")
    p.add_argument("--data", metavar="FILE", help="CSV or Parquet with the model's inputs (default: its hold-out data)")
    p.add_argument("--rows", type=ROWS, default=compute.DEFAULT_ROWS,
                   help=f"explain at most this many rows, a seeded sample (default {compute.DEFAULT_ROWS})")
    p.add_argument("--no-cache", action="store_true", help="compute again even when a cached result exists")
    p.add_argument("--class", dest="class_", metavar="CLASS",
                   help="multiclass: show the contributions to this class (every class is computed and cached; "
                        "default: importance averaged over the classes, rows of the first class)")
    p.set_defaults(handler=cmd_explain)


def cmd_explain(ctx: Ctx) -> int:
    name, version = parse_ref(ctx.args.ref)

    def progress(fraction: float, text: str) -> None:
        if not ctx.json:
            print(f"  {fraction:4.0%}  {text}", file=sys.stderr)

    # a class the version does not have is refused before any work
    k = None if ctx.args.class_ is None else explanations.class_position(ctx.store, name, version, ctx.args.class_)
    e = explanations.explain(ctx.store, ctx.actor(), name, version, ctx.args.data, rows=ctx.args.rows,
                        progress=progress, use_cache=not ctx.args.no_cache, label=ctx.location(ctx.args.data))
    if k is not None:
        e = e.for_class(k)

    def text() -> str:
        imp = e.global_importance().head(15)
        head = [f"{e.model}:{e.version}: {e.explainer} explainer, output in {e.output_space}, {len(e.frame):,} rows"
                f"{' (cached)' if e.cached else ''}; base value {e.base_value:.4g}; additivity max error "
                f"{e.additivity_max_error:.2g} ({'ok' if e.additivity_ok else 'FAILED'})", ""]
        return "\n".join(head) + table([(r.feature, f"{r.mean_abs_shap:.4g}") for r in imp.itertuples()],
                                       ["INPUT", "MEAN |SHAP|"]) + "\n\n" + summary.plain_summary(e)

    ctx.emit(e.as_dict(), text)
    return 0 if e.additivity_ok else 1
