"""api serve: the authenticated HTTP API over this store."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..auth import SECRETS_FILE
from ..errors import InvalidInput
from . import Ctx, held_open
from .argtypes import whole_number


def register(sub, common) -> None:
    grp = sub.add_parser("api").add_subparsers(dest="api_command", metavar="SUBCOMMAND")
    grp.required = True
    p = grp.add_parser("serve", parents=[common], help="serve the HTTP API (Ctrl-C stops it)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=whole_number(1, 65535), default=8600, help="port (default 8600)")
    p.add_argument("--secrets", metavar="TOML", default=SECRETS_FILE,
                   help=f"the dashboard's secrets file whose [auth] providers' tokens are accepted "
                        f"(default {SECRETS_FILE}; without it, ModelGov access tokens only)")
    p.set_defaults(handler=cmd_serve)
    register_login(sub, common)


def load_secrets(path: str) -> dict | None:
    """The parsed secrets file, None when there is none; a file that does not parse stops the server."""
    import tomllib

    file = Path(path)
    if not file.exists():
        return None
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise InvalidInput(f"Cannot read {path} ({e}); correct it, or the API cannot tell which identity "
                           "provider's tokens to accept.") from None


def cmd_serve(ctx: Ctx) -> int:
    try:
        from ..api import server
    except ImportError as e:
        raise InvalidInput(f"The API needs Starlette and uvicorn ({e.name} is missing): "
                           "pip install 'modelgov[api]'.") from None
    from ..api.bearer import Verifier

    verifier = Verifier(load_secrets(ctx.args.secrets))
    ctx.store.home.mkdir(parents=True, exist_ok=True)
    with ctx.store.transaction():  # create or upgrade the store now, not in the first request
        pass
    who = ("ModelGov access tokens and tokens from " + ", ".join(p.name for p in verifier.providers)
           if verifier.enabled else "ModelGov access tokens only (no [auth] provider configured)")
    print(f"ModelGov API on http://{ctx.args.host}:{ctx.args.port} over {ctx.store.location}; accepting {who}. "
          "Ctrl-C stops it.", file=sys.stderr, flush=True)
    server.serve(ctx.store, ctx.args.host, ctx.args.port, verifier)
    return 0


def register_login(sub, common) -> None:
    p = sub.add_parser("login", parents=[common])
    p.add_argument("--url", help="the API's address, e.g. https://modelgov.example.com/api")
    p.add_argument("--token-stdin", action="store_true", help="read the token from stdin instead of a prompt")
    p.add_argument("--forget", action="store_true", help="delete the stored URL and token (back to local mode)")
    p.set_defaults(handler=cmd_login)
    p = sub.add_parser("whoami", parents=[common])
    p.set_defaults(handler=cmd_whoami)


def cmd_login(ctx: Ctx) -> int:
    from ..api import client

    file = client.login_file()
    if ctx.args.forget:
        file.unlink(missing_ok=True)
        ctx.emit({"login_file": str(file), "forgotten": True}, f"Forgot the login in {file}; local mode again.")
        return 0
    if not ctx.args.url:
        raise InvalidInput("Name the API with --url URL (or --forget to go back to local mode).")
    if ctx.args.token_stdin or not sys.stdin.isatty():
        token = sys.stdin.readline().strip()
    else:
        import getpass

        token = getpass.getpass("ModelGov access token (mgv_…, or your provider's token): ").strip()
    if not token:
        raise InvalidInput("No token given; make one with 'modelgov tokens create' or in the dashboard.")
    remote = client.Remote(ctx.args.url.rstrip("/"), token, "login")
    reply = client.call(remote, "/v1/whoami", {}, {}, as_json=True)
    if reply.status >= 400:
        try:
            sentence = json.loads(reply.body)["error"]
        except (ValueError, KeyError, TypeError):
            sentence = f"the server at {ctx.args.url} answered {reply.status}; is it a ModelGov API?"
        raise InvalidInput(f"Not logged in: {sentence}")
    me = json.loads(reply.body)
    saved = client.save_login(remote.url, token)
    ctx.emit({"url": remote.url, "email": me["email"], "roles": me["roles"], "login_file": str(saved)},
             f"Logged in to {remote.url} as {me['email']} ({', '.join(me['roles']) or 'no role'}); the token is in "
             f"{saved} (readable by you only). Commands now run there.")
    return 0


@held_open
def cmd_whoami(ctx: Ctx) -> int:
    me = ctx.actor()
    ctx.emit({"email": me.email, "roles": sorted(me.roles), "token_id": me.token_id or None},
             f"{me.email} ({', '.join(sorted(me.roles)) or 'no role'})"
             + (f", with token {me.token_id}" if me.token_id else ""))
    return 0
