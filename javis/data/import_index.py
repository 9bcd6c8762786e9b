"""One data folder's import transaction: its locked index of content hashes, the batch files being
written, and the records of conversations that grew, replaced.

`<folder>/.imported.jsonl` (hidden: collect skips it; DVC versions it with the folder) has a line
per imported record, `{"hash", "id", "source", "imported_at", "file"?, "key"?, "updated"?}`, and a
line per record taken out again, `{"removed": hash, "key", "file", "at"}`. A record whose hash is
in the index (removed or not) is a duplicate: importing the same data twice adds nothing.

`key` is `app:conversation id` for a chat app's conversation (javis/data/formats/chatapps.py): a
new version of a conversation (it grew since the last import) replaces the records of the earlier
one, which are deleted from their batch file, so the old prefix is never trained on beside the new
one. An export older than the one imported (its `updated` time is earlier) changes nothing. A
rating's key is its message: a changed rating is a new feedback line that `replaces` the earlier
one (javis/data/feedback.py), since feedback files are append-only.

The index is locked (`flock`) from the first record to the commit, so concurrent imports never lose
or duplicate a record; each source's records stream into one new batch file, written atomically
(`<source>-<UTC stamp>-<4 hex>.jsonl`); the index lines are appended after the files are in place.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from pathlib import Path
from typing import IO, Any

import orjson

from javis.core import fileio

INDEX_FILE = ".imported.jsonl"


class FolderImport:
    """The import into one folder: opened (and locked) by `open`, finished by `commit`."""

    def __init__(self, folder: str | Path, stamp: str) -> None:
        self.folder = Path(folder)
        self.stamp = stamp
        self.fd = -1
        self.known: set[str] = set()
        self.live: dict[str, dict[str, tuple[str, str]]] = {}  # key -> hash -> (id, file)
        self.updated: dict[str, str] = {}
        self.latest: dict[str, str] = {}  # key -> the id of its record imported last
        self.ours: set[str] = set()  # files written by imports (not captures)
        self.outs: dict[str, tuple[Path, Any, IO[bytes], int]] = {}  # source -> file being written
        self.lines: list[bytes] = []
        self.removals: dict[str, set[str]] = {}  # file -> ids to take out
        self.replaced = 0

    def open(self) -> FolderImport:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.folder / INDEX_FILE, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
        fcntl.flock(self.fd, fcntl.LOCK_EX)  # another import waits here until ours is written
        with open(self.folder / INDEX_FILE, "rb") as f:
            for raw in f:
                with contextlib.suppress(orjson.JSONDecodeError, AttributeError):
                    self._load(orjson.loads(raw))  # a torn last line is no entry
        return self

    def _load(self, e: dict) -> None:
        if isinstance(e.get("removed"), str):
            self.live.get(e.get("key") or "", {}).pop(e["removed"], None)
            return
        h = e.get("hash")
        if not isinstance(h, str):
            return
        self.known.add(h)
        if isinstance(e.get("file"), str):
            self.ours.add(e["file"])
        key = e.get("key")
        if isinstance(key, str):
            self.live.setdefault(key, {})[h] = (str(e.get("id")), str(e.get("file") or ""))
            self.updated[key] = max(self.updated.get(key, ""), str(e.get("updated") or ""))
            self.latest[key] = str(e.get("id"))

    # --- adding ----------------------------------------------------------------------------------

    def add(
        self, h: str, record: dict, source: str, key: str | None = None, updated: str = ""
    ) -> bool:
        """Write `record` unless its hash is known; False for a duplicate."""
        if h in self.known:
            return False
        self.known.add(h)
        name = self._write(source, record)
        entry: dict[str, Any] = {
            "hash": h,
            "id": record["id"],
            "source": source,
            "imported_at": self.stamp,
            "file": name,
        }
        if key is not None:
            entry["key"], entry["updated"] = key, updated
            self.live.setdefault(key, {})[h] = (record["id"], name)
            self.updated[key] = max(self.updated.get(key, ""), updated)
            self.latest[key] = record["id"]
        self.lines.append(fileio.dumps(entry))
        return True

    def add_version(
        self,
        key: str,
        updated: str,
        records: list[tuple[str, dict]],
        source: str,
        *,
        supersede: bool = False,
    ) -> str:
        """All records of one conversation (or rating) `key`: `duplicate` (every hash known),
        `older` (an earlier version than the one imported) or `imported`. A new version replaces
        the earlier one's records (`supersede`: the new line `replaces` the earlier, for feedback)."""
        if all(h in self.known for h, _ in records):
            return "duplicate"
        old = dict(self.live.get(key, {}))
        if old and updated and self.updated.get(key, "") > updated:
            return "older"
        new = {h for h, _ in records}
        for h, record in records:
            if supersede and key in self.latest:
                record["replaces"] = self.latest[key]  # feedback lines are append-only
            self.add(h, record, source, key, updated)
        if supersede:
            return "imported"
        for h, (rid, name) in old.items():
            if h in new:
                continue
            self.live[key].pop(h, None)
            self.removals.setdefault(name, set()).add(rid)
            self.replaced += 1
            entry = {"removed": h, "key": key, "id": rid, "file": name, "at": self.stamp}
            self.lines.append(fileio.dumps(entry))
        return "imported"

    def _write(self, source: str, record: dict) -> str:
        if source not in self.outs:
            stamp = self.stamp.replace(":", "").replace("-", "")
            path = self.folder / f"{source}-{stamp}-{secrets.token_hex(2)}.jsonl"
            cm = fileio.atomic_open(path)
            self.outs[source] = (path, cm, cm.__enter__(), 0)
        path, cm, f, n = self.outs[source]
        f.write(fileio.dumps(record))
        self.outs[source] = (path, cm, f, n + 1)
        return path.name

    # --- finishing -------------------------------------------------------------------------------

    def commit(self) -> list[tuple[str, int]]:
        """Put the batch files in place, take replaced records out, append the index lines."""
        written = []
        for path, cm, _f, n in self.outs.values():
            cm.__exit__(None, None, None)
            written.append((str(path), n))
        self.outs.clear()
        for name, ids in self.removals.items():
            drop_records(self.folder / name, ids)
        if self.lines:
            size = os.fstat(self.fd).st_size
            torn = size and os.pread(self.fd, 1, size - 1) != b"\n"  # an import killed mid-write
            os.write(self.fd, (b"\n" if torn else b"") + b"".join(self.lines))
            os.fsync(self.fd)
        self.lines.clear()
        return written

    def close(self, error: BaseException | None = None) -> None:
        """Release the lock; with `error`, the batch files not committed are discarded."""
        for _path, cm, _f, _n in self.outs.values():
            with contextlib.suppress(BaseException):
                cm.__exit__(type(error or RuntimeError), error or RuntimeError("aborted"), None)
        self.outs.clear()
        if self.fd >= 0:
            os.close(self.fd)  # releases the lock
            self.fd = -1


def drop_records(path: Path, ids: set[str]) -> None:
    """Rewrite the JSONL file `path` without the records whose id is in `ids` (atomically; the
    file is removed when nothing is left)."""
    if not ids or not path.is_file():
        return
    kept = []
    with open(path, "rb") as f:
        for raw in f:
            try:
                rid = orjson.loads(raw).get("id")
            except (orjson.JSONDecodeError, AttributeError):
                rid = None
            if rid not in ids and raw.strip():
                kept.append(raw if raw.endswith(b"\n") else raw + b"\n")
    if not kept:
        path.unlink()
        return
    with fileio.atomic_open(path) as f:
        f.writelines(kept)
