"""Roles from ID-token claims, merged with store grants; the auto-viewer setting; provider detection."""

from __future__ import annotations

import re

import pytest

from core import auth
from core.errors import Forbidden, InvalidInput
from core.identity import PERSON_ROLES

S = auth.AuthSettings


V = {"email_verified": True}


# -- roles: exact names only ---------------------------------------------------------------------

@pytest.mark.parametrize("groups, expected", [
    (["risk_officer"], {"risk_officer"}),
    (["viewer", "data_scientist"], {"viewer", "data_scientist"}),
    ("admin", {"admin"}),                             # one string is one value
    (["everyone", "finance"], set()),                 # groups that are not roles grant nothing
    ([], set()),
    (None, set()),
])
def test_by_default_a_claim_value_grants_the_role_of_exactly_that_name(groups, expected):
    claims = {"email": "a@x.example"} | ({} if groups is None else {"groups": groups})
    assert auth.roles_from_claims(claims) == frozenset(expected)


@pytest.mark.parametrize("group", [
    "/wiki-team/admin",          # a Keycloak group path whose last segment is a role name
    "sharepoint-site/Admin",     # another tenant's or tool's group ending in a role name
    "/modelgov/admin",           # even the intended path: map it explicitly
    "Admin", "ADMIN", " admin", "admin ", "admin\n",  # case and whitespace variants
    "Risk-Officer", "risk officer", "risk_officers", "data-scientist",
    "viewer admin", "viewer,admin",                   # a string is one value, never split
])
def test_group_names_that_merely_resemble_a_role_grant_nothing(group):
    assert auth.roles_from_claims({"groups": [group]}) == frozenset()
    assert auth.roles_from_claims({"groups": group}) == frozenset()


def test_values_of_other_types_in_the_roles_claim_are_ignored():
    claims = {"groups": [{"name": "admin"}, ["admin"], 1, None, True, "viewer"]}
    assert auth.roles_from_claims(claims) == {"viewer"}
    assert auth.roles_from_claims({"groups": {"admin": True}}) == frozenset()
    assert auth.roles_from_claims({"groups": 7}) == frozenset()


def test_a_configured_table_is_the_whole_mapping_and_matches_exactly():
    settings = auth.settings_from({"group_roles": {
        "b2f9c0e4-0000-4e1a-9d6b-entra-group-id": "risk_officer",
        "ML Platform": ["data_scientist", "viewer"],
        "/modelgov/admin": "admin",
    }}, env={})
    claims = {"groups": ["b2f9c0e4-0000-4e1a-9d6b-entra-group-id", "ML Platform", "/modelgov/admin", "other"]}
    assert auth.roles_from_claims(claims, settings) == {"risk_officer", "data_scientist", "viewer", "admin"}
    # Once a table is configured, a group named like a role grants nothing unless the table names it.
    assert auth.roles_from_claims({"groups": ["admin", "risk_officer"]}, settings) == frozenset()
    # A different spelling, or another path ending in the same name, does not match.
    for near in ("ml platform", "ML Platform ", "/other-team/modelgov/admin", "/modelgov/Admin"):
        assert auth.roles_from_claims({"groups": [near]}, settings) == frozenset(), near
    assert settings.group_roles_configured and not auth.settings_from({}, env={}).group_roles_configured


def test_the_default_table_maps_each_role_name_to_itself():
    assert dict(auth.settings_from({}, env={}).group_roles) == {r: frozenset({r}) for r in PERSON_ROLES}
    for role in PERSON_ROLES:
        assert auth.roles_from_claims({"groups": [role]}) == {role}
        assert auth.roles_from_claims({"groups": [role.upper()]}) == frozenset()


def test_the_roles_claim_is_configurable_and_the_environment_wins():
    claims = {"groups": ["viewer"], "roles": ["admin"], "app_roles": ["risk_officer"]}
    assert auth.roles_from_claims(claims, auth.settings_from({}, env={})) == {"viewer"}
    assert auth.roles_from_claims(claims, auth.settings_from({"roles_claim": "roles"}, env={})) == {"admin"}
    env = {"MODELGOV_ROLES_CLAIM": "app_roles"}
    assert auth.roles_from_claims(claims, auth.settings_from({"roles_claim": "roles"}, env=env)) == {"risk_officer"}


