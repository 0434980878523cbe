"""The CLI's remote mode: with MODELGOV_URL and MODELGOV_TOKEN (or after `modelgov login`), commands go to the API.

The command line is parsed here exactly as in local mode (the same usage sentences, exit 2, before anything is
sent); its arguments become the endpoint's parameters and its files uploads; the server runs the same handler
and sends back what it printed and its exit code. Identity comes only from the token: `--as` and MODELGOV_USER
are refused, since the server would ignore them and a person reading the command would believe them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from . import endpoints

LOGIN_FILE_NAME = "login.json"
TIMEOUT_SECONDS = 3600  # a large upload or a long comparison; the server answers when the command ends


@dataclass(frozen=True)
class Remote:
    url: str
    token: str
    source: str  # "environment" or the login file's path


def login_file() -> Path:
    """Where `modelgov login` keeps the URL and token: $MODELGOV_CONFIG_DIR, else ~/.config/modelgov."""
    base = os.environ.get("MODELGOV_CONFIG_DIR") or os.path.join(
        os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config"), "modelgov")
    return Path(base) / LOGIN_FILE_NAME


def configured(env: dict[str, str] | None = None) -> Remote | None:
    """The API to talk to: MODELGOV_URL + MODELGOV_TOKEN, else the login file; None means local mode."""
    env = os.environ if env is None else env
    url, token = (env.get("MODELGOV_URL") or "").strip(), (env.get("MODELGOV_TOKEN") or "").strip()
    if url or token:
        if not (url and token):
            missing = "MODELGOV_TOKEN" if url else "MODELGOV_URL"
            raise InvalidInput(f"Remote mode needs both MODELGOV_URL and MODELGOV_TOKEN; set {missing} too, or "
                               "unset both for local mode.")
        return Remote(url.rstrip("/"), token, "environment")
    file = login_file()
    if file.exists():
        try:
            saved = json.loads(file.read_text(encoding="utf-8"))
            return Remote(str(saved["url"]).rstrip("/"), str(saved["token"]), str(file))
        except (OSError, ValueError, KeyError, TypeError):
            raise InvalidInput(f"The login file {file} cannot be read; run 'modelgov login --url URL' again or "
                               "delete it.") from None
    return None


def save_login(url: str, token: str) -> Path:
    """Write the login file readable by its owner only (0600), replacing any before it."""
    file = login_file()
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = file.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"url": url.rstrip("/"), "token": token}, f)
    os.chmod(tmp, 0o600)
    os.replace(tmp, file)
    return file


def endpoint_for(args: argparse.Namespace) -> endpoints.Endpoint | None:
    words = [args.command]
    sub = getattr(args, f"{args.command.replace('-', '_')}_command", None)
    if sub:
        words.append(sub)
    return endpoints.endpoints().get("/v1/" + "/".join(words))


def _refuse_local_identity(args: argparse.Namespace) -> None:
    if getattr(args, "as_", None) or os.environ.get("MODELGOV_USER"):
        raise InvalidInput("--as (or MODELGOV_USER) names a person, but in remote mode (MODELGOV_URL) who acts is "
                           "proven by the token alone, so a name typed here would mean nothing; drop it, or unset "
                           "MODELGOV_URL and MODELGOV_TOKEN for local mode.")
    if getattr(args, "home", None):
        raise InvalidInput("--home names a store on this machine, but in remote mode (MODELGOV_URL) the store is the "
                           "server's; drop it, or unset MODELGOV_URL and MODELGOV_TOKEN for local mode.")


@dataclass
class Reply:
    status: int
    body: str
    exit_code: int


def call(remote: Remote, path: str, values: dict[str, Any], files: dict[str, Path], *, as_json: bool) -> Reply:
    """Send one call; a server that cannot be reached is one sentence."""
    import requests

    headers = {"Authorization": f"Bearer {remote.token}", "X-ModelGov-Output": "json" if as_json else "text"}
    opened = []
    try:
        if files:
            parts = {}
            for name, path_ in files.items():
                handle = open(path_, "rb")
                opened.append(handle)
                parts[name] = (path_.name, handle)
            form = [(k, str(x)) for k, v in values.items() for x in (v if isinstance(v, list) else [v])]
            r = requests.post(remote.url + path, headers=headers, data=form, files=parts, timeout=TIMEOUT_SECONDS)
        else:
            r = requests.post(remote.url + path, headers=headers, json=values, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as e:
        raise InvalidInput(f"Cannot reach the ModelGov API at {remote.url} ({type(e).__name__}); check "
                           "MODELGOV_URL and that the server runs.") from None
    finally:
        for handle in opened:
            handle.close()
    try:
        code = int(r.headers.get("X-ModelGov-Exit-Code", ""))
    except ValueError:
        code = 0 if r.ok else 1
    return Reply(r.status_code, r.text, code)


def run(remote: Remote, args: argparse.Namespace) -> int:
    """Run the parsed command on the server; print what it printed; return its exit code."""
    from ..cli.output import line, text

    _refuse_local_identity(args)
    endpoint = endpoint_for(args)
    if endpoint is None:
        raise InvalidInput(f"'modelgov {args.command}' works only in local mode (it acts on this machine); unset "
                           "MODELGOV_URL and MODELGOV_TOKEN to run it here.")
    values: dict[str, Any] = {}
    files: dict[str, Path] = {}
    params = {p.name for p in endpoint.params}
    output = None
    hand_back = getattr(endpoint.handler, "hands_back", None)  # a file the command writes for its caller
    for dest, value in vars(args).items():
        if dest in endpoints.SKIP_DESTS or dest in ("command", "handler") or dest.endswith("_command"):
            continue
        if dest not in params:
            if hand_back is not None and dest == "output":
                continue  # the file comes back in the answer and is written where `hand_back.target` says
            if value not in (None, False) and dest == "output" and endpoint.reads_only:
                output = value  # an export: the server's answer is written here
            elif value not in (None, False) and dest in ("output", "html"):
                raise InvalidInput(f"--{dest} writes a file on the machine that runs the command, which in remote "
                                   "mode is the server; use the command's JSON, or an export with -o.")
            continue
        values[dest] = value
    for p in endpoint.params:
        value = values.get(p.name)
        if value is None or value is False or (p.default is not None and value == p.default):
            values.pop(p.name, None)
            continue
        if p.kind == "upload" or (p.kind == "json" and not str(value).lstrip().startswith("{")):
            file = Path(str(value))
            if not file.is_file():
                raise InvalidInput(f"{value} is not a file on this machine; in remote mode files are uploaded "
                                   "(an MLflow model folder registers only in local mode).")
            files[p.name] = file
            values.pop(p.name)
    target = hand_back.target(args) if hand_back is not None else None  # checked before anything is sent
    reply = call(remote, endpoint.path, values, files,
                 as_json=hand_back is not None or (bool(getattr(args, "json", False)) and output is None))
    if reply.status >= 400:
        try:
            sentence = json.loads(reply.body)["error"]
        except (ValueError, KeyError, TypeError):
            sentence = f"the API answered {reply.status} without a sentence"
        print(line(f"modelgov: {sentence}"), file=sys.stderr)
        return reply.exit_code or 1
    if hand_back is not None:
        from ..cli import json_text

        answer = _write_handed_back(reply.body, target, remote)
        print(json_text(answer) if getattr(args, "json", False) else text(hand_back.text(answer)))
    elif output is not None:
        from ..cli import deliver

        deliver(reply.body, output, "the export")
    elif sys.stdout.isatty():  # as locally: a terminal gets nothing it would act on
        sys.stdout.write(text(reply.body))
    else:
        sys.stdout.write(reply.body)
    return reply.exit_code


def _write_handed_back(body: str, target: Path, remote: Remote) -> dict[str, Any]:
    """Write the file that came back in the answer (`csv`) at `target`, byte for byte, and return the answer as the
    command answers locally: without the content, `output` naming the file written."""
    try:
        answer = json.loads(body)
        content = answer.pop("csv")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InvalidInput(f"The API at {remote.url} did not send the file back (a server older than this CLI?); "
                           "upgrade it, or run the command in local mode.") from None
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        partial.write_bytes(content.encode("utf-8"))
        os.replace(partial, target)
    except OSError as e:
        partial.unlink(missing_ok=True)
        raise InvalidInput(f"Cannot write {target}: {e.strerror}; the command ran on the server all the same."
                           ) from None
    answer["output"] = str(target)
    return answer
