"""The store and the acting person for a page run.

How a run goes is decided on every run from the secrets, by `core.auth.sign_in_config`:

- "oidc": an `[auth]` section configures an OpenID Connect provider; people sign
  in with `st.login`; the person is the token's verified e-mail address and the
  roles come from the token's roles claim plus the grants in the store;
- "demo": no secrets file, or one without `[auth]` and `[modelgov]`; a picker in
  the sidebar chooses one of the store's people and a banner says so on every page;
- "refused": `MODELGOV_REQUIRE_AUTH=1` but no provider is configured;
- "broken": sign-in was intended (an `[auth]` or `[modelgov]` section, or a
  secrets file that cannot be read) but its configuration has a problem.

"refused" and "broken" show one page naming what to do, and nothing else.

Imports `app.navigation` (the page list) and `app.demo_person` (demo mode's picker and cookie), which import
nothing from `app/`.
"""

from __future__ import annotations

import os
import re
import threading
import tomllib
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import streamlit as st
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from app import demo_person, navigation
from core import auth
from core.errors import CoreError
from core.identity import PERMISSIONS, ROLE_LABELS, Identity, allowed, identity_for
from core.store import Store

STATE_KEY = "auth_state"  # "demo" | "demo_unchosen" | "signed_in" | "signed_out" | "no_role" | "refused"
#                           | "broken" | "problem"


_stores: dict[tuple, Store] = {}


def store() -> Store:
    """The store the settings name, one `Store` per process for the same settings.

    One object, so that every unit of work of a run finds the connection `held_store()` holds open for it (a
    `Store` keeps that per thread) instead of opening the file again. The settings are read on every call, so
    a changed `MODELGOV_*` setting (a test's, or another home) gets its own store.
    """
    key = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("MODELGOV_")))
    found = _stores.get(key)
    if found is None:
        found = _stores.setdefault(key, Store())
    return found


_held = threading.local()


@contextmanager
def held_store() -> Iterator[None]:
    """Keep the store's database open in this process while one run draws the page.

    Opening a DuckDB file builds a database instance (≈30–70 ms here); a page asks the store a dozen or more
    times. The run holds one connection (`Store.session()`), and every unit of work of the run takes a cursor of it
    instead of opening the file again.
    Another process waits for the lock only while a run draws the page, as it waits for any unit of work;
    before long work (computing an explanation, a comparison, an evidence pack) a page calls `release_store()`.
    """
    held = ExitStack()
    try:
        held.enter_context(store().session())
    except CoreError:
        pass  # the page says what is wrong with the store when it opens it itself
    _held.stack = held
    try:
        with held:
            yield
    finally:
        _held.stack = None


def release_store() -> None:
    """Let other processes in before long work: this run opens the store per unit of work from here on."""
    held = getattr(_held, "stack", None)
    if held is not None:
        held.close()


def configure_page() -> None:
    st.set_page_config(page_title="ModelGov", page_icon=":material/verified_user:", layout="wide")


@contextmanager
def _as_entry_script() -> Iterator[None]:
    """Draw widgets with the ids they get when Streamlit runs `main.py` itself.

    Streamlit puts the running script's hash into every widget id. Because
    `app/pages/` exists, the first run of a fresh server process (and every
    AppTest run) goes through Streamlit's legacy pages-directory mode, which
    wraps `main.py` as a page under another hash, or runs a deep-linked page
    file directly. The person picker drawn in such a run got an id that no later
    run uses, so the next run drew a second picker holding its default and the
    person picked in the first one was lost: the browser journey's flaky pick.
    Under the entry script's own hash the picker keeps one id in every run.
    """
    ctx = get_script_run_ctx()
    if ctx is None:  # bare mode: no widget ids to keep stable
        yield
        return
    with ctx.run_with_active_hash(ctx.pages_manager.main_script_hash):
        yield


def shell() -> st.Page | None:
    """Sign-in, sidebar and menu for this run; the page to run, or None when a gate page was shown.

    Called once per run, by `main.py`, or by `guard()` when Streamlit runs a
    page file directly.
    """
    with _as_entry_script():
        configure_page()
        me = sidebar_identity()
        page = gate()
        if page is not None:
            # Signed out, refused, misconfigured or no role: this page and nothing else, whatever the URL.
            st.navigation(navigation.gate_pages(page), position="hidden")
            page()
            return None
        return st.navigation(navigation.pages_for(me, no_role_page))


def run_page(page: st.Page) -> None:
    """Run the page `st.navigation` resolved, or show a refusal when the person may not open it."""
    spec = navigation.spec_of(page)
    if spec is not None and not allowed(current(), spec.permission):
        refusal(spec.title, spec.permission)
        return
    page.run()
    _deliver_notifications()


def _deliver_notifications() -> None:
    """Send what this run's actions put in the outbox, in a thread (never waited for, never failing the page).

    A page that changed something reruns (st.rerun) and this runs at the end of that run; it costs one small read
    of the held store when nothing waits."""
    me = current()
    if me is None or not allowed(me, "view"):
        return
    from core.notify import deliver  # only here: the page runs without it

    try:
        deliver.deliver_in_background(store(), me)
    except CoreError:
        return  # the delivery log and the next run say what went wrong


