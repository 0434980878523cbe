"""Plotly figure builders shared by pages (no data access here)."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from app.components.badges import RISK_COLORS, STATUS_COLORS
from core.vocabulary import RISK_TIERS_HIGHEST_FIRST


def portfolio_bars(df: pd.DataFrame) -> go.Figure:
    """Models by status, stacked by risk tier."""
    counts = df.groupby(["status", "risk_tier"]).size().reset_index(name="models")
    order = [s for s in STATUS_COLORS if s in set(counts["status"])]
    fig = px.bar(counts, x="status", y="models", color="risk_tier", color_discrete_map=RISK_COLORS,
                 category_orders={"status": order, "risk_tier": list(RISK_TIERS_HIGHEST_FIRST)},
                 labels={"status": "Status", "models": "Models", "risk_tier": "Risk tier"})
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=10, b=10), legend_title_text="Risk tier")
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
