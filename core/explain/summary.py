"""What explanations tell other areas: global importance, the evidence section, plain sentences.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .compute import Explanation, to_probability  # noqa: F401  (pages ask summary for words and numbers)
from .explanations import latest


def global_importance(store, model: str, version: int) -> pd.DataFrame | None:
    """Mean |SHAP| per input from the newest cached explanation of the version, or None."""
    e = latest(store, model, version)
    return e.global_importance() if e else None


def evidence_for(store, model: str, version: int) -> dict[str, Any] | None:
    """Top features for an approval's evidence pack."""
    e = latest(store, model, version)
    if e is None:
        return None
    top = e.global_importance().head(5)
    return {"explanation_id": e.id, "explainer": e.explainer, "output_space": e.output_space, "rows": len(e.frame),
            "additivity_ok": e.additivity_ok, "additivity_max_error": e.additivity_max_error,
            "top_features": [{"feature": r.feature, "mean_abs_shap": round(float(r.mean_abs_shap), 6)}
                             for r in top.itertuples()]}


def strongest_interaction(e: Explanation, feature: str) -> str | None:
    """The input whose values best explain the spread of `feature`'s contributions (shap's heuristic, simplified:
    the largest absolute correlation between the other input and the residual contribution)."""
    vals, inputs = e.values[feature].to_numpy(), e.inputs
    x = pd.to_numeric(inputs[feature], errors="coerce").to_numpy(dtype=float)
    if np.nanstd(x) == 0:
        return None
    # remove the main effect with a coarse binned mean, then correlate what is left with each other input
    bins = pd.qcut(pd.Series(x).rank(method="first"), q=min(10, len(x)), labels=False, duplicates="drop")
    resid = vals - pd.Series(vals).groupby(bins).transform("mean").to_numpy()
    best, score = None, 0.0
    for other in e.features:
        if other == feature:
            continue
        o = pd.to_numeric(inputs[other], errors="coerce").to_numpy(dtype=float)
        if np.nanstd(o) == 0 or np.isnan(o).all():
            continue
        c = abs(np.corrcoef(np.nan_to_num(o), resid)[0, 1])
        if np.isfinite(c) and c > score:
            best, score = other, c
    return best


def plain_summary(e: Explanation, row: int | None = None, top: int = 3) -> str:
    """A sentence for business users."""
    imp = e.global_importance()
    names = list(imp["feature"].head(top))
    text = f"The {len(names)} inputs that matter most are {', '.join(names[:-1])} and {names[-1]}." if len(names) > 1 \
        else f"The input that matters most is {names[0]}."
    if row is not None:
        contrib = e.values.iloc[row]
        pred = float(e.frame["prediction"].iat[row])
        direction = "high" if pred > e.base_value else "low"
        drivers = contrib.sort_values(ascending=direction == "low").head(2)
        drivers = [f for f, v in drivers.items() if (v > 0) == (direction == "high") and v != 0]
        text += (f" For this case the score is {direction}er than average ({_fmt(pred, e.output_space)} vs "
                 f"{_fmt(e.base_value, e.output_space)})"
                 + (f", mainly because of {' and '.join(drivers)}." if drivers else "."))
    return text


def _fmt(value: float, space: str) -> str:
    if space == "log-odds":
        return f"{1 / (1 + np.exp(-value)):.0%} probability"
    if space == "probability":
        return f"{value:.0%} probability"
    return f"{value:,.3g}"
