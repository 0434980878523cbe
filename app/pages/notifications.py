"""Notifications: webhooks and e-mail subscriptions, a test delivery, the delivery log.

An administrator manages every hook; a data scientist or risk officer subscribes their own e-mail address (core
decides who may do what: `core.notify.hooks`).
"""

import streamlit as st

from app import session
from core.errors import CoreError
from core.identity import allowed
from core.notify import deliver, hooks
from core.outbox import EVENT_LABELS, NOTIFICATION_EVENTS
from core.registry import catalog
from core.vocabulary import RISK_TIERS

me = session.guard("subscribe-notifications")
store = session.store()
admin = allowed(me, "manage-hooks")
st.title("Notifications")
st.caption("Alerts, requests waiting for approval, decisions and deployments sent to webhooks (Slack, Teams, your "
           "own services) and by e-mail. Each event leaves with the action that raised it; a receiver that is down "
           "gets it later, in order, once (docs/operations.md).")

flash = st.session_state.pop("notify_flash", None)
if flash:
    st.success(flash)


def _done(message: str) -> None:
    st.session_state["notify_flash"] = message
    st.rerun()


try:
    mine = hooks.list_hooks(store, me)
except CoreError as e:
    st.error(str(e))
    mine = []

hooks_tab, add_tab, test_tab, log_tab = st.tabs(
    ["Hooks" if admin else "My subscriptions", "Add" if admin else "Subscribe", "Test and deliver", "Delivery log"])

with hooks_tab:
    if mine:
        st.dataframe([{"Id": h.id, "Kind": h.kind, "Format": h.format, "URL": h.url, "Events": ", ".join(h.events),
                       "Models": ", ".join(h.models or []) or "all", "Tiers": ", ".join(h.tiers or []) or "all",
                       "Secret": h.secret_fingerprint or "", "By": h.created_by, "Since (UTC)": h.created_at}
                      for h in mine], hide_index=True, key="notify_hooks", width="stretch")
        st.caption("Secrets are never shown again: the Secret column is a fingerprint, or the reference it reads.")
        gone = st.selectbox("Remove", [h.id for h in mine], key="notify_remove_id",
                            format_func=lambda i: next(f"{h.id}: {h.url}" for h in mine if h.id == i))
        if st.button("Remove", key="notify_remove_submit"):
            try:
                hooks.remove_hook(store, me, gone)
            except CoreError as e:
                st.error(str(e))
            else:
                _done(f"Hook {gone} removed; its pending deliveries are cancelled.")
    else:
        st.info("No hooks yet. " + ("Add a webhook or an e-mail subscription in the next tab." if admin else
                                     "Subscribe your e-mail address in the next tab."))

with add_tab:
    try:
        models = [m.name for m in catalog.search_models(store, per_page=1000).items]
    except CoreError as e:
        st.error(str(e))
        models = []
    with st.form("notify_add_form", clear_on_submit=True):
        if admin:
            url = st.text_input("URL", key="notify_url",
                                placeholder="https://hooks.slack.com/services/… or mailto:ops@example.com")
            fmt = st.selectbox("Payload", ["json", "slack", "teams"], key="notify_format",
                               help="Ignored for a mailto: URL (e-mail).")
            secret = st.text_input("Secret (signs X-ModelGov-Signature)", key="notify_secret", type="password",
                                   help="Or env:NAME / file:PATH to read it where deliveries run.")
            st.caption("Delivery to private or internal addresses is your choice as administrator: ModelGov sends "
                       "to the URL given.")
        else:
            url, fmt, secret = f"mailto:{me.email}", None, ""
            st.caption(f"E-mail to {me.email}.")
        events = st.multiselect("Events", NOTIFICATION_EVENTS, key="notify_events", format_func=lambda e: (
            f"{e} ({EVENT_LABELS[e]})"), default=["approval.requested"] if not admin else None)
        picked_models = st.multiselect("Only these models (none: all)", models, key="notify_models")
        tiers = st.multiselect("Only these risk tiers (none: all)", RISK_TIERS, key="notify_tiers")
        if st.form_submit_button("Add" if admin else "Subscribe", type="primary", key="notify_add_submit"):
            try:
                h = hooks.create_hook(store, me, url, events, secret=secret or None, models=picked_models or None,
                                      tiers=tiers or None, format=None if (url or "").startswith("mailto:") else fmt)
            except CoreError as e:
                st.error(str(e))
            else:
                _done(f"Hook {h.id} added: {h.url} receives {', '.join(h.events)}.")

with test_tab:
    if mine:
        chosen = st.selectbox("Hook", [h.id for h in mine], key="notify_test_id",
                              format_func=lambda i: next(f"{h.id}: {h.url}" for h in mine if h.id == i))
        if st.button("Send a test event", key="notify_test_submit"):
            session.release_store()  # a request to a slow receiver must not hold the store
            try:
                d = deliver.send_test(store, me, chosen)
            except CoreError as e:
                st.error(str(e))
            else:
                (st.success if d.status == "delivered" else st.warning)(
                    f"Test delivery {d.id}: {d.status}" + (f" (HTTP {d.response_code})" if d.response_code else "")
                    + (f"; {d.last_error}" if d.last_error and d.status != "delivered" else "") + ".")
    else:
        st.caption("No hook to test yet.")
    if st.button("Deliver what is pending now", key="notify_deliver_submit"):
        session.release_store()
        try:
            r = deliver.deliver(store, me)
        except CoreError as e:
            st.error(str(e))
        else:
            st.info(f"Delivered {r.delivered}; {r.failed_attempts} failed attempt(s); {r.pending} pending.")

with log_tab:
    try:
        log = hooks.deliveries(store, me, limit=200)
    except CoreError as e:
        st.error(str(e))
        log = []
    if log:
        st.dataframe([{"Id": d.id, "Hook": d.hook_id, "Event": d.event,
                       "Model": f"{d.model}:{d.version}" if d.model else "", "Status": d.status,
                       "Attempts": d.attempts, "Response": d.response_code, "Error": d.last_error or "",
                       "Created (UTC)": d.created_at, "Delivered (UTC)": d.delivered_at} for d in log],
                     hide_index=True, key="notify_log", width="stretch")
        again = [d.id for d in log if d.status in ("failed", "delivered")]
        if again:
            pick = st.selectbox("Redeliver", again, key="notify_redeliver_id")
            if st.button("Redeliver", key="notify_redeliver_submit"):
                try:
                    hooks.redeliver(store, me, pick)
                except CoreError as e:
                    st.error(str(e))
                else:
                    _done(f"Delivery {pick} is queued again, with the same idempotency id.")
    else:
        st.caption("No deliveries yet.")
