"""Streaming JSONL in, atomic files out, and the per-stage record accounting.

Reading never raises on a bad line: each line comes back either parsed or with the reason it
could not be (`not_utf8`, `bad_json`, `not_object`, `too_large`), so the caller rejects it with
file and line. Writing goes to a temporary file in the same folder, renamed into place at the end,
so a crashed stage never leaves a partial file under the final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

BOM = b"\xef\xbb\xbf"
# The start of a line kept with its reject (redacted before use): well beyond the 2,000 characters a
# reject shows, so that no secret straddles the cut of what is shown.
EXCERPT = 8192
_UMASK = os.umask(0)
os.umask(_UMASK)


@dataclass(frozen=True)
class Line:
    """One input line: `obj` when it parsed as a JSON object, else `error` says why not."""

    file: str
    line: int
    obj: dict | None
    error: str | None
    raw: bytes


def read_jsonl(path: str | Path, max_bytes: int = 1_000_000) -> Iterator[Line]:
    """Yield every non-blank line of a JSONL file (BOM and CRLF tolerated)."""
    name = str(path)
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if (line := parse_line(name, number, raw, max_bytes)) is not None:
                yield line


def parse_line(name: str, number: int, raw: bytes, max_bytes: int = 1_000_000) -> Line | None:
    """One line of file `name` -> Line (parsed, or the reason it is not); None when blank."""
    if number == 1 and raw.startswith(BOM):
        raw = raw[len(BOM) :]
    stripped = raw.strip()
    if not stripped:
        return None
    if len(stripped) > max_bytes:
        return Line(
            name,
            number,
            None,
            f"too_large ({len(stripped)} bytes > {max_bytes})",
            stripped[:EXCERPT],
        )
    try:
        stripped.decode("utf-8")
    except UnicodeDecodeError as e:
        return Line(name, number, None, f"not_utf8 (byte {e.start})", stripped[:EXCERPT])
    try:
        obj = orjson.loads(stripped)
    except orjson.JSONDecodeError as e:
        return Line(name, number, None, f"bad_json ({e})", stripped)
    if not isinstance(obj, dict):
        return Line(name, number, None, f"not_object (a JSON {type(obj).__name__})", stripped)
    if (err := unwritable(obj, stripped)) is not None:
        return Line(name, number, None, err, stripped[:EXCERPT])
    return Line(name, number, obj, None, stripped)


# orjson parses 1024 levels of nesting but writes at most 254: a record between the two would parse
# here and crash the stage that writes it. No real chat record nests beyond a few dozen levels.
_MAX_DEPTH_HINT = 250


def unwritable(obj: object, raw: bytes | None = None) -> str | None:
    """Why a parsed value could not be written back as JSON (`too_deep`), or None when it can.

    With `raw` (its JSON text), values with fewer than 250 brackets in all skip the check (it cannot
    nest that deep), so ordinary lines cost two byte counts."""
    if raw is not None and raw.count(b"[") + raw.count(b"{") <= _MAX_DEPTH_HINT:
        return None
    try:
        orjson.dumps(obj)
    except orjson.JSONEncodeError as e:
        return f"too_deep ({e}: nested deeper than JSON writers allow)"
    return None


def iter_records(path: str | Path) -> Iterator[dict]:
    """Records of a file this project wrote itself (trusted: a bad line is a bug, so it raises)."""
    with open(path, "rb") as f:
        for raw in f:
            if raw.strip():
                yield orjson.loads(raw)


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj) + b"\n"


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """Open a temp file beside `path`; on success fsync and rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a finished file gets the usual mode
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def replace_dir(out: str | Path) -> Iterator[Path]:
    """A temp folder beside `out` to build a whole folder in; on success it replaces `out` (removed
    first when it exists), on failure it is removed. `out` is whole or absent, never half written."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(0o777 & ~_UMASK)  # mkdtemp makes 0700; a finished folder gets the usual mode
    try:
        yield tmp
        if out.is_symlink() or out.is_file():
            out.unlink()
        elif out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def write_json(path: str | Path, obj: Any) -> None:
    """Atomically write pretty, key-sorted JSON (stable bytes for git and DVC)."""
    with atomic_open(path) as f:
        f.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")


def write_text(path: str | Path, text: str) -> None:
    with atomic_open(path) as f:
        f.write(text.encode("utf-8"))


class JsonlWriter:
    """Several JSONL outputs written atomically together: all renamed at `close()`."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()
        self._files: dict[str, IO] = {}
        self.counts: Counter[str] = Counter()

    def open(self, key: str, path: str | Path) -> None:
        self._files[key] = self._stack.enter_context(atomic_open(path))

    def write(self, key: str, record: dict) -> None:
        self._files[key].write(dumps(record))
        self.counts[key] += 1

    def write_line(self, key: str, line: bytes) -> None:
        """A line already serialised by `dumps` (a worker process made it)."""
        self._files[key].write(line)
        self.counts[key] += 1

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> bool | None:
        return self._stack.__exit__(*exc)


