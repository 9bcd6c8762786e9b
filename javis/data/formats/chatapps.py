"""Chat apps' own exports -> conversations (`Unit`s) of our records and feedback lines.

| format | the file | conversations | ratings |
|---|---|---|---|
| chatgpt | the data export `.zip`, or its `conversations.json` (array) | `mapping` trees, `current_node` | `message_feedback.json` in the zip |
| claude | Claude.ai's `conversations.json` (array) | `chat_messages` (sender human/assistant) | - |
| openwebui | Open WebUI's chat export (array) | `chat.history.messages` trees, `currentId` | - |
| openwebui-feedback | Open WebUI's feedback export (array) | - | `data.rating` 1/-1 on `meta.message_id`, the chat in `snapshot.chat` |
| librechat | LibreChat's export (one object) | `messagesTree` or `messages` (`parentMessageId`) | - |
| chatbotui | Chatbot UI's export (one object) | `history[].messages` (linear) | - |
| sillytavern | a SillyTavern chat file (JSONL: header line, then messages) | `is_user`/`mes`, `swipes` as siblings | - |

Arrays (and Chatbot UI's `history`) are streamed with ijson's C backend (javis/data/formats/
jsonstream.py): one conversation in memory at a time, never the whole file; a LibreChat file is one
conversation, a SillyTavern file one chat, each read whole. A tree becomes its active branch (javis/data/formats/branches.py): from the message the
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

import contextlib
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import ijson
import orjson

from javis.core import fileio
from javis.data.formats import jsonstream
from javis.data.formats.apps import (
    chatbotui_unit,
    chatgpt_unit,
    claude_unit,
    librechat_unit,
    openwebui_unit,
    sillytavern_unit,
)
from javis.data.formats.branches import BranchError
from javis.data.formats.messages import ConvertError
from javis.data.formats.ratings import chatgpt_rating, chatgpt_ratings, openwebui_rating
from javis.data.formats.units import Unit, answer_key, capture_key, rated_key

__all__ = ["Unit", "answer_key", "capture_key", "rated_key"]

APP_FORMATS = (
    *("chatgpt", "claude", "openwebui", "openwebui-feedback", "librechat", "chatbotui"),
    "sillytavern",
)
APP_NAMES = {
    "chatgpt": "ChatGPT",
    "claude": "Claude",
    "openwebui": "Open WebUI",
    "openwebui-feedback": "Open WebUI feedback",
    "librechat": "LibreChat",
    "chatbotui": "Chatbot UI",
    "sillytavern": "SillyTavern",
}


# What a field of an unexpected type raises deep in a conversation's conversion: that conversation
# is rejected with the reason, the export goes on (bad input never crashes the import).
MALFORMED = (TypeError, AttributeError, KeyError, IndexError, ValueError)


def malformed(e: Exception) -> str:
    return f"malformed (a field of an unexpected type: {type(e).__name__}: {e})"


class ExportError(ValueError):
    """A file of an app's format that holds no conversation to read (e.g. a zip without
    conversations.json); the message says what it holds."""


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
                first = next(jsonstream.values(f), None)
                return app_of_item(first)
            if sillytavern_header(f.readline(1_000_000)):
                return "sillytavern"
            f.seek(0)
            skip_bom(f)
            return app_of_object(jsonstream.top_keys(f, app_of_object))
    except (OSError, ijson.JSONError, ValueError):  # TooDeep is a ValueError
        return None


def sillytavern_header(line: bytes) -> bool:
    """A SillyTavern chat file's first line: `{user_name, character_name, create_date, ...}`."""
    try:
        obj = orjson.loads(line.lstrip(b"\xef\xbb\xbf"))
    except orjson.JSONDecodeError:
        return False
    return isinstance(obj, dict) and "user_name" in obj and "character_name" in obj


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
    if app == "sillytavern":
        return Export(app, sillytavern_units(path, pairs), position, size)
    if app == "chatbotui":
        return Export(app, chatbotui_units(f), position, size)
    if app == "librechat":
        try:
            obj = next(jsonstream.values(f, 0))
        except (ijson.JSONError, StopIteration, jsonstream.TooDeep) as e:
            raise ExportError(f"cannot be read as JSON ({e})") from None
        if not isinstance(obj, dict):
            raise ExportError(f"not a {APP_NAMES[app]} export (expected one JSON object)")
        return Export(app, object_units(app, obj, pairs), position, size)
    return Export(app, array_units(app, f, pairs, ratings), position, size)


