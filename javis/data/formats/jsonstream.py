"""JSON values streamed from a file with ijson's C backend, nesting bounded.

`values(f, depth=1)` yields each value at that depth of the document as it completes: with
`depth=1`, the elements of a top-level array (one conversation of an export at a time, never the
whole file); with `depth=0`, the document itself; with `depth=2, under=KEY`, the elements of the
array under a top-level object's KEY (Chatbot UI's `history`). `top_keys(f)` names a top-level object's keys.

Built here from ijson's `basic_parse` events rather than `ijson.items`, which keeps the path
prefix of every level: a maliciously deep file (100,000 nested arrays) makes that quadratic in
memory. Deeper than `MAX_DEPTH` raises TooDeep; invalid JSON raises ijson.JSONError.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import ijson

MAX_DEPTH = 10_000  # LibreChat's messagesTree nests two levels per message


class TooDeep(ValueError):
    """Nesting deeper than MAX_DEPTH."""


def values(f: IO[bytes], depth: int = 1, under: str | None = None) -> Iterator[Any]:
    """The values at nesting `depth` (0: the document; 1: a top-level array's elements; 2 with
    `under="history"`: the elements of the top-level object's `history`, the rest skipped)."""
    outer: list[tuple[Any, Any]] = []  # (container, its key in its parent) of each open level
    current: Any = None  # the innermost open container
    key: Any = None  # the pending key in `current` (an object)
    top: Any = None  # the top-level key the current value is under
    level = 0
    for event, value in ijson.basic_parse(f, use_float=True):
        if event == "map_key":
            key = value
            if level == 1:
                top = value
            continue
        if event == "start_map" or event == "start_array":
            if level >= MAX_DEPTH:
                raise TooDeep(f"nested deeper than {MAX_DEPTH} levels")
            outer.append((current, key))
            current, key = ({} if event == "start_map" else []), None
            level += 1
            continue
        if event == "end_map" or event == "end_array":
            value = current
            current, key = outer.pop()
            level -= 1
        if under is not None and level >= 1 and top != under:
            continue  # not under the wanted key: nothing of it is kept
        if level == depth:
            yield value
        elif level > depth:
            if type(current) is list:
                current.append(value)
            else:
                current[key] = value


def top_keys(f: IO[bytes], enough: Any = None, limit: int = 1_000_000) -> set[str]:
    """The keys of a top-level JSON object, scanning at most `limit` parser events (or until
    `enough(keys)` is true); nothing below the top level is built."""
    keys: set[str] = set()
    level = 0
    for n, (event, value) in enumerate(ijson.basic_parse(f)):
        if event in ("start_map", "start_array"):
            level += 1
        elif event in ("end_map", "end_array"):
            level -= 1
        elif event == "map_key" and level == 1:
            keys.add(value)
            if enough is not None and enough(keys):
                break
        if n >= limit or level > MAX_DEPTH:
            break
    return keys
