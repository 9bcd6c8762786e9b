"""Write the bundled sample data under examples/ from the hand-written tables in examples/gen/.

    python examples/make_examples.py          # rewrites examples/raw, examples/feedback, README.md

The persona conversations are not written here: collect's `persona` source makes them from
params.yaml's `persona:` (javis/data/persona.py), with the samples as with the user's own data.

Deterministic: the same tables always give byte-identical files. Check them with
`python examples/check_examples.py`.
"""

from __future__ import annotations

import json
import random
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gen.broken import broken_lines  # noqa: E402
from gen.dsl import SYSTEM_PROMPT, build  # noqa: E402
from gen.everyday_en import EVERYDAY_EN  # noqa: E402
from gen.everyday_ko import EVERYDAY_KO  # noqa: E402
from gen.feedback import BAD, BRIEF_BAD, BRIEF_CORRECTED, BRIEF_GOOD, CORRECTED, GOOD, IN_CHAT_LOGS  # noqa: E402
from gen.logs import CHAT_LOGS  # noqa: E402
from gen.persona import conversations as persona_conversations  # noqa: E402
from gen.tools_convs import TOOL_CONVS  # noqa: E402

# Planted near duplicates: (original key, message index, old text, new text), applied in order.
NEAR_DUPS = {
    "en_sleep_schedule": [(0, "before 2am", "before 3am")],
    "en_email_late_delivery": [(1, "how frustrating that is", "how annoying that is")],
    "ko_kimchi_stew": [
        (2, "돼지고기 대신 참치로", "고기 대신 참치로"),
        (1, "중불에서 15분", "중불에서 20분"),
    ],
}
# Planted exact duplicates: the same conversation again under another id.
EXACT_DUPS = ["ko_gyeoljae", "en_remind_mom"]


HANGUL = re.compile(r"[\uac00-\ud7a3]")


def first_user(record: dict) -> str:
    return next(m["content"] for m in record["messages"] if m["role"] == "user")


