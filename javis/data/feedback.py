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

`read_feedback(folder)` returns our feedback lines, newest first (for `javis serve`'s history).
"""

from __future__ import annotations

import fcntl
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from javis.core import fileio

RATINGS = ("good", "bad")
ROLES = ("system", "user", "assistant", "tool")


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
    unknown = sorted(
        set(line)
        - {
            "id",
            "created_at",
            "model_version",
            "messages",
            "response",
            "rating",
            "score",
            "correction",
            "meta",
        }
    )
    if unknown:
        raise FeedbackError(f"unknown field(s) {unknown}")
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
    if line.get("meta") is not None:
        out["meta"] = line["meta"]
    return out


def append_feedback(
    folder: str | Path, line: dict[str, Any], *, fsync: bool = True
) -> dict[str, Any]:
    """Validate `line`, complete it and append it to the day's file; returns the line written."""
    full = make_line(line)
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


def read_feedback(folder: str | Path, limit: int | None = None) -> list[dict[str, Any]]:
    """Our feedback lines (those with a rating and a response) in `folder`, newest first."""
    lines = []
    for path in fileio.list_files(folder):
        if path.suffix != ".jsonl":
            continue
        for line in fileio.read_jsonl(path):
            obj = line.obj
            if obj and obj.get("rating") in RATINGS and isinstance(obj.get("response"), str):
                lines.append({**obj, "file": path.name})
    lines.sort(key=lambda o: str(o.get("created_at") or ""), reverse=True)
    return lines[:limit] if limit else lines
