"""lineage upstream|downstream|impact|path|show|column|nodes|add-node|add-edge|import|export."""

from __future__ import annotations

import json

from ..lineage import graph as lg
from ..lineage import openlineage
from ..lineage.nodes import RELATIONS
from . import Ctx, deliver, held_open, reads_only, table
from .argtypes import DEPTH, output_file


def register(sub, common) -> None:
    grp = sub.add_parser("lineage").add_subparsers(
        dest="lineage_command", metavar="SUBCOMMAND")
    grp.required = True
    for name, text in (("upstream", "everything NODE was built from"), ("downstream", "everything built from NODE"),
                       ("impact", "model versions and deployments that depend on NODE")):
        p = grp.add_parser(name, parents=[common], help=text)
        p.add_argument("node", metavar="NODE", help="e.g. dataset:file:/data/train.csv or model:credit-default:2")
        p.add_argument("--depth", type=DEPTH, help="at most this many hops (default: all)")
        p.set_defaults(handler=cmd_traverse, direction=name)
    p = grp.add_parser("path", parents=[common], help="a shortest path from one node down to another")
    p.add_argument("src", metavar="FROM")
    p.add_argument("dst", metavar="TO")
    p.set_defaults(handler=cmd_path)
    p = grp.add_parser("show", parents=[common], help="one node with its attributes")
    p.add_argument("node", metavar="NODE")
    p.set_defaults(handler=cmd_show)
    p = grp.add_parser("column", parents=[common], help="the source columns of one column, and the columns made "
                                                        "from it (from OpenLineage column lineage)")
    p.add_argument("dataset", metavar="DATASET_ID", help="e.g. dataset:s3://lake:features/credit_client_monthly")
    p.add_argument("column", metavar="COLUMN")
    p.add_argument("--depth", type=DEPTH, help="at most this many steps each way (default: all)")
    p.set_defaults(handler=cmd_column)
    p = grp.add_parser("nodes", parents=[common], help="list nodes")
    p.add_argument("--kind", choices=lg.KINDS)
    p.add_argument("--search")
    p.set_defaults(handler=cmd_nodes)
    p = grp.add_parser("add-node", parents=[common], help="add an upstream source, feature table or job")
    p.add_argument("node", metavar="NODE", help="dataset:NAMESPACE:NAME, job:NAMESPACE:NAME, source:…")
    p.add_argument("--kind", choices=lg.KINDS)
    p.add_argument("--name", help="a readable name (default: the id's last part)")
    p.add_argument("--attributes", help="a JSON object of extra details")
    p.set_defaults(handler=cmd_add_node)
    p = grp.add_parser("add-edge", parents=[common], help="add FROM → TO (downstream direction)")
    p.add_argument("src", metavar="FROM")
    p.add_argument("dst", metavar="TO")
    p.add_argument("--relation", required=True, choices=RELATIONS)
    p.set_defaults(handler=cmd_add_edge)
    p = grp.add_parser("import", parents=[common], help="read OpenLineage events: a JSON array, JSON lines, or events however formatted")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--skip-invalid", action="store_true", help="import the valid events and list the malformed")
    p.set_defaults(handler=cmd_import)
    p = grp.add_parser("export", parents=[common], help="write our lineage as OpenLineage run events")
    p.add_argument("--output", "-o", type=output_file, metavar="FILE", help="default: stdout")
    p.add_argument("--format", choices=["json", "jsonl"], default="json", help="a JSON array (default) or JSON lines")
    p.set_defaults(handler=cmd_export)


def _graph_text(g: lg.Graph, extra: str = "") -> str:
    rows = [(n["depth"], n["kind"], n["id"]) for n in g.nodes]
    return (table(rows, ["DEPTH", "KIND", "NODE"]) + f"\n{len(g.nodes)} node(s), {len(g.edges)} edge(s)"
            + (f"\n{extra}" if extra else ""))


@held_open
def cmd_traverse(ctx: Ctx) -> int:
    a = ctx.args
    if a.direction == "impact":
        g = lg.impact(ctx.store, a.node, a.depth)
        data = g.as_dict()
        for out, n in zip(data["nodes"], g.nodes):
            out.update({k: n[k] for k in ("active", "environment", "role") if k in n})
        data["summary"] = lg.impact_summary(g)
        ctx.emit(data, lambda: _graph_text(g, data["summary"]))
    else:
        g = (lg.upstream if a.direction == "upstream" else lg.downstream)(ctx.store, a.node, a.depth)
        ctx.emit(g.as_dict(), lambda: _graph_text(g))
    return 0


