"""`javis import`: outside chat data -> our record shapes, at the door, with provenance.

Reads a JSON array or JSONL file in one of the formats users bring and writes the lines that
`stages/collect.py` reads:

    SFT         {"id", "messages": [...], "tools"?: [...], "meta"}            -> data/raw/
    preference  {"id", "prompt": [...], "chosen": [assistant], "rejected": [assistant], "tools"?, "meta"}
    KTO         {"id", "prompt": [...], "completion": [assistant], "label": bool, "tools"?, "meta"}

or, with `--as feedback`, feedback lines (DESIGN.md) into data/feedback/: an SFT conversation is
a 👍 of its last answer, a KTO record a 👍/👎, a preference pair a 👎 of `rejected` corrected by
`chosen`.

Formats (`--format`, or `auto`: detected per record, reported per file):

| format   | a record looks like |
|---|---|
| chatml / openai | `{"messages": [{"role", "content", "tool_calls"?}], "tools"?}`; a boolean `label` makes it KTO (the last assistant turn is the completion) |
| sharegpt | `{"conversations": [{"from": human/gpt/system/function_call/observation, "value"}], "system"?, "tools"?: JSON string}`; `chosen`/`rejected` objects make it a preference pair, a boolean `kto_tag` KTO |
| alpaca   | `{"instruction", "input"?, "output", "system"?, "history"?: [[user, assistant], ...]}` |
| dpo      | `{"prompt", "chosen", "rejected"}` as strings or message lists (no prompt: the common prefix of two full conversations), or ShareGPT/Alpaca with chosen/rejected |
| kto      | `{"prompt", "completion", "label"}` as strings or message lists, or messages/conversations with `label`/`kto_tag` |

Rules: ShareGPT `function_call` turns become assistant `tool_calls` (arguments as a JSON string, ids
`call_1`, `call_2`, ... per conversation) and `observation` turns become `tool` turns answering
them; `tools` become OpenAI `{"type": "function", "function": {...}}` schemas. `{{name}}` and
`{{author}}` are filled from params `persona`. Every converted record must pass the strict record
check of `javis/schema.py`, else it is rejected with its index and reason.

Provenance: `meta` holds the input file, index (0-based position; `line` too for JSONL), source
name, format, import time and `content_hash` (sha256 of the converted content). The hashes of
everything imported into a folder are kept in `<folder>/.imported.jsonl` (hidden: collect skips it;
DVC versions it with the folder), so importing the same data twice adds nothing. The index is
locked (`flock`) while a batch is checked and written, so concurrent imports never lose or
duplicate a record; each batch is one new file, written atomically, named after its source. The
folder is then re-added to DVC as a whole (`dvc add data/raw`), retried while another DVC command
holds the repository lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from javis.app import workspace
from javis.core import fileio
from javis.data import feedback, schema

log = logging.getLogger("javis.import")

FORMATS = ("auto", "chatml", "openai", "sharegpt", "alpaca", "dpo", "kto")
INDEX_FILE = ".imported.jsonl"
TARGETS = ("raw", "feedback")

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
PLACEHOLDER = re.compile(r"\{\{\s*(name|author)\s*\}\}")
DVC_LOCK_ERRORS = ("Unable to acquire lock", "lock is held", "LockError")


class ConvertError(ValueError):
    """A record that cannot become one of ours; the message is `reason_key (details)`."""


class ImportFailed(RuntimeError):
    """The whole import cannot go on (unreadable file, DVC failure); the message says what to do."""


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One input record: `obj` when it parsed as a JSON object, else `error` says why not."""

    index: int  # 0-based position among the file's records
    line: int | None  # JSONL line number (1-based); None for a JSON array
    obj: dict | None
    error: str | None


