"""Demo mode's person picker: who a run acts as before and after someone is picked, and the browser cookie that
keeps the pick across a refresh and new tabs.

Used by `app.session` only when no identity provider is configured. The pick carries no authority beyond demo mode,
where the picker offers everyone anyway.
"""

from __future__ import annotations

import json
from urllib.parse import quote, unquote

import streamlit as st

from core.identity import VIEWER

DEMO_KEY = "demo_user"         # the picker's widget key (tests and pages may set it before a run)
PERSON_KEY = "demo_person"     # the chosen person, kept outside widget state (see choice)
DEMO_COOKIE = "modelgov_demo_person"
COOKIE_SENT_KEY = "demo_cookie_sent"  # set once this session has sent the browser a demo-person cookie


def least_privileged(people: list[tuple[str, list[str]]]) -> str | None:
    """The person a demo run acts as until someone is chosen: one who holds `viewer` and nothing else."""
    return next((email for email, roles in sorted(people) if set(roles) == {VIEWER}), None)


def cookie_person() -> str | None:
    try:
        value = st.context.cookies.get(DEMO_COOKIE)
    except Exception:  # no browser behind this run (AppTest, bare mode)
        return None
    return unquote(value) if value else None


def choice(people: list[tuple[str, list[str]]]) -> str | None:
    """Who this run acts as, set as the picker's value before the picker is drawn.

    The picker's own value wins (a pick, or a value a test or page set). Streamlit
    drops widget values on `st.switch_page` (the click-through from Inventory),
    so the choice is also kept under PERSON_KEY, plain session state it never
    drops; a refresh or a new tab starts a new session, which finds the choice in
    the browser's cookie. Anything not naming one of the store's people is
    ignored, and then the run acts as the least-privileged person.
    """
    emails = [e for e, _ in people]
    picked = st.session_state.get(DEMO_KEY)
    if picked in emails:
        return picked
    for candidate in (st.session_state.get(PERSON_KEY), cookie_person(), least_privileged(people)):
        if candidate in emails:
            st.session_state[DEMO_KEY] = candidate
            return candidate
    st.session_state.pop(DEMO_KEY, None)
    return None


def remember_in_browser(email: str) -> None:
    """Write the demo person into a session cookie of this site, for a refresh and new tabs.

    The cookie carries no authority: it is read only in demo mode, where the
    picker offers everyone anyway, and only when it names one of the store's people.
    """
    if cookie_person() == email and not st.session_state.get(COOKIE_SENT_KEY):
        # The browser came with this very cookie and this session has not changed it: no script to send, and none
        # for the browser to load and run before the page counts as drawn. Once a session has sent one, every run
        # sends it again, so a pick whose run was cut short still ends in the cookie.
        return
    st.session_state[COOKIE_SENT_KEY] = True
    cookie = f"{DEMO_COOKIE}={quote(email, safe='@')}; Path=/; SameSite=Strict"
    st.sidebar.html(f"<script>document.cookie = {json.dumps(cookie)};</script>", unsafe_allow_javascript=True)


def picker(people: list[tuple[str, list[str]]], labels: dict[str, str]) -> str | None:
    """Draw the sidebar's person picker on the person `choice` found; the e-mail address picked, or None."""
    chosen = choice(people)
    email = st.sidebar.selectbox("Acting as (demo)", [e for e, _ in people], key=DEMO_KEY,
                                 index=None if chosen is None else 0, format_func=labels.get,
                                 placeholder="Choose who you are")
    if email is not None:
        st.session_state[PERSON_KEY] = email
    return email
