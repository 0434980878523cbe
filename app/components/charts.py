"""Plotly figure builders shared by pages (no data access here)."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from app.components.badges import RISK_COLORS, STATUS_COLORS
from core.vocabulary import RISK_TIERS_HIGHEST_FIRST


def portfolio_bars(df: pd.DataFrame) -> go.Figure:
    """Models by status, stacked by risk tier (graph objects: Plotly Express took a fifth of the first load)."""
    counts = df.groupby(["status", "risk_tier"]).size()
    order = [s for s in STATUS_COLORS if s in set(df["status"])]
    fig = go.Figure()
    for tier in RISK_TIERS_HIGHEST_FIRST:
        if tier not in set(df["risk_tier"]):
            continue
        fig.add_trace(go.Bar(x=order, y=[int(counts.get((s, tier), 0)) for s in order], name=tier,
                             marker_color=RISK_COLORS.get(tier),
                             hovertemplate=f"%{{x}}, risk tier {tier}: %{{y}} model(s)<extra></extra>"))
    fig.update_layout(barmode="stack", height=300, margin=dict(l=10, r=10, t=10, b=10), legend_title_text="Risk tier",
                      xaxis_title="Status", yaxis_title="Models")
    fig.update_yaxes(dtick=1)
    return fig


def version_metrics(versions: pd.DataFrame, metric_names: list[str], labels: dict[str, str] | None = None,
                    better: str | None = None) -> go.Figure:
    """Grouped bars: each metric across versions. Draw metrics of one direction together (`better`: "higher" or
    "lower", stated on the value axis): a shorter Brier bar is better news, a shorter AUC bar worse."""
    long = versions.melt(id_vars=["version"], value_vars=metric_names, var_name="metric", value_name="value")
    long["metric"] = long["metric"].map(lambda m: (labels or {}).get(m, m))
    long["version"] = "v" + long["version"].astype(str)
    axis = "Hold-out value" + (f" ({better} is better)" if better else "")
    fig = px.bar(long, x="metric", y="value", color="version", barmode="group", text_auto=".3f",
                 labels={"metric": "Metric", "value": axis, "version": "Version"})
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=1.1))
    fig.update_yaxes(tickformat=".2f", rangemode="tozero", nticks=6)
    return fig


def class_precision_recall(table: pd.DataFrame) -> go.Figure:
    """Precision and recall side by side per class (the Model page's per-class table)."""
    fig = go.Figure()
    for col, color in (("Precision", "#1f77b4"), ("Recall", "#ff7f0e")):
        fig.add_bar(x=table["Class"], y=table[col], name=col, marker_color=color,
                    hovertemplate="class %{x}: " + col.lower() + " %{y:.3f}<extra></extra>")
    fig.update_layout(barmode="group", height=260, margin=dict(l=10, r=10, t=10, b=10),
                      yaxis=dict(range=[0, 1.05], title=None), xaxis=dict(title="class", type="category"),
                      legend=dict(orientation="h", y=1.1))
    return fig
