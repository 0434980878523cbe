"""Plotly figures for SHAP explanations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

SPACE = {"log-odds": "log-odds", "probability": "probability", "raw": "model output"}


def importance_bar(imp: pd.DataFrame, top: int = 15) -> go.Figure:
    d = imp.head(top).iloc[::-1]
    fig = go.Figure(go.Bar(x=d["mean_abs_shap"], y=d["feature"], orientation="h", marker_color="#1f77b4",
                           hovertemplate="%{y}: %{x:.4g}<extra></extra>"))
    fig.update_layout(height=120 + 24 * len(d), margin=dict(l=10, r=10, t=10, b=10),
                      xaxis_title="mean |SHAP| (average effect on the output)")
    return fig


def beeswarm(values: pd.DataFrame, inputs: pd.DataFrame, order: list[str], top: int = 12,
             max_points: int = 1500) -> go.Figure:
    """One row of dots per input: where each case's contribution lies, coloured by the input's value."""
    feats = order[:top][::-1]
    rng = np.random.default_rng(0)
    idx = np.arange(len(values)) if len(values) <= max_points else np.sort(rng.choice(len(values), max_points,
                                                                                      replace=False))
    xs, ys, cs, texts = [], [], [], []
    for k, f in enumerate(feats):
        v = values[f].to_numpy()[idx]
        raw = pd.to_numeric(inputs[f], errors="coerce").to_numpy(dtype=float)[idx]
        lo, hi = np.nanpercentile(raw, 5), np.nanpercentile(raw, 95)
        color = np.clip((raw - lo) / (hi - lo), 0, 1) if hi > lo else np.full(len(raw), 0.5)
        xs.append(v)
        ys.append(k + rng.uniform(-0.3, 0.3, len(v)))
        cs.append(np.nan_to_num(color, nan=0.5))
        texts += [f"{f} = {r:g}" for r in raw]
    fig = go.Figure(go.Scattergl(
        x=np.concatenate(xs), y=np.concatenate(ys), mode="markers", text=np.array(texts),  # an array: checked at once
        marker=dict(size=4, color=np.concatenate(cs), colorscale="RdBu_r", opacity=0.7,
                    colorbar=dict(title="input value", tickvals=[0, 1], ticktext=["low", "high"])),
        hovertemplate="%{text}<br>contribution %{x:.4g}<extra></extra>"))
    fig.update_layout(height=140 + 30 * len(feats), margin=dict(l=10, r=10, t=10, b=10),
                      yaxis=dict(tickvals=list(range(len(feats))), ticktext=feats),
                      xaxis_title="SHAP value (effect on the output for each case)")
    fig.add_vline(x=0, line_color="#999", line_width=1)
    return fig


def dependence(values: pd.DataFrame, inputs: pd.DataFrame, feature: str, color_by: str | None) -> go.Figure:
    x = pd.to_numeric(inputs[feature], errors="coerce")
    marker: dict = dict(size=5, opacity=0.7)
    if color_by:
        marker.update(color=pd.to_numeric(inputs[color_by], errors="coerce"), colorscale="RdBu_r",
                      colorbar=dict(title=color_by))
    fig = go.Figure(go.Scattergl(x=x, y=values[feature], mode="markers", marker=marker,
                                 hovertemplate=f"{feature} = %{{x:g}}<br>contribution %{{y:.4g}}<extra></extra>"))
    fig.update_layout(height=420, margin=dict(l=10, r=10, t=10, b=10), xaxis_title=feature,
                      yaxis_title=f"SHAP value of {feature}")
    return fig


def waterfall(base: float, contributions: dict[str, float], prediction: float, space: str, top: int = 10) -> go.Figure:
    items = sorted(contributions.items(), key=lambda kv: abs(kv[1]), reverse=True)
    shown, rest = items[:top], items[top:]
    labels = [k for k, _ in shown] + ([f"{len(rest)} other inputs"] if rest else [])
    deltas = [v for _, v in shown] + ([sum(v for _, v in rest)] if rest else [])
    fig = go.Figure(go.Waterfall(
        orientation="h", measure=["absolute"] + ["relative"] * len(deltas) + ["total"],
        y=["average (base value)"] + labels + ["this case"], x=[base] + deltas + [prediction],
        increasing=dict(marker_color="#d62728"), decreasing=dict(marker_color="#1f77b4"),
        totals=dict(marker_color="#444"), connector=dict(line=dict(color="#bbb")),
        hovertemplate="%{y}: %{x:.4g}<extra></extra>"))
    fig.update_layout(height=160 + 28 * len(labels), margin=dict(l=10, r=10, t=10, b=10),
                      yaxis=dict(autorange="reversed"), xaxis_title=f"output ({SPACE.get(space, space)})")
    return fig


def side_by_side(a: pd.DataFrame, b: pd.DataFrame, label_a: str, label_b: str, top: int = 12) -> go.Figure:
    """Global importance of two explanations, normalised to shares so different output spaces compare."""
    merged = a.set_index("feature")["mean_abs_shap"].to_frame(label_a).join(
        b.set_index("feature")["mean_abs_shap"].to_frame(label_b), how="outer").fillna(0.0)
    merged = merged / merged.sum()
    merged = merged.loc[merged.max(axis=1).sort_values(ascending=False).index[:top]].iloc[::-1]
    fig = go.Figure()
    for col, color in ((label_a, "#1f77b4"), (label_b, "#ff7f0e")):
        fig.add_trace(go.Bar(x=merged[col], y=merged.index, orientation="h", name=col, marker_color=color,
                             hovertemplate="%{y}: %{x:.1%}<extra>" + col + "</extra>"))
    fig.update_layout(barmode="group", height=140 + 40 * len(merged), margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(title="share of total mean |SHAP|", tickformat=".0%"),
                      legend=dict(orientation="h", y=1.02))
    return fig