# -- configuration -----------------------------------------------------------------------

def _unreadable_reason(error: BaseException) -> str:
    cause = error.__cause__ or error
    if isinstance(cause, tomllib.TOMLDecodeError):
        return f"it is not valid TOML: {cause}"
    if isinstance(cause, PermissionError):
        return "permission denied"
    if isinstance(cause, UnicodeDecodeError):
        return "it is not UTF-8 text"
    return type(cause).__name__


def _read_secrets() -> tuple[dict[str, Any] | None, str]:
    """The parsed secrets (None when there is no secrets file) and why an existing one cannot be read."""
    try:
        return st.secrets.to_dict(), ""
    except (OSError, ValueError) as e:  # Streamlit raises one error for a missing and a broken file
        from streamlit import config

        if not any(Path(p).exists() for p in config.get_option("secrets.files")):
            return None, ""
        return None, _unreadable_reason(e)


def sign_in_config() -> auth.SignInConfig:
    secrets, unreadable = _read_secrets()
    return auth.sign_in_config(secrets, unreadable=unreadable)


def provider_names() -> list[str]:
    return list(sign_in_config().providers)


def auth_mode() -> str:
    return sign_in_config().mode


def auth_settings() -> auth.AuthSettings:
    return sign_in_config().settings or auth.AuthSettings()


# -- who is acting -----------------------------------------------------------------------

def _short(role: str) -> str:
    return ROLE_LABELS[role].split(" (")[0]


def plain(text: str) -> str:
    """`text` for st.markdown shown as written: no links, images, emphasis, directives or HTML."""
    return re.sub(r"([\\`*_{}\[\]()<>#+\-.!|~:$&=])", r"\\\1", text)


@st.cache_data(ttl=10, show_spinner=False)
def _known_people(db_path: str) -> list[tuple[str, list[str]]]:
    from core import users

    s = store()
    return [(u.email, u.roles) for u in users.list_users(s)]


def sidebar_identity() -> Identity | None:
    """The acting person (signed in, or picked in demo mode), with the sidebar summary.

    Sets `st.session_state[STATE_KEY]`; `gate()` then says whether any page may run.
    """
    st.session_state.pop("identity", None)
    config = sign_in_config()
    if config.mode in ("refused", "broken"):
        st.session_state[STATE_KEY] = config.mode
        st.session_state["config_problem"] = config.problem
        return None
    me = _demo_identity() if config.mode == "demo" else _signed_in_identity(config.settings)
    if me is not None:
        st.session_state["identity"] = me
    return me


def _demo_identity() -> Identity | None:
    st.session_state[STATE_KEY] = "demo"
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
    email = demo_person.picker(people, {e: f"{e} · {', '.join(_short(r) for r in roles)}" for e, roles in people})
    if email is None:
        st.session_state[STATE_KEY] = "demo_unchosen"
        return None
    try:
        me = identity_for(s, email)
    except CoreError as e:
        st.sidebar.error(str(e))
        return None
    st.sidebar.caption("Roles: " + (", ".join(ROLE_LABELS[r] for r in sorted(me.roles)) or "none"))
    demo_person.remember_in_browser(email)
    return me


def _user_claims() -> dict[str, Any]:
    try:
        return dict(st.user.to_dict())
    except Exception:  # st.user outside a session: nobody is signed in
        return {}


def _signed_in_identity(settings: auth.AuthSettings) -> Identity | None:
    claims = _user_claims()
    if not claims.get("is_logged_in"):
        st.session_state[STATE_KEY] = "signed_out"
        return None
    try:
        signed = auth.identity_from_claims(store(), claims, settings)
    except CoreError as e:
        st.session_state[STATE_KEY] = "problem"
        st.session_state["auth_problem"] = str(e)
        _sign_out_button()
        return None
    me = signed.identity
    st.session_state[STATE_KEY] = "signed_in" if me.roles else "no_role"
    if st.session_state.get("sign_in_recorded") != me.email:
        try:
            auth.record_sign_in(store(), signed)
            st.session_state["sign_in_recorded"] = me.email
        except CoreError as e:  # the store is busy: try again on the next run
            st.sidebar.caption(f"Sign-in not yet recorded: {e}")
    with st.sidebar:
        st.markdown(f"**Signed in as** {plain(me.name or me.email)}")  # the name is the person's own text
        if me.name:
            st.caption(plain(me.email))
        if me.roles:
            st.caption("Roles: " + "; ".join(f"{ROLE_LABELS[r]} · {signed.source_of(r)}" for r in sorted(me.roles)))
        else:
            st.caption("Roles: none")
    _sign_out_button()
    return me


def _sign_out_button() -> None:
    if st.sidebar.button("Sign out", key="sign_out", icon=":material/logout:"):
        for key in ("identity", STATE_KEY, "auth_problem", "sign_in_recorded"):
            st.session_state.pop(key, None)
        st.logout()  # redirects the browser to the provider's sign-out, then back here
        st.stop()


