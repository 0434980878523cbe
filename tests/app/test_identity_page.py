"""AppTest: each role sees exactly its pages; sign-in gates; forbidden pages refused; the Admin page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import streamlit
from streamlit.testing.v1 import AppTest

from app.navigation import PAGES, specs_for
from core import auth, users
from core.identity import identity_for, permission_matrix

ROOT = Path(__file__).resolve().parents[2]
MAIN = str(ROOT / "app/main.py")
PROVIDER = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "x" * 32,
            "client_id": "modelgov", "client_secret": "s3cret",
            "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}


@pytest.fixture
def menus(monkeypatch):
    """Spy on st.navigation: the titles of the visible and hidden pages of each call."""
    calls: list[dict[str, list[str]]] = []
    real = streamlit.navigation

    def spy(pages, **kwargs):
        flat = [p for group in (pages.values() if isinstance(pages, dict) else [pages]) for p in group]
        calls.append({"visible": [p.title for p in flat if p.visibility == "visible"],
                      "hidden": [p.title for p in flat if p.visibility == "hidden"],
                      "position": kwargs.get("position", "sidebar")})
        return real(pages, **kwargs)

    monkeypatch.setattr(streamlit, "navigation", spy)
    return calls


@pytest.fixture
def app(store, monkeypatch):
    monkeypatch.setenv("MODELGOV_HOME", str(store.home))
    monkeypatch.delenv("MODELGOV_REQUIRE_AUTH", raising=False)
    monkeypatch.delenv("MODELGOV_ROLES_CLAIM", raising=False)
    return AppTest.from_file(MAIN, default_timeout=30)


def _texts(at) -> str:
    """The text shown, with Markdown's backslash escapes (of names and addresses) read as the characters."""
    parts = [e.value for kind in (at.title, at.markdown, at.error, at.info, at.warning, at.caption) for e in kind]
    return re.sub(r"\\(.)", r"\1", "\n".join(str(p) for p in parts))


@pytest.mark.parametrize("who", ["admin", "ds", "ro", "viewer"])
def test_each_role_sees_exactly_its_pages_in_demo_mode(app, people, menus, who):
    app.session_state["demo_user"] = people[who].email
    app.run()
    assert not app.exception
    expected = [s.title for s in specs_for(people[who])]
    assert menus[-1]["visible"] == expected
    assert sorted(menus[-1]["hidden"]) == sorted(s.title for s in PAGES if s.title not in expected)
    assert "Demo mode" in _texts(app)
    assert ("Admin" in expected) == (who == "admin")


@pytest.mark.parametrize("who", ["ds", "ro", "viewer"])
def test_a_forbidden_page_opened_directly_shows_a_refusal_not_its_content(app, people, who):
    app.session_state["demo_user"] = people[who].email
    app.run()
    app.switch_page("pages/admin.py").run()
    assert not app.exception
    assert any("You do not have access to this page" in e.value for e in app.error)
    assert "Grant a role" not in _texts(app) and not app.tabs


def test_the_demo_banner_is_on_every_page(app, people):
    app.session_state["demo_user"] = people["admin"].email
    app.run()
    for spec in PAGES:
        app.switch_page(spec.path).run()
        assert not app.exception, spec.path
        assert any("Demo mode" in w.value for w in app.warning) or "Demo mode" in _texts(app), spec.path


def test_require_auth_without_a_provider_refuses_and_shows_nothing_else(app, monkeypatch, people, menus):
    monkeypatch.setenv("MODELGOV_REQUIRE_AUTH", "1")
    app.session_state["demo_user"] = people["admin"].email
    app.run()
    assert not app.exception
    assert [t.value for t in app.title] == ["Sign-in is not configured"]
    assert "MODELGOV_REQUIRE_AUTH=1" in app.error[0].value
    assert "Demo mode" not in _texts(app) and not app.selectbox and not app.sidebar.children
    assert menus[-1]["visible"] == ["ModelGov"] and menus[-1]["position"] == "hidden"
    app.switch_page("pages/admin.py").run()
    assert "Grant a role" not in _texts(app)


