"""store copy: move a DuckDB store's metadata into PostgreSQL."""

from __future__ import annotations

from . import Ctx, table


def register(sub, common) -> None:
    grp = sub.add_parser("store").add_subparsers(dest="store_command", metavar="SUBCOMMAND")
    grp.required = True
    p = grp.add_parser("copy", parents=[common],
                       help="copy this DuckDB store's metadata into an empty PostgreSQL database")
    p.add_argument("--to", required=True, metavar="postgresql://USER:PASSWORD@HOST:PORT/DB",
                   help="the empty target database (files under the home stay where they are)")
    p.set_defaults(handler=cmd_copy)


def cmd_copy(ctx: Ctx) -> int:
    from ..store import Store
    from ..store_copy import copy_store

    # The source is the DuckDB file of this home, whatever MODELGOV_DATABASE_URL says.
    source = Store(ctx.store.home, db_path=ctx.store.db_path, database_url="")
    result = copy_store(source, ctx.args.to)
    ctx.emit(result.as_dict(), lambda: table(sorted(result.tables.items()), ["TABLE", "ROWS"]) + (
        f"\nCopied {sum(result.tables.values()):,} rows of {len(result.tables)} tables from {source.db_path} into "
        f"{result.target}; the audit chain of {result.audit_rows} events "
        f"{'verifies' if result.audit_ok else 'arrived as broken as it left'} there. Files under {source.home} "
        "stay where they are: run ModelGov with this MODELGOV_HOME and MODELGOV_DATABASE_URL set to the target."))
    return 0