@pytest.mark.parametrize("section, words", [
    ({"group_roles": {"Ops": "superuser"}}, "'Ops'"),
    ({"group_roles": {"Ops": []}}, "'Ops'"),
    ({"group_roles": {"Ops": ["viewer", "root"]}}, "'Ops'"),
    ({"group_roles": "admin"}, "must be a table"),
    ({"groups_roles": {"Ops": "viewer"}}, "Unknown setting 'groups_roles'"),   # a typo must not fall back
    ({"allow_unverified_email": "false"}, "true or false without quotes"),
    ({"allow_unverified_email": 1}, "true or false without quotes"),
    ({"email_claim": ""}, "email_claim"),
    ({"email_claim": ["email"]}, "email_claim"),
    ({"roles_claim": " groups"}, "roles_claim"),
])
def test_settings_of_the_wrong_shape_are_refused_with_their_name(section, words):
    with pytest.raises(InvalidInput, match=re.escape(words)):
        auth.settings_from(section, env={})


# -- the person: a verified e-mail address from one claim ------------------------------------------

def test_the_person_is_the_verified_address_in_the_email_claim():
    assert auth.email_from_claims({"email": " Rita@Corp.Example ", **V}) == "rita@corp.example"
    assert auth.email_from_claims({"email": "u@corp.example", "email_verified": "true"}) == "u@corp.example"
    assert auth.email_from_claims({"email": "u@corp.example", "email_verified": "TRUE"}) == "u@corp.example"


@pytest.mark.parametrize("claims", [
    {"email": "rita@corp.example", "email_verified": False},     # the provider says it is NOT verified
    {"email": "rita@corp.example"},                              # the provider says nothing
    {"email": "rita@corp.example", "email_verified": "false"},
    {"email": "rita@corp.example", "email_verified": 1},
    {"email": "rita@corp.example", "email_verified": "yes"},
    {"email": "rita@corp.example", "email_verified": None},
    {"email": "rita@corp.example", "email_verified": [True]},
])
def test_an_unverified_address_is_refused(claims):
    with pytest.raises(InvalidInput, match="has not confirmed that your e-mail address belongs to you"):
        auth.email_from_claims(claims)


@pytest.mark.parametrize("claims", [
    {"preferred_username": "raj@corp.example", **V},            # a user name that looks like an address
    {"upn": "u@corp.example", **V},
    {"sub": "123", "preferred_username": "raj", **V},
    {"email": None, "preferred_username": "raj@corp.example", **V},
    {"email": "", **V},
    {"email": ["rita@corp.example"], **V},
])
def test_no_other_claim_is_taken_for_an_address(claims):
    with pytest.raises(InvalidInput, match=r"sent no e-mail address \(claim email\)"):
        auth.email_from_claims(claims)


@pytest.mark.parametrize("value", ["raj", "a@b@c", "a b@corp.example", "x@y\u0007z", "@corp.example"])
def test_an_email_claim_that_is_not_an_address_is_refused(value):
    with pytest.raises(InvalidInput, match="is not an e-mail address"):
        auth.email_from_claims({"email": value, **V})


def test_refusals_never_repeat_what_the_token_said():
    hostile = "![x](https://evil.example/t.png)@corp.example"
    for claims in ({"email": hostile}, {"email": hostile + " x", **V}):
        with pytest.raises(InvalidInput) as e:
            auth.email_from_claims(claims)
        assert "evil" not in str(e.value) and "![" not in str(e.value)


def test_the_claims_and_unverified_addresses_are_an_operators_explicit_choice():
    mail = auth.settings_from({"email_claim": "mail", "email_verified_claim": "xms_edov"}, env={})
    claims = {"mail": "m@corp.example", "email": "e@corp.example", "xms_edov": True, "email_verified": False}
    assert auth.email_from_claims(claims, mail) == "m@corp.example"
    with pytest.raises(InvalidInput, match="claim xms_edov is not true"):
        auth.email_from_claims({"mail": "m@corp.example", "email_verified": True}, mail)
    lax = auth.settings_from({"allow_unverified_email": True}, env={})
    assert auth.email_from_claims({"email": "u@corp.example", "email_verified": False}, lax) == "u@corp.example"
    # Even then only the e-mail claim names the person.
    with pytest.raises(InvalidInput, match="sent no e-mail address"):
        auth.email_from_claims({"preferred_username": "u@corp.example"}, lax)


