"""Approvals: the risk officers' queue, data scientists' requests, live deployments and policies."""

import pandas as pd
import streamlit as st

from app import session
from app.components import approvals as ui
from core.errors import CoreError
from core.governance import (
    approvals,
    deployments,
    evidence,
    evidence_report,
    policy,
    recertification,
)
from core.identity import allowed
from core.vocabulary import RISK_TIERS_HIGHEST_FIRST

me = session.guard("view-approvals")
store = session.store()
st.title("Approvals")
st.caption("Nothing reaches production without the documented consent of the right people: a data scientist "
           "requests, risk officers decide from a frozen evidence pack, then the version is deployed.")

try:
    everything = approvals.list_requests(store, me)
except CoreError as e:
    st.error(str(e))
    st.stop()

pending = [r for r in everything if r.status == "pending"]
mine = [r for r in everything if r.requested_by == me.email]
overdue = [d for d in recertification.recertification_status(store) if d["overdue"]]
c1, c2, c3, c4 = st.columns(4)
c1.metric("Waiting for a decision", len(pending))
c2.metric("Approved, not deployed", sum(r.status == "approved" for r in everything))
c3.metric("My requests", len(mine))
c4.metric("Re-certifications overdue", len(overdue))

tabs = ["Queue", "My requests", "Deployments", "Policies"]
t_queue, t_mine, t_deploy, t_policy = st.tabs(tabs)


def _request_table(items, key):
    st.dataframe(pd.DataFrame([{
        "request": r.id, "model version": r.ref, "environment": r.environment, "role": r.role, "status": r.status,
        "approvals": f"{len(r.approvals)}/{r.approvals_needed}", "failing checks": r.checks_failed,
        "requested by": r.requested_by, "requested at": r.requested_at} for r in items]),
        hide_index=True, key=key)


def _detail(r, key):
    """One request: its evidence, decisions and the actions this person may take."""
    st.markdown(f"#### Request {r.id}: {r.ref} → {r.environment} as {r.role} {ui.status_badge(r.status)}")
    st.markdown(f"Requested by **{r.requested_by}** at {str(r.requested_at)[:16]} UTC · "
                f"{len(r.approvals)} of {r.approvals_needed} approval(s) · risk tier **{r.risk_tier}**")
    st.markdown("**Justification**")
    st.text(r.reason)
    try:
        pack = evidence.evidence(store, me, r.id)
    except CoreError as e:
        st.error(str(e))
        return
    ui.evidence_view(pack, key=f"{key}_pack")
    if r.decisions:
        st.markdown("**Decisions**")
        st.dataframe(pd.DataFrame([{**d.as_dict(), "approver's role": d.role_evidence} for d in r.decisions]),
                     hide_index=True, key=f"{key}_decisions")
    st.download_button("Download the evidence report (HTML)", evidence_report.evidence_html(store, me, r.id),
                       file_name=f"evidence-request-{r.id}.html", mime="text/html", key=f"{key}_html")
    st.caption(f"Evidence pack SHA-256 `{r.evidence_sha256}`")

    if r.status == "pending" and allowed(me, "approve-deployment"):
        failing = any(c["status"] == "fail" for c in pack["checks"])
        with st.form(f"{key}_decide"):
            comment = st.text_area("Comment (recorded with your decision)", key=f"{key}_comment")
            override = st.text_input("Override reason (needed to approve despite failing checks)",
                                     key=f"{key}_override") if failing else None
            a, b = st.columns(2)
            approve = a.form_submit_button("Approve", type="primary", key=f"{key}_approve")
            reject = b.form_submit_button("Reject", key=f"{key}_reject")
        if approve or reject:
            try:
                if approve:
                    done = approvals.approve(store, me, r.id, comment, override)
                else:
                    done = approvals.reject(store, me, r.id, comment)
            except CoreError as e:
                st.error(str(e))
            else:
                st.session_state["approvals_flash"] = f"Request {done.id} is now {done.status}."
                st.rerun()
    if r.status == "approved" and allowed(me, "deploy"):
        st.info(f"Approved; valid until {str(r.expires_at)[:16]} UTC.")
        if st.button(f"Deploy {r.ref} to {r.environment} as {r.role}", type="primary", key=f"{key}_deploy"):
            try:
                done = deployments.deploy(store, me, r.id)
            except CoreError as e:
                st.error(str(e))
            else:
                st.session_state["approvals_flash"] = (f"Deployed {done.ref} to {done.environment} as {done.role} "
                                                       f"(deployment {done.deployment_id}).")
                st.rerun()


def _pick(items, key):
    ids = [r.id for r in items]
    chosen = st.selectbox("Request", ids, key=key,
                          format_func=lambda i: next(f"{r.id}: {r.ref} → {r.environment} as {r.role} ({r.status})"
                                                     for r in items if r.id == i))
    return next(r for r in items if r.id == chosen)