def read_items(path: str | Path, max_line_bytes: int = 1_000_000) -> Iterator[Item]:
    """The records of a JSON array or JSONL file. A file that is neither raises ImportFailed."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(4096).lstrip(fileio.BOM).lstrip()
    except OSError as e:
        raise ImportFailed(f"{path}: cannot read ({e.strerror})") from None
    if head.startswith(b"[") and not _jsonl_of_arrays(head):
        data = path.read_bytes()
        try:
            items = orjson.loads(data[len(fileio.BOM) :] if data.startswith(fileio.BOM) else data)
        except orjson.JSONDecodeError as e:
            raise ImportFailed(
                f"{path}: starts like a JSON array but is not valid JSON ({e})"
            ) from None
        for i, obj in enumerate(items):
            err = None if isinstance(obj, dict) else f"not_object (a JSON {type(obj).__name__})"
            err = err or fileio.unwritable(obj)  # parses, but nested too deep to write back
            yield Item(i, None, obj if err is None else None, err)
        return
    if (
        head.startswith(b"{")
        and b"\n" in head
        and not _first_line_is_json(head)
        and _one_object(path)
    ):
        raise ImportFailed(
            f"{path}: looks like one pretty-printed JSON object; expected a JSON array of records "
            "or JSONL (one record per line)"
        )
    for i, line in enumerate(fileio.read_jsonl(path, max_line_bytes)):
        yield Item(i, line.line, line.obj, line.error)


def _jsonl_of_arrays(head: bytes) -> bool:
    """JSONL whose first line is a JSON array (`[]`): its first line parses alone and more follows."""
    first, _, rest = head.partition(b"\n")
    return bool(rest.strip()) and _first_line_is_json(first)


def _one_object(path: Path) -> bool:
    """The whole file is one JSON object (pretty-printed), not JSONL with a broken first line."""
    data = path.read_bytes()
    try:
        return isinstance(
            orjson.loads(data[len(fileio.BOM) :] if data.startswith(fileio.BOM) else data), dict
        )
    except orjson.JSONDecodeError:
        return False


def _first_line_is_json(head: bytes) -> bool:
    try:
        orjson.loads(head.split(b"\n", 1)[0])
        return True
    except orjson.JSONDecodeError:
        return False


# --- detection ---------------------------------------------------------------------------------


def detect(obj: dict) -> str | None:
    """The format of one record, or None when it matches none."""
    if "chosen" in obj and "rejected" in obj:
        return "dpo"
    if "kto_tag" in obj or ("completion" in obj and "label" in obj):
        return "kto"
    if "messages" in obj:
        if "label" in obj:
            return "kto"
        msgs = obj.get("messages")
        openai = (
            "tools" in obj
            or "functions" in obj
            or (
                isinstance(msgs, list)
                and any(
                    isinstance(m, dict)
                    and (
                        m.get("tool_calls")
                        or m.get("function_call")
                        or isinstance(m.get("content"), list)
                    )
                    for m in msgs
                )
            )
        )
        return "openai" if openai else "chatml"
    if "conversations" in obj:
        return "sharegpt"
    if "instruction" in obj and "output" in obj:
        return "alpaca"
    return None


# --- conversion --------------------------------------------------------------------------------


@dataclass
class Converted:
    """A record in our shape (without `id` and `meta`) and the format it was read as."""

    kind: str  # sft | preference | kto
    body: dict
    format: str

    def content_hash(self) -> str:
        """sha256 of the canonical JSON of the content: the identity used for deduplication."""
        canon = orjson.dumps({"kind": self.kind, **self.body}, option=orjson.OPT_SORT_KEYS)
        return "sha256:" + hashlib.sha256(canon).hexdigest()


def convert(obj: dict, fmt: str = "auto", persona: dict[str, str] | None = None) -> Converted:
    """One input record -> our record. Raises ConvertError with the reason."""
    if fmt == "auto":
        found = detect(obj)
        if found is None:
            keys = ", ".join(sorted(obj)[:8]) or "none"
            raise ConvertError(
                f"unknown_format (keys: {keys}; expected messages, conversations, "
                "instruction/output, prompt/chosen/rejected or prompt/completion/label)"
            )
        fmt = found
    if fmt in ("chatml", "openai"):
        if "messages" not in obj:
            raise ConvertError(f"not_{fmt} (no 'messages' list)")
        kind, body = _from_messages(obj)
    elif fmt == "sharegpt":
        if "conversations" not in obj:
            raise ConvertError("not_sharegpt (no 'conversations' list)")
        kind, body = _from_sharegpt(obj)
    elif fmt == "alpaca":
        if "instruction" not in obj:
            raise ConvertError("not_alpaca (no 'instruction')")
        kind, body = _from_alpaca(obj)
    elif fmt == "dpo":
        kind, body = _from_dpo(obj)
    elif fmt == "kto":
        kind, body = _from_kto(obj)
    else:
        raise ValueError(f"format: expected one of {FORMATS}, got {fmt!r}")
    if persona:
        fill_placeholders(body, persona)
    if not body.get("tools"):
        body.pop("tools", None)
    if err := schema.validate(body):
        raise ConvertError(err)
    return Converted(kind, body, fmt)


def fill_placeholders(body: dict, persona: dict[str, str]) -> None:
    """Replace `{{name}}` / `{{author}}` in every message's content, in place."""
    for key in ("messages", "prompt", "chosen", "rejected", "completion"):
        for m in body.get(key) or []:
            if isinstance(m.get("content"), str):
                m["content"] = PLACEHOLDER.sub(
                    lambda g: persona.get(g.group(1), g.group(0)), m["content"]
                )


