"""`javis import` of a chat app's export (javis/data/formats/chatapps.py): its conversations
streamed into data/raw and its ratings into data/feedback through javis/data/import_index.py, with
the per-conversation, per-message and per-rating counts, and what `javis serve` captured itself
left out.

A conversation is imported whole or reported rejected with its index, id and reason. An Open WebUI
chat that was served by `javis serve` duplicates serve's captures in data/raw (lines
`{messages, answer, version, completion_id, time}`) and its ratings in data/feedback: such a
conversation (every answer of it captured) or rating is counted `served` and not imported.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from javis.core import progress
from javis.data import feedback
from javis.data.formats import chatapps
from javis.data.formats.units import Out, Unit
from javis.data.import_index import FolderImport

if TYPE_CHECKING:
    from javis.data.importers import FileReport

log = logging.getLogger("javis.import")


def record_id(h: str) -> str:
    """A record's id from its content hash."""
    return f"import-{h.split(':', 1)[1][:16]}"


def import_export(
    path: str | Path,
    app: str,
    rep: FileReport,
    raw: FolderImport,
    fb: FolderImport,
    stamp: str,
    regenerations: bool,
) -> None:
    """Stream one chat app's export into `raw` (conversations) and `fb` (ratings). Every
    conversation is imported whole or reported rejected with its index, id and reason; one that
    `javis serve` already captured (an Open WebUI chat served by javis) is a duplicate."""
    rep.app, rep.kind, rep.pairs_on = app, "export", regenerations
    served, rated = served_keys(raw), rated_keys(fb)
    with contextlib.ExitStack() as stack:
        try:
            export = chatapps.open_export(path, app, stack, pairs=regenerations)
        except (chatapps.ExportError, OSError) as e:
            rep.nothing = str(getattr(e, "strerror", None) and f"cannot read ({e.strerror})" or e)
            return
        total = max(1, export.size // 1_000_000)
        bar = stack.enter_context(
            progress.Progress(f"import {Path(path).name}", total, "MB", log=log, every=10)
        )
        for unit in export.units:
            bar.update(
                min(total, export.position() // 1_000_000)
            )  # a log line per 10 s off a terminal
            import_unit(unit, rep, raw, fb, stamp, served, rated)
        bar.update(total)
    if not rep.formats:
        rep.nothing = (
            "empty (no conversation in the export)"
            if rep.read == 0
            else f"every conversation was rejected ({len(rep.rejected)})"
        )


def import_unit(
    unit: Unit,
    rep: FileReport,
    raw: FolderImport,
    fb: FolderImport,
    stamp: str,
    served: set[str],
    rated: set[str],
) -> None:
    counts = rep.conversations if unit.kind == "conversation" else rep.ratings
    counts["read"] += 1
    rep.read += 1
    rep.messages["read"] += unit.messages
    rep.messages["skipped"] += sum(unit.skipped.values())
    rep.skipped.update(unit.skipped)
    rep.pairs_found += unit.pairs_found
    if unit.error is None:
        try:
            records = [(o.hash, full_record(o, unit, rep, stamp)) for o in unit.outs]
        except feedback.FeedbackError as e:
            unit.error = f"not_feedback ({e})"
    if unit.error is not None:
        counts["rejected"] += 1
        rep.messages["rejected"] += unit.turns
        what = "rating" if unit.kind == "rating" else "conversation"
        rep.rejected.append((unit.index, None, f"{what} {unit.ident}: {unit.error}"))
        return
    rep.formats[chatapps.APP_NAMES[rep.app]] += 1
    into = raw if unit.kind == "conversation" else fb
    if unit.kind == "conversation":
        seen = bool(unit.answers) and all(
            chatapps.answer_key(p, a) in served for p, a in unit.answers
        )
    else:
        line = records[0][1]
        seen = chatapps.rated_key(line) in rated
    status = (
        "served"
        if seen
        else into.add_version(
            unit.key or f"{rep.app}:{unit.ident}",
            unit.updated,
            records,
            rep.source,
            supersede=unit.kind == "rating",
        )
    )
    if status == "imported":
        counts["imported"] += 1
        rep.imported += 1
        rep.messages["imported"] += unit.turns
        rep.pairs_kept += sum(1 for o in unit.outs if o.meta.get("source_kind") == "regeneration")
    else:
        counts["duplicate"] += 1
        counts[status] += status != "duplicate"
        rep.duplicate += 1
        rep.messages["duplicate"] += unit.turns


def full_record(out: Out, unit: Unit, rep: FileReport, stamp: str) -> dict:
    """An out of a unit as the line written: our record (or a checked feedback line), with meta."""
    meta: dict[str, Any] = {
        "imported_from": rep.path,
        "index": unit.index,
        "source": rep.source,
        "format": rep.app,
        "imported_at": stamp,
        "content_hash": out.hash,
        **out.meta,
    }
    if out.target == "raw":
        return {"id": record_id(out.hash), **out.body, "meta": meta}
    body = dict(out.body)
    body["created_at"] = body.get("created_at") or stamp
    return feedback.make_line({"id": record_id(out.hash), **body, "meta": meta})


def served_keys(raw: FolderImport) -> set[str]:
    """What `javis serve` captured into the raw folder (its own lines, not imported ones)."""
    return {
        k
        for obj in lines_not_imported(raw, b'"completion_id"')
        if (k := chatapps.capture_key(obj)) is not None
    }


def rated_keys(fb: FolderImport) -> set[str]:
    """The ratings `javis chat`/`serve` wrote into the feedback folder (not imported ones)."""
    return {
        k
        for obj in lines_not_imported(fb, b'"rating"')
        if (k := chatapps.rated_key(obj)) is not None
    }


def lines_not_imported(t: FolderImport, needle: bytes) -> Iterator[dict]:
    for p in sorted(t.folder.glob("[!.]*.jsonl")):
        if p.name in t.ours:
            continue
        with open(p, "rb") as f:
            for raw in f:
                if needle in raw:
                    with contextlib.suppress(orjson.JSONDecodeError):
                        obj = orjson.loads(raw)
                        if isinstance(obj, dict):
                            yield obj


def print_export(rep: FileReport, write: Callable[[str], object]) -> None:
    """A chat app's export: per conversation, per message, per rating, then each reject."""
    write(f"{rep.path}: {chatapps.APP_NAMES[rep.app]} export; source {rep.source}")

    def counts(c: Counter[str], *extra: str) -> str:
        keys = ("read", "imported", "duplicate", "rejected", *extra)
        text = ", ".join(f"{k} {c[k]}" for k in keys)
        why = [f"{c[k]} {k}" for k in ("served", "older") if c[k]]
        return text + (f" ({', '.join(why)})" if why else "")

    if rep.conversations:
        write(f"  conversations: {counts(rep.conversations)}")
        skipped = ", ".join(f"{k} {n}" for k, n in rep.skipped.most_common())
        write(
            f"  messages: {counts(rep.messages, 'skipped')}" + (f" ({skipped})" if skipped else "")
        )
    if rep.ratings:
        write(f"  ratings: {counts(rep.ratings)}")
    if rep.pairs_found and rep.pairs_on:
        write(
            f"  regeneration pairs: {rep.pairs_found} found, {rep.pairs_kept} imported "
            "(params import.regenerations_as_preferences)"
        )
    elif rep.pairs_found:
        write(
            f"  regeneration pairs: {rep.pairs_found} found, not imported (params "
            "import.regenerations_as_preferences is false)"
        )
    for index, _line, reason in rep.rejected:
        write(f"  rejected #{index}: {reason}" if index >= 0 else f"  rejected: {reason}")
