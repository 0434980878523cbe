"""Roles from ID-token claims, merged with store grants; the auto-viewer setting; provider detection."""

from __future__ import annotations

import pytest

from core import auth
from core.errors import Forbidden, InvalidInput
from core.identity import PERSON_ROLES

S = auth.AuthSettings


@pytest.mark.parametrize("groups, expected", [
    (["risk_officer"], {"risk_officer"}),
    (["Risk-Officer", "data scientist"], {"risk_officer", "data_scientist"}),
    (["/modelgov/admin"], {"admin"}),                 # Keycloak's full group path
    ("viewer data_scientist", {"viewer", "data_scientist"}),  # a space-separated string
    ("viewer,admin", {"viewer", "admin"}),
    (["everyone", "finance"], set()),                 # groups that are not roles grant nothing
    ([], set()),
    (None, set()),
    (["risk_officers"], set()),                       # near misses are not roles
])
def test_groups_named_like_a_role_grant_it(groups, expected):
    claims = {"email": "a@x.example"} | ({} if groups is None else {"groups": groups})
    assert auth.roles_from_claims(claims) == frozenset(expected)


def test_the_mapping_translates_other_group_names():
    settings = auth.settings_from({"group_roles": {
        "b2f9c0e4-0000-4e1a-9d6b-entra-group-id": "risk_officer",
        "ML Platform": ["data_scientist", "viewer"],
    }}, env={})
    claims = {"groups": ["b2f9c0e4-0000-4e1a-9d6b-entra-group-id", "ML Platform", "admin", "other"]}
    assert auth.roles_from_claims(claims, settings) == {"risk_officer", "data_scientist", "viewer", "admin"}
    # The mapping is exact: a different spelling of a mapped name does not match it.
    assert auth.roles_from_claims({"groups": ["ml platform"]}, settings) == frozenset()


def test_the_roles_claim_is_configurable_and_the_environment_wins():
    claims = {"groups": ["viewer"], "roles": ["admin"], "app_roles": ["risk_officer"]}
    assert auth.roles_from_claims(claims, auth.settings_from({}, env={})) == {"viewer"}
    assert auth.roles_from_claims(claims, auth.settings_from({"roles_claim": "roles"}, env={})) == {"admin"}
    env = {"MODELGOV_ROLES_CLAIM": "app_roles"}
    assert auth.roles_from_claims(claims, auth.settings_from({"roles_claim": "roles"}, env=env)) == {"risk_officer"}


def test_a_mapping_to_an_unknown_role_is_refused_with_its_name():
    with pytest.raises(InvalidInput, match="'superuser'"):
        auth.settings_from({"group_roles": {"Ops": "superuser"}}, env={})


def test_email_comes_from_the_first_usable_claim():
    assert auth.email_from_claims({"email": " Rita@Corp.Example "}) == "rita@corp.example"
    assert auth.email_from_claims({"preferred_username": "raj@corp.example"}) == "raj@corp.example"
    assert auth.email_from_claims({"upn": "u@corp.example", "email": None}) == "u@corp.example"
    with pytest.raises(InvalidInput, match="no e-mail"):
        auth.email_from_claims({"sub": "123", "preferred_username": "raj"})
    only_mail = auth.settings_from({"email_claim": "mail"}, env={})
    assert auth.email_from_claims({"mail": "m@corp.example", "email": "e@corp.example"}, only_mail) == "m@corp.example"


def test_merge_adds_grants_and_auto_viewer_only_for_people_without_any_role():
    assert auth.merge_roles(frozenset({"viewer"}), frozenset({"admin"}), False) == {"viewer", "admin"}
    assert auth.merge_roles(frozenset(), frozenset(), False) == frozenset()
    assert auth.merge_roles(frozenset(), frozenset(), True) == {"viewer"}
    assert auth.merge_roles(frozenset({"risk_officer"}), frozenset(), True) == {"risk_officer"}


def test_identity_from_claims_merges_the_token_with_grants_in_the_store(store, people):
    claims = {"email": "Rita@Example.com", "name": "Rita", "groups": ["data_scientist"]}
    signed = auth.identity_from_claims(store, claims)
    assert signed.identity.email == "rita@example.com"
    assert signed.identity.name == "Rita"
    assert signed.identity.roles == {"risk_officer", "data_scientist"}  # granted + from the token
    assert signed.source_of("risk_officer") == "granted in ModelGov"
    assert signed.source_of("data_scientist") == "identity provider"


def test_unknown_people_get_nothing_until_auto_viewer_is_on(store, people):
    claims = {"email": "newcomer@example.com", "groups": ["finance"]}
    assert not auth.auto_viewer(store)
    assert auth.identity_from_claims(store, claims).identity.roles == frozenset()
    assert auth.set_auto_viewer(store, people["admin"], True) is True
    assert auth.set_auto_viewer(store, people["admin"], True) is False  # already on: no change, no event
    signed = auth.identity_from_claims(store, claims)
    assert signed.identity.roles == {"viewer"} and signed.source_of("viewer") == "automatic viewer"
    # Someone with a real role does not get viewer on top.
    assert auth.identity_from_claims(store, {"email": "rita@example.com"}).identity.roles == {"risk_officer"}
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


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("YES", True), ("0", False),
                                             ("", False), (None, False)])
def test_require_auth_setting(value, expected):
    env = {} if value is None else {"MODELGOV_REQUIRE_AUTH": value}
    assert auth.require_auth(env) is expected


def test_every_role_name_is_recognised_as_a_group():
    for role in PERSON_ROLES:
        assert auth.roles_from_claims({"groups": [role.upper()]}) == {role}


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
    doc = (root / "docs" / "authentication.md").read_text()
    for key in ("server_metadata_url", "client_id", "client_secret", "redirect_uri", "cookie_secret",
                "roles_claim", "group_roles", "MODELGOV_REQUIRE_AUTH", "MODELGOV_ROLES_CLAIM"):
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
    claims = {"email": "rita@example.com", "groups": ["data_scientist", "finance"]}
    auth.record_sign_in(store, auth.identity_from_claims(store, claims))
    auth.record_sign_in(store, auth.identity_from_claims(store, {"email": "new@example.com"}))
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
    import inspect

    assert "streamlit" not in inspect.getsource(auth)
