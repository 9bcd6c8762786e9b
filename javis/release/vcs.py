"""Reading a past release's files by revision, from the DVC cache or remote (never the workspace).

Shared by the `baseline` and `init` stages and by `javis deploy`.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from javis.core import fileio

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


class ReleaseFetchError(SystemExit):
    """A release's files could not be read; the message says which and what to do."""


def commit_of(rev: str, param: str) -> str:
    """The full commit hash `rev` (a tag or a commit) names; a clear error when there is none."""
    out = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise ReleaseFetchError(
            f"{param}: {rev!r} is not a tag or commit of this repository; list releases with "
            "`javis versions` or `git tag -l 'javis-v*'` (after `git fetch --tags`)"
        )
    return out.stdout.strip()


def workspace_remotes() -> dict:
    """The workspace's DVC remotes and default remote, as a config overlay.

    A release's commit carries the remote config of its day; the remote may have moved since (or
    been added after the first release), so the workspace's current remotes take precedence.
    """
    from dvc.repo import Repo

    with Repo(".") as repo:
        conf = repo.config
        remotes = {name: dict(section) for name, section in conf.get("remote", {}).items()}
        default = conf.get("core", {}).get("remote")
    overlay: dict = {"remote": remotes} if remotes else {}
    if default:
        overlay["core"] = {"remote": default}
    return overlay


def fetch_adapter(commit: str, adapter_path: str, dest: Path, label: str) -> None:
    """Copy the folder `adapter_path` as committed at `commit` into `dest` (from DVC cache/remote)."""
    from dvc.api import DVCFileSystem

    try:
        fs = DVCFileSystem(".", rev=commit, config=workspace_remotes() or None)
        if not fs.isdir(adapter_path):
            raise ReleaseFetchError(
                f"{label} has no {adapter_path} (not an output in its dvc.lock); it must be a release "
                "made by `javis release`"
            )
        fs.get(adapter_path, str(dest), recursive=True)
    except ReleaseFetchError:
        raise
    except Exception as e:  # dvc raises many kinds: missing cache, unreachable remote, ...
        raise ReleaseFetchError(
            f"could not read {adapter_path} of {label} from the DVC cache or remote "
            f"({type(e).__name__}: {e}); run `dvc pull` with the remote reachable"
        ) from e
    missing = [f for f in ADAPTER_FILES if not (dest / f).is_file()]
    if missing:
        raise ReleaseFetchError(f"{adapter_path} of {label} is not an adapter (missing {missing})")


def materialise(
    out: Path, marker_name: str, marker: dict, commit: str = "", adapter_path: str = ""
) -> None:
    """Build the folder beside `out` (the adapter at `commit`, if any, and a marker), then swap it in:
    `out` is whole or absent."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        folder = tmp / out.name
        if commit:
            fetch_adapter(commit, adapter_path, folder, marker.get("tag") or commit[:12])
        folder.mkdir(exist_ok=True)
        fileio.write_json(folder / marker_name, marker)
        if out.exists():
            shutil.rmtree(out)
        folder.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
