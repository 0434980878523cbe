"""Approval pieces shared by the Approvals and Model pages: the evidence pack, the request form, deployments."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.errors import CoreError
from core.governance import approvals, live, recertification
from core.identity import Identity, allowed
from core.vocabulary import DEPLOYMENT_ROLES, ENVIRONMENTS

CHECK_ICON = {"pass": "✅", "fail": "❌", "not evaluated": "➖"}
STATUS_BADGE = {"pending": "orange", "approved": "green", "rejected": "red", "deployed": "blue", "expired": "gray"}


def status_badge(status: str) -> str:
    return f":{STATUS_BADGE.get(status, 'gray')}-badge[{status}]"


def checks_table(checks: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"check": c["check"], "result": f"{CHECK_ICON.get(c['status'], '')} {c['status']}",
                          "detail": c["detail"]} for c in checks])


def evidence_view(pack: dict, key: str) -> None:
    """The frozen evidence pack, readable: checks first, then what they rest on."""
    failing = [c for c in pack["checks"] if c["status"] == "fail"]
    if failing:
        st.warning(f"{len(failing)} policy check(s) fail: approval needs an override reason, which is recorded.",
                   icon=":material/warning:")
    else:
        st.success("Every policy check passes.", icon=":material/check_circle:")
    st.dataframe(checks_table(pack["checks"]), hide_index=True, key=f"{key}_checks")
    c1, c2 = st.columns(2)
    with c1:
        st.markdown("**Hold-out metrics**")
        if pack["metrics"]:
            st.dataframe(pd.DataFrame([{"metric": k, "value": round(v, 4)} for k, v in pack["metrics"].items()]),
                         hide_index=True, key=f"{key}_metrics")
        else:
            st.caption("None recorded.")
        champ = pack.get("current_champion")
        st.markdown("**Current champion in " + pack["request"]["environment"] + "**: "
                    + (f"version {champ['version']} since {champ['since'][:10]}" if champ else "none"))
    with c2:
        card = pack["model_card"]
        st.markdown(f"**Model card** — {card['completeness']:.0%} complete")
        st.progress(card["completeness"])
        missing = [k.replace("_", " ") for k, v in card["fields"].items() if not (v or "").strip()]
        st.caption("Missing: " + ", ".join(missing) if missing else "All fields filled.")
        up = pack["lineage"]["upstream"]
        st.markdown(f"**Lineage**: {len(up)} upstream node(s)")
        for n in up[:6]:
            st.caption(f"{n['kind']}: {n['name']}")
    for section, title in (("comparison", "Champion vs challenger"), ("drift", "Drift"),
                           ("explanations", "Top SHAP features")):
        with st.expander(title, expanded=False):
            if pack.get(section):
                st.json(pack[section], expanded=False)
            else:
                st.caption("Not available when the pack was frozen.")
    with st.expander("The whole frozen pack (JSON)"):
        st.json(pack, expanded=False)


def request_form(store, me: Identity, model_name: str, versions: list[int], key: str) -> None:
    """Ask for a deployment (data scientists); the pack is frozen when the request is made."""
    if not versions:
        st.caption("Register a version first.")
        return
    if not allowed(me, "request-deployment"):
        st.caption("A data scientist requests deployments; a risk officer approves them.")
        return
    with st.form(f"{key}_form", clear_on_submit=True):
        c1, c2, c3 = st.columns(3)
        version = c1.selectbox("Version", versions, key=f"{key}_version")
        env = c2.selectbox("Environment", ENVIRONMENTS, key=f"{key}_env")
        role = c3.selectbox("Role", DEPLOYMENT_ROLES, key=f"{key}_role")
        reason = st.text_area("Justification", key=f"{key}_reason",
                              placeholder="Why this version, why now; what the risk officer should look at")
        if st.form_submit_button("Request deployment", type="primary", key=f"{key}_submit"):
            try:
                with st.spinner("Assembling and freezing the evidence pack…"):
                    r = approvals.request_deployment(store, me, model_name, int(version), env, role, reason)
            except CoreError as e:
                st.error(str(e))
            else:
                st.success(f"Request {r.id} is pending: {r.approvals_needed} approval(s) needed, "
                           f"{r.checks_failed} failing check(s). Risk officers see it on the Approvals page.")


def deployment_timeline(history: list[live.Deployment]) -> go.Figure:
    """Who ran where and when, as bars per environment and role."""
    fig = go.Figure()
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    colors = {"champion": "#1f77b4", "challenger": "#9467bd"}
    for d in history:
        end = pd.Timestamp(d.until) if d.until else now
        fig.add_trace(go.Bar(
            y=[f"{d.environment} · {d.role}"], x=[(end - pd.Timestamp(d.since)).total_seconds() * 1000],
            base=[pd.Timestamp(d.since)], orientation="h", marker_color=colors[d.role],
            opacity=1.0 if d.active else 0.45, name=f"v{d.version}", text=[f"v{d.version}"],
            textposition="inside", showlegend=False,
            hovertemplate=f"version {d.version}<br>%{{base|%Y-%m-%d %H:%M}} → "
                          f"{'now' if d.active else str(d.until)[:16]}<extra></extra>"))
    fig.update_layout(barmode="overlay", height=80 + 45 * len({(d.environment, d.role) for d in history}),
                      margin=dict(l=10, r=10, t=10, b=10), xaxis=dict(type="date"))
    return fig


def deployment_history(store, model_name: str, key: str) -> None:
    history = live.history(store, model_name)
    if not history:
        st.info("Never deployed. A data scientist requests a deployment below; a risk officer approves it on the "
                "Approvals page; then it can be deployed.")
        return
    st.plotly_chart(deployment_timeline(history), key=f"{key}_timeline")
    st.dataframe(pd.DataFrame([{
        "deployment": d.id, "version": d.version, "environment": d.environment, "role": d.role,
        "state": "live" if d.active else "ended", "since": d.since, "until": d.until, "deployed by": d.deployed_by,
        "request": d.approval_id, "ended because": d.end_reason} for d in history]),
        hide_index=True, key=f"{key}_table")
    due = recertification.recertification_status(store, model_name)
    for row in due:
        text = (f"{row['environment']}: version {row['version']} re-certification due {row['due']}"
                f" ({'overdue by ' + str(-row['days_left']) + ' days' if row['overdue'] else str(row['days_left']) + ' days left'})")
        (st.error if row["overdue"] else st.caption)(text)
