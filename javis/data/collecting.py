"""Chat logs and feedback -> SFT, preference and KTO records: the rules of the collect stage.

Rules (docs/DESIGN.md, "Records and the rules that make them"):
- a log line with `messages` -> SFT; a line already shaped as a preference or KTO record passes through;
- feedback good -> SFT + KTO(true); bad -> KTO(false); bad + correction -> SFT (the correction),
  a preference pair (chosen = correction, rejected = original; a regression case) and KTO(true);
- the brief's good/bad/corrected_responses.jsonl are read as they are: the rating comes from the
  file name and a correction pairs with its bad answer by the conversation before the answer;
- feedback overrides the log: an answer rated bad is cut from any logged conversation holding it;
- a line `javis serve` captured from a client's background request (`source_kind: task`, e.g. Open
  WebUI's `### Task:` title prompts) is rejected with reason `task`: it is not a conversation.

`stages/collect.py` reads the feedback first (`feedback_events`), writes what each event yields
(`event_records`), then hands the log lines to `log_lines` in worker processes, then adds the
`persona` source (`persona_lines`: identity conversations from params `persona`, whatever is read).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from javis.core import fileio, params
from javis.data import feedback, forget, persona
from javis.data.records import content_of, digest, messages_key, normalize_text, record_id
from javis.data.redact import Redactor

log = logging.getLogger("javis.collect")

BRIEF_FILES = {
    "good_responses.jsonl": "good",
    "bad_responses.jsonl": "bad",
    "corrected_responses.jsonl": "corrected",
}
FORGOTTEN = "forgotten (javis forget; content not kept)"
TASK = "task (a client's background request captured by javis serve, e.g. a chat title; never trained on)"

# reject(source, file, line, reason, raw line or None): counts and writes one rejected input line
Reject = Callable[..., None]


@dataclass
class Event:
    """One rated answer: the conversation before it, the answer, the rating, maybe a correction."""

    prompt: list[dict]
    response: str | None
    rating: str  # good | bad | corrected (a correction whose bad answer is unknown)
    meta: dict
    correction: str | None = None
    source: str = ""
    lines: list[tuple[str, int]] = field(default_factory=list)


def roots(paths: params.Paths, use_examples: str) -> tuple[Path, Path, bool]:
    """The raw and feedback folders to read, and whether they are the bundled examples."""
    raw, feedback = Path(paths.raw), Path(paths.feedback)
    empty = not fileio.list_files(raw) and not fileio.list_files(feedback)
    if use_examples == "always" or (use_examples == "auto" and empty):
        ex = Path(paths.examples)
        return ex / "raw", ex / "feedback", True
    return raw, feedback, False


def input_files(root: Path, label: str, skipped: list[str]) -> Iterator[tuple[Path, str]]:
    """(path, `label/relative path`) of every .jsonl file under `root`, sorted; any other file is
    appended to `skipped` with a warning."""
    for path in fileio.list_files(root):
        rel = f"{label}/{path.relative_to(root).as_posix()}"
        if path.suffix != ".jsonl":
            skipped.append(str(path))
            log.warning(
                "collect: %s is not .jsonl; skipped (bring other formats in with `javis import`)",
                path,
            )
            continue
        yield path, rel


def answer_key(prompt: list[dict], response: str) -> str:
    """Identifies 'this answer to this question' across logs and feedback: the last user turn and
    the answer, so a bad answer is found in a log even when the earlier context differs."""
    last_user = next((m for m in reversed(prompt) if m.get("role") == "user"), {})
    return digest(normalize_text(content_of(last_user)), normalize_text(response))


def check_messages(value: object) -> str | None:
    """The minimal shape collect needs; full validation is the clean stage's job."""
    if not isinstance(value, list) or not value:
        return "no_messages (expected a non-empty list of messages)"
    if not all(isinstance(m, dict) for m in value):
        return "bad_messages (every message must be an object)"
    return None


def split_answer(messages: list[dict]) -> tuple[list[dict], str] | None:
    """(conversation before the last assistant turn, that turn's text), for the brief's files."""
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        if m.get("role") == "assistant" and isinstance(m.get("content"), str):
            return messages[:i], m["content"]
    return None


