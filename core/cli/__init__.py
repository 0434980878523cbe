"""`modelgov`: a thin shell over core for people and CI/CD pipelines.

Conventions for every command: `--json` prints machine-readable JSON on stdout
only; errors are one sentence on stderr; exit codes 0 success, 1 a check found
a problem, 2 invalid input or usage, 3 forbidden, 4 conflict, 5 not found.
The acting person is `--as EMAIL` (or `MODELGOV_USER`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..errors import CoreError, InvalidInput
from ..identity import Identity, identity_for
from ..store import Store
from . import output as screen

EXIT_OK, EXIT_CHECK, EXIT_USAGE, EXIT_FORBIDDEN, EXIT_CONFLICT, EXIT_NOT_FOUND = 0, 1, 2, 3, 4, 5

# Each module defines `register(subparsers, common)`; add new command groups here.


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake as one sentence (exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see '{self.prog} --help').")


@dataclass
class Ctx:
    args: argparse.Namespace
    store: Store

    @property
    def json(self) -> bool:
        return bool(getattr(self.args, "json", False))

    def actor(self) -> Identity:
        """The acting person with their granted roles; refuses when nobody is named."""
        email = self.args.as_ or os.environ.get("MODELGOV_USER")
        if not email:
            raise InvalidInput("Name the acting person with --as EMAIL (or set MODELGOV_USER).")
        return identity_for(self.store, email)

    def emit(self, data: Any, text: str | Callable[[], str] | None = None) -> None:
        if self.json:
            print(json.dumps(_clean(data), indent=2, default=str, ensure_ascii=False))
        elif text is not None:  # what people typed may be in it: nothing a terminal acts on gets through
            print(screen.text(text() if callable(text) else text))
        else:
            print(json.dumps(_clean(data), indent=2, default=str, ensure_ascii=False))


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


def deliver(text: str, output: str | None, what: str) -> int:
    """Write `text` to the file `output` (saying so on stderr) or to stdout; the exit code 0."""
    if output:
        from pathlib import Path

        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as e:
            raise InvalidInput(f"Cannot write {output}: {e.strerror}.") from None
        print(screen.line(f"Wrote {what} to {output}."), file=sys.stderr)
    elif sys.stdout.isatty():  # a file or pipe gets the exact bytes; a terminal gets nothing it would act on
        sys.stdout.write(screen.text(text))
    else:
        sys.stdout.write(text)
    return 0


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """A plain aligned text table; each cell on one line, without control characters."""
    cells = [[("" if c is None else screen.line(c)) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in cells])


def build_parser() -> Parser:
    parser = Parser(prog="modelgov", description="ModelGov: model governance from the command line.")
    parser.add_argument("--as", dest="as_", metavar="EMAIL", help="act as this person (or MODELGOV_USER)")
    parser.add_argument("--home", metavar="DIR", help="the ModelGov home (or MODELGOV_HOME; default ./data)")
    common = Parser(add_help=False)
    common.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    # Also accepted after the command (`modelgov deploy 3 --as rita@…`); absent unless given.
    common.add_argument("--as", dest="as_", metavar="EMAIL", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    # The command modules import this package's helpers, so they are imported here, once the package exists.
    from . import (approvals_cmds, compare_cmds, explain_cmds, lineage_cmds, monitoring_cmds, registry_cmds,
                   users_cmds)

    for commands in (registry_cmds, users_cmds, compare_cmds, approvals_cmds, lineage_cmds, explain_cmds,
                     monitoring_cmds):
        commands.register(sub, common)
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
    store = Store(args.home) if args.home else Store()
    try:
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


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
