"""Chat apps' own exports -> conversations (`Unit`s) of our records and feedback lines.

| format | the file | conversations | ratings |
|---|---|---|---|
| chatgpt | the data export `.zip`, or its `conversations.json` (array) | `mapping` trees, `current_node` | `message_feedback.json` in the zip |
| claude | Claude.ai's `conversations.json` (array) | `chat_messages` (sender human/assistant) | - |
| openwebui | Open WebUI's chat export (array) | `chat.history.messages` trees, `currentId` | - |
| openwebui-feedback | Open WebUI's feedback export (array) | - | `data.rating` 1/-1 on `meta.message_id`, the chat in `snapshot.chat` |
| librechat | LibreChat's export (one object) | `messagesTree` or `messages` (`parentMessageId`) | - |
| chatbotui | Chatbot UI's export (one object) | `history[].messages` (linear) | - |

Arrays are streamed with ijson (its C backend): one conversation in memory at a time, never the
whole file. A tree becomes its active branch (javis/data/formats/branches.py): from the message the
app shows last up through the parents (LibreChat has no such pointer: its newest message). The
branch is one SFT record; each sibling answer the user did not continue from (a regeneration) is a
preference pair (`meta.source_kind: regeneration`: the answer continued from is chosen), kept only
with `import.regenerations_as_preferences`.

Content: text and code become the turn's text; ChatGPT images in a message become the placeholder
`[image]` (other attachments `[attachment]`); ChatGPT's citation marks (`【6†source】`) and Open
WebUI's `<details>` blocks (reasoning, tool executions) are removed, as the sources they point to
are not part of the conversation. Not turns (counted as skipped messages): hidden system
messages, empty messages, tool traffic (ChatGPT's browser and code-interpreter calls and results,
Claude's tool_use/tool_result blocks), reasoning (ChatGPT thoughts, Claude thinking). A message on
the active branch of any other content type rejects its conversation with the reason.

Ratings become feedback lines (javis/data/feedback.py): 👍/1 -> good, 👎/-1 -> bad, the
conversation up to the rated answer as `messages`; tags, notes, reasons and comments go to
`meta`. A comment is not a correction: an Open WebUI comment becomes the `correction` only when
it starts with `correction:` (what the answer should have said), which also makes the rating bad.

A conversation that cannot be converted is a Unit with its `error` (index, id and reason): nothing
of it is imported. Every record's `meta` holds the app, conversation id, message ids, models,
create/update time and, at a branch point, which path was taken.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import ijson
import orjson

from javis.data.formats.branches import Branch, BranchError, Node, linear, walk
from javis.data.formats.conversion import convert
from javis.data.formats.messages import ConvertError

APP_FORMATS = ("chatgpt", "claude", "openwebui", "openwebui-feedback", "librechat", "chatbotui")
APP_NAMES = {
    "chatgpt": "ChatGPT",
    "claude": "Claude",
    "openwebui": "Open WebUI",
    "openwebui-feedback": "Open WebUI feedback",
    "librechat": "LibreChat",
    "chatbotui": "Chatbot UI",
}
CITATION = re.compile(r"【\d+(?::\d+)?†[^】]{0,80}】|\ue200[^\ue201]{0,200}\ue201")
DETAILS = re.compile(r"<details\b[^>]*>.*?</details>\s*", re.DOTALL)
CHATBOTUI_DEFAULT_PROMPT = (
    "You are ChatGPT, a large language model trained by OpenAI. Follow the user's instructions "
    "carefully. Respond using markdown."
)
LIBRECHAT_ROOT = "00000000-0000-0000-0000-000000000000"


class ExportError(ValueError):
    """A file of an app's format that holds no conversation to read (e.g. a zip without
    conversations.json); the message says what it holds."""


@dataclass
class Out:
    """One record of a unit: an SFT/preference record for data/raw or a feedback line."""

    target: str  # raw | feedback
    hash: str
    body: dict  # raw: our record without id/meta; feedback: the line's fields without id
    meta: dict


@dataclass
class Unit:
    """One conversation (or one rating) of an export: all its records, or why none."""

    index: int
    ident: str
    kind: str  # conversation | rating
    outs: list[Out] = field(default_factory=list)
    error: str | None = None
    key: str | None = None  # app:conversation id (a conversation that grew replaces its records)
    updated: str = ""  # when the app last changed it (the newer export wins)
    messages: int = 0  # messages in the conversation (every branch)
    turns: int = 0  # messages on the imported branch
    skipped: Counter[str] = field(default_factory=Counter)
    pairs_found: int = 0  # regeneration pairs, kept or not
    answers: list[tuple[list[dict], str]] = field(default_factory=list)  # (prompt, answer) turns


@dataclass
class Export:
    app: str
    units: Iterator[Unit]
    position: Any  # () -> bytes read so far
    size: int


# --- detection ---------------------------------------------------------------------------------


def sniff(path: str | Path) -> str | None:
    """The app whose export this file is, or None (a dataset file, or unreadable)."""
    path = Path(path)
    try:
        if zipfile.is_zipfile(path):
            return "chatgpt"
        with open(path, "rb") as f:
            head = f.read(64).lstrip(b"\xef\xbb\xbf").lstrip()
            if head[:1] not in (b"[", b"{"):
                return None
            f.seek(0)
            skip_bom(f)
            if head.startswith(b"["):
                first = next(iter(ijson.items(f, "item", use_float=True)), None)
                return app_of_item(first)
            return app_of_object(top_keys(f))
    except (OSError, ijson.JSONError, ValueError):
        return None


def app_of_item(obj: object) -> str | None:
    if not isinstance(obj, dict):
        return None
    if "mapping" in obj and "current_node" in obj:
        return "chatgpt"
    if "chat_messages" in obj:
        return "claude"
    chat = obj.get("chat")
    if isinstance(chat, dict) and ("history" in chat or "messages" in chat):
        return "openwebui"
    data, meta = obj.get("data"), obj.get("meta")
    if isinstance(data, dict) and "rating" in data and isinstance(meta, dict):
        return "openwebui-feedback"
    if "messagesTree" in obj or ("conversationId" in obj and "messages" in obj):
        return "librechat"
    return None


def app_of_object(keys: set[str]) -> str | None:
    if "messagesTree" in keys or ("conversationId" in keys and "messages" in keys):
        return "librechat"
    if "history" in keys and ("folders" in keys or "version" in keys):
        return "chatbotui"
    return None


def top_keys(f: IO[bytes], limit: int = 200_000) -> set[str]:
    """The keys of a top-level JSON object (scanning at most `limit` parser events)."""
    keys: set[str] = set()
    for n, (prefix, event, value) in enumerate(ijson.parse(f)):
        if prefix == "" and event == "map_key":
            keys.add(value)
            if app_of_object(keys):
                break
        if n >= limit:
            break
    return keys


def skip_bom(f: IO[bytes]) -> None:
    if f.read(3) != b"\xef\xbb\xbf":
        f.seek(0)


# --- reading -----------------------------------------------------------------------------------


def open_export(path: str | Path, app: str, stack: ExitStack, *, pairs: bool) -> Export:
    """The export's units, streamed (the open files are closed by `stack`). Raises ExportError."""
    path = Path(path)
    ratings: dict[str, list[dict]] = {}
    if zipfile.is_zipfile(path):
        if app != "chatgpt":
            raise ExportError(f"a zip file; only ChatGPT's data export is read as a zip, not {app}")
        zf = stack.enter_context(zipfile.ZipFile(path))
        names = zf.namelist()
        conv = member(names, "conversations.json")
        if conv is None:
            shown = ", ".join(names[:8]) + (" ..." if len(names) > 8 else "")
            raise ExportError(
                f"a zip without conversations.json (it holds: {shown or 'nothing'}); ChatGPT's "
                "data export zip (Settings > Data controls > Export data) has it at its top"
            )
        fb = member(names, "message_feedback.json")
        if fb is not None:
            ratings = chatgpt_ratings(zf.read(fb))
        f: IO[bytes] = stack.enter_context(zf.open(conv))
        size = zf.getinfo(conv).file_size
        raw = f
    else:
        raw = stack.enter_context(open(path, "rb"))
        skip_bom(raw)
        size = path.stat().st_size
        f = raw
    position = raw.tell
    if app in ("librechat", "chatbotui"):
        try:
            obj = next(iter(ijson.items(f, "", use_float=True)))
        except (ijson.JSONError, StopIteration) as e:
            raise ExportError(f"not valid JSON ({e})") from None
        if not isinstance(obj, dict):
            raise ExportError(f"not a {APP_NAMES[app]} export (expected one JSON object)")
        return Export(app, object_units(app, obj, pairs), position, size)
    return Export(app, array_units(app, f, pairs, ratings), position, size)


