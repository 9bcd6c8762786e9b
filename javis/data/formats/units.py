"""What a chat app's export becomes: `Unit`s (one conversation or one rating each, all its records
or the reason for none), the SFT record and regeneration pairs of a walked conversation
(`chat_unit`), and the keys that recognise `javis serve`'s own captures and ratings.

See javis/data/formats/chatapps.py for the formats and the rules.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from javis.data.formats.branches import Branch
from javis.data.formats.conversion import convert
from javis.data.formats.messages import ConvertError

CITATION = re.compile(r"【\d+(?::\d+)?†[^】]{0,80}】|\ue200[^\ue201]{0,200}\ue201")
DETAILS = re.compile(r"<details\b[^>]*>.*?</details>\s*", re.DOTALL)


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


def empty_branch() -> Branch:
    return Branch([], [], [], [], Counter(), 0, 0)


# --- javis serve's own captures ------------------------------------------------------------------


def feedback_hash(line: dict) -> str:
    """The identity of a rating: what was rated, how, the correction, and when (`at`)."""
    canon = orjson.dumps(
        {
            "kind": "feedback",
            **{k: line.get(k) for k in ("messages", "response", "rating", "correction", "at")},
        },
        option=orjson.OPT_SORT_KEYS,
    )
    return "sha256:" + hashlib.sha256(canon).hexdigest()


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
