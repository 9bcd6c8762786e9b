"""The OpenAI chat-completions request, checked: what `javis serve` accepts, refuses and ignores.

`parse_request` turns a /v1/chat/completions body into a `ChatRequest` (our messages, tools and
`Sampling`), or raises `ApiError`, OpenAI's error shape with the field named in `param`: fields we
cannot honour (UNSUPPORTED: n > 1, logprobs, response_format other than text, ...) and invalid
values are 400s; fields we do not know are returned in `ignored` (logged by the caller, as vLLM
does). Also the small translations both ways: our parsed tool calls as OpenAI `tool_calls`, an
answer back as our template's text (`rendered`), and `is_task` for client background prompts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import JSONResponse

from javis.app.engine import Sampling
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
