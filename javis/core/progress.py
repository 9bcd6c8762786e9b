"""One progress display per long step: a rich progress bar on a terminal, log lines otherwise.

`Progress(label, total, unit, log=...)` is moved with `update(done, info)` (or `advance(n)`):

- on a terminal (stderr is a tty, as under `make run` in a shell): a rich bar on stderr with the
  counts, the `info` text (loss, tokens/s, ...), the time spent and the time left. Progress
  objects opened while another is live share its display (one row each); log lines written
  meanwhile print above the bars instead of through them;
- elsewhere (CI, a pipe, a log file, pytest): one log line per update, at most one per `every`
  seconds (the first and the last always):
  `train sft: 10/19 steps, loss 1.8312, 54 tokens/s, 6 min 02 s elapsed, ~5 min 26 s left`.

The time left comes from the rate since the display opened (`start`: units already done then, as
by a resumed run, which must not look faster than it is). Libraries' own bars (tqdm) are turned off in the stages that use this
(`javis.model.loading.quiet_libraries`): this is the one display. See docs/DESIGN.md, "Layers".
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

log = logging.getLogger("javis.progress")

_display: dict[str, Any] = {"bar": None, "users": 0, "streams": []}


def is_terminal() -> bool:
    """Whether stderr (where progress goes) is a terminal."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def duration(seconds: float) -> str:
    """`42 s`, `6 min 02 s`, `1 h 05 min`."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class Progress:
    """A progress display for `total` units of work named `label` (see the module docstring).

    `every`: the least seconds between two log lines (0: a line per update); `keep=False` removes
    the bar when closed (a step inside another, e.g. validation inside training); `terminal`
    forces the kind of display (None: a bar when stderr, or `console`, is a terminal); `console`
    is the rich Console to draw on (default: one on stderr)."""

    def __init__(
        self,
        label: str,
        total: int,
        unit: str = "",
        *,
        start: int = 0,
        log: logging.Logger = log,
        every: float = 0.0,
        keep: bool = True,
        terminal: bool | None = None,
        console: Any = None,
    ) -> None:
        self.label, self.total, self.unit = label, max(0, int(total)), unit
        self.log, self.every, self.keep = log, every, keep
        if terminal is None:
            terminal = console.is_terminal if console is not None else is_terminal()
        self.terminal = terminal
        self.start = self.done = max(0, int(start))
        self.info = ""
        self.started = time.perf_counter()
        self._last_line = float("-inf")
        self._logged_done: int | None = None
        self._task: Any = None
        self._closed = False
        if self.terminal:
            self._open_bar(console)

    # --- moving it ------------------------------------------------------------------------------

    def update(self, done: int, info: str = "", *, line: bool = True) -> None:
        """Set the units done and the info text; `line=False` moves the bar but writes no log line
        (for updates finer than the log should show)."""
        now = time.perf_counter()
        self.done, self.info = max(0, int(done)), info or self.info
        if self._task is not None:
            bar = _display["bar"]
            bar.update(self._task, completed=self.done, info=self._info_text())
            return
        if not line:
            return
        finished = self.total and self.done >= self.total
        if finished or self._logged_done is None or now - self._last_line >= self.every:
            self._line(now)

    def advance(self, n: int = 1, info: str = "", *, line: bool = True) -> None:
        """`update(done + n, info)`."""
        self.update(self.done + n, info, line=line)

    def rate(self, done: int | None = None) -> float:
        """Units per second since the start (at `done` units, default the units done now)."""
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        return ((self.done if done is None else done) - self.start) / elapsed

    def seconds_left(self) -> float | None:
        """Estimated seconds to the end, from the rate since the start (units done before it, as
        by a resumed run, do not count); None before any unit is done."""
        done = self.done - self.start
        if done <= 0 or not self.total:
            return None
        elapsed = time.perf_counter() - self.started
        return elapsed / done * max(0, self.total - self.done)

    def close(self) -> None:
        """End the display (a bar stays on screen unless `keep=False`); idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            _close_bar(self._task, self.keep)
            self._task = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- drawing --------------------------------------------------------------------------------

    def _info_text(self) -> str:
        return f"{self.unit} {self.info}".strip() if self.unit or self.info else ""

    def _line(self, now: float) -> None:
        self._last_line, self._logged_done = now, self.done
        parts = [f"{self.done}/{self.total}" + (f" {self.unit}" if self.unit else "")]
        if self.info:
            parts.append(self.info)
        parts.append(f"{duration(now - self.started)} elapsed")
        left = self.seconds_left()
        if left is not None and self.done < self.total:
            parts.append(f"~{duration(left)} left")
        self.log.info("%s: %s", self.label, ", ".join(parts))

    def _open_bar(self, console: Any) -> None:
        if _display["bar"] is None:
            _display["bar"] = _new_bar(console)
            _display["bar"].start()
            _route_log_handlers()
        _display["users"] += 1
        self._task = _display["bar"].add_task(
            self.label, total=self.total or None, completed=self.done, info=""
        )


