"""Plotly figure builders shared by pages (no data access here)."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go


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
