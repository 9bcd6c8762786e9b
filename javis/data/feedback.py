"""Feedback lines: the user's 👍 / 👎 / corrections of the deployed version's answers.

One line per rated answer (docs/DESIGN.md):

    {"id", "created_at", "model_version", "messages": [conversation before the answer],
     "response", "rating": "good"|"bad", "score"?: 1-5, "correction"?}

`append_feedback(folder, line)` validates a line, fills `id` (a uuid4), `created_at` (UTC, ISO 8601
with Z) and appends it to `<folder>/feedback-<YYYY-MM-DD>.jsonl` (the UTC date of `created_at`). One
file per day: a day's file never changes after that day, so each `dvc add` of the folder stores
only the newest day's file again, not the whole history.

Appends are safe with any number of writers (several `javis serve` workers, a `javis chat` beside
them): the file is opened with O_APPEND, locked with `flock`, and the whole line goes out in one
`os.write` (looped only if the kernel writes short, still under the lock), then fsync. A line is
therefore whole or absent; if a crashed writer left a torn last line, the next append starts on a
new line so that only the torn line is lost (collect rejects it with file and line).

The files are append-only, so a rating is changed or undone by a new line that supersedes it:

    change: a whole feedback line (same messages and response) with `"replaces": "<earlier id>"`
    undo:   {"id", "created_at", "replaces": "<earlier id>", "retracted": true}

`superseded(lines)` works out the latest state: lines linked by `replaces` form one thread (its root
is the first line, or the unknown id the first line replaces), and only its last line counts, the
one nothing replaces (when two tabs changed the same rating, the newer by `created_at`, then file
order). A thread whose
newest line is a retraction counts nothing. `read_feedback(folder)` returns the lines that count,
newest first (for `javis serve`'s history and the versions' satisfaction); collect trains on them
only and rejects every other line as `superseded` or `retraction`, with file and line.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from javis.core import fileio

RATINGS = ("good", "bad")
ROLES = ("system", "user", "assistant", "tool")
FIELDS = {
    "id",
    "created_at",
    "model_version",
    "messages",
    "response",
    "rating",
    "score",
    "correction",
    "replaces",
    "meta",
}


class FeedbackError(ValueError):
    """A feedback line that would not count; the message names the field."""


def now_iso() -> str:
    """The current UTC time as `2026-10-19T18:00:00.123Z`."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def feedback_path(folder: str | Path, created_at: str) -> Path:
    """The day file a line created at `created_at` goes to."""
    return Path(folder) / f"feedback-{created_at[:10]}.jsonl"


