"""The API's endpoints, read from the CLI's own parsers: one table, so the CLI and the API cannot drift.

Each leaf command of `modelgov` (`models list`, `approvals approve`, `log-predictions`, …) is the endpoint
`/v1/models/list`, `/v1/approvals/approve`, `/v1/log-predictions`. Its parameters are the command's arguments
under their argparse names (`comment`, `override_reason`, `id`); files (`--input FILE`, `--model FILE`, …) are
uploads; options that write a file on the machine running the command (`--output`, `--html`) are not offered, and
the output comes back in the response instead. A call builds the command line from the parameters, parses it with
the command's own parser (the same choices, types and sentences) and runs the command's handler with the identity
the bearer token proved, `--json` always on: the response is exactly what `modelgov … --json` prints.

Not offered: `init` and `demo` (they make a store), `import mlflow` (it reads a tracking store on the server), and
`api`, `login` (they are about this machine).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import CheckFailed, Conflict, CoreError, Forbidden, InvalidInput, NotFound, Unauthenticated
from ..identity import Identity, allowed, require

log = logging.getLogger("modelgov.api")

LOCAL_ONLY = frozenset({"init", "demo", "import", "api", "login", "store"})
UPLOAD_METAVARS = frozenset({"FILE", "REFERENCE", "CURRENT"})
# A parameter that the command reads as JSON text or as a path: over the API only the JSON text (or an upload).
JSON_OR_PATH_METAVARS = frozenset({"JSON|FILE"})
SKIP_DESTS = frozenset({"help", "json", "as_", "home"})
DEFAULT_MAX_RESULT_MB = 100


def max_result_bytes() -> int:
    """`MODELGOV_API_MAX_RESULT_MB` (default 100): the most a file handed back in an answer may hold (`score`'s
    predictions, over a million rows of a binary model); past it the command is refused and nothing is logged."""
    try:
        return int(float(os.environ.get("MODELGOV_API_MAX_RESULT_MB", DEFAULT_MAX_RESULT_MB)) * 1024 * 1024)
    except ValueError:
        return DEFAULT_MAX_RESULT_MB * 1024 * 1024


@dataclass(frozen=True)
class Param:
    """One argument of a command, as the API takes it."""

    name: str            # the argparse dest: the key in JSON, the query and the form
    kind: str            # "positional", "option", "flag" (true/false), "list" (repeatable), "upload", "json"
    required: bool
    help: str
    option: str = ""     # the option string (--time-column); "" for positionals
    choices: tuple[str, ...] = ()
    integer: bool = False
    default: Any = None
    many: bool = False   # a positional that takes several values (`compare A B`): a list


@dataclass(frozen=True)
class Endpoint:
    words: tuple[str, ...]
    parser: argparse.ArgumentParser = field(repr=False, compare=False)
    handler: Callable = field(repr=False, compare=False)
    params: tuple[Param, ...]
    help: str

    @property
    def path(self) -> str:
        return "/v1/" + "/".join(self.words)

    @property
    def command(self) -> str:
        return "modelgov " + " ".join(self.words)

    @property
    def reads_only(self) -> bool:
        return bool(getattr(self.handler, "reads_only", False))

    @property
    def uploads(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.kind in ("upload", "json"))


def _is_output(action: argparse.Action) -> bool:
    return getattr(action.type, "__name__", "") == "output_file"


def _param(action: argparse.Action) -> Param | None:
    if action.dest in SKIP_DESTS or _is_output(action) or isinstance(action, argparse._SubParsersAction):
        return None
    help_text = action.help if isinstance(action.help, str) and action.help != argparse.SUPPRESS else ""
    option = max(action.option_strings, key=len) if action.option_strings else ""
    choices = tuple(str(c) for c in action.choices) if action.choices else ()
    integer = getattr(action.type, "__name__", "") == "whole number" or action.type is int
    if action.metavar in UPLOAD_METAVARS:
        kind = "upload"
    elif action.metavar in JSON_OR_PATH_METAVARS:
        kind = "json"
    elif isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        kind = "flag"
    elif isinstance(action, argparse._AppendAction):
        kind = "list"
    elif not option:
        kind = "positional"
    else:
        kind = "option"
    default = action.default if action.default is not argparse.SUPPRESS else None
    many = kind == "positional" and (action.nargs in ("+", "*") or (isinstance(action.nargs, int) and action.nargs > 1))
    return Param(action.dest, kind, bool(action.required or (not option and action.nargs != "?")), help_text,
                 option, choices, integer, default, many)


_lock = threading.Lock()
_table: dict[str, Endpoint] | None = None


def endpoints() -> dict[str, Endpoint]:
    """Every endpoint by path, built once per process from `core.cli.COMMANDS` and the commands' parsers."""
    global _table
    with _lock:
        if _table is None:
            from ..cli import COMMANDS, build_parser

            top = build_parser()
            commands = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
            table: dict[str, Endpoint] = {}
            for name, (_module, help_line) in COMMANDS.items():
                if name not in LOCAL_ONLY:
                    _walk(commands.build(name), (name,), help_line.replace("%%", "%"), table)
            _table = table
        return _table


def _walk(parser: argparse.ArgumentParser, words: tuple[str, ...], help_line: str, out: dict) -> None:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if subs:
        helps = {c.dest: c.help for c in subs[0]._choices_actions}
        for word, child in subs[0].choices.items():
            _walk(child, words + (word,), helps.get(word) or help_line, out)
        return
    handler = parser.get_default("handler")
    if handler is None:
        return
    params = tuple(p for a in parser._actions if (p := _param(a)) is not None)
    endpoint = Endpoint(words, parser, handler, params, help_line)
    out[endpoint.path] = endpoint


