"""Outcomes that arrive after the predictions: labels joined to logged predictions by request id (the latest wins).

A label is a number, or the text of a class of one of the model's classifiers ("barolo", "yes"): every label is kept
as given in `label_text`, with `label` its number when it is one (migration 0016). Each ingest's accepted
labels are one Parquet file under the data location (core.datafiles, migration 0017). Outcomes belong to the
model, not to a version: each version matches them to its own classes (`monitoring.report`).
"""

from __future__ import annotations

import json
from pathlib import Path

from .. import datafiles
from ..audit import record, utcnow
from ..errors import InvalidInput, NotFound
from ..events import OutcomesLogged
from ..identity import Identity, require
from ..registry.catalog import get_model_tx
from ..sql import file_relation, quote
from .ingest import Ingested, _file_errors, _record_run, _refresh_snapshots, require_first


def _text_classes(con, model_id: int) -> list[str]:
    """The classes named by text (not numbers) of the model's classifiers: the text outcomes it accepts."""
    out: set[str] = set()
    for (classes,) in con.execute("SELECT CAST(classes AS VARCHAR) FROM model_versions WHERE model_id = ? AND "
                                  "task <> 'regression' AND classes IS NOT NULL", [model_id]).fetchall():
        out.update(str(c).strip() for c in json.loads(classes) if isinstance(c, str))
    return sorted(out)


@_file_errors
def log_outcomes(store, actor: Identity, model: str, source: str | Path, *, id_column: str, label_column: str,
                 refresh_snapshots: bool = True, source_name: str | None = None) -> Ingested:
    """Record labels that arrived later, joined to logged predictions by request id (the latest label wins); then
    refresh the monitoring snapshot of every version and environment with logs (unless `refresh_snapshots` is
    False); `source_name` replaces the path kept (an API upload: `upload:<name>`)."""
    rel = file_relation(source)
    require_first(store, actor, "log-predictions", OutcomesLogged, model)
    with store.read() as con:  # what the file is checked against: the model, its classes, its log files
        m = get_model_tx(con, model)
        logs = datafiles.model_prediction_files_tx(con, m.id)
        text_classes = _text_classes(con, m.id)
    written: list[datafiles.DataFile] = []  # the file written, deleted unless its catalogue row commits
    with store.data() as dcon:
        cols = {r[0] for r in dcon.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()}
        for label, col in (("id", id_column), ("label", label_column)):
            if col not in cols:
                raise InvalidInput(f"The file has no {label} column {col!r}; its columns are {', '.join(sorted(cols)[:12])}.")
        if not logs:
            raise NotFound(f"{model} has no logged predictions yet; log or score them first, then their outcomes.")
        # Identifiers (the file's column names) are quoted; every value, the reasons too, is bound.
        known = f"SELECT request_id FROM {datafiles.relation(store, logs, by_name=True)}"  # every version's files
        # A label is a number, or the text of a class of one of the model's classifiers ("barolo", "yes"): kept as
        # given in `label_text`, with `label` its number when it is one (outcomes belong to the model, not a version).
        dcon.execute(f"""CREATE OR REPLACE TEMP TABLE staged AS
            SELECT row_number() OVER () AS __row, CAST({quote(id_column)} AS VARCHAR) AS __id,
                   TRY_CAST({quote(label_column)} AS DOUBLE) AS __label,
                   nullif(trim(CAST({quote(label_column)} AS VARCHAR)), '') AS __text FROM {rel}""")
        dcon.execute("ALTER TABLE staged ADD COLUMN __reject VARCHAR")
        dcon.execute(f"""UPDATE staged SET __reject = CASE
            WHEN __id IS NULL THEN ?
            WHEN __text IS NULL THEN ?
            WHEN (__label IS NULL OR NOT isfinite(__label)) AND NOT list_contains(?, __text) THEN ?
            WHEN __id NOT IN ({known}) THEN 'no logged prediction with this request id' END""",
                     [f"{id_column}: missing request id", f"{label_column}: missing", text_classes,
                      f"{label_column}: not a number" + (f" nor a class of {model}" if text_classes else "")])
        dcon.execute("""UPDATE staged SET __reject = 'request id repeated in the file' WHERE __reject IS NULL AND __row IN (
            SELECT __row FROM (SELECT __row, row_number() OVER (PARTITION BY __id ORDER BY __row DESC) AS k
            FROM staged WHERE __reject IS NULL) WHERE k > 1)""")
        n = dcon.execute("SELECT count(*) FROM staged").fetchall()[0][0]
        if n == 0:
            raise InvalidInput(f"{Path(source).name} has no rows.")
        reasons = {str(k): int(c) for k, c in dcon.execute(
            "SELECT __reject, count(*) FROM staged WHERE __reject IS NOT NULL GROUP BY 1").fetchall()}
        with datafiles.removed_on_error(store, written), store.transaction() as con:
            require(actor, "log-predictions", OutcomesLogged, model)
            iid = _record_run(con, dcon, actor, m.id, "log-outcomes", source_name or str(source), n, reasons)
            # One file of the accepted labels, appended: a request id's latest label wins when the outcomes are read
            # (datafiles.outcomes_relation), as the upsert of the table they lived in before migration 0017 did.
            dcon.execute(f"CREATE OR REPLACE TEMP TABLE new_outcomes ({datafiles.OUTCOME_COLUMNS})")
            dcon.execute("""INSERT INTO new_outcomes SELECT __id, CASE WHEN isfinite(__label) THEN __label END, __text,
                            ?, ? FROM staged WHERE __reject IS NULL ORDER BY __row""", [utcnow(), iid])
            files = datafiles.write_days(store, dcon, "new_outcomes", kind=datafiles.OUTCOMES, model_id=m.id,
                                         version=None, ingest_id=iid, time_column="arrived_at", written=written)
            datafiles.catalogue_tx(con, files, utcnow())
            record(con, actor, OutcomesLogged(model, source_name or str(source), n, sum(reasons.values()), reasons))
    snaps = _refresh_snapshots(store, actor, model, None) if refresh_snapshots else []
    return Ingested(iid, n, n - sum(reasons.values()), sum(reasons.values()), reasons, snapshots=snaps)
