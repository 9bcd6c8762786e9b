"""`javis serve`: every local version behind an OpenAI-compatible API, the chat page beside it.

    GET    /                    the chat page (javis/app/page.py), which uses the API below
    GET    /v1/models, POST /v1/chat/completions, POST /v1/feedback
                                the OpenAI protocol, capture and ratings by completion id
                                (javis/app/openai_api.py)
    POST   /api/feedback        {"messages", "response", "model_version", "rating"?, "score"?,
                                 "correction"?, "replaces"?} -> the feedback line written
                                (javis/data/feedback.py), 422 with the reason if invalid
    DELETE /api/feedback/{id}   undo rating `id`: appends a retraction line, returns it
    GET    /history             the ratings that count now, newest first (HTML); GET /api/history: JSON
    GET    /api/version         {"model_version"}: the deployed version
    GET    /health              200 once the base is loaded

One base model in memory (javis/app/engine.py's Engine): each version's adapter is loaded beside it
on first use; `javis deploy` / `rollback` switch `models/current` and the next request for `javis`
gets the new version, without reloading the base, while an answer being generated finishes on its
own version. Bound to 127.0.0.1 by default. `serve.api_key` (or $JAVIS_API_KEY) makes every route
but the page itself require `Authorization: Bearer <key>`; without a key the server refuses to
bind anywhere but loopback. No CORS headers are sent (a page on another site cannot read answers);
POSTs and DELETEs whose Origin is another site are refused, and so are requests whose Host is not
the loopback address served (DNS rebinding).
"""

from __future__ import annotations

import hmac
import html
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from javis.app.openai_api import Capture, Models, Single, add_routes
from javis.app.page import HISTORY, PAGE
from javis.core import params
from javis.data import feedback

log = logging.getLogger("javis.serve")

LOOPBACK = ("127.0.0.1", "localhost", "::1")
API_KEY_ENV = "JAVIS_API_KEY"


class ServeError(params.ParamsError):
    """`javis serve` cannot start as configured; the message says what to change."""


class Message(BaseModel):
    """One chat message as the page sends it."""

    role: str
    content: str


class FeedbackIn(BaseModel):
    """POST /api/feedback: one rated answer (javis/data/feedback.py validates the rest)."""

    messages: list[Message] = Field(min_length=1)
    response: str
    model_version: str
    rating: str | None = None
    score: int | None = None
    correction: str | None = None
    replaces: str | None = None  # the id of the rating this one changes


