"""One input record in a known format -> one of our records (`Converted`), or a feedback line.

Formats: see javis/data/importers.py's docstring for what each looks like. `detect` names the
format of one record; `convert` turns it into our SFT, preference or KTO shape (`{{name}}` and
`{{author}}` filled from the persona) and checks it with javis/data/schema.py; `to_feedback`
turns a converted record into a feedback line (`javis import --as feedback`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import orjson

from javis.data import feedback, schema
from javis.data.formats.messages import (
    ConvertError,
    as_answer,
    as_label,
    as_prompt,
    implicit_prompt,
    need,
    norm_messages,
    norm_tools,
    sharegpt_messages,
    split_last_answer,
    with_system,
)
from javis.data.formats.tables import KNOWN_NAMES

FORMATS = ("auto", "chatml", "openai", "sharegpt", "alpaca", "dpo", "kto")
# What `javis import` reads, as its messages name it.
KNOWN_FORMATS = (
    "JSON/JSONL records in ChatML/OpenAI (messages), ShareGPT (conversations), Alpaca "
    "(instruction/output), DPO (prompt/chosen/rejected), KTO (prompt/completion/label); tables "
    "(CSV, TSV, Parquet, JSON rows) with --columns or the column names " + KNOWN_NAMES + "; chat "
    "apps' exports (ChatGPT, Claude, Open WebUI and its feedback, LibreChat, Chatbot UI)"
)
PLACEHOLDER = re.compile(r"\{\{\s*(name|author)\s*\}\}")


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
        prompt, completion = split_last_answer(messages, "messages")
        return "kto", {
            "prompt": prompt,
            "completion": completion,
            "label": as_label(obj["label"], "label"),
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
        chosen = sharegpt_messages([need(obj, "chosen")], "chosen", first_call=calls + 1)
        rejected = sharegpt_messages([need(obj, "rejected")], "rejected", first_call=calls + 1)
        return "preference", {
            "prompt": messages,
            "chosen": chosen,
            "rejected": rejected,
            "tools": tools,
        }
    if "kto_tag" in obj:
        prompt, completion = split_last_answer(messages, "conversations")
        return "kto", {
            "prompt": prompt,
            "completion": completion,
            "label": as_label(obj["kto_tag"], "kto_tag"),
            "tools": tools,
        }
    return "sft", {"messages": messages, "tools": tools}


def _from_alpaca(obj: dict) -> tuple[str, dict]:
    messages = alpaca_prompt(obj)
    if "chosen" in obj or "rejected" in obj:
        return "preference", {
            "prompt": messages,
            "chosen": as_answer(need(obj, "chosen"), "chosen"),
            "rejected": as_answer(need(obj, "rejected"), "rejected"),
        }
    output = obj.get("output")
    if "kto_tag" in obj:
        return "kto", {
            "prompt": messages,
            "completion": as_answer(output, "output"),
            "label": as_label(obj["kto_tag"], "kto_tag"),
        }
    return "sft", {"messages": [*messages, *as_answer(output, "output")]}


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
        chosen_raw, rejected_raw = need(obj, "chosen"), need(obj, "rejected")
        tools = norm_tools(obj.get("tools"))
        if "prompt" in obj:
            prompt = as_prompt(obj["prompt"], "prompt")
            chosen, rejected = as_answer(chosen_raw, "chosen"), as_answer(rejected_raw, "rejected")
        elif isinstance(chosen_raw, list) and isinstance(rejected_raw, list):
            prompt, chosen, rejected = implicit_prompt(chosen_raw, rejected_raw)
        else:
            raise ConvertError("no_prompt (string chosen/rejected need a prompt)")
        prompt = with_system(obj, prompt)
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
        prompt = with_system(obj, as_prompt(need(obj, "prompt"), "prompt"))
        body = {
            "prompt": prompt,
            "completion": as_answer(need(obj, "completion"), "completion"),
            "label": as_label(need(obj, "label"), "label"),
            "tools": norm_tools(obj.get("tools")),
        }
        kind = "kto"
    if kind != "kto":
        raise ConvertError("not_kto (needs a boolean label or kto_tag)")
    return kind, body


def to_feedback(conv: Converted) -> dict:
    """A converted record as a feedback line (docs/DESIGN.md) without id/created_at/model_version."""
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