def test_a_provider_switches_demo_mode_off_and_asks_to_sign_in(app, people):
    app.secrets = {"auth": PROVIDER}
    app.user = {"is_logged_in": False}
    app.session_state["demo_user"] = people["admin"].email
    app.run()
    assert not app.exception
    assert "Demo mode" not in _texts(app) and not app.selectbox
    assert [b.label for b in app.button] == ["Sign in"]


def test_a_signed_in_person_without_a_role_sees_only_whom_to_ask(app, menus):
    app.secrets = {"auth": PROVIDER}
    app.user = {"is_logged_in": True, "email_verified": True, "email": "newcomer@example.com", "name": "New Comer",
                "groups": ["finance"]}
    app.run()
    assert not app.exception
    assert [t.value for t in app.title] == ["No access yet"]
    text = _texts(app)
    assert "newcomer@example.com" in text and "alan@example.com" in text  # the admin to ask
    assert menus[-1]["visible"] == ["ModelGov"]  # no page of the app is offered
    assert [b.label for b in app.sidebar.button] == ["Sign out"]


def test_auto_viewer_lets_people_without_a_role_in_as_viewers(app, store, people, menus):
    auth.set_auto_viewer(store, people["admin"], True)
    app.secrets = {"auth": PROVIDER}
    app.user = {"is_logged_in": True, "email_verified": True, "email": "newcomer@example.com", "groups": []}
    app.run()
    assert not app.exception
    assert menus[-1]["visible"] == [s.title for s in PAGES if s.permission == "view"]
    assert "automatic viewer" in _texts(app)


@pytest.mark.parametrize("groups, grant, expected_role", [
    (["risk_officer"], None, "risk_officer"),
    (["viewer"], None, "viewer"),
    ([], "admin", "admin"),
])
def test_signed_in_roles_come_from_claims_and_grants(app, store, people, menus, groups, grant, expected_role):
    email = "someone@corp.example"
    if grant:
        users.grant_role(store, people["admin"], email, grant)
    app.secrets = {"auth": PROVIDER}
    app.user = {"is_logged_in": True, "email_verified": True, "email": email, "name": "Some One", "groups": groups}
    app.run()
    assert not app.exception
    me = identity_for(store, email, extra_roles=frozenset({expected_role}))
    assert menus[-1]["visible"] == [s.title for s in specs_for(me)]
    text = _texts(app)
    assert "Some One" in text and "Demo mode" not in text
    assert [b.label for b in app.sidebar.button] == ["Sign out"]


def test_the_roles_claim_can_be_renamed(app, monkeypatch, menus):
    monkeypatch.setenv("MODELGOV_ROLES_CLAIM", "roles")
    app.secrets = {"auth": PROVIDER, "modelgov": {"group_roles": {"ModelGov Admins": "admin"}}}
    app.user = {"is_logged_in": True, "email_verified": True, "email": "boss@corp.example", "groups": ["viewer"],
                "roles": ["ModelGov Admins"]}
    app.run()
    assert not app.exception
    assert "Admin" in menus[-1]["visible"]


def test_a_token_without_an_email_gets_a_clear_problem_page(app):
    app.secrets = {"auth": PROVIDER}
    app.user = {"is_logged_in": True, "email_verified": True, "sub": "12345", "groups": ["admin"]}
    app.run()
    assert not app.exception
    assert [t.value for t in app.title] == ["Sign-in problem"]
    assert "no e-mail address" in app.error[0].value


# -- the Admin page ---------------------------------------------------------------------------

def _tab(at, label):
    return next(t for t in at.tabs if t.label == label)


def _admin_page(app, people):
    app.session_state["demo_user"] = people["admin"].email
    app.run()
    app.switch_page("pages/admin.py").run()
    assert not app.exception
    return app


