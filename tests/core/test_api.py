"""The HTTP API on a real uvicorn server on 127.0.0.1, with real OpenID providers on 127.0.0.1 beside it.

One server and one store per module (starting them is the slow part); each test makes what it needs under names
of its own. Two kinds of provider: oidc-provider-mock (in a thread) signs a person's ID tokens by the
authorization-code flow; it has no client_credentials grant (its GRANT_TYPES_SUPPORTED are authorization_code and
refresh_token, up to 0.4.8), so a CI service account gets its token from NanoIDP (a test identity provider that
implements the client-credentials grant and signs RFC 9068 JWT access tokens with keys it publishes as JWKS),
started as its own process because it holds one application per process.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from core import tokens, users
from core.api import bearer, endpoints
from core.errors import Unauthenticated
from core.identity import identity_for
from tests.conftest import _copy_home, _use_backend, drop_postgres_database, make_version, synthetic_classification

starlette = pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")
oidc_mock = pytest.importorskip("oidc_provider_mock")

DORA = "dora@example.com"   # data scientist AND risk officer: four eyes must stop her approving her own request
SVC = "ci-pipeline@svc.example.com"
CLIENT_ID = "modelgov"
CI_CLIENT, CI_SECRET = "ci-pipeline", "ci-secret"          # listed in [modelgov.service_clients]
STRAY_CLIENT, STRAY_SECRET = "stray-job", "stray-secret"   # a client of the provider that ModelGov does not list


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _provider(max_age: timedelta, users_claims):
    """An OpenID provider on 127.0.0.1 in a thread; returns (base url, stop)."""
    from oidc_provider_mock import User, app
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app(access_token_max_age=max_age,
                                             user_claims=[User(sub=c["email"], claims=c) for c in users_claims]),
                         threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{server.server_port}", server.shutdown


def id_token(base: str, sub: str, client_id: str = CLIENT_ID) -> str:
    """A signed ID token for `sub` from the mock provider, by the authorization-code flow without a browser."""
    redirect = "http://localhost:8501/oauth2callback"
    r = requests.post(f"{base}/oauth2/authorize", params={
        "client_id": client_id, "redirect_uri": redirect, "response_type": "code", "scope": "openid email profile",
        "state": "s"}, data={"sub": sub}, allow_redirects=False, timeout=10)
    code = parse_qs(urlparse(r.headers["location"]).query)["code"][0]
    r = requests.post(f"{base}/oauth2/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect, "client_id": client_id,
        "client_secret": "secret"}, timeout=10)
    return r.json()["id_token"]


@pytest.fixture(scope="module")
def api(_template_home, tmp_path_factory):
    """(base url, store, providers): the API over a copy of the template store, OIDC from two mock providers (the
    second issues tokens that are already expired)."""
    store = _copy_home(_template_home, tmp_path_factory.mktemp("api") / "home")
    # The CLI the tests run beside the server builds its own Store from --home: on PostgreSQL it must find this
    # module's database through MODELGOV_DATABASE_URL, as the `store` fixture sets it for one test.
    env = pytest.MonkeyPatch()
    _use_backend(store, env)
    admin = identity_for(store, "alan@example.com")
    for role in ("data_scientist", "risk_officer"):
        users.grant_role(store, admin, DORA, role)
    claims = [{"email": "rita@example.com", "email_verified": True, "groups": ["risk_officer"]},
              {"email": "mallory@example.com", "email_verified": False, "groups": ["admin"]},
              {"email": "newbie@example.com", "email_verified": True, "groups": ["viewer"]}]
    ci = _ci_provider(tmp_path_factory.mktemp("nanoidp")) if importlib.util.find_spec("nanoidp") else None
    good, stop_good = _provider(timedelta(hours=1), claims)
    stale, stop_stale = _provider(timedelta(seconds=-120), claims)
    secrets = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "c" * 64,
                        "client_id": CLIENT_ID, "client_secret": "secret",
                        "server_metadata_url": f"{good}/.well-known/openid-configuration",
                        "stale": {"client_id": CLIENT_ID, "client_secret": "secret",
                                  "server_metadata_url": f"{stale}/.well-known/openid-configuration"}},
               "modelgov": {"service_clients": {CI_CLIENT: SVC}}}
    if ci is not None:  # the CI's provider: its access tokens are for the API (aud = the client id ModelGov knows)
        secrets["auth"]["ci"] = {"client_id": CLIENT_ID, "client_secret": "secret",
                                 "server_metadata_url": f"{ci[0]}/.well-known/openid-configuration"}
    from core.api.server import create_app

    verifier = bearer.Verifier(secrets, env={})
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(store, verifier), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    _wait_for(f"{base}/health")  # the CI's provider starts meanwhile; its test waits for it (only its tokens need it)
    yield base, store, {"good": good, "stale": stale, "verifier": verifier, "ci": ci[0] if ci else None}
    server.should_exit = True
    thread.join(timeout=10)
    stop_good()
    stop_stale()
    if ci is not None:
        ci[1].terminate()
        ci[1].wait(timeout=10)
    env.undo()
    if store.database_url:
        drop_postgres_database(store.database_url)


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 60  # two busy cores may take a while; this waits, it asserts nothing on time
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.05)


def _ci_provider(folder):
    """NanoIDP on 127.0.0.1 as its own process, with two client-credentials clients; returns (base url, process).
    Its access tokens are for the audience CLIENT_ID and live 5 minutes (its shortest is one)."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    (folder / "settings.yaml").write_text(f"""config_version: 1
