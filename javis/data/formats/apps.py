"""Each chat app's conversation -> a tree of `Node`s -> its walked branch -> a `Unit`.

ChatGPT (`mapping` trees), Claude (`chat_messages`), Open WebUI (`chat.history` trees), LibreChat
(`messagesTree`/`messages` with `parentMessageId`) and Chatbot UI (`history[].messages`). Which
messages are turns, and what becomes of other content, is in javis/data/formats/chatapps.py.
"""

from __future__ import annotations

from typing import Any

from javis.data.formats.branches import Node, linear, walk
from javis.data.formats.messages import ConvertError
from javis.data.formats.units import Unit, chat_unit, clean_text, empty_branch

CHATBOTUI_DEFAULT_PROMPT = (
    "You are ChatGPT, a large language model trained by OpenAI. Follow the user's instructions "
    "carefully. Respond using markdown."
)
LIBRECHAT_ROOT = "00000000-0000-0000-0000-000000000000"


def as_obj(value: Any) -> dict:
    """`value` when it is an object, else an empty one (an export's field of another type)."""
    return value if isinstance(value, dict) else {}


def chatgpt_node(nid: str, node: Any, order: int) -> Node:
    if not isinstance(node, dict):
        return Node(nid, None, None, None)
    parent = node.get("parent")
    msg = node.get("message")
    if not isinstance(msg, dict):
        return Node(nid, parent, None, None, order=order)
    role = as_obj(msg.get("author")).get("role")
    meta = as_obj(msg.get("metadata"))
    content = as_obj(msg.get("content"))
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
                image = str(part.get("content_type", "")).startswith("image")  # an image asset
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


def sillytavern_unit(index: int, ident: str, header: dict, lines: list[Any], pairs: bool) -> Unit:
    """A SillyTavern chat: `is_user`/`mes` per line (`is_system`: hidden from the prompt); an
    answer's other `swipes` are its siblings (regeneration pairs, the shown swipe chosen)."""
    nodes: dict[str, Node] = {}
    previous: str | None = None
    for i, m in enumerate(lines):
        if not isinstance(m, dict):
            raise ConvertError(f"bad_message (message line {i + 2} is not an object)")
        role = "user" if m.get("is_user") else "assistant"
        mes = m.get("mes")
        text = mes.strip() if isinstance(mes, str) else ""
        nid = str(i)
        extra = m.get("extra") if isinstance(m.get("extra"), dict) else {}
        node = Node(nid, previous, role, text or None, model=extra.get("model"))
        node.created, node.skip = m.get("send_date"), None if text else "empty"
        if m.get("is_system"):
            node.text, node.skip = None, "hidden"
        nodes[nid] = node
        swipes = m.get("swipes")
        if role == "assistant" and node.text and isinstance(swipes, list):
            for k, swipe in enumerate(swipes):
                if isinstance(swipe, str) and swipe.strip() and swipe.strip() != text:
                    sid = f"{i}~{k}"
                    nodes[sid] = Node(sid, previous, "assistant", swipe.strip(), order=k + 1)
        previous = nid
    if previous is None:
        raise ConvertError("no_answer (the chat file holds no message)")
    return chat_unit(
        "sillytavern",
        index,
        ident,
        walk(nodes, previous),
        title=header.get("character_name"),
        created=header.get("create_date"),
        updated=None,  # send_date is a display string ("May 1, 2024 12:00pm"): no order
        pairs=pairs,
    )
