"""Our one record type family, and the rules every stage shares about them.

SFT:        {"id", "messages": [{"role", "content", "tool_calls"?, "tool_call_id"?, "name"?}],
             "tools"?, "source", "meta"}
Preference: {"id", "prompt": [messages], "chosen": [assistant message], "rejected": [assistant message],
             "source", "meta"}
KTO:        {"id", "prompt": [messages], "completion": [assistant message], "label": bool, "source", "meta"}

`meta` always holds the provenance: `file`, `line`, `orig_id` (the input's own id, if any).
Ids are content hashes, so the same conversation gets the same id in every version.
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Any

import orjson

KINDS = ("sft", "preference", "kto")
ROLES = ("system", "user", "assistant", "tool")


def normalize_text(text: str) -> str:
    """NFKC, lower case, whitespace collapsed: the form used for hashing and matching."""
    # str.split() splits on exactly the characters `\s` matches: the same as collapsing `\s+` to
    # one space and stripping, ~3x faster (this runs on every message in collect, dedupe and split).
    return " ".join(unicodedata.normalize("NFKC", text).split()).lower()


def content_of(message: dict) -> str:
    """A message's text, with tool calls written out (for hashing, shingling, scoring)."""
    content = message.get("content")
    text = content if isinstance(content, str) else ""
    calls = message.get("tool_calls")
    for call in (
        calls if isinstance(calls, list) else []
    ):  # any shape: invalid records are hashed too
        fn = call.get("function", call) if isinstance(call, dict) else {}
        if not isinstance(fn, dict):
            fn = {}
        args = fn.get("arguments", "")
        if not isinstance(args, str):
            args = orjson.dumps(args, option=orjson.OPT_SORT_KEYS).decode()
        text += f" <tool_call> {fn.get('name', '')} {args}"
    return text


def messages_key(messages: list[dict], *, skip_system: bool = True) -> str:
    """Normalised `role: text` lines of a conversation (system turns skipped by default)."""
    return "\n".join(
        f"{m.get('role')}: {normalize_text(content_of(m))}"
        for m in messages
        if isinstance(m, dict) and not (skip_system and m.get("role") == "system")
    )


def digest(*parts: str, size: int = 16) -> str:
    h = hashlib.blake2b(digest_size=size)
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


def record_text(record: dict) -> str:
    """The whole normalised content of a record of any kind (what dedupe compares)."""
    kind = record_kind(record)
    if kind == "sft":
        return messages_key(record["messages"])
    if kind == "preference":
        return "\n".join(
            [
                messages_key(record["prompt"]),
                "chosen: " + messages_key(record["chosen"]),
                "rejected: " + messages_key(record["rejected"]),
            ]
        )
    return "\n".join(
        [
            messages_key(record["prompt"]),
            f"label: {record['label']}",
            messages_key(record["completion"]),
        ]
    )


def record_id(kind: str, record: dict) -> str:
    """Stable id: the kind plus a hash of the normalised content."""
    body = dict(record)
    body.setdefault("label", None)
    return f"{kind}-{digest(kind, record_text(body))}"


def record_kind(record: dict) -> str:
    if "messages" in record:
        return "sft"
    if "chosen" in record:
        return "preference"
    return "kto"


def prompt_messages(record: dict) -> list[dict]:
    """The conversation before the (first) answer: what a split group and an eval prompt start from."""
    if record_kind(record) == "sft":
        return record["messages"]
    return record["prompt"]


def first_user_turn(record: dict) -> str:
    for m in prompt_messages(record):
        if isinstance(m, dict) and m.get("role") == "user":
            return normalize_text(content_of(m))
    return ""


def group_key(record: dict) -> str:
    """The split group: a hash of the conversation's normalised first user turn."""
    return digest("group", first_user_turn(record))


def assistant_texts(record: dict) -> list[str]:
    """Every assistant answer a record would train on (SFT turns, chosen, completion)."""
    kind = record_kind(record)
    if kind == "sft":
        msgs = record["messages"]
    elif kind == "preference":
        msgs = record["chosen"]
    else:
        msgs = record["completion"]
    return [content_of(m) for m in msgs if isinstance(m, dict) and m.get("role") == "assistant"]


def all_text_fields(record: dict) -> list[tuple[Any, Any]]:
    """Every (container, key) holding user text in a record, for redaction in place: each message's
    content and name, its tool calls' arguments (a JSON string, or every string inside an object),
    and every string in the record's tool schemas."""
    out: list[tuple[Any, Any]] = []
    for field in ("messages", "prompt", "chosen", "rejected", "completion"):
        value = record.get(field)
        for m in value if isinstance(value, list) else []:
            if not isinstance(m, dict):
                continue
            for key in ("content", "name"):
                if isinstance(m.get(key), str):
                    out.append((m, key))
            calls = m.get("tool_calls")
            for call in calls if isinstance(calls, list) else []:
                fn = call.get("function", call) if isinstance(call, dict) else None
                if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
                    out.append((fn, "arguments"))
                elif isinstance(fn, dict):
                    _nested_strings(fn.get("arguments"), out)
    _nested_strings(record.get("tools"), out)
    return out


def _nested_strings(value: Any, out: list[tuple[Any, Any]]) -> None:
    """(container, key) of every string value inside a JSON value (object keys are left alone)."""
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in list(items):
        if isinstance(item, str):
            out.append((value, key))
        else:
            _nested_strings(item, out)
