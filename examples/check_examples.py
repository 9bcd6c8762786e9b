"""Sanity checks for the bundled sample data: python examples/check_examples.py (exit 1 on failure)."""

from __future__ import annotations

import itertools
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gen.persona import conversations as persona_conversations  # noqa: E402

ROLES = {"system", "user", "assistant", "tool"}
BANNED = ("As an AI", "language model", "{{", "}}", "<|")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
SECRETISH = [
    re.compile(p)
    for p in (r"AKIA[0-9A-Z]{16}", r"[\w.+-]+@[\w-]+\.[\w.]+", r"01[016789]-\d{3,4}-\d{4}")
]
PERSONA_MINIMUM = 48  # collect's `persona` source (params.yaml `persona:`), no file
MINIMUMS = {
    "raw/conversations.jsonl": 130,
    "raw/chat_logs.jsonl": 10,
    "feedback/feedback.jsonl": 66,
    "feedback/good_responses.jsonl": 4,
    "feedback/bad_responses.jsonl": 4,
    "feedback/corrected_responses.jsonl": 3,
    "raw/broken.jsonl": 13,
}

errors: list[str] = []


def err(msg: str) -> None:
    errors.append(msg)


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().lower()


def norm_q(text: str) -> str:
    """A question without case, punctuation and spacing (a probe asked with other punctuation)."""
    return re.sub(r"[\W_]+", "", norm(text))


def text_of(m: dict) -> str:
    t = m.get("content") or ""
    for c in m.get("tool_calls") or []:
        t += f" <tool_call> {c['function']['name']} {c['function']['arguments']}"
    return t


def key(messages: list[dict]) -> str:
    return "\n".join(
        f"{m['role']}: {norm(text_of(m))}" for m in messages if m.get("role") != "system"
    )


def shingles(text: str, k: int = 3) -> set:
    w = text.split()
    return {tuple(w[i : i + k]) for i in range(max(1, len(w) - k + 1))}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def load(rel: str) -> list[tuple[int, object]]:
    out = []
    for n, line in enumerate((HERE / rel).read_text(encoding="utf-8").splitlines(), 1):
        try:
            out.append((n, json.loads(line)))
        except json.JSONDecodeError as e:
            out.append((n, e))
    return out


def check_conversation(
    where: str, msgs: list, tools: list | None, *, good: bool, known_bad: frozenset = frozenset()
) -> list[str]:
    """Structural problems of one conversation (returned, so broken lines can expect them)."""
    problems = []
    declared = {t["function"]["name"] for t in tools or []}
    pending: set = set()
    for i, m in enumerate(msgs):
        role = m.get("role")
        if role not in ROLES:
            problems.append("role")
            continue
        if role == "system" and i != 0:
            problems.append("system-not-first")
        if role == "assistant":
            calls = m.get("tool_calls") or []
            for c in calls:
                try:
                    json.loads(c["function"]["arguments"])
                except json.JSONDecodeError:
                    problems.append("tool-args")
                if c["function"]["name"] not in declared:
                    problems.append("tool-undeclared")
                pending.add(c["id"])
            if not calls and not (m.get("content") or "").strip():
                problems.append("empty-assistant")
            if not calls and good and m.get("content") not in known_bad:
                c = m["content"]
                if not 20 <= len(c) <= 800:
                    problems.append(f"length {len(c)} in message {i}")
                if any(b in c for b in BANNED) or c.count("!") > 3:
                    problems.append(f"banned text in message {i}")
        if role == "tool":
            if m.get("tool_call_id") not in pending:
                problems.append("tool-result-without-call")
            json.loads(m["content"])
    if not msgs or msgs[-1].get("role") != "assistant":
        problems.append("does-not-end-with-assistant")
    if good:
        for m in msgs:
            for p in SECRETISH:
                if p.search(m.get("content") or ""):
                    problems.append(f"secret-like text: {p.pattern}")
    return problems


