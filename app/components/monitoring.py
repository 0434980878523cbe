"""Monitoring pictures and the alert list shared by Overview, Model and Monitoring pages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.components import badges
from core.drift.stattests import P_VALUE_METHODS
from core.errors import CoreError
from core.identity import Identity, allowed
from core.monitoring import alerts


def health_label(h: dict | None) -> str:
    return badges.health(h)


def heatmap(report: dict, value: str = "drift") -> go.Figure:
    """Inputs × windows: how strongly each input drifted in each window (darker = more), drifted cells marked."""
    wins = report.get("windows", [])
    cols = [c["column"] for c in report["columns"]]
    z, text = [], []
    for col in cols:
        row, trow = [], []
        for w in wins:
            c = next((x for x in w["columns"] if x["column"] == col), None)
            if c is None:
                row.append(None)
                trow.append("")
                continue
            score = c["drift_score"]
            strength = (1 - score) if c["method"] in P_VALUE_METHODS else min(1.0, score / (2 * c["threshold"]))
            row.append(strength)
            trow.append(f"{c['method']} {score:.3g}{' · drifted' if c['drifted'] else ''}")
        z.append(row)
        text.append(trow)
    x = [w["start"][:10] for w in wins]
    fig = go.Figure(go.Heatmap(z=z, x=x, y=cols, text=text, colorscale="OrRd", zmin=0, zmax=1,
                               hovertemplate="%{y} · %{x}<br>%{text}<extra></extra>",
                               colorbar=dict(title="drift", tickvals=[0, 0.5, 1], ticktext=["none", "at threshold", "strong"])))
    fig.update_layout(height=140 + 18 * len(cols), margin=dict(l=10, r=10, t=10, b=10), yaxis=dict(autorange="reversed"))
    return fig


def distribution(ref: pd.Series, cur: pd.Series, column: str) -> go.Figure:
    fig = go.Figure()
    if pd.api.types.is_numeric_dtype(ref) and ref.nunique() > 12:
        lo, hi = np.nanpercentile(pd.concat([ref, cur]), [0.5, 99.5])
        bins = dict(start=lo, end=hi, size=(hi - lo) / 40 if hi > lo else 1)
        for s, name, color in ((ref, "reference (training)", "#1f77b4"), (cur, "current (logged)", "#ff7f0e")):
            fig.add_trace(go.Histogram(x=s, name=name, histnorm="probability", xbins=bins, opacity=0.6,
                                       marker_color=color))
        fig.update_layout(barmode="overlay")
    else:
        rp = ref.astype(str).value_counts(normalize=True)
        cp = cur.astype(str).value_counts(normalize=True)
        keys = sorted(set(rp.index) | set(cp.index), key=lambda k: (len(k), k))
        fig.add_trace(go.Bar(x=keys, y=[rp.get(k, 0) for k in keys], name="reference (training)", marker_color="#1f77b4"))
        fig.add_trace(go.Bar(x=keys, y=[cp.get(k, 0) for k in keys], name="current (logged)", marker_color="#ff7f0e"))
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=10, b=10), xaxis_title=column, yaxis_title="share",
                      legend=dict(orientation="h", y=1.05))
    return fig


def performance(perf: list[dict], baseline: float | None, metric: str) -> go.Figure:
    d = pd.DataFrame(perf)
    fig = go.Figure()
    if not d.empty:
        fig.add_trace(go.Scatter(x=d["window"].str[:10], y=d[metric], mode="lines+markers", name=metric.upper(),
                                 customdata=d["labelled"], hovertemplate="%{x}: %{y:.3f} (%{customdata} labelled)<extra></extra>"))
        if metric == "auc":
            fig.add_trace(go.Scatter(x=d["window"].str[:10], y=d["observed_rate"], name="observed default rate",
                                     mode="lines", line=dict(dash="dot"), yaxis="y2"))
            fig.add_trace(go.Scatter(x=d["window"].str[:10], y=d["mean_score"], name="mean score (calibration)",
                                     mode="lines", line=dict(dash="dash"), yaxis="y2"))
    if baseline is not None:
        fig.add_hline(y=baseline, line_dash="dot", line_color="#888", annotation_text="at validation")
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=10, b=10), yaxis_title=metric.upper(),
                      yaxis2=dict(overlaying="y", side="right", title="rate", showgrid=False),
                      legend=dict(orientation="h", y=1.08))
    return fig


def volume(vol: list[dict]) -> go.Figure:
    d = pd.DataFrame(vol)
    fig = go.Figure(go.Bar(x=d["w"].str[:10], y=d["n"], marker_color="#9467bd",
                           hovertemplate="%{x}: %{y} predictions<extra></extra>"))
    fig.update_layout(height=220, margin=dict(l=10, r=10, t=10, b=10), yaxis_title="predictions")
    return fig


def alert_list(store, me: Identity, model: str | None, key: str, limit: int = 20) -> None:
    """Open and acknowledged alerts with acknowledge/resolve buttons for those allowed to act."""
    items = alerts.alerts(store, model, "active")
    if not items:
        st.success("No open alert.", icon=":material/notifications_off:")
        return
    can = allowed(me, "manage-alerts")
    for a in items[:limit]:
        icon = badges.severity(a.severity)
        cols = st.columns([6, 1, 1]) if can else [st.container()]
        cols[0].markdown(f"{icon} **{a.model}** · {a.kind.replace('_', ' ')} · {a.status} — {a.message}"
                         + (f" _(acknowledged by {a.acknowledged_by})_" if a.acknowledged_by else ""))
        if can:
            if a.status == "open" and cols[1].button("Acknowledge", key=f"{key}_ack_{a.id}"):
                _act(store, me, a.id, "acknowledge")
            if cols[2].button("Resolve", key=f"{key}_res_{a.id}"):
                _act(store, me, a.id, "resolve")


def _act(store, me: Identity, alert_id: int, action: str) -> None:
    try:
        alerts.update_alert(store, me, alert_id, action)
    except CoreError as e:
        st.error(str(e))
    else:
        st.rerun()
