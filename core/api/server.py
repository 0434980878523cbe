"""The HTTP API as a Starlette application, served by uvicorn (`modelgov api serve`).

Starlette, not FastAPI: the endpoints are not Python functions with typed signatures to introspect but rows of one
table read from the CLI's parsers (core/api/endpoints.py), so FastAPI's main gift (OpenAPI and validation from
signatures) would not apply and its pydantic layer would be a second validator beside argparse's; Starlette and
uvicorn are already installed with Streamlit, so the API adds no package. The OpenAPI document is written from
the same table.

- `GET /health` answers without authentication (load balancers); everything else needs a bearer token.
- `POST /v1/<command>[/<subcommand>]` with a JSON object, or multipart/form-data when it carries files;
  commands that change nothing also answer `GET` with the parameters in the query string.
- The body is what `modelgov … --json` prints (with `X-ModelGov-Output: text`, what it prints without `--json`); `X-ModelGov-Exit-Code` is the CLI's exit code for the same call.
- Errors: `{"error": sentence, "exit_code": n}` with 400, 401, 403, 404, 409, 413 or 422.
- Stateless over the store: every request opens it for its units of work, as the CLI does, so replicas and the
  dashboard share one store (or, later, PostgreSQL).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ..errors import CoreError, InvalidInput
from . import bearer, endpoints

DEFAULT_MAX_UPLOAD_MB = 1024
MAX_BODY_BYTES = 4 * 1024 * 1024  # a JSON or form body of parameters (files go as multipart)
_BODY_TOO_LARGE = ("The request's parameters are larger than 4 MB; send files as multipart/form-data uploads, "
                   "not inside JSON.")
_SUFFIX = re.compile(r"(\.[A-Za-z0-9]{1,10}){1,2}$")  # .csv, .parquet, .skops, .csv.gz
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def max_upload_bytes() -> int:
    """`MODELGOV_API_MAX_UPLOAD_MB` (default 1024): the most one request may upload, all files together."""
    try:
        return int(float(os.environ.get("MODELGOV_API_MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB)) * 1024 * 1024)
    except ValueError:
        return DEFAULT_MAX_UPLOAD_MB * 1024 * 1024


class TooLarge(Exception):
    pass


def _response(result: endpoints.Result) -> Response:
    headers = {"X-ModelGov-Exit-Code": str(result.exit_code)}
    if result.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="modelgov"'
    return Response(result.body, status_code=result.status, media_type=result.content_type, headers=headers)


def _problem(status: int, sentence: str, exit_code: int) -> Response:
    return JSONResponse({"error": sentence, "exit_code": exit_code}, status_code=status,
                        headers={"X-ModelGov-Exit-Code": str(exit_code)})


def _safe_name(name: str | None, field: str) -> str:
    """The uploaded file's own name, made plain (a dataset is named after its file, as in local mode: "credit
    train.csv" is dataset credit-train either way), else the field's name with the upload's suffix (the command
    reads the format from it)."""
    base = Path((name or "").replace("\\", "/")).name
    if _PLAIN.fullmatch(base):
        return base
    suffix = _SUFFIX.search(base)
    ext = suffix.group(0).lower() if suffix else ""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", base[: len(base) - len(ext)]).strip("-._")[:80]
    return stem + ext if stem else field + ext


def _sent_name(name: str | None, stored: str) -> str:
    """What a dataset records as its location: `upload:` and the file's own name as the caller sent it (the
    temporary path on this server means nothing to anyone, and is gone after the request)."""
    base = Path((name or "").replace("\\", "/")).name
    base = "".join(ch for ch in base if ch.isprintable())[:200].strip()
    return "upload:" + (base or stored)


async def _multipart(request: Request, endpoint: endpoints.Endpoint, folder: Path) -> tuple[dict, dict, dict]:
    from starlette.formparsers import MultiPartException, MultiPartParser

    limit = max_upload_bytes()
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge()

    async def limited():
        seen = 0
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > limit:
                raise TooLarge()
            yield chunk

    uploads = {p.name for p in endpoint.uploads}
    try:
        form = await MultiPartParser(request.headers, limited(), max_files=len(uploads) or 1,
                                     max_fields=100).parse()
    except MultiPartException as e:
        raise InvalidInput(f"The multipart body could not be read: {e}") from None
    values: dict[str, Any] = {}
    files: dict[str, Path] = {}
    sent: dict[str, str] = {}
    try:
        for key, value in form.multi_items():
            if hasattr(value, "read"):  # an UploadFile
                if key not in uploads:
                    raise InvalidInput(f"{endpoint.path} takes no file {key!r}; its files are "
                                       f"{', '.join(sorted(uploads)) or 'none'}.")
                target = folder / key / _safe_name(value.filename, key)  # a folder per field: names never clash
                target.parent.mkdir(exist_ok=True)
                with target.open("wb") as out:
                    await run_in_threadpool(shutil.copyfileobj, value.file, out, 1024 * 1024)
                files[key] = target
                sent[str(target)] = _sent_name(value.filename, target.name)
            elif key in values:
                values[key] = (values[key] if isinstance(values[key], list) else [values[key]]) + [value]
            else:
                values[key] = value
    finally:
        await form.close()
    return values, files, sent


async def _values(request: Request, endpoint: endpoints.Endpoint, folder: Path) -> tuple[dict, dict, dict]:
    """(parameters, uploaded files by parameter, each upload's temporary path -> the location to record)."""
    if request.method == "GET":
        values: dict[str, Any] = {}
        for key, value in request.query_params.multi_items():
            values[key] = (values[key] if isinstance(values[key], list) else [values[key]]) + [value] \
                if key in values else value
        return values, {}, {}
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        return await _multipart(request, endpoint, folder)
    if kind == "application/x-www-form-urlencoded":  # curl -d name=value
        declared = request.headers.get("content-length")
        if not declared or not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
            raise TooLarge(_BODY_TOO_LARGE)
        form = await request.form(max_files=0, max_fields=100)
        values = {}
        for key, value in form.multi_items():
            values[key] = (values[key] if isinstance(values[key], list) else [values[key]]) + [value] \
                if key in values else value
        return values, {}, {}
    body = b""
    async for chunk in request.stream():  # parameters, not files: a few KiB; a flood is refused, not buffered
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise TooLarge(_BODY_TOO_LARGE)
    if not body.strip():
        return {}, {}, {}
    if kind not in ("application/json", ""):
        raise InvalidInput(f"Send a JSON object (application/json) or multipart/form-data, not {kind}.")
    try:
        values = json.loads(body)
    except ValueError:
        raise InvalidInput("The request body is not valid JSON; send an object such as {\"comment\": \"…\"}.") \
            from None
    if not isinstance(values, dict):
        raise InvalidInput("The request body must be a JSON object of parameters, e.g. {\"comment\": \"…\"}.")
    return values, {}, {}


def create_app(store, verifier: bearer.Verifier | None = None) -> Starlette:
    """The API over `store`; `verifier` checks identity-provider JWTs (None: ModelGov access tokens only)."""
    table = endpoints.endpoints()

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def call(request: Request) -> Response:
        endpoint = table.get(request.url.path.rstrip("/"))
        if endpoint is None:
            return _problem(404, f"No endpoint {request.url.path}; see /openapi.json for the list.", 5)
        if request.method == "GET" and not endpoint.reads_only:
            return _problem(405, f"{endpoint.path} changes the store: use POST.", 2)
        as_json = request.headers.get("x-modelgov-output", "json").strip().lower() != "text"
        if request.method == "GET" and getattr(endpoint.handler, "held_open", False):
            # A short read with its parameters in the query: who is asking and the read share one open of the store.
            values, _files, _sent = await _values(request, endpoint, Path("."))
            return _response(await run_in_threadpool(_read, endpoint, store, request.headers.get("authorization"),
                                                     verifier, values, as_json))
        try:  # who is calling, before anything is read or uploaded
            actor = await run_in_threadpool(bearer.identify, store, request.headers.get("authorization"), verifier)
        except CoreError as e:
            return _response(endpoints.error_result(e))
        folder = Path(tempfile.mkdtemp(prefix="modelgov-api-"))
        try:
            try:
                values, files, sent = await _values(request, endpoint, folder)
            except TooLarge as e:
                return _problem(413, str(e) or f"The upload is larger than the {max_upload_bytes() // (1024 * 1024)} "
                                               "MB this server accepts (MODELGOV_API_MAX_UPLOAD_MB); split the file.", 2)
            except CoreError as e:
                return _response(endpoints.error_result(e))
            result = await run_in_threadpool(_run, endpoint, store, actor, values, files, as_json, sent)
            return _response(result)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document(table))

    async def docs(request: Request) -> Response:
        return HTMLResponse(docs_page(table))

    routes = [Route("/health", health, methods=["GET"]),
              Route("/openapi.json", openapi, methods=["GET"]),
              Route("/docs", docs, methods=["GET"]),
              Route("/v1/{rest:path}", call, methods=["GET", "POST"])]
    app = Starlette(routes=routes)
    app.state.store = store
    return app


