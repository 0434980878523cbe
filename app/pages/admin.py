"""Administration: people and their roles, grants and revocations, sign-in settings, the permission matrix."""

import pandas as pd
import streamlit as st

from app import session
from core import auth, users
from core.errors import CoreError
from core.identity import ROLE_LABELS, PERSON_ROLES, permission_matrix

me = session.guard("manage-users")
store = session.store()
st.title("Administration")

people_tab, access_tab, matrix_tab, history_tab = st.tabs(
    ["People and roles", "Sign-in", "Permission matrix", "History"])


def _done(message: str) -> None:
    """Show `message` after a rerun, so the table above already includes the change."""
    session._known_people.clear()
    st.session_state["admin_flash"] = message
    st.rerun()


with people_tab:
    flash = st.session_state.pop("admin_flash", None)
    if flash:
        st.success(flash)
    try:
        people = users.list_users(store)
    except CoreError as e:
        st.error(str(e))
        people = []
    if people:
        st.dataframe(
            [{"Person": u.email, **{ROLE_LABELS[r]: ("yes" if r in u.roles else "") for r in PERSON_ROLES},
              "First granted": u.granted_at} for u in people],
            hide_index=True, key="admin_people", width="stretch")
        st.caption("Roles granted in ModelGov. Roles a person gets from the identity provider's groups "
                   "are added when they sign in and are not listed here.")
    else:
        st.info("Nobody holds a granted role yet. Grant the first one below.")
    try:
        seen = auth.recent_sign_ins(store, me)
    except CoreError as e:
        st.error(str(e))
        seen = []
    if seen:
        with st.expander(f"Signed in so far: {len(seen)} person(s), with the roles of their last sign-in",
                         key="admin_seen_expander"):
            st.dataframe([{"Person": s.email, "Last sign-in (UTC)": s.last_sign_in, "Sign-ins": s.sign_ins,
                           "Roles": ", ".join(s.roles) or "none",
                           "From the identity provider": ", ".join(s.from_provider)} for s in seen],
                         hide_index=True, key="admin_seen", width="stretch")

    grant_col, revoke_col = st.columns(2)
    with grant_col:
        st.subheader("Grant a role")
        with st.form("admin_grant_form", clear_on_submit=True):
            email = st.text_input("E-mail", key="admin_grant_email", placeholder="ada@example.com")
            role = st.selectbox("Role", PERSON_ROLES, key="admin_grant_role", format_func=ROLE_LABELS.get)
            if st.form_submit_button("Grant", type="primary", key="admin_grant_submit"):
                try:
                    changed = users.grant_role(store, me, email, role)
                except CoreError as e:
                    st.error(str(e))
                else:
                    held_before = "now holds" if changed else "already held"
                    _done(f"{email.strip().lower()} {held_before} the role {ROLE_LABELS[role]}.")
    with revoke_col:
        st.subheader("Revoke a role")
        if not people:
            st.caption("Nobody to revoke a role from.")
        else:
            who = st.selectbox("Person", [u.email for u in people], key="admin_revoke_email")
            held = next((u.roles for u in people if u.email == who), [])
            role = st.selectbox("Role", held, key="admin_revoke_role", format_func=ROLE_LABELS.get)
            if who == me.email and role == "admin":
                st.caption("This is your own administrator role: after revoking it you lose this page.")
            if st.button("Revoke", key="admin_revoke_submit", disabled=not role):
                try:
                    users.revoke_role(store, me, who, role)
                except CoreError as e:
                    st.error(str(e))
                else:
                    _done(f"{who} no longer holds the role {ROLE_LABELS[role]}.")

with access_tab:
    mode = session.auth_mode()
    if mode == "oidc":
        st.write("Sign-in: OpenID Connect, provider(s) " + ", ".join(session.provider_names()) + ".")
    else:
        st.warning("Demo mode: no identity provider is configured in .streamlit/secrets.toml "
                   "(see docs/authentication.md).")
    try:
        settings = session.auth_settings()
    except CoreError as e:
        st.error(str(e))
        settings = None
    if settings is not None:
        st.write(f"Roles are read from the ID-token claim `{settings.roles_claim}`: a group named like a "
                 "role (for example `risk_officer`) grants it.")
        if settings.group_roles:
            st.dataframe([{"Group": g, "Roles": ", ".join(sorted(r))} for g, r in settings.group_roles.items()],
                         hide_index=True, key="admin_group_roles")
        else:
            st.caption("No group mapping is configured ([modelgov.group_roles] in secrets.toml).")
    current = auth.auto_viewer(store)
    wanted = st.toggle("Give viewer to signed-in people without any role", value=current,
                       key="admin_auto_viewer",
                       help="Off by default: people without a role see only a page saying whom to ask.")
    if wanted != current:
        try:
            auth.set_auto_viewer(store, me, wanted)
        except CoreError as e:
            st.error(str(e))
        else:
            st.success("Automatic viewer is now " + ("on." if wanted else "off."))

with matrix_tab:
    rows = permission_matrix()
    frame = pd.DataFrame([{"Action": r["action"], "What it allows": r["description"],
                           **{ROLE_LABELS[role].split(" (")[0]: ("✓" if r[role] else "") for role in PERSON_ROLES}}
                          for r in rows])
    st.dataframe(frame, hide_index=True, key="admin_matrix", width="stretch", height=35 * (len(frame) + 1) + 3)
    st.caption("The core enforces this matrix on every action, whatever the pages show; refusals are audited.")

with history_tab:
    try:
        events = users.access_history(store, me)
    except CoreError as e:
        st.error(str(e))
        events = []
    if events:
        st.dataframe([{"When (UTC)": e.ts, "Who": e.actor, "What": e.action, "Whom": e.person,
                       "Outcome": e.outcome, "Detail": e.detail} for e in events],
                     hide_index=True, key="admin_history", width="stretch")
    else:
        st.info("No grant or revocation recorded yet.")