def make_line(line: dict[str, Any]) -> dict[str, Any]:
    """A complete, valid feedback line from `line` (id and created_at filled when absent).

    A correction makes the rating "bad" (the answer needed fixing); a score without a rating gives
    good for 4-5 and bad for 1-3, the rule collect applies too.
    """
    if line.get("retracted") is not None:
        return make_retraction(line)
    unknown = sorted(set(line) - FIELDS)
    if unknown:
        raise FeedbackError(f"unknown field(s) {unknown}")
    replaces = line.get("replaces")
    if replaces is not None and (not isinstance(replaces, str) or not replaces.strip()):
        raise FeedbackError("replaces: expected the id of the feedback line this one changes")
    messages = line.get("messages")
    if not isinstance(messages, list) or not messages:
        raise FeedbackError(
            "messages: expected the conversation before the answer (a non-empty list)"
        )
    for i, m in enumerate(messages, 1):
        if (
            not isinstance(m, dict)
            or m.get("role") not in ROLES
            or not isinstance(m.get("content"), str)
        ):
            raise FeedbackError(
                f"messages[{i}]: expected {{'role': system|user|assistant|tool, 'content': str}}"
            )
    if not any(m["role"] == "user" for m in messages):
        raise FeedbackError("messages: no user turn (what was the answer to?)")
    response = line.get("response")
    if not isinstance(response, str) or not response.strip():
        raise FeedbackError("response: expected the rated answer as a non-empty string")
    version = line.get("model_version")
    if not isinstance(version, str) or not version.strip():
        raise FeedbackError(
            "model_version: expected the name of the version that answered (e.g. javis-v0.2 or base)"
        )
    score = line.get("score")
    if score is not None and (
        isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5
    ):
        raise FeedbackError(f"score: expected an integer 1-5, got {score!r}")
    correction = line.get("correction")
    if correction is not None and (not isinstance(correction, str) or not correction.strip()):
        raise FeedbackError("correction: expected the better answer as a non-empty string")
    rating = line.get("rating")
    if rating is None and score is not None:
        rating = "good" if score >= 4 else "bad"
    if correction is not None:
        rating = "bad"
    if rating not in RATINGS:
        raise FeedbackError(f"rating: expected 'good' or 'bad' (or a score 1-5), got {rating!r}")
    out: dict[str, Any] = {
        "id": line.get("id") or uuid.uuid4().hex,
        "created_at": line.get("created_at") or now_iso(),
        "model_version": version,
        "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
        "response": response,
        "rating": rating,
    }
    if score is not None:
        out["score"] = score
    if correction is not None:
        out["correction"] = correction
    if replaces is not None:
        out["replaces"] = replaces
    if line.get("meta") is not None:
        out["meta"] = line["meta"]
    return out


def make_retraction(line: dict[str, Any]) -> dict[str, Any]:
    """An undo line: `{"id", "created_at", "replaces": <the rating undone>, "retracted": true}`."""
    unknown = sorted(set(line) - {"id", "created_at", "replaces", "retracted", "meta"})
    if unknown:
        raise FeedbackError(f"unknown field(s) {unknown} in a retraction (it holds no rating)")
    if line.get("retracted") is not True:
        raise FeedbackError("retracted: expected true (a line that undoes a rating)")
    replaces = line.get("replaces")
    if not isinstance(replaces, str) or not replaces.strip():
        raise FeedbackError("replaces: expected the id of the rating to undo")
    out: dict[str, Any] = {
        "id": line.get("id") or uuid.uuid4().hex,
        "created_at": line.get("created_at") or now_iso(),
        "replaces": replaces,
        "retracted": True,
    }
    if line.get("meta") is not None:
        out["meta"] = line["meta"]
    return out


def is_retraction(obj: dict | None) -> bool:
    """A line that undoes an earlier rating (and rates nothing itself)."""
    return isinstance(obj, dict) and obj.get("retracted") is True


def append_feedback(
    folder: str | Path, line: dict[str, Any], *, fsync: bool = True
) -> dict[str, Any]:
    """Validate `line`, complete it and append it to the day's file; returns the line written.

    A line that `replaces` another (a change or an undo) must name a line of `folder` that still
    counts, and a change must rate the same answer (same messages and response)."""
    full = make_line(line)
    if "replaces" in full:
        check_replaces(folder, full)
    path = feedback_path(folder, full["created_at"])
    path.parent.mkdir(parents=True, exist_ok=True)
    append_line(path, fileio.dumps(full), fsync=fsync)
    return full


def append_line(path: str | Path, data: bytes, *, fsync: bool = True) -> None:
    """Append one whole line (`data` ends with a newline) under an exclusive flock."""
    if not data.endswith(b"\n") or b"\n" in data[:-1]:
        raise ValueError("append_line: data must be exactly one line ending with a newline")
    fd = os.open(
        path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666
    )  # umask applies, as for every data file
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data  # a torn line from a crashed writer: keep ours whole
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)  # releases the lock


@dataclass(frozen=True)
class Where:
    """A feedback line's place: its id, file and line number (what superseded it, in a reject)."""

    id: str
    file: str
    line: int