# One command that changes the store at a time in this process. Two processes take turns on the store file's lock;
# two threads of one process would instead run their transactions side by side, and DuckDB's optimistic
# concurrency would end one of them in "someone else changed the same record" (both append to the audit trail).
# Reads never wait for it.
_WRITER = threading.Lock()


def _read(endpoint, store, authorization, verifier, values, as_json) -> endpoints.Result:
    with store.session():
        try:
            actor = bearer.identify(store, authorization, verifier)
        except CoreError as e:
            return endpoints.error_result(e)
        return endpoints.run(endpoint, store, actor, values, {}, as_json=as_json)


def _run(endpoint, store, actor, values, files, as_json, sent=None) -> endpoints.Result:
    def run() -> endpoints.Result:
        return endpoints.run(endpoint, store, actor, values, files, as_json=as_json, uploads=sent)

    if getattr(endpoint.handler, "held_open", False):  # a short read: one open of the store for all of it
        with store.session():
            return run()
    if endpoint.reads_only:
        return run()
    with _WRITER:
        return run()


_ERRORS = {"400": "invalid input", "401": "no valid bearer token", "403": "forbidden", "404": "not found",
           "409": "conflict with the current state", "413": "upload too large", "422": "a check found a problem"}


def _schema(p: endpoints.Param) -> dict[str, Any]:
    if p.kind == "flag":
        return {"type": "boolean", "default": bool(p.default)}
    if p.kind == "upload":
        return {"type": "string", "format": "binary"}
    base: dict[str, Any] = {"type": "integer"} if p.integer else {"type": "string"}
    if p.choices:
        base["enum"] = list(p.choices)
    if p.default is not None and not isinstance(p.default, bool):
        base["default"] = p.default
    return {"type": "array", "items": base} if p.kind == "list" or p.many else base