def parse_feedback(line: fileio.Line, rel: str) -> Event | str:
    """A feedback line (ours or the brief's) -> Event, or the reason it can't be one."""
    obj = line.obj
    assert obj is not None
    meta = {"file": line.file, "line": line.line, "orig_id": obj.get("id")}
    brief = BRIEF_FILES.get(Path(rel).name)
    if brief:
        if err := check_messages(obj.get("messages")):
            return err
        parts = split_answer(obj["messages"])
        if parts is None:
            return "no_answer (no assistant message to rate)"
        prompt, answer = parts
        if brief == "corrected":
            return Event(prompt, None, "corrected", meta, correction=answer)
        return Event(prompt, answer, brief, meta)
    if err := check_messages(obj.get("messages")):
        return err
    response = obj.get("response")
    if not isinstance(response, str) or not response.strip():
        return "no_response (feedback needs the rated answer as a non-empty string)"
    rating, score = obj.get("rating"), obj.get("score")
    if score is not None and (
        isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5
    ):
        return f"bad_score ({score!r}; expected an integer 1-5)"
    if rating is None and score is not None:
        rating = "good" if score >= 4 else "bad"
    if rating not in ("good", "bad"):
        return f"bad_rating ({rating!r}; expected 'good' or 'bad', or a score 1-5)"
    correction = obj.get("correction")
    if correction is not None and (not isinstance(correction, str) or not correction.strip()):
        return "bad_correction (expected a non-empty string)"
    if correction and rating == "good":
        rating = "bad"  # a corrected answer was not good enough as it was
    for key in ("created_at", "model_version", "score"):
        if obj.get(key) is not None:
            meta[key] = obj[key]
    return Event(obj["messages"], response, rating, meta, correction=correction)


def feedback_events(
    files: Iterable[tuple[Path, str]],
    max_line_bytes: int,
    acc: fileio.Accounting,
    reject: Reject,
) -> list[Event]:
    """Every rated answer of the feedback files, the brief's corrected answers paired with their
    bad ones (a correction left unpaired stays an event of its own, last). Each line is counted
    in `acc` (seen; a paired correction kept) or passed to `reject`."""
    events: list[Event] = []
    corrections: dict[str, list[Event]] = {}
    read = [(rel, list(fileio.read_jsonl(path, max_line_bytes))) for path, rel in files]
    ours = (  # a rating changed or undone on the page: only the latest state trains
        (line.obj, line.file, line.line)
        for rel, lines in read
        if Path(rel).name not in BRIEF_FILES
        for line in lines
        if line.obj is not None
    )
    gone = feedback.superseded(ours)
    for rel, lines in read:
        for line in lines:
            acc.seen(rel)
            if line.error:
                reject(rel, line.file, line.line, line.error, line.raw)
                continue
            if by := gone.get((line.file, line.line)):
                reason = f"superseded (by {by.id} in {by.file}:{by.line})"
                reject(rel, line.file, line.line, reason, line.raw)
                continue
            if feedback.is_retraction(line.obj) and Path(rel).name not in BRIEF_FILES:
                undone = line.obj.get("replaces")
                reason = f"retraction (undoes rating {undone}; a retraction trains nothing)"
                reject(rel, line.file, line.line, reason, line.raw)
                continue
            ev = parse_feedback(line, rel)
            if isinstance(ev, str):
                reject(rel, line.file, line.line, ev, line.raw)
                continue
            ev.source, ev.lines = rel, [(line.file, line.line)]
            if ev.rating == "corrected":
                corrections.setdefault(messages_key(ev.prompt), []).append(ev)
            else:
                events.append(ev)
    for ev in events:  # pair the brief's corrected answers with their bad ones
        if ev.rating == "bad" and not ev.correction:
            pending = corrections.get(messages_key(ev.prompt))
            if pending:
                fix = pending.pop(0)
                ev.correction = fix.correction
                ev.meta["correction_from"] = f"{fix.meta['file']}:{fix.meta['line']}"
                acc.kept(fix.source)
    return events + [fix for pending in corrections.values() for fix in pending]


