"""The one preamble of every DAG stage: log lines to stderr, params.yaml loaded and checked, and
the stage's typed sections passed to its `main` explicitly (`run(main, "paths", "clean")` calls
`main(p.paths, p.clean)`). See docs/DESIGN.md, "Adding a stage".

`run` also times the stage: its wall seconds, with any figures the stage added through `timing()`
(tokens/s, each evaluated side), go to `paths.timings`/<stage>.json. That folder is neither git nor
DVC: timings differ on every run, and tracked files must be the same bytes for the same inputs (a
fresh clone's `dvc repro` leaves `git status` clean)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from javis.core import fileio, params

_figures: dict[str, Any] = {}


def timing(**figures: Any) -> None:
    """Add timing figures (seconds, rates) to this stage's timing file, never to its metrics."""
    _figures.update(figures)


def pending_timing() -> dict[str, Any]:
    """The figures added with `timing()` since this stage started (what `run` will write)."""
    return dict(_figures)


def read_timing(folder: str | Path, stage: str) -> dict | None:
    """A stage's last timing record (None: it has not run here since the folder was made)."""
    path = Path(folder) / f"{stage}.json"
    try:
        import orjson

        return orjson.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def run(main: Callable[..., Any], *sections: str, path: str = params.PARAMS_FILE) -> Any:
    """Configure logging, load params.yaml and call `main` with the named sections, in order;
    then write the stage's wall time (see the module docstring)."""
    main_rank = os.environ.get("RANK", "0") == "0"  # else a training rank (javis/model/launch.py)
    # Rank 0 says what the ranks do; the others only warn
    logging.basicConfig(level=logging.INFO if main_rank else logging.WARNING, format="%(message)s")
    p = params.load(path)
    name = Path(main.__code__.co_filename).stem
    started = time.perf_counter()
    _figures.clear()
    result = main(*(getattr(p, s) for s in sections))
    if not main_rank:
        return result
    fileio.write_json(
        Path(p.paths.timings) / f"{name}.json",
        {
            "stage": name,
            "seconds": round(time.perf_counter() - started, 3),
            "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            **_figures,
        },
    )
    return result