def member(names: list[str], base: str) -> str | None:
    found = [n for n in names if n.rsplit("/", 1)[-1] == base and "__MACOSX" not in n]
    return min(found, key=len) if found else None


def array_units(
    app: str, f: IO[bytes], pairs: bool, ratings: dict[str, list[dict]]
) -> Iterator[Unit]:
    index = -1
    try:
        for index, obj in enumerate(ijson.items(f, "item", use_float=True)):
            yield from item_units(app, index, obj, pairs, ratings)
    except ijson.JSONError as e:
        yield Unit(
            index + 1,
            f"after #{index}",
            "conversation",
            error=f"invalid_json (the export breaks after conversation #{index}: {e}; the "
            "conversations before it are read)",
        )
    for convid, left in ratings.items():  # ratings of conversations the export does not hold
        for fb in left:
            yield Unit(
                -1,
                str(fb.get("id") or fb.get("message_id")),
                "rating",
                error=f"rating_without_answer (a rating of message {fb.get('message_id')!r} in "
                f"conversation {convid!r}, which conversations.json does not hold)",
            )


def item_units(
    app: str, index: int, obj: Any, pairs: bool, ratings: dict[str, list[dict]]
) -> Iterator[Unit]:
    if not isinstance(obj, dict):
        yield Unit(
            index, f"#{index}", "conversation", error=f"not_object (a JSON {type(obj).__name__})"
        )
        return
    if app == "openwebui-feedback":
        yield openwebui_rating(index, obj)
        return
    ident = str(obj.get("conversation_id") or obj.get("id") or obj.get("uuid") or f"#{index}")
    try:
        if app == "chatgpt":
            unit = chatgpt_unit(index, ident, obj, pairs)
        elif app == "claude":
            unit = claude_unit(index, ident, obj)
        elif app == "openwebui":
            unit = openwebui_unit(index, ident, obj, pairs)
        else:
            raise ConvertError(f"unknown_format ({app} exports are one object, not an array)")
    except (ConvertError, BranchError) as e:
        yield Unit(index, ident, "conversation", error=str(e), key=f"{app}:{ident}")
        ratings.pop(ident, None)
        return
    yield unit
    if app == "chatgpt" and ident in ratings:
        for fb in ratings.pop(ident):
            yield chatgpt_rating(index, ident, obj, fb)


