"""Champion vs challenger: both versions scored on the same rows, with honest uncertainty.

Two ways in, one engine: `compare_holdout` scores both registered versions on
a labelled hold-out frame; `compare_production` takes the environment's
champion and challengers on logged shadow traffic whose outcomes arrived.
Both end in `compare_scores(y, champion, challenger, task=…)`, a pure function
of two aligned score arrays and the labels (see `core.compare_stats`).

A comparison can be stored (`save_comparison`) with the SHA-256 of both
artifacts and the fingerprint of the rows, so an approval's evidence pack can
cite it (`comparison_for_evidence`).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import compare_curves, compare_stats
from .audit import AuditEvent, canonical_json, record, utcnow
from .datasets import Dataset, column_type, fingerprint, read_table
from .errors import CoreError, InvalidInput, NotFound
from .identity import Identity, require
from .metrics import CLASSIFICATION_METRICS, HIGHER_IS_BETTER, REGRESSION_METRICS, binary_metrics, regression_metrics
from .registry import ModelVersion, get_model_version, get_model_version_tx, load_model, parse_ref, score

LABELS = {"auc": "AUC", "ks": "KS", "brier": "Brier", "accuracy": "accuracy", "log_loss": "log loss",
          "rmse": "RMSE", "mae": "MAE", "r2": "R²"}
DEFAULT_BOOTSTRAP = 1000
MIN_BOOTSTRAP, MAX_BOOTSTRAP = 20, 100_000
MIN_SEGMENT_ROWS = 30
MAX_SEGMENTS = 12
TOP_DISAGREEMENTS = 20
THRESHOLD = 0.5  # class threshold for accuracy and agreement, as core.metrics uses
REGRESSION_AGREEMENT = 0.1  # predictions "agree" when within 0.1 standard deviations of the target


# -- the engine ------------------------------------------------------------------------------

def compare_scores(y, champion, challenger, *, task: str, bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = 0,
                   with_curves: bool = True) -> dict[str, Any]:
    """Side-by-side metrics, paired-bootstrap CIs, DeLong / McNemar, agreement and verdict.

    `y` is 0/1 (classification) or numeric; `champion`/`challenger` are aligned scores
    (positive-class probabilities) or predictions. Difference = challenger − champion.
    """
    check_bootstrap(bootstrap)
    y = np.asarray(y, dtype=np.float64)
    a = np.asarray(champion, dtype=np.float64)
    b = np.asarray(challenger, dtype=np.float64)
    if not (len(y) == len(a) == len(b)):
        raise InvalidInput(f"Labels and scores must be aligned; got {len(y)}, {len(a)} and {len(b)} rows.")
    if len(y) < 2:
        raise InvalidInput("A comparison needs at least two labelled rows.")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise InvalidInput("A model returned empty or infinite scores; check the input rows for missing values.")
    classification = task == "binary_classification"
    if classification:
        ma, mb = binary_metrics(y.astype(int), a, THRESHOLD), binary_metrics(y.astype(int), b, THRESHOLD)
        names = CLASSIFICATION_METRICS
    else:
        ma, mb = regression_metrics(y, a), regression_metrics(y, b)
        names = REGRESSION_METRICS
    boot = compare_stats.paired_bootstrap(y, a, b, task=task, replicates=bootstrap, seed=seed, threshold=THRESHOLD)
    tests: dict[str, Any] = {}
    if classification:
        both_classes = min(int(y.sum()), int(len(y) - y.sum())) >= 2
        if both_classes:
            tests["delong"] = compare_stats.delong_test(y, a, b).as_dict()
        tests["mcnemar"] = compare_stats.mcnemar_test(
            y.astype(int), (a >= THRESHOLD).astype(int), (b >= THRESHOLD).astype(int)).as_dict()
    difference = {}
    for m in names:
        d = boot.difference(m)
        lo, hi = compare_stats.percentile_interval(d)
        if m == "auc" and "delong" in tests:
            p, method = tests["delong"]["p_value"], "DeLong"
        elif m == "accuracy" and "mcnemar" in tests:
            p, method = tests["mcnemar"]["p_value"], "McNemar (" + tests["mcnemar"]["method"] + ")"
        else:
            p, method = compare_stats.bootstrap_p_value(d), "paired bootstrap"
        difference[m] = {"estimate": mb[m] - ma[m], "ci_low": lo, "ci_high": hi, "p_value": p,
                         "p_value_method": method, "replicates_used": int(np.isfinite(d).sum())}
    out: dict[str, Any] = {
        "task": task, "rows": int(len(y)), "bootstrap": bootstrap, "seed": seed, "confidence_level": 0.95,
        "champion": ma, "challenger": mb, "difference": difference,
        "agreement_rate": agreement_rate(y, a, b, task), "tests": tests,
    }
    if classification:
        out["positives"] = int(y.sum())
    out["verdict"], out["verdict_summary"] = verdict(difference)
    if with_curves:
        out["curves"] = compare_curves.curves(y, a, b, task)
        out["distributions"] = compare_curves.histograms(y, a, b, task)
    return out


def agreement_rate(y: np.ndarray, a: np.ndarray, b: np.ndarray, task: str) -> float:
    """Share of rows where both decide alike (same class at 0.5; regression: within 0.1 SD of the target)."""
    if task == "binary_classification":
        return float(np.mean((a >= THRESHOLD) == (b >= THRESHOLD)))
    tol = REGRESSION_AGREEMENT * float(np.std(y)) if len(y) > 1 else 0.0
    return float(np.mean(np.abs(a - b) <= tol))


def check_bootstrap(n: int) -> None:
    if not isinstance(n, (int, np.integer)) or not MIN_BOOTSTRAP <= n <= MAX_BOOTSTRAP:
        raise InvalidInput(f"Bootstrap replicates must be a whole number from {MIN_BOOTSTRAP} to {MAX_BOOTSTRAP:,}; "
                           f"got {n!r} (1,000 is the usual choice).")


def _fmt(metric: str, x: float) -> str:
    return f"{x:.4g}" if metric in ("rmse", "mae") else f"{x:.3f}"


def verdict(difference: dict[str, dict[str, float]]) -> tuple[str, str]:
    """Plain words from the 95% intervals: where the challenger is better, worse, or not clearly different.

    Significance means the paired-bootstrap interval of the difference excludes 0. The
    interval shown is of the improvement (or the loss) in the direction stated.
    """
    better, worse, same, unknown = [], [], [], []
    for m, d in difference.items():
        lo, hi, est = d["ci_low"], d["ci_high"], d["estimate"]
        if any(v is None or not math.isfinite(v) for v in (lo, hi, est)):
            unknown.append(LABELS[m])
            continue
        sign = 1 if HIGHER_IS_BETTER[m] else -1
        gain, g_lo, g_hi = sign * est, *sorted((sign * lo, sign * hi))
        if g_lo > 0:
            better.append(f"{LABELS[m]} by {_fmt(m, gain)} (95% CI {_fmt(m, g_lo)} to {_fmt(m, g_hi)})")
        elif g_hi < 0:
            worse.append(f"{LABELS[m]} by {_fmt(m, -gain)} (95% CI {_fmt(m, -g_hi)} to {_fmt(m, -g_lo)})")
        else:
            same.append(LABELS[m])
    parts = []
    if better:
        parts.append("challenger better on " + ", ".join(better))
    if worse:
        parts.append("challenger worse on " + ", ".join(worse))
    if same:
        parts.append("no significant difference in " + ", ".join(same))
    if unknown:
        parts.append("undefined on these rows: " + ", ".join(unknown))
    summary = ("mixed" if better and worse else "challenger_better" if better else "champion_better" if worse
               else "no_significant_difference" if same else "undetermined")
    return "; ".join(parts) + ".", summary


# -- hold-out comparisons --------------------------------------------------------------------

def _version(store, ref: str | ModelVersion) -> ModelVersion:
    if isinstance(ref, ModelVersion):
        return ref
    name, number = parse_ref(ref)
    if number is None:
        raise InvalidInput(f"Name the version to compare as MODEL:VERSION, e.g. {name}:1.")
    return get_model_version(store, name, number)


def _frame(store, data: pd.DataFrame | Dataset | str | Path) -> tuple[pd.DataFrame, str]:
    from .datasets import load_frame

    if isinstance(data, pd.DataFrame):
        return data, "in-memory frame"
    if isinstance(data, Dataset):
        return load_frame(store, data), f"dataset:{data.ref}"
    p = Path(data).resolve()
    return read_table(p), str(p)


def _labels(v: ModelVersion, y: pd.Series, target: str) -> np.ndarray:
    if y.isna().any():
        raise InvalidInput(f"Target column {target!r} has {int(y.isna().sum())} empty value(s); "
                           "drop those rows or fill in their outcomes.")
    if v.task == "regression":
        try:
            return y.to_numpy(dtype=float)
        except (TypeError, ValueError) as e:
            raise InvalidInput(f"Target column {target!r} is not numeric, but {v.ref} is a regression.") from e
    classes = list(v.classes or [])
    values = set(y.unique().tolist())
    if not values <= set(classes):
        as_str = {str(c): c for c in classes}
        if {str(x) for x in values} <= set(as_str):
            y = y.map(lambda x: as_str[str(x)])
        else:
            raise InvalidInput(f"Target column {target!r} holds value(s) {sorted(map(str, values - set(classes)))[:5]} "
                               f"that {v.ref} never saw; its classes are {classes}.")
    return (y == classes[1]).to_numpy().astype(int)


def _scores(store, v: ModelVersion, frame: pd.DataFrame) -> np.ndarray:
    missing = [c for c in v.feature_names if c not in frame.columns]
    if missing:
        raise InvalidInput(f"The data lacks column(s) {', '.join(missing[:10])} that {v.ref} needs.")
    _, estimator = load_model(store, v.model, v.version)
    try:
        return score(estimator, v.task, frame[v.feature_names])
    except Exception as e:  # scoring user data can fail in many ways; all mean "these rows do not fit"
        raise InvalidInput(f"{v.ref} cannot score the data: {type(e).__name__}: {e}") from e


def compare_holdout(store, champion: str | ModelVersion, challenger: str | ModelVersion,
                    data: pd.DataFrame | Dataset | str | Path, target: str | None = None, *,
                    segment: str | None = None, bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = 0,
                    top: int = TOP_DISAGREEMENTS, data_ref: str | None = None) -> dict[str, Any]:
    """Compare two registered versions on the same labelled rows (read-only; see `save_comparison`).

    `data_ref` names the rows in the record (default: the file path or dataset reference).

    Raises NotFound (version, file), InvalidInput (target, columns, classes, task mismatch).
    """
    check_bootstrap(bootstrap)
    va, vb = _version(store, champion), _version(store, challenger)
    if va.task != vb.task:
        raise InvalidInput(f"{va.ref} is a {va.task.replace('_', ' ')} and {vb.ref} a "
                           f"{vb.task.replace('_', ' ')}; compare versions of the same kind.")
    if va.task == "binary_classification" and list(va.classes or []) != list(vb.classes or []):
        raise InvalidInput(f"{va.ref} predicts classes {va.classes} but {vb.ref} predicts {vb.classes}.")
    frame, default_ref = _frame(store, data)
    data_ref = data_ref or default_ref
    target = target or va.target
    if target not in frame.columns:
        raise InvalidInput(f"Target column {target!r} is not in the data; its columns are "
                           f"{', '.join(map(str, frame.columns[:30]))}.")
    if segment is not None and segment not in frame.columns:
        raise InvalidInput(f"Segment column {segment!r} is not in the data; pick one of its columns.")
    if frame.empty:
        raise InvalidInput("The data has no rows; give a labelled hold-out file.")
    frame = frame.reset_index(drop=True)
    y = _labels(va, frame[target], target)
    a, b = _scores(store, va, frame), _scores(store, vb, frame)
    result = compare_scores(y, a, b, task=va.task, bootstrap=bootstrap, seed=seed)
    result.update({
        "source": "holdout", "champion_ref": va.ref, "challenger_ref": vb.ref,
        "champion_sha256": va.sha256, "challenger_sha256": vb.sha256,
        "data": {"ref": data_ref, "fingerprint": fingerprint(frame), "rows": len(frame), "target": target},
        "segment": segment,
        "segments": segments(frame, segment, y, a, b, va.task, bootstrap, seed) if segment else [],
        "disagreements": disagreements(frame, y, a, b, va, vb, top),
    })
    importance = shap_side_by_side(store, va, vb)
    if importance is not None:
        result["importance"] = importance
    return result


def segment_labels(values: pd.Series, bins: int = 5) -> tuple[pd.Series, list[str]]:
    """(label per row, labels in display order): quantile bins for a numeric column with many
    values, categories otherwise (the most frequent first, rare ones pooled as '(other)')."""
    kind = column_type(values)
    if kind in ("integer", "float") and values.nunique() > 10:
        cut = pd.qcut(values.astype(float), q=bins, duplicates="drop")
        names = {c: f"({c.left:.4g}, {c.right:.4g}]" for c in cut.cat.categories}
        order = list(names.values())
        labels = cut.map(names).astype("string")
    else:
        labels = values.astype("string")
        counts = labels.value_counts()
        keep = list(counts.index[:MAX_SEGMENTS - 1])
        labels = labels.where(labels.isin(keep) | labels.isna(), "(other)")
        order = [str(k) for k in keep] + ["(other)"]
    labels = labels.fillna("(missing)")
    order = [o for o in order + ["(missing)"] if (labels == o).any()]
    return labels, order


def segments(frame: pd.DataFrame, column: str, y: np.ndarray, a: np.ndarray, b: np.ndarray, task: str,
             bootstrap: int, seed: int) -> list[dict[str, Any]]:
    """The comparison within each segment of `column`, each with its own seeded bootstrap (seed + 1 + i)."""
    labels, order = segment_labels(frame[column])
    out = []
    for i, name in enumerate(order):
        mask = (labels == name).to_numpy()
        entry: dict[str, Any] = {"segment": name, "column": column, "rows": int(mask.sum())}
        if task == "binary_classification":
            entry["positives"] = int(y[mask].sum())
        if mask.sum() < MIN_SEGMENT_ROWS:
            entry["note"] = f"fewer than {MIN_SEGMENT_ROWS} rows; not compared"
        else:
            r = compare_scores(y[mask], a[mask], b[mask], task=task, bootstrap=bootstrap, seed=seed + 1 + i,
                               with_curves=False)
            entry.update({k: r[k] for k in ("champion", "challenger", "difference", "agreement_rate",
                                            "verdict", "verdict_summary")})
        out.append(entry)
    return out


def disagreements(frame: pd.DataFrame, y: np.ndarray, a: np.ndarray, b: np.ndarray, va: ModelVersion,
                  vb: ModelVersion, top: int) -> list[dict[str, Any]]:
    """The `top` rows where the two scores differ most, with their inputs."""
    gap = np.abs(b - a)
    rows = np.argsort(-gap, kind="mergesort")[:top]
    features = list(dict.fromkeys(va.feature_names + vb.feature_names))[:30]
    out = []
    for r in rows:
        entry = {"row": int(r), "champion": float(a[r]), "challenger": float(b[r]), "gap": float(gap[r]),
                 "label": float(y[r]) if va.task == "regression" else int(y[r])}
        if va.task == "binary_classification":
            entry["decisions_differ"] = bool((a[r] >= THRESHOLD) != (b[r] >= THRESHOLD))
        entry["features"] = {c: _plain(frame.at[r, c]) for c in features if c in frame.columns}
        out.append(entry)
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, (np.generic,)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v if isinstance(v, (int, float, str, bool)) or v is None else str(v)


def shap_side_by_side(store, va: ModelVersion, vb: ModelVersion) -> list[dict[str, Any]] | None:
    """Global SHAP importance of both versions from their newest cached explanations; None when neither has one."""
    from . import explain

    try:
        ia = explain.global_importance(store, va.model, va.version)
        ib = explain.global_importance(store, vb.model, vb.version)
    except CoreError:
        return None
    ia, ib = _importance_dict(ia), _importance_dict(ib)
    if not ia and not ib:
        return None
    feats = sorted(set(ia) | set(ib), key=lambda f: -max(ia.get(f, 0.0), ib.get(f, 0.0)))
    return [{"feature": f, "champion": ia.get(f), "challenger": ib.get(f)} for f in feats]


def _importance_dict(value: Any) -> dict[str, float]:
    if value is None:
        return {}
    if isinstance(value, pd.DataFrame):
        cols = list(value.columns)
        return {str(k): float(v) for k, v in zip(value[cols[0]], value[cols[1]])}
    if isinstance(value, pd.Series):
        return {str(k): float(v) for k, v in value.items()}
    if isinstance(value, dict):
        return {str(k): float(v) for k, v in value.items() if isinstance(v, (int, float))}
    return {}


# -- storing and reading comparisons ---------------------------------------------------------

def json_safe(value: Any) -> Any:
    """NaN/inf → None, numpy → Python, recursively."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def save_comparison(store, actor: Identity, result: dict[str, Any]) -> int:
    """Store a comparison result with its inputs' fingerprints; returns its id.

    Needs `compute-results`. Records `comparison.record` on the challenger version.
    Raises Forbidden, NotFound (a version vanished).
    """
    safe = json_safe(result)
    body = canonical_json(safe)
    digest = hashlib.sha256(body.encode()).hexdigest()
    with store.transaction() as con:
        require(actor, "compute-results", "model_version", result["challenger_ref"])
        ids = []
        for ref in (result["champion_ref"], result["challenger_ref"]):
            name, number = parse_ref(ref)
            ids.append(get_model_version_tx(con, name, number).id)
        cid = con.execute(
            "INSERT INTO comparisons (champion_version_id, challenger_version_id, champion_sha256,"
            " challenger_sha256, source, data_ref, data_fingerprint, n_rows, target, segment, bootstrap, seed,"
            " verdict, result, result_sha256, created_at, created_by)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [ids[0], ids[1], result["champion_sha256"], result["challenger_sha256"], result["source"],
             result["data"]["ref"], result["data"]["fingerprint"], result["rows"], result["data"]["target"],
             result.get("segment"), result["bootstrap"], result["seed"], result["verdict"], body, digest,
             utcnow(), actor.email]).fetchone()[0]
        record(con, actor, AuditEvent("comparison.record", "model_version", result["challenger_ref"], {
            "comparison_id": cid, "champion": result["champion_ref"], "source": result["source"],
            "data_fingerprint": result["data"]["fingerprint"], "result_sha256": digest,
            "verdict_summary": result.get("verdict_summary")}))
    return cid