def sillytavern_units(path: Path, pairs: bool) -> Iterator[Unit]:
    """A SillyTavern chat file (JSONL: a header line, then one line per message): one conversation."""
    lines = list(fileio.read_jsonl(path, max_bytes=100_000_000))
    ident = path.stem
    bad = next((x for x in lines if x.error), None)
    if not lines or bad is not None or not isinstance(lines[0].obj, dict):
        why = f"line {bad.line}: {bad.error}" if bad else "no header line"
        yield Unit(0, ident, "conversation", error=f"bad_chat_file ({why})")
        return
    header = lines[0].obj
    ident = f"{header.get('character_name')}:{header.get('create_date') or path.stem}"
    try:
        yield sillytavern_unit(0, ident, header, [x.obj for x in lines[1:]], pairs)
    except (ConvertError, BranchError) as e:
        yield Unit(0, ident, "conversation", error=str(e), key=f"sillytavern:{ident}")
    except MALFORMED as e:
        yield Unit(0, ident, "conversation", error=malformed(e), key=f"sillytavern:{ident}")


def member(names: list[str], base: str) -> str | None:
    found = [n for n in names if n.rsplit("/", 1)[-1] == base and "__MACOSX" not in n]
    return min(found, key=len) if found else None


def array_units(
    app: str, f: IO[bytes], pairs: bool, ratings: dict[str, list[dict]]
) -> Iterator[Unit]:
    index = -1
    try:
        for index, obj in enumerate(jsonstream.values(f)):
            yield from item_units(app, index, obj, pairs, ratings)
    except (ijson.JSONError, jsonstream.TooDeep) as e:
        yield broken(index, e)
    for convid, left in ratings.items():  # ratings of conversations the export does not hold
        for fb in left:
            yield Unit(
                -1,
                str(fb.get("id") or fb.get("message_id")),
                "rating",
                error=f"bad_feedback_file (message_feedback.json is {fb['error']}: no rating read)"
                if fb.get("error")
                else f"rating_without_answer (a rating of message {fb.get('message_id')!r} in "
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
        try:
            yield openwebui_rating(index, obj)
        except MALFORMED as e:
            yield Unit(index, str(obj.get("id") or f"#{index}"), "rating", error=malformed(e))
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
        yield rejected(app, index, ident, obj, str(e))
        ratings.pop(ident, None)
        return
    except MALFORMED as e:  # a field of a type the app never writes: this conversation only
        yield rejected(app, index, ident, obj, malformed(e))
        ratings.pop(ident, None)
        return
    yield unit
    if app == "chatgpt" and ident in ratings:
        for fb in ratings.pop(ident):
            try:
                yield chatgpt_rating(index, ident, obj, fb)
            except MALFORMED as e:
                yield Unit(index, str(fb.get("id")), "rating", error=malformed(e))


def rejected(app: str, index: int, ident: str, obj: Any, error: str) -> Unit:
    """A conversation that cannot be converted, with its messages counted as rejected."""
    unit = Unit(index, ident, "conversation", error=error, key=f"{app}:{ident}")
    with contextlib.suppress(*MALFORMED):
        held = {
            "chatgpt": lambda: [n for n in obj["mapping"].values() if n.get("message")],
            "claude": lambda: obj["chat_messages"],
            "openwebui": lambda: (obj.get("chat") or obj)["history"]["messages"],
            "librechat": lambda: obj.get("messages") or list(walk_tree(obj["messagesTree"])),
            "chatbotui": lambda: obj["messages"],
        }[app]()
        unit.messages = unit.turns = len(held)
    return unit


def walk_tree(nodes: Any) -> Iterator[Any]:
    stack = list(nodes) if isinstance(nodes, list) else []
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, dict) and isinstance(node.get("children"), list):
            stack.extend(node["children"])


def chatbotui_units(f: IO[bytes]) -> Iterator[Unit]:
    """Chatbot UI's `{version, history: [...], folders, prompts}`: `history` streamed."""
    index = -1
    try:
        for index, chat in enumerate(jsonstream.values(f, 2, under="history")):
            ident = str(chat.get("id") if isinstance(chat, dict) else f"#{index}")
            try:
                yield chatbotui_unit(index, ident, chat)
            except (ConvertError, BranchError) as e:
                yield rejected("chatbotui", index, ident, chat, str(e))
            except MALFORMED as e:
                yield rejected("chatbotui", index, ident, chat, malformed(e))
    except (ijson.JSONError, jsonstream.TooDeep) as e:
        yield broken(index, e)


def broken(index: int, e: Exception) -> Unit:
    """The unit that reports where a stream broke (after conversation `index`, -1: before any)."""
    raw = e.args[0] if e.args else ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    why = text.strip().splitlines()[0] if text.strip() else type(e).__name__
    where = f"after conversation #{index}" if index >= 0 else "before its first conversation"
    return Unit(
        index + 1,
        f"#{index + 1}",
        "conversation",
        error=f"invalid_json (the export breaks {where}: {why}; the conversations before it "
        "are read)",
    )


def object_units(app: str, obj: dict, pairs: bool) -> Iterator[Unit]:
    """A LibreChat export: one conversation."""
    ident = str(obj.get("conversationId") or "#0")
    try:
        yield librechat_unit(0, ident, obj, pairs)
    except (ConvertError, BranchError) as e:
        yield rejected(app, 0, ident, obj, str(e))
    except MALFORMED as e:
        yield rejected(app, 0, ident, obj, malformed(e))