def object_units(app: str, obj: dict, pairs: bool) -> Iterator[Unit]:
    if app == "librechat":
        ident = str(obj.get("conversationId") or "#0")
        try:
            yield librechat_unit(0, ident, obj, pairs)
        except (ConvertError, BranchError) as e:
            yield Unit(0, ident, "conversation", error=str(e), key=f"librechat:{ident}")
        return
    history = obj.get("history")
    if not isinstance(history, list):
        yield Unit(0, "history", "conversation", error="bad_export (history is not a list)")
        return
    for index, chat in enumerate(history):
        ident = str(chat.get("id") if isinstance(chat, dict) else f"#{index}")
        try:
            yield chatbotui_unit(index, ident, chat)
        except (ConvertError, BranchError) as e:
            yield Unit(index, ident, "conversation", error=str(e), key=f"chatbotui:{ident}")


# --- conversations -----------------------------------------------------------------------------


def iso(value: Any) -> str:
    """An app's time (epoch seconds or milliseconds, or an ISO string) as ISO 8601 UTC with Z."""
    if isinstance(value, bool) or value is None or value == "":
        return ""
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        except (OverflowError, OSError, ValueError):
            return ""
    return str(value)


def chat_unit(
    app: str,
    index: int,
    ident: str,
    branch: Branch,
    *,
    title: Any,
    created: Any,
    updated: Any,
    pairs: bool,
) -> Unit:
    """A walked conversation -> its SFT record and regeneration pairs. Raises ConvertError."""
    messages = [{"role": t.role, "content": t.content} for t in branch.turns]
    if not any(m["role"] == "assistant" for m in messages):
        raise ConvertError(
            f"no_answer (no assistant turn among {branch.messages} message(s): nothing to learn)"
        )
    conv = convert({"messages": messages}, "chatml")
    models = sorted({m for t in branch.turns for m in t.models})
    meta: dict[str, Any] = {
        "app": app,
        "conversation_id": ident,
        "message_ids": [t.ids if len(t.ids) > 1 else t.ids[0] for t in branch.turns],
        "models": models,
        "created_at": iso(created),
        "updated_at": iso(updated),
    }
    if isinstance(title, str) and title:
        meta["title"] = title
    if branch.points:
        meta["branch"] = branch.points
    if branch.skipped:
        meta["skipped"] = dict(branch.skipped)
    unit = Unit(
        index,
        ident,
        "conversation",
        key=f"{app}:{ident}",
        updated=iso(updated) or iso(created),
        messages=branch.messages,
        turns=sum(len(t.ids) for t in branch.turns),
        skipped=Counter(branch.skipped),
    )
    if branch.other_branches:
        unit.skipped["other_branch"] += branch.other_branches
    unit.outs.append(Out("raw", conv.content_hash(), conv.body, {**meta, "kind": "sft"}))
    for alt in branch.alternatives:
        unit.pairs_found += 1
        if not pairs:
            continue
        pair = convert(
            {
                "prompt": messages[: alt.at],
                "chosen": [{"role": "assistant", "content": alt.chosen}],
                "rejected": [{"role": "assistant", "content": clean_text(app, alt.rejected)}],
            },
            "dpo",
        )
        pmeta = {
            **meta,
            "kind": "preference",
            "source_kind": "regeneration",
            "chosen_id": alt.chosen_id,
            "rejected_id": alt.rejected_id,
            "rejected_model": alt.model,
        }
        unit.outs.append(Out("raw", pair.content_hash(), pair.body, pmeta))
    unit.answers = [
        (messages[:i], m["content"]) for i, m in enumerate(messages) if m["role"] == "assistant"
    ]
    return unit


