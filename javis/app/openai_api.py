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

Capture (`Capture`): every completed exchange is appended as one conversation log line to
`data/raw/served-<UTC date>.jsonl` (the messages with the answer, the version, the completion id,
the time), whole or absent with any number of writers (javis/data/feedback.py's `append_line`).
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
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from javis.app.engine import BASE_VERSION, Bot, Sampling, StopStrings, Usage
from javis.data import feedback
from javis.model import template

log = logging.getLogger("javis.serve")

ROLES = ("system", "developer", "user", "assistant", "tool")
TASK_PREFIX = "### Task:"  # Open WebUI's title / tags / follow-up prompts start so
DEPLOYED = "javis"  # the model name of whatever models/current points to

KNOWN = {
    "model",
    "messages",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "seed",
    "n",
    "stream",
    "stream_options",
    "user",
    "metadata",
    "store",
}
# field -> (is the value one we can honour?, why not)
UNSUPPORTED: dict[str, tuple[Callable[[Any], bool], str]] = {
    "n": (lambda v: v in (None, 1), "only n=1 is supported"),
    "logprobs": (lambda v: v in (None, False), "logprobs are not supported"),
    "top_logprobs": (lambda v: v in (None, 0), "top_logprobs are not supported"),
    "response_format": (
        lambda v: v is None or (isinstance(v, dict) and v.get("type") == "text"),
        "response_format other than text (JSON mode, json_schema) is not supported",
    ),
    "logit_bias": (lambda v: not v, "logit_bias is not supported"),
    "frequency_penalty": (lambda v: v in (None, 0, 0.0), "frequency_penalty is not supported"),
    "presence_penalty": (lambda v: v in (None, 0, 0.0), "presence_penalty is not supported"),
    "functions": (lambda v: v is None, "the legacy `functions` field is not supported: use tools"),
    "function_call": (lambda v: v is None, "the legacy `function_call` is not supported"),
    "audio": (lambda v: v is None, "audio output is not supported"),
    "modalities": (lambda v: v in (None, ["text"]), "only text output is supported"),
    "prediction": (lambda v: v is None, "predicted outputs are not supported"),
    "reasoning_effort": (lambda v: v is None, "reasoning_effort is not supported"),
    "web_search_options": (lambda v: v is None, "web search is not supported"),
}


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


class ApiError(Exception):
    """An OpenAI-shaped error response."""

    def __init__(
        self, status: int, message: str, param: str | None = None, kind: str | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param = status, message, param
        self.kind = kind or ("invalid_request_error" if status < 500 else "server_error")

    def response(self) -> JSONResponse:
        body = {"message": self.message, "type": self.kind, "param": self.param, "code": None}
        if self.status == 404:
            body["code"] = "model_not_found" if self.param == "model" else "not_found"
        return JSONResponse({"error": body}, status_code=self.status)


@dataclass
class ChatRequest:
    """A validated /v1/chat/completions request."""

    model: str | None
    messages: list[dict]
    tools: list | None
    sampling: Sampling
    stream: bool
    include_usage: bool
    ignored: list[str] = field(default_factory=list)


def _number(body: dict, key: str, kind: type, low: float, high: float | None) -> Any:
    value = body.get(key)
    if value is None:
        return None
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        ok = ok and float(value).is_integer()
    if not ok or value < low or (high is not None and value > high):
        rng = f"{low}..{high}" if high is not None else f">= {low}"
        raise ApiError(400, f"{key}: expected a {kind.__name__} in {rng}, got {value!r}", key)
    return kind(value)


def _text(content: Any, where: str) -> str | None:
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for i, part in enumerate(content):
            if isinstance(part, dict) and part.get("type") == "text":
                parts.append(str(part.get("text") or ""))
            else:
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise ApiError(
                    400, f"{where}[{i}]: only text parts are supported, got {kind!r}", where
                )
        return "".join(parts)
    raise ApiError(400, f"{where}: expected a string or a list of text parts", where)


def parse_messages(value: Any) -> list[dict]:
    """The request's messages in our form (developer -> system; text parts joined)."""
    if value is None:
        raise ApiError(400, "messages: this field is required", "messages")
    if not isinstance(value, list) or not value:
        raise ApiError(400, "messages: expected a non-empty list of messages", "messages")
    out = []
    for i, m in enumerate(value):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise ApiError(400, f"{where}: expected an object", where)
        role = m.get("role")
        if role not in ROLES:
            raise ApiError(
                400,
                f"{where}.role: unknown role {role!r}; expected one of {', '.join(ROLES)}",
                f"{where}.role",
            )
        msg: dict[str, Any] = {
            "role": "system" if role == "developer" else role,
            "content": _text(m.get("content"), f"{where}.content"),
        }
        calls = m.get("tool_calls")
        if calls:
            if role != "assistant" or not isinstance(calls, list):
                raise ApiError(400, f"{where}.tool_calls: only an assistant's, as a list", where)
            msg["tool_calls"] = calls
        elif msg["content"] is None:
            raise ApiError(400, f"{where}.content: required (null only beside tool_calls)", where)
        if role == "tool" and m.get("tool_call_id") is not None:
            msg["tool_call_id"] = str(m["tool_call_id"])
        out.append(msg)
    return out


def parse_request(body: Any) -> ChatRequest:
    """Validate a /v1/chat/completions body (ApiError 400 naming the field)."""
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    for key, (ok, why) in UNSUPPORTED.items():
        if key in body and not ok(body[key]):
            raise ApiError(400, f"{key}: {why} by javis serve", key)
    ignored = sorted(set(body) - KNOWN - set(UNSUPPORTED))
    if ignored:
        log.info("serve: ignoring unknown request field(s) %s", ignored)
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise ApiError(400, "model: expected a string", "model")
    messages = parse_messages(body.get("messages"))
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise ApiError(400, "tools: expected a list of tool definitions", "tools")
    choice = body.get("tool_choice")
    if choice not in (None, "auto", "none"):
        raise ApiError(400, "tool_choice: only 'auto' and 'none' are supported", "tool_choice")
    if choice == "none":
        tools = None
    stop = body.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    if stop is not None and (
        not isinstance(stop, list) or len(stop) > 4 or not all(isinstance(s, str) for s in stop)
    ):
        raise ApiError(400, "stop: expected a string or a list of up to 4 strings", "stop")
    max_tokens = _number(body, "max_completion_tokens", int, 1, None) or _number(
        body, "max_tokens", int, 1, None
    )
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ApiError(400, f"seed: expected an integer, got {seed!r}", "seed")
    stream = body.get("stream") or False
    if not isinstance(stream, bool):
        raise ApiError(400, "stream: expected true or false", "stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise ApiError(400, "stream_options: expected an object", "stream_options")
    return ChatRequest(
        model=model,
        messages=messages,
        tools=tools or None,
        sampling=Sampling(
            max_tokens=max_tokens,
            temperature=_number(body, "temperature", float, 0, 2),
            top_p=_number(body, "top_p", float, 0, 1),
            stop=stop or [],
            seed=seed,
        ),
        stream=stream,
        include_usage=bool(options.get("include_usage")),
        ignored=ignored,
    )


def is_task(messages: list[dict]) -> bool:
    """A client's background request, not a conversation (Open WebUI's `### Task:` prompts)."""
    return any(
        isinstance(m.get("content"), str) and m["content"].lstrip().startswith(TASK_PREFIX)
        for m in messages
        if m.get("role") in ("user", "system")
    )


def openai_calls(calls: list[dict], completion_id: str) -> list[dict]:
    """Our parsed calls ({"name", "arguments"}) as OpenAI tool_calls (arguments as JSON text)."""
    return [
        {
            "id": f"call_{completion_id[-12:]}_{i}",
            "type": "function",
            "function": {
                "name": c.get("name") or "",
                "arguments": template.canonical_arguments(c.get("arguments")),
            },
        }
        for i, c in enumerate(calls)
    ]


def rendered(answer: dict) -> str:
    """An answer as our template writes it (text, then its tool calls): a feedback line's response."""
    parts = [answer.get("content") or ""]
    for c in answer.get("tool_calls") or []:
        fn = c["function"]
        parts.append(
            f'<tool_call>\n{{"name": {json.dumps(fn["name"], ensure_ascii=False)}, '
            f'"arguments": {fn["arguments"]}}}\n</tool_call>'
        )
    return "\n".join(p for p in parts if p)


class Capture:
    """Served exchanges: appended to data/raw/served-<date>.jsonl when `enabled`, and remembered
    (the last `remember` of them, in memory, capture on or off) so /v1/feedback finds them."""

    def __init__(self, folder: str | Path, enabled: bool, remember: int = 10_000) -> None:
        self.folder, self.enabled, self.limit = Path(folder), enabled, remember
        self.recent: OrderedDict[str, dict] = OrderedDict()
        self.lock = threading.Lock()

    def path(self, created_at: str) -> Path:
        return self.folder / f"served-{created_at[:10]}.jsonl"

    def add(self, line: dict) -> None:
        with self.lock:
            self.recent[line["id"]] = line
            while len(self.recent) > self.limit:
                self.recent.popitem(last=False)
        if self.enabled:
            self.folder.mkdir(parents=True, exist_ok=True)
            data = (json.dumps(line, ensure_ascii=False) + "\n").encode()
            feedback.append_line(self.path(line["created_at"]), data)

    def find(self, completion_id: str) -> dict | None:
        """The captured line of `completion_id` (memory first, then the served files, newest first)."""
        with self.lock:
            if completion_id in self.recent:
                return self.recent[completion_id]
        needle = json.dumps(completion_id)
        for path in sorted(self.folder.glob("served-*.jsonl"), reverse=True):
            with open(path, encoding="utf-8", errors="replace") as f:
                for text in f:
                    if needle not in text:
                        continue
                    try:
                        obj = json.loads(text)
                    except json.JSONDecodeError:
                        continue
                    if isinstance(obj, dict) and obj.get("id") == completion_id:
                        return obj
        return None


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
            await run_in_threadpool(lambda: list(answer.pieces(threading.Event())))
            capture.add(answer.captured())
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
        line = capture.find(body["completion_id"])
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
            "response": rendered(answer),
            "meta": {"completion_id": line["id"]},
        }
        for key in ("rating", "score", "correction", "replaces"):
            if body.get(key) is not None:
                rated[key] = body[key]
        try:
            written = feedback.append_feedback(feedback_folder, rated)
        except feedback.FeedbackError as e:
            raise ApiError(400, str(e)) from None
        return {
            **written,
            "file": feedback.feedback_path(feedback_folder, written["created_at"]).name,
        }
