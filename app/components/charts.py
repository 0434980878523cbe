"""Plotly figure builders shared by pages (no data access here)."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from app.components.badges import RISK_COLORS, STATUS_COLORS
from core.vocabulary import RISK_TIERS_HIGHEST_FIRST


def portfolio_spec(df: pd.DataFrame) -> dict:
    """The Overview's models-by-status chart as a Vega-Lite spec (Streamlit's built-in chart grammar).

    The landing page draws its one chart with Vega-Lite rather than Plotly: Streamlit loads each chart library into
    the browser on first use, Plotly's bundle is 4.7 MB against Vega's 0.8 MB, and on the first load of the app the
    browser spent two to three seconds on Plotly's alone (benchmarks/bench_first_load.py). Every other chart is Plotly.
    """
    counts = df.groupby(["status", "risk_tier"]).size().rename("models").reset_index()
    statuses = [s for s in STATUS_COLORS if s in set(df["status"])]
    tiers = [t for t in RISK_TIERS_HIGHEST_FIRST if t in set(df["risk_tier"])]
    counts = counts[counts["risk_tier"].isin(tiers)]
    return {
        "data": {"values": [{"status": str(r.status), "risk_tier": str(r.risk_tier), "models": int(r.models),
                             "tier_rank": tiers.index(str(r.risk_tier))}
                            for r in counts.itertuples()]},
        "height": 300,
        "mark": {"type": "bar", "tooltip": True},
        "encoding": {
            "x": {"field": "status", "type": "nominal", "sort": statuses, "title": "Status",
                  "axis": {"labelAngle": 0}},
            "y": {"field": "models", "type": "quantitative", "stack": "zero", "title": "Models",
                  "axis": {"tickMinStep": 1, "format": "d"}},
            "color": {"field": "risk_tier", "type": "nominal", "title": "Risk tier",
                      "scale": {"domain": tiers, "range": [RISK_COLORS[t] for t in tiers]}},
            "order": {"field": "tier_rank", "type": "quantitative"},
            "tooltip": [{"field": "status", "title": "Status"}, {"field": "risk_tier", "title": "Risk tier"},
                        {"field": "models", "title": "Models"}],
        },
    }


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