def superseded(lines: Iterable[tuple[dict, str, int]]) -> dict[tuple[str, int], Where]:
    """(file, line) of every line that no longer counts -> the newest line of its thread.

    `lines`: (parsed line, file, line number) of our feedback files, in file order. Lines without
    an id take no part (they stand alone); `replaces` naming an unknown id roots a thread there.
    """
    entries = [(obj, file, n) for obj, file, n in lines if isinstance(obj.get("id"), str)]

    def parent_of(obj: dict) -> str | None:
        return obj["replaces"] if isinstance(obj.get("replaces"), str) else None

    parent: dict[str, str | None] = {}
    for obj, _, _ in entries:
        parent.setdefault(obj["id"], parent_of(obj))

    def root(ident: str) -> str:
        path = [ident]
        while (up := parent.get(path[-1])) is not None:
            if up in path:  # a cycle (hand-edited files): the same root from wherever it is entered
                return min(path[path.index(up) :])
            path.append(up)
        return path[-1]

    threads: dict[str, list[int]] = {}
    for i, (obj, _, _) in enumerate(entries):
        threads.setdefault(root(obj["id"]), []).append(i)
    out: dict[tuple[str, int], Where] = {}
    for members in threads.values():
        if len(members) < 2 or not any(parent_of(entries[i][0]) for i in members):
            continue  # lines sharing an id but linked by no change (a copied file) stand alone
        replaced = {entries[i][0].get("replaces") for i in members}
        leaves = [i for i in members if entries[i][0]["id"] not in replaced] or members
        newest = max(leaves, key=lambda i: (timestamp(entries[i][0]), i))
        obj, file, n = entries[newest]
        for i in members:
            if i != newest:
                out[(entries[i][1], entries[i][2])] = Where(obj["id"], file, n)
    return out


def timestamp(obj: dict) -> float:
    """`created_at` as seconds since the epoch (-inf when missing or unreadable)."""
    try:
        when = datetime.fromisoformat(str(obj.get("created_at")))
    except ValueError:
        return float("-inf")
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def current_lines(folder: str | Path) -> list[dict[str, Any]]:
    """Every line of `folder` that counts now (neither superseded nor a retraction), in file
    order, each with the `file` name and `line` number it came from."""
    read = [
        (line.obj, path, line.line)
        for path in fileio.list_files(folder)
        if path.suffix == ".jsonl"
        for line in fileio.read_jsonl(path)
        if line.obj is not None
    ]
    gone = superseded((obj, str(path), n) for obj, path, n in read)
    return [
        {**obj, "file": path.name, "line": n}
        for obj, path, n in read
        if (str(path), n) not in gone and not is_retraction(obj)
    ]


def check_replaces(folder: str | Path, full: dict[str, Any]) -> None:
    """A change or undo must name a line that still counts (and a change, the same answer)."""
    target = next((o for o in current_lines(folder) if o.get("id") == full["replaces"]), None)
    if target is None:
        raise FeedbackError(
            f"replaces: no current feedback line has id {full['replaces']!r} "
            "(it was changed or undone already, or never written; reload the page)"
        )
    if not is_retraction(full) and (
        target.get("messages") != full["messages"] or target.get("response") != full["response"]
    ):
        raise FeedbackError(
            f"replaces: line {full['replaces']!r} rated another answer; a change rates the same "
            "messages and response"
        )


def retract(folder: str | Path, ident: str, *, fsync: bool = True) -> dict[str, Any]:
    """Undo the rating `ident`: append a retraction line; returns it."""
    return append_feedback(folder, {"replaces": ident, "retracted": True}, fsync=fsync)


def read_feedback(folder: str | Path, limit: int | None = None) -> list[dict[str, Any]]:
    """Our feedback lines that count now (with a rating and a response), newest first."""
    lines = [
        obj
        for obj in current_lines(folder)
        if obj.get("rating") in RATINGS and isinstance(obj.get("response"), str)
    ]
    lines.sort(key=lambda o: str(o.get("created_at") or ""), reverse=True)
    return lines[:limit] if limit else lines