def openapi_document(table: dict[str, endpoints.Endpoint]) -> dict[str, Any]:
    """OpenAPI 3.1 for every endpoint of the table."""
    paths: dict[str, Any] = {"/health": {"get": {"summary": "liveness (no authentication)", "security": [],
                                                  "responses": {"200": {"description": "ok"}}}}}
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for path, e in sorted(table.items()):
        props = {p.name: {**_schema(p), "description": p.help} for p in e.params}
        required = [p.name for p in e.params if p.required]
        schema = {"type": "object", "properties": props, "required": required, "additionalProperties": False}
        media = "multipart/form-data" if any(p.kind == "upload" for p in e.params) else "application/json"
        op = {"summary": e.help, "description": f"Runs `{e.command} --json` as the token's owner.",
              "operationId": "_".join(e.words).replace("-", "_"),
              "requestBody": {"required": bool(required), "content": {media: {"schema": schema}}},
              "responses": {"200": {"description": f"what `{e.command} --json` prints" + (
                  ", with `csv` the file it wrote (`output` its name)" if hasattr(e.handler, "hands_back") else "")},
                            **{code: {"description": text, **error} for code, text in _ERRORS.items()}}}
        paths[path] = {"post": op}
        if e.reads_only and media == "application/json":
            params = [{"name": p.name, "in": "query", "required": p.required, "schema": _schema(p),
                       "description": p.help} for p in e.params]
            paths[path]["get"] = {k: v for k, v in op.items() if k != "requestBody"} | {
                "parameters": params, "operationId": op["operationId"] + "_get"}
    return {"openapi": "3.1.0",
            "info": {"title": "ModelGov API", "version": "1",
                     "description": "Every modelgov command over HTTP; see docs/api.md."},
            "servers": [{"url": "/"}], "paths": paths,
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                           "schemas": {"Error": {"type": "object", "properties": {
                               "error": {"type": "string"}, "exit_code": {"type": "integer"}}}}},
            "security": [{"bearer": []}]}


def docs_page(table: dict[str, endpoints.Endpoint]) -> str:
    """A plain HTML list of the endpoints (no script from a CDN: the server may be offline)."""
    from html import escape

    rows = "".join(
        f"<tr><td><code>{'GET, ' if e.reads_only and not e.uploads else ''}POST {escape(path)}</code></td>"
        f"<td>{escape(e.help)}</td><td>{escape(', '.join(p.name + ('*' if p.required else '') for p in e.params))}"
        "</td></tr>" for path, e in sorted(table.items()))
    return ("<!doctype html><html><head><meta charset='utf-8'><title>ModelGov API</title></head><body>"
            "<h1>ModelGov API</h1><p>Send <code>Authorization: Bearer TOKEN</code>. The machine-readable "
            "description is <a href='/openapi.json'>/openapi.json</a>; parameters marked * are required.</p>"
            f"<table><tr><th>endpoint</th><th>what</th><th>parameters</th></tr>{rows}</table></body></html>")


def serve(store, host: str = "127.0.0.1", port: int = 8600, verifier: bearer.Verifier | None = None) -> None:
    """Run the API with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(create_app(store, verifier), host=host, port=port, log_level="warning", access_log=False)
