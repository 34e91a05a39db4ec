"""HTTP API (FastAPI) under /api (and OpenAI's chat API under /v1, `openai_api.py`), plus `serve()`,
which also mounts the chat UI at /.

Every error is JSON `{"error": short, "detail": what to do}`; bad input never gives a 500.

Access: when `ASKPFG_API_KEY` is set, one rule covers the API and the UI (which calls the pipeline
directly, not through /api): every request needs `Authorization: Bearer <key>` or the session cookie
that the sign-in page (/login) sets once a browser has typed the key. Loopback clients are not
trusted, since a reverse proxy on the same host is one. Only /docs, /openapi.json and /login are open.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import html
import json
import os
import re
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from pydantic import BaseModel, Field
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from askpfg import __version__
from askpfg.answering import Pipeline, get_pipeline
from askpfg.corpus import Document, DocumentMeta
from askpfg.drafting import POINT_CHARS, LetterError, NoPointsError, draft_reply
from askpfg.models import EMBEDDING_NAME
from askpfg.openai_api import openai_router
from askpfg.retrieval import DATE_RANGE_ERROR, Filters
from askpfg.schemas import (
    NON_EMPTY,
    TEXT,
    TEXT_ERROR,
    Answer,
    AskError,
    AskRequest,
    Citation,
    CleanRequest,
)
from askpfg.settings import Settings, get_settings

LOGIN_PATH = "/login"
OPEN_PATHS = ("/docs", "/openapi.json", LOGIN_PATH)  # open with a key set: the schema, and the way in
SESSION_COOKIE = "askpfg_session"


def session_token(key: str) -> str:
    """The UI's session cookie: proof that the key was typed, which does not give the key away."""
    return hmac.new(key.encode(), b"askpfg UI session", hashlib.sha256).hexdigest()


def has_key(scope: Scope, key: str) -> bool:
    """The one access rule, for the API and the UI alike: the key as a bearer token, or the session cookie."""
    if hmac.compare_digest(dict(scope["headers"]).get(b"authorization", b""), f"Bearer {key}".encode()):
        return True
    cookies = b"; ".join(value for name, value in scope["headers"] if name == b"cookie")  # HTTP/2 may split them
    cookie = cookie_parser(cookies.decode("latin-1")).get(SESSION_COOKIE, "")
    return hmac.compare_digest(cookie.encode(), session_token(key).encode())


def login_page(root_path: str, wrong: bool) -> str:
    """The sign-in page: one field for the key, posted to /login (self-contained: nothing else is open yet)."""
    note = '<p class="wrong" role="alert">That is not the key. Try again.</p>' if wrong else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>askpfg: sign in</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><style>'
        "body{font-family:system-ui,sans-serif;background:#f8fafc;color:#0f172a;display:grid;place-items:center;min-height:90vh}"
        "main{background:#fff;border:1px solid #cbd5e1;border-radius:8px;padding:2rem;max-width:26rem}"
        "input,button{font:inherit;padding:.5rem;margin:.25rem 0;width:100%;box-sizing:border-box}"
        "button{background:#0f766e;color:#fff;border:0;border-radius:6px}.wrong{color:#b91c1c}</style></head>"
        "<body><main><h1>Ask the Programme for Government papers</h1>"
        "<p>This server needs its access key (<code>ASKPFG_API_KEY</code>).</p>"
        f'{note}<form method="post" action="{html.escape(root_path)}{LOGIN_PATH}"><label for="key">Access key</label>'
        '<input id="key" name="key" type="password" autocomplete="current-password" required autofocus>'
        '<button type="submit">Sign in</button></form></main></body></html>'
    )


class ErrorBody(BaseModel):
    """Every error response."""

    error: str
    detail: str


class Health(BaseModel):
    """Readiness and what is loaded."""

    ready: bool
    documents: int
    chunks: int
    embedding_model: str
    generator: str | None
    detail: str = ""


class DraftRequest(CleanRequest):
    """What `POST /api/draft` takes: the letter's text and, optionally, the points to answer."""

    letter: str = Field(json_schema_extra={**NON_EMPTY, "maxLength": Settings.model_fields["max_letter_chars"].default})
    points: list[Annotated[str, Field(json_schema_extra={**TEXT, "maxLength": POINT_CHARS})]] | None = Field(
        None, json_schema_extra={"maxItems": Settings.model_fields["max_points"].default}
    )


class DraftResponse(BaseModel):
    """What `POST /api/draft` returns."""

    points: list[str]
    reply_markdown: str
    citations: list[Citation]
    not_covered: list[str]


