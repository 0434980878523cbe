"""What a version's scores become in the predictions file and in its log: one place for every task.

Binary: `score` is the positive class's probability and `prediction` 1.0 at 0.5 or above. Regression: both are the
prediction. Multiclass: `score` is the predicted class's probability, `prediction` the predicted class's position in
the version's classes (0..K−1), and the log keeps every class's probability as `probabilities` (a list, in the
order of the classes); the file handed back names the predicted class and each class's probability.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..registry.records import ModelVersion
from ..sql import literal

MULTICLASS = "multiclass_classification"
# A multiclass version's log table has this column beside score and prediction.
PROBABILITIES_SQL = ", probabilities DOUBLE[]"


def columns(v: ModelVersion, s: np.ndarray, suffix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(columns of the predictions file, internal columns __s/__p/__pr<version>_<k> for the log) of one version's
    scores `s` (`registry.versions.score`'s answer) on a batch; `suffix` tells versions apart in the file."""
    shown: dict[str, Any] = {}
    internal: dict[str, Any] = {}
    if v.task == MULTICLASS:  # s is (n, K): the class probabilities
        idx = s.argmax(axis=1)
        shown[f"prediction{suffix}"] = [v.classes[i] for i in idx]
        for k, c in enumerate(v.classes):
            shown[f"probability_{c}{suffix}"] = s[:, k]
            internal[f"__pr{v.version}_{k}"] = s[:, k]
        pred, s = idx.astype(float), s.max(axis=1)
    else:
        pred = (s >= 0.5).astype(float) if v.task == "binary_classification" else s
    shown[f"score{suffix}"] = s
    internal[f"__s{v.version}"] = s
    internal[f"__p{v.version}"] = pred
    return shown, internal


def stage_probabilities(con, v: ModelVersion, rows: str) -> str | None:
    """Multiclass: gather the class probabilities of relation `rows` into a list column of `staged`; its name
    (None for other tasks)."""
    if v.task != MULTICLASS:
        return None
    probs = ", ".join(f"r.__pr{v.version}_{k}" for k in range(len(v.classes)))
    con.execute(f"ALTER TABLE staged ADD COLUMN __pr{v.version} DOUBLE[]")
    con.execute(f"UPDATE staged SET __pr{v.version} = list_value({probs}) FROM {rows} r WHERE staged.__row = r.__row")
    return f"__pr{v.version}"


def stage_logged_classes(con, v: ModelVersion, reasons: dict[str, int], has_score: bool, has_prediction: bool,
                   prediction_column: str | None, has_probabilities: bool) -> tuple[str, str, str | None]:
    """Multiclass log-predictions: the staged class position and probabilities; (score, prediction, probabilities)
    SQL for `_insert_logs`. A predicted class the version does not have is a rejection (added to `reasons`)."""
    k = len(v.classes or [])
    probabilities_sql = None
    if has_probabilities:
        con.execute("ALTER TABLE staged ADD COLUMN __pr DOUBLE[]")
        con.execute(f"UPDATE staged SET __pr = CASE WHEN {' AND '.join(f'__pr_{i} IS NOT NULL' for i in range(k))} "
                    f"THEN list_value({', '.join(f'__pr_{i}' for i in range(k))}) END")
        probabilities_sql = "__pr"
    con.execute("ALTER TABLE staged ADD COLUMN __class DOUBLE")
    if has_prediction:
        whens = " ".join(
            f"WHEN TRY_CAST(__pred AS DOUBLE) = {float(c)!r} THEN {i}"
            if isinstance(c, (int, float)) and not isinstance(c, bool) else f"WHEN __pred = {literal(str(c).strip())} THEN {i}"
            for i, c in enumerate(v.classes or []))
        con.execute(f"UPDATE staged SET __class = CASE {whens} END")
        reason = f"{prediction_column}: not a class of {v.ref}"
        bad = con.execute("UPDATE staged SET __reject = ? WHERE __reject IS NULL AND __pred IS NOT NULL AND __class IS NULL",
                          [reason]).fetchall()[0][0]
        if bad:
            reasons[reason] = int(bad)
    elif has_probabilities:
        con.execute("UPDATE staged SET __class = list_position(__pr, list_max(__pr)) - 1")
    score_sql = "__score" if has_score else (
        "CASE WHEN __pr IS NOT NULL AND __class IS NOT NULL THEN list_extract(__pr, CAST(__class AS BIGINT) + 1) END"
        if has_probabilities else "NULL")
    return score_sql, "__class", probabilities_sql