def clean_text(app: str, text: str) -> str:
    if app == "chatgpt":
        return CITATION.sub("", text).strip()
    if app == "openwebui":
        return DETAILS.sub("", text).strip()
    return text.strip()


def chatgpt_node(nid: str, node: Any, order: int) -> Node:
    if not isinstance(node, dict):
        return Node(nid, None, None, None)
    parent = node.get("parent")
    msg = node.get("message")
    if not isinstance(msg, dict):
        return Node(nid, parent, None, None, order=order)
    role = (msg.get("author") or {}).get("role")
    meta = msg.get("metadata") or {}
    content = msg.get("content") or {}
    ctype = content.get("content_type")
    n = Node(nid, parent, role, None, model=meta.get("model_slug"), created=msg.get("create_time"))
    n.order = order
    if meta.get("is_visually_hidden_from_conversation"):
        n.skip = "hidden"
    elif role == "tool" or (role == "assistant" and msg.get("recipient") not in (None, "all")):
        n.skip = "tool"
    elif ctype in ("thoughts", "reasoning_recap"):
        n.skip = "reasoning"
    elif ctype in ("user_editable_context", "model_editable_context"):
        n.skip = "context"
    elif role not in ("user", "assistant", "system"):
        n.error = f"bad_role (message {nid} has the author role {role!r})"
    elif ctype in ("text", "code", "multimodal_text"):
        parts = content.get("parts")
        if parts is None and isinstance(content.get("text"), str):
            parts = [content["text"]]
        texts = []
        for part in parts if isinstance(parts, list) else []:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict):
                image = str(part.get("content_type", "")).startswith("image")
                texts.append("[image]" if image else "[attachment]")
        text = clean_text("chatgpt", "\n".join(t for t in texts if t.strip()))
        if text:
            n.text = text
        else:
            n.skip = "empty"
    else:
        n.error = (
            f"unsupported_content (message {nid} is {ctype!r} content; javis reads text, code "
            "and multimodal_text)"
        )
    return n


