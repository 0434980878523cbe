"""Sign in through a real OpenID provider (oidc-provider-mock on 127.0.0.1) in headless Chromium.

Rita is a risk officer and Vera a viewer by their ID token's `groups` claim
mapped in `[modelgov.group_roles]`; neither holds a grant in the store. Each
sees exactly the pages her roles allow, and signs out. The provider vouches for
their addresses (`email_verified`). Two attackers get real, signed tokens too:
Mallory claims the admin's address without the provider having verified it,
Sam belongs to groups whose paths merely end in role names. Neither gets in.
A broken configuration serves one page naming the problem, never the demo.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys

import pytest

from app.navigation import specs_for
from core.identity import Identity
from tests.e2e.conftest import free_port, serve_app, wait_http

RITA = {"sub": "rita@corp.example", "email": "rita@corp.example", "email_verified": True, "name": "Rita Risk",
        "groups": ["risk_officer", "everyone"]}
VERA = {"sub": "vera@corp.example", "email": "vera@corp.example", "email_verified": True, "name": "Vera View",
        "groups": ["bi-stakeholders"]}
MALLORY = {"sub": "mallory", "email": "admin@corp.example", "email_verified": False, "name": "Mallory",
           "groups": ["admin"]}
SAM = {"sub": "sam@corp.example", "email": "sam@corp.example", "email_verified": True, "name": "Sam Path",
       "groups": ["/wiki-team/admin", "sharepoint-site/Admin", "/modelgov/Risk_Officer"]}


@pytest.fixture
def provider():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port),
         *[arg for who in (RITA, VERA, MALLORY, SAM) for arg in ("--user-claims", json.dumps(who))]],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/.well-known/openid-configuration", timeout=30, proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _secrets(issuer: str) -> str:
    return f'''
[auth]
redirect_uri = "http://127.0.0.1:{{port}}/oauth2callback"
cookie_secret = "{secrets.token_hex(32)}"
client_id = "modelgov-e2e"
client_secret = "{secrets.token_hex(16)}"
server_metadata_url = "{issuer}/.well-known/openid-configuration"

[modelgov]
roles_claim = "groups"

[modelgov.group_roles]
"risk_officer" = "risk_officer"
"bi-stakeholders" = "viewer"
"admin" = "admin"
'''


def _menu(page) -> list[str]:
    links = page.locator("[data-testid='stSidebarNav'] [data-testid='stSidebarNavLink']")
    links.first.wait_for()
    # Each link's text is the icon's ligature name, then the title.
    return [t.strip().splitlines()[-1].strip() for t in links.all_inner_texts()]


def _sign_in(page, url: str, who: dict, expect: str | None = None) -> None:
    page.goto(url)
    page.get_by_role("button", name="Sign in").click()
    # The provider's authorization form lists the predefined users as buttons.
    page.get_by_role("button", name=who["sub"], exact=True).click()
    page.get_by_text(expect or f"Signed in as {who['name']}").first.wait_for()


def _sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    # The provider's end-session page asks for confirmation, then sends us back.
    page.get_by_role("button", name="End session").click()
    page.get_by_role("button", name="Sign in").wait_for()


def test_risk_officer_and_viewer_sign_in_see_their_pages_and_sign_out(store, provider, page):
    # The provider's pages load a stylesheet from a CDN; nothing here may reach the internet.
    page.route("**/cdn.jsdelivr.net/**", lambda route: route.abort())
    with serve_app(store.home, {"MODELGOV_REQUIRE_AUTH": "1"}, secrets=_secrets(provider)) as url:
        # The very first request to a fresh server, a deep link: Streamlit runs app/pages/admin.py by
        # itself then (pages-directory mode); it must still show only the sign-in page, no menu.
        page.goto(url + "/admin")
        page.get_by_role("button", name="Sign in").wait_for()
        assert page.locator("[data-testid='stSidebarNavLink']").count() == 0
        assert page.get_by_text("Grant a role").count() == 0
        page.goto(url)
        page.get_by_role("button", name="Sign in").wait_for()
        assert page.get_by_text("Demo mode").count() == 0

        _sign_in(page, url, RITA)
        expected = [s.title for s in specs_for(Identity(RITA["email"], frozenset({"risk_officer"})))]
        assert _menu(page) == expected
        page.get_by_text("Risk officer · identity provider").wait_for()
        # A page outside her roles, opened by its URL, shows a refusal and not its content.
        page.goto(url + "/admin")
        page.get_by_text("You do not have access to this page").wait_for()
        assert page.get_by_text("Grant a role").count() == 0
        _sign_out(page)

        _sign_in(page, url, VERA)
        expected = [s.title for s in specs_for(Identity(VERA["email"], frozenset({"viewer"})))]
        assert _menu(page) == expected
        page.get_by_text("Viewer (business stakeholder) · identity provider").wait_for()
        page.screenshot(path=str(store.home / "signed-in-viewer.png"), full_page=True)
        _sign_out(page)
        assert page.get_by_text("Signed in as").count() == 0

        # The admin's address, signed by the provider but not verified by it: refused, not guessed.
        _sign_in(page, url, MALLORY, expect="has not confirmed that your e-mail address belongs to you")
        assert page.get_by_role("heading", name="Sign-in problem").count() == 1
        assert page.locator("[data-testid='stSidebarNavLink']").count() == 0
        page.goto(url + "/admin")
        page.get_by_role("heading", name="Sign-in problem").wait_for()
        assert page.get_by_text("Grant a role").count() == 0
        _sign_out(page)

        # Groups whose paths end in role names grant nothing.
        _sign_in(page, url, SAM, expect="you hold no role in ModelGov")
        assert page.locator("[data-testid='stSidebarNavLink']").count() == 0
        _sign_out(page)
    admin = Identity("alan@example.com", frozenset({"admin"}))
    from core import auth

    assert {s.email: s.roles for s in auth.recent_sign_ins(store, admin)} == {
        "rita@corp.example": ["risk_officer"], "vera@corp.example": ["viewer"], "sam@corp.example": []}


@pytest.mark.parametrize("secrets, words", [
    ('[auth]\nredirect_uri = "http://127.0.0.1:{port}/oauth2callback"\nclient_id = "modelgov"\n',
     "lacks cookie_secret"),
    ('[auth]\nclient_id = modelgov\n', "not valid TOML"),
])
def test_a_broken_sign_in_configuration_serves_only_the_problem(store, page, secrets, words):
    with serve_app(store.home, secrets=secrets) as url:
        page.goto(url + "/admin")  # a deep link as the very first request
        page.get_by_role("heading", name="Sign-in is misconfigured").wait_for()
        page.get_by_text(words).wait_for()
        assert page.get_by_text("Demo mode").count() == 0 and page.get_by_label("Acting as (demo)").count() == 0
        assert page.locator("[data-testid='stSidebarNavLink']").count() == 0
        page.goto(url)
        page.get_by_role("heading", name="Sign-in is misconfigured").wait_for()
        assert page.get_by_text("Demo mode").count() == 0 and page.get_by_label("Acting as (demo)").count() == 0