def test_identity_from_an_unverified_token_is_refused_and_records_nothing(store):
    with pytest.raises(InvalidInput, match="has not confirmed"):
        auth.identity_from_claims(store, {"email": "alan@example.com", "email_verified": False,
                                          "groups": ["admin"]})
    with store.read() as con:
        assert con.execute("SELECT count(*) FROM audit_log WHERE action = 'user.sign_in'").fetchone() == (0,)


# -- configuration fails closed --------------------------------------------------------------------

SHARED = {"redirect_uri": "https://modelgov.corp.example/oauth2callback", "cookie_secret": "k" * 64}
PROVIDER = {"client_id": "modelgov", "client_secret": "s3cret-value",
            "server_metadata_url": "https://idp.corp.example/.well-known/openid-configuration"}


def _without(d: dict, key: str) -> dict:
    return {k: v for k, v in d.items() if k != key}


@pytest.mark.parametrize("secrets, unreadable, words", [
    (None, "it is not valid TOML: Invalid value (at line 3, column 9)", "cannot read .streamlit/secrets.toml"),
    ({"auth": {}}, "", "lacks redirect_uri and cookie_secret"),
    ({"auth": "on"}, "", "is not a table"),
    ({"auth": _without(SHARED, "cookie_secret") | PROVIDER}, "", "lacks cookie_secret"),
    ({"auth": SHARED | _without(PROVIDER, "client_secret")}, "", "lacks client_secret"),
    ({"auth": SHARED | {"client_id": "modelgov"}}, "", "lacks client_secret, server_metadata_url"),
    ({"auth": SHARED}, "", "names no identity provider"),
    ({"auth": SHARED | PROVIDER | {"cookie_secret": "replace-with-64-random-hex-characters"}}, "",
     "anyone could forge a sign-in cookie"),
    ({"auth": SHARED | PROVIDER | {"cookie_secret": "short"}}, "", "shorter than 32 characters"),
    ({"auth": SHARED | PROVIDER | {"redirect_uri": "https://modelgov.corp.example/"}}, "",
     "must end with /oauth2callback"),
    ({"auth": SHARED | PROVIDER | {"redirect_uri": "http://modelgov.corp.example/oauth2callback"}}, "",
     "must use https"),
    ({"auth": SHARED | PROVIDER | {"server_metadata_url": "http://idp.corp.example/.well-known/x"}}, "",
     "must use https"),
    ({"auth": SHARED | {"okta": PROVIDER, "entra": {"client_id": "c"}}}, "", "for provider entra"),
    ({"auth": SHARED | {"my_okta": PROVIDER}}, "", "contains _"),
    ({"Auth": SHARED | PROVIDER}, "", "section [Auth]"),
    ({"modelgov": {"roles_claim": "groups"}}, "", "no [auth] section"),
    ({"auth": SHARED | PROVIDER, "modelgov": {"groups_roles": {"x": "admin"}}}, "", "'groups_roles'"),
    ({"auth": SHARED | PROVIDER, "modelgov": {"group_roles": {"x": "root"}}}, "", "'x'"),
    ({"auth": SHARED | PROVIDER, "modelgov": {"allow_unverified_email": "no"}}, "", "allow_unverified_email"),
    ({"auth": SHARED | PROVIDER, "modelgov": "x"}, "", "modelgov in .streamlit/secrets.toml is not a table"),
])
@pytest.mark.parametrize("require", ["", "1"])
def test_intended_sign_in_with_a_problem_never_falls_back_to_demo(secrets, unreadable, words, require):
    config = auth.sign_in_config(secrets, unreadable=unreadable, env={"MODELGOV_REQUIRE_AUTH": require})
    assert config.mode == "broken" and config.providers == () and config.settings is None
    assert words in config.problem
    # One sentence saying what to do, and never a secret.
    assert config.problem.endswith(".") and "\n" not in config.problem
    assert any(w in config.problem for w in ("correct", "rename", "restart"))
    assert "s3cret-value" not in config.problem and "k" * 32 not in config.problem