def chatgpt_nodes(obj: dict) -> dict[str, Node]:
    mapping = obj.get("mapping")
    if not isinstance(mapping, dict) or not mapping:
        raise ConvertError("bad_export (the conversation has no 'mapping' of messages)")
    orders: dict[str, int] = {}
    for node in mapping.values():
        if isinstance(node, dict) and isinstance(node.get("children"), list):
            for i, child in enumerate(node["children"]):
                orders.setdefault(str(child), i)
    return {
        str(nid): chatgpt_node(str(nid), node, orders.get(str(nid), 0))
        for nid, node in mapping.items()
    }


def chatgpt_unit(index: int, ident: str, obj: dict, pairs: bool) -> Unit:
    branch = walk(chatgpt_nodes(obj), obj.get("current_node"))
    return chat_unit(
        "chatgpt",
        index,
        ident,
        branch,
        title=obj.get("title"),
        created=obj.get("create_time"),
        updated=obj.get("update_time"),
        pairs=pairs,
    )


def claude_unit(index: int, ident: str, obj: dict) -> Unit:
    msgs = obj.get("chat_messages")
    if not isinstance(msgs, list):
        raise ConvertError("bad_export (chat_messages is not a list)")
    nodes: list[Node] = []
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            raise ConvertError(f"bad_message (chat_messages[{i}] is not an object)")
        sender = m.get("sender")
        role = {"human": "user", "assistant": "assistant"}.get(sender)
        nid = (
            f"{m.get('uuid') or i}#{i}"
            if any(n.id == m.get("uuid") for n in nodes)
            else str(m.get("uuid") or i)
        )
        if role is None:
            raise ConvertError(f"bad_role (message {nid} has the sender {sender!r})")
        text = m.get("text") if isinstance(m.get("text"), str) else ""
        blocks = m.get("content") if isinstance(m.get("content"), list) else []
        if not text.strip() and blocks:
            text = "\n".join(
                b["text"]
                for b in blocks
                if isinstance(b, dict)
                and b.get("type") == "text"
                and isinstance(b.get("text"), str)
            )
        node = Node(nid, None, role, text.strip() or None, created=m.get("created_at"))
        if node.text is None:
            kinds = {b.get("type") for b in blocks if isinstance(b, dict)}
            node.skip = (
                "tool"
                if kinds & {"tool_use", "tool_result"}
                else ("reasoning" if "thinking" in kinds else "empty")
            )
        nodes.append(node)
    tree, last = linear(nodes)
    branch = walk(tree, last) if tree else empty_branch()
    return chat_unit(
        "claude",
        index,
        ident,
        branch,
        title=obj.get("name"),
        created=obj.get("created_at"),
        updated=obj.get("updated_at"),
        pairs=False,
    )


def empty_branch() -> Branch:
    return Branch([], [], [], [], Counter(), 0, 0)