def _from_messages(obj: dict) -> tuple[str, dict]:
    tools = norm_tools(obj.get("tools", obj.get("functions")))
    messages = norm_messages(obj["messages"], "messages")
    if "label" in obj:
        prompt, completion = _split_last_answer(messages, "messages")
        return "kto", {
            "prompt": prompt,
            "completion": completion,
            "label": _label(obj["label"], "label"),
            "tools": tools,
        }
    return "sft", {"messages": messages, "tools": tools}


def _from_sharegpt(obj: dict) -> tuple[str, dict]:
    tools = norm_tools(obj.get("tools"))
    messages = sharegpt_messages(obj["conversations"], "conversations")
    system = obj.get("system")
    if (
        isinstance(system, str)
        and system.strip()
        and not (messages and messages[0]["role"] == "system")
    ):
        messages.insert(0, {"role": "system", "content": system})
    if "chosen" in obj or "rejected" in obj:
        calls = sum(len(m.get("tool_calls") or []) for m in messages)
        chosen = sharegpt_messages([_need(obj, "chosen")], "chosen", first_call=calls + 1)
        rejected = sharegpt_messages([_need(obj, "rejected")], "rejected", first_call=calls + 1)
        return "preference", {
            "prompt": messages,
            "chosen": chosen,
            "rejected": rejected,
            "tools": tools,
        }
    if "kto_tag" in obj:
        prompt, completion = _split_last_answer(messages, "conversations")
        return "kto", {
            "prompt": prompt,
            "completion": completion,
            "label": _label(obj["kto_tag"], "kto_tag"),
            "tools": tools,
        }
    return "sft", {"messages": messages, "tools": tools}


def _from_alpaca(obj: dict) -> tuple[str, dict]:
    messages = alpaca_prompt(obj)
    if "chosen" in obj or "rejected" in obj:
        return "preference", {
            "prompt": messages,
            "chosen": _answer(_need(obj, "chosen"), "chosen"),
            "rejected": _answer(_need(obj, "rejected"), "rejected"),
        }
    output = obj.get("output")
    if "kto_tag" in obj:
        return "kto", {
            "prompt": messages,
            "completion": _answer(output, "output"),
            "label": _label(obj["kto_tag"], "kto_tag"),
        }
    return "sft", {"messages": [*messages, *_answer(output, "output")]}