server: {{host: "127.0.0.1", port: {port}}}
oauth:
  issuer: "{base}"
  audience: "{CLIENT_ID}"
  token_expiry_minutes: 5
  clients:
    - {{client_id: "{CI_CLIENT}", client_secret: "{CI_SECRET}"}}
    - {{client_id: "{STRAY_CLIENT}", client_secret: "{STRAY_SECRET}"}}
""")
    (folder / "users.yaml").write_text("config_version: 1\nusers: {}\n")
    log = (folder / "nanoidp.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "nanoidp", "--config", str(folder), "--host", "127.0.0.1",
                                "--port", str(port)], cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    return base, process  # its signing keys go to ./keys, inside `folder`


def client_credentials(base: str, client_id: str, secret: str) -> str:
    """An access token by the client-credentials grant, as a CI job gets one (RFC 6749 §4.4)."""
    r = requests.post(f"{base}/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret),
                      timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def _token(store, email: str, **kw) -> str:
    return tokens.create_token(store, identity_for(store, email), email, **kw).token


def _call(base, path, token=None, *, method="POST", data=None, files=None, params=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if files is not None:
        return requests.post(base + path, headers=headers, data=data, files=files, timeout=120)
    if method == "GET":
        return requests.get(base + path, headers=headers, params=params, timeout=60)
    return requests.post(base + path, headers=headers, json=data or {}, timeout=120)


def _audit_rows(store) -> int:
    with store.read() as con:
        return con.execute("SELECT count(*) FROM audit_log").fetchone()[0]


def test_health_needs_no_token_and_everything_else_does(api):
    base, store, _ = api
    assert requests.get(f"{base}/health", timeout=5).json() == {"status": "ok"}
    before = _audit_rows(store)
    for headers in ({}, {"Authorization": "Basic YWRhOng="}, {"Authorization": "Bearer "},
                    {"Authorization": "Bearer not-a-token"}, {"Authorization": "Bearer xyz_" + "A" * 43}):
        r = requests.get(f"{base}/v1/models/list", headers=headers, timeout=5)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["error"].count(".") >= 1 and "Traceback" not in r.text
    assert _audit_rows(store) == before


def test_a_read_returns_exactly_the_cli_json(api, cli):
    base, store, _ = api
    make_version(store, identity_for(store, "ada@example.com"), "api-read", risk_tier="low")
    token = _token(store, "vera@example.com")
    r = _call(base, "/v1/models/show", token, method="GET", params={"name": "api-read"})
    assert r.status_code == 200 and r.headers["x-modelgov-exit-code"] == "0"
    local = cli(store, "models", "show", "api-read", "--json", as_="vera@example.com")
    assert r.json() == json.loads(local.out)
    assert _call(base, "/v1/models/show", token, data={"name": "api-read"}).json() == r.json()


def test_errors_map_to_statuses_with_the_cli_sentence(api, cli):
    base, store, _ = api
    ds = _token(store, "ada@example.com")
    r = _call(base, "/v1/models/show", ds, data={"name": "no-such-model"})
    assert r.status_code == 404 and r.json() == {
        "error": json.loads(json.dumps(cli(store, "models", "show", "no-such-model").err.removeprefix(
            "modelgov: ").strip())), "exit_code": 5}
    r = _call(base, "/v1/approvals/request", ds, data={"ref": "x:1", "env": "moon", "role": "champion",
                                                        "reason": "r"})
    assert r.status_code == 400 and "moon" in r.json()["error"]
    assert _call(base, "/v1/models/show", ds, data={"nmae": "x"}).status_code == 400
    assert _call(base, "/v1/users/grant", ds, data={"email": "x@example.com", "role": "viewer"}).status_code == 403
    assert _call(base, "/v1/nothing/here", ds).status_code == 404
    assert _call(base, "/v1/users/grant", ds, method="GET").status_code == 405


def test_four_eyes_hold_across_tokens_and_sessions(api):
    from core.governance import approvals

    base, store, providers = api
    make_version(store, identity_for(store, DORA), "api-four-eyes", risk_tier="low")
    dora = _token(store, DORA)
    r = _call(base, "/v1/approvals/request", dora, data={
        "ref": "api-four-eyes:1", "env": "staging", "role": "champion", "reason": "ready for staging"})
    assert r.status_code == 200, r.text
    request_id = r.json()["id"]
    r = _call(base, "/v1/approvals/approve", dora, data={"id": request_id, "comment": "mine, looks fine"})
    assert r.status_code in (403, 409) and "Traceback" not in r.text
    with pytest.raises(Exception):  # nor with her session in the dashboard or the CLI
        approvals.decide(store, identity_for(store, DORA), request_id, "approve", "still mine")
    rita = id_token(providers["good"], "rita@example.com")  # a risk officer's provider token may
    r = _call(base, "/v1/approvals/approve", rita, data={"id": request_id, "comment": "evidence holds",
                                                                  "override_reason": "card follows"})
    assert r.status_code == 200, r.text
    with store.read() as con:
        who = con.execute("SELECT actor, CAST(payload AS VARCHAR) FROM audit_log WHERE action = 'approval.request' "
                          "AND outcome = 'ok' ORDER BY seq DESC LIMIT 1").fetchone()
    assert who[0] == DORA and json.loads(who[1])["via_token"].startswith("tok_")


def test_a_viewer_token_reads_but_changes_nothing(api):
    base, store, _ = api
    make_version(store, identity_for(store, "ada@example.com"), "api-viewer", risk_tier="low")
    vera = _token(store, "vera@example.com")
    assert _call(base, "/v1/models/list", vera, method="GET").status_code == 200
    r = _call(base, "/v1/models/update", vera, data={"name": "api-viewer", "description": "defaced"})
    assert r.status_code == 403
    assert "defaced" not in _call(base, "/v1/models/show", vera, data={"name": "api-viewer"}).text


def test_revoked_and_expired_tokens_get_401_and_nothing_is_written(api):
    base, store, providers = api
    ada = identity_for(store, "ada@example.com")
    gone = tokens.create_token(store, ada, "ada@example.com")
    tokens.revoke_token(store, ada, gone.record.id)
    old = tokens.create_token(store, ada, "ada@example.com")
    with store.transaction() as con:
        con.execute("UPDATE api_tokens SET expires_at = TIMESTAMP '2020-01-01' WHERE id = ?", [old.record.id])
    stale = id_token(providers["stale"], "rita@example.com")
    claims = json.loads(bearer._b64(stale.split(".")[1]))
    assert claims["exp"] < time.time() - bearer.LEEWAY_SECONDS  # signed by a configured provider, but expired
    before = _audit_rows(store)
    for token in (gone.token, old.token, stale):
        r = _call(base, "/v1/models/update", token, data={"name": "api-read", "description": "should not stick"})
        assert r.status_code == 401, r.text
    assert _audit_rows(store) == before


def test_provider_tokens_need_a_verified_address_and_a_good_signature(api):
    base, store, providers = api
    r = _call(base, "/v1/models/list", id_token(providers["good"], "mallory@example.com"), method="GET")
    assert r.status_code == 401 and "not confirmed" in r.json()["error"]
    good = id_token(providers["good"], "newbie@example.com")
    assert _call(base, "/v1/models/list", good, method="GET").status_code == 200  # viewer from the claim
    for_another_app = id_token(providers["good"], "newbie@example.com", client_id="some-other-app")
    assert _call(base, "/v1/models/list", for_another_app, method="GET").status_code == 401  # audience
    head, body, sig = good.split(".")
    forged_body = body[:-4] + ("AAAA" if body[-4:] != "AAAA" else "BBBB")
    assert _call(base, "/v1/models/list", f"{head}.{forged_body}.{sig}", method="GET").status_code == 401
    import base64
    none_head = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    assert _call(base, "/v1/models/list", f"{none_head}.{body}.", method="GET").status_code == 401


def test_a_ci_service_account_acts_by_the_client_credentials_flow(api):
    base, store, providers = api
    if providers["ci"] is None:
        pytest.skip("nanoidp (the test extra) is not installed")
    _wait_for(f"{providers['ci']}/health")
    ada = identity_for(store, "ada@example.com")
    users.grant_role(store, identity_for(store, "alan@example.com"), SVC, "data_scientist")
    make_version(store, ada, "api-ci", risk_tier="low")
    token = client_credentials(providers["ci"], CI_CLIENT, CI_SECRET)
    claims = json.loads(bearer._b64(token.split(".")[1]))
    assert claims["client_id"] == CI_CLIENT and "email" not in claims  # no person: the client itself
    r = _call(base, "/v1/whoami", token, method="GET")
    assert r.status_code == 200 and r.json()["email"] == SVC and r.json()["roles"] == ["data_scientist"], r.text
    df = synthetic_classification(n=60, seed=5).drop(columns="y")
    df["id"] = range(len(df))
    r = _call(base, "/v1/log-predictions", token, data={"ref": "api-ci:1", "id_column": "id", "no_snapshot": "true"},
              files={"input": ("nightly.csv", df.to_csv(index=False).encode())})
    assert r.status_code == 200 and r.json()["logged"] == 60, r.text
    with store.read() as con:
        actor = con.execute("SELECT actor FROM audit_log WHERE action = 'predictions.log' ORDER BY seq DESC "
                            "LIMIT 1").fetchone()[0]
    assert actor == SVC
    assert _call(base, "/v1/users/grant", token, data={"email": "x@example.com", "role": "viewer"}).status_code == 403

    stray = client_credentials(providers["ci"], STRAY_CLIENT, STRAY_SECRET)  # signed, but not a listed client
    r = _call(base, "/v1/whoami", stray, method="GET")
    assert r.status_code == 401 and "service_clients" in r.json()["error"]

    verifier, real_clock = providers["verifier"], providers["verifier"].clock
    verifier.clock = lambda: real_clock() + 10 * 60  # ten minutes on: the same real token has expired
    try:
        before = _audit_rows(store)
        r = _call(base, "/v1/log-predictions", token, data={"ref": "api-ci:1", "id_column": "id",
                                                            "no_snapshot": "true"},
                  files={"input": ("nightly.csv", df.to_csv(index=False).encode())})
        assert r.status_code == 401 and "expired" in r.json()["error"], r.text
        assert _audit_rows(store) == before
    finally:
        verifier.clock = real_clock


def test_unlisted_clients_without_an_address_are_refused(api):
    _base, store, providers = api
    with pytest.raises(Unauthenticated, match="service_clients"):
        providers["verifier"].identity(store, {"iss": "x", "azp": "someone-else", "sub": "someone-else"})


def test_log_predictions_upload_names_the_token_in_the_trail(api):
    base, store, _ = api
    ada = identity_for(store, "ada@example.com")
    make_version(store, ada, "api-upload", risk_tier="low")
    token = tokens.create_token(store, ada, "ada@example.com")
    df = synthetic_classification(n=120, seed=3).drop(columns="y")
    df["id"] = range(len(df))
    df["ts"] = "2026-11-01T00:00:00"
    r = _call(base, "/v1/log-predictions", token.token, data={"ref": "api-upload:1", "id_column": "id",
                                                               "time_column": "ts", "no_snapshot": "true"},
              files={"input": ("served.csv", df.to_csv(index=False).encode())})
    assert r.status_code == 200, r.text
    assert r.json()["logged"] == 120
    with store.read() as con:
        payload = con.execute("SELECT CAST(payload AS VARCHAR) FROM audit_log WHERE action = 'predictions.log' "
                              "ORDER BY seq DESC LIMIT 1").fetchone()[0]
    assert json.loads(payload)["via_token"] == token.record.id
    assert json.loads(payload)["source"] == "upload:served.csv"  # not the server's temporary path
    with store.read() as con:
        assert con.execute("SELECT source FROM ingest_runs ORDER BY id DESC LIMIT 1").fetchone()[0] == \
            "upload:served.csv"
    r = _call(base, "/v1/log-predictions", token.token, data={"ref": "api-upload:1", "input": "/etc/passwd"})
    assert r.status_code == 400 and "never reads a path" in r.json()["error"]


def test_a_dataset_registered_over_the_api_records_its_upload_not_the_servers_temporary_path(api, tmp_path):
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    from core.registry import datasets, versions
    from core.registry.versions import get_model_version

    base, store, _ = api
    df = synthetic_classification(n=200, seed=11)
    train, test = df.iloc[:150], df.iloc[150:]
    model = tmp_path / "model.skops"
    sio.dump(LogisticRegression().fit(train[["x1", "x2"]], train["y"]), model)
    train_csv, test_csv = train.to_csv(index=False).encode(), test.to_csv(index=False).encode()
    r = _call(base, "/v1/register", _token(store, "ada@example.com"),
              data={"name": "api-register", "target": "y", "risk_tier": "low"},
              files={"model": ("model.skops", model.read_bytes()), "train_data": ("credit train.csv", train_csv),
                     "test_data": ("holdout.csv", test_csv)})
    assert r.status_code == 200, r.text
    v = get_model_version(store, "api-register", 1)
    with store.read() as con:
        trained, held_out = (datasets.get_dataset_by_id(con, i) for i in (v.train_dataset_id, v.test_dataset_id))
    assert (trained.location, held_out.location) == ("upload:credit train.csv", "upload:holdout.csv")
    assert trained.name == "credit-train"  # as when "credit train.csv" is registered locally
    local_file = tmp_path / "credit train.csv"  # the same file registered locally: the same name and content hash,
    local_file.write_bytes(train_csv)
    local = versions.register_version(store, identity_for(store, "ada@example.com"), "api-register-local",
                                      LogisticRegression().fit(train[["x1", "x2"]], train["y"]), local_file, "y")
    with store.read() as con:
        here = datasets.get_dataset_by_id(con, local.train_dataset_id)
    assert (here.id, here.name, here.fingerprint) == (trained.id, "credit-train", trained.fingerprint)  # so reused
    with store.read() as con:
        payload = con.execute("SELECT CAST(payload AS VARCHAR) FROM audit_log WHERE action = 'dataset.register' "
                              "ORDER BY seq DESC LIMIT 1").fetchone()[0]
    assert json.loads(payload)["location"] == "upload:holdout.csv" and "modelgov-api-" not in payload


def test_a_comparison_on_uploaded_rows_names_the_upload(api):
    base, store, _ = api
    ada = identity_for(store, "ada@example.com")
    make_version(store, ada, "api-compare", risk_tier="low")
    make_version(store, ada, "api-compare", risk_tier="low", seed=1)
    holdout = synthetic_classification(n=120, seed=9).to_csv(index=False).encode()
    r = _call(base, "/v1/compare", _token(store, "ada@example.com"),
              data={"models": ["api-compare:1", "api-compare:2"], "target": "y", "bootstrap": "100"},
              files={"data": ("holdout.csv", holdout)})
    assert r.status_code == 200, r.text
    with store.read() as con:
        assert con.execute("SELECT data_ref FROM comparisons ORDER BY id DESC LIMIT 1").fetchone()[0] == \
            "upload:holdout.csv"


def test_an_upload_past_the_limit_is_refused(api, monkeypatch):
    base, store, _ = api
    monkeypatch.setenv("MODELGOV_API_MAX_UPLOAD_MB", "0.01")
    r = _call(base, "/v1/log-predictions", _token(store, "ada@example.com"), data={"ref": "api-upload:1"},
              files={"input": ("big.csv", b"x" * 20_000)})
    assert r.status_code == 413 and "MODELGOV_API_MAX_UPLOAD_MB" in r.json()["error"]


def test_openapi_lists_every_command_but_the_local_ones(api):
    base, _store, _ = api
    doc = requests.get(f"{base}/openapi.json", timeout=5).json()
    paths = set(doc["paths"])
    assert {"/v1/models/list", "/v1/approvals/approve", "/v1/log-predictions", "/v1/tokens/revoke"} <= paths
    assert not any(p.startswith(("/v1/init", "/v1/demo", "/v1/api", "/v1/import")) for p in paths)
    assert set(endpoints.endpoints()) == paths - {"/health"}
    assert "multipart/form-data" in doc["paths"]["/v1/log-predictions"]["post"]["requestBody"]["content"]
    compare = doc["paths"]["/v1/compare"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert compare["properties"]["models"]["type"] == "array"  # compare A B


def _main(*argv: str):
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from core.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_the_cli_in_remote_mode_acts_only_as_the_token(api, cli, monkeypatch, tmp_path):
    base, store, _ = api
    make_version(store, identity_for(store, "ada@example.com"), "api-remote", risk_tier="low")
    monkeypatch.setenv("MODELGOV_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("MODELGOV_USER", raising=False)
    monkeypatch.setenv("MODELGOV_URL", base)
    monkeypatch.setenv("MODELGOV_TOKEN", _token(store, "vera@example.com"))
    code, out, err = _main("models", "show", "api-remote", "--json")
    assert code == 0, err
    monkeypatch.delenv("MODELGOV_URL")
    monkeypatch.delenv("MODELGOV_TOKEN")
    assert json.loads(out) == json.loads(cli(store, "models", "show", "api-remote", "--json").out)
    monkeypatch.setenv("MODELGOV_URL", base)
    monkeypatch.setenv("MODELGOV_TOKEN", _token(store, "vera@example.com"))
    code, out, err = _main("--as", "alan@example.com", "users", "grant", "x@example.com", "viewer")
    assert code == 2 and "proven by the token alone" in err and err.count("\n") == 1
    code, _out, err = _main("models", "update", "api-remote", "--description", "by vera")
    assert code == 3 and "vera@example.com" in err
    code, out, _err = _main("whoami")
    assert code == 0 and out.startswith("vera@example.com (viewer), with token tok_")
    code, _out, err = _main("demo")
    assert code == 2 and "only in local mode" in err


def test_login_keeps_url_and_token_for_its_owner_only(api, monkeypatch, tmp_path):
    import io
    import stat

    base, store, _ = api
    monkeypatch.setenv("MODELGOV_CONFIG_DIR", str(tmp_path / "config"))
    for var in ("MODELGOV_URL", "MODELGOV_TOKEN", "MODELGOV_USER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(_token(store, "grace@example.com") + "\n"))
    code, out, err = _main("login", "--url", base, "--token-stdin")
    assert code == 0, err
    saved = tmp_path / "config" / "login.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    code, out, _err = _main("whoami", "--json")
    assert json.loads(out)["email"] == "grace@example.com"
    monkeypatch.setattr("sys.stdin", io.StringIO("mgv_" + "B" * 43 + "\n"))
    code, _out, err = _main("login", "--url", base, "--token-stdin")
    assert code == 2 and "Not logged in" in err
    assert _main("login", "--forget")[0] == 0 and not saved.exists()


def test_local_changes_can_be_refused(store, cli, monkeypatch):
    monkeypatch.setenv("MODELGOV_LOCAL_READ_ONLY", "1")
    r = cli(store, "users", "grant", "x@example.com", "viewer", as_="alan@example.com")
    assert r.code == 2 and "MODELGOV_LOCAL_READ_ONLY" in r.err
    assert cli(store, "models", "list", "--json").code == 0
    assert cli(store, "audit", "verify", as_="rita@example.com").code == 0


def test_a_command_run_by_the_api_never_takes_the_servers_MODELGOV_USER(store, monkeypatch):
    import argparse

    from core.cli import Ctx

    monkeypatch.setenv("MODELGOV_USER", "alan@example.com")
    vera = identity_for(store, "vera@example.com")
    ctx = Ctx(argparse.Namespace(), store, identity=vera, remote=True)
    assert ctx.named() is vera and ctx.actor() is vera
    anonymous = Ctx(argparse.Namespace(), store, remote=True)
    assert anonymous.named() is None
    with pytest.raises(Exception, match="no identity"):
        anonymous.actor()
    assert Ctx(argparse.Namespace(), store).named().email == "alan@example.com"  # local mode, as before


def test_a_json_body_past_four_megabytes_is_refused(api):
    base, store, _ = api
    r = requests.post(f"{base}/v1/models/update", timeout=30, data=b'{"name": "' + b"x" * (5 * 1024 * 1024) + b'"}',
                      headers={"Authorization": f"Bearer {_token(store, 'ada@example.com')}",
                               "content-type": "application/json"})
    assert r.status_code == 413 and "multipart" in r.json()["error"]


def test_score_over_the_api_hands_back_the_predictions_file(api, cli, monkeypatch, tmp_path):
    base, store, _ = api
    make_version(store, identity_for(store, "ada@example.com"), "api-score", risk_tier="low")
    df = synthetic_classification(n=80, seed=7).drop(columns="y")
    df["rid"] = [f"r{i}" for i in range(len(df))]
    batch = df.to_csv(index=False).encode()
    here, there = tmp_path / "local", tmp_path / "remote"
    for folder in (here, there):
        folder.mkdir()
        (folder / "batch.csv").write_bytes(batch)
    args = ("score", "api-score:1", "--id-column", "rid", "--no-snapshot")
    local = cli(store, *args, "--input", str(here / "batch.csv"), "--json", as_="ada@example.com")
    local_text = cli(store, *args, "--input", str(here / "batch.csv"), "--output", str(here / "named.csv"),
                     as_="ada@example.com")
    assert local.code == local_text.code == 0, local.err + local_text.err

    monkeypatch.setenv("MODELGOV_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("MODELGOV_USER", raising=False)
    monkeypatch.setenv("MODELGOV_URL", base)
    monkeypatch.setenv("MODELGOV_TOKEN", _token(store, "ada@example.com"))
    code, out, err = _main(*args, "--input", str(there / "batch.csv"), "--json")  # the local default: beside it
    assert code == 0, err
    mine, theirs = json.loads(out), json.loads(local.out)
    assert list(mine) == list(theirs) and mine["output"] == str(there / "batch.scored.csv")
    assert {k: mine[k] for k in ("rows", "logged", "rejected", "reasons")} == \
        {k: theirs[k] for k in ("rows", "logged", "rejected", "reasons")}
    assert (there / "batch.scored.csv").read_bytes() == (here / "batch.scored.csv").read_bytes()
    code, out, err = _main(*args, "--input", str(there / "batch.csv"), "--output", str(there / "named.csv"))
    assert code == 0, err
    assert (there / "named.csv").read_bytes() == (here / "named.csv").read_bytes()
    assert out.replace(str(there), "DIR") == local_text.out.replace(str(here), "DIR")  # the same text

    token = _token(store, "ada@example.com")
    fields = {"ref": "api-score:1", "id_column": "rid", "no_snapshot": "true"}
    r = _call(base, "/v1/score", token, data=fields, files={"input": ("batch.csv", batch)})
    assert r.status_code == 200, r.text
    assert r.json()["output"] == "batch.scored.csv"  # a name: the server's temporary folder is gone
    assert r.json()["csv"].encode() == (here / "batch.scored.csv").read_bytes()
    r = requests.post(f"{base}/v1/score", data=fields, files={"input": ("batch.csv", batch)}, timeout=60,
                      headers={"Authorization": f"Bearer {token}", "X-ModelGov-Output": "text"})
    assert r.status_code == 400 and "JSON only" in r.json()["error"]

    with store.read() as con:
        runs = con.execute("SELECT count(*) FROM ingest_runs").fetchone()[0]
    monkeypatch.setenv("MODELGOV_API_MAX_RESULT_MB", "0.001")  # about 1 KB: less than 80 rows of predictions
    r = _call(base, "/v1/score", token, data=fields, files={"input": ("batch.csv", batch)})
    assert r.status_code == 400 and "MODELGOV_API_MAX_RESULT_MB" in r.json()["error"], r.text
    with store.read() as con:
        assert con.execute("SELECT count(*) FROM ingest_runs").fetchone()[0] == runs  # nothing logged
