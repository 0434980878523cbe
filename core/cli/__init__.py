"""`modelgov`: a thin shell over core for people and CI/CD pipelines.

Conventions for every command: `--json` prints machine-readable JSON on stdout
only; errors are one sentence on stderr; exit codes 0 success, 1 a check found
a problem, 2 invalid input or usage, 3 forbidden, 4 conflict, 5 not found.
The acting person is `--as EMAIL` (or `MODELGOV_USER`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from contextvars import ContextVar
from dataclasses import dataclass, field as _field
from typing import TYPE_CHECKING, Any, Callable, Sequence, TextIO

from ..errors import CoreError, InvalidInput
from . import output as screen

# argparse translates each of its own words (about a hundred per parse) through gettext, which looks for a message
# catalogue on disk on every call: 20-70 ms of each `modelgov` call with LANG=C.UTF-8 or en_US.UTF-8. A catalogue
# does not change while a process runs, so each word is looked up once.
if not hasattr(argparse._, "cache_info"):
    import functools

    argparse._ = functools.lru_cache(maxsize=None)(argparse._)

if TYPE_CHECKING:
    from ..identity import Identity
    from ..store import Store

EXIT_OK, EXIT_CHECK, EXIT_USAGE, EXIT_FORBIDDEN, EXIT_CONFLICT, EXIT_NOT_FOUND = 0, 1, 2, 3, 4, 5

# Every command in the order `modelgov --help` lists it: the module of this package that builds its parser and
# runs it (`register(subparsers, common)` there), and its line in the list. A command's module, and what that
# imports (DuckDB, pandas, scikit-learn, …), loads only when the command is used: `--help` imports none of them.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("registry_cmds", "create or upgrade the store"),
    "demo": ("registry_cmds", "build the demo store with real models (only where no store exists)"),
    "models": ("registry_cmds", "list, show and edit models"),
    "register": ("registry_cmds", "register a model file as the next version"),
    "import": ("import_cmds", "import a model version from MLflow (modelgov import mlflow …)"),
    "verify": ("registry_cmds", "re-hash every artifact (exit 1 on a mismatch)"),
    "datasets": ("registry_cmds", "registered datasets"),
    "users": ("users_cmds", "grant and revoke roles (admin only)"),
    "tokens": ("tokens_cmds", "access tokens for the HTTP API: create, list, revoke"),
    "compare": ("compare_cmds", "compare champion and challenger on the same rows, with 95%% intervals"),
    "approvals": ("approvals_cmds", "request, review and decide deployments"),
    "deploy": ("approvals_cmds", "deploy an approved request (exactly once)"),
    "deployments": ("approvals_cmds", "what runs where"),
    "rollback": ("approvals_cmds", "return an environment to its previous champion"),
    "recertify": ("approvals_cmds", "re-certify a deployed model (risk officer)"),
    "policies": ("approvals_cmds", "approval policies per risk tier"),
    "audit": ("audit_cmds", "the tamper-evident audit trail"),
    "lineage": ("lineage_cmds", "trace models to their data and code, and data to its models"),
    "explain": ("explain_cmds", "SHAP explanation of MODEL[:VERSION] on a data file"),
    "fairness": ("fairness_cmds", "per-group metrics and disparities of MODEL[:VERSION], with 95%% intervals"),
    "fairness-declare": ("fairness_cmds", "declare the sensitive attributes on MODEL's card"),
    "score": ("monitoring_cmds", "score a file with the deployed champion (challengers in shadow)"),
    "log-predictions": ("monitoring_cmds", "log predictions of a model served elsewhere"),
    "log-outcomes": ("monitoring_cmds", "log outcomes that arrived later, by request id"),
    "drift": ("monitoring_cmds", "data drift of CURRENT against REFERENCE (CSV or Parquet)"),
    "monitor": ("monitoring_cmds", "drift and performance of MODEL's logged traffic"),
    "monitor-config": ("monitoring_cmds", "set MODEL's drift methods, thresholds and kinds per column (admin)"),
    "alerts": ("monitoring_cmds", "monitoring alerts"),
    "hooks": ("hooks_cmds", "notifications: webhooks and e-mail subscriptions, their deliveries"),
    "api": ("api_cmds", "serve the authenticated HTTP API (modelgov api serve)"),
    "login": ("api_cmds", "use a ModelGov API from this machine: store its URL and your token (remote mode)"),
    "whoami": ("api_cmds", "who you act as, with which roles (and, remotely, which token)"),
    "store": ("store_cmds", "copy this DuckDB store into PostgreSQL (modelgov store copy --to postgresql://…)"),
}
# Commands that always run on this machine, also in remote mode and when local changes are refused.
LOCAL_ALWAYS = frozenset({"api", "login", "store"})


class UsageError(Exception):
    pass


# Where a command's output goes: stdout, except while the HTTP API runs a command for a caller (core/api), which
# collects it per request (a context variable: the API's threads never see each other's output).
OUTPUT: ContextVar[TextIO | None] = ContextVar("modelgov_cli_output", default=None)


def _stdout() -> TextIO:
    return OUTPUT.get() or sys.stdout


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake as one sentence (exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see '{self.prog} --help').")


@dataclass
class Ctx:
    args: argparse.Namespace
    store: Store
    # Set when the HTTP API runs the command: the identity its bearer token proved (never a name typed), and
    # `remote` for what only the person at this machine may do (unpickling a model file they name).
    identity: Identity | None = None
    remote: bool = False
    # Set by the HTTP API: each uploaded file's temporary path -> what to record as where it came from
    # ("upload:<the name the caller sent>"), since the temporary folder is gone after the request.
    uploads: dict[str, str] = _field(default_factory=dict)
    # Set by the HTTP API: the most a file handed back in its answer may hold (`hands_back`).
    max_result_bytes: int | None = None

    def location(self, path: Any) -> str | None:
        """What to record as the location of the file at `path`: its upload's name over the API, else None (the
        path itself, which core records)."""
        return self.uploads.get(str(path)) if path is not None else None

    @property
    def json(self) -> bool:
        return bool(getattr(self.args, "json", False))

    def actor(self) -> Identity:
        """The acting person with their granted roles; refuses when nobody is named."""
        from ..identity import identity_for

        if self.identity is not None:
            return self.identity
        if self.remote:
            raise InvalidInput("This request carries no identity; send Authorization: Bearer TOKEN.")
        email = getattr(self.args, "as_", None) or os.environ.get("MODELGOV_USER")
        if not email:
            raise InvalidInput("Name the acting person with --as EMAIL (or set MODELGOV_USER).")
        return identity_for(self.store, email)

    def named(self) -> Identity | None:
        """The acting person when one is named (the API's token, --as, MODELGOV_USER), else None: for commands that
        also run anonymously and only record their result for a named person (compare, monitor)."""
        from ..identity import identity_for

        if self.identity is not None or self.remote:
            return self.identity
        email = getattr(self.args, "as_", None) or os.environ.get("MODELGOV_USER")
        return identity_for(self.store, email) if email else None

    def emit(self, data: Any, text: str | Callable[[], str] | None = None) -> None:
        out = _stdout()
        if self.json or text is None:
            print(json_text(data), file=out)
        else:  # what people typed may be in it: nothing a terminal acts on gets through
            print(screen.text(text() if callable(text) else text), file=out)


def json_text(data: Any) -> str:
    """What `--json` prints (before its final newline)."""
    return json.dumps(_clean(data), indent=2, default=str, ensure_ascii=False)


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, (str, bytes)):
        try:
            return _clean(value.item())
        except (TypeError, ValueError):
            return value
    return value


def held_open(handler: Callable[[Ctx], int]) -> Callable[[Ctx], int]:
    """Mark a command that only reads and ends by itself in well under a second: `main` holds the store open
    while it runs (`Store.session`), so its several units of work (who is asking, the permission check, the read)
    share one open of the file instead of paying one each. Such a command changes nothing (`reads_only`)."""
    handler.held_open = True  # type: ignore[attr-defined]
    handler.reads_only = True  # type: ignore[attr-defined]
    return handler


def reads_only(handler: Callable[[Ctx], int]) -> Callable[[Ctx], int]:
    """Mark a command that changes nothing in the store (a longer read: an export, a drift report, a re-hash).
    The HTTP API also offers it by GET, and MODELGOV_LOCAL_READ_ONLY lets it run in local mode."""
    handler.reads_only = True  # type: ignore[attr-defined]
    return handler


@dataclass(frozen=True)
class HandBack:
    """How a command that writes a file for its caller works remotely (`hands_back`)."""

    target: Callable[[argparse.Namespace], Any]  # the file on the caller's machine: --output, or the local default
    text: Callable[[dict], str]                  # the command's text, from its JSON answer


def hands_back(target: Callable[[argparse.Namespace], Any], text: Callable[[dict], str]):
    """Mark a command that writes a file for its caller (`score`'s predictions). Run by the HTTP API, it writes the
    file in the request's temporary folder, which is gone after the request, so the file comes back in the JSON
    answer: `output` is the file's name and `csv` its content (at most `Ctx.max_result_bytes`). The CLI in remote
    mode writes that content at `target(args)` and prints what the command prints locally (`text`, or the JSON with
    `output` the file it wrote)."""
    def mark(handler: Callable[[Ctx], int]) -> Callable[[Ctx], int]:
        handler.hands_back = HandBack(target, text)  # type: ignore[attr-defined]
        return handler

    return mark


def deliver(text: str, output: str | None, what: str) -> int:
    """Write `text` to the file `output` (saying so on stderr) or to stdout; the exit code 0."""
    if output:
        from pathlib import Path

        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as e:
            raise InvalidInput(f"Cannot write {output}: {e.strerror}.") from None
        print(screen.line(f"Wrote {what} to {output}."), file=sys.stderr)
    elif (out := _stdout()).isatty():  # a file or pipe gets the exact bytes; a terminal gets nothing it would act on
        out.write(screen.text(text))
    else:
        out.write(text)
    return 0


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """A plain aligned text table; each cell on one line, without control characters."""
    cells = [[("" if c is None else screen.line(c)) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in cells])


class Commands(argparse._SubParsersAction):
    """The sub-commands, each built when it is used.

    Until then a command is a bare parser holding its line of help, which is all `modelgov --help` shows. When
    parsing reaches a command, its module registers its parsers (with their options, choices and defaults, taken
    from core) and they replace the bare ones; the module's other commands are built too, and left unused.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.common: argparse.ArgumentParser | None = None
        self._unbuilt: dict[str, str] = {}  # command -> its module, until built

    def add_command(self, name: str, module: str, help: str) -> None:
        self._unbuilt[name] = module
        self.add_parser(name, help=help)

    def build(self, name: str) -> argparse.ArgumentParser:
        """The full parser of `name` (importing its module the first time)."""
        module = self._unbuilt.get(name)
        if module is not None:
            _command_module(module).register(_Registrar(self), self.common)
            for command, m in list(self._unbuilt.items()):
                if m == module:
                    del self._unbuilt[command]
        return self._name_parser_map[name]

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # type: ignore[override]
        if values and values[0] in self._name_parser_map:
            self.build(values[0])
        super().__call__(parser, namespace, values, option_string)


def _command_module(name: str) -> Any:
    """The command module `name`, imported by a plain statement (core imports nothing by name)."""
    if name == "registry_cmds":
        from . import registry_cmds as module
    elif name == "import_cmds":
        from . import import_cmds as module
    elif name == "users_cmds":
        from . import users_cmds as module
    elif name == "tokens_cmds":
        from . import tokens_cmds as module
    elif name == "api_cmds":  # api serve, login, whoami
        from . import api_cmds as module
    elif name == "compare_cmds":
        from . import compare_cmds as module
    elif name == "approvals_cmds":
        from . import approvals_cmds as module
    elif name == "audit_cmds":
        from . import audit_cmds as module
    elif name == "lineage_cmds":
        from . import lineage_cmds as module
    elif name == "explain_cmds":
        from . import explain_cmds as module
    elif name == "monitoring_cmds":
        from . import monitoring_cmds as module
    elif name == "hooks_cmds":
        from . import hooks_cmds as module
    elif name == "fairness_cmds":
        from . import fairness_cmds as module
    elif name == "store_cmds":
        from . import store_cmds as module
    else:
        raise RuntimeError(f"No command module {name!r} in core.cli.")
    return module


class _Registrar:
    """What a command module's `register` sees as `sub`: `add_parser` replaces the command's bare parser."""

    def __init__(self, commands: Commands) -> None:
        self.commands = commands

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        if name not in COMMANDS:
            raise RuntimeError(f"Command {name!r} is missing from core.cli.COMMANDS.")
        kwargs.pop("help", None)  # the line of help is COMMANDS'
        kwargs.setdefault("prog", f"{self.commands._prog_prefix} {name}")
        parser = self.commands._parser_class(**kwargs)
        self.commands._name_parser_map[name] = parser
        return parser


def build_parser() -> Parser:
    parser = Parser(prog="modelgov", description="ModelGov: model governance from the command line.")
    parser.add_argument("--as", dest="as_", metavar="EMAIL", help="act as this person (or MODELGOV_USER)")
    parser.add_argument("--home", metavar="DIR", help="the ModelGov home (or MODELGOV_HOME; default ./data)")
    common = Parser(add_help=False)
    common.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    # Also accepted after the command (`modelgov deploy 3 --as rita@…`); absent unless given.
    common.add_argument("--as", dest="as_", metavar="EMAIL", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser, action=Commands)
    sub.required = True
    sub.common = common
    for name, (module, text) in COMMANDS.items():
        sub.add_command(name, module, text)
    return parser


def with_option(error: CoreError, args: argparse.Namespace) -> str:
    """The error's sentence, plus the option that carries the input at fault when this command has one.

    Core names the input in words (`field`, e.g. `override_reason`); which option carries it is the CLI's
    business: `--override-reason TEXT`.
    """
    text = str(error)
    field = getattr(error, "field", None)
    if not field or field not in vars(args):
        return text
    value = vars(args)[field]
    hint = f"--{field.replace('_', '-')}" + (" TEXT" if value is None or isinstance(value, str) else "")
    return f"{text[:-1]} ({hint})." if text.endswith(".") else f"{text} ({hint})"


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except UsageError as e:
        print(screen.line(f"modelgov: {e}"), file=sys.stderr)
        return EXIT_USAGE
    try:
        remote = None if args.command in LOCAL_ALWAYS else _remote()
        if remote is not None:
            from ..api import client

            return client.run(remote, args)
        if (args.command not in LOCAL_ALWAYS and not getattr(args.handler, "reads_only", False)
                and _flag(os.environ.get("MODELGOV_LOCAL_READ_ONLY"))):
            raise InvalidInput("This machine refuses changes in local mode (MODELGOV_LOCAL_READ_ONLY is set), so that "
                               "every change is made by someone a token or a sign-in proves; use the API: set "
                               "MODELGOV_URL and MODELGOV_TOKEN, or run 'modelgov login --url URL'.")
    except CoreError as e:
        print(screen.line(f"modelgov: {with_option(e, args)}"), file=sys.stderr)
        return e.exit_code
    from ..store import Store  # after parsing: `--help` and a usage mistake never load DuckDB

    store = Store(args.home) if args.home else Store()
    try:
        with store.session() if getattr(args.handler, "held_open", False) else contextlib.nullcontext():
            code = args.handler(Ctx(args, store))
        return int(code or 0)
    except CoreError as e:
        print(screen.line(f"modelgov: {with_option(e, args)}"), file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("modelgov: interrupted; nothing was half-written (each change is one transaction).", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # last resort: one sentence, never a traceback, unless asked for
        if os.environ.get("MODELGOV_DEBUG"):
            raise
        print(screen.line(f"modelgov: unexpected error ({type(e).__name__}: {e}); "
                          "run again with MODELGOV_DEBUG=1 for details and report it."), file=sys.stderr)
        return EXIT_CHECK


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _remote():
    """The API to send commands to (MODELGOV_URL + MODELGOV_TOKEN, or `modelgov login`'s file), or None."""
    if not (os.environ.get("MODELGOV_URL") or os.environ.get("MODELGOV_TOKEN")):
        from ..api.client import login_file

        if not login_file().exists():
            return None
    from ..api.client import configured

    return configured()


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