class APIError(Exception):
    """An error with its status, short name and actionable detail."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


def _error(status: int, error: str, detail: str, path: str = "") -> JSONResponse:
    """`{"error": short, "detail": what to do}`; under /v1, OpenAI's shape (`{"error": {"message", "type",
    "code"}}`), which OpenAI clients show their users."""
    if path.startswith("/v1/"):
        return JSONResponse({"error": {"message": detail, "type": error, "code": status}}, status_code=status)
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


ERRORS = {code: {"model": ErrorBody} for code in (400, 401, 413, 422, 503)}
BODY_ERRORS = {**ERRORS, 415: {"model": ErrorBody}}  # the endpoints that take a JSON body
# validation errors of a well-formed body whose values are wrong: a 400 with this short name, not a 422
BAD_VALUES = {TEXT_ERROR: "bad text", DATE_RANGE_ERROR: "bad filters"}


class _Runtime:
    """The shared pipeline, or why it is not ready yet."""

    def __init__(self, pipeline: Pipeline | None) -> None:
        self.pipeline = pipeline
        self.problem = "" if pipeline else "the index is being built and the models loaded"

    def load(self) -> None:
        try:
            pipeline = get_pipeline()
            _ = pipeline.generator  # load the model now, not on the first question
            self.pipeline = pipeline
        except Exception as exc:  # noqa: BLE001 - reported by /api/health and every 503
            self.problem = f"loading failed: {exc}"

    def require(self) -> Pipeline:
        if self.pipeline is None:
            raise APIError(503, "not ready", f"{self.problem}; retry shortly (GET /api/health says when ready)")
        return self.pipeline


class _Guard:
    """ASGI middleware: the access rule on every route, UI included, when a key is set; the body-size
    limit on what this app parses itself (/api/*, /login; Gradio caps its uploads itself)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        key = self.settings.api_key
        if key and scope["path"] not in OPEN_PATHS and not has_key(scope, key):
            await self._refuse(scope, receive, send)
            return
        if scope["type"] == "http" and (scope["path"].startswith(("/api/", "/v1/")) or scope["path"] == LOGIN_PATH):
            await self._within_limit(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
        """401: the sign-in page for a browser asking for a page, JSON for anything else."""
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["method"] in ("GET", "HEAD") and b"text/html" in dict(scope["headers"]).get(b"accept", b""):
            response: Response = HTMLResponse(login_page(scope.get("root_path", ""), wrong=False), status_code=401)
        else:
            detail = f"send the header 'Authorization: Bearer <ASKPFG_API_KEY>' (in a browser, sign in at {LOGIN_PATH})"
            response = _error(401, "unauthorized", detail, scope["path"])
        await response(scope, receive, send)

    async def _within_limit(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The request, passed on only if its body is within `max_body_bytes` (413 otherwise)."""
        headers = dict(scope["headers"])
        limit = self.settings.max_body_bytes
        too_big = _error(413, "body too large", f"the request body is over {limit} bytes; shorten the question or history", scope["path"])
        declared = headers.get(b"content-length", b"0")
        if not declared.isdigit():
            await _error(400, "bad content-length", "Content-Length must be a number of bytes", scope["path"])(scope, receive, send)
            return
        if int(declared) > limit:
            await too_big(scope, receive, send)
            return
        body, more = b"", True
        while more:  # the real size: Content-Length may be absent (chunked) or wrong
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                await too_big(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def json_body(request: Request) -> None:
    """Only JSON is parsed as a request body: a form or text/plain body, which a cross-site form can
    send without the browser asking first, is a 415 (FastAPI would leave it to a 422)."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json" and not (media_type.startswith("application/") and media_type.endswith("+json")):
        sent = f"'{media_type}'" if media_type else "no Content-Type"
        raise APIError(415, "unsupported media type", f"the body must be JSON: send 'Content-Type: application/json' ({sent} was sent)")


async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    """Starlette's own errors (an unknown route, a wrong method) in the `{error, detail}` shape, with
    their headers (a 405's Allow) kept. Also used by the UI's app, which answers every path the API does not."""
    detail = str(exc.detail)
    allow = (exc.headers or {}).get("Allow")
    if exc.status_code == 404 and detail == HTTPStatus.NOT_FOUND.phrase:
        detail = f"nothing at {request.url.path}; the API is under /api (see /docs)"
    elif exc.status_code == 405 and allow:
        detail = f"{request.method} {request.url.path}: use {allow.replace(', ', ' or ')}"
    response = _error(exc.status_code, HTTPStatus(exc.status_code).phrase.lower(), detail, request.url.path)
    response.headers.update(exc.headers or {})
    return response


def _known_documents(pipe: Pipeline, filters: Filters | None) -> None:
    """Filters naming a document the index does not hold are a mistake to report, not a search that finds nothing."""
    if filters is None or not filters.doc_ids:
        return
    held = {meta.id for meta in pipe.store.documents()}
    unknown = [doc_id for doc_id in filters.doc_ids if doc_id not in held]
    if unknown:
        raise APIError(400, "bad filters", f"no indexed document has id {', '.join(map(repr, unknown))}; GET /api/documents lists them")


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"] if p != "body") or "body"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts) + " (see /docs for the request schema)"


def _sse(event: str, data: BaseModel | dict) -> str:
    payload = data.model_dump_json() if isinstance(data, BaseModel) else json.dumps(data, ensure_ascii=False)
    return f"event: {event}\ndata: {payload}\n\n"


def create_app(pipeline: Pipeline | None = None, *, settings: Settings | None = None) -> FastAPI:
    """The API app. Without a pipeline, the shared one loads in the background (503 until ready)."""
    settings = settings or (pipeline.settings if pipeline else get_settings())
    runtime = _Runtime(pipeline)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if runtime.pipeline is None:
            threading.Thread(target=runtime.load, name="askpfg-load", daemon=True).start()
        yield

    app = FastAPI(
        title="askpfg",
        version=__version__,
        description="Grounded, cited answers about the Programme for Government papers on children's services.",
        lifespan=lifespan,
    )
    app.add_middleware(_Guard, settings=settings)

    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError) -> JSONResponse:
        return _error(exc.status, exc.error, exc.detail, request.url.path)

    @app.exception_handler(AskError)
    async def _ask_error(request: Request, exc: AskError) -> JSONResponse:
        return _error(400, "bad question", str(exc), request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        types = {error["type"] for error in errors}
        if len(types) == 1 and (name := BAD_VALUES.get(types.pop())):  # well-formed, but not text or not a date range
            return _error(400, name, "; ".join(error["msg"] for error in errors), request.url.path)
        return _error(422, "invalid request", _validation_detail(exc), request.url.path)

    app.add_exception_handler(HTTPException, http_error)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        return _error(500, "internal error", f"{type(exc).__name__}: {exc}; please report this with the request", request.url.path)

    @app.post("/api/ask", response_model=Answer, responses=BODY_ERRORS, tags=["ask"], dependencies=[Depends(json_body)])
    async def ask(request: AskRequest) -> Answer:
        """Answer a question; every factual sentence cites [n] markers that resolve to `citations`."""
        pipe = runtime.require()
        _known_documents(pipe, request.filters)
        return await run_in_threadpool(pipe.answer, request.question, request.history, request.filters)

    @app.post(
        "/api/ask/stream",
        responses={200: {"content": {"text/event-stream": {}}, "description": "`event: delta` {text} per draft delta, then one `event: answer` with the Answer"}, **BODY_ERRORS},
        tags=["ask"],
        dependencies=[Depends(json_body)],
    )
    async def ask_stream(request: AskRequest) -> StreamingResponse:
        """Server-Sent Events: draft deltas, then the final verified Answer (the draft may lose sentences)."""
        pipe = runtime.require()
        _known_documents(pipe, request.filters)
        pipe.validate_question(request.question)  # a 400 now, not an error event later
        items = pipe.stream(request.question, request.history, request.filters)

        async def events() -> AsyncIterator[str]:
            try:
                async for item in iterate_in_threadpool(items):
                    yield _sse("answer", item) if isinstance(item, Answer) else _sse("delta", {"text": item})
            except Exception as exc:  # noqa: BLE001 - headers are sent: report it in the stream
                yield _sse("error", {"error": "internal error", "detail": f"{type(exc).__name__}: {exc}"})
            finally:
                items.close()  # releases the generator's lock if the client went away mid-answer

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.get("/api/documents", response_model=list[DocumentMeta], responses=ERRORS, tags=["documents"])
    async def documents() -> list[DocumentMeta]:
        """Metadata of every indexed document, oldest first."""
        return runtime.require().store.documents()

    @app.get("/api/documents/{doc_id}", response_model=Document, responses={404: {"model": ErrorBody}, **ERRORS}, tags=["documents"])
    async def document(doc_id: str) -> Document:
        """A document's cleaned text (the text citation offsets point into) and metadata."""
        found = runtime.require().store.document(doc_id)
        if found is None:
            raise APIError(404, "unknown document", f"no indexed document has id '{doc_id}'; GET /api/documents lists them")
        return found

    @app.get("/api/health", response_model=Health, tags=["health"])
    async def health() -> Health:
        """Whether the index and models are ready, and what is loaded."""
        pipe = runtime.pipeline
        if pipe is None:
            return Health(ready=False, documents=0, chunks=0, embedding_model=EMBEDDING_NAME, generator=None, detail=runtime.problem)
        generator = pipe.generator
        return Health(
            ready=True,
            documents=len(pipe.store.documents()),
            chunks=pipe.store.chunk_count(),
            embedding_model=EMBEDDING_NAME,
            generator=generator.name if generator else None,
        )

    @app.post("/api/draft", response_model=DraftResponse, responses=BODY_ERRORS, tags=["drafting"], dependencies=[Depends(json_body)])
    async def draft(request: DraftRequest) -> DraftResponse | JSONResponse:
        """Draft a cited reply to a letter (takes seconds per point: every point is searched and verified;
        at most `ASKPFG_MAX_POINTS` points, a 400 beyond)."""
        pipe = runtime.require()
        try:
            reply = await run_in_threadpool(draft_reply, request.letter, pipe, request.points)
        except NoPointsError:
            return _error(400, "bad letter", str(NoPointsError('send the points to answer as "points", a list of strings')))
        except (LetterError, AskError) as exc:
            return _error(400, "bad letter", str(exc))
        return DraftResponse.model_validate(reply.model_dump(include=set(DraftResponse.model_fields)))

    if settings.api_key:
        key = settings.api_key

        @app.get(LOGIN_PATH, include_in_schema=False)
        async def login_form(request: Request) -> HTMLResponse:
            return HTMLResponse(login_page(request.scope.get("root_path", ""), wrong=False))

        @app.post(LOGIN_PATH, include_in_schema=False)
        async def login(request: Request) -> Response:
            """The key a browser typed: if right, the session cookie (HttpOnly, SameSite=Strict) and back to the UI."""
            root_path = request.scope.get("root_path", "")
            typed = parse_qs((await request.body()).decode("utf-8", "replace")).get("key", [""])[0]
            if not hmac.compare_digest(typed.encode(), key.encode()):
                return HTMLResponse(login_page(root_path, wrong=True), status_code=401)
            response = RedirectResponse(f"{root_path}/", status_code=303)
            response.set_cookie(
                SESSION_COOKIE, session_token(key), path=f"{root_path}/", secure=request.url.scheme == "https", httponly=True, samesite="strict"
            )
            return response

    app.include_router(openai_router(runtime.require, [Depends(json_body)]))

    # Every method a client can send, TRACE and QUERY included: otherwise the UI mounted at / would answer it (a 404)
    every_method = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "QUERY", "CONNECT"]

    @app.api_route("/api/{path:path}", methods=every_method, include_in_schema=False, response_model=None)
    @app.api_route("/v1/{path:path}", methods=every_method, include_in_schema=False, response_model=None)
    async def unknown(path: str, request: Request) -> None:
        where = request.url.path
        allowed = sorted(  # the documented operations on this path (included routers too)
            method.upper()
            for template, operations in app.openapi()["paths"].items()
            if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)), where)
            for method in operations
        )
        if allowed:  # answered, like Starlette's own 405s, by `http_error`
            raise HTTPException(405, headers={"Allow": ", ".join(allowed)})
        raise HTTPException(404, f"no endpoint {where}; see /docs")

    return app


def share_heap_arenas(arenas: int = 2) -> None:
    """Have glibc's malloc share `arenas` heaps among the server's threads (its M_ARENA_MAX), unless
    MALLOC_ARENA_MAX is set. By default each worker thread gets a heap of its own, and under many
    clients their fragmentation grows the server's memory without bound in use. Elsewhere, nothing."""
    import ctypes
    import ctypes.util

    libc = ctypes.util.find_library("c") if sys.platform.startswith("linux") else None
    if libc and "MALLOC_ARENA_MAX" not in os.environ:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(libc).mallopt(-8, arenas)  # -8 is M_ARENA_MAX in glibc's malloc.h


def serve(host: str, port: int) -> int:
    """Build the index if missing, load the models once, mount the UI at / and run the server."""
    import uvicorn

    share_heap_arenas()

    from askpfg.index import IndexStore, build_index
    from askpfg.ui import mount_ui

    settings = get_settings()
    try:
        store = IndexStore(settings)
        if store.is_empty():
            print("askpfg: the index is empty; building it from corpus/ (first run only) ...", flush=True)
            report = build_index(store, progress=lambda doc_id: print(f"  indexed {doc_id}", flush=True))
            print(f"askpfg: {len(report.added) + len(report.updated)} documents, {report.chunks} chunks", flush=True)
        print("askpfg: loading the models ...", flush=True)
        pipeline = get_pipeline()
        generator = pipeline.generator
    except Exception as exc:  # noqa: BLE001 - a missing model package or unreadable corpus: say what to fix
        print(f"askpfg: error: {exc}", file=sys.stderr)
        return 1
    app = mount_ui(create_app(pipeline), pipeline)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(f"askpfg: generator {generator.name if generator else 'off (extractive answers)'}", flush=True)
    print(f"askpfg: ready at http://{shown}:{port}/  (API http://{shown}:{port}/api, docs /docs; Ctrl+C stops)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0