def openwebui_nodes(history: dict) -> dict[str, Node]:
    msgs = history.get("messages")
    if not isinstance(msgs, dict):
        raise ConvertError("bad_export (chat.history.messages is not an object keyed by id)")
    orders: dict[str, int] = {}
    for m in msgs.values():
        if isinstance(m, dict) and isinstance(m.get("childrenIds"), list):
            for i, child in enumerate(m["childrenIds"]):
                orders.setdefault(str(child), i)
    nodes = {}
    for nid, m in msgs.items():
        nid = str(nid)
        if not isinstance(m, dict):
            raise ConvertError(f"bad_message (message {nid} is not an object)")
        role = m.get("role")
        content = m.get("content")
        if role not in ("user", "assistant", "system"):
            nodes[nid] = Node(nid, m.get("parentId"), role or "?", None)
            nodes[nid].error = f"bad_role (message {nid} has the role {role!r})"
            continue
        text = clean_text("openwebui", content) if isinstance(content, str) else ""
        node = Node(nid, m.get("parentId"), role, text or None, model=m.get("model"))
        node.created, node.order = m.get("timestamp"), orders.get(nid, 0)
        if node.text is None:
            node.skip = "empty"
        nodes[nid] = node
    return nodes


def openwebui_history(obj: dict) -> dict:
    chat = obj.get("chat") if isinstance(obj.get("chat"), dict) else obj
    history = chat.get("history")
    if isinstance(history, dict):
        return history
    msgs = chat.get("messages")
    if isinstance(msgs, list):  # an old export: a flat list
        as_tree: dict[str, Any] = {}
        previous = None
        for i, m in enumerate(msgs):
            if isinstance(m, dict):
                mid = str(m.get("id") or i)
                as_tree[mid] = {**m, "id": mid, "parentId": previous}
                previous = mid
        return {"messages": as_tree, "currentId": previous}
    raise ConvertError("bad_export (the chat has neither history nor messages)")


def openwebui_unit(index: int, ident: str, obj: dict, pairs: bool) -> Unit:
    history = openwebui_history(obj)
    branch = walk(openwebui_nodes(history), history.get("currentId"))
    chat = obj.get("chat") if isinstance(obj.get("chat"), dict) else {}
    return chat_unit(
        "openwebui",
        index,
        ident,
        branch,
        title=obj.get("title") or chat.get("title"),
        created=obj.get("created_at"),
        updated=obj.get("updated_at"),
        pairs=pairs,
    )


def librechat_messages(obj: dict) -> list[dict]:
    tree = obj.get("messagesTree")
    if isinstance(tree, list):
        out: list[dict] = []
        stack = list(reversed(tree))
        while stack:
            m = stack.pop()
            if isinstance(m, dict):
                out.append(m)
                stack.extend(reversed(m.get("children") or []))
        return out
    msgs = obj.get("messages")
    if isinstance(msgs, list):
        return [m for m in msgs if isinstance(m, dict)]
    raise ConvertError("bad_export (neither messagesTree nor messages is a list)")


def librechat_text(m: dict) -> str:
    text = m.get("text")
    if isinstance(text, str) and text.strip():
        return text.strip()
    parts = m.get("content") if isinstance(m.get("content"), list) else []
    return "\n".join(
        p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)
    ).strip()


def librechat_unit(index: int, ident: str, obj: dict, pairs: bool) -> Unit:
    nodes: dict[str, Node] = {}
    for i, m in enumerate(librechat_messages(obj)):
        nid = str(m.get("messageId") or f"#{i}")
        parent = m.get("parentMessageId")
        parent = None if parent in (None, "", LIBRECHAT_ROOT) else str(parent)
        role = "user" if m.get("isCreatedByUser") else "assistant"
        text = librechat_text(m)
        model = m.get("model") or (None if role == "user" else m.get("sender"))
        node = Node(nid, parent, role, text or None, model=model or None)
        node.created, node.order = m.get("createdAt"), i
        node.skip = None if text else "empty"
        nodes[nid] = node
    if not nodes:
        raise ConvertError("no_answer (the conversation holds no messages)")
    parents = {n.parent for n in nodes.values()}
    leaves = [n for n in nodes.values() if n.id not in parents]
    newest = max(leaves or nodes.values(), key=lambda n: (str(n.created or ""), n.order))
    return chat_unit(
        "librechat",
        index,
        ident,
        walk(nodes, newest.id),
        title=obj.get("title"),
        created=obj.get("createdAt") or min(str(n.created or "") for n in nodes.values()),
        updated=obj.get("updatedAt") or str(newest.created or ""),
        pairs=pairs,
    )


