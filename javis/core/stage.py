"""The one preamble of every DAG stage: log lines to stderr, params.yaml loaded and checked, and
the stage's typed sections passed to its `main` explicitly (`run(main, "paths", "clean")` calls
`main(p.paths, p.clean)`). See docs/DESIGN.md, "Adding a stage"."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from javis.core import params


def run(main: Callable[..., Any], *sections: str, path: str = params.PARAMS_FILE) -> Any:
    """Configure logging, load params.yaml and call `main` with the named sections, in order."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    p = params.load(path)
    return main(*(getattr(p, name) for name in sections))