@pytest.mark.parametrize("secrets", [None, {}, {"other_app": {"token": "x"}}])
def test_demo_mode_only_without_any_sign_in_section(secrets):
    assert auth.sign_in_config(secrets, env={}).mode == "demo"
    assert auth.sign_in_config(secrets, env={"MODELGOV_REQUIRE_AUTH": "1"}).mode == "refused"


def test_a_complete_configuration_signs_people_in():
    local = {"redirect_uri": "http://127.0.0.1:{port}/oauth2callback", "cookie_secret": "k" * 32}
    config = auth.sign_in_config({"auth": local | PROVIDER | {"client_kwargs": {"scope": "openid email"}},
                                  "modelgov": {"roles_claim": "roles"}}, env={})
    assert config.mode == "oidc" and config.providers == ("default",) and not config.problem
    assert config.settings.roles_claim == "roles"
    named = auth.sign_in_config({"auth": SHARED | {"okta": PROVIDER, "entra": PROVIDER}}, env={})
    assert named.mode == "oidc" and named.providers == ("okta", "entra")


def test_merge_adds_grants_and_auto_viewer_only_for_people_without_any_role():
    assert auth.merge_roles(frozenset({"viewer"}), frozenset({"admin"}), False) == {"viewer", "admin"}
    assert auth.merge_roles(frozenset(), frozenset(), False) == frozenset()
    assert auth.merge_roles(frozenset(), frozenset(), True) == {"viewer"}
    assert auth.merge_roles(frozenset({"risk_officer"}), frozenset(), True) == {"risk_officer"}


def test_identity_from_claims_merges_the_token_with_grants_in_the_store(store, people):
    claims = {"email": "Rita@Example.com", "name": "Rita", "groups": ["data_scientist"], **V}
    signed = auth.identity_from_claims(store, claims)
    assert signed.identity.email == "rita@example.com"
    assert signed.identity.name == "Rita"
    assert signed.identity.roles == {"risk_officer", "data_scientist"}  # granted + from the token
    assert signed.source_of("risk_officer") == "granted in ModelGov"
    assert signed.source_of("data_scientist") == "identity provider"


def test_unknown_people_get_nothing_until_auto_viewer_is_on(store, people):
    claims = {"email": "newcomer@example.com", "groups": ["finance"], **V}
    assert not auth.auto_viewer(store)
    assert auth.identity_from_claims(store, claims).identity.roles == frozenset()
    assert auth.set_auto_viewer(store, people["admin"], True) is True
    assert auth.set_auto_viewer(store, people["admin"], True) is False  # already on: no change, no event
    signed = auth.identity_from_claims(store, claims)
    assert signed.identity.roles == {"viewer"} and signed.source_of("viewer") == "automatic viewer"
    # Someone with a real role does not get viewer on top.
    assert auth.identity_from_claims(store, {"email": "rita@example.com", **V}).identity.roles == {"risk_officer"}
    with store.read() as con:
        rows = con.execute("SELECT actor, action, entity_id, outcome, CAST(payload AS VARCHAR) FROM audit_log "
                           "WHERE action = 'setting.update'").fetchall()
    assert rows == [("alan@example.com", "setting.update", "auth.auto_viewer", "ok",
                     '{"after":true,"before":false}')]


@pytest.mark.parametrize("who", ["viewer", "ds", "ro", "nobody"])
def test_only_an_admin_changes_auto_viewer_and_refusals_are_audited(store, people, who):
    with pytest.raises(Forbidden):
        auth.set_auto_viewer(store, people[who], True)
    assert not auth.auto_viewer(store)
    with store.read() as con:
        row = con.execute("SELECT actor, action, outcome FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    assert row == (people[who].email, "setting.update", "refused")


def test_providers_need_the_shared_keys_and_a_complete_provider():
    shared = {"redirect_uri": "http://h/oauth2callback", "cookie_secret": "s"}
    provider = {"client_id": "c", "client_secret": "x", "server_metadata_url": "https://idp/.well-known/x"}
    assert auth.providers(None) == []
    assert auth.providers({}) == []
    assert auth.providers(provider) == []                       # no redirect_uri / cookie_secret
    assert auth.providers(shared) == []                         # no provider
    assert auth.providers(shared | provider) == ["default"]
    assert auth.providers(shared | {"okta": provider, "entra": {"client_id": "c"}}) == ["okta"]
    # The unnamed provider's client_kwargs is a table of its own, not a provider.
    assert auth.providers(shared | provider | {"client_kwargs": {"scope": "openid email"}}) == ["default"]


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("YES", True), ("0", False),
                                             ("", False), (None, False)])
