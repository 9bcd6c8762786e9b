"""Reading an import file: a JSON array of records or JSONL (one record per line).

Every record comes back as an `Item`, parsed or with the reason it is not (the same reasons as
javis/core/fileio.py's JSONL reader); a file that is neither format raises `ImportFailed`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from javis.core import fileio


class ImportFailed(RuntimeError):
    """The whole import cannot go on (unreadable file, DVC failure); the message says what to do."""


@dataclass(frozen=True)
class Item:
    """One input record: `obj` when it parsed as a JSON object, else `error` says why not."""

    index: int  # 0-based position among the file's records
    line: int | None  # JSONL line number (1-based); None for a JSON array
    obj: dict | None
    error: str | None


def read_items(path: str | Path, max_line_bytes: int = 1_000_000) -> Iterator[Item]:
    """The records of a JSON array or JSONL file. A file that is neither raises ImportFailed."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(4096).lstrip(fileio.BOM).lstrip()
    except OSError as e:
        raise ImportFailed(f"{path}: cannot read ({e.strerror})") from None
    if head.startswith(b"[") and not _jsonl_of_arrays(head):
        data = path.read_bytes()
        try:
            items = orjson.loads(data[len(fileio.BOM) :] if data.startswith(fileio.BOM) else data)
        except orjson.JSONDecodeError as e:
            raise ImportFailed(
                f"{path}: starts like a JSON array but is not valid JSON ({e})"
            ) from None
        for i, obj in enumerate(items):
            err = None if isinstance(obj, dict) else f"not_object (a JSON {type(obj).__name__})"
            err = err or fileio.unwritable(obj)  # parses, but nested too deep to write back
            yield Item(i, None, obj if err is None else None, err)
        return
    if (
        head.startswith(b"{")
        and b"\n" in head
        and not _first_line_is_json(head)
        and _one_object(path)
    ):
        raise ImportFailed(
            f"{path}: looks like one pretty-printed JSON object; expected a JSON array of records "
            "or JSONL (one record per line)"
        )
    for i, line in enumerate(fileio.read_jsonl(path, max_line_bytes)):
        yield Item(i, line.line, line.obj, line.error)


def _jsonl_of_arrays(head: bytes) -> bool:
    """JSONL whose first line is a JSON array (`[]`): its first line parses alone and more follows."""
    first, _, rest = head.partition(b"\n")
    return bool(rest.strip()) and _first_line_is_json(first)


def _one_object(path: Path) -> bool:
    """The whole file is one JSON object (pretty-printed), not JSONL with a broken first line."""
    data = path.read_bytes()
    try:
        return isinstance(
            orjson.loads(data[len(fileio.BOM) :] if data.startswith(fileio.BOM) else data), dict
        )
    except orjson.JSONDecodeError:
        return False


def _first_line_is_json(head: bytes) -> bool:
    try:
        orjson.loads(head.split(b"\n", 1)[0])
        return True
    except orjson.JSONDecodeError:
        return False
