"""Reading an import file: a JSON array of records, JSONL (one record per line), or a table (CSV,
TSV, Parquet, or JSON as pandas writes a DataFrame; javis/data/formats/tables.py).

`open_source` says what the file is (`Source.kind`) and yields every record as an `Item`, parsed or
with the reason it is not (the same reasons as javis/core/fileio.py's JSONL reader). A file that
holds no records at all raises `Unreadable` with what was found: empty, not readable, not valid
JSON, one pretty-printed object, a chat app's export that javis cannot read (`identify_export`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from javis.core import fileio
from javis.data.formats import tables


class ImportFailed(RuntimeError):
    """The whole import cannot go on (the data folder, DVC); the message says what to do."""


class Unreadable(ValueError):
    """One file holds no record to read; the message says what it holds instead."""


@dataclass(frozen=True)
class Item:
    """One input record: `obj` when it parsed as a JSON object, else `error` says why not."""

    index: int  # 0-based position among the file's records
    line: int | None  # JSONL line number (1-based), or a table's row number (header = 1)
    obj: dict | None
    error: str | None


@dataclass
class Source:
    """A file opened for import: what it is and its records."""

    kind: str  # json | jsonl | csv | tsv | parquet | json-table
    items: Iterable[Item]
    columns: list[str] | None = None  # a table's header

    @property
    def table(self) -> bool:
        return self.columns is not None


# Chat apps' own exports (found, so the message can name them when read as a dataset format;
# javis/data/formats/chatapps.py reads them with --format auto or the app's name).
EXPORTS = (
    (
        lambda o: "mapping" in o and "current_node" in o,
        "a ChatGPT export (conversations.json: each conversation a 'mapping' tree of messages)",
    ),
    (lambda o: "chat_messages" in o and "uuid" in o, "a Claude export (conversations.json)"),
    (
        lambda o: isinstance(o.get("chat"), dict) and "history" in o["chat"],
        "an Open WebUI export (chat.history trees)",
    ),
    (lambda o: "messagesTree" in o, "a LibreChat export (messagesTree)"),
    (lambda o: "history" in o and "folders" in o, "a Chatbot UI export (history and folders)"),
)


def identify_export(obj: object) -> str | None:
    """What chat app's export this record (or whole-file object) is, or None."""
    if isinstance(obj, dict):
        for test, name in EXPORTS:
            if test(obj):
                return name
    return None


def open_source(path: str | Path, max_line_bytes: int = 1_000_000) -> Source:
    """The file's records. Raises Unreadable when it holds none (the message says what it holds)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw_head = f.read(4096)
    except OSError as e:
        raise Unreadable(f"cannot read ({e.strerror})") from None
    if not raw_head:
        raise Unreadable("empty (0 bytes)")
    kind = tables.SUFFIXES.get(path.suffix.lower())
    if raw_head.startswith(tables.PARQUET_MAGIC):
        kind = "parquet"
    if path.suffix.lower() in (".xlsx", ".xls", ".ods", ".numbers"):
        raise Unreadable(
            f"a spreadsheet workbook ({path.suffix}): save the sheet as CSV (UTF-8) or TSV and "
            "import that"
        )
    head = raw_head.lstrip(fileio.BOM).lstrip()
    if not head and not path.read_bytes().lstrip(fileio.BOM).strip():
        raise Unreadable("empty (only blank lines)")
    if kind is not None:
        try:
            columns, rows = tables.read_table(path, kind)
        except tables.TableError as e:
            raise Unreadable(str(e)) from None
        return Source(kind, _rows(rows), columns)
    if head.startswith(b"[") and not _jsonl_of_arrays(head):
        items = _load(path, "starts like a JSON array but is not valid JSON")
        if not isinstance(items, list):
            raise Unreadable("not a JSON array of records")
        if not items:
            raise Unreadable("empty (a JSON array with no records)")
        return Source("json", _array(items))
    pretty = b"\n" in head and not _first_line_is_json(head)
    if head.startswith(b"{") and (pretty or b"\n" not in head.rstrip()):
        obj = _load(path, None)  # one object (pretty-printed, or on one line), or JSONL after all
        if isinstance(obj, dict) and (found := _one_object(obj, pretty)):
            return found
    return Source(
        "jsonl",
        (
            Item(i, line.line, line.obj, line.error)
            for i, line in enumerate(fileio.read_jsonl(path, max_line_bytes))
        ),
    )


def _load(path: Path, invalid: str | None) -> object:
    data = path.read_bytes()
    try:
        return orjson.loads(data[len(fileio.BOM) :] if data.startswith(fileio.BOM) else data)
    except orjson.JSONDecodeError as e:
        if invalid is None:
            return None  # JSONL with a broken first line: read line by line
        raise Unreadable(f"{invalid} ({e})") from None


def _array(items: list) -> Iterator[Item]:
    for i, obj in enumerate(items):
        err = None if isinstance(obj, dict) else f"not_object (a JSON {type(obj).__name__})"
        err = err or fileio.unwritable(obj)  # parses, but nested too deep to write back
        yield Item(i, None, obj if err is None else None, err)


def _rows(rows: list[dict]) -> list[Item]:
    return [Item(i, i + 2, row, None) for i, row in enumerate(rows)]


def _one_object(obj: dict, pretty: bool) -> Source | None:
    """A file that is one JSON object: a table as pandas writes it, a chat app's export, or (one
    line) a JSONL file of one record (None)."""
    if export := identify_export(obj):
        raise Unreadable(f"{export}: import it with --format auto (or the app's format name)")
    frame = tables.frame_from_json(obj)
    if frame is not None:
        try:
            columns, rows = tables.frame_rows(frame, "json-table")
        except tables.TableError as e:
            raise Unreadable(str(e)) from None
        return Source("json-table", _rows(rows), columns)
    if not pretty:
        return None
    raise Unreadable(
        "one pretty-printed JSON object; expected a JSON array of records or JSONL (one record "
        "per line)"
    )


def _jsonl_of_arrays(head: bytes) -> bool:
    """JSONL whose first line is a JSON array (`[]`): its first line parses alone and more follows."""
    first, _, rest = head.partition(b"\n")
    return bool(rest.strip()) and _first_line_is_json(first)


def _first_line_is_json(head: bytes) -> bool:
    try:
        orjson.loads(head.split(b"\n", 1)[0])
        return True
    except orjson.JSONDecodeError:
        return False
