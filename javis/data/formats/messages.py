"""Messages in the shapes users bring (ChatML/OpenAI, ShareGPT turns, plain strings) -> ours.

Ours: `{"role", "content": text, "tool_calls"?: [{"id", "type": "function", "function": {"name",
"arguments": JSON text}}], "tool_call_id"?, "name"?}`. ShareGPT `function_call` turns become
assistant `tool_calls` (ids `call_1`, `call_2`, ... per conversation) and `observation` turns
become `tool` turns answering them; `tools` become OpenAI `{"type": "function", "function": {...}}`
schemas. Anything that cannot be converted raises `ConvertError("reason_key (details)")`.
"""

from __future__ import annotations

from typing import Any

import orjson

# ShareGPT `from` values (LLaMA-Factory's tags and the common aliases).
SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "model": "assistant",
    "chatgpt": "assistant",
    "system": "system",
    "function_call": "function_call",
    "tool_call": "function_call",
    "observation": "tool",
    "tool": "tool",
    "function": "tool",
    "ipython": "tool",
}
# ChatML/OpenAI roles we map to ours (anything else is left for the record check to reject).
ROLE_ALIASES = {"developer": "system", "function": "tool", "human": "user", "gpt": "assistant"}


class ConvertError(ValueError):
    """A record that cannot become one of ours; the message is `reason_key (details)`."""


def need(obj: dict, key: str) -> Any:
    """`obj[key]`, or ConvertError `missing_field` when it is absent."""
    if key not in obj:
        raise ConvertError(f"missing_field (no '{key}')")
    return obj[key]


def as_label(value: Any, key: str) -> bool:
    """A KTO label (`label`, `kto_tag`): a JSON boolean, nothing else."""
    if not isinstance(value, bool):
        raise ConvertError(f"bad_label ({key} is {value!r}; expected true or false)")
    return value


def with_system(obj: dict, prompt: list[dict]) -> list[dict]:
    """`prompt` with the record's `system` text first, unless it already starts with a system turn."""
    system = obj.get("system")
    if (
        isinstance(system, str)
        and system.strip()
        and not (prompt and prompt[0]["role"] == "system")
    ):
        return [{"role": "system", "content": system}, *prompt]
    return prompt


def as_prompt(value: Any, key: str) -> list[dict]:
    """A prompt as a string (one user turn) or a message list."""
    if isinstance(value, str):
        if not value.strip():
            raise ConvertError(f"empty_content ({key} is empty)")
        return [{"role": "user", "content": value}]
    return norm_messages(value, key)


def as_answer(value: Any, key: str) -> list[dict]:
    """An answer as a string, one assistant message, or a list of assistant messages."""
    if isinstance(value, str):
        return [{"role": "assistant", "content": value}]
    if isinstance(value, dict):
        value = [value]
    if (
        isinstance(value, list)
        and value
        and all(isinstance(m, dict) and "from" in m for m in value)
    ):
        return sharegpt_messages(value, key)
    msgs = norm_messages(value, key)
    if any(m["role"] != "assistant" for m in msgs):
        raise ConvertError(f"bad_role ({key} must hold only assistant messages)")
    return msgs


def implicit_prompt(chosen: list, rejected: list) -> tuple[list[dict], list[dict], list[dict]]:
    """Two full conversations: their common prefix is the prompt, the rest the two answers."""
    c, r = norm_messages(chosen, "chosen"), norm_messages(rejected, "rejected")
    n = 0
    while n < min(len(c), len(r)) and c[n] == r[n]:
        n += 1
    while (
        n > 0 and c[n - 1]["role"] == "assistant"
    ):  # the answer starts after the last non-assistant turn
        n -= 1
    if n == 0:
        raise ConvertError("no_prompt (chosen and rejected share no prompt)")
    ca, ra = c[n:], r[n:]
    if not ca or not ra or any(m["role"] != "assistant" for m in ca + ra):
        raise ConvertError(
            "bad_role (after the shared prompt, chosen and rejected must be assistant turns)"
        )
    return c[:n], ca, ra


def split_last_answer(messages: list[dict], key: str) -> tuple[list[dict], list[dict]]:
    """(the conversation before the final assistant turn, [that turn]): what a label rates."""
    if not messages or messages[-1]["role"] != "assistant":
        raise ConvertError(f"no_answer ({key} must end with the assistant answer the label rates)")
    return messages[:-1], messages[-1:]