def alpaca_prompt(obj: dict) -> list[dict]:
    """system?, history pairs, then instruction + "\\n" + input (LLaMA-Factory's join) as the user turn."""
    instruction, extra = obj.get("instruction"), obj.get("input")
    if not isinstance(instruction, str) or not instruction.strip():
        raise ConvertError("empty_content (instruction must be a non-empty string)")
    if extra is not None and not isinstance(extra, str):
        raise ConvertError(f"bad_content (input is a {type(extra).__name__}, expected a string)")
    messages: list[dict] = []
    system = obj.get("system")
    if isinstance(system, str) and system.strip():
        messages.append({"role": "system", "content": system})
    history = obj.get("history") or []
    if not isinstance(history, list):
        raise ConvertError("bad_history (history must be a list of [instruction, response] pairs)")
    for i, pair in enumerate(history, 1):
        if not (
            isinstance(pair, list | tuple)
            and len(pair) == 2
            and all(isinstance(x, str) for x in pair)
        ):
            raise ConvertError(
                f"bad_history (history item {i} must be a [instruction, response] pair of strings)"
            )
        messages += [
            {"role": "user", "content": pair[0]},
            {"role": "assistant", "content": pair[1]},
        ]
    query = instruction + ("\n" + extra if extra and extra.strip() else "")
    messages.append({"role": "user", "content": query})
    return messages


def _from_dpo(obj: dict) -> tuple[str, dict]:
    if "conversations" in obj:
        kind, body = _from_sharegpt(obj)
    elif "instruction" in obj:
        kind, body = _from_alpaca(obj)
    else:
        chosen_raw, rejected_raw = _need(obj, "chosen"), _need(obj, "rejected")
        tools = norm_tools(obj.get("tools"))
        if "prompt" in obj:
            prompt = _prompt(obj["prompt"], "prompt")
            chosen, rejected = _answer(chosen_raw, "chosen"), _answer(rejected_raw, "rejected")
        elif isinstance(chosen_raw, list) and isinstance(rejected_raw, list):
            prompt, chosen, rejected = _implicit_prompt(chosen_raw, rejected_raw)
        else:
            raise ConvertError("no_prompt (string chosen/rejected need a prompt)")
        prompt = _with_system(obj, prompt)
        kind, body = (
            "preference",
            {"prompt": prompt, "chosen": chosen, "rejected": rejected, "tools": tools},
        )
    if kind != "preference":
        raise ConvertError("not_dpo (needs chosen and rejected)")
    return kind, body


def _from_kto(obj: dict) -> tuple[str, dict]:
    if "conversations" in obj:
        kind, body = _from_sharegpt(obj)
    elif "messages" in obj:
        kind, body = _from_messages(obj)
    elif "instruction" in obj:
        kind, body = _from_alpaca(obj)
    else:
        prompt = _with_system(obj, _prompt(_need(obj, "prompt"), "prompt"))
        body = {
            "prompt": prompt,
            "completion": _answer(_need(obj, "completion"), "completion"),
            "label": _label(_need(obj, "label"), "label"),
            "tools": norm_tools(obj.get("tools")),
        }
        kind = "kto"
    if kind != "kto":
        raise ConvertError("not_kto (needs a boolean label or kto_tag)")
    return kind, body


def _need(obj: dict, key: str) -> Any:
    if key not in obj:
        raise ConvertError(f"missing_field (no '{key}')")
    return obj[key]


