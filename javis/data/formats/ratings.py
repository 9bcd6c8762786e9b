"""Ratings in chat apps' exports -> feedback lines (javis/data/feedback.py): ChatGPT's
`message_feedback.json` (thumbsUp/thumbsDown on a message id, tags and a note) and Open WebUI's
feedback export (`data.rating` 1/-1 on `meta.message_id`, the chat in `snapshot.chat`).

The line's `messages` are the conversation up to the rated answer (its branch), `response` the
answer; tags, notes, reasons and comments go to `meta`. A comment is not a correction unless it
starts with `correction:` (Open WebUI), which also makes the rating bad.
"""

from __future__ import annotations

from typing import Any

import orjson

from javis.data.formats.apps import chatgpt_nodes, openwebui_history, openwebui_nodes
from javis.data.formats.branches import BranchError, Node, walk
from javis.data.formats.messages import ConvertError
from javis.data.formats.units import Out, Unit, feedback_hash, iso


def chatgpt_ratings(data: bytes) -> dict[str, list[dict]]:
    """message_feedback.json: conversation id -> its ratings (an unreadable file: none)."""
    try:
        rows = orjson.loads(data)
    except orjson.JSONDecodeError:
        return {"": [{"id": "message_feedback.json", "error": "not valid JSON"}]}
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
            feedback_hash({**line, "at": iso(created)}),  # a rating changed back is new again
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
        unit,
        "openwebui",
        nodes,
        mid,
        rating,
        meta,
        obj.get("updated_at") or obj.get("created_at"),  # a changed rating keeps its created_at
        correction,
    )
