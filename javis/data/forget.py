"""`javis forget`: leave one conversation, and what was derived from it, out of the next version.

See docs/DESIGN.md, "Forgetting". A removal is one line of `data/forgotten.jsonl` (git,
`paths.forgotten`), never content:

    {"at", "by", "reason", "ids": [record ids], "conversations": [conversation hashes],
     "feedback": [feedback line hashes], "inputs": n, "ratings": n}

What is forgotten: the input lines (file + line) that hold a record the user named (by record id,
the id it had in their file, or `--match TEXT`), every record made from those lines (SFT,
preference, KTO, regression case), and every feedback line whose rated conversation (the prompt
plus the rated answer) is that conversation or a prefix of it (the rating of an exchange inside
it). Never by first user turn: another conversation that starts the same way stays.

The collect stage drops a record whose id or conversation hash is forgotten (a re-import of the same
text is dropped too: ids and hashes are of the normalised content), `user_satisfaction` leaves the
forgotten ratings out, the init stage refuses to continue training from a release that saw them,
and `--purge` deletes the stored DVC objects that hold them (javis/release/purge.py).

Entries written before issue 15 hold `groups` (hashes of a first user turn) instead: they are still
read and applied as they were (every conversation with that first user turn is left out).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from javis.core import fileio, params
from javis.data.records import (
    KINDS,
    digest,
    group_key,
    messages_key,
    normalize_text,
    record_kind,
    record_text,
)

Unit = tuple[str, int]  # an input line: (file, line) as in a record's meta


class Forgotten(NamedTuple):
    """Everything `data/forgotten.jsonl` names. Unpacks into `is_forgotten(record, *forgotten)`."""

    ids: frozenset[str] = frozenset()  # record ids
    conversations: frozenset[str] = frozenset()  # conversation_hash of each forgotten conversation
    feedback: frozenset[str] = frozenset()  # feedback_hash of each forgotten feedback line
    groups: frozenset[str] = frozenset()  # old-style entries only: first-user-turn group keys

    def is_empty(self) -> bool:
        return not (self.ids or self.conversations or self.feedback or self.groups)


def load(path: str | Path) -> Forgotten:
    """What `path` (data/forgotten.jsonl) forgets; empty when the file is missing. A line that is
    not JSON raises ValueError (a removal must not be skipped silently)."""
    path = Path(path)
    found: dict[str, set[str]] = {k: set() for k in Forgotten._fields}
    if path.exists():
        for line in fileio.read_jsonl(path):
            if line.error or not isinstance(line.obj, dict):
                raise ValueError(
                    f"{path}:{line.line}: {line.error or 'not an object'}; every line is a removal "
                    "`javis forget` wrote: restore the file from git (`git checkout -- "
                    f"{path}`), then forget again what is missing"
                )
            for key, values in found.items():
                entry = line.obj.get(key)
                if isinstance(entry, list):
                    values.update(str(v) for v in entry)
    return Forgotten(**{k: frozenset(v) for k, v in found.items()})


def old_style_entries(path: str | Path) -> int:
    """Entries written before issue 15 (`groups`, no `conversations`): they forget by first turn."""
    path = Path(path)
    if not path.exists():
        return 0
    return sum(
        1
        for line in fileio.read_jsonl(path)
        if isinstance(line.obj, dict) and line.obj.get("groups") and "conversations" not in line.obj
    )


# --- identities ----------------------------------------------------------------------------------


def conversation_hash(messages: list[dict]) -> str:
    """A conversation's identity: a hash of its normalised turns (system turns left out, so the
    persona's system prompt doesn't change it)."""
    return "conv-" + digest("conversation", messages_key(messages))


def feedback_hash(line_id: object, created_at: object) -> str | None:
    """A feedback line's identity: its id and time (what `javis chat`/`serve`/`import` write), hashed
    (an id from the user's own file may say something). None when the line lacks either."""
    if line_id is None or created_at is None:
        return None
    return "fb-" + digest("feedback", str(line_id), str(created_at))


def record_conversations(record: dict) -> list[list[dict]]:
    """The conversations a record of any kind holds: SFT its messages, KTO prompt + completion,
    preference prompt + chosen and prompt + rejected."""
    kind = record_kind(record)
    if kind == "sft":
        return [record["messages"]]
    if kind == "preference":
        return [[*record["prompt"], *record["chosen"]], [*record["prompt"], *record["rejected"]]]
    return [[*record["prompt"], *record["completion"]]]


def line_conversations(obj: dict) -> list[list[dict]]:
    """The conversations of any JSON object in the data files: a record, a log line, or a feedback
    line (`messages` + `response`, and + `correction`). Shapes that aren't are skipped."""
    if not isinstance(obj, dict):
        return []
    msgs = obj.get("messages")
    if isinstance(obj.get("response"), str) and isinstance(msgs, list):
        out = [[*msgs, {"role": "assistant", "content": obj["response"]}]]
        if isinstance(obj.get("correction"), str):
            out.append([*msgs, {"role": "assistant", "content": obj["correction"]}])
        return out
    out = []
    if isinstance(msgs, list):
        out.append(msgs)
    prompt = obj.get("prompt")
    if isinstance(prompt, list):
        for key in ("chosen", "rejected", "completion"):
            if isinstance(obj.get(key), list):
                out.append([*prompt, *obj[key]])
    return out


def _hashes(conversations: Iterable[list[dict]]) -> set[str]:
    out = set()
    for messages in conversations:
        try:
            out.add(conversation_hash(messages))
        except (TypeError, AttributeError):  # a malformed line in a data file: no conversation
            continue
    return out


def is_forgotten(
    record: dict,
    ids: frozenset[str],
    conversations: frozenset[str] = frozenset(),
    feedback: frozenset[str] = frozenset(),
    groups: frozenset[str] = frozenset(),
) -> bool:
    """Does collect leave this record out? Its id, one of its conversations or (made from a
    feedback line) that line is forgotten; or an old-style entry names its first user turn."""
    if record.get("id") in ids:
        return True
    if conversations and any(
        conversation_hash(m) in conversations for m in record_conversations(record)
    ):
        return True
    meta = record.get("meta") or {}
    if feedback and str(record.get("source", "")).startswith("feedback/"):
        if feedback_hash(meta.get("orig_id"), meta.get("created_at")) in feedback:
            return True
    return bool(groups) and group_key(record) in groups


def feedback_line_forgotten(obj: dict, forgotten: Forgotten) -> bool:
    """Is this feedback line (as `javis chat`/`serve` write it) forgotten? For user satisfaction:
    the same answer as collect gives for the records the line makes."""
    if feedback_hash(obj.get("id"), obj.get("created_at")) in forgotten.feedback:
        return True
    if _hashes(line_conversations(obj)) & forgotten.conversations:
        return True
    msgs = obj.get("messages")
    if forgotten.groups and isinstance(msgs, list):
        try:
            return group_key({"messages": msgs}) in forgotten.groups
        except (TypeError, AttributeError):
            return False
    return False


def object_forgotten(obj: dict, forgotten: Forgotten) -> bool:
    """Does a line of any data file (raw log, feedback, record, reject entry's record) hold
    something forgotten? For `--purge`."""
    if obj.get("id") in forgotten.ids:
        return True
    if feedback_hash(obj.get("id"), obj.get("created_at")) in forgotten.feedback:
        return True
    if _hashes(line_conversations(obj)) & forgotten.conversations:
        return True
    if forgotten.groups and any(isinstance(obj.get(k), list) for k in ("messages", "prompt")):
        try:
            return group_key(obj) in forgotten.groups
        except (TypeError, AttributeError, KeyError):
            return False
    return False


# --- finding and recording a removal -------------------------------------------------------------


def collected_is_stale(paths: params.Paths) -> str | None:
    """Why `paths.collected` may not hold the newest input (missing, or older than a file or folder
    of `paths.raw`/`paths.feedback`, e.g. right after `javis import`), else None."""
    collected = Path(paths.collected)
    outs = [collected / f"{kind}.jsonl" for kind in KINDS]
    if not all(o.exists() for o in outs):
        return f"{collected} is not built yet"
    built = min(o.stat().st_mtime for o in outs)
    for folder in (Path(paths.raw), Path(paths.feedback)):
        for path in [folder, *fileio.list_files(folder)]:
            if path.exists() and path.stat().st_mtime > built:
                return f"{path} is newer than {collected}"
    return None


def find(collected: Path, ident: str | None, match: str | None) -> list[dict]:
    """Records of the collected data that `ident` (a record id, an input id) or `match` names."""
    needle = normalize_text(match) if match else None
    hits = []
    for record in _collected(collected):
        meta = record.get("meta") or {}
        if ident and ident in (
            record.get("id"),
            meta.get("orig_id"),
            (meta.get("import") or {}).get("id"),
        ):
            hits.append(record)
        elif needle and needle in record_text(record):
            hits.append(record)
    return hits


def forget(p: params.Params, ident: str | None, match: str | None, reason: str, by: str) -> dict:
    """Record the removal of the conversations `ident`/`match` name and what was derived from them
    (module docstring); returns the entry written. Raises ValueError when nothing new matches."""
    if not ident and not match:
        raise ValueError("give a record id (or the id it had in your file) or --match TEXT")
    collected = Path(p.paths.collected)
    if not (collected / "sft.jsonl").exists():
        raise ValueError(
            f"{collected} is empty: run `dvc repro collect` first, so the records can be found"
        )
    hits = find(collected, ident, match)
    what = f"id {ident!r}" if ident else f"text {match!r}"
    before = load(p.paths.forgotten)
    if not hits:
        raise ValueError(
            f"no collected record matches {what}; ids are in data/collected/*.jsonl "
            "(`id`, or `meta.orig_id` for the id in your own file)"
            + ("" if before.is_empty() else f", and what {p.paths.forgotten} names is not there")
        )
    hits = [r for r in hits if not is_forgotten(r, *before)]
    if not hits:
        raise ValueError(
            f"every collected record that matches {what} is forgotten already "
            f"({p.paths.forgotten}); the next `dvc repro` leaves them out"
        )
    records = list(_collected(collected))
    units: dict[Unit, list[dict]] = {}
    for r in records:
        units.setdefault(_unit(r), []).append(r)
    asked = {_unit(r) for r in hits}
    convs = {u: _unit_conversations(units[u]) for u in asked}
    turns = [_turns(m) for u in asked for m in convs[u]]
    # A feedback line rating an exchange inside an asked conversation: its prompt plus the rated
    # answer is that conversation or a prefix of it.
    rated = {u: _rated(rs) for u, rs in units.items() if _from_feedback(rs[0]) and u not in asked}
    derived = {
        u
        for u, answered in rated.items()
        if any(_is_prefix(_turns(m), t) for m in answered for t in turns)
    }
    gone = asked | derived
    convs.update({u: _unit_conversations(units[u]) for u in derived})
    conversations = set().union(*(_hashes(convs[u]) for u in gone))
    feedback = {
        h
        for u in gone
        if _from_feedback(units[u][0])
        and (h := feedback_hash(*_line_identity(units[u][0]))) is not None
    }
    ids = {r["id"] for u in gone for r in units[u]}
    # Anything else collect will now drop (the same text from another line) is named too, so that
    # `releases_holding` finds the releases that hold it.
    now = Forgotten(frozenset(ids), frozenset(conversations), frozenset(feedback))
    ids |= {r["id"] for r in records if is_forgotten(r, *now)}
    entry = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "by": by,
        "reason": reason,
        "ids": sorted(ids),
        "conversations": sorted(conversations),
        "feedback": sorted(feedback),
        "inputs": len(gone),
        "ratings": sum(1 for u in gone if _from_feedback(units[u][0])),
    }
    forgotten = Path(p.paths.forgotten)
    forgotten.parent.mkdir(parents=True, exist_ok=True)
    with open(forgotten, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")
    return entry


def _collected(collected: Path) -> Iterator[dict]:
    for kind in KINDS:
        path = collected / f"{kind}.jsonl"
        if path.exists():
            yield from fileio.iter_records(path)


def _unit(record: dict) -> Unit:
    meta = record.get("meta") or {}
    return str(meta.get("file")), int(meta.get("line") or 0)


def _from_feedback(record: dict) -> bool:
    return str(record.get("source", "")).startswith("feedback/")


def _line_identity(record: dict) -> tuple[object, object]:
    meta = record.get("meta") or {}
    return meta.get("orig_id"), meta.get("created_at")


def _turns(messages: list[dict]) -> tuple[str, ...]:
    key = messages_key(messages)
    return tuple(key.split("\n")) if key else ()


def _is_prefix(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    return 0 < len(short) <= len(long) and long[: len(short)] == short


def _unit_conversations(records: list[dict]) -> list[list[dict]]:
    """Every conversation of one input line's records, and for a log line that collect cut short
    (an answer in it was rated bad) the whole conversation as the line holds it."""
    out = [m for r in records for m in record_conversations(r)]
    meta = records[0].get("meta") or {}
    if meta.get("trimmed_at_message") and not _from_feedback(records[0]):
        whole = _read_line(*_unit(records[0]))
        if whole is not None and isinstance(whole.get("messages"), list):
            out.append(whole["messages"])
    return out


def _rated(records: list[dict]) -> list[list[dict]]:
    """The rated conversation of a feedback line's records: the prompt plus the rated answer (not
    a correction of it); for a correction alone (the brief's corrected_responses), the correction."""
    plain = [r for r in records if not (r.get("meta") or {}).get("correction")]
    return [m for r in plain or records for m in record_conversations(r)]


def _read_line(file: str, number: int) -> dict | None:
    """Line `number` of an input file as JSON, or None when it can't be read any more."""
    try:
        for line in fileio.read_jsonl(file):
            if line.line == number:
                return line.obj if isinstance(line.obj, dict) else None
    except OSError:
        return None
    return None
