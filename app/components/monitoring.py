"""Monitoring pictures and the alert list shared by Overview, Model and Monitoring pages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from app.components import badges
from app.components.text import escape
from core.drift import stattests
from core.errors import CoreError
from core.identity import Identity, allowed
from core.metrics import METRIC_LABELS, MULTICLASS_METRICS
from core.monitoring import alerts


def health_label(h: dict | None) -> str:
    return badges.health(h)


def age_text(seconds: float) -> str:
    """How old something is, in the largest unit that fits: 40 seconds, 5 minutes, 3 hours, 2 days."""
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    n = int(seconds)
    return f"{n} second{'s' if n != 1 else ''}"


def stale_text(age_seconds: float, new_rows: int, new_outcomes: int, rows: int) -> str:
    """The caption of a stored review that data arrived after."""
    arrived = [f"{new_rows:,} logged prediction{'s' if new_rows != 1 else ''}" if new_rows else "",
               f"{new_outcomes:,} outcome{'s' if new_outcomes != 1 else ''}" if new_outcomes else ""]
    what = " and ".join(a for a in arrived if a) or "new data"
    return (f"Computed {age_text(age_seconds)} ago from {rows:,} logged predictions; since then {what} arrived, "
            "not counted in these figures yet.")


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
            strength = (1 - score) if stattests.get(c["method"]).is_p_value else min(1.0, score / (2 * c["threshold"]))
            row.append(strength)
            test = stattests.get(c["method"])
            trow.append(f"{test.statistic} {stat_text(score, test.is_p_value)}{' · drifted' if c['drifted'] else ''}")
        z.append(row)
        text.append(trow)
    x = pd.to_datetime([w["start"] for w in wins])
    window = (report.get("time_column") or {}).get("window", "day")
    fig = go.Figure(go.Heatmap(z=z, x=x, y=cols, text=text, colorscale="OrRd", zmin=0, zmax=1,
                               hovertemplate="%{y} · %{x|%-d %b %Y}<br>%{text}<extra></extra>",
                               colorbar=dict(title="drift", tickvals=[0, 0.5, 1], ticktext=["none", "at threshold", "strong"])))
    fig.update_layout(height=140 + 18 * len(cols), margin=dict(l=10, r=10, t=10, b=10), yaxis=dict(autorange="reversed"))
    fig.update_xaxes(**_time_axis(window))
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
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return fig


def stat_text(value: float | None, p_value: bool) -> str:
    """A statistic people can read: p-values as 0.031 or 5e-34, distances to three significant figures."""
    if value is None or not np.isfinite(value):
        return "—"
    if p_value:
        return f"{value:.0e}".replace("e-0", "e-") if 0 < value < 0.001 else f"{value:.3f}"
    return f"{value:.3g}"


def verdict_text(value: float | None, test: stattests.StatTest, threshold: float, drifted: bool) -> str:
    """`stat_text`, with more digits where rounding would put the value on the other side of the threshold
    (a Wasserstein distance of 0.09996 reads 0.09996, not 0.1, next to "drifts when ≥ 0.1" and "no")."""
    text = stat_text(value, test.is_p_value)
    if text == "—":
        return text
    for digits in range(4, 9):
        if test.drifted(float(text), threshold) == drifted:
            break
        text = f"{value:.{digits}g}"
    return text


def drift_table(columns: list[dict]) -> pd.DataFrame:
    """One row per input: the test core chose, the statistic THAT test reports (its name from the drift
    registry), the value, which side of the threshold means drift, and the verdict."""
    rows = []
    for c in columns:
        test = stattests.REGISTRY.get(c.get("method") or "")
        if test is None:  # the column could not be tested (no rows in the window)
            rows.append({"Input": c["column"], "Kind": c.get("kind") or "—", "Test": "not tested", "Statistic": "—",
                         "Value": "—", "Drifts when": "—", "Drifted": False})
            continue
        rows.append({"Input": c["column"], "Kind": c["kind"], "Test": test.title, "Statistic": test.statistic,
                     "Value": verdict_text(c.get("drift_score"), test, c["threshold"], bool(c.get("drifted"))),
                     "Drifts when": f"{test.drift_rule} {c['threshold']:g}", "Drifted": bool(c.get("drifted"))})
    return pd.DataFrame(rows, columns=["Input", "Kind", "Test", "Statistic", "Value", "Drifts when", "Drifted"])


def quality_table(quality: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"Input": q["column"], "Missing": q["missing_rate"], "Out of range": q["out_of_range"],
                          "Unseen categories": ", ".join(map(str, q["unseen_categories"])) or "—"}
                         for q in quality], columns=["Input", "Missing", "Out of range", "Unseen categories"])


def _time_axis(window: str) -> dict:
    """Dates as '3 Nov', one tick a week for daily and weekly windows (hours get the day and the time)."""
    if window == "hour":
        return dict(type="date", tickformat="%-d %b %H:%M")
    return dict(type="date", tickformat="%-d %b", dtick=7 * 86_400_000, tick0="2000-01-03")  # Mondays


def performance_and_volume(perf: list[dict], vol: list[dict], baseline: float | None, metric: str, label: str,
                           window: str) -> go.Figure:
    """Performance over time above the number of predictions, on ONE shared time axis.

    Rates (observed default rate, mean score) are percentages on the right-hand axis."""
    p = pd.DataFrame(perf)
    v = pd.DataFrame(vol)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06, row_heights=[0.68, 0.32],
                        specs=[[{"secondary_y": True}], [{}]])
    if not p.empty:
        x = pd.to_datetime(p["window"])
        fig.add_trace(go.Scatter(x=x, y=p[metric], mode="lines+markers", name=label, customdata=p["labelled"],
                                 hovertemplate=f"%{{x|%-d %b}}: {label} %{{y:.3f}} (%{{customdata:,}} labelled)"
                                               "<extra></extra>"), row=1, col=1)
        if "observed_rate" in p:
            fig.add_trace(go.Scatter(x=x, y=p["observed_rate"], name="observed rate", mode="lines",
                                     line=dict(dash="dot"), hovertemplate="%{x|%-d %b}: %{y:.1%}<extra></extra>"),
                          row=1, col=1, secondary_y=True)
            fig.add_trace(go.Scatter(x=x, y=p["mean_score"], name="mean score (calibration)", mode="lines",
                                     line=dict(dash="dash"), hovertemplate="%{x|%-d %b}: %{y:.1%}<extra></extra>"),
                          row=1, col=1, secondary_y=True)
            fig.update_yaxes(title_text="rate", tickformat=".0%", dtick=0.1, showgrid=False, rangemode="tozero", row=1, col=1,
                             secondary_y=True)
        if baseline is not None:
            fig.add_hline(y=baseline, line_dash="dot", line_color="#888", annotation_text="at validation",
                          row=1, col=1, secondary_y=False)
    if not v.empty:
        fig.add_trace(go.Bar(x=pd.to_datetime(v["w"]), y=v["n"], name="predictions", marker_color="#9467bd",
                             hovertemplate="%{x|%-d %b}: %{y:,} predictions<extra></extra>", showlegend=False),
                      row=2, col=1)
    small = p.empty or not (p[metric].abs() > 1).any()  # AUC, accuracy: two decimals; an RMSE in the units
    fig.update_yaxes(title_text=label, tickformat=".2f" if small else ",.0f", nticks=6, row=1, col=1, secondary_y=False)
    fig.update_yaxes(title_text="predictions", tickformat=",d", rangemode="tozero", nticks=4, row=2, col=1)
    fig.update_xaxes(**_time_axis(window))
    fig.update_layout(height=460, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.08),
                      hovermode="x unified")
    return fig


def rejections(ingestion: list[dict]) -> go.Figure:
    """Rows rejected at ingestion per window (drawn only when some were)."""
    d = pd.DataFrame(ingestion)
    fig = go.Figure(go.Bar(x=pd.to_datetime(d["window"]), y=d["rejected"], marker_color="#d62728",
                           customdata=d["rows"], hovertemplate="%{x|%-d %b}: %{y:,} of %{customdata:,} rows rejected"
                                                               "<extra></extra>"))
    fig.update_layout(height=220, margin=dict(l=10, r=10, t=10, b=10))
    fig.update_yaxes(title_text="rows rejected", tickformat=",d", rangemode="tozero")
    fig.update_xaxes(type="date", tickformat="%-d %b")
    return fig


def alert_line(a: alerts.Alert) -> str:
    """One alert in Markdown: severity, model, where, kind, status and message (the model and the message are shown
    as typed: a drift message names the data's own columns)."""
    where = (f" v{a.version}" if a.version is not None else "") + (f" in {escape(a.environment)}" if a.environment
                                                                     else "")
    return (f"{badges.severity(a.severity)} **{escape(a.model)}**{where} · {a.kind.replace('_', ' ')} · {a.status} — "
            f"{escape(a.message)}" + (f" _(acknowledged by {escape(a.acknowledged_by)})_" if a.acknowledged_by else ""))


def alert_list(store, me: Identity, model: str | None, key: str, limit: int = 20) -> None:
    """Open and acknowledged alerts with acknowledge/resolve buttons for those allowed to act."""
    items = alerts.alerts(store, model, "active")
    if not items:
        st.success("No open alert.", icon=":material/notifications_off:")
        return
    can = allowed(me, "manage-alerts")
    for a in items[:limit]:
        cols = st.columns([6, 1, 1]) if can else [st.container()]
        cols[0].markdown(alert_line(a))
        if can:
            if a.status == "open" and cols[1].button("Acknowledge", key=f"{key}_ack_{a.id}"):
                _act(store, me, a.id, "acknowledge")
            if cols[2].button("Resolve", key=f"{key}_res_{a.id}"):
                _act(store, me, a.id, "resolve")


def alert_digest(store, me: Identity, limit: int = 8) -> None:
    """The newest open and acknowledged alerts as one block of lines, and where to act on them (the Monitoring
    page's list has the buttons): what a landing page shows without drawing a row of widgets per alert."""
    items = alerts.alerts(store, None, "active")
    if not items:
        st.success("No open alert.", icon=":material/notifications_off:")
        return
    st.markdown("\n".join(f"- {alert_line(a)}" for a in items[:limit]))
    rest = len(items) - limit
    verb = "Acknowledge or resolve" if allowed(me, "manage-alerts") else "See"
    label = f"{verb} {'them' if rest <= 0 else f'all {len(items)}'} on the Monitoring page"
    st.page_link("pages/monitoring.py", label=label, icon=":material/monitor_heart:")


def _act(store, me: Identity, alert_id: int, action: str) -> None:
    try:
        alerts.update_alert(store, me, alert_id, action)
    except CoreError as e:
        st.error(str(e))
    else:
        st.rerun()


def performance_table(perf: list[dict]) -> pd.DataFrame:
    """Multiclass performance per window (every metric core computed), with human headers."""
    rows = [{"Window": p["window"][:16], "Labelled": p["labelled"],
             **{METRIC_LABELS[m].capitalize(): (None if p.get(m) is None else round(float(p[m]), 3))
                for m in MULTICLASS_METRICS}} for p in perf]
    return pd.DataFrame(rows)
