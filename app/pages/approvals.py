"""Approvals: the risk officers' queue, data scientists' requests, live deployments and policies."""

import pandas as pd
import streamlit as st

from app import session
from app.components import approvals as ui
from app.components.text import escape
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
from core.registry.records import CARD_FIELDS
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

if flash := st.session_state.pop("approvals_flash", None):
    st.toast(flash, icon=":material/check:")
    st.success(flash)
if note := st.session_state.pop("approvals_note", None):
    st.info(note)

tabs = ["Queue", "My requests", "Deployments", "Policies"]
t_queue, t_mine, t_deploy, t_policy = st.tabs(tabs)


def _request_table(items, key):
    st.dataframe(pd.DataFrame([{
        "Request": r.id, "Model version": r.ref, "Environment": r.environment, "Role": r.role, "Status": r.status,
        "Approvals": r.progress, "Failing checks": r.checks_failed, "Requested by": r.requested_by,
        "Requested at (UTC)": str(r.requested_at)[:16]} for r in items]),
        hide_index=True, key=key, column_config={"Request": st.column_config.NumberColumn(format="%d", width="small"),
                                                 "Approvals": st.column_config.TextColumn(width="large")})


def _text(value) -> str:
    """A cell a person reads: '—' for nothing."""
    return "—" if value is None or (isinstance(value, str) and not value.strip()) else str(value)


def _detail(r, key):
    """One request: its evidence, decisions and the actions this person may take."""
    st.markdown(f"#### Request {r.id}: {r.ref} → {r.environment} as {r.role} {ui.status_badge(r.status)}")
    st.markdown(f"Requested by **{escape(r.requested_by)}** at {str(r.requested_at)[:16]} UTC · "
                f"risk tier **{r.risk_tier}**")
    (st.info if r.status == "pending" else st.caption)(escape(r.progress))
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
        st.dataframe(pd.DataFrame([{
            "Decided by": d.decided_by, "Decision": d.decision, "At (UTC)": str(d.decided_at)[:16],
            "Comment": _text(d.comment), "Override reason": _text(d.override_reason),
            "Approver's role": d.role_evidence} for d in r.decisions]), hide_index=True, key=f"{key}_decisions")
    st.download_button("Download the evidence report (HTML)", evidence_report.evidence_html(store, me, r.id),
                       file_name=f"evidence-request-{r.id}.html", mime="text/html", key=f"{key}_html")
    st.caption(f"Evidence pack SHA-256 `{r.evidence_sha256}`")

    blocker = approvals.decision_blocker(store, me, r.id) if r.status == "pending" else None
    if blocker:  # a courtesy: core refuses these decisions anyway
        st.info(escape(blocker), icon=":material/front_hand:")
    elif r.status == "pending":
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
        st.info("You have not requested a deployment. Open a model on the Model page and request one under "
                "Deployments." if allowed(me, "request-deployment") else
                "Data scientists request deployments; you have made none, so nothing is listed here.")
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
            "Model": d["model"], "Environment": d["environment"], "Version": d["version"],
            "Risk tier": d["risk_tier"], "Last certified": d["last_certified"][:10], "Due": d["due"],
            "State": f"overdue by {-d['days_left']} days" if d["overdue"] else f"{d['days_left']} days left"}
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
    label = policy.POLICY_LABELS
    st.dataframe(pd.DataFrame([{
        "Risk tier": p.risk_tier, **{label[k][:1].upper() + label[k][1:]: policy.policy_value_text(k, getattr(p, k))
                                     for k in policy.POLICY_FIELDS},
        "Changed by": p.updated_by, "Changed at (UTC)": str(p.updated_at)[:16]} for p in pol]),
        hide_index=True, key="appr_policy_table")
    if allowed(me, "set-policy"):
        st.markdown("**Change a tier's policy**")
        # The tier picker sits outside the form and every input is keyed by tier, so the form always shows and
        # saves the tier it names.
        tier = st.segmented_control("Tier", RISK_TIERS_HIGHEST_FIRST, default=RISK_TIERS_HIGHEST_FIRST[0],
                                    key="appr_pol_tier", format_func=lambda t: f"{t} risk") or RISK_TIERS_HIGHEST_FIRST[0]
        current = next(p for p in pol if p.risk_tier == tier)
        keys = {k: f"appr_pol_{tier}_{k}" for k in policy.POLICY_FIELDS}
        for k, key in keys.items():  # seeded from the store; the widgets' own default is empty (= no check)
            if key not in st.session_state:
                value = getattr(current, k)
                st.session_state[key] = [f for f in value if f in CARD_FIELDS] if k == "required_card_fields" else value
        with st.form(f"appr_policy_form_{tier}"):
            st.caption("Leave a threshold empty for no check.")
            c1, c2, c3 = st.columns(3)
            min_auc = c1.number_input("Minimum AUC (classifiers)", 0.0, 1.0, None, 0.01, format="%.2f",
                                      placeholder="no check", key=keys["min_auc"])
            min_r2 = c2.number_input("Minimum R² (regressions)", None, 1.0, None, 0.01, format="%.2f",
                                     placeholder="no check", key=keys["min_r2"])
            max_drift = c3.number_input("Maximum drifted share of inputs", 0.0, 1.0, None, 0.05, format="%.2f",
                                        placeholder="no check", key=keys["max_drift_share"])
            min_parity = st.number_input("Minimum demographic-parity ratio on each declared sensitive attribute "
                                         "(0.80: the four-fifths rule)", 0.0, 1.0, None, 0.05, format="%.2f",
                                         placeholder="no check", key=keys["min_parity_ratio"])
            card = st.multiselect("Required model-card fields", list(CARD_FIELDS),
                                  format_func=lambda f: f.replace("_", " "), key=keys["required_card_fields"])
            c1, c2, c3 = st.columns(3)
            needed = c1.number_input("Approvers (distinct risk officers)", 1, 3, key=keys["approvals_needed"])
            recert = c2.number_input("Re-certify every (days)", 1, 3650, key=keys["recertify_days"])
            valid = c3.number_input("An approval stays valid for (days)", 1, 365, key=keys["approval_valid_days"])
            submitted = st.form_submit_button(f"Save the {tier}-risk policy", type="primary",
                                              key=f"appr_pol_{tier}_submit")
        if submitted:
            try:
                done = policy.change_policy(store, me, tier, min_auc=min_auc, min_r2=min_r2,
                                            max_drift_share=max_drift, required_card_fields=card,
                                            approvals_needed=needed, recertify_days=recert,
                                            approval_valid_days=valid, min_parity_ratio=min_parity)
            except CoreError as e:
                st.error(str(e))
            else:
                if done.changes:
                    st.session_state["approvals_flash"] = done.sentence
                else:
                    st.session_state["approvals_note"] = done.sentence
                for k in keys.values():  # shown again from the store
                    st.session_state.pop(k, None)
                st.rerun()