def chatbotui_unit(index: int, ident: str, chat: Any) -> Unit:
    if not isinstance(chat, dict) or not isinstance(chat.get("messages"), list):
        raise ConvertError("bad_export (a history entry without a messages list)")
    nodes: list[Node] = []
    prompt = chat.get("prompt")
    if isinstance(prompt, str) and prompt.strip() and prompt.strip() != CHATBOTUI_DEFAULT_PROMPT:
        nodes.append(Node("prompt", None, "system", prompt.strip()))
    for i, m in enumerate(chat["messages"]):
        role = m.get("role") if isinstance(m, dict) else None
        if role not in ("user", "assistant"):
            raise ConvertError(f"bad_role (message {i} has the role {role!r})")
        content = m.get("content")
        text = content.strip() if isinstance(content, str) else ""
        nodes.append(Node(str(i), None, role, text or None, skip=None if text else "empty"))
    model = chat.get("model")
    for n in nodes:
        if n.role == "assistant" and isinstance(model, dict):
            n.model = model.get("id")
    tree, last = linear(nodes)
    return chat_unit(
        "chatbotui",
        index,
        ident,
        walk(tree, last) if tree else empty_branch(),
        title=chat.get("name"),
        created=None,
        updated=None,
        pairs=False,
    )


# --- ratings -----------------------------------------------------------------------------------


def chatgpt_ratings(data: bytes) -> dict[str, list[dict]]:
    """message_feedback.json: conversation id -> its ratings (an unreadable file: none)."""
    try:
        rows = orjson.loads(data)
    except orjson.JSONDecodeError:
        return {"": [{"id": "message_feedback.json", "message_id": None}]}
    out: dict[str, list[dict]] = {}
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict):
            out.setdefault(str(row.get("conversation_id") or ""), []).append(row)
    return out


def rating_line(
    unit: Unit,
    app: str,
    history: dict[str, Node],
    message_id: str,
    rating: str,
    meta: dict,
    created: Any,
    correction: str | None = None,
) -> Unit:
    """A rating of message `message_id` in `history` as a feedback line (the unit's one out)."""
    node = history[message_id]
    if node.role != "assistant" or not node.text:
        unit.error = f"not_an_answer (the rated message {message_id} is not an assistant answer)"
        return unit
    try:
        branch = walk(history, message_id)
    except BranchError as e:
        unit.error = str(e)
        return unit
    # the last turn is the rated answer (merged with the messages of its turn before it, if any)
    prompt = [{"role": t.role, "content": t.content} for t in branch.turns[:-1]]
    line: dict[str, Any] = {"messages": prompt, "response": node.text, "rating": rating}
    if correction:
        line["correction"] = correction
    unit.outs.append(
        Out(
            "feedback",
            feedback_hash(line),
            {
                **line,
                "created_at": iso(created) or "",
                "model_version": f"{app}:{node.model or 'unknown'}",
            },
            {"app": app, "message_id": message_id, **meta},
        )
    )
    unit.key = f"{app}:rating:{message_id}"
    unit.updated = iso(created)
    unit.answers = [(prompt, node.text)]
    return unit


def feedback_hash(line: dict) -> str:
    canon = orjson.dumps(
        {
            "kind": "feedback",
            **{k: line.get(k) for k in ("messages", "response", "rating", "correction")},
        },
        option=orjson.OPT_SORT_KEYS,
    )
    return "sha256:" + hashlib.sha256(canon).hexdigest()