# --- parallel map over a file's lines, results in input order (output bytes do not depend on jobs) ---

PARALLEL_MIN_BYTES = 8 << 20  # below ~8 MB (~7k records) starting workers costs more than it saves


def jobs(input_bytes: int) -> int:
    """Worker processes for a stage: `JAVIS_JOBS` (0 or unset = every core this process may use),
    and 1 for small inputs. The outputs are the same for any number: only the wall time changes."""
    wanted = int(os.environ.get("JAVIS_JOBS", "0") or 0)
    if wanted <= 0:
        wanted = (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1
        )
    return 1 if input_bytes < PARALLEL_MIN_BYTES else wanted


def read_chunks(path: str | Path, size: int = 500) -> Iterator[list[bytes]]:
    """A file's non-blank lines in lists of `size` (the unit of work sent to a worker)."""
    for chunk in read_numbered_chunks(path, size):
        yield [raw for _, raw in chunk]


def read_numbered_chunks(path: str | Path, size: int = 500) -> Iterator[list[tuple[int, bytes]]]:
    """(line number, line) of a file's non-blank lines, in lists of `size` (see `parse_line`)."""
    chunk: list[tuple[int, bytes]] = []
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if raw.strip():
                chunk.append((number, raw))
                if len(chunk) >= size:
                    yield chunk
                    chunk = []
    if chunk:
        yield chunk


# One worker process's state, set once by `map_ordered` from `init(*initargs)`; a chunk function
# reads it with `worker_state()` (the same in this process when the map runs with one job).
_WORKER_STATE: dict[str, Any] = {}


def worker_state() -> dict[str, Any]:
    """The state `map_ordered`'s `init` returned, in the process running the chunk function."""
    return _WORKER_STATE


def _install_worker(init: Any, initargs: tuple) -> None:
    _WORKER_STATE.clear()
    _WORKER_STATE.update(init(*initargs))


def map_ordered(
    fn: Any, chunks: Iterator, n_jobs: int, init: Any = None, initargs: tuple = ()
) -> Iterator:
    """`fn(chunk)` for every chunk, in order: in this process when `n_jobs` is 1, else in a pool
    of `n_jobs` processes with at most 2 x `n_jobs` chunks in flight (memory stays bounded).
    `init(*initargs)` returns each worker's state (a dict), read by `fn` with `worker_state()`."""
    if n_jobs <= 1:
        if init is not None:
            _install_worker(init, initargs)
        yield from map(fn, chunks)
        return
    import multiprocessing
    from collections import deque

    args = (init, initargs) if init is not None else ()
    with multiprocessing.get_context().Pool(
        n_jobs, _install_worker if args else None, args
    ) as pool:
        pending: deque = deque()
        for chunk in chunks:
            pending.append(pool.apply_async(fn, (chunk,)))
            if len(pending) >= 2 * n_jobs:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


class Accounting:
    """Counts every record that enters a stage: `in = kept + rejected`, per source and reason."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.by_source: dict[str, Counter[str]] = defaultdict(Counter)
        self.reasons: Counter[str] = Counter()
        self.extra: dict[str, Any] = {}

    def seen(self, source: str, n: int = 1) -> None:
        self.by_source[source]["in"] += n

    def kept(self, source: str, n: int = 1) -> None:
        self.by_source[source]["kept"] += n

    def rejected(self, source: str, reason: str) -> None:
        self.by_source[source]["rejected"] += 1
        self.reasons[reason_key(reason)] += 1

    def totals(self) -> dict[str, int]:
        total = Counter()
        for counts in self.by_source.values():
            total.update(counts)
        return {k: total.get(k, 0) for k in ("in", "kept", "rejected")}

    def check(self) -> None:
        """Every record is accounted for: a mismatch is a bug in the stage, never a silent drop."""
        for source, c in self.by_source.items():
            if c["in"] != c["kept"] + c["rejected"]:
                raise AssertionError(
                    f"{self.stage}: source {source}: in={c['in']} != kept={c['kept']} + rejected={c['rejected']}"
                )

    def metrics(self) -> dict[str, Any]:
        self.check()
        return {
            "stage": self.stage,
            **self.totals(),
            "by_source": {
                s: {k: c.get(k, 0) for k in ("in", "kept", "rejected")}
                for s, c in sorted(self.by_source.items())
            },
            "rejected_by_reason": dict(sorted(self.reasons.items())),
            **self.extra,
        }

    def write(self, path: str | Path) -> dict[str, Any]:
        m = self.metrics()
        write_json(path, m)
        return m


def reason_key(reason: str) -> str:
    """`bad_json (unexpected character)` -> `bad_json`: counts group by the reason's first word."""
    return reason.split(" ", 1)[0].split(":", 1)[0]


def list_files(folder: str | Path) -> list[Path]:
    """Every visible file under a folder, sorted (hidden files and folders such as .gitignore skipped)."""
    folder = Path(folder)
    if not folder.exists():
        return []
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