class BearerAuth:
    """With a key: every request but `GET /` (the page shell, no data) needs
    `Authorization: Bearer <key>`; 401 in OpenAI's error shape otherwise."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app, self.key = app, key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not (scope["method"] == "GET" and scope["path"] == "/"):
            got = Headers(scope=scope).get("authorization", "")
            if not hmac.compare_digest(got.encode(), f"Bearer {self.key}".encode()):
                error = {
                    "message": "missing or wrong API key: send `Authorization: Bearer <key>` "
                    "(serve.api_key or $JAVIS_API_KEY on the server)",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
                response = JSONResponse({"error": error}, status_code=401)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class SameOrigin:
    """Refuses requests whose Host is not the loopback address served (DNS rebinding) and
    non-GET requests from another origin (a page on the web rating answers in your name).
    Plain ASGI, so a streamed answer sees the client go away (BaseHTTPMiddleware would hide it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            host = headers.get("host", "")
            served = (scope.get("server") or ("", 0))[0]  # the address the socket is bound to
            origin = headers.get("origin")
            refused = None
            if served in LOOPBACK and urlsplit(f"//{host}").hostname not in LOOPBACK:
                refused = f"Host {host!r} is not this server"
            elif scope["method"] != "GET" and origin and urlsplit(origin).netloc != host:
                refused = f"cross-origin request from {origin} refused"
            if refused:
                await JSONResponse({"detail": refused}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(
    models: Models | Callable[[], Any],
    feedback_folder: str | Path,
    *,
    history_limit: int = 200,
    capture: Capture | None = None,
    api_key: str = "",
) -> FastAPI:
    """The FastAPI app. `models`: an Engine (javis/app/engine.py), or a function returning the
    one bot to answer with (tests pass the tiny model's, or a scripted one)."""
    if callable(models) and not hasattr(models, "describe"):
        models = Single(models())
    folder = Path(feedback_folder)
    app = FastAPI(title="javis", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(SameOrigin)
    if api_key:
        app.add_middleware(BearerAuth, key=api_key)  # added last: runs first
    add_routes(app, models, capture or Capture(folder.parent / "raw", False), folder)

    def deployed() -> str:
        return models.deployed()

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return PAGE.replace("{{version}}", html.escape(deployed()))

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/api/version")
    def version() -> dict:
        return {"model_version": deployed()}

    @app.post("/api/feedback")
    def add_feedback(body: FeedbackIn) -> dict:
        line = body.model_dump(exclude_none=True)
        line["messages"] = [m.model_dump() for m in body.messages]
        try:
            written = feedback.append_feedback(folder, line)
        except feedback.FeedbackError as e:
            raise HTTPException(422, str(e)) from None
        return {**written, "file": feedback.feedback_path(folder, written["created_at"]).name}

    @app.delete("/api/feedback/{ident}")
    def undo_feedback(ident: str) -> dict:
        try:
            written = feedback.retract(folder, ident)
        except feedback.FeedbackError as e:
            raise HTTPException(422, str(e)) from None
        return {**written, "file": feedback.feedback_path(folder, written["created_at"]).name}

    @app.get("/api/history")
    def history_json(limit: int = history_limit) -> list[dict]:
        return feedback.read_feedback(folder, limit)

    @app.get("/history", response_class=HTMLResponse)
    def history_page() -> str:
        return render_history(feedback.read_feedback(folder, history_limit), deployed())

    return app


def utc_minute(created_at: str) -> str:
    """`2026-12-01T05:03:09.120Z` -> `2026-12-01 05:03 UTC` (what /history shows without script;
    its script shows the browser's local time instead). Unreadable times are shown as they are."""
    try:
        when = datetime.fromisoformat(created_at)
    except ValueError:
        return created_at
    when = when.astimezone(UTC) if when.tzinfo else when
    return when.strftime("%Y-%m-%d %H:%M UTC")


def render_history(lines: list[dict], version: str) -> str:
    """The /history page: one row per rating that counts now, newest first (all text escaped)."""
    e = html.escape
    rows = []
    for obj in lines:
        question = next(
            (
                m.get("content", "")
                for m in reversed(obj.get("messages") or [])
                if isinstance(m, dict) and m.get("role") == "user"
            ),
            "",
        )
        mark = "👍" if obj.get("rating") == "good" else "👎"
        if obj.get("score"):
            mark += f" {obj['score']}/5"
        if obj.get("replaces"):
            mark += ' <span class=changed title="changed from an earlier rating">(changed)</span>'
        created = str(obj.get("created_at", ""))
        when = f'<time datetime="{e(created)}" title="{e(created)}">{e(utc_minute(created))}</time>'
        rows.append(
            f"<tr><td class=t>{when}</td><td>{e(str(obj.get('model_version', '')))}</td>"
            f"<td class=r>{mark}</td><td>{e(str(question))}</td><td>{e(str(obj.get('response', '')))}</td>"
            f"<td>{e(str(obj.get('correction') or ''))}</td></tr>"
        )
    body = "\n".join(rows) or "<tr><td colspan=6>No feedback yet.</td></tr>"
    page = HISTORY.replace("{{version}}", e(version)).replace("{{n}}", str(len(lines)))
    return page.replace("{{rows}}", body)  # last: user text is never searched for placeholders


def api_key(cfg: params.Serve) -> str:
    """The bearer token: serve.api_key, else $JAVIS_API_KEY, else "" (none)."""
    return cfg.api_key or os.environ.get(API_KEY_ENV, "")


def check_bind(host: str, key: str) -> None:
    """Refuse to listen beyond loopback without a key (anyone reaching it would chat and rate as
    you, and read your conversations)."""
    if host not in LOOPBACK and not key:
        raise ServeError(
            f"serve: refusing to listen on {host} without an API key: anyone who can reach it "
            f"could chat and rate as you. Set serve.api_key in params.yaml (or ${API_KEY_ENV}) "
            "and give clients that key, or keep serve.host on 127.0.0.1"
        )


def capturing(cfg: params.Serve, host: str) -> bool:
    """serve.capture: true/false, or null = on when bound to loopback (your own use)."""
    return cfg.capture if cfg.capture is not None else host in LOOPBACK


def vllm_main(p: params.Params, port: int | None, run: bool) -> int:
    """`javis serve --engine vllm`: the vLLM command for the deployed version (after the
    preflight); `run`: exec it with runtime LoRA updating on, so `javis deploy` can hot-swap."""
    from javis.app.chat import CURRENT
    from javis.app.engine import deployed
    from javis.release import engines, preflight

    version, folder = deployed(CURRENT)
    if folder is None:
        raise ServeError("serve --engine vllm: nothing is deployed; `javis deploy` a version first")
    cfg = p.deploy
    preflight.require(folder, "vllm", max_rank=cfg.max_lora_rank, base_path=p.paths.base)
    key = cfg.vllm_api_key or os.environ.get("VLLM_API_KEY", "")
    cmd = engines.vllm_command(
        str(Path(p.paths.base).resolve()),
        version,
        folder,
        cfg.max_lora_rank,
        port=port or 8000,
        api_key=key,
    )
    print(engines.shell(cmd).replace(key, "$VLLM_API_KEY") if key else engines.shell(cmd))
    if run:
        os.execvpe(cmd[0], cmd, {**os.environ, "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True"})
    return 0


def main(
    p: params.Params,
    *,
    host: str | None = None,
    port: int | None = None,
    engine: str | None = None,
    run: bool = False,
) -> int:
    """`javis serve`: load the base (and the deployed adapter) and serve until Ctrl-C."""
    import uvicorn

    from javis.app.chat import CURRENT
    from javis.app.engine import Engine
    from javis.release.record import ADAPTERS

    cfg = p.serve
    if (engine or cfg.engine) == "vllm":
        return vllm_main(p, port, run)
    host = host or cfg.host
    port = port or cfg.port
    key = api_key(cfg)
    check_bind(host, key)
    engine = Engine(
        p.paths.base,
        p.persona.system_prompt,
        current=CURRENT,
        adapters=ADAPTERS,
        max_new_tokens=cfg.max_new_tokens,
        temperature=cfg.temperature,
        max_prompt_tokens=cfg.max_prompt_tokens,
        max_adapters=cfg.max_adapters,
    )
    bot = engine.get(None)  # load before listening: a broken adapter fails here, not on a message
    capture = Capture(p.paths.raw, capturing(cfg, host))
    where = f"{p.paths.raw}/served-<date>.jsonl" if capture.enabled else "off"
    print(
        f"javis serve: {bot.version} on http://{host}:{port}/ (OpenAI API: http://{host}:{port}/v1; "
        f"capture -> {where}; feedback -> {p.paths.feedback}/; Ctrl-C stops)"
    )
    app = create_app(
        engine, p.paths.feedback, history_limit=cfg.history_limit, capture=capture, api_key=key
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0
