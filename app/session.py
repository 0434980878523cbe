"""The store and the current person for a page run.

With no identity provider configured the app runs in demo mode: a picker in
the sidebar chooses one of the store's people, and a banner says so.
"""

from __future__ import annotations

import streamlit as st

from core.errors import CoreError
from core.identity import ROLE_LABELS, Identity, identity_for
from core.store import Store

DEMO_KEY = "demo_user"


def store() -> Store:
    return Store()


@st.cache_data(ttl=10, show_spinner=False)
def _known_people(db_path: str) -> list[tuple[str, list[str]]]:
    from core import users

    s = store()
    return [(u.email, u.roles) for u in users.list_users(s)]


def sidebar_identity() -> Identity | None:
    """The acting person (demo picker), with the banner and sidebar summary."""
    s = store()
    st.warning("**Demo mode**: no identity provider is configured, so you pick who you are. "
               "Do not use demo mode in production.", icon=":material/theater_comedy:")
    try:
        people = _known_people(str(s.db_path))
    except CoreError as e:
        st.sidebar.error(str(e))
        return None
    if not people:
        st.sidebar.info("Nobody holds a role in this store yet. Run `modelgov demo` for the demo store, "
                        "or `modelgov init --admin EMAIL` to start your own.")
        return None
    emails = [e for e, _ in people]
    labels = {e: f"{e} · {', '.join(ROLE_LABELS[r].split(' (')[0] for r in roles)}" for e, roles in people}
    if st.session_state.get(DEMO_KEY) not in emails:
        st.session_state[DEMO_KEY] = emails[0]
    email = st.sidebar.selectbox("Acting as (demo)", emails, key=DEMO_KEY, format_func=labels.get)
    try:
        me = identity_for(s, email)
    except CoreError as e:
        st.sidebar.error(str(e))
        return None
    st.sidebar.caption("Roles: " + (", ".join(ROLE_LABELS[r] for r in sorted(me.roles)) or "none"))
    st.session_state["identity"] = me
    return me


def current() -> Identity | None:
    return st.session_state.get("identity")


def no_role_page() -> None:
    st.title("No access yet")
    st.info("You are signed in but hold no role in ModelGov. Ask an administrator to grant you one "
            "(viewer, data scientist, risk officer or admin).")


def guard(permission: str) -> Identity:
    """The current person, or a refusal and a stop when they lack `permission`."""
    from core.identity import allowed

    me = current()
    if not allowed(me, permission):
        st.error("You do not have access to this page. Ask an administrator for the role it needs.")
        st.stop()
    return me
