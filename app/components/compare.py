"""Plotly figures and tables for a champion-vs-challenger comparison (no data access here)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.compare.scores import LABELS, metric_direction
from core.metrics import HIGHER_IS_BETTER

CHAMPION_COLOR, CHALLENGER_COLOR = "#1f77b4", "#ff7f0e"
SIDES = (("champion", CHAMPION_COLOR), ("challenger", CHALLENGER_COLOR))
# The challenger's side of each difference: better, worse, equal or undefined (core decides the direction).
DIRECTION_COLORS = {"better": "#2ca02c", "worse": "#d62728", "equal": "#7f7f7f", "undefined": "#7f7f7f"}
DIRECTION_WORDS = {"better": "better", "worse": "worse", "equal": "equal", "undefined": "—"}
_MARGIN = dict(l=10, r=10, t=40, b=10)
NONE = "—"


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and x == x and x not in (float("inf"), float("-inf"))


def number(x: Any, digits: int = 4) -> str:
    """A metric or difference as people read it; '—' for a missing or undefined value."""
    return f"{x:.{digits}g}" if _finite(x) else NONE


def signed(x: Any, digits: int = 4) -> str:
    return f"{x:+.{digits}g}".replace("-", "−") if _finite(x) else NONE


def p_value(p: Any) -> str:
    """0.042, 0.31, 5e-34; '—' when no test applies."""
    if not _finite(p):
        return NONE
    if p == 0:
        return "< 1e-300"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.0e}"


def interval(lo: Any, hi: Any, digits: int = 4) -> str:
    return f"{signed(lo, digits)} to {signed(hi, digits)}" if _finite(lo) and _finite(hi) else NONE


def direction_label(metric: str) -> str:
    return f"{LABELS[metric]} ({'higher' if HIGHER_IS_BETTER[metric] else 'lower'} is better)"


def metrics_table(result: dict[str, Any]) -> pd.DataFrame:
    """One row per metric, every cell a readable string (no None, p-values like 5e-34)."""
    rows = []
    for m, d in result["difference"].items():
        rows.append({"Metric": direction_label(m), "Champion": number(result["champion"].get(m)),
                     "Challenger": number(result["challenger"].get(m)), "Difference": signed(d["estimate"]),
                     "Challenger is": DIRECTION_WORDS[metric_direction(m, d["estimate"])],
                     "95% interval": interval(d["ci_low"], d["ci_high"], 3), "p-value": p_value(d["p_value"]),
                     # "McNemar (chi-square with continuity correction)" → "McNemar": the detail is in the help.
                     "Test": (d.get("p_value_method") or NONE).split(" (")[0]})
    return pd.DataFrame(rows)


def difference_bars(result: dict[str, Any]) -> go.Figure:
    """One panel per metric: challenger − champion with its 95% paired-bootstrap interval."""
    diff = result["difference"]
    names = list(diff)
    titles = [f"{LABELS[m]} ({'↑' if HIGHER_IS_BETTER[m] else '↓'} better)" for m in names]
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=titles)
    for i, m in enumerate(names, start=1):
        d = diff[m]
        est, lo, hi = d["estimate"], d["ci_low"], d["ci_high"]
        ok = all(_finite(x) for x in (est, lo, hi))
        side = metric_direction(m, est)
        color = DIRECTION_COLORS[side]
        fig.add_trace(go.Scatter(
            x=["difference"], y=[est if _finite(est) else None], mode="markers", name=side,
            marker=dict(size=11, color=color),
            error_y=dict(type="data", symmetric=False, array=[(hi - est) if ok else 0],
                         arrayminus=[(est - lo) if ok else 0], color=color),
            hovertemplate=f"{LABELS[m]}: %{{y:.4g}} (challenger {DIRECTION_WORDS[side]}; "
                          f"{'higher' if HIGHER_IS_BETTER[m] else 'lower'} is better)<extra></extra>",
            showlegend=False), row=1, col=i)
        fig.add_hline(y=0, line_dash="dot", line_color="grey", row=1, col=i)
        fig.update_xaxes(showticklabels=False, row=1, col=i)
    fig.update_layout(height=280, margin=_MARGIN)
    return fig


def _overlay(result: dict[str, Any], curve: str, x: str, y: str, title: str, xt: str, yt: str,
             diagonal: bool) -> go.Figure:
    fig = go.Figure()
    for side, color in SIDES:
        c = result["curves"][side].get(curve)
        if not c:
            continue
        fig.add_trace(go.Scatter(x=c[x], y=c[y], mode="lines+markers" if curve == "calibration" else "lines",
                                 name=f"{side} {result[side + '_ref']}", line=dict(color=color)))
    if diagonal:
        fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="grey"),
                                 name="reference", hoverinfo="skip"))
    fig.update_layout(height=360, margin=_MARGIN, title=dict(text=title, font=dict(size=14)),
                      xaxis_title=xt, yaxis_title=yt, legend=dict(orientation="h", y=-0.2))
    return fig


def roc(result: dict[str, Any]) -> go.Figure:
    return _overlay(result, "roc", "fpr", "tpr", "ROC curve", "False positive rate", "True positive rate", True)


def precision_recall(result: dict[str, Any]) -> go.Figure:
    return _overlay(result, "precision_recall", "recall", "precision", "Precision–recall", "Recall", "Precision",
                    False)


def calibration(result: dict[str, Any]) -> go.Figure:
    regression = result["task"] == "regression"
    multi = result["task"] == "multiclass_classification"  # the predicted class's probability against being right
    fig = _overlay(result, "calibration", "mean_predicted", "observed", "Calibration (quantile bins)",
                   "Mean prediction" if regression else "Mean probability of the predicted class" if multi
                   else "Mean predicted probability",
                   "Mean actual" if regression else "Share predicted right" if multi else "Observed rate",
                   not regression)
    return fig


def distributions(result: dict[str, Any]) -> go.Figure:
    """Score histograms of both versions (by outcome for classifiers) on common bins."""
    dist = result["distributions"]
    edges = dist["edges"]
    mids = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:])]
    groups = [g for g in ("negative", "positive", "wrong", "right", "all") if g in dist["champion"]]
    titles = {"all": "predictions", "wrong": "predicted class wrong", "right": "predicted class right"}
    fig = make_subplots(rows=1, cols=len(groups), subplot_titles=[titles.get(g, f"outcome {g}") for g in groups])
    for i, g in enumerate(groups, start=1):
        for side, color in SIDES:
            fig.add_trace(go.Bar(x=mids, y=dist[side][g], name=side, marker_color=color, opacity=0.6,
                                 showlegend=i == 1), row=1, col=i)
    fig.update_layout(barmode="overlay", height=320, margin=_MARGIN, bargap=0.02)
    return fig


def segments_table(result: dict[str, Any], metric: str) -> pd.DataFrame:
    rows = []
    for s in result["segments"]:
        d = (s.get("difference") or {}).get(metric, {})
        rows.append({"Segment": s["segment"], "Rows": s["rows"], **({"Positives": s["positives"]}
                                                                    if "positives" in s else {}),
                     f"Champion {LABELS[metric]}": number((s.get("champion") or {}).get(metric)),
                     f"Challenger {LABELS[metric]}": number((s.get("challenger") or {}).get(metric)),
                     "Difference": signed(d.get("estimate")), "95% interval": interval(d.get("ci_low"), d.get("ci_high")),
                     "Verdict": s.get("verdict") or s.get("note") or NONE})
    return pd.DataFrame(rows)


def segments_figure(result: dict[str, Any], metric: str) -> go.Figure:
    fig = go.Figure()
    seg = [s for s in result["segments"] if s.get("difference")]
    ests = [s["difference"][metric]["estimate"] for s in seg]
    los = [s["difference"][metric]["ci_low"] for s in seg]
    his = [s["difference"][metric]["ci_high"] for s in seg]
    ok = [None not in (e, lo, hi) and lo == lo for e, lo, hi in zip(ests, los, his)]
    fig.add_trace(go.Scatter(
        x=[s["segment"] for s in seg], y=ests, mode="markers", marker=dict(size=10, color=CHALLENGER_COLOR),
        error_y=dict(type="data", symmetric=False, array=[(h - e) if k else 0 for e, h, k in zip(ests, his, ok)],
                     arrayminus=[(e - lo) if k else 0 for e, lo, k in zip(ests, los, ok)])))
    fig.add_hline(y=0, line_dash="dot", line_color="grey")
    fig.update_layout(height=320, margin=_MARGIN, xaxis_title=result.get("segment") or "segment",
                      yaxis_title=f"{LABELS[metric]}: challenger − champion",
                      title=dict(text=f"{LABELS[metric]} difference by segment (95% interval)", font=dict(size=14)))
    return fig


def importance(rows: list[dict[str, Any]], top: int = 15) -> go.Figure:
    df = pd.DataFrame(rows).head(top).iloc[::-1]
    fig = go.Figure()
    for side, color in SIDES:
        fig.add_trace(go.Bar(y=df["feature"], x=df[side], orientation="h", name=side, marker_color=color))
    fig.update_layout(barmode="group", height=max(300, 24 * len(df) + 80), margin=_MARGIN,
                      xaxis_title="mean |SHAP value|")
    return fig


def disagreements_table(result: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for d in result["disagreements"]:
        classes = ({"Champion's class": cell(d["champion_class"]), "Challenger's class": cell(d["challenger_class"])}
                   if "champion_class" in d else {})  # multiclass: each one's predicted class and its probability
        rows.append({"Row": d["row"], "Outcome": d["label"], **classes, "Champion": number(d["champion"]),
                     "Challenger": number(d["challenger"]), "Gap": number(d["gap"]),
                     **({"Decisions differ": "yes" if d["decisions_differ"] else "no"} if "decisions_differ" in d else {}),
                     **{k: cell(v) for k, v in d["features"].items()}})
    return pd.DataFrame(rows)


def cell(v: Any) -> Any:
    """A feature value for a table cell: '—' instead of a missing value."""
    return NONE if v is None or (isinstance(v, float) and v != v) else v
