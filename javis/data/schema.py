"""Strict validation of our records: roles, order, content, tool calls.

`validate(record)` returns None for a valid record, else one reason whose first word is the
reason's key (`invalid_role (message 3 has role "bot"; expected system, user, assistant or tool)`).
"""

from __future__ import annotations

import orjson

from javis.data.records import ROLES, record_kind


def validate(record: dict) -> str | None:
    kind = record_kind(record)
    tools = record.get("tools")
    if tools is not None and not isinstance(tools, list):
        return "bad_tools (tools must be a list of function schemas)"
    declared = tool_names(tools or [])
    if kind == "sft":
        return check_conversation(
            record.get("messages"), declared, "messages", must_end="assistant"
        )
    if kind == "preference":
        if err := check_conversation(record.get("prompt"), declared, "prompt", must_end="prompt"):
            return err
        for key in ("chosen", "rejected"):
            if err := check_answer(record.get(key), declared, key):
                return err
        return None
    if not isinstance(record.get("label"), bool):
        return "bad_label (a KTO record needs a boolean label)"
    if err := check_conversation(record.get("prompt"), declared, "prompt", must_end="prompt"):
        return err
    return check_answer(record.get("completion"), declared, "completion")


def tool_names(tools: list) -> set[str]:
    names = set()
    for t in tools:
        if isinstance(t, dict):
            fn = t.get("function", t)
            if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                names.add(fn["name"])
    return names


def check_answer(value: object, declared: set[str], field: str) -> str | None:
    if not isinstance(value, list) or not value:
        return f"bad_messages ({field} must be a non-empty list of assistant messages)"
    for i, m in enumerate(value, 1):
        if not isinstance(m, dict) or m.get("role") != "assistant":
            return f"bad_role ({field} message {i} must have role assistant)"
        if err := check_message(m, i, declared, field):
            return err
    return None


def check_conversation(value: object, declared: set[str], field: str, must_end: str) -> str | None:
    """A chat in order: optional system first, then a user turn, tool turns only after calls."""
    if not isinstance(value, list) or not value:
        return f"bad_messages ({field} must be a non-empty list of messages)"
    previous = None
    seen_user = False
    for i, m in enumerate(value, 1):
        if not isinstance(m, dict):
            return f"bad_messages ({field} message {i} is a {type(m).__name__}, expected an object)"
        role = m.get("role")
        if role not in ROLES:
            return f'invalid_role ({field} message {i} has role "{role}"; expected system, user, assistant or tool)'
        if role == "system" and i != 1:
            return f"bad_order ({field} message {i}: a system message may only come first)"
        if role == "assistant" and not seen_user:
            return f"bad_order ({field} message {i}: an assistant turn before any user turn)"
        if role == "tool" and not (
            previous is not None and (previous.get("role") == "tool" or previous.get("tool_calls"))
        ):
            return f"orphan_tool_result ({field} message {i}: a tool result without a preceding tool call)"
        if err := check_message(m, i, declared, field):
            return err
        seen_user = seen_user or role == "user"
        previous = m
    if not seen_user:
        return f"no_user_turn ({field} has no user message)"
    last = value[-1]["role"]
    if must_end == "assistant" and last != "assistant":
        return f"no_answer ({field} must end with an assistant message, ends with {last})"
    if must_end == "prompt" and last == "assistant" and not value[-1].get("tool_calls"):
        return f"bad_order ({field} must end before the answer, not with an assistant message)"
    return None


def check_message(m: dict, i: int, declared: set[str], field: str) -> str | None:
    content, calls = m.get("content"), m.get("tool_calls")
    if content is not None and not isinstance(content, str):
        return f"bad_content ({field} message {i}: content is a {type(content).__name__}, expected a string)"
    if calls is not None:
        if m.get("role") != "assistant":
            return f"bad_tool_call ({field} message {i}: only assistant messages may call tools)"
        if not isinstance(calls, list) or not calls:
            return f"bad_tool_call ({field} message {i}: tool_calls must be a non-empty list)"
        for j, call in enumerate(calls, 1):
            if err := check_call(call, declared):
                return f"bad_tool_call ({field} message {i}, call {j}: {err})"
        return None
    if not (content or "").strip():
        return f"empty_content ({field} message {i} ({m.get('role')}) is empty)"
    return None


def check_call(call: object, declared: set[str]) -> str | None:
    if not isinstance(call, dict):
        return "not an object"
    fn = call.get("function", call)
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
        return "no function name"
    if fn["name"] not in declared:
        return f'tool "{fn["name"]}" is not declared in the record\'s tools'
    args = fn.get("arguments", {})
    if isinstance(args, str):
        try:
            args = orjson.loads(args) if args.strip() else {}
        except orjson.JSONDecodeError as e:
            return f"arguments are not valid JSON ({e})"
    if not isinstance(args, dict):
        return "arguments must be a JSON object"
    return None
