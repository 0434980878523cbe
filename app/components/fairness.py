"""Plotly figures and tables for fairness reports (no data access here)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd")
_MARGIN = dict(l=10, r=10, t=40, b=10)
NONE = "—"


def _pct(x: Any) -> str:
    return NONE if x is None else f"{x:.1%}"


def _num(x: Any, digits: int = 3) -> str:
    return NONE if x is None else f"{x:.{digits}f}"


def _ci(ci: Any, pct: bool = True) -> str:
    if not ci:
        return NONE
    f = _pct if pct else _num
    return f"{f(ci[0])} – {f(ci[1])}"


def group_bars(reports: list[tuple[str, dict[str, Any]]], attribute: str, metric: str = "selection_rate",
               title: str = "", reference: float | None = None) -> go.Figure:
    """One bar per group and version (side by side), the 95% interval as error bars; small groups hatched."""
    fig = go.Figure()
    for i, (label, rep) in enumerate(reports):
        a = next(x for x in rep["attributes"] if x["attribute"] == attribute)
        groups = a["groups"]
        y = [g.get(metric) for g in groups]
        lo = [(g[metric] - g["ci"][metric][0]) if g.get(metric) is not None and g["ci"].get(metric) else 0
              for g in groups]
        hi = [(g["ci"][metric][1] - g[metric]) if g.get(metric) is not None and g["ci"].get(metric) else 0
              for g in groups]
        fig.add_bar(x=[g["group"] for g in groups], y=y, name=label, marker_color=COLORS[i % len(COLORS)],
                    marker_pattern_shape=["/" if g["small"] else "" for g in groups],
                    error_y=dict(type="data", symmetric=False, array=hi, arrayminus=lo),
                    customdata=[[g["n"], "too small to judge" if g["small"] else ""] for g in groups],
                    hovertemplate="%{x}: %{y:.1%} (n=%{customdata[0]}) %{customdata[1]}<extra>" + label + "</extra>")
    if reference is not None:
        fig.add_hline(y=reference, line_dash="dot", line_color="#7f7f7f")
    fig.update_layout(barmode="group", title=title, margin=_MARGIN, height=360, yaxis_tickformat=".0%",
                      legend=dict(orientation="h", y=-0.2))
    return fig


def calibration_bars(rep: dict[str, Any], attribute: str, label: str) -> go.Figure:
    """Mean predicted probability beside the observed rate per group: calibrated groups have equal bars."""
    a = next(x for x in rep["attributes"] if x["attribute"] == attribute)
    groups = [g["group"] for g in a["groups"]]
    fig = go.Figure()
    for metric, name, color in (("mean_score", "mean predicted", COLORS[0]), ("observed_rate", "observed", COLORS[2])):
        vals = [g.get(metric) for g in a["groups"]]
        ci = [g["ci"].get(metric) for g in a["groups"]]
        fig.add_bar(x=groups, y=vals, name=name, marker_color=color,
                    error_y=dict(type="data", symmetric=False,
                                 array=[(c[1] - v) if c and v is not None else 0 for c, v in zip(ci, vals)],
                                 arrayminus=[(v - c[0]) if c and v is not None else 0 for c, v in zip(ci, vals)]))
    fig.update_layout(barmode="group", title=f"Calibration of {label}: predicted vs observed", margin=_MARGIN,
                      height=320, yaxis_tickformat=".0%", legend=dict(orientation="h", y=-0.2))
    return fig


def over_time(frame: pd.DataFrame, attribute: str, value_label: str, threshold: float | None) -> go.Figure:
    """Each group's rate per window with its 95% band, and below it the demographic-parity ratio per window."""
    from plotly.subplots import make_subplots

    part = frame[frame["attribute"] == attribute]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35], vertical_spacing=0.08,
                        subplot_titles=(value_label, "demographic-parity ratio (lowest ÷ highest)"))
    for i, (group, g) in enumerate(part.groupby("group", sort=False)):
        color = COLORS[i % len(COLORS)] if i < len(COLORS) else None
        fig.add_scatter(x=g["window"], y=g["value"], name=str(group), mode="lines+markers", row=1, col=1,
                        line_color=color,
                        error_y=dict(type="data", symmetric=False, array=(g["ci_high"] - g["value"]).fillna(0),
                                     arrayminus=(g["value"] - g["ci_low"]).fillna(0), thickness=1))
    ratio = part.drop_duplicates("window")
    fig.add_scatter(x=ratio["window"], y=ratio["demographic_parity_ratio"], name="parity ratio", mode="lines+markers",
                    line_color="#d62728", row=2, col=1, showlegend=False)
    if threshold is not None:
        fig.add_hline(y=threshold, line_dash="dot", line_color="#7f7f7f", row=2, col=1)
    fig.update_layout(height=480, margin=_MARGIN, legend=dict(orientation="h", y=-0.12))
    fig.update_yaxes(tickformat=".0%", row=1, col=1)
    return fig


def groups_table(rep: dict[str, Any], attribute: str) -> pd.DataFrame:
    """Every group's numbers as readable text, intervals beside them."""
    a = next(x for x in rep["attributes"] if x["attribute"] == attribute)
    rows = []
    for g in a["groups"]:
        if rep["task"] == "regression":
            rows.append({"Group": g["group"], "Rows": g["n"], "Mean prediction": _num(g["mean_prediction"], 4),
                         "Mean error": _num(g["mean_error"], 4), "MAE": _num(g["mae"], 4),
                         "MAE 95% CI": _ci(g["ci"].get("mae"), pct=False),
                         "Judged": "too small" if g["small"] else "yes"})
            continue
        rows.append({"Group": g["group"], "Rows": g["n"], "Predicted positive": _pct(g["selection_rate"]),
                     "95% CI": _ci(g["ci"].get("selection_rate")),
                     "× most favoured": NONE if g.get("ratio_to_favoured") is None else f"{g['ratio_to_favoured']:.2f}×",
                     "TPR": _pct(g["tpr"]), "FPR": _pct(g["fpr"]), "Precision": _pct(g["precision"]),
                     "AUC": _num(g["auc"]), "Mean predicted": _pct(g["mean_score"]),
                     "Observed": _pct(g["observed_rate"]),
                     "Judged": "too small" if g["small"] else "few outcomes" if g.get("few_outcomes") else "yes"})
    return pd.DataFrame(rows)