@held_open
def cmd_path(ctx: Ctx) -> int:
    g = lg.path(ctx.store, ctx.args.src, ctx.args.dst)
    if not g.nodes:
        ctx.emit(g.as_dict(), f"No path from {ctx.args.src} down to {ctx.args.dst}.")
        return 0
    ctx.emit(g.as_dict(), lambda: "\n".join(
        [g.nodes[0]["id"]] + [f"  --{e['relation']}--> {e['to']}" for e in g.edges]))
    return 0


@held_open
def cmd_show(ctx: Ctx) -> int:
    n = lg.node(ctx.store, ctx.args.node)

    def text() -> str:
        out = [f"{n['id']}  ({n['kind']})", n["name"], json.dumps(n["attributes"], indent=2, ensure_ascii=False)]
        if n["parents"]:
            out.append("Child run of: " + ", ".join(n["parents"]))
        if n["children"]:
            out.append(f"Parent run of {len(n['children'])} job(s):")
            out += [f"  {c}" for c in n["children"]]
        return "\n".join(out)

    ctx.emit(n, text)
    return 0


@held_open
def cmd_column(ctx: Ctx) -> int:
    from ..lineage import columns

    found = columns.column_lineage(ctx.store, ctx.args.dataset, ctx.args.column, ctx.args.depth)

    def text() -> str:
        out = [f"{found['dataset']} · {found['column']}"]
        for side, title in (("upstream", "Made from"), ("downstream", "Used by")):
            rows = [(c["depth"], c["dataset"], c["column"], c["via"] or "",
                     ", ".join(t.get("subtype") or t.get("type") or "" for t in c["transformations"]))
                    for c in found[side]]
            out += ["", f"{title}: {len(rows)} column(s)"]
            if rows:
                out.append(table(rows, ["DEPTH", "DATASET", "COLUMN", "JOB", "TRANSFORMATION"]))
        return "\n".join(out)

    ctx.emit(found, text)
    return 0


@held_open
def cmd_nodes(ctx: Ctx) -> int:
    items = lg.list_nodes(ctx.store, ctx.args.kind, ctx.args.search)
    ctx.emit(items, lambda: table([(n["kind"], n["id"]) for n in items], ["KIND", "NODE"]))
    return 0


def cmd_add_node(ctx: Ctx) -> int:
    from ..errors import InvalidInput

    attrs = None
    if ctx.args.attributes:
        try:
            attrs = json.loads(ctx.args.attributes)
        except json.JSONDecodeError:
            attrs = None
        if not isinstance(attrs, dict):
            raise InvalidInput("--attributes must be a JSON object, e.g. '{\"owner\": \"data-eng\"}'.")
    n = lg.add_node(ctx.store, ctx.actor(), ctx.args.node, kind=ctx.args.kind, name=ctx.args.name, attributes=attrs)
    ctx.emit(n, f"Node {n['id']} ({n['kind']}) recorded.")
    return 0


def cmd_add_edge(ctx: Ctx) -> int:
    new = lg.add_edge(ctx.store, ctx.actor(), ctx.args.src, ctx.args.dst, ctx.args.relation)
    ctx.emit({"from": ctx.args.src, "to": ctx.args.dst, "relation": ctx.args.relation, "new": new},
             f"{ctx.args.src} --{ctx.args.relation}--> {ctx.args.dst} {'recorded' if new else 'was already recorded'}.")
    return 0


def cmd_import(ctx: Ctx) -> int:
    r = openlineage.import_events(ctx.store, ctx.actor(), ctx.args.file, skip_invalid=ctx.args.skip_invalid)
    lines = [f"Imported {r.imported} of {r.events} event(s): {r.jobs} job(s), {r.datasets} dataset(s), {r.edges} "
             f"edge(s) ({r.new_nodes} new node(s), {r.new_edges} new edge(s))"
             + (f", {r.columns} column link(s) ({r.new_columns} new)." if r.columns else ".")]
    lines += [f"Skipped event {s['position']}: {s['error']}" for s in r.skipped]
    ctx.emit(r.as_dict(), "\n".join(lines))
    return 0


@reads_only
def cmd_export(ctx: Ctx) -> int:
    events = openlineage.export_events(ctx.store)
    if ctx.args.format == "jsonl":
        text = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events)
    else:
        text = json.dumps(events, indent=2, ensure_ascii=False) + "\n"
    return deliver(text, ctx.args.output, f"{len(events)} event(s)")