def test_admin_page_lists_people_and_shows_the_matrix(app, store, people):
    auth.record_sign_in(store, auth.identity_from_claims(store, {"email": "idp@example.com", "email_verified": True,
                                                                 "groups": ["viewer"]}))
    at = _admin_page(app, people)
    seen = _tab(at, "People and roles").expander[0].dataframe[0].value
    assert list(seen["Person"]) == ["idp@example.com"] and list(seen["From the identity provider"]) == ["viewer"]
    assert [t.value for t in at.title] == ["Administration"]
    people_table = _tab(at, "People and roles").dataframe[0].value
    assert set(people_table["Person"]) == {e.email for k, e in people.items() if k != "nobody"}
    matrix = _tab(at, "Permission matrix").dataframe[0].value
    assert list(matrix["Action"]) == [p["action"] for p in permission_matrix()]
    assert matrix.set_index("Action").loc["manage-users", "Administrator"] == "✓"
    assert matrix.set_index("Action").loc["manage-users", "Viewer"] == ""


def test_admin_page_grants_and_revokes_through_the_core(app, store, people):
    at = _admin_page(app, people)
    at.text_input(key="admin_grant_email").input("newbie@example.com")
    at.selectbox(key="admin_grant_role").select("data_scientist")
    at.button(key="admin_grant_submit").click().run()
    assert not at.exception
    assert any("now holds the role Data scientist" in s.value for s in at.success)
    assert identity_for(store, "newbie@example.com").roles == {"data_scientist"}

    at.selectbox(key="admin_revoke_email").select("newbie@example.com").run()
    at.selectbox(key="admin_revoke_role").select("data_scientist")
    at.button(key="admin_revoke_submit").click().run()
    assert not at.exception
    assert identity_for(store, "newbie@example.com").roles == frozenset()
    history = _tab(at, "History").dataframe[0].value
    assert list(history["What"][:2]) == ["user.revoke", "user.grant"]
    assert set(history["Who"][:2]) == {"alan@example.com"}


def test_admin_page_refuses_to_remove_the_last_admin(app, store, people):
    at = _admin_page(app, people)
    at.selectbox(key="admin_revoke_email").select("alan@example.com").run()
    at.selectbox(key="admin_revoke_role").select("admin")
    at.button(key="admin_revoke_submit").click().run()
    assert any("last administrator" in e.value for e in at.error)
    assert identity_for(store, "alan@example.com").roles == {"admin"}


def test_admin_page_turns_auto_viewer_on(app, store, people):
    at = _admin_page(app, people)
    at.toggle(key="admin_auto_viewer").set_value(True).run()
    assert not at.exception
    assert auth.auto_viewer(store)


def test_signing_out_leaves_only_the_sign_in_page_whatever_the_url(app, menus):
    app.secrets = {"auth": PROVIDER}
    app.user = {"is_logged_in": True, "email_verified": True, "email": "rita@example.com", "name": "Rita", "groups": []}
    app.run()
    assert "Signed in as" in _texts(app) and "Overview" in menus[-1]["visible"]
    # AppTest runs a page file directly once a page is chosen; stay on one so widget ids stay stable.
    app.switch_page("pages/inventory.py").run()
    assert [t.value for t in app.title][-1] == "Inventory" and "Signed in as" in _texts(app)
    app.sidebar.button(key="sign_out").click().run()  # st.logout(): the browser is sent to the provider
    assert not app.exception
    assert app.user == {"is_logged_in": False}
    app.run()  # and comes back
    assert not app.exception
    assert [b.label for b in app.button] == ["Sign in"] and "Signed in as" not in _texts(app)
    assert "Inventory" not in [t.value for t in app.title]


def test_a_session_records_one_sign_in(app, store, people):
    app.secrets = {"auth": PROVIDER}
    app.user = {"is_logged_in": True, "email_verified": True, "email": "vera@example.com", "groups": ["risk_officer"]}
    app.run()
    app.run()
    seen = auth.recent_sign_ins(store, people["admin"])
    assert [(s.email, s.sign_ins, s.roles) for s in seen] == [("vera@example.com", 1, ["risk_officer", "viewer"])]


