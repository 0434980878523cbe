"""Approval pieces shared by the Approvals and Model pages: the evidence pack, the request form, deployments."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import session
from app.components import compare as compare_ui
from app.components.text import escape
from core.errors import CoreError
from core.governance import approvals, live, policy, recertification
from core.metrics import METRIC_LABELS
from core.identity import Identity, allowed
from core.vocabulary import DEPLOYMENT_ROLES, ENVIRONMENTS

STATUS_BADGE = {"pending": "orange", "approved": "green", "rejected": "red", "deployed": "blue", "expired": "gray"}


def status_badge(status: str) -> str:
    return f":{STATUS_BADGE.get(status, 'gray')}-badge[{status}]"


def checks_table(checks: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"Check": c["check"], "Result": c["status"], "Detail": c["detail"]} for c in checks])


def evidence_view(pack: dict, key: str) -> None:
    """The frozen evidence pack, readable: the checks' verdict first, then what they rest on, as tables and
    charts (the raw JSON only on request)."""
    verdict = policy.checks_verdict(pack["checks"])
    {"fail": st.warning, "incomplete": st.info, "pass": st.success}[verdict["status"]](
        verdict["sentence"], icon={"fail": ":material/warning:", "incomplete": ":material/help:",
                                   "pass": ":material/check_circle:"}[verdict["status"]])
    st.dataframe(checks_table(pack["checks"]), hide_index=True, key=f"{key}_checks", width="stretch",
                 column_config={"Detail": st.column_config.TextColumn(width="large")})
    c1, c2 = st.columns(2)
    with c1:
        st.markdown("**Hold-out metrics**")
        if pack["metrics"]:
            st.dataframe(pd.DataFrame([{"Metric": METRIC_LABELS.get(k, k), "Value": readable(v)}
                                       for k, v in pack["metrics"].items()]),
                         hide_index=True, key=f"{key}_metrics")
        else:
            st.caption("None recorded.")
        champ = pack.get("current_champion")
        st.markdown("**Live champion in " + pack["request"]["environment"] + "**: "
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
            st.caption(f"{n['kind']}: {escape(n['name'])}")
    with st.expander("Champion vs challenger", expanded=bool(pack.get("comparison"))):
        _comparison_section(pack.get("comparison"), key)
    with st.expander("Drift on its own traffic", expanded=False):
        _drift_section(pack.get("drift"), pack["request"]["environment"], key)
    with st.expander("Fairness on the hold-out data", expanded=False):
        _fairness_section(pack.get("fairness"), key)
    with st.expander("Top SHAP features", expanded=False):
        _shap_section(pack.get("explanations"), key)
    if st.toggle("Show the whole frozen pack (JSON)", key=f"{key}_json_toggle"):
        st.json(pack, expanded=False)


def _fairness_section(f: dict | None, key: str) -> None:
    if not f:
        st.caption("The model card declared no sensitive attributes when the pack was frozen.")
        return
    for i, a in enumerate(f["attributes"]):
        st.markdown(f"**{escape(a['attribute'])}**: {escape(a.get('sentence') or '')}")
        st.dataframe(pd.DataFrame([{"Group": g["group"], "Rows": g["n"],
                                    "Predicted positive": readable(g.get("selection_rate")), "TPR": readable(g.get("tpr")), "FPR": readable(g.get("fpr")),
                                    "Mean score": readable(g.get("mean_score")),
                                    "Observed": readable(g.get("observed_rate")),
                                    "Judged": "too small" if g["small"] else "yes"} for g in a["groups"]]),
                     hide_index=True, key=f"{key}_fair_{i}")


def _comparison_section(c: dict | None, key: str) -> None:
    if not c:
        st.caption("No stored comparison of this version when the pack was frozen.")
        return
    res = c["result"]
    st.markdown(f"Comparison {c['id']}: champion **{escape(c['champion'])}** vs challenger "
                f"**{escape(c['challenger'])}** on {c['rows']:,} rows of {escape(c['data_ref'])}, by "
                f"{escape(c['created_by'])} on {c['created_at'][:10]} ({c['bootstrap']:,} paired-bootstrap "
                "replicates).")
    st.markdown(escape(res.get("verdict", "")))
    st.dataframe(compare_ui.metrics_table(res), hide_index=True, key=f"{key}_cmp_table", width="stretch")
    st.plotly_chart(compare_ui.difference_bars(res), key=f"{key}_cmp_chart")


def _drift_section(d: dict | None, environment: str, key: str) -> None:
    if not d:
        st.caption(f"No drift result for this version in {environment} when the pack was frozen "
                   "(the maximum-drift check above says why).")
        return
    st.markdown(f"{escape(d.get('sentence') or '')} Measured on {d['rows']:,} rows of its own {environment} "
                f"traffic ({(d.get('first') or '')[:10]} to {(d.get('last') or '')[:10]}), the last "
                f"{d.get('recent_days', 7)} days against its training data.")
    m1, m2 = st.columns(2)
    m1.metric("Inputs drifted", f"{len(d['drifted_columns'])} of {d.get('n_columns', len(d.get('columns', [])))}")
    m2.metric("Drifted share", f"{d['drifted_share']:.0%}")
    cols = d.get("columns") or []
    if cols:
        st.dataframe(pd.DataFrame([{"Input": x["column"], "Test": x["method"], "Statistic": readable(x["drift_score"]),
                                    "Threshold": readable(x["threshold"]), "Drifted": "yes" if x["drifted"] else "no"}
                                   for x in sorted(cols, key=lambda x: not x["drifted"])]),
                     hide_index=True, key=f"{key}_drift_table", width="stretch")


def _shap_section(e: dict | None, key: str) -> None:
    if not e:
        st.caption("No SHAP explanation of this version when the pack was frozen.")
        return
    top = e["top_features"]
    fig = go.Figure(go.Bar(y=[t["feature"] for t in top][::-1], x=[t["mean_abs_shap"] for t in top][::-1],
                           orientation="h", marker_color="#1f77b4",
                           hovertemplate="%{y}: %{x:.4g}<extra></extra>"))
    fig.update_layout(height=60 + 32 * len(top), margin=dict(l=10, r=10, t=10, b=10),
                      xaxis_title=f"mean |SHAP value| ({e['output_space']})")
    st.plotly_chart(fig, key=f"{key}_shap_chart")
    st.caption(f"Explanation {e['explanation_id']}: {e['explainer']} on {e['rows']:,} rows; additivity "
               + ("holds." if e.get("additivity_ok") else f"off by up to {readable(e.get('additivity_max_error'))}."))


def readable(x) -> str:
    """A number as people read it: 4 significant digits, tiny p-values as 5e-34, missing as a dash."""
    if x is None or (isinstance(x, float) and x != x):
        return "—"
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return f"{x:.2g}" if x != 0 and abs(x) < 1e-3 else f"{x:,.4g}" if abs(x) < 1e6 else f"{x:,.0f}"
    return str(x)


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
            session.release_store()  # drift on the version's traffic takes a while
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
        "Deployment": d.id, "Version": d.version, "Environment": d.environment, "Role": d.role,
        "State": "live" if d.active else "ended", "Since (UTC)": f"{d.since:%Y-%m-%d %H:%M}",
        "Until (UTC)": f"{d.until:%Y-%m-%d %H:%M}" if d.until else "—", "Deployed by": d.deployed_by,
        "Request": str(d.approval_id) if d.approval_id is not None else "—",
        "Ended because": d.end_reason or "—"} for d in history]),
        hide_index=True, key=f"{key}_table", width="stretch")
    due = recertification.recertification_status(store, model_name)
    for row in due:
        text = (f"{row['environment']}: version {row['version']} re-certification due {row['due']}"
                f" ({'overdue by ' + str(-row['days_left']) + ' days' if row['overdue'] else str(row['days_left']) + ' days left'})")
        (st.error if row["overdue"] else st.caption)(text)
