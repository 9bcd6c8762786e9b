"""Capture of `javis serve`: every completed exchange as one conversation log line.

`Capture.add` appends the line to `data/raw/served-<UTC date>.jsonl` (when enabled) with
javis/data/feedback.py's `append_line` (O_APPEND + flock + one write: whole or absent, with any
number of writers), and remembers the last ones in memory, so `POST /v1/feedback` finds a
completion by id even with capture off; `find` falls back to the served files, newest first.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from pathlib import Path

from javis.data import feedback


class Capture:
    """Served exchanges: appended to data/raw/served-<date>.jsonl when `enabled`, and remembered
    (the last `remember` of them, in memory, capture on or off) so /v1/feedback finds them."""

    def __init__(self, folder: str | Path, enabled: bool, remember: int = 10_000) -> None:
        self.folder, self.enabled, self.limit = Path(folder), enabled, remember
        self.recent: OrderedDict[str, dict] = OrderedDict()
        self.lock = threading.Lock()

    def path(self, created_at: str) -> Path:
        return self.folder / f"served-{created_at[:10]}.jsonl"

    def add(self, line: dict) -> None:
        with self.lock:
            self.recent[line["id"]] = line
            while len(self.recent) > self.limit:
                self.recent.popitem(last=False)
        if self.enabled:
            self.folder.mkdir(parents=True, exist_ok=True)
            data = (json.dumps(line, ensure_ascii=False) + "\n").encode()
            feedback.append_line(self.path(line["created_at"]), data)

    def find(self, completion_id: str) -> dict | None:
        """The captured line of `completion_id` (memory first, then the served files, newest first)."""
        with self.lock:
            if completion_id in self.recent:
                return self.recent[completion_id]
        needle = json.dumps(completion_id)
        for path in sorted(self.folder.glob("served-*.jsonl"), reverse=True):
            with open(path, encoding="utf-8", errors="replace") as f:
                for text in f:
                    if needle not in text:
                        continue
                    try:
                        obj = json.loads(text)
                    except json.JSONDecodeError:
                        continue
                    if isinstance(obj, dict) and obj.get("id") == completion_id:
                        return obj
        return None