def test_demo_mode_on_a_store_without_people_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELGOV_HOME", str(tmp_path / "empty"))
    monkeypatch.delenv("MODELGOV_REQUIRE_AUTH", raising=False)
    at = AppTest.from_file(MAIN, default_timeout=30).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Nobody to act as"]
    assert "modelgov init --admin EMAIL" in at.info[0].value and "Demo mode" in _texts(at)


# -- sign-in fails closed: each attack on the configuration or the token, refused --------------------

SECRET = "k" * 64


def _only_the_problem_page(app, menus, title="Sign-in is misconfigured"):
    assert not app.exception
    assert [t.value for t in app.title] == [title]
    assert "Demo mode" not in _texts(app) and not app.selectbox and not app.sidebar.children
    assert menus[-1]["visible"] == ["ModelGov"] and menus[-1]["position"] == "hidden"
    assert "Overview" in menus[-1]["hidden"] and "Admin" in menus[-1]["hidden"]


@pytest.mark.parametrize("secrets, words", [
    ({"auth": {k: v for k, v in PROVIDER.items() if k != "client_secret"}}, "lacks client_secret"),
    ({"auth": {k: v for k, v in PROVIDER.items() if k != "cookie_secret"}}, "lacks cookie_secret"),
    ({"auth": {"client_id": "modelgov"}}, "lacks redirect_uri and cookie_secret"),
    ({"auth": PROVIDER | {"cookie_secret": "replace-with-64-random-hex-characters"}}, "forge a sign-in cookie"),
    ({"auth": PROVIDER, "modelgov": {"groups_roles": {"Admins": "admin"}}}, "Unknown setting 'groups_roles'"),
    ({"modelgov": {"roles_claim": "groups"}}, "no [auth] section"),
])
def test_a_broken_sign_in_configuration_shows_only_the_problem_never_the_demo(app, people, menus, secrets, words):
    app.secrets = secrets
    app.session_state["demo_user"] = people["admin"].email  # what the demo picker offered before
    app.run()
    _only_the_problem_page(app, menus)
    assert words in app.error[0].value
    app.switch_page("pages/admin.py").run()  # a deep link changes nothing
    _only_the_problem_page(app, menus)
    assert "Grant a role" not in _texts(app)


@pytest.mark.parametrize("content, words", [
    ('[auth]\nredirect_uri = "http://127.0.0.1:8501/oauth2callback"\nclient_id = modelgov\n', "not valid TOML"),
    ("[auth\n", "not valid TOML"),
    (b"\xff\xfe[auth]\n", "not UTF-8 text"),
])
def test_a_secrets_file_that_does_not_parse_shows_only_the_problem(app, people, menus, tmp_path, monkeypatch,
                                                                    content, words):
    from streamlit.runtime.secrets import Secrets
    from streamlit.testing.v1.util import patch_config_options

    path = tmp_path / "secrets.toml"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    monkeypatch.setattr(streamlit, "secrets", Secrets())
    app.session_state["demo_user"] = people["admin"].email
    with patch_config_options({"secrets.files": [str(path)]}):
        app.run()
    _only_the_problem_page(app, menus)
    assert "cannot read .streamlit/secrets.toml" in app.error[0].value and words in app.error[0].value
    # Without any secrets file at all, the same app is the demo.
    path.unlink()
    monkeypatch.setattr(streamlit, "secrets", Secrets())
    with patch_config_options({"secrets.files": [str(path)]}):
        app.run()
    assert "Demo mode" in _texts(app)


@pytest.mark.parametrize("groups", [["/wiki-team/admin"], ["sharepoint-site/Admin"], ["Admin", "ADMIN "],
                                    ["/modelgov/risk_officer", "Risk-Officer"]])