_COLS = ("c.id, c.source, c.data_ref, c.data_fingerprint, c.n_rows, c.target, c.segment, c.bootstrap, c.seed,"
         " c.verdict, CAST(c.result AS VARCHAR), c.result_sha256, c.created_at, c.created_by,"
         " ma.name || ':' || va.version, mb.name || ':' || vb.version, c.champion_sha256, c.challenger_sha256")
_FROM = (" FROM comparisons c JOIN model_versions va ON va.id = c.champion_version_id"
         " JOIN models ma ON ma.id = va.model_id JOIN model_versions vb ON vb.id = c.challenger_version_id"
         " JOIN models mb ON mb.id = vb.model_id")


def _record(r, with_result: bool = True) -> dict[str, Any]:
    out = {"id": r[0], "source": r[1], "champion": r[14], "challenger": r[15], "champion_sha256": r[16],
           "challenger_sha256": r[17], "data_ref": r[2], "data_fingerprint": r[3], "rows": r[4], "target": r[5],
           "segment": r[6], "bootstrap": r[7], "seed": r[8], "verdict": r[9], "result_sha256": r[11],
           "created_at": r[12].isoformat(), "created_by": r[13]}
    if with_result:
        out["result"] = json.loads(r[10])
    return out


def get_comparison(store, comparison_id: int) -> dict[str, Any]:
    """One stored comparison with its full result; raises NotFound."""
    with store.read() as con:
        r = con.execute(f"SELECT {_COLS}{_FROM} WHERE c.id = ?", [comparison_id]).fetchone()
    if r is None:
        raise NotFound(f"Comparison {comparison_id} not found. See the Champion vs challenger page.")
    return _record(r)