def chatgpt_rating(index: int, ident: str, conv: dict, fb: dict) -> Unit:
    mid = str(fb.get("message_id") or "")
    unit = Unit(index, str(fb.get("id") or mid), "rating")
    raw = str(fb.get("rating") or "").lower().replace("_", "").replace("-", "")
    rating = {"thumbsup": "good", "thumbsdown": "bad", "up": "good", "down": "bad"}.get(raw)
    if rating is None:
        unit.error = f"bad_rating (rating {fb.get('rating')!r}; expected thumbsUp or thumbsDown)"
        return unit
    content = fb.get("content")
    if isinstance(content, str):
        try:
            content = orjson.loads(content) if content.strip() else {}
        except orjson.JSONDecodeError:
            content = {"text": content}
    meta: dict[str, Any] = {"conversation_id": ident, "rating_id": fb.get("id")}
    if isinstance(content, dict):
        if content.get("tags"):
            meta["tags"] = content["tags"]
        if content.get("text"):
            meta["note"] = content["text"]
    try:
        nodes = chatgpt_nodes(conv)
    except ConvertError as e:
        unit.error = str(e)
        return unit
    if mid not in nodes:
        unit.error = f"rating_without_answer (message {mid!r} is not in conversation {ident})"
        return unit
    return rating_line(unit, "chatgpt", nodes, mid, rating, meta, fb.get("create_time"))


def openwebui_rating(index: int, obj: dict) -> Unit:
    data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
    meta_in = obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
    mid, chat_id = str(meta_in.get("message_id") or ""), str(meta_in.get("chat_id") or "")
    unit = Unit(index, str(obj.get("id") or mid or f"#{index}"), "rating")
    rating = {1: "good", -1: "bad"}.get(data.get("rating"))  # type: ignore[arg-type]
    if rating is None:
        unit.error = f"bad_rating (data.rating {data.get('rating')!r}; expected 1 or -1)"
        return unit
    snapshot = obj.get("snapshot") if isinstance(obj.get("snapshot"), dict) else {}
    chat = snapshot.get("chat")
    if not isinstance(chat, dict):
        unit.error = (
            "no_snapshot (the rating holds no snapshot.chat: the rated conversation is unknown)"
        )
        return unit
    try:
        nodes = openwebui_nodes(openwebui_history(chat))
    except ConvertError as e:
        unit.error = str(e)
        return unit
    if mid not in nodes:
        unit.error = (
            f"rating_without_answer (message {mid!r} is not in the snapshot of chat {chat_id})"
        )
        return unit
    meta: dict[str, Any] = {"conversation_id": chat_id, "rating_id": obj.get("id")}
    for key in ("reason", "comment", "tags", "model_id"):
        if data.get(key):
            meta[key] = data[key]
    correction = None
    comment = data.get("comment")
    if isinstance(comment, str) and comment.lower().startswith("correction:"):
        correction = comment.split(":", 1)[1].strip() or None
        if correction:
            rating = "bad"
    return rating_line(
        unit, "openwebui", nodes, mid, rating, meta, obj.get("created_at"), correction
    )


# --- javis serve's own captures ------------------------------------------------------------------


def answer_key(prompt: list[dict], answer: str) -> str:
    """One answered turn, system messages left out: how a served capture is recognised."""
    turns = [
        [m.get("role"), str(m.get("content") or "").strip()]
        for m in prompt
        if m.get("role") != "system"
    ]
    return hashlib.sha256(orjson.dumps([turns, answer.strip()])).hexdigest()


def capture_key(obj: dict) -> str | None:
    """A `javis serve` capture line ({messages, answer, version, completion_id, time}) -> its key."""
    msgs, answer = obj.get("messages"), obj.get("answer")
    if isinstance(msgs, list) and isinstance(answer, str) and "completion_id" in obj:
        return answer_key([m for m in msgs if isinstance(m, dict)], answer)
    return None


def rated_key(obj: dict) -> str | None:
    """A feedback line -> the key of its (conversation, answer, rating)."""
    msgs, answer = obj.get("messages"), obj.get("response")
    if isinstance(msgs, list) and isinstance(answer, str) and obj.get("rating") in ("good", "bad"):
        return answer_key([m for m in msgs if isinstance(m, dict)], answer) + obj["rating"]
    return None