def write_jsonl(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def dump(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False)


def with_id(rid: str, rec: dict) -> dict:
    return {"id": rid, **rec}


def chat(strings: list[str], system: bool = False) -> list[dict]:
    """Alternating user/assistant strings as messages (optionally after the system prompt)."""
    msgs = [{"role": "system", "content": SYSTEM_PROMPT}] if system else []
    for i, text in enumerate(strings):
        msgs.append({"role": "user" if i % 2 == 0 else "assistant", "content": text})
    return msgs


def make_conversations() -> tuple[list[dict], dict]:
    convs: list[tuple[str, dict]] = []
    for key, items in EVERYDAY_EN.items():
        convs.append((key, build(items)))
    for key, items in EVERYDAY_KO.items():
        convs.append((key, build(items)))
    for key, items, declare in TOOL_CONVS:
        convs.append((key, build(items, declare=declare)))
    keys = [k for k, _ in convs]
    assert len(set(keys)) == len(keys), "duplicate conversation keys"
    random.Random(2026).shuffle(convs)

    by_key = dict(convs)
    planted: list[tuple[str, str, dict]] = []  # (kind, original key, record)
    for key, edits in NEAR_DUPS.items():
        rec = json.loads(json.dumps(by_key[key]))
        for idx, old, new in edits:
            msg = rec["messages"][idx]
            assert msg["content"].count(old) == 1, (key, old)
            msg["content"] = msg["content"].replace(old, new)
        planted.append(("near", key, rec))
    for key in EXACT_DUPS:
        planted.append(("exact", key, json.loads(json.dumps(by_key[key]))))

    # Spread the planted copies through the file, well away from their originals.
    order: list[tuple[str, str, dict]] = [("orig", k, r) for k, r in convs]
    for kind, key, rec in planted:
        pos = next(i for i, (kd, k, _) in enumerate(order) if k == key and kd == "orig")
        order.insert((pos + 41) % (len(order) + 1), (kind, key, rec))

    records, ids_of = [], {}
    for n, (kind, key, rec) in enumerate(order, 1):
        rid = f"conv-{n:03d}"
        records.append(with_id(rid, rec))
        ids_of.setdefault(key, {})[kind] = rid
    info = {
        "near": [(ids_of[k]["orig"], ids_of[k]["near"]) for k in NEAR_DUPS],
        "exact": [(ids_of[k]["orig"], ids_of[k]["exact"]) for k in EXACT_DUPS],
        "tool_users": sum(1 for r in records if any(m.get("tool_calls") for m in r["messages"])),
    }
    return records, info


def make_feedback() -> tuple[list[dict], dict]:
    items = GOOD + BAD + CORRECTED
    rng = random.Random(11)
    rng.shuffle(items)
    t = datetime(2026, 10, 19, 8, 40, tzinfo=UTC)
    lines, fb_ids = [], {}
    for n, f in enumerate(items, 1):
        t += timedelta(minutes=rng.randrange(150, 900))
        rid = f"fb-{n:04d}"
        fb_ids[f.key] = rid
        line = {
            "id": rid,
            "created_at": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "model_version": "base" if n <= 22 else "javis-v0.1",
            "messages": chat(f.messages, f.system),
            "response": f.response,
            "rating": f.rating,
        }
        if f.score is not None:
            line["score"] = f.score
        if f.correction is not None:
            line["correction"] = f.correction
        lines.append(line)
    return lines, fb_ids


def make_chat_logs(feedback: list[dict], fb_ids: dict) -> tuple[list[dict], list[tuple[str, str]]]:
    by_id = {f["id"]: f for f in feedback}
    logs, links = [], []
    for n, (fb_key, items) in enumerate(CHAT_LOGS, 1):
        rid = f"log-{n:03d}"
        rec = with_id(rid, build(items))
        if fb_key:
            f = by_id[fb_ids[fb_key]]
            prompt = [m for m in f["messages"] if m["role"] != "system"]
            k = len(prompt)
            assert rec["messages"][:k] == prompt, fb_key
            assert rec["messages"][k] == {"role": "assistant", "content": f["response"]}, fb_key
            assert f["rating"] == "bad"
            links.append((f["id"], rid))
        logs.append(rec)
    assert [fb for fb, _ in links] == [fb_ids[k] for k in IN_CHAT_LOGS]
    return logs, links


def readme(counts: dict, conv_info: dict, links: list, broken: list, fb_kinds: dict) -> str:
    near = "\n".join(f"  - `{a}` ≈ `{b}`" for a, b in conv_info["near"])
    exact = "\n".join(f"  - `{a}` = `{b}`" for a, b in conv_info["exact"])
    link_lines = "\n".join(
        f"  - `{fb}` (its bad `response` is a turn in `{log}`)" for fb, log in links
    )
    broken_lines_md = "\n".join(f"| {bid} | {note} |" for bid, note in broken)
    return f"""# Bundled sample data

Hand-written, bilingual (Korean/English) sample data for javis: used by `collect` when the user has
no data yet (`collect.use_examples`), and by the tests. Generated deterministically by
`make_examples.py` from the tables in `gen/`; check with `check_examples.py`. All names, events and
contact details are invented.

Who the assistant is is no sample: collect's `persona` source makes the identity conversations from
`params.yaml`'s `persona:` (`javis/data/persona.py`) and adds them to whatever it reads, these samples
or your own data after `javis import` (off with `collect.persona_examples: false`). With the shipped
`persona:` they are the {counts["persona"]} conversations of the first row.

| file | records | what |
|---|---|---|
| `persona` source (no file) | {counts["persona"]} | who JAVIS is and who made it (Minjun Kim / 김민준): {counts["persona_en"]} English, {counts["persona_ko"]} Korean (first user turn), {counts["persona_system"]} with the persona system prompt; `meta.file` is `params:persona` |
| `raw/conversations.jsonl` | {counts["conversations"]} | everyday multi-turn chats; {conv_info["tool_users"]} call tools (OpenAI `tools` / `tool_calls` / `tool` turns) |
| `raw/chat_logs.jsonl` | {counts["chat_logs"]} | ordinary logged conversations, the brief's `data/raw/chat_logs.jsonl` |
| `raw/broken.jsonl` | {counts["broken"]} | deliberately broken or low-quality lines (below) |
| `feedback/feedback.jsonl` | {counts["feedback"]} | rated answers: {fb_kinds["good"]} good, {fb_kinds["bad"]} bad without a correction, {fb_kinds["corrected"]} bad with a correction; `score` on {fb_kinds["scored"]} |
| `feedback/good_responses.jsonl` | {counts["good_responses"]} | the brief's 👍 file (ChatML; the last assistant turn is the rated answer) |
| `feedback/bad_responses.jsonl` | {counts["bad_responses"]} | the brief's 👎 file |
| `feedback/corrected_responses.jsonl` | {counts["corrected_responses"]} | corrections of the first three bad responses, paired by the conversation before the answer |

Every conversation's first user turn is unique across all files, except in the planted duplicates.

## Planted duplicates (`raw/conversations.jsonl`), for dedupe

- Near duplicates (one or two words changed; word 3-gram Jaccard well above `dedupe.threshold`):
{near}
- Exact duplicates (same messages, different id):
{exact}

## Bad answers that also appear in the chat logs

These feedback lines are rated bad, and their `messages` (without the system turn) plus `response`
are also the start of a logged conversation. The bad answer must never be trained on, from either
source (feedback overrides the log).
{link_lines}

## `raw/broken.jsonl`: what each line should trigger

| id | what is wrong → expected outcome |
|---|---|
{broken_lines_md}

Expected: line 1 is rejected as invalid JSON; `broken-role`, `broken-empty-assistant`,
`broken-tool-args` and `broken-tool-undeclared` are rejected by validation; `broken-secret` and
`broken-pii` are kept with the key, e-mail address and phone number redacted; the six
`broken-<criterion>` quality lines are rejected by the clean stage naming that criterion (length,
relevance, style, accuracy, format, safety).
"""


def main() -> None:
    persona = persona_conversations()
    convs, conv_info = make_conversations()
    feedback, fb_ids = make_feedback()
    logs, links = make_chat_logs(feedback, fb_ids)
    broken = broken_lines()

    (HERE / "raw/persona.jsonl").unlink(missing_ok=True)  # now collect's `persona` source
    write_jsonl(HERE / "raw/conversations.jsonl", [dump(r) for r in convs])
    write_jsonl(HERE / "raw/chat_logs.jsonl", [dump(r) for r in logs])
    write_jsonl(HERE / "raw/broken.jsonl", [line for _, line in broken])
    write_jsonl(HERE / "feedback/feedback.jsonl", [dump(r) for r in feedback])
    write_jsonl(
        HERE / "feedback/good_responses.jsonl", [dump({"messages": chat(c)}) for c in BRIEF_GOOD]
    )
    write_jsonl(
        HERE / "feedback/bad_responses.jsonl", [dump({"messages": chat(c)}) for c in BRIEF_BAD]
    )
    write_jsonl(
        HERE / "feedback/corrected_responses.jsonl",
        [dump({"messages": chat(c)}) for c in BRIEF_CORRECTED],
    )

    counts = {
        "persona": len(persona),
        "persona_en": sum(1 for r in persona if not HANGUL.search(first_user(r))),
        "persona_ko": sum(1 for r in persona if HANGUL.search(first_user(r))),
        "persona_system": sum(1 for r in persona if r["messages"][0]["role"] == "system"),
        "conversations": len(convs),
        "chat_logs": len(logs),
        "broken": len(broken),
        "feedback": len(feedback),
        "good_responses": len(BRIEF_GOOD),
        "bad_responses": len(BRIEF_BAD),
        "corrected_responses": len(BRIEF_CORRECTED),
    }
    fb_kinds = {
        "good": len(GOOD),
        "bad": len(BAD),
        "corrected": len(CORRECTED),
        "scored": sum(1 for f in feedback if "score" in f),
    }
    notes = []
    for bid, line in broken:
        try:
            notes.append((bid, json.loads(line)["note"]))
        except json.JSONDecodeError:
            notes.append((bid, "not JSON (a truncated line, no id) → rejected as invalid JSON"))
    (HERE / "README.md").write_text(
        readme(counts, conv_info, links, notes, fb_kinds), encoding="utf-8"
    )
    print(
        json.dumps(
            {
                **counts,
                **fb_kinds,
                "tool_conversations": conv_info["tool_users"],
                "near_dups": conv_info["near"],
                "exact_dups": conv_info["exact"],
                "feedback_in_logs": links,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
