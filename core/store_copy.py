"""`modelgov store copy --to postgresql://…`: a DuckDB store's metadata, moved whole into an empty PostgreSQL database.

Every table is copied row for row (the tables the migrations make, and any a store made on first use, such as a
prediction log's), the sequences are moved past the copied ids, and the audit chain is verified in the target
before the copy commits: the copy is one PostgreSQL transaction, so a failure leaves the target as empty as it was.
Files (artifacts, dataset copies, cached results, the data location) stay where they are: the copy moves only what
the database holds, and the new store is used with the same `MODELGOV_HOME`.
"""

from __future__ import annotations

from typing import Any

from .errors import Conflict, CoreError, InvalidInput
from .frozen import frozen_record

# DuckDB's type names in information_schema, as PostgreSQL spells them (for tables no migration makes).
_PG_TYPES = {"DOUBLE": "DOUBLE PRECISION", "FLOAT": "REAL", "BLOB": "BYTEA", "HUGEINT": "NUMERIC(38)",
             "UBIGINT": "NUMERIC(20)", "UINTEGER": "BIGINT", "USMALLINT": "INTEGER", "UTINYINT": "SMALLINT",
             "TINYINT": "SMALLINT", "TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ"}
_BATCH = 5000


@frozen_record
class CopyResult:
    target: str
    tables: dict[str, int]
    sequences: dict[str, int]
    audit_rows: int
    audit_ok: bool

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "tables": self.tables, "sequences": self.sequences,
                "audit": {"rows": self.audit_rows, "ok": self.audit_ok}}


def _pg_type(duck_type: str) -> str:
    t = duck_type.upper()
    if t.endswith("[]"):
        return _pg_type(t[:-2]) + "[]"
    return _PG_TYPES.get(t, t)


def copy_store(source, target_url: str) -> CopyResult:
    """Copy the DuckDB store `source` into the empty PostgreSQL database at `target_url`.

    Raises InvalidInput (not a postgresql:// URL, or the source is not a DuckDB store), Conflict (the target holds
    tables already), CoreError (the target cannot be reached, or the audit chain did not arrive as it left).
    """
    from . import audit, pg
    from .sql import quote
    from .store import Store

    if not target_url.startswith(("postgresql://", "postgres://")):
        raise InvalidInput("--to must be a PostgreSQL URL, postgresql://USER:PASSWORD@HOST:PORT/DATABASE.")
    if source.database_url is not None:
        raise InvalidInput(f"The source store {source.location} is already on PostgreSQL; copy from a DuckDB "
                           "store (set --home or MODELGOV_DB, and unset MODELGOV_DATABASE_URL).")
    if not source.db_path.exists():
        raise InvalidInput(f"There is no DuckDB store at {source.db_path} to copy; name it with --home or MODELGOV_DB.")
    target = Store(source.home, database_url=target_url)
    shown = target.location
    probe = target._open()
    try:
        taken = probe.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
                              ).fetchone()[0]
    finally:
        probe.close()
    if taken:
        raise Conflict(f"The PostgreSQL database {shown} already holds {taken} table(s), so nothing was copied; copy "
                       "into a new, empty database (createdb modelgov).")

    with source.read() as src:
        source_chain = audit.verify_chain(src)
        tables = [r[0] for r in src.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_type = 'BASE TABLE'"
            " ORDER BY table_name").fetchall()]
        last_values = dict(src.execute("SELECT sequence_name, coalesce(last_value, 0) FROM duckdb_sequences()"
                                       " WHERE database_name = current_database()").fetchall())
    with target.read():
        pass  # migrates the empty target (under the migration lock)
    copied: dict[str, int] = {}
    moved: dict[str, int] = {}
    with source.read() as src, target.transaction() as dst:
        known = {r[0] for r in dst.execute("SELECT table_name FROM information_schema.tables "
                                           "WHERE table_schema = current_schema()").fetchall()}
        for table in tables:
            cols = src.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema ="
                               " 'main' AND table_name = ? ORDER BY ordinal_position", [table]).fetchall()
            names = [c for c, _t in cols]
            if table == "schema_migrations":
                continue  # the target's own record of the migrations it ran
            if table not in known:  # a table a store makes on first use (a prediction log)
                dst.execute(f"CREATE TABLE {quote(table)} ("
                            + ", ".join(f"{quote(c)} {_pg_type(t)}" for c, t in cols) + ")")
            target_cols = {r[0] for r in dst.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = ?", [table]).fetchall()}
            missing = [c for c in names if c not in target_cols]
            if missing:
                raise CoreError(f"The target's table {table} lacks the column(s) {', '.join(missing)}; copy with the "
                                "ModelGov version that wrote the source store.")
            dst.execute(f"DELETE FROM {quote(table)}")  # rows a migration seeded (policies) give way to the source's
            cur = src.execute(f"SELECT {', '.join(map(quote, names))} FROM {quote(table)}")
            n = 0
            while rows := cur.fetchmany(_BATCH):
                try:
                    pg.copy_rows(dst, table, names, rows)
                except InvalidInput as e:  # a NUL in text (written before core refused it): PostgreSQL cannot keep it
                    raise CoreError(f"The source's table {table} holds text with a NUL character (\\x00), which "
                                    "PostgreSQL cannot keep, so nothing was copied; the store stays usable on "
                                    "DuckDB.") from e
                n += len(rows)
            copied[table] = n
        # Each sequence past the ids copied (and past where DuckDB's counter stood: ids of deleted rows stay unused).
        for table, column, default in dst.execute(
                "SELECT table_name, column_name, column_default FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND column_default LIKE 'nextval(%'").fetchall():
            seq = default.split("'")[1]
            high = dst.execute(f"SELECT max({quote(column)}) FROM {quote(table)}").fetchone()[0] or 0
            value = max(int(high), int(last_values.get(seq, 0)))
            if value > 0:
                dst.execute("SELECT setval(?, ?)", [seq, value])
                moved[seq] = value
        dst.execute("ANALYZE")  # the planner's statistics for the copied rows (autovacuum would take its time)
        arrived = audit.verify_chain(dst)
        if (arrived.ok, arrived.rows, arrived.first_bad_seq) != (source_chain.ok, source_chain.rows,
                                                                  source_chain.first_bad_seq):
            raise CoreError(f"The audit chain did not arrive as it left ({source_chain.rows} rows, "
                            f"{'intact' if source_chain.ok else 'broken at ' + str(source_chain.first_bad_seq)}; "
                            f"in {shown}: {arrived.rows} rows, {arrived.problem or 'intact'}), so nothing was copied.")
    pg.pool(target_url).close_all()
    return CopyResult(shown, copied, moved, arrived.rows, arrived.ok)