def norm_messages(value: Any, key: str) -> list[dict]:
    """ChatML/OpenAI messages -> ours: text content, tool calls with ids and JSON-string arguments."""
    if not isinstance(value, list) or not value:
        raise ConvertError(f"bad_messages ({key} must be a non-empty list of messages)")
    out: list[dict] = []
    calls_seen = 0
    pending: list[dict] = []  # calls not yet answered by a tool turn
    for i, m in enumerate(value, 1):
        if not isinstance(m, dict):
            raise ConvertError(
                f"bad_messages ({key} message {i} is a {type(m).__name__}, expected an object)"
            )
        role = m.get("role")
        role = ROLE_ALIASES.get(role, role) if isinstance(role, str) else role
        msg: dict[str, Any] = {
            "role": role,
            "content": text_content(m.get("content"), f"{key} message {i}"),
        }
        raw_calls = m.get("tool_calls")
        if raw_calls is None and isinstance(
            m.get("function_call"), dict
        ):  # legacy OpenAI functions
            raw_calls = [m["function_call"]]
        if raw_calls is not None:
            if not isinstance(raw_calls, list):
                raise ConvertError(f"bad_tool_call ({key} message {i}: tool_calls must be a list)")
            msg["tool_calls"] = []
            for c in raw_calls:
                calls_seen += 1
                msg["tool_calls"].append(norm_call(c, calls_seen, f"{key} message {i}"))
            pending = list(msg["tool_calls"])
        if role == "tool":
            call = pending.pop(0) if pending else None
            tool_call_id = m.get("tool_call_id") or (call["id"] if call else None)
            name = m.get("name") or (call["function"]["name"] if call else None)
            if isinstance(tool_call_id, str):
                msg["tool_call_id"] = tool_call_id
            if isinstance(name, str):
                msg["name"] = name
        out.append(msg)
    return out


def norm_call(call: Any, n: int, where: str) -> dict:
    """One tool call -> `{"id", "type": "function", "function": {"name", "arguments": JSON text}}`."""
    if not isinstance(call, dict):
        raise ConvertError(
            f"bad_tool_call ({where}: a call is a {type(call).__name__}, expected an object)"
        )
    fn = call.get("function", call)
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
        raise ConvertError(f"bad_tool_call ({where}: a call has no function name)")
    args = fn.get("arguments", fn.get("parameters", {}))
    if not isinstance(args, str):
        args = orjson.dumps(args).decode()
    call_id = call.get("id") if isinstance(call.get("id"), str) and call.get("id") else f"call_{n}"
    return {"id": call_id, "type": "function", "function": {"name": fn["name"], "arguments": args}}


def norm_tools(value: Any) -> list[dict]:
    """Tool schemas (a list, or a JSON string of one) -> OpenAI `{"type": "function", "function"}`."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError as e:
            raise ConvertError(f"bad_tools (tools is not valid JSON: {e})") from None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise ConvertError(
            f"bad_tools (tools must be a list of function schemas, got {type(value).__name__})"
        )
    out = []
    for i, t in enumerate(value, 1):
        fn = t.get("function", t) if isinstance(t, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise ConvertError(f"bad_tools (tool {i} has no function name)")
        out.append({"type": "function", "function": fn})
    return out


def sharegpt_messages(turns: Any, key: str, first_call: int = 1) -> list[dict]:
    """ShareGPT turns -> our messages; function_call -> assistant tool_calls, observation -> tool."""
    if not isinstance(turns, list) or not turns:
        raise ConvertError(f"bad_messages ({key} must be a non-empty list of turns)")
    out: list[dict] = []
    n = first_call
    pending: list[dict] = []
    for i, t in enumerate(turns, 1):
        where = f"{key} turn {i}"
        if not isinstance(t, dict):
            raise ConvertError(
                f"bad_messages ({where} is a {type(t).__name__}, expected an object)"
            )
        tag = t.get("from", t.get("role"))
        role = SHAREGPT_ROLES.get(tag) if isinstance(tag, str) else None
        if role is None:
            raise ConvertError(
                f'invalid_role ({where} has from "{tag}"; expected human, gpt, system, function_call or observation)'
            )
        value = text_content(t.get("value", t.get("content")), where)
        if role == "function_call":
            try:
                parsed = orjson.loads(value)
            except orjson.JSONDecodeError as e:
                raise ConvertError(f"bad_tool_call ({where}: not valid JSON: {e})") from None
            calls = parsed if isinstance(parsed, list) else [parsed]
            msg = {"role": "assistant", "content": "", "tool_calls": []}
            for c in calls:
                msg["tool_calls"].append(norm_call(c, n, where))
                n += 1
            pending = list(msg["tool_calls"])
            out.append(msg)
        elif role == "tool":
            msg = {"role": "tool", "content": value}
            call = pending.pop(0) if pending else None
            if call is not None:
                msg["tool_call_id"] = call["id"]
                msg["name"] = call["function"]["name"]
            out.append(msg)
        else:
            out.append({"role": role, "content": value})
    return out


def text_content(content: Any, where: str) -> str:
    """Message content -> text: a string, null ("") or OpenAI text parts (other parts refused)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for p in content:
            if isinstance(p, str):
                parts.append(p)
            elif (
                isinstance(p, dict)
                and p.get("type", "text") == "text"
                and isinstance(p.get("text"), str)
            ):
                parts.append(p["text"])
            else:
                kind = p.get("type") if isinstance(p, dict) else type(p).__name__
                raise ConvertError(
                    f"unsupported_content ({where} has a {kind} part; only text is imported)"
                )
        return "".join(parts)
    raise ConvertError(
        f"bad_content ({where}: content is a {type(content).__name__}, expected a string)"
    )
