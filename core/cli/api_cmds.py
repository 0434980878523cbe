"""api serve: the authenticated HTTP API over this store."""

from __future__ import annotations

import sys
from pathlib import Path

from ..auth import SECRETS_FILE
from ..errors import InvalidInput
from . import Ctx
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
    print(f"ModelGov API on http://{ctx.args.host}:{ctx.args.port} over {ctx.store.db_path}; accepting {who}. "
          "Ctrl-C stops it.", file=sys.stderr, flush=True)
    server.serve(ctx.store, ctx.args.host, ctx.args.port, verifier)
    return 0
