"""The OpenAI chat-completions protocol of `javis serve`: what any OpenAI client talks to.

    GET  /v1/models              one model per version in models/adapters/ (`javis-v0.2`, ...) and
                                 `javis` (the deployed one, models/current), each with its base as
                                 `parent` (as vLLM lists adapters) and `created`
    POST /v1/chat/completions    messages (system/developer/user/assistant/tool, tool_calls), tools,
                                 tool_choice auto|none, temperature, top_p, max_tokens /
                                 max_completion_tokens, stop, seed, n=1, stream (server-sent events in
                                 OpenAI's chunk format, ending with `data: [DONE]`),
                                 stream_options.include_usage
    POST /v1/feedback            {completion_id, rating: good|bad, score?, correction?, replaces?}:
                                 the captured exchange of that completion rated (a feedback line,
                                 javis/data/feedback.py); 404 for an id this server never answered

`model` picks the version; every response names the version that produced it, in its `model` field
and in the X-Model-Version header. Tool calls the model writes in our template (`<tool_call>{...}
</tool_call>`, javis/model/template.py) come back as OpenAI `tool_calls` with finish_reason
`tool_calls`. Fields we do not support (UNSUPPORTED: n > 1, logprobs, response_format other than
text, ...) get an OpenAI-shaped 400 naming the field, as do invalid requests; fields we do not know
are ignored and logged, as vLLM does.

Capture (javis/app/capture.py): every completed exchange is appended as one conversation log line to
`data/raw/served-<UTC date>.jsonl` (the messages with the answer, the version, the completion id,
the time), whole or absent with any number of writers. Requests are checked in
javis/app/openai_request.py.
Background requests of clients (Open WebUI's titles, tags and follow-ups: prompts starting
`### Task:`) are written with `source_kind: task`; collect rejects them with that reason, so they
never train.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from javis.app.capture import Capture
from javis.app.engine import BASE_VERSION, Bot, StopStrings, Usage
from javis.app.openai_request import (
    DEPLOYED,
    ApiError,
    ChatRequest,
    is_task,
    openai_calls,
    parse_request,
    rendered,
)
from javis.data import feedback
from javis.model import template
from javis.model.loading import ModelError

__all__ = ["ApiError", "Capture", "Single", "add_routes", "is_task", "model_cards", "parse_request"]

log = logging.getLogger("javis.serve")


class Models(Protocol):
    """What the API needs of the versions it serves (javis/app/engine.py's Engine, or one bot)."""

    def available(self) -> list[str]: ...
    def deployed(self) -> str: ...
    def get(self, version: str | None = None) -> Bot: ...
    def describe(self) -> list[dict]: ...


class Single:
    """One bot as the only model (tests, and a bot loaded without an engine)."""

    def __init__(self, bot: Any) -> None:
        self.bot = bot

    def available(self) -> list[str]:
        return [] if self.bot.version == BASE_VERSION else [self.bot.version]

    def deployed(self) -> str:
        return self.bot.version

    def get(self, version: str | None = None) -> Any:
        if version not in (None, DEPLOYED, self.bot.version):
            raise KeyError(version)
        return self.bot

    def describe(self) -> list[dict]:
        return model_cards(self.bot.version, self.available(), getattr(self.bot, "base", ""), {})


def model_cards(
    deployed: str, versions: list[str], base: str, created: dict[str, int]
) -> list[dict]:
    """/v1/models' entries: `javis` (the deployed version, named in `root`) and each version,
    each with its base as `parent`, as vLLM lists LoRA adapters."""
    now = int(time.time())

    def card(name: str, root: str) -> dict:
        return {
            "id": name,
            "object": "model",
            "created": created.get(root, now),
            "owned_by": "javis",
            "root": root,
            "parent": base or BASE_VERSION,
        }

    return [card(DEPLOYED, deployed), *(card(v, v) for v in versions)]


class Answer:
    """One completion being produced: streams text pieces (tool-call markup held back when tools
    were declared) and knows the final message, finish_reason and usage."""

    def __init__(self, bot: Any, req: ChatRequest) -> None:
        self.bot, self.req = bot, req
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.usage = Usage()
        self.raw: list[str] = []
        self.cut = StopStrings(["<tool_call>"]) if req.tools else None
        self.message: dict = {}
        self.finish_reason = "stop"

    def pieces(self, stop: threading.Event) -> Iterator[str]:
        """Content pieces as they are generated; fills message/finish_reason/usage at the end."""
        stream = self.bot.stream(
            self.req.messages,
            stop,
            tools=self.req.tools,
            sampling=self.req.sampling,
            usage=self.usage,
        )
        sent = 0  # characters of content yielded: always a prefix of the whole text
        try:
            for piece in stream:
                self.raw.append(piece)
                text = piece if self.cut is None else ("" if self.cut.hit else self.cut.feed(piece))
                if text:
                    sent += len(text)
                    yield text
        finally:
            getattr(stream, "close", lambda: None)()
        full = "".join(self.raw)
        self.message = {"role": "assistant", "content": full}
        if self.cut is not None:
            content, calls = template.split_tool_calls(full)
            calls = [c for c in calls if c.get("name")]
            if calls:
                self.message["content"] = content or None
                self.message["tool_calls"] = openai_calls(calls, self.id)
            elif full[sent:]:  # no complete call: what was held back is content after all
                yield full[sent:]
        calls_made = bool(self.message.get("tool_calls"))
        self.finish_reason = "tool_calls" if calls_made else self.usage.finish_reason

    def usage_json(self) -> dict:
        u = self.usage
        return {
            "prompt_tokens": u.prompt_tokens,
            "completion_tokens": u.completion_tokens,
            "total_tokens": u.prompt_tokens + u.completion_tokens,
        }

    def completion(self) -> dict:
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.bot.version,
            "system_fingerprint": None,
            "choices": [
                {
                    "index": 0,
                    "message": self.message,
                    "finish_reason": self.finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": self.usage_json(),
        }

    def chunk(self, delta: dict, finish: str | None = None, **extra: Any) -> str:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.bot.version,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
        if self.req.include_usage:
            body["usage"] = None
        body.update(extra)
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    def captured(self) -> dict:
        """The conversation log line of this exchange (data/raw/served-<date>.jsonl)."""
        line: dict[str, Any] = {
            "id": self.id,
            "created_at": feedback.now_iso(),
            "model_version": self.bot.version,
            "source_kind": "task" if is_task(self.req.messages) else "chat",
            "messages": [*self.req.messages, self.message],
            "finish_reason": self.finish_reason,
        }
        if self.req.tools:
            line["tools"] = self.req.tools
        return line


async def relay(stream: Callable[[threading.Event], Iterator[str]]) -> AsyncIterator[str]:
    """The pieces of `stream(stop)`, which runs in a thread of its own; when the response is
    cancelled (the client went away: the page's Stop aborts its fetch), `stop` is set and the
    generation ends at its next token instead of running to max_new_tokens."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    stop = threading.Event()  # asks the generation to end (Bot.stream also sets it when done)
    gone = threading.Event()  # the client went away
    done = object()

    def put(item: object) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the event loop is gone (server shut down): nobody is listening
            stop.set()

    def produce() -> None:
        pieces = stream(stop)
        try:
            for piece in pieces:
                if gone.is_set():
                    break
                put(piece)
        except BaseException as e:  # re-raised in the response below
            put(e)
        finally:
            getattr(pieces, "close", lambda: None)()  # Bot.stream waits for its model thread
            put(done)

    threading.Thread(target=produce, name="javis-generate", daemon=True).start()
    try:
        while (item := await queue.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield str(item)
    finally:
        gone.set()
        stop.set()


def add_routes(app: FastAPI, models: Models, capture: Capture, feedback_folder: Path) -> None:
    """The /v1 routes on `app`."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    def bot_for(name: str | None) -> Any:
        try:
            return models.get(name)
        except ModelError as e:  # a broken or foreign adapter folder: say so, keep serving others
            raise ApiError(
                503, f"model {name or DEPLOYED!r} cannot be loaded: {e}", "model"
            ) from None
        except KeyError:
            names = [DEPLOYED, *models.available()]
            raise ApiError(
                404,
                f"The model {name!r} does not exist here; available: {', '.join(names)}",
                "model",
            ) from None

    @app.get("/v1/models")
    def list_models() -> dict:
        return {"object": "list", "data": models.describe()}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ApiError(400, "the request body is not valid JSON") from None
        req = parse_request(body)
        bot = await run_in_threadpool(bot_for, req.model)
        answer = Answer(bot, req)
        headers = {"X-Model-Version": bot.version, "Cache-Control": "no-store"}
        if not req.stream:

            def whole() -> None:
                list(answer.pieces(threading.Event()))
                capture.add(answer.captured())

            await run_in_threadpool(whole)
            return JSONResponse(answer.completion(), headers=headers)

        def events(stop: threading.Event) -> Iterator[str]:
            yield answer.chunk({"role": "assistant", "content": ""})
            for piece in answer.pieces(stop):
                yield answer.chunk({"content": piece})
            calls = answer.message.get("tool_calls")
            if calls:
                yield answer.chunk({"tool_calls": [{"index": i, **c} for i, c in enumerate(calls)]})
            yield answer.chunk({}, answer.finish_reason)
            if req.include_usage:
                yield answer.chunk({}, None, choices=[], usage=answer.usage_json())
            capture.add(answer.captured())
            yield "data: [DONE]\n\n"

        return StreamingResponse(relay(events), media_type="text/event-stream", headers=headers)

    @app.post("/v1/feedback")
    async def rate(request: Request) -> dict:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ApiError(400, "the request body is not valid JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("completion_id"), str):
            raise ApiError(400, "completion_id: required (the id of a completion)", "completion_id")
        extra = sorted(set(body) - {"completion_id", "rating", "score", "correction", "replaces"})
        if extra:
            raise ApiError(400, f"unknown field(s) {extra}", extra[0])
        line = await run_in_threadpool(capture.find, body["completion_id"])
        if line is None:
            raise ApiError(
                404,
                f"completion_id: no completion {body['completion_id']!r} was served here "
                "(or it was not captured: serve.capture is off and the server restarted since)",
                "completion_id",
            )
        *prompt, answer = line["messages"]
        rated: dict[str, Any] = {
            "model_version": line["model_version"],
            "messages": [
                {"role": m["role"], "content": rendered(m) if m.get("tool_calls") else m["content"]}
                for m in prompt
            ],
            "response": rendered(answer).strip(),  # as the page and `javis chat` rate it
            "meta": {"completion_id": line["id"]},
        }
        for key in ("rating", "score", "correction", "replaces"):
            if body.get(key) is not None:
                rated[key] = body[key]
        try:
            written = await run_in_threadpool(feedback.append_feedback, feedback_folder, rated)
        except feedback.FeedbackError as e:
            raise ApiError(400, str(e)) from None
        return {
            **written,
            "file": feedback.feedback_path(feedback_folder, written["created_at"]).name,
        }