def track(
    items: Iterable[Any], label: str, total: int | None = None, unit: str = "", **kw: Any
) -> Iterator[Any]:
    """Yield `items`, moving a Progress by one per item (`total`: len(items) when it has one)."""
    if total is None:
        total = len(items) if hasattr(items, "__len__") else 0  # type: ignore[arg-type]
    with Progress(label, total, unit, **kw) as progress:
        for item in items:
            yield item
            progress.advance()


@contextlib.contextmanager
def tqdm_as_progress(module: str, label: str, unit: str = "", **kw: Any) -> Iterator[None]:
    """Inside the block, the `tqdm(iterable, ...)` loops of library module `module` (named
    `tqdm` there, as `from tqdm.auto import tqdm` binds it) show as a Progress under `label`
    instead of a tqdm bar; the module is patched when it is imported (or at once if it is
    already). Other tqdm uses (no iterable) keep tqdm. Used by the base stage for transformers'
    GGUF dequantisation, which has no switch for its bar."""
    patched: list[tuple[Any, Any]] = []

    def patch(mod: Any) -> None:
        original = getattr(mod, "tqdm", None)
        if original is None:
            return  # the library changed: no display, nothing broken

        def tqdm(iterable: Any = None, *args: Any, **kwargs: Any) -> Any:
            if iterable is None:
                return original(iterable, *args, **kwargs)
            return track(iterable, label, kwargs.get("total"), unit, **kw)

        patched.append((mod, original))
        mod.tqdm = tqdm

    finder = _OnImport(module, patch)
    if module in sys.modules:
        patch(sys.modules[module])
    else:
        sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)
        for mod, original in patched:
            mod.tqdm = original


class _OnImport(importlib.abc.MetaPathFinder):
    """Runs `patch(module)` right after module `name` is imported (then leaves sys.meta_path)."""

    def __init__(self, name: str, patch: Any) -> None:
        self.name, self.patch = name, patch

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module, patch = spec.loader.exec_module, self.patch

        def run(module: Any) -> None:
            exec_module(module)
            patch(module)

        spec.loader.exec_module = run  # type: ignore[method-assign]
        return spec


def _new_bar(console: Any) -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as RichProgress

    return RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TextColumn("elapsed,"),
        TimeRemainingColumn(),
        TextColumn("left"),
        console=console or Console(stderr=True),
        redirect_stdout=True,
        redirect_stderr=True,
    )


def _route_log_handlers() -> None:
    """Point stream handlers that write to the real stderr at rich's stand-in while the bar is
    live, so a log line prints above the bar (rich redirects `sys.stderr`, but a handler keeps the
    stream it was made with)."""
    proxy = sys.stderr
    real = {id(s) for s in (sys.__stderr__, getattr(proxy, "rich_proxied_file", None)) if s}
    for logger in [logging.getLogger(), *_named_loggers()]:
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and id(handler.stream) in real:
                _display["streams"].append((handler, handler.stream))
                handler.setStream(proxy)


def _named_loggers() -> list[logging.Logger]:
    return [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]


def _close_bar(task: Any, keep: bool) -> None:
    bar = _display["bar"]
    if not keep:
        bar.remove_task(task)
    _display["users"] -= 1
    if _display["users"] > 0:
        return
    bar.stop()
    for handler, stream in _display["streams"]:
        handler.setStream(stream)
    _display.update(bar=None, users=0, streams=[])