def _label(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConvertError(f"bad_label ({key} is {value!r}; expected true or false)")
    return value


def _with_system(obj: dict, prompt: list[dict]) -> list[dict]:
    system = obj.get("system")
    if (
        isinstance(system, str)
        and system.strip()
        and not (prompt and prompt[0]["role"] == "system")
    ):
        return [{"role": "system", "content": system}, *prompt]
    return prompt


def _prompt(value: Any, key: str) -> list[dict]:
    """A prompt as a string (one user turn) or a message list."""
    if isinstance(value, str):
        if not value.strip():
            raise ConvertError(f"empty_content ({key} is empty)")
        return [{"role": "user", "content": value}]
    return norm_messages(value, key)


def _answer(value: Any, key: str) -> list[dict]:
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


def _implicit_prompt(chosen: list, rejected: list) -> tuple[list[dict], list[dict], list[dict]]:
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


def _split_last_answer(messages: list[dict], key: str) -> tuple[list[dict], list[dict]]:
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
            "content": _text(m.get("content"), f"{key} message {i}"),
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
        value = _text(t.get("value", t.get("content")), where)
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


def _text(content: Any, where: str) -> str:
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


# --- feedback lines ----------------------------------------------------------------------------


def to_feedback(conv: Converted) -> dict:
    """A converted record as a feedback line (DESIGN.md) without id/created_at/model_version."""
    b = conv.body
    if conv.kind == "sft":
        prompt, answer, rating, correction = b["messages"][:-1], b["messages"][-1], "good", None
    elif conv.kind == "kto":
        prompt, answer, rating, correction = (
            b["prompt"],
            b["completion"][-1],
            ("good" if b["label"] else "bad"),
            None,
        )
        if len(b["completion"]) > 1:
            raise ConvertError(
                "not_feedback (the completion has several messages; feedback rates one answer)"
            )
    else:
        prompt, answer, rating = b["prompt"], b["rejected"][-1], "bad"
        chosen = b["chosen"]
        if len(chosen) > 1 or len(b["rejected"]) > 1 or chosen[0].get("tool_calls"):
            raise ConvertError("not_feedback (a correction must be one text answer)")
        correction = chosen[0]["content"]
    if answer.get("tool_calls") or not answer.get("content", "").strip():
        raise ConvertError(
            "not_feedback (the rated answer must be text; tool calls cannot be rated as feedback)"
        )
    if any(m.get("tool_calls") or m["role"] == "tool" for m in prompt):
        raise ConvertError(
            "not_feedback (feedback conversations cannot hold tool calls; import it as raw)"
        )
    line: dict[str, Any] = {"messages": prompt, "response": answer["content"], "rating": rating}
    if correction is not None:
        line["correction"] = correction
    try:
        feedback.make_line({**line, "model_version": "import"})
    except feedback.FeedbackError as e:
        raise ConvertError(f"not_feedback ({e})") from None
    return line


# --- the import --------------------------------------------------------------------------------


@dataclass
class FileReport:
    """What happened to one input file."""

    path: str
    source: str
    read: int = 0
    imported: int = 0
    duplicate: int = 0
    formats: Counter[str] = field(default_factory=Counter)
    rejected: list[tuple[int, int | None, str]] = field(
        default_factory=list
    )  # (index, line, reason)


@dataclass
class ImportReport:
    """The whole import: per file, the files written and what DVC said."""

    files: list[FileReport] = field(default_factory=list)
    written: list[tuple[str, int]] = field(default_factory=list)  # (output file, records)
    dvc: str = ""  # what `dvc add` did (or why it did not run)
    dvc_failed: bool = False

    def totals(self) -> dict[str, int]:
        return {
            "read": sum(f.read for f in self.files),
            "imported": sum(f.imported for f in self.files),
            "duplicate": sum(f.duplicate for f in self.files),
            "rejected": sum(len(f.rejected) for f in self.files),
        }


def source_name(path: str | Path) -> str:
    """A file's default source name: its stem, with characters safe in file names."""
    return safe_name(Path(path).name.split(".")[0])


def safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._-")
    return cleaned[:64] or "import"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextlib.contextmanager
def locked_index(folder: Path) -> Iterator[tuple[int, set[str]]]:
    """The folder's import index, locked for this process: (fd to append to, known hashes)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / INDEX_FILE, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another import waits here until ours is written
        known: set[str] = set()
        with open(folder / INDEX_FILE, "rb") as f:
            for raw in f:
                with contextlib.suppress(orjson.JSONDecodeError):  # a torn last line is no hash
                    h = orjson.loads(raw).get("hash")
                    if isinstance(h, str):
                        known.add(h)
        yield fd, known
    finally:
        os.close(fd)  # releases the lock


def import_files(
    files: list[str | Path],
    folder: str | Path,
    *,
    fmt: str = "auto",
    target: str = "raw",
    source: str | None = None,
    persona: dict[str, str] | None = None,
    dvc_add: bool = True,
    max_line_bytes: int = 1_000_000,
) -> ImportReport:
    """Import `files` into `folder` (one new JSONL per source) and re-add the folder to DVC.

    Raises ImportFailed (before anything is written) when a file cannot be read as JSON/JSONL, or
    when the folder is missing while its `.dvc` pin holds files (a fresh clone: `dvc pull` first); a
    record that cannot be converted is only reported (FileReport.rejected); a failed `dvc add` is
    reported in `dvc` / `dvc_failed` (the files are written by then).
    """
    if fmt not in FORMATS:
        raise ValueError(f"format: expected one of {FORMATS}, got {fmt!r}")
    if target not in TARGETS:
        raise ValueError(f"target: expected raw or feedback, got {target!r}")
    folder = Path(folder)
    report = ImportReport()
    stamp = now_iso()
    batches: dict[str, list[tuple[str, dict, FileReport]]] = {}
    for path in files:
        rep = FileReport(str(path), safe_name(source) if source else source_name(path))
        report.files.append(rep)
        batch = batches.setdefault(rep.source, [])
        for item in read_items(path, max_line_bytes):
            rep.read += 1
            if item.error:
                rep.rejected.append((item.index, item.line, item.error))
                continue
            assert item.obj is not None
            try:
                conv = convert(item.obj, fmt, persona)
                fb_line = to_feedback(conv) if target == "feedback" else None
            except ConvertError as e:
                rep.rejected.append((item.index, item.line, str(e)))
                continue
            rep.formats[conv.format] += 1
            h = conv.content_hash()
            meta: dict[str, Any] = {"imported_from": str(path), "index": item.index}
            if item.line is not None:
                meta["line"] = item.line
            meta.update(
                {
                    "source": rep.source,
                    "format": conv.format,
                    "imported_at": stamp,
                    "content_hash": h,
                }
            )
            if item.obj.get("id") is not None:
                meta["orig_id"] = item.obj["id"]
            rid = f"import-{h.split(':', 1)[1][:16]}"
            if fb_line is not None:  # the same checks as `javis chat`/`serve` lines
                record = feedback.make_line(
                    {
                        "id": rid,
                        "created_at": stamp,
                        "model_version": f"import:{rep.source}",
                        **fb_line,
                        "meta": meta,
                    }
                )
            else:
                record = {"id": rid, **conv.body, "meta": meta}
            batch.append((h, record, rep))

    try:  # a fresh clone's folder is restored from its pin first: never `dvc add` an empty one over it
        workspace.ensure_data_dirs([str(folder)])
    except workspace.WorkspaceError as e:
        raise ImportFailed(f"{e} (then import again)") from None
    with locked_index(folder) as (fd, known):
        index_lines: list[bytes] = []
        for name, batch in batches.items():
            fresh: list[dict] = []
            for h, record, rep in batch:
                if h in known:
                    rep.duplicate += 1
                    continue
                known.add(h)
                rep.imported += 1
                fresh.append(record)
                index_lines.append(
                    fileio.dumps(
                        {"hash": h, "id": record["id"], "source": name, "imported_at": stamp}
                    )
                )
            if not fresh:
                continue
            out = (
                folder
                / f"{name}-{stamp.replace(':', '').replace('-', '')}-{secrets.token_hex(2)}.jsonl"
            )
            with fileio.atomic_open(out) as f:
                for record in fresh:
                    f.write(fileio.dumps(record))
            report.written.append((str(out), len(fresh)))
            size = os.fstat(fd).st_size
            torn = size and os.pread(fd, 1, size - 1) != b"\n"  # an import killed mid-write
            os.write(fd, (b"\n" if torn else b"") + b"".join(index_lines))
            index_lines.clear()
        os.fsync(fd)
    if not report.written:
        report.dvc = "nothing new: DVC left as it is"
    elif not dvc_add:
        report.dvc = f"not added to DVC (--no-dvc): run `dvc add {folder}` to pin it"
    else:
        try:
            report.dvc = readd_to_dvc(folder)
        except ImportFailed as e:
            report.dvc, report.dvc_failed = str(e), True
    return report


# --- DVC ---------------------------------------------------------------------------------------


def dvc_root(start: Path) -> Path | None:
    """The DVC repository holding `start`, or None."""
    for p in [start.resolve(), *start.resolve().parents]:
        if (p / ".dvc").is_dir():
            return p
    return None


def readd_to_dvc(folder: Path, timeout: float = 300.0) -> str:
    """`dvc add <folder>` (the folder as a whole), retried while another DVC command holds the lock."""
    root = dvc_root(folder)
    if root is None:
        return f"not a DVC repository: {folder} not added (run `dvc init`, then `dvc add {folder}`)"
    deadline = time.monotonic() + timeout
    wait = 0.2
    while True:
        result = subprocess.run(
            [sys.executable, "-m", "dvc", "add", str(folder)], capture_output=True, text=True
        )  # not -q: it hides the lock error we retry on
        if result.returncode == 0:
            return f"dvc add {folder}: done (commit {folder}.dvc to pin it)"
        text = result.stderr + result.stdout
        if any(s in text for s in DVC_LOCK_ERRORS) and time.monotonic() < deadline:
            log.info(
                "import: DVC is busy (another DVC command holds its lock); retrying in %.1f s", wait
            )
            time.sleep(wait)
            wait = min(wait * 1.5, 2.0)
            continue
        raise ImportFailed(
            f"`dvc add {folder}` failed ({text.strip().splitlines()[-1] if text.strip() else result.returncode}); "
            f"the imported files are written; run `dvc add {folder}` yourself once the problem is fixed"
        )


# --- the command -------------------------------------------------------------------------------


def main(
    p: Any,
    files: list[str],
    *,
    fmt: str = "auto",
    target: str = "raw",
    source: str | None = None,
    dvc_add: bool = True,
    out: Any = None,
) -> int:
    """`javis import`: import, then print what was detected, every reject and the totals.

    Exit status 0 when every file could be read (rejected records are reported, not fatal), 1 when a
    file could not be read or DVC failed.
    """
    write = out or (lambda s: print(s, flush=True))
    folder = p.paths.raw if target == "raw" else p.paths.feedback
    persona = {"name": p.persona.name, "author": p.persona.author}
    try:
        report = import_files(
            files,
            folder,
            fmt=fmt,
            target=target,
            source=source,
            persona=persona,
            dvc_add=dvc_add,
            max_line_bytes=p.collect.max_line_bytes,
        )
    except ImportFailed as e:
        write(f"javis import: {e}")
        return 1
    for rep in report.files:
        how = (
            ", ".join(f"{name} ({n})" for name, n in rep.formats.most_common())
            or "nothing convertible"
        )
        label = "detected" if fmt == "auto" else "read as"
        write(f"{rep.path}: {label} {how}; source {rep.source}")
        for index, line, reason in rep.rejected:
            where = f"line {line}" if line is not None else f"#{index}"
            write(f"  rejected {where}: {reason}")
        write(
            f"  read {rep.read}, imported {rep.imported}, duplicate {rep.duplicate}, rejected {len(rep.rejected)}"
        )
    for path, n in report.written:
        write(f"wrote {path} ({n} records)")
    t = report.totals()
    write(
        f"read {t['read']} / imported {t['imported']} / duplicate {t['duplicate']} / rejected {t['rejected']}"
    )
    write(report.dvc)
    return 1 if report.dvc_failed else 0
