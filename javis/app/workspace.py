"""The workspace around the DAG: private data folders that DVC tracks but a fresh clone lacks.

A fresh clone holds `data/raw.dvc` but not `data/raw/`: `dvc repro` then fails with "missing data
source". Creating the folder empty is right only when the pin is empty too; otherwise `dvc repro`
would record an empty folder over the user's data pin. So: restore from the cache when we can,
create empty folders when nothing was pinned, and otherwise say to `dvc pull`.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import yaml

from javis.release import vcs

log = logging.getLogger("javis.workspace")


class WorkspaceError(RuntimeError):
    pass


def pinned_files(dvc_file: Path) -> int:
    """How many files a `.dvc` pin says the folder holds (0 when there is no pin)."""
    if not dvc_file.exists():
        return 0
    outs = (yaml.safe_load(dvc_file.read_text()) or {}).get("outs") or [{}]
    return int(outs[0].get("nfiles") or 0)


def ensure_data_dirs(folders: list[str]) -> list[str]:
    """Make each private data folder present; returns what was done, one line per folder."""
    done = []
    for folder in folders:
        path = Path(folder)
        dvc_file = path.with_name(path.name + ".dvc")
        if path.is_dir():
            continue
        n = pinned_files(dvc_file)
        if n == 0:
            path.mkdir(parents=True, exist_ok=True)
            done.append(f"created empty {folder}/")
            continue
        if vcs.checkout(dvc_file) and path.is_dir():
            done.append(f"restored {folder}/ ({n} files) from the DVC cache")
            continue
        raise WorkspaceError(
            f"{dvc_file} pins {n} files that are not in {folder}/ nor in the local DVC cache: "
            f"run `dvc pull {dvc_file}` (needs the project's DVC remote) and try again"
        )
    return done


def main() -> int:
    try:
        for line in ensure_data_dirs(["data/raw", "data/feedback"]):
            print(line)
    except WorkspaceError as e:
        print(f"javis: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