def bad_answer_index(events: list[Event]) -> dict[str, dict]:
    """`answer_key` -> the feedback line's meta, for every answer rated bad (logs lose them)."""
    return {
        answer_key(ev.prompt, ev.response): ev.meta
        for ev in events
        if ev.rating == "bad" and ev.response is not None
    }


def event_records(ev: Event) -> Iterator[tuple[str, dict]]:
    """The training records one rated answer yields, by docs/DESIGN.md's rules."""
    meta = {**ev.meta, "rating": ev.rating}
    base = {"source": ev.source}

    def rec(kind: str, body: dict, **extra: object) -> tuple[str, dict]:
        r = {**body, **base, "meta": {**meta, **extra}}
        return kind, {"id": record_id(kind, r), **r}

    def answer(text: str) -> list[dict]:
        return [{"role": "assistant", "content": text}]

    if ev.rating == "good" and ev.response is not None:
        yield rec("sft", {"messages": [*ev.prompt, *answer(ev.response)]})
        yield rec("kto", {"prompt": ev.prompt, "completion": answer(ev.response), "label": True})
        return
    if ev.response is not None:
        yield rec("kto", {"prompt": ev.prompt, "completion": answer(ev.response), "label": False})
    if ev.correction:
        yield rec("sft", {"messages": [*ev.prompt, *answer(ev.correction)]}, correction=True)
        yield rec(
            "kto",
            {"prompt": ev.prompt, "completion": answer(ev.correction), "label": True},
            correction=True,
        )
        if ev.response is not None:
            yield rec(
                "preference",
                {
                    "prompt": ev.prompt,
                    "chosen": answer(ev.correction),
                    "rejected": answer(ev.response),
                },
                correction=True,
                regression=True,
            )


def log_record(
    obj: dict, meta: dict, source: str, bad_answers: dict[str, dict]
) -> tuple[str, dict] | str:
    """A raw line -> (kind, record) or a reject reason. Bad-rated answers are cut out; a client's
    background request captured by `javis serve` (`source_kind: task`) never trains."""
    if obj.get("source_kind") == "task":
        return TASK
    if "chosen" in obj or "rejected" in obj:
        for key in ("prompt", "chosen", "rejected"):
            if err := check_messages(obj.get(key)):
                return f"{err.split(' ')[0]} ({key})"
        body = {k: obj[k] for k in ("prompt", "chosen", "rejected")}
        kind = "preference"
        if obj.get("tools") is not None:
            body["tools"] = obj["tools"]
    elif "completion" in obj:
        for key in ("prompt", "completion"):
            if err := check_messages(obj.get(key)):
                return f"{err.split(' ')[0]} ({key})"
        if not isinstance(obj.get("label"), bool):
            return "bad_label (a KTO record needs a boolean label)"
        body = {k: obj[k] for k in ("prompt", "completion", "label")}
        kind = "kto"
        if obj.get("tools") is not None:
            body["tools"] = obj["tools"]
    else:
        if err := check_messages(obj.get("messages")):
            return err
        messages = obj["messages"]
        for i, m in enumerate(messages):
            if m.get("role") != "assistant" or not isinstance(m.get("content"), str):
                continue
            hit = bad_answers.get(answer_key(messages[:i], m["content"]))
            if hit is None:
                continue
            kept = messages[:i]
            while kept and kept[-1].get("role") != "assistant":
                kept = kept[:-1]
            where = f"{hit['file']}:{hit['line']}"
            if not any(k.get("role") == "assistant" for k in kept):
                return f"rated_bad (message {i + 1} was rated bad in {where})"
            meta = {**meta, "trimmed_at_message": i + 1, "trimmed_because": f"rated bad in {where}"}
            messages = kept
            break
        body = {"messages": messages}
        if obj.get("tools") is not None:
            body["tools"] = obj["tools"]
        kind = "sft"
    record = {**body, "source": source, "meta": meta}
    return kind, {"id": record_id(kind, record), **record}