def test_groups_that_merely_end_in_a_role_name_grant_nothing(app, store, menus, groups):
    app.secrets = {"auth": PROVIDER}
    app.user = {"is_logged_in": True, "email_verified": True, "email": "mallory@corp.example", "groups": groups}
    app.run()
    assert not app.exception
    assert [t.value for t in app.title] == ["No access yet"]
    assert menus[-1]["visible"] == ["ModelGov"]
    assert [(s.email, s.roles) for s in auth.recent_sign_ins(store, identity_for(store, "alan@example.com"))] == [
        ("mallory@corp.example", [])]


@pytest.mark.parametrize("claims, words", [
    ({"email": "alan@example.com", "email_verified": False}, "has not confirmed"),   # the admin's address
    ({"email": "alan@example.com"}, "has not confirmed"),
    ({"email": "alan@example.com", "email_verified": "false"}, "has not confirmed"),
    ({"preferred_username": "alan@example.com", "email_verified": True}, "sent no e-mail address"),
    ({"upn": "alan@example.com"}, "sent no e-mail address"),
])
def test_a_token_without_a_verified_email_is_refused_not_guessed(app, store, people, menus, claims, words):
    app.secrets = {"auth": PROVIDER}
    app.user = {"is_logged_in": True, "name": "Alan", "groups": ["admin"], **claims}
    app.run()
    assert not app.exception
    assert [t.value for t in app.title] == ["Sign-in problem"]
    assert words in app.error[0].value
    assert menus[-1]["visible"] == ["ModelGov"] and "Signed in as" not in _texts(app)
    assert [b.label for b in app.sidebar.button] == ["Sign out"]
    assert auth.recent_sign_ins(store, people["admin"]) == []  # nobody signed in, nothing recorded


def test_an_operator_may_accept_unverified_addresses_explicitly(app, menus):
    app.secrets = {"auth": PROVIDER, "modelgov": {"allow_unverified_email": True}}
    app.user = {"is_logged_in": True, "email": "rita@example.com", "groups": []}
    app.run()
    assert not app.exception
    assert "Approvals" in menus[-1]["visible"] and "Signed in as" in _texts(app)


def test_the_name_from_the_token_is_shown_as_text(app):
    app.secrets = {"auth": PROVIDER}
    app.user = {"is_logged_in": True, "email_verified": True, "email": "rita@example.com",
                "name": "![pixel](https://evil.example/t.png) [click](https://evil.example) :red[Boss]"}
    app.run()
    shown = next(m.value for m in app.sidebar.markdown if "Signed in as" in m.value)
    assert "](" not in shown and ":red[" not in shown and "![" not in shown
    assert re.sub(r"\\(.)", r"\1", shown).endswith(app.user["name"])


# -- demo mode: who acts until someone is chosen, and the choice surviving -----------------------------

def test_until_someone_is_chosen_the_demo_acts_as_the_viewer(app, people, menus):
    app.run()
    assert not app.exception
    assert app.sidebar.selectbox(key="demo_user").value == people["viewer"].email
    assert menus[-1]["visible"] == [s.title for s in specs_for(people["viewer"])]


def test_a_fresh_deep_link_to_approvals_does_not_show_the_queue(app, people):
    app.switch_page("pages/approvals.py").run()
    assert not app.exception
    assert any("You do not have access to this page" in e.value for e in app.error)
    assert not app.tabs and app.sidebar.selectbox(key="demo_user").value == people["viewer"].email


def test_without_a_viewer_in_the_store_the_demo_asks_who_you_are(tmp_path, monkeypatch):
    from core import users
    from core.store import Store

    home = tmp_path / "admins-only"
    users.init_store(Store(home), "boss@example.com")
    monkeypatch.setenv("MODELGOV_HOME", str(home))
    monkeypatch.delenv("MODELGOV_REQUIRE_AUTH", raising=False)
    at = AppTest.from_file(MAIN, default_timeout=30).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Who are you in this demo?"]
    assert at.sidebar.selectbox(key="demo_user").value is None
    at.sidebar.selectbox(key="demo_user").select("boss@example.com").run()
    assert [t.value for t in at.title] == ["Overview"]