def test_require_auth_setting(value, expected):
    env = {} if value is None else {"MODELGOV_REQUIRE_AUTH": value}
    assert auth.require_auth(env) is expected


def test_the_secrets_example_configures_a_provider_and_a_valid_mapping():
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    example = tomllib.loads((root / ".streamlit" / "secrets.toml.example").read_text())
    assert auth.providers(example["auth"]) == ["default"]
    assert example["auth"]["redirect_uri"].endswith("/oauth2callback")
    settings = auth.settings_from(example["modelgov"], env={})
    assert settings.roles_claim == "groups"
    assert auth.roles_from_claims({"groups": ["Model Risk Management", "ML Engineering"]}, settings) == {
        "risk_officer", "data_scientist"}
    assert auth.roles_from_claims({"groups": ["admin", "viewer"]}, settings) == frozenset()
    # Copied as it is, the example's placeholder cookie secret stops the dashboard instead of signing cookies.
    config = auth.sign_in_config(example, env={})
    assert config.mode == "broken" and "anyone could forge a sign-in cookie" in config.problem
    filled = example | {"auth": example["auth"] | {"cookie_secret": "f" * 64}}
    assert auth.sign_in_config(filled, env={}).mode == "oidc"
    doc = (root / "docs" / "authentication.md").read_text()
    for key in ("server_metadata_url", "client_id", "client_secret", "redirect_uri", "cookie_secret",
                "roles_claim", "group_roles", "MODELGOV_REQUIRE_AUTH", "MODELGOV_ROLES_CLAIM", *auth.SETTING_KEYS):
        assert key in doc, key


def test_the_readme_configuration_parses_like_the_example():
    import re
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    block = re.search(r"```toml\n(.*?)```", readme, re.S).group(1)
    shown = tomllib.loads(block)
    example = tomllib.loads((root / ".streamlit" / "secrets.toml.example").read_text())
    assert set(shown["auth"]) == {"redirect_uri", "cookie_secret", "client_id", "client_secret",
                                  "server_metadata_url"} <= set(example["auth"])
    settings = auth.settings_from(shown["modelgov"], env={})
    assert auth.roles_from_claims({"groups": ["Model Risk Management"]}, settings) == {"risk_officer"}
    for provider in ("Keycloak", "Entra ID", "Okta", "MODELGOV_REQUIRE_AUTH=1"):
        assert provider in readme, provider


def test_sign_ins_are_recorded_and_summarised_for_admins_only(store, people):
    claims = {"email": "rita@example.com", "groups": ["data_scientist", "finance"], **V}
    auth.record_sign_in(store, auth.identity_from_claims(store, claims))
    auth.record_sign_in(store, auth.identity_from_claims(store, {"email": "new@example.com", **V}))
    auth.record_sign_in(store, auth.identity_from_claims(store, claims))
    seen = {s.email: s for s in auth.recent_sign_ins(store, people["admin"])}
    assert set(seen) == {"rita@example.com", "new@example.com"}
    assert seen["rita@example.com"].sign_ins == 2
    assert seen["rita@example.com"].roles == ["data_scientist", "risk_officer"]
    assert seen["rita@example.com"].from_provider == ["data_scientist"]
    assert seen["new@example.com"].roles == [] and seen["new@example.com"].sign_ins == 1
    with pytest.raises(Forbidden):
        auth.recent_sign_ins(store, people["ro"])
    with store.read() as con:
        from core.audit import verify_chain
        assert verify_chain(con).ok


def test_core_auth_does_not_import_streamlit():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(auth))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any(name.split(".")[0] == "streamlit" for name in imported)