def persona_lines(
    who: params.Persona, bad_answers: dict[str, dict]
) -> Iterator[tuple[int, tuple[str, dict] | str]]:
    """The `persona` source (javis/data/persona.py): per identity conversation made from params
    `persona`, its template number and (kind, record) or the reason it is rejected, by the rules of
    a log line (an answer rated bad is cut out). Provenance: file `params:persona`, the template
    number as line, `persona-NNN` as the original id."""
    for number, conv in enumerate(persona.conversations(who), 1):
        meta = {"file": persona.FILE, "line": number, "orig_id": conv["id"]}
        yield number, log_record(conv, meta, persona.SOURCE, bad_answers)


def persona_summary(enabled: bool, who: params.Persona, acc: fileio.Accounting) -> str:
    """collect's console line about the `persona` source."""
    if not enabled:
        return (
            "collect: persona: off (collect.persona_examples: false): no identity conversations "
            "from params `persona`; the assistant learns who it is only from your own data"
        )
    counts = acc.by_source[persona.SOURCE]
    langs = Counter(persona.language(c["messages"]) for c in persona.conversations(who))
    return (
        f"collect: persona: {counts['in']} identity conversations ({langs['en']} English, "
        f"{langs['ko']} Korean) from params `persona` (name {who.name!r}, author {who.author!r}): "
        f"{counts['kept']} kept, {counts['rejected']} rejected; "
        "`collect.persona_examples: false` leaves them out"
    )


def reject_entry(
    redactor: Redactor, source: str, file: str, line: int, reason: str, raw: bytes | None = None
) -> dict:
    """The line of data/rejected/collect.jsonl for one rejected input line (its start redacted)."""
    entry: dict = {
        "stage": "collect",
        "file": file,
        "line": line,
        "source": source,
        "reason": reason,
    }
    if raw is not None:
        # Redact a longer window than is kept: a secret cut by the excerpt's end would no longer
        # match its rule, and its first part would be written as it is.
        entry["raw"] = redactor.redact(raw[: fileio.EXCERPT].decode("utf-8", "replace"))[0][:2000]
    return entry


def worker_state(bad_answers: dict[str, dict], forgotten: forget.Forgotten, max_bytes: int) -> dict:
    """One worker's state (a process of its own with several jobs; see fileio.map_ordered): what
    the feedback decided (answers rated bad) and what `javis forget` removed."""
    return {
        "bad_answers": bad_answers,
        "forgotten": forgotten,
        "max_bytes": max_bytes,
        "redactor": Redactor(),
    }


def log_lines(
    chunk: tuple[str, str, list[tuple[int, bytes]]],
) -> tuple[str, list[tuple[str, str, bytes]]]:
    """Log lines of one file -> per line (kind or "rejected", the reject reason or "", the line to
    write). Lines are independent once the feedback is read, so chunks run in any process."""
    rel, name, lines = chunk
    state = fileio.worker_state()
    bad_answers, forgotten = state["bad_answers"], state["forgotten"]
    redactor, max_bytes = state["redactor"], state["max_bytes"]
    out = []
    for number, raw in lines:
        line = fileio.parse_line(name, number, raw, max_bytes)
        if line is None:
            continue
        reason, excerpt = line.error, line.raw
        if reason is None:
            assert line.obj is not None
            meta = {"file": line.file, "line": line.line, "orig_id": line.obj.get("id")}
            if isinstance(line.obj.get("meta"), dict):
                meta["import"] = line.obj["meta"]  # provenance from `javis import`
            result = log_record(line.obj, meta, rel, bad_answers)
            if isinstance(result, str):
                reason = result
            else:
                kind, record = result
                if not forget.is_forgotten(record, *forgotten):
                    out.append((kind, "", fileio.dumps(record)))
                    continue
                reason, excerpt = FORGOTTEN, None
        out.append(
            (
                "rejected",
                reason,
                fileio.dumps(reject_entry(redactor, rel, line.file, line.line, reason, excerpt)),
            )
        )
    return rel, out