def current() -> Identity | None:
    return st.session_state.get("identity")


# -- pages that replace the app when nobody may see any page -----------------------------

def gate() -> Callable[[], None] | None:
    """The only page to show when the run may show nothing else (signed out, refused, a problem)."""
    return {"refused": refused_page, "broken": broken_page, "signed_out": sign_in_page,
            "problem": problem_page, "no_role": no_role_page,
            "demo_unchosen": choose_page}.get(st.session_state.get(STATE_KEY))


def broken_page() -> None:
    st.title("Sign-in is misconfigured")
    st.error(st.session_state.get("config_problem") or "The sign-in configuration could not be read.",
             icon=":material/gpp_bad:")
    st.caption("ModelGov shows nothing else until an operator corrects the configuration; without a working "
               "sign-in nobody can act, not even as a demo person.")


def choose_page() -> None:
    st.title("Who are you in this demo?")
    st.info("Demo mode acts as one of the store's people, and nobody here holds only the viewer role to "
            "start with. Choose a person under **Acting as (demo)** in the sidebar.", icon=":material/info:")


def refused_page() -> None:
    st.title("Sign-in is not configured")
    st.error("ModelGov refuses to start: MODELGOV_REQUIRE_AUTH=1 is set but no identity provider is "
             "configured. Add an [auth] section to .streamlit/secrets.toml (see docs/authentication.md) "
             "or unset MODELGOV_REQUIRE_AUTH to run the demo.", icon=":material/gpp_bad:")


def sign_in_page() -> None:
    st.title("ModelGov")
    st.write("Model governance: inventory, health, drift, explanations, lineage and approvals. "
             "Sign in with your company account to continue.")
    names = provider_names()
    for name in names:
        label = "Sign in" if name == "default" else f"Sign in with {name}"
        if st.button(label, key=f"sign_in_{name}", type="primary", icon=":material/login:"):
            st.login(None if name == "default" else name)


def problem_page() -> None:
    st.title("Sign-in problem")
    st.error(st.session_state.get("auth_problem") or "Your sign-in could not be read.", icon=":material/gpp_bad:")
    st.write("Sign out and try again, or show this message to your administrator.")


def _admins() -> list[str]:
    try:
        return [e for e, roles in _known_people(str(store().db_path)) if "admin" in roles]
    except CoreError:
        return []


def no_role_page() -> None:
    me = current()
    if st.session_state.get(STATE_KEY) == "demo":
        st.title("Nobody to act as")
        st.info("Demo mode acts as one of the store's people, and nobody holds a role in this store yet. "
                "Run `modelgov demo` for the demo store, or `modelgov init --admin EMAIL` to start your own.",
                icon=":material/info:")
        return
    st.title("No access yet")
    who = f"You are signed in as {plain(me.email)}, but" if me else "You are signed in, but"
    st.info(f"{who} you hold no role in ModelGov, so there is nothing you may see yet.",
            icon=":material/lock:")
    admins = _admins()
    if admins:
        st.write("Ask an administrator to grant you a role (viewer, data scientist, risk officer or admin): "
                 + ", ".join(admins) + ".")
    else:
        st.write("Ask an administrator to grant you a role (viewer, data scientist, risk officer or admin).")
    st.caption("If your company manages ModelGov roles through groups, ask to be added to the group that "
               "carries the role; it takes effect the next time you sign in.")


def refusal_message(permission: str) -> str:
    need = " or ".join(_short(r) for r in sorted(PERMISSIONS[permission].roles))
    return f"You do not have access to this page: it needs the role {need}. Ask an administrator for it."


def refusal(title: str, permission: str) -> None:
    """What a page opened by URL without the role shows instead of its content."""
    st.title(title)
    st.error(refusal_message(permission), icon=":material/block:")


def guard(permission: str) -> Identity:
    """The current person, or a refusal and a stop when they lack `permission`.

    `main.py` already refuses a forbidden page before running it; this second
    check covers a page script run without `main.py`: because `app/pages/`
    exists, Streamlit runs `app/pages/x.py` by itself for a deep link before
    any run has called `st.navigation` (the first request to a fresh server,
    and every `AppTest.switch_page`). Then the shell (sign-in, banner, gates and
    the person's menu in place of Streamlit's list of files) is drawn here, so
    such a run looks like one through `main.py`.
    """
    if _running_without_main():
        # Run the page the shell resolved, inside the held store, instead of the rest of this file as it is.
        with held_store():
            page = shell()
            if page is not None:
                run_page(page)
        st.stop()
    me = current()
    if not allowed(me, permission):
        st.error(refusal_message(permission), icon=":material/block:")
        st.stop()
    return me


def _running_without_main() -> bool:
    """Whether this run executes a page file directly (Streamlit's pages-directory mode).

    `st.navigation` switches that mode off for the whole process, so once
    `main.py` has run in this process it is False, and then `main.py` ran first.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without it has no pages-directory mode
        return False
    return bool(PagesManager.uses_pages_directory)