if flash := st.session_state.pop("approvals_flash", None):
    st.toast(flash, icon=":material/check:")
    st.success(flash)

with t_queue:
    if not allowed(me, "approve-deployment"):
        st.caption("Risk officers decide these requests; you can read them.")
    if not pending:
        st.success("The queue is empty: no request waits for a decision.")
        recent = [r for r in everything if r.status != "pending"][:10]
        if recent:
            st.markdown("**Recently decided**")
            _request_table(recent, "appr_recent_table")
    else:
        _request_table(pending, "appr_queue_table")
        _detail(_pick(pending, "appr_queue_pick"), "appr_queue")

with t_mine:
    if not mine:
        st.info("You have not requested a deployment. Open a model on the Model page, or run "
                "`modelgov approvals request MODEL:VERSION --env production --role champion --reason TEXT`.")
    else:
        _request_table(mine, "appr_mine_table")
        _detail(_pick(mine, "appr_mine_pick"), "appr_mine")

with t_deploy:
    status = recertification.recertification_status(store)
    if not status:
        st.info("Nothing is deployed yet.")
    else:
        st.markdown("**Live champions and their re-certification**")
        st.dataframe(pd.DataFrame([{
            "model": d["model"], "environment": d["environment"], "version": d["version"], "risk": d["risk_tier"],
            "last certified": d["last_certified"][:10], "due": d["due"],
            "state": f"overdue by {-d['days_left']} days" if d["overdue"] else f"{d['days_left']} days left"}
            for d in status]), hide_index=True, key="appr_recert_table")
        if allowed(me, "recertify"):
            with st.form("appr_recert_form"):
                target = st.selectbox("Re-certify", [f"{d['model']} · {d['environment']}" for d in status],
                                      key="appr_recert_pick")
                comment = st.text_area("What was reviewed", key="appr_recert_comment")
                if st.form_submit_button("Re-certify", key="appr_recert_submit"):
                    model_name, env = target.split(" · ")
                    try:
                        out = recertification.recertify(store, me, model_name, env, comment)
                    except CoreError as e:
                        st.error(str(e))
                    else:
                        st.session_state["approvals_flash"] = f"{model_name} re-certified; next due {out['next_due']}."
                        st.rerun()
            with st.form("appr_rollback_form"):
                target = st.selectbox("Roll back to the previous champion",
                                      [f"{d['model']} · {d['environment']}" for d in status], key="appr_rb_pick")
                reason = st.text_area("Reason", key="appr_rb_reason")
                if st.form_submit_button("Roll back", key="appr_rb_submit"):
                    model_name, env = target.split(" · ")
                    try:
                        out = deployments.rollback(store, me, model_name, env, reason)
                    except CoreError as e:
                        st.error(str(e))
                    else:
                        st.session_state["approvals_flash"] = (f"{model_name} in {env}: version {out['to_version']}"
                                                               f" is champion again.")
                        st.rerun()

with t_policy:
    pol = policy.policies(store)
    st.dataframe(pd.DataFrame([{
        "risk tier": p.risk_tier, "minimum AUC": p.min_auc, "minimum R²": p.min_r2,
        "maximum drifted share": p.max_drift_share, "required card fields": ", ".join(p.required_card_fields),
        "approvers": p.approvals_needed, "re-certify every (days)": p.recertify_days,
        "approval valid (days)": p.approval_valid_days, "changed by": p.updated_by} for p in pol]),
        hide_index=True, key="appr_policy_table")
    if allowed(me, "set-policy"):
        with st.form("appr_policy_form"):
            tier = st.selectbox("Tier", RISK_TIERS_HIGHEST_FIRST, key="appr_pol_tier")
            current = next(p for p in pol if p.risk_tier == tier)
            c1, c2, c3 = st.columns(3)
            min_auc = c1.number_input("Minimum AUC (0 = no check)", 0.0, 1.0, float(current.min_auc or 0.0), 0.01,
                                      key="appr_pol_auc")
            needed = c2.number_input("Approvers", 1, 3, current.approvals_needed, key="appr_pol_needed")
            recert = c3.number_input("Re-certify every (days)", 1, 3650, current.recertify_days, key="appr_pol_recert")
            if st.form_submit_button("Save policy", key="appr_pol_submit"):
                try:
                    policy.set_policy(store, me, tier, min_auc=min_auc or None, approvals_needed=int(needed),
                                         recertify_days=int(recert))
                except CoreError as e:
                    st.error(str(e))
                else:
                    st.session_state["approvals_flash"] = f"Policy for {tier} risk saved."
                    st.rerun()
