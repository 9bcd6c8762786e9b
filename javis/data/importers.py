"""`javis import`: outside chat data -> our record shapes, at the door, with provenance.

Reads a JSON array or JSONL file in one of the formats users bring and writes the lines that
`stages/collect.py` reads:

    SFT         {"id", "messages": [...], "tools"?: [...], "meta"}            -> data/raw/
    preference  {"id", "prompt": [...], "chosen": [assistant], "rejected": [assistant], "tools"?, "meta"}
    KTO         {"id", "prompt": [...], "completion": [assistant], "label": bool, "tools"?, "meta"}

or, with `--as feedback`, feedback lines (docs/DESIGN.md) into data/feedback/: an SFT conversation is
a 👍 of its last answer, a KTO record a 👍/👎, a preference pair a 👎 of `rejected` corrected by
`chosen`.

Formats (`--format`, or `auto`: detected per record, reported per file):

| format   | a record looks like |
|---|---|
| chatml / openai | `{"messages": [{"role", "content", "tool_calls"?}], "tools"?}`; a boolean `label` makes it KTO (the last assistant turn is the completion) |
| sharegpt | `{"conversations": [{"from": human/gpt/system/function_call/observation, "value"}], "system"?, "tools"?: JSON string}`; `chosen`/`rejected` objects make it a preference pair, a boolean `kto_tag` KTO |
| alpaca   | `{"instruction", "input"?, "output", "system"?, "history"?: [[user, assistant], ...]}` |
| dpo      | `{"prompt", "chosen", "rejected"}` as strings or message lists (no prompt: the common prefix of two full conversations), or ShareGPT/Alpaca with chosen/rejected |
| kto      | `{"prompt", "completion", "label"}` as strings or message lists, or messages/conversations with `label`/`kto_tag` |

Rules: ShareGPT `function_call` turns become assistant `tool_calls` (arguments as a JSON string, ids
`call_1`, `call_2`, ... per conversation) and `observation` turns become `tool` turns answering
them; `tools` become OpenAI `{"type": "function", "function": {...}}` schemas. `{{name}}` and
`{{author}}` are filled from params `persona`. Every converted record must pass the strict record
check of `javis/data/schema.py`, else it is rejected with its index and reason.

Provenance: `meta` holds the input file, index (0-based position; `line` too for JSONL), source
name, format, import time and `content_hash` (sha256 of the converted content). The hashes of
everything imported into a folder are kept in `<folder>/.imported.jsonl` (hidden: collect skips it;
DVC versions it with the folder), so importing the same data twice adds nothing. The index is
locked (`flock`) while a batch is checked and written, so concurrent imports never lose or
duplicate a record; each batch is one new file, written atomically, named after its source. The
folder is then re-added to DVC as a whole (`dvc add data/raw`), retried while another DVC command
holds the repository lock.

Where the parts live: reading a file (JSON array or JSONL) in javis/data/formats/reading.py;
detecting a format and converting a record in javis/data/formats/conversion.py, its messages in
javis/data/formats/messages.py; here, the import transaction (index, lock, batch files) and the
command's report.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import secrets
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from javis.core import fileio, params
from javis.data import feedback
from javis.data.formats.conversion import FORMATS, ConvertError, convert, to_feedback
from javis.data.formats.reading import ImportFailed, read_items

log = logging.getLogger("javis.import")

INDEX_FILE = ".imported.jsonl"
TARGETS = ("raw", "feedback")


# --- the import --------------------------------------------------------------------------------


@dataclass
class FileReport:
    """What happened to one input file."""

    path: str
    source: str
    read: int = 0
    imported: int = 0
    duplicate: int = 0
    formats: Counter[str] = field(default_factory=Counter)
    rejected: list[tuple[int, int | None, str]] = field(
        default_factory=list
    )  # (index, line, reason)


@dataclass
class ImportReport:
    """The whole import: per file, the files written and what DVC said."""

    files: list[FileReport] = field(default_factory=list)
    written: list[tuple[str, int]] = field(default_factory=list)  # (output file, records)
    dvc: str = ""  # what `dvc add` did (or why it did not run)
    dvc_failed: bool = False

    def totals(self) -> dict[str, int]:
        return {
            "read": sum(f.read for f in self.files),
            "imported": sum(f.imported for f in self.files),
            "duplicate": sum(f.duplicate for f in self.files),
            "rejected": sum(len(f.rejected) for f in self.files),
        }


def source_name(path: str | Path) -> str:
    """A file's default source name: its stem, with characters safe in file names."""
    return safe_name(Path(path).name.split(".")[0])


def safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._-")
    return cleaned[:64] or "import"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextlib.contextmanager
def locked_index(folder: Path) -> Iterator[tuple[int, set[str]]]:
    """The folder's import index, locked for this process: (fd to append to, known hashes)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / INDEX_FILE, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another import waits here until ours is written
        known: set[str] = set()
        with open(folder / INDEX_FILE, "rb") as f:
            for raw in f:
                with contextlib.suppress(orjson.JSONDecodeError):  # a torn last line is no hash
                    h = orjson.loads(raw).get("hash")
                    if isinstance(h, str):
                        known.add(h)
        yield fd, known
    finally:
        os.close(fd)  # releases the lock


def import_files(
    files: list[str | Path],
    folder: str | Path,
    *,
    fmt: str = "auto",
    target: str = "raw",
    source: str | None = None,
    persona: dict[str, str] | None = None,
    dvc_add: Callable[[Path], str] | None = None,
    ensure_dirs: Callable[[list[str]], object] | None = None,
    max_line_bytes: int = 1_000_000,
) -> ImportReport:
    """Import `files` into `folder` (one new JSONL per source) and re-add the folder to DVC with
    `dvc_add` (`javis import` passes javis/release/vcs.py's `readd_to_dvc`; None: not added).
    `ensure_dirs([folder])` makes the folder present first (`javis import` passes
    javis/app/workspace.py's `ensure_data_dirs`: a fresh clone's folder is restored from its DVC
    pin, never replaced by an empty one; None: the folder is created when missing).

    Raises ImportFailed (before anything is written) when a file cannot be read as JSON/JSONL, or
    when the folder is missing while its `.dvc` pin holds files (a fresh clone: `dvc pull` first); a
    record that cannot be converted is only reported (FileReport.rejected); a failed `dvc add` is
    reported in `dvc` / `dvc_failed` (the files are written by then).
    """
    if fmt not in FORMATS:
        raise ValueError(f"format: expected one of {FORMATS}, got {fmt!r}")
    if target not in TARGETS:
        raise ValueError(f"target: expected raw or feedback, got {target!r}")
    folder = Path(folder)
    report = ImportReport()
    stamp = now_iso()
    batches: dict[str, list[tuple[str, dict, FileReport]]] = {}
    for path in files:
        rep = FileReport(str(path), safe_name(source) if source else source_name(path))
        report.files.append(rep)
        batch = batches.setdefault(rep.source, [])
        for item in read_items(path, max_line_bytes):
            rep.read += 1
            if item.error:
                rep.rejected.append((item.index, item.line, item.error))
                continue
            assert item.obj is not None
            try:
                conv = convert(item.obj, fmt, persona)
                fb_line = to_feedback(conv) if target == "feedback" else None
            except ConvertError as e:
                rep.rejected.append((item.index, item.line, str(e)))
                continue
            rep.formats[conv.format] += 1
            h = conv.content_hash()
            meta: dict[str, Any] = {"imported_from": str(path), "index": item.index}
            if item.line is not None:
                meta["line"] = item.line
            meta.update(
                {
                    "source": rep.source,
                    "format": conv.format,
                    "imported_at": stamp,
                    "content_hash": h,
                }
            )
            if item.obj.get("id") is not None:
                meta["orig_id"] = item.obj["id"]
            rid = f"import-{h.split(':', 1)[1][:16]}"
            if fb_line is not None:  # the same checks as `javis chat`/`serve` lines
                record = feedback.make_line(
                    {
                        "id": rid,
                        "created_at": stamp,
                        "model_version": f"import:{rep.source}",
                        **fb_line,
                        "meta": meta,
                    }
                )
            else:
                record = {"id": rid, **conv.body, "meta": meta}
            batch.append((h, record, rep))

    try:  # a fresh clone's folder is restored from its pin first: never `dvc add` an empty one over it
        if ensure_dirs is not None:
            ensure_dirs([str(folder)])
    except RuntimeError as e:  # javis.app.workspace's WorkspaceError says to `dvc pull`
        raise ImportFailed(f"{e} (then import again)") from None
    with locked_index(folder) as (fd, known):
        index_lines: list[bytes] = []
        for name, batch in batches.items():
            fresh: list[dict] = []
            for h, record, rep in batch:
                if h in known:
                    rep.duplicate += 1
                    continue
                known.add(h)
                rep.imported += 1
                fresh.append(record)
                index_lines.append(
                    fileio.dumps(
                        {"hash": h, "id": record["id"], "source": name, "imported_at": stamp}
                    )
                )
            if not fresh:
                continue
            out = (
                folder
                / f"{name}-{stamp.replace(':', '').replace('-', '')}-{secrets.token_hex(2)}.jsonl"
            )
            with fileio.atomic_open(out) as f:
                for record in fresh:
                    f.write(fileio.dumps(record))
            report.written.append((str(out), len(fresh)))
            size = os.fstat(fd).st_size
            torn = size and os.pread(fd, 1, size - 1) != b"\n"  # an import killed mid-write
            os.write(fd, (b"\n" if torn else b"") + b"".join(index_lines))
            index_lines.clear()
        os.fsync(fd)
    if not report.written:
        report.dvc = "nothing new: DVC left as it is"
    elif not dvc_add:
        report.dvc = f"not added to DVC (--no-dvc): run `dvc add {folder}` to pin it"
    else:
        try:
            report.dvc = dvc_add(folder)
        except RuntimeError as e:  # javis.release.vcs.readd_to_dvc's ReleaseError says what failed
            report.dvc, report.dvc_failed = str(e), True
    return report


# --- the command -------------------------------------------------------------------------------


def main(
    paths: params.Paths,
    persona: params.Persona,
    collect: params.Collect,
    files: list[str],
    *,
    fmt: str = "auto",
    target: str = "raw",
    source: str | None = None,
    dvc_add: Callable[[Path], str] | None = None,
    ensure_dirs: Callable[[list[str]], object] | None = None,
    out: Callable[[str], object] | None = None,
) -> int:
    """`javis import`: import into `paths.raw` (or `paths.feedback`), then print what was detected,
    every reject and the totals. `persona` fills `{{name}}`/`{{author}}`; `collect.max_line_bytes`
    bounds a JSONL line as the collect stage does; `dvc_add` and `ensure_dirs` as in `import_files`.

    Exit status 0 when every file could be read (rejected records are reported, not fatal), 1 when a
    file could not be read or DVC failed.
    """
    write = out or (lambda s: print(s, flush=True))
    folder = paths.raw if target == "raw" else paths.feedback
    try:
        report = import_files(
            files,
            folder,
            fmt=fmt,
            target=target,
            source=source,
            persona={"name": persona.name, "author": persona.author},
            dvc_add=dvc_add,
            ensure_dirs=ensure_dirs,
            max_line_bytes=collect.max_line_bytes,
        )
    except ImportFailed as e:
        write(f"javis import: {e}")
        return 1
    for rep in report.files:
        how = (
            ", ".join(f"{name} ({n})" for name, n in rep.formats.most_common())
            or "nothing convertible"
        )
        label = "detected" if fmt == "auto" else "read as"
        write(f"{rep.path}: {label} {how}; source {rep.source}")
        for index, line, reason in rep.rejected:
            where = f"line {line}" if line is not None else f"#{index}"
            write(f"  rejected {where}: {reason}")
        write(
            f"  read {rep.read}, imported {rep.imported}, duplicate {rep.duplicate}, rejected {len(rep.rejected)}"
        )
    for path, n in report.written:
        write(f"wrote {path} ({n} records)")
    t = report.totals()
    write(
        f"read {t['read']} / imported {t['imported']} / duplicate {t['duplicate']} / rejected {t['rejected']}"
    )
    write(report.dvc)
    return 1 if report.dvc_failed else 0
