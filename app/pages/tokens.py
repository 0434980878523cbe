"""Access tokens for the HTTP API: your own (create, list, revoke); an administrator's for service accounts."""

import streamlit as st

from app import session
from core import tokens
from core.errors import CoreError
from core.identity import ROLE_LABELS, allowed

me = session.guard("view")
store = session.store()
st.title("Access tokens")
st.caption("A token lets a script, a notebook or a CI pipeline call the ModelGov API as its owner "
           "(docs/api.md). It is shown once, stored only as a hash, and never holds more roles than its owner.")

made = st.session_state.pop("tokens_made", None)
if made:
    st.success(f"Token {made['id']} for {made['owner']} ({', '.join(made['scope'])}), expires {made['expires_at'][:10]}."
               " Copy it now: it is not shown again.")
    st.code(made["token"], language=None)
flash = st.session_state.pop("tokens_flash", None)
if flash:
    st.success(flash)

try:
    mine = tokens.list_tokens(store, me)
except CoreError as e:
    st.error(str(e))
    mine = []
if mine:
    st.dataframe([{"Id": t.id, "Owner": t.owner, "Kind": t.kind, "Roles": ", ".join(t.scope), "Status": t.status,
                   "Expires (UTC)": t.expires_at, "Last used (UTC)": t.last_used_at, "Description": t.description}
                  for t in mine], hide_index=True, key="tokens_table", width="stretch")
else:
    st.info("No token yet. Create one below, then set MODELGOV_URL and MODELGOV_TOKEN where the script runs.")


def _create(owner: str, scope: list[str], days: int, description: str, service: bool) -> None:
    try:
        if service:
            tokens.create_service_account(store, me, owner, description)
        new = tokens.create_token(store, me, owner, scope or None, int(days), description)
    except CoreError as e:
        st.error(str(e))
    else:
        st.session_state["tokens_made"] = new.as_dict()
        st.rerun()


create_col, revoke_col = st.columns(2)
with create_col:
    st.subheader("Create a token for yourself")
    with st.form("tokens_create_form", clear_on_submit=True):
        scope = st.multiselect("Roles", sorted(me.roles), default=sorted(me.roles), key="tokens_scope",
                               format_func=ROLE_LABELS.get)
        days = st.number_input("Expires after (days)", 1, tokens.MAX_DAYS, tokens.DEFAULT_DAYS, key="tokens_days")
        description = st.text_input("What it is for", key="tokens_description", placeholder="nightly scoring job")
        if st.form_submit_button("Create token", type="primary", key="tokens_create_submit"):
            _create(me.email, scope, days, description, False)
    if allowed(me, "manage-users"):
        st.subheader("Create a token for a service account")
        with st.form("tokens_service_form", clear_on_submit=True):
            owner = st.text_input("Service account e-mail", key="tokens_service_owner",
                                  placeholder="ci-pipeline@svc.example.com")
            days = st.number_input("Expires after (days)", 1, tokens.MAX_DAYS, tokens.DEFAULT_DAYS,
                                   key="tokens_service_days")
            description = st.text_input("What it is for", key="tokens_service_description")
            st.caption("It carries the roles granted to that account (never risk officer or administrator: you "
                       "hold the token). Grant the account its role on the Admin page first.")
            if st.form_submit_button("Create service token", key="tokens_service_submit"):
                _create(owner, [], days, description, True)
with revoke_col:
    st.subheader("Revoke a token")
    active = [t for t in mine if t.status == "active"]
    if not active:
        st.caption("No active token.")
    else:
        chosen = st.selectbox("Token", [t.id for t in active], key="tokens_revoke_id",
                              format_func=lambda i: next(f"{t.id} ({t.owner}, {t.description or 'no description'})"
                                                         for t in active if t.id == i))
        if st.button("Revoke", key="tokens_revoke_submit"):
            try:
                tokens.revoke_token(store, me, chosen)
            except CoreError as e:
                st.error(str(e))
            else:
                st.session_state["tokens_flash"] = f"Token {chosen} is revoked; it stops working at once."
                st.rerun()