def test_the_demo_person_comes_back_from_the_browser_cookie_only_if_it_names_someone(app, people, monkeypatch,
                                                                                       menus):
    from app import demo_person

    monkeypatch.setattr(demo_person, "cookie_person", lambda: people["ro"].email)
    app.run()
    assert app.sidebar.selectbox(key="demo_user").value == people["ro"].email
    assert "Approvals" in menus[-1]["visible"]
    fresh = AppTest.from_file(MAIN, default_timeout=30)
    monkeypatch.setattr(demo_person, "cookie_person", lambda: "intruder@evil.example")
    fresh.run()
    assert fresh.sidebar.selectbox(key="demo_user").value == people["viewer"].email


def _cookie_scripts(at) -> list[str]:
    return [h.proto.body for h in at.sidebar.get("html") if "document.cookie" in h.proto.body]


def test_the_demo_cookie_is_written_only_when_the_browser_does_not_hold_it_already(app, people, monkeypatch):
    """A browser that came with the person's cookie gets no script (nothing to load and run on the first load);
    one without it, or a session that picked someone else, gets the script on every run from then on."""
    from app import demo_person

    ro = people["ro"].email
    monkeypatch.setattr(demo_person, "cookie_person", lambda: ro)
    app.run()
    assert app.sidebar.selectbox(key="demo_user").value == ro and not _cookie_scripts(app)
    app.sidebar.selectbox(key="demo_user").select(people["admin"].email).run()
    assert [people["admin"].email in b for b in _cookie_scripts(app)] == [True]
    app.sidebar.selectbox(key="demo_user").select(ro).run()  # back to the cookie's person: the browser holds admin
    assert len(_cookie_scripts(app)) == 1 and ro in _cookie_scripts(app)[0]
    fresh = AppTest.from_file(MAIN, default_timeout=30)
    monkeypatch.setattr(demo_person, "cookie_person", lambda: None)
    fresh.run()
    assert len(_cookie_scripts(fresh)) == 1  # no cookie yet: the least-privileged person's is written


def test_the_demo_cookie_means_nothing_once_a_provider_is_configured(app, people, monkeypatch):
    from app import demo_person

    monkeypatch.setattr(demo_person, "cookie_person", lambda: people["admin"].email)
    app.secrets = {"auth": PROVIDER}
    app.user = {"is_logged_in": False}
    app.run()
    assert [b.label for b in app.button] == ["Sign in"] and not app.selectbox


def test_the_chosen_person_survives_the_click_through_from_inventory(demo_store, monkeypatch):
    """Inventory opens a model with st.switch_page, which drops every widget's value."""
    monkeypatch.setenv("MODELGOV_HOME", str(demo_store.home))
    monkeypatch.delenv("MODELGOV_REQUIRE_AUTH", raising=False)
    at = AppTest.from_file(MAIN, default_timeout=60).run()
    at.sidebar.selectbox(key="demo_user").select("rita@modelgov.demo").run()
    at.switch_page("pages/inventory.py").run()
    assert at.sidebar.selectbox(key="demo_user").value == "rita@modelgov.demo"
    at.selectbox(key="inv_open_choice").select("credit-default")
    at.button(key="inv_open").click().run()
    assert not at.exception
    assert [t.value for t in at.title][0] == "credit-default"
    assert at.sidebar.selectbox(key="demo_user").value == "rita@modelgov.demo"
    at.switch_page("pages/approvals.py").run()
    assert not any("You do not have access" in e.value for e in at.error)


def test_session_and_navigation_do_not_import_each_other():
    import ast

    def app_imports(name):
        tree = ast.parse((ROOT / "app" / f"{name}.py").read_text())
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "app":
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("app."):
                found.add(node.module.split(".", 1)[1])
            elif isinstance(node, ast.Import):
                found |= {a.name.split(".", 1)[1] for a in node.names if a.name.startswith("app.")}
        return found

    assert app_imports("navigation") == set()        # the leaf: the page list
    assert app_imports("demo_person") == set()       # demo mode's picker: a leaf too
    assert app_imports("session") == {"navigation", "demo_person"}  # one direction only
