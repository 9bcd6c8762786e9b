"""`javis import`: outside chat data -> our record shapes, at the door, with provenance.

Reads a JSON array or JSONL file in one of the formats users bring, or a table (CSV, TSV,
Parquet, JSON rows; javis/data/formats/tables.py: `--columns` or known column names, one record
per row), and writes the lines that `stages/collect.py` reads:

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

Chat apps' exports (ChatGPT zip or conversations.json, Claude, Open WebUI chats and feedback,
LibreChat, Chatbot UI, SillyTavern; javis/data/formats/chatapps.py) are recognised per file
(`--format auto` or the app's name) and streamed by javis/data/import_exports.py: their
conversations go to data/raw, their ratings to data/feedback, whatever `--as` says.

A file that yields no conversation (empty, unreadable, a zip without conversations.json, a table
without known columns, every record rejected) is reported with what was found and the known
formats; the other files are imported and the command exits 1.

Provenance: `meta` holds the input file, index (0-based position; `line` too for JSONL; `row`,
`table` and `columns` for a table row, the row as a spreadsheet numbers it, header = 1), source
name, format, import time and `content_hash` (sha256 of the converted content). The hashes of
everything imported into a folder are kept in `<folder>/.imported.jsonl` (hidden: collect skips it;
DVC versions it with the folder; javis/data/import_index.py), so importing the same data twice
adds nothing, and a chat app's conversation that grew replaces its earlier records. The index is
locked (`flock`) while a batch is checked and written, so concurrent imports never lose or
duplicate a record; each batch is one new file, written atomically, named after its source. Each
folder written is then re-added to DVC as a whole (`dvc add data/raw`), retried while another DVC
command holds the repository lock.

Where the parts live: reading a file (JSON array, JSONL, what a file is when it holds no
records) in javis/data/formats/reading.py, tables and column mappings in
javis/data/formats/tables.py; detecting a format and converting a record in
javis/data/formats/conversion.py, its messages in javis/data/formats/messages.py; the index
transaction in javis/data/import_index.py; chat apps' exports in javis/data/import_exports.py;
here, the flow over the files and the command's report.

Over the ~400-line guide on purpose: the flow over the files (dataset files read whole, exports
streamed, the folders' transactions, DVC re-add) and the per-file report it prints are one flow;
the formats, the index and the exports live in their own modules.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from javis.core import fileio, params
from javis.data import collecting, feedback, import_index
from javis.data.formats import chatapps, tables
from javis.data.formats.conversion import (
    FORMATS,
    KNOWN_FORMATS,
    Converted,
    ConvertError,
    convert,
    detect,
    to_feedback,
)
from javis.data.formats.reading import (
    ImportFailed,
    Source,
    Unreadable,
    identify_export,
    open_source,
)
from javis.data.import_exports import import_export, print_export, record_id
from javis.data.import_index import FolderImport

log = logging.getLogger("javis.import")

INDEX_FILE = import_index.INDEX_FILE  # the hashes of what was imported (javis/data/import_index.py)
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
    # (index, line, reason); `line` is a JSONL line, or a table's row (header = 1)
    rejected: list[tuple[int, int | None, str]] = field(default_factory=list)
    kind: str = ""  # what the file is: json | jsonl | csv | tsv | parquet | json-table
    mapping: tables.Mapping | None = None  # a table's columns -> fields
    nothing: str = ""  # why the file yielded no conversation ("" when it yielded some)
    sample: dict | None = None  # the first record of no known format (to name what was found)
    app: str = ""  # a chat app's export (javis/data/formats/chatapps.py): its format name
    conversations: Counter[str] = field(default_factory=Counter)  # read/imported/duplicate/...
    ratings: Counter[str] = field(default_factory=Counter)
    messages: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)  # messages that are not turns, by why
    pairs_found: int = 0  # regeneration pairs (kept only with import.regenerations_as_preferences)
    pairs_kept: int = 0
    pairs_on: bool = False  # import.regenerations_as_preferences

    @property
    def table(self) -> bool:
        return self.kind in tables.KIND_NAMES


@dataclass
class ImportReport:
    """The whole import: per file, the files written and what DVC said."""

    files: list[FileReport] = field(default_factory=list)
    written: list[tuple[str, int]] = field(default_factory=list)  # (output file, records)
    dvc: str = ""  # what `dvc add` did (or why it did not run)
    dvc_failed: bool = False
    replaced: int = 0  # records of conversations that grew, taken out for their new version
    changed: list[Path] = field(default_factory=list)  # folders written to

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


def import_files(
    files: list[str | Path],
    folder: str | Path,
    *,
    fmt: str = "auto",
    target: str = "raw",
    source: str | None = None,
    columns: tables.Mapping | None = None,
    persona: dict[str, str] | None = None,
    dvc_add: Callable[[Path], str] | None = None,
    ensure_dirs: Callable[[list[str]], object] | None = None,
    max_line_bytes: int = 1_000_000,
    raw_folder: str | Path | None = None,
    feedback_folder: str | Path | None = None,
    regenerations: bool = False,
) -> ImportReport:
    """Import `files` into `folder` (one new JSONL per source) and re-add the folder to DVC with
    `dvc_add` (`javis import` passes javis/release/vcs.py's `readd_to_dvc`; None: not added).
    `ensure_dirs([folder])` makes the folder present first (`javis import` passes
    javis/app/workspace.py's `ensure_data_dirs`: a fresh clone's folder is restored from its DVC
    pin, never replaced by an empty one; None: the folder is created when missing). `columns`
    maps table columns (and JSON rows' keys) to fields (`--columns`, javis/data/formats/tables.py).

    A chat app's export (javis/data/formats/chatapps.py; `fmt` auto or its name) is streamed:
    its conversations go to `raw_folder`, its ratings to `feedback_folder` (default: `folder`'s
    siblings raw/ and feedback/), whatever `target` says; `regenerations` keeps the regeneration
    pairs (params `import.regenerations_as_preferences`).

    A file that yields no conversation (empty, unreadable, no known format, every record
    rejected) is reported in its FileReport.nothing and the other files are imported; a record
    that cannot be converted is reported in FileReport.rejected. Raises ImportFailed (before
    anything is written) when the folder is missing while its `.dvc` pin holds files (a fresh
    clone: `dvc pull` first); a failed `dvc add` is reported in `dvc` / `dvc_failed` (the files
    are written by then).
    """
    if fmt not in FORMATS and fmt not in chatapps.APP_FORMATS:
        raise ValueError(f"format: expected one of {FORMATS + chatapps.APP_FORMATS}, got {fmt!r}")
    if target not in TARGETS:
        raise ValueError(f"target: expected raw or feedback, got {target!r}")
    if columns is not None and fmt != "auto":
        raise ValueError(
            f"--columns maps table columns to fields; it cannot be combined with --format {fmt}"
        )
    folder = Path(folder)
    raw = Path(raw_folder) if raw_folder else (folder if target == "raw" else folder.parent / "raw")
    fb = (
        Path(feedback_folder)
        if feedback_folder
        else (folder if target == "feedback" else folder.parent / "feedback")
    )
    report = ImportReport()
    stamp = now_iso()
    apps = {
        str(p): fmt
        if fmt in chatapps.APP_FORMATS
        else (chatapps.sniff(p) if fmt == "auto" else None)
        for p in files
    }
    needed = [str(folder)] + [str(d) for d in (raw, fb) if d != folder and any(apps.values())]
    try:  # a fresh clone's folder is restored from its pin first: never `dvc add` an empty one over it
        if ensure_dirs is not None:
            ensure_dirs(needed)
    except RuntimeError as e:  # javis.app.workspace's WorkspaceError says to `dvc pull`
        raise ImportFailed(f"{e} (then import again)") from None
    txns: dict[Path, FolderImport] = {}

    def txn(where: Path) -> FolderImport:
        if where not in txns:
            txns[where] = FolderImport(where, stamp).open()
        return txns[where]

    if any(apps.values()):  # always raw before feedback: two imports never wait on each other
        txn(raw), txn(fb)
    try:
        for path in files:
            rep = FileReport(str(path), safe_name(source) if source else source_name(path))
            report.files.append(rep)
            app = apps[str(path)]
            if app:
                import_export(path, app, rep, txn(raw), txn(fb), stamp, regenerations)
                continue
            batch = read_file(path, rep, fmt, target, columns, persona, max_line_bytes, stamp)
            if batch:
                into = txn(folder)
                for h, record in batch:
                    if into.add(h, record, rep.source):
                        rep.imported += 1
                    else:
                        rep.duplicate += 1
        for where, t in txns.items():
            written = t.commit()
            report.written += written
            report.replaced += t.replaced
            if written or t.replaced:
                report.changed.append(where)
    except BaseException as e:
        for t in txns.values():
            t.close(e)
        raise
    for t in txns.values():
        t.close()
    if not report.changed:
        report.dvc = "nothing new: DVC left as it is"
    elif not dvc_add:
        shown = " ".join(str(d) for d in report.changed)
        report.dvc = f"not added to DVC (--no-dvc): run `dvc add {shown}` to pin it"
    else:
        done = []
        for where in report.changed:
            try:
                done.append(dvc_add(where))
            except (
                RuntimeError
            ) as e:  # javis.release.vcs.readd_to_dvc's ReleaseError says what failed
                done.append(str(e))
                report.dvc_failed = True
        report.dvc = "; ".join(done)
    return report


def read_file(
    path: str | Path,
    rep: FileReport,
    fmt: str,
    target: str,
    columns: tables.Mapping | None,
    persona: dict[str, str] | None,
    max_line_bytes: int,
    stamp: str,
) -> list[tuple[str, dict]]:
    """A dataset file's records as (content hash, record); rejects and what it is go to `rep`."""
    batch: list[tuple[str, dict]] = []
    try:
        src = open_source(path, max_line_bytes)
    except Unreadable as e:
        rep.nothing = str(e)
        return batch
    rep.kind = src.kind
    rep.mapping = columns
    if src.table:
        rep.mapping, why = table_mapping(src, columns, fmt)
        if why:
            rep.nothing = why
            return batch
    for item in src.items:
        rep.read += 1
        if item.error:
            rep.rejected.append((item.index, item.line, item.error))
            continue
        assert item.obj is not None
        try:
            conv, mapping = convert_item(item.obj, fmt, rep.mapping, persona)
            fb_line = to_feedback(conv) if target == "feedback" else None
        except ConvertError as e:
            rep.rejected.append((item.index, item.line, str(e)))
            if rep.sample is None and (
                str(e).startswith("unknown_format") or identify_export(item.obj)
            ):
                rep.sample = item.obj
            continue
        rep.formats[conv.format] += 1
        h = conv.content_hash()
        meta: dict[str, Any] = {"imported_from": str(path), "index": item.index}
        if item.line is not None:
            meta["row" if src.table else "line"] = item.line
        meta.update(
            {"source": rep.source, "format": conv.format, "imported_at": stamp, "content_hash": h}
        )
        if src.table:
            meta["table"] = src.kind
        if mapping is not None:
            meta["columns"] = dict(mapping.columns)
        orig_id = item.obj.get("id")
        if orig_id is not None and orig_id != "":
            meta["orig_id"] = orig_id
        rid = record_id(h)
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
        batch.append((h, record))
    if not rep.formats:
        rep.nothing = why_nothing(rep)
    return batch


def table_mapping(
    src: Source, columns: tables.Mapping | None, fmt: str
) -> tuple[tables.Mapping | None, str | None]:
    """(the mapping a table's rows are read with, or why its rows cannot be read at all)."""
    assert src.columns is not None
    if columns is not None:
        return columns, tables.missing_columns(columns, src.columns)
    if fmt != "auto":
        return None, None  # every row read as that format (e.g. a Parquet `messages` column)
    if known := tables.known_mapping(src.columns):
        return known, None
    first = next(iter(src.items), None)
    if first is not None and first.obj is not None and detect(first.obj) is not None:
        return None, None  # columns named like a format's keys (messages, conversations)
    kind = tables.KIND_NAMES[src.kind]
    return None, (
        f"a {kind} table needs --columns or known column names ({tables.KNOWN_NAMES}); its "
        f"columns: {', '.join(src.columns)}{tables.suggestion(src.columns)}"
    )


def convert_item(
    obj: dict, fmt: str, mapping: tables.Mapping | None, persona: dict[str, str] | None
) -> tuple[Converted, tables.Mapping | None]:
    """One record -> ours, and the column mapping used (a table row, or a JSON row whose keys are
    known column names but no format, e.g. prompt/response). Raises ConvertError."""
    if mapping is None and fmt == "auto" and detect(obj) is None:
        mapping = tables.known_mapping(list(obj))
    if mapping is None:
        return convert(obj, fmt, persona), None
    record, record_format = tables.row_record(obj, mapping)
    conv = convert(record, record_format, persona)
    conv.format = mapping.shape
    return conv, mapping


def why_nothing(rep: FileReport) -> str:
    """Why a file that was read yielded no conversation."""
    if rep.read == 0:
        return "empty (no records)"
    reasons = Counter(fileio.reason_key(r) for _, _, r in rep.rejected)
    if export := identify_export(rep.sample):
        return f"{export}: import it with --format auto (or the app's format name)"
    if set(reasons) == {"unknown_format"} and rep.sample is not None:
        keys = ", ".join(sorted(rep.sample)[:8]) or "none"
        flat = all(not isinstance(v, dict | list) for v in rep.sample.values())
        return f"no record in a known format (the first has the keys {keys})" + (
            f"; rows of a table need --columns{tables.suggestion(sorted(rep.sample))}"
            if flat
            else ""
        )
    counts = ", ".join(f"{k} {n}" for k, n in reasons.most_common())
    return f"every record was rejected ({counts})"


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
    columns: str | None = None,
    dvc_add: Callable[[Path], str] | None = None,
    ensure_dirs: Callable[[list[str]], object] | None = None,
    out: Callable[[str], object] | None = None,
    imports: params.Import | None = None,
) -> int:
    """`javis import`: import into `paths.raw` (or `paths.feedback`), then print what was detected,
    every reject, each file that yielded nothing and why, and the totals. `persona` fills
    `{{name}}`/`{{author}}`; `collect.max_line_bytes` bounds a JSONL line as the collect stage
    does; `columns` is `--columns FIELD=COLUMN,...`; `dvc_add` and `ensure_dirs` as in
    `import_files`. The first import that ends the bundled examples' use (collect reads examples/
    only while data/raw and data/feedback are empty) says so, once.

    Exit status 0 when every file yielded a conversation (rejected records are reported, not
    fatal); 1 when a file yielded none, the data folder is missing, or DVC failed; 2 for a bad
    `--columns`.
    """
    write = out or (lambda s: print(s, flush=True))
    folder = paths.raw if target == "raw" else paths.feedback
    try:
        mapping = tables.parse_columns(columns) if columns is not None else None
        if mapping is not None and fmt != "auto":
            raise tables.TableError(
                f"--columns maps table columns to fields; it cannot be combined with --format {fmt}"
            )
    except tables.TableError as e:
        write(f"javis import: {e}")
        return 2
    reading_examples = collecting.roots(paths, collect.use_examples)[2]
    try:
        report = import_files(
            files,
            folder,
            fmt=fmt,
            target=target,
            source=source,
            columns=mapping,
            persona={"name": persona.name, "author": persona.author},
            dvc_add=dvc_add,
            ensure_dirs=ensure_dirs,
            max_line_bytes=collect.max_line_bytes,
            raw_folder=paths.raw,
            feedback_folder=paths.feedback,
            regenerations=(imports or params.Import()).regenerations_as_preferences,
        )
    except ImportFailed as e:
        write(f"javis import: {e}")
        return 1
    for rep in report.files:
        print_file(rep, fmt if mapping is None else "columns", write)
    for path, n in report.written:
        write(f"wrote {path} ({n} records)")
    if report.replaced:
        write(
            f"replaced {report.replaced} earlier record(s) of conversations that grew since their "
            "last import (taken out of their files)"
        )
    if report.written and reading_examples and not collecting.roots(paths, collect.use_examples)[2]:
        write(examples_notice(paths.examples, folder, collect))
    t = report.totals()
    write(
        f"read {t['read']} / imported {t['imported']} / duplicate {t['duplicate']} / rejected {t['rejected']}"
    )
    write(report.dvc)
    empty = [rep.path for rep in report.files if rep.nothing]
    if empty:
        write(
            f"javis import: no conversation read from {len(empty)} of {len(report.files)} "
            f"file(s): {', '.join(empty)}"
        )
    return 1 if report.dvc_failed or empty else 0


# Reasons that are about the file itself, not its format: no list of known formats after them.
NOT_A_FORMAT_PROBLEM = (
    "empty",
    "cannot read",
    "cannot be read as",
    "not UTF-8",
    "--columns names",
    "every record was rejected",
    "every conversation was rejected",
    "a zip",
    "nested deeper",
    "a spreadsheet workbook",
    "starts like a JSON array",
)
MAX_REJECTS_SHOWN = 20  # per file that yielded nothing (a whole export of another format)


def print_file(rep: FileReport, how: str, write: Callable[[str], object]) -> None:
    """One file's lines of the report; `how` is the --format, or `columns` for --columns."""
    where_kind = "row" if rep.table else "line"
    if rep.app and not rep.nothing:
        print_export(rep, write)
        return
    if rep.nothing:
        why = rep.nothing
        if not why.startswith(NOT_A_FORMAT_PROBLEM):
            why += f"; known formats: {KNOWN_FORMATS}"
        write(f"{rep.path}: no conversation read: {why}")
    else:
        found = ", ".join(f"{name} ({n})" for name, n in rep.formats.most_common())
        label = "detected" if how == "auto" else "read as"
        if rep.table:
            cols = f"columns {rep.mapping.describe()}" if rep.mapping else "rows"
            label = f"{tables.KIND_NAMES[rep.kind]} {cols}: {label}"
        write(f"{rep.path}: {label} {found}; source {rep.source}")
    shown = rep.rejected
    if rep.nothing:  # a whole file of something else: its first rejects say enough
        unknown = all(r.startswith("unknown_format") for _, _, r in rep.rejected)
        shown = [] if unknown else rep.rejected[:MAX_REJECTS_SHOWN]
    for index, line, reason in shown:
        where = f"{where_kind} {line}" if line is not None else f"#{index}"
        write(f"  rejected {where}: {reason}")
    if shown and len(shown) < len(rep.rejected):
        write(f"  ... and {len(rep.rejected) - len(shown)} more rejected")
    if rep.read or not rep.nothing:
        write(
            f"  read {rep.read}, imported {rep.imported}, duplicate {rep.duplicate}, rejected {len(rep.rejected)}"
        )


def examples_notice(examples: str, folder: str, collect: params.Collect) -> str:
    """What the bundled samples are for once the user's own data is in."""
    gone = f"{examples.rstrip('/')}/ is no longer read now that {folder} holds your data"
    if getattr(collect, "persona_examples", True) is False:
        return (
            f"{gone}; collect.persona_examples is off, so who the assistant is comes only from "
            "your data (and persona.system_prompt)"
        )
    return (
        f"{gone}; who the assistant is comes from params persona: (collect.persona_examples, "
        "on by default)"
    )