def main() -> int:
    data = {rel: load(rel) for rel in MINIMUMS}
    for rel, lines in data.items():
        if len(lines) < MINIMUMS[rel]:
            err(f"{rel}: {len(lines)} lines < {MINIMUMS[rel]}")
        bad_json = [n for n, o in lines if isinstance(o, Exception)]
        if bad_json and not (rel == "raw/broken.jsonl" and bad_json == [1]):
            err(f"{rel}: invalid JSON on lines {bad_json}")
        raw = (HERE / rel).read_bytes()
        if not raw.endswith(b"\n") or b"\\u" in raw.replace(b"\\u003c", b""):
            err(f"{rel}: not newline-terminated or ASCII-escaped")

    data["persona"] = list(enumerate(persona_conversations(), 1))
    if len(data["persona"]) < PERSONA_MINIMUM:
        err(f"persona: {len(data['persona'])} conversations < {PERSONA_MINIMUM}")
    probe_file = yaml.safe_load((HERE.parent / "params.yaml").read_text(encoding="utf-8"))[
        "evaluate"
    ]["probes"]
    probes = {
        norm_q(json.loads(line)["question"])
        for line in (HERE.parent / probe_file).read_text(encoding="utf-8").splitlines()
        if line.strip()
    }
    for n, rec in data["persona"]:
        for m in rec["messages"]:
            if m["role"] == "user" and norm_q(m["content"]) in probes:
                err(f"persona:{n}: repeats the held-out probe {m['content']!r}")

    first_turns: list[tuple[str, str]] = []  # (where, normalised first user turn)
    convs: dict[str, list] = {}  # id -> messages, for near-duplicate checks
    langs = Counter()

    rated_bad = frozenset(
        f["response"] for _, f in data["feedback/feedback.jsonl"] if f["rating"] == "bad"
    )
    for rel in ("persona", "raw/conversations.jsonl", "raw/chat_logs.jsonl"):
        ids = set()
        for n, rec in data[rel]:
            where = f"{rel}:{n}"
            if rec["id"] in ids:
                err(f"{where}: duplicate id")
            ids.add(rec["id"])
            skip = rated_bad if rel == "raw/chat_logs.jsonl" else frozenset()
            for p in check_conversation(
                where, rec["messages"], rec.get("tools"), good=True, known_bad=skip
            ):
                err(f"{where} ({rec['id']}): {p}")
            first = next(m["content"] for m in rec["messages"] if m["role"] == "user")
            first_turns.append((rec["id"], norm(first)))
            convs[rec["id"]] = rec["messages"]
            langs[(rel, "ko" if HANGUL.search(first) else "en")] += 1

    # feedback.jsonl
    kinds = Counter()
    for n, f in data["feedback/feedback.jsonl"]:
        where = f"feedback.jsonl:{n}"
        assert set(f) <= {
            "id",
            "created_at",
            "model_version",
            "messages",
            "response",
            "rating",
            "score",
            "correction",
        }, where
        if f["rating"] not in ("good", "bad") or f["model_version"] not in ("base", "javis-v0.1"):
            err(f"{where}: rating/model_version")
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", f["created_at"]):
            err(f"{where}: created_at")
        if "score" in f and f["score"] not in range(1, 6):
            err(f"{where}: score")
        if "correction" in f and f["rating"] != "bad":
            err(f"{where}: correction on a good answer")
        if f["messages"][-1]["role"] != "user":
            err(f"{where}: messages must end with a user turn")
        full = f["messages"] + [{"role": "assistant", "content": f["response"]}]
        for p in check_conversation(where, full, None, good=f["rating"] == "good"):
            err(f"{where}: {p}")
        if "correction" in f:
            fixed = f["messages"] + [{"role": "assistant", "content": f["correction"]}]
            for p in check_conversation(where, fixed, None, good=True):
                err(f"{where} correction: {p}")
        kinds[f["rating"] + ("+correction" if "correction" in f else "")] += 1
        kinds["scored"] += "score" in f
        first = next(m["content"] for m in f["messages"] if m["role"] == "user")
        first_turns.append((f["id"], norm(first)))
        langs[("feedback", "ko" if HANGUL.search(first) else "en")] += 1
        convs[f["id"]] = full

    # the brief's feedback files
    brief = {}
    for rel in (
        "feedback/good_responses.jsonl",
        "feedback/bad_responses.jsonl",
        "feedback/corrected_responses.jsonl",
    ):
        brief[rel] = [r["messages"] for _, r in data[rel]]
        for i, msgs in enumerate(brief[rel], 1):
            good = "bad_" not in rel
            for p in check_conversation(f"{rel}:{i}", msgs, None, good=good):
                err(f"{rel}:{i}: {p}")
            if rel != "feedback/corrected_responses.jsonl":
                first_turns.append((f"{rel}:{i}", norm(msgs[0]["content"])))
    for i, corr in enumerate(brief["feedback/corrected_responses.jsonl"]):
        if corr[:-1] != brief["feedback/bad_responses.jsonl"][i][:-1]:
            err(f"corrected_responses:{i + 1} does not pair with bad_responses:{i + 1}")

    # broken.jsonl: each line must show exactly its planted problem
    expect = {
        "broken-role": {"role", "does-not-end-with-assistant"},
        "broken-empty-assistant": {"empty-assistant"},
        "broken-tool-args": {"tool-args"},
        "broken-tool-undeclared": {"tool-undeclared"},
    }
    broken_ids = []
    for n, rec in data["raw/broken.jsonl"][1:]:
        broken_ids.append(rec["id"])
        assert rec["id"].startswith("broken-") and rec.get("note"), n
        got = set(check_conversation("broken", rec["messages"], rec.get("tools"), good=False))
        want = expect.get(rec["id"], set())
        if got != want:
            err(f"broken.jsonl:{n} ({rec['id']}): problems {got}, expected {want}")
    text = (HERE / "raw/broken.jsonl").read_text(encoding="utf-8")
    for pat, what in (
        (r"AKIA[0-9A-Z]{16}", "aws key"),
        (r"[\w.]+@[\w]+\.com", "email"),
        (r"010-\d{4}-\d{4}", "phone"),
    ):
        if len(re.findall(pat, text)) != 1:
            err(f"broken.jsonl: expected exactly one planted {what}")

    # duplicates: first user turns, then whole conversations (word 3-gram Jaccard)
    readme = (HERE / "README.md").read_text(encoding="utf-8")
    planted_pairs = {
        tuple(sorted(p)) for p in re.findall(r"`(conv-\d+)` [≈=] `(conv-\d+)`", readme)
    }
    fb_log_pairs = set()
    for fb, log in re.findall(
        r"`(fb-\d+)` \(its bad `response` is a turn in `(log-\d+)`\)", readme
    ):
        fb_log_pairs.add(tuple(sorted((fb, log))))
    if len(planted_pairs) != 5 or len(fb_log_pairs) != 3:
        err("README does not list 5 planted duplicate pairs and 3 feedback/log pairs")
    by_turn: dict[str, list[str]] = {}
    for where, turn in first_turns:
        by_turn.setdefault(turn, []).append(where)
    for turn, wheres in by_turn.items():
        if len(wheres) > 1 and tuple(sorted(wheres)) not in planted_pairs | fb_log_pairs:
            err(f"first user turn repeated in {wheres}: {turn[:60]}")
    sh = {cid: shingles(key(msgs)) for cid, msgs in convs.items()}
    near = []
    for a, b in itertools.combinations(sh, 2):
        j = jaccard(sh[a], sh[b])
        if j >= 0.5:
            near.append((round(j, 3), a, b))
            if j >= 0.8 and tuple(sorted((a, b))) not in planted_pairs:
                err(f"unplanned near duplicate {a} ~ {b}: {j:.3f}")
    found = {tuple(sorted((a, b))) for j, a, b in near if j >= 0.8}
    if not planted_pairs <= found:
        err(f"planted duplicates below 0.8: {planted_pairs - found}")

    tool_convs = sum(
        1
        for _, r in data["raw/conversations.jsonl"]
        if any(m.get("tool_calls") for m in r["messages"])
    )
    if tool_convs < 30:
        err(f"only {tool_convs} conversations use tools")

    print("lines:", {rel: len(lines) for rel, lines in data.items()})
    print("feedback:", dict(kinds))
    print("tool conversations:", tool_convs)
    print("language of first user turn:", dict(sorted(langs.items())))
    print("pairs with Jaccard >= 0.5:", sorted(near, reverse=True))
    print("broken ids:", broken_ids)
    for e in errors:
        print("ERROR", e)
    print("OK" if not errors else f"{len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
