"""A drift report between a reference and a current sample, per column and per window.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engine import dialect_of
from ..errors import InvalidInput
from .counts import (ALL, categorical_rows, describe, kind_of, numeric_counts, numeric_counts_many, numeric_summary,
                     quote)
from . import stattests
from .stattests import Sample, default_test, homogeneity_p_value, js_distance, psi

WINDOWS = ("hour", "day", "week")



CONFIG_KEYS = ("columns", "drift_share", "exclude")
COLUMN_KEYS = ("kind", "method", "threshold")
TEMPORAL_TYPES = ("DATE", "TIME", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ", "TIMESTAMP_S",
                  "TIMESTAMP_MS", "TIMESTAMP_NS", "TIME WITH TIME ZONE", "INTERVAL")


@dataclass
class DriftConfig:
    """Per-column overrides: {"columns": {"AGE": {"kind": "categorical", "method": "psi", "threshold": 0.2}},
    "drift_share": 0.5, "exclude": ["customer_id"]}."""

    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    drift_share: float = 0.5
    exclude: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None, *, strict: bool = True) -> "DriftConfig":
        """The config of a JSON object. `strict` (what a person hands in): a key nobody reads is refused, since
        a misspelt "treshold" would otherwise be ignored in silence; configs stored before that rule load as
        they are (`strict=False`)."""
        d = d or {}
        if not isinstance(d, dict):
            raise InvalidInput("A drift config is a JSON object such as "
                               '{"columns": {"AGE": {"method": "psi"}}, "drift_share": 0.5, "exclude": ["id"]}.')
        if strict:
            _known(d, CONFIG_KEYS, "The drift config")
        columns = d.get("columns") or {}
        if not isinstance(columns, dict) or not all(isinstance(c, dict) for c in columns.values()):
            raise InvalidInput('The drift config\'s "columns" must map each column to an object, e.g. '
                               '{"AGE": {"kind": "categorical", "method": "psi", "threshold": 0.2}}.')
        if strict:
            for col, c in columns.items():
                _known(c, COLUMN_KEYS, f"Column {col} of the drift config")
        exclude = d.get("exclude") or []
        if not isinstance(exclude, list) or not all(isinstance(c, str) for c in exclude):
            raise InvalidInput('The drift config\'s "exclude" must be a list of column names, e.g. ["customer_id"].')
        share = d.get("drift_share", 0.5)
        if isinstance(share, bool) or not isinstance(share, (int, float)):
            raise InvalidInput(f"drift_share must be a number in (0, 1]; got {share!r}.")
        cfg = cls(columns=dict(columns), drift_share=float(share), exclude=list(exclude))
        cfg.validate()
        return cfg

    def validate(self) -> None:
        if not 0 < self.drift_share <= 1:
            raise InvalidInput(f"drift_share must lie in (0, 1]; got {self.drift_share}.")
        for col, c in self.columns.items():
            if c.get("kind") not in (None, "numeric", "categorical"):
                raise InvalidInput(f"Column {col}: kind must be numeric or categorical, not {c.get('kind')!r}.")
            method = c.get("method")
            if method is not None and method not in stattests.REGISTRY:
                raise InvalidInput(f"Column {col}: method must be one of {', '.join(stattests.REGISTRY)}, "
                                   f"not {method!r}.")
            if method is not None and c.get("kind") and c["kind"] not in stattests.REGISTRY[method].kinds:
                raise InvalidInput(f"Column {col}: the {method} test does not apply to {c['kind']} columns.")
            if c.get("threshold") is not None and (isinstance(c["threshold"], bool)
                                                   or not isinstance(c["threshold"], (int, float))):
                raise InvalidInput(f"Column {col}: threshold must be a number.")

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"columns": self.columns, "drift_share": self.drift_share}
        if self.exclude:
            out["exclude"] = self.exclude
        return out


def _known(d: dict[str, Any], valid: tuple[str, ...], what: str) -> None:
    unknown = [k for k in d if k not in valid]
    if unknown:
        raise InvalidInput(f"{what} has unknown key(s) {', '.join(repr(k) for k in unknown)}; the valid keys are "
                           f"{', '.join(valid)}.")


def compared_columns(ref_types: dict[str, str], *, time_column: str | None = None, id_column: str | None = None,
                     exclude: list[str] | tuple[str, ...] = (), config: DriftConfig | None = None
                     ) -> tuple[list[str], list[dict[str, str]]]:
    """The reference's columns a drift report compares, and those it leaves out with the reason.

    Never compared: the time column (it cuts the windows), the id column (every id is new), the columns named in
    `exclude` or the config's "exclude", and dates and times not configured as a column (their values move on by
    nature, so they would always drift). A name in `exclude` that the reference lacks is refused: it is a typo
    that would otherwise leave the column it meant in the comparison.
    """
    cfg = config or DriftConfig()
    named = list(dict.fromkeys([*exclude, *cfg.exclude]))
    unknown = [c for c in named if c not in ref_types]
    if unknown:
        shown = ", ".join(list(ref_types)[:12]) + (" …" if len(ref_types) > 12 else "")
        raise InvalidInput(f"--exclude names column(s) {', '.join(unknown)} that the reference does not have; its "
                           f"columns are {shown}.")
    left_out: dict[str, str] = {}
    if time_column:
        left_out[time_column] = "the time column: it cuts the windows"
    if id_column and id_column != time_column:
        left_out[id_column] = "the id column: every id is new"
    for c in named:
        left_out.setdefault(c, "excluded on request")
    for c, t in ref_types.items():
        if c not in left_out and c not in cfg.columns and t.split("(")[0].upper() in TEMPORAL_TYPES:
            left_out[c] = "a date or time: its values move on by nature; --time-column cuts windows by it"
    compared = [c for c in ref_types if c not in left_out]
    return compared, [{"column": c, "reason": r} for c, r in left_out.items() if c in ref_types]


def _column_result(col: str, kind: str, data: dict[str, Any], w: str, cfg: dict[str, Any]) -> dict[str, Any] | None:
    out: dict[str, Any] = {"column": col, "kind": kind, "psi": None, "ks_statistic": None, "ks_p_value": None,
                           "wasserstein": None, "chi2_p_value": None, "js_distance": None}
    if kind == "numeric":
        win = data["windows"].get(w)
        if win is None or not win.get("n"):
            return None
        n_ref, n_cur = data["n_ref"], win["n"]
        if n_ref == 0:
            return None
        d = float(win["ks"])
        out["ks_statistic"] = d
        out["ks_p_value"] = win["ks_p"]
        out["wasserstein"] = float(win["wd"]) / max(float(data["std_ref"] or 0.0), 0.001)
        out["psi"] = psi(data["ref_bins"] / n_ref, win["bins"] / n_cur)
        n_values = int(win["n_values"])
        ref_counts, cur_counts = (data["ref_small"], data["small"].get(w, {})) if data["low_card"] else ({}, {})
        out.update(rows_current=n_cur, rows_reference=n_ref, missing=win.get("missing", 0),
                   out_of_range=win.get("out_of_range", 0))
    else:
        win = data["windows"].get(w)
        if win is None or not win["counts"]:
            return None
        ref_counts, cur_counts = data["ref_counts"], win["counts"]
        n_ref, n_cur = data["n_ref"], sum(cur_counts.values())
        if n_ref == 0:
            return None
        keys = sorted(set(ref_counts) | set(cur_counts), key=str)
        rp = np.array([ref_counts.get(k, 0) for k in keys], dtype=float) / n_ref
        cp = np.array([cur_counts.get(k, 0) for k in keys], dtype=float) / n_cur
        out["psi"] = psi(rp, cp)
        out["chi2_p_value"] = homogeneity_p_value(ref_counts, cur_counts)
        out["js_distance"] = js_distance(ref_counts, cur_counts)
        n_values = len(keys)
        out.update(rows_current=n_cur, rows_reference=n_ref, missing=win.get("missing", 0),
                   unseen_categories=sorted(k for k in cur_counts if k not in ref_counts)[:20])
    sample = Sample(kind, n_ref, n_cur, out["ks_statistic"], out["ks_p_value"], out["wasserstein"], out["psi"],
                    ref_counts or {}, cur_counts or {})
    test = stattests.get(cfg["method"]) if cfg.get("method") else default_test(kind, n_ref, n_values)
    threshold = float(cfg["threshold"]) if cfg.get("threshold") is not None else test.default_threshold
    score = test.score(sample)
    if score is None:  # a test that needs categories on a column with many values: fall back to the default
        test = default_test(kind, 1001, 10**6)
        threshold = test.default_threshold
        score = test.score(sample)
    out.update(method=test.name, threshold=threshold, drift_score=score, drifted=bool(test.drifted(score, threshold)))
    return out


def _dataset(columns: list[dict[str, Any]], share: float) -> tuple[bool, float]:
    if not columns:
        return False, 0.0
    drifted = sum(c["drifted"] for c in columns) / len(columns)
    return drifted >= share, drifted


def report(con, ref: str, cur: str, *, columns: list[str] | None = None, time_column: str | None = None,
           window: str = "day", config: DriftConfig | None = None, time_sql: str | None = None,
           files: tuple[str, str] | None = None, id_column: str | None = None,
           exclude: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """The drift report of `cur` against `ref` (SQL relations) as the CLI's JSON contract.

    `files`: the paths `ref` and `cur` were read from; then a numeric column holding +inf or −inf is refused
    (see `files_report`), found in the same grouped scans that compute the statistics.
    """
    cfg = config or DriftConfig()
    dialect = dialect_of(con)
    ref_types, cur_types = describe(con, ref), describe(con, cur)
    excluded: list[dict[str, str]] | None = None
    if columns is None:
        if id_column and id_column not in ref_types and id_column not in cur_types:
            raise InvalidInput(f"Neither file has the id column {id_column!r}.")
        columns, excluded = compared_columns(ref_types, time_column=time_column, id_column=id_column,
                                             exclude=exclude, config=cfg)
        if not columns:
            raise InvalidInput("No column is left to compare once the time, id and excluded columns are set aside.")
    missing = [c for c in columns if c not in cur_types]
    if missing:
        raise InvalidInput(f"The current data lacks column(s) {', '.join(missing[:8])} of the reference.")
    windowed = time_column is not None
    unparsed = 0
    if windowed:
        if window not in WINDOWS:
            raise InvalidInput(f"--window must be one of {', '.join(WINDOWS)}; got {window!r}.")
        if time_column not in cur_types:
            raise InvalidInput(f"The current data has no time column {time_column!r}.")
        ts = time_sql or dialect.try_timestamp(dialect.quote(time_column))
        wexpr = dialect.window_epoch(window, ts)
        unparsed = con.execute(f"SELECT count(*) FROM {cur} WHERE {dialect.quote(time_column)} IS NOT NULL AND "
                               f"{ts} IS NULL").fetchall()[0][0]
    else:
        wexpr = "0"
    n_ref = con.execute(f"SELECT count(*) FROM {ref}").fetchall()[0][0]
    n_cur = con.execute(f"SELECT count(*) FROM {cur}").fetchall()[0][0]
    if n_ref == 0 or n_cur == 0:
        raise InvalidInput(f"The {'reference' if n_ref == 0 else 'current'} data has no rows to compare.")
    if n_ref * n_cur / (n_ref + n_cur) > 5_000:  # KS p-values of samples this large will need scipy.special
        from . import ksdist

        ksdist.warm_up()
    per_col: dict[str, Any] = {}
    kinds = {col: cfg.columns.get(col, {}).get("kind") or kind_of(ref_types[col]) for col in columns}
    for col in columns:
        if kinds[col] == "numeric" and kind_of(cur_types[col]) != "numeric":
            raise InvalidInput(f"Column {col} is numeric in the reference but {cur_types[col]} in the current data.")
    numeric = [col for col in columns if kinds[col] == "numeric"]
    batched = numeric_counts_many(con, ref, cur, numeric, wexpr, windowed) if dialect.batch_columns and numeric else {}
    # While DuckDB scans the next column (its threads release the GIL), one worker thread turns the previous
    # column's counts into statistics: the two halves overlap instead of taking turns. At most one column waits
    # for the worker, so at most two columns' counts are held at once.
    pending: Future | None = None
    with ThreadPoolExecutor(max_workers=1) as worker:
        for col in columns:
            over = cfg.columns.get(col, {})
            kind = kinds[col]
            if kind == "numeric":
                counts = batched.pop(col) if col in batched else numeric_counts(con, ref, cur, col, wexpr, windowed)
                if pending is not None:
                    pending.result()
                pending = worker.submit(numeric_summary, counts, windowed)
                per_col[col] = (kind, pending, over)
                del counts
            else:
                per_col[col] = (kind, categorical_rows(con, ref, cur, col, wexpr, windowed), over)
        per_col = {col: (kind, data.result() if isinstance(data, Future) else data, over)
                   for col, (kind, data, over) in per_col.items()}
    if files is not None:
        for side, (view, path) in enumerate(zip((ref, cur), files)):
            found = {col: data["infinite"][side] for col, (kind, data, _o) in per_col.items() if kind == "numeric"}
            _refuse_infinities(con, view, path, only=list(per_col), found=found)

    def columns_for(w: str) -> list[dict[str, Any]]:
        out = []
        for col, (kind, data, over) in per_col.items():
            r = _column_result(col, kind, data, w, over)
            if r is not None:
                out.append(r)
        return out

    overall = columns_for(ALL)
    drift, share = _dataset(overall, cfg.drift_share)
    result: dict[str, Any] = {"dataset_drift": drift, "drifted_share": share,
                              "rows": {"reference": int(n_ref), "current": int(n_cur)}, "columns": overall,
                              "drift_share_threshold": cfg.drift_share}
    if excluded is not None:
        result["excluded"] = excluded
    if windowed:
        keys = sorted({w for _k, data, _o in per_col.values() for w in data["windows"] if w not in (ALL, "None")})
        step = {"hour": "1 hour", "day": "1 day", "week": "7 days"}[window]
        wins = []
        for w in keys:
            cols = columns_for(w)
            d, s = _dataset(cols, cfg.drift_share)
            start = np.datetime64(w.replace(" ", "T"))
            end = start + {"hour": np.timedelta64(1, "h"), "day": np.timedelta64(1, "D"),
                           "week": np.timedelta64(7, "D")}[window]
            rows = max((c.get("rows_current", 0) + c.get("missing", 0) for c in cols), default=0)
            wins.append({"start": str(start), "end": str(end), "rows": int(rows), "dataset_drift": d,
                         "drifted_share": s, "columns": cols})
        result["windows"] = wins
        result["time_column"] = {"name": time_column, "window": window, "unparsed": int(unparsed), "step": step}
    return result


def files_report(reference: str, current: str, *, time_column: str | None = None, window: str = "day",
                 config: DriftConfig | None = None, id_column: str | None = None,
                 exclude: list[str] | tuple[str, ...] = (), engine: str | None = None) -> dict[str, Any]:
    """`modelgov drift REFERENCE CURRENT`: both files read by DuckDB directly (CSV or Parquet), or by Spark where
    they lie (`engine`, default MODELGOV_ENGINE or duckdb: core/engine.py; the same report either way).

    A file DuckDB cannot read (random bytes, empty, a ragged CSV row, a truncated Parquet) and a numeric column
    holding an infinity are refused with one sentence naming the file: an infinity is no measurement, and it
    would turn the quantile bins, the Wasserstein distance and the PSI into NaN. (NaN counts as missing.)
    Times with a UTC offset keep their instant: windows are cut in UTC.
    """
    from pathlib import Path

    from ..engine import resolve

    if resolve(engine) == "spark":
        return _spark_files_report(reference, current, time_column=time_column, window=window, config=config,
                                   id_column=id_column, exclude=exclude)
    import duckdb

    from ..sql import file_relation, utc_timestamp

    def rel(path: str) -> str:
        p = Path(path)
        if not p.is_file():
            raise InvalidInput(f"No file {p}; give a CSV or Parquet file.")
        if p.suffix.lower() == ".csv":  # types inferred from every row, not a sample
            return f"read_csv({literal_path(p)}, header=true, sample_size=-1)"
        return file_relation(p)

    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")  # never on stdout: --json stays JSON
        con.execute("SET TimeZone = 'UTC'")
        for view, path in (("ref_data", reference), ("cur_data", current)):
            source = rel(path)
            try:
                if source.startswith("read_csv"):  # parsed once, in full: a bad row anywhere is found now
                    con.execute(f"CREATE TEMP TABLE {view} AS SELECT * FROM {source}")
                else:  # Parquet is columnar: read in place, its footer checked now
                    con.execute(f"CREATE TEMP VIEW {view} AS SELECT * FROM {source}")
                    con.execute(f"SELECT count(*) FROM {view}").fetchall()
            except duckdb.Error as e:
                raise _unreadable(path, e) from None
        time_sql = utc_timestamp(quote(time_column)) if time_column else None
        try:
            return report(con, "ref_data", "cur_data", time_column=time_column, window=window, config=config,
                          time_sql=time_sql, files=(reference, current), id_column=id_column, exclude=exclude)
        except (duckdb.InvalidInputException, duckdb.IOException) as e:  # a Parquet page damaged past its footer
            raise _unreadable(f"{reference} or {current}", e) from None
        except InvalidInput:  # refused before the scans: infinities are still named first, reference first
            set_aside = {time_column, id_column, *exclude, *(config.exclude if config else ())}
            for view, path in (("ref_data", reference), ("cur_data", current)):
                only = [c for c in describe(con, view) if c not in set_aside]
                _refuse_infinities(con, view, path, only=only, found={})
            raise
    finally:
        con.close()


def _spark_files_report(reference: str, current: str, *, time_column: str | None, window: str,
                        config: DriftConfig | None, id_column: str | None,
                        exclude: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """`files_report` on Spark: the files read where they lie (a CSV's types inferred from every row), the same
    `report` over them, only grouped counts collected."""
    import uuid
    from pathlib import Path

    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    from ..engine import spark_connection

    for path in (reference, current):
        p = Path(path)
        if not p.is_file():
            raise InvalidInput(f"No file {p}; give a CSV or Parquet file.")
        if p.suffix.lower() not in (".csv", ".parquet"):
            raise InvalidInput(f"{p.name} is neither CSV nor Parquet; give a .csv or .parquet file.")
    con = spark_connection()
    tag = uuid.uuid4().hex[:12]
    views = (f"mg_ref_{tag}", f"mg_cur_{tag}")
    try:
        for view, path in zip(views, (reference, current)):
            p = Path(path).resolve()
            try:
                if p.suffix.lower() == ".csv":
                    con.csv_view(view, str(p))
                else:
                    con.parquet_view(view, str(p))
                con.execute(f"SELECT count(*) FROM {view}").fetchall()  # a bad row or footer is found now
            except (PySparkException, Py4JError) as e:
                raise _unreadable(path, e) from None
        time_sql = con.dialect.utc_timestamp(con.dialect.quote(time_column)) if time_column else None
        try:
            return report(con, views[0], views[1], time_column=time_column, window=window, config=config,
                          time_sql=time_sql, files=(reference, current), id_column=id_column, exclude=exclude)
        except (PySparkException, Py4JError) as e:  # a page damaged past the footer
            raise _unreadable(f"{reference} or {current}", e) from None
        except InvalidInput:
            set_aside = {time_column, id_column, *exclude, *(config.exclude if config else ())}
            for view, path in zip(views, (reference, current)):
                only = [c for c in describe(con, view) if c not in set_aside]
                _refuse_infinities(con, view, path, only=only, found={})
            raise
    finally:
        for view in views:
            con.spark.catalog.dropTempView(view)
        con.close()


def _unreadable(path: str, e: Exception) -> InvalidInput:
    from ..sql import read_error

    return InvalidInput(f"The file {path} could not be read as CSV or Parquet ({read_error(e)}).")


def literal_path(p) -> str:
    return "'" + str(p.resolve()).replace("'", "''") + "'"


def _refuse_infinities(con, view: str, path: str, *, only: list[str] | None, found: dict[str, int]) -> None:
    """InvalidInput naming the first numeric columns of `view` that hold +inf or -inf, with their counts.

    `only`: the columns compared (None: all); `found`: the counts the drift scans already made; only the other
    floating-point columns are scanned here.
    """
    numeric = [c for c, t in describe(con, view).items() if kind_of(t) == "numeric"
               and (only is None or c in only) and t.split("(")[0].upper() in ("FLOAT", "DOUBLE", "REAL")]
    if not numeric:
        return
    rest = [c for c in numeric if c not in found]
    counts = dict(found)
    if rest:
        d = dialect_of(con)
        counts.update(zip(rest, con.execute("SELECT " + ", ".join(f"count(*) FILTER (WHERE {d.is_infinite(d.quote(c))})"
                                                                   for c in rest)
                                            + f" FROM {view}").fetchall()[0]))
    bad = [(c, counts[c]) for c in numeric if counts[c]]
    if bad:
        listed = ", ".join(f"{c} ({n:,} row{'s' if n != 1 else ''})" for c, n in bad[:5])
        raise InvalidInput(f"The file {path} holds infinite values in {listed}; drift needs finite numbers, so "
                           "remove those rows or leave the cells empty (missing).")
