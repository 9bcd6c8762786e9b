"""A tiny notation for writing conversations by hand.

A conversation is a list of items, read in order:
  - SYS (optional, first): the persona system prompt; SYS_DATE(...) adds today's date to it;
  - a str: alternately a user turn and an assistant turn, starting with the user;
  - T(name, args, result): in place of an assistant turn, an assistant tool call plus the
    tool's answer; the next item is then again an assistant turn (a str or another T).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SYSTEM_PROMPT = (
    "You are JAVIS, the personal assistant of Minjun Kim (김민준). Answer concisely and warmly, "
    "in the language the user writes in (Korean or English)."
)


@dataclass(frozen=True)
class Sys:
    text: str


SYS = Sys(SYSTEM_PROMPT)


def SYS_DATE(date: str, weekday: str, time: str | None = None) -> Sys:
    now = f" The time is {time}." if time else ""
    return Sys(f"{SYSTEM_PROMPT} Today is {weekday}, {date}.{now} Time zone: Asia/Seoul.")


@dataclass(frozen=True)
class T:
    name: str
    args: dict
    result: Any


TOOL_SCHEMAS: dict[str, dict] = {
    "get_weather": {
        "name": "get_weather",
        "description": "Current weather or the forecast for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Seoul"},
                "date": {"type": "string", "description": "YYYY-MM-DD; today when omitted"},
            },
            "required": ["city"],
        },
    },
    "create_calendar_event": {
        "name": "create_calendar_event",
        "description": "Create an event in the user's calendar.",
        "parameters": {
            "type": "object",
            "properties": {
                "title": {"type": "string"},
                "start": {"type": "string", "description": "ISO 8601 date-time with offset"},
                "end": {
                    "type": "string",
                    "description": "ISO 8601 date-time; one hour after start when omitted",
                },
            },
            "required": ["title", "start"],
        },
    },
    "list_calendar_events": {
        "name": "list_calendar_events",
        "description": "List the user's calendar events on one day.",
        "parameters": {
            "type": "object",
            "properties": {"date": {"type": "string", "description": "YYYY-MM-DD"}},
            "required": ["date"],
        },
    },
    "set_reminder": {
        "name": "set_reminder",
        "description": "Set a reminder that notifies the user at the given time.",
        "parameters": {
            "type": "object",
            "properties": {
                "text": {"type": "string"},
                "time": {"type": "string", "description": "ISO 8601 date-time with offset"},
            },
            "required": ["text", "time"],
        },
    },
    "web_search": {
        "name": "web_search",
        "description": "Search the web and return the top results with short snippets.",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "required": ["query"],
        },
    },
}

ALL_TOOLS = list(TOOL_SCHEMAS)


def tool_decl(names: list[str]) -> list[dict]:
    return [{"type": "function", "function": TOOL_SCHEMAS[n]} for n in names]


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def build(items: list, *, declare: list[str] | None = None) -> dict:
    """Turn the notation into {"messages": [...], "tools"?: [...]}.

    `declare` adds tools to the declaration beyond those the conversation calls.
    """
    messages: list[dict] = []
    used: list[str] = []
    next_role = "user"
    n_calls = 0
    for i, item in enumerate(items):
        if isinstance(item, Sys):
            if i != 0:
                raise ValueError("SYS must come first")
            messages.append({"role": "system", "content": item.text})
        elif isinstance(item, T):
            if next_role != "assistant":
                raise ValueError(f"tool call where a {next_role} turn belongs: {item}")
            n_calls += 1
            cid = f"call_{n_calls}"
            messages.append(
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": cid,
                            "type": "function",
                            "function": {"name": item.name, "arguments": dumps(item.args)},
                        }
                    ],
                }
            )
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": cid,
                    "name": item.name,
                    "content": dumps(item.result),
                }
            )
            if item.name not in used:
                used.append(item.name)
        elif isinstance(item, str):
            messages.append({"role": next_role, "content": item})
            next_role = "assistant" if next_role == "user" else "user"
        else:
            raise TypeError(item)
    if not messages or messages[-1]["role"] != "assistant":
        raise ValueError(f"conversation must end with an assistant turn: {items[:2]}")
    out: dict = {"messages": messages}
    names = used + [n for n in (declare or []) if n not in used]
    if names:
        out["tools"] = tool_decl(names)
    return out