def list_comparisons(store, model: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Stored comparisons (newest first), without their full results."""
    where, params = "", []
    if model:
        where, params = " WHERE ma.name = ? OR mb.name = ?", [model, model]
    with store.read() as con:
        rows = con.execute(f"SELECT {_COLS}{_FROM}{where} ORDER BY c.id DESC LIMIT ?", params + [limit]).fetchall()
    return [_record(r, with_result=False) for r in rows]


def comparison_for_evidence(store, version: ModelVersion | str) -> dict[str, Any] | None:
    """The latest stored comparison with `version` as challenger, JSON-safe, for an evidence pack.

    Curves and histograms are left out (they can be redrawn from the stored record by id).
    None when the version was never compared.
    """
    v = _version(store, version)
    with store.read() as con:
        r = con.execute(f"SELECT {_COLS}{_FROM} WHERE c.challenger_version_id = ? ORDER BY c.id DESC LIMIT 1",
                        [v.id]).fetchone()
    if r is None:
        return None
    rec = _record(r)
    rec["result"] = {k: val for k, val in rec["result"].items() if k not in ("curves", "distributions")}
    return json_safe(rec)


# -- production traffic ----------------------------------------------------------------------

_WINDOW = re.compile(r"^(\d+)\s*([hdw])$")


def parse_window(text: str | None) -> timedelta | None:
    """'24h', '7d', '4w' → timedelta; None stays None."""
    if text is None:
        return None
    m = _WINDOW.match(text.strip().lower())
    if not m or int(m.group(1)) == 0:
        raise InvalidInput(f"Window {text!r} is not a number of hours, days or weeks, e.g. 24h, 7d or 4w.")
    n, unit = int(m.group(1)), m.group(2)
    return timedelta(hours=n) if unit == "h" else timedelta(days=n) if unit == "d" else timedelta(weeks=n)


def active_deployments(store, model: str, environment: str) -> tuple[ModelVersion | None, list[ModelVersion]]:
    """The live champion and challengers of `model` in `environment` (deployments still open)."""
    from .registry import get_model, get_version_by_id

    get_model(store, model)  # NotFound for an unknown model
    with store.read() as con:
        rows = con.execute(
            "SELECT d.version_id, d.role FROM deployments d JOIN model_versions v ON v.id = d.version_id"
            " JOIN models m ON m.id = v.model_id WHERE m.name = ? AND d.environment = ? AND d.until IS NULL"
            " ORDER BY d.since", [model, environment]).fetchall()
        versions = [(get_version_by_id(con, vid), role) for vid, role in rows]
    champion = next((v for v, role in reversed(versions) if role == "champion"), None)
    return champion, [v for v, role in versions if role == "challenger"]


def _shadow_pairs(store, model: str, champion: ModelVersion, challenger: ModelVersion, environment: str,
                  window: timedelta | None) -> pd.DataFrame | None:
    """Aligned (label, champion score, challenger score) rows from the prediction logs: the same request ids
    scored by both versions, whose outcomes arrived (core.monitoring.shadow_pairs)."""
    from . import monitoring

    since = utcnow() - window if window else None
    return monitoring.shadow_pairs(store, model, champion.version, challenger.version, environment, since)


def compare_production(store, model: str, environment: str = "production", window: str | None = None, *,
                       bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> dict[str, Any]:
    """Compare the environment's champion with each challenger on logged shadow traffic with outcomes.

    Raises NotFound (model, no champion, no challenger, no labelled shadow traffic), InvalidInput.
    """
    if environment not in ("staging", "production"):
        raise InvalidInput(f"Environment {environment!r} is not staging or production.")
    span = parse_window(window)
    check_bootstrap(bootstrap)
    champion, challengers = active_deployments(store, model, environment)
    if champion is None:
        raise NotFound(f"No champion of {model} is deployed in {environment}; compare two versions on a hold-out "
                       f"file instead: modelgov compare {model}:A {model}:B --data FILE --target COLUMN.")
    if not challengers:
        raise NotFound(f"{model} has no challenger running in shadow in {environment}; deploy one as challenger, "
                       f"or compare on a hold-out file: modelgov compare {champion.ref} {model}:B --data FILE "
                       "--target COLUMN.")
    results = []
    for ch in challengers:
        pairs = _shadow_pairs(store, model, champion, ch, environment, span)
        if pairs is None or len(pairs) == 0:
            continue
        r = compare_scores(pairs["label"].to_numpy(), pairs["champion_score"].to_numpy(),
                           pairs["challenger_score"].to_numpy(), task=champion.task, bootstrap=bootstrap, seed=seed)
        r.update({"source": "production", "champion_ref": champion.ref, "challenger_ref": ch.ref,
                  "champion_sha256": champion.sha256, "challenger_sha256": ch.sha256, "segment": None,
                  "segments": [], "data": {"ref": f"shadow:{model}:{environment}:{window or 'all'}",
                                           "fingerprint": fingerprint(pairs.reset_index(drop=True)),
                                           "rows": len(pairs), "target": champion.target}})
        results.append(r)
    if not results:
        span_txt = f" in the last {window}" if window else ""
        raise NotFound(f"No logged shadow traffic with outcomes for {model} in {environment}{span_txt}: log the "
                       "champion's and challengers' predictions and their outcomes first, or compare on a hold-out "
                       f"file with 'modelgov compare {champion.ref} {challengers[0].ref} --data FILE --target COLUMN'.")
    return {"model": model, "environment": environment, "window": window, "champion": champion.ref,
            "comparisons": results}


# -- demo ------------------------------------------------------------------------------------

def demo_comparisons(store, quick: bool = False) -> None:
    """Store the demo's credit-default v1 vs v2 comparison on the registered test data (by Grace)."""
    from .datasets import get_dataset_by_id
    from .identity import identity_for

    champion = get_model_version(store, "credit-default", 1)
    with store.read() as con:
        test = get_dataset_by_id(con, champion.test_dataset_id)
    result = compare_holdout(store, champion, "credit-default:2", test, champion.target, segment="EDUCATION",
                             bootstrap=200 if quick else DEFAULT_BOOTSTRAP, seed=0)
    save_comparison(store, identity_for(store, "grace@modelgov.demo"), result)