@dataclass
class Result:
    """What a call produced: an HTTP status, the body, its type, and the CLI's exit code for the same call."""

    status: int
    body: str
    content_type: str
    exit_code: int

    def json(self) -> Any:
        return json.loads(self.body)


STATUS = ((Unauthenticated, 401), (InvalidInput, 400), (Forbidden, 403), (NotFound, 404), (Conflict, 409),
          (CheckFailed, 422))


def error_result(error: CoreError, sentence: str | None = None) -> Result:
    status = next((code for cls, code in STATUS if isinstance(error, cls)), 500)
    return _error(status, sentence or str(error), error.exit_code)


def _error(status: int, sentence: str, exit_code: int) -> Result:
    return Result(status, json.dumps({"error": sentence, "exit_code": exit_code}, ensure_ascii=False),
                  "application/json", exit_code)


def _text(value: Any, param: Param) -> str:
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise InvalidInput(f"The parameter {param.name} takes text or a number, not {json.dumps(value)}.")
    return str(value)


def argv_for(endpoint: Endpoint, values: dict[str, Any], files: dict[str, Path], as_json: bool = True) -> list[str]:
    """The command line (after the command's words) that the parameters spell, `--json` unless text is asked for."""
    known = {p.name: p for p in endpoint.params}
    unknown = sorted(set(values) - set(known)) + sorted(set(files) - {p.name for p in endpoint.uploads})
    if unknown:
        names = ", ".join(p.name for p in endpoint.params) or "none"
        raise InvalidInput(f"{endpoint.path} has no parameter {unknown[0]!r}; its parameters are {names}.")
    options: list[str] = []
    positionals: list[str] = []
    for p in endpoint.params:
        if p.kind in ("upload", "json") and p.name in files:
            if p.name in values:
                raise InvalidInput(f"Give {p.name} once: as an uploaded file or as text, not both.")
            value: Any = str(files[p.name])
        elif p.kind == "upload":
            if p.name in values:
                raise InvalidInput(f"Send {p.name} as an uploaded file (multipart/form-data), not as text: "
                                   "the API never reads a path on its server.")
            continue
        elif p.name not in values or values[p.name] is None:
            continue
        else:
            value = values[p.name]
        if p.kind == "json" and p.name not in files:
            value = value if isinstance(value, str) else json.dumps(value)
            if not value.lstrip().startswith("{"):
                raise InvalidInput(f"Give {p.name} as a JSON object or upload it as a file: the API never reads "
                                   "a path on its server.")
        if p.kind == "flag":
            if not isinstance(value, bool) and str(value).lower() not in ("true", "false", "1", "0"):
                raise InvalidInput(f"The parameter {p.name} is true or false, not {value!r}.")
            if value is True or str(value).lower() in ("true", "1"):
                options.append(p.option)
        elif p.kind == "list":
            for item in value if isinstance(value, list) else [value]:
                options.append(f"{p.option}={_text(item, p)}")
        elif p.kind == "positional":  # a list for a command that takes several (`compare A B`)
            positionals.extend(_text(item, p) for item in (value if isinstance(value, list) else [value]))
        else:
            options.append(f"{p.option}={_text(value, p)}")
    # After `--` a positional that begins with "-" is still a value, never an option.
    return options + (["--json"] if as_json else []) + (["--"] + positionals if positionals else [])


def run(endpoint: Endpoint, store, actor: Identity, values: dict[str, Any],
        files: dict[str, Path] | None = None, *, as_json: bool = True, uploads: dict[str, str] | None = None) -> Result:
    """Run the endpoint's command for `actor`: the CLI's handler, its `--json` output, its one-sentence errors.

    `as_json=False` gives the command's text instead (the CLI in remote mode prints what it prints locally).
    `uploads` maps each uploaded file's temporary path to the location to record for it (`upload:<name>`).
    Everyone who calls the API must hold a role (`view`): a token whose owner lost every role reads nothing.
    """
    from ..cli import OUTPUT, Ctx, UsageError, with_option

    files = files or {}
    args = None
    try:
        if not allowed(actor, "view"):
            with store.transaction():  # records the refusal
                require(actor, "view", "api", endpoint.path)
        if not as_json and getattr(endpoint.handler, "hands_back", None) is not None:
            raise InvalidInput(f"{endpoint.path} answers in JSON only: the file it writes comes back in the answer's "
                               "csv field; drop X-ModelGov-Output: text.")
        argv = argv_for(endpoint, values, files, as_json)
        try:
            args = endpoint.parser.parse_args(argv)
        except UsageError as e:
            return _error(400, str(e).replace(f"(see '{endpoint.parser.prog} --help')",
                                              f"(see {endpoint.path} in /openapi.json)"), 2)
        out = io.StringIO()
        token = OUTPUT.set(out)
        try:
            code = int(endpoint.handler(Ctx(args, store, identity=actor, remote=True, uploads=dict(uploads or {}),
                                        max_result_bytes=max_result_bytes())) or 0)
        finally:
            OUTPUT.reset(token)
    except CoreError as e:
        return error_result(e, with_option(e, args) if args is not None else None)
    except Exception as e:  # one sentence for the caller, the details in the server's log
        log.exception("unexpected error in %s", endpoint.path)
        return _error(500, f"Unexpected error ({type(e).__name__}); the server's log has the details.", 1)
    body = out.getvalue()
    stripped = body.lstrip()
    if stripped.startswith(("{", "[")) or stripped in ("null", "true", "false"):
        kind = "application/json"
    elif stripped.startswith(("<!DOCTYPE", "<!doctype", "<html")):
        kind = "text/html; charset=utf-8"
    else:
        kind = "text/plain; charset=utf-8"
    return Result(200, body, kind, code)
