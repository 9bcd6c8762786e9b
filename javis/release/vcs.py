"""The one module that runs git and DVC: `git` subprocesses, `python -m dvc` (built in `dvc_command`
only) and DVC's Python API (`dvc.api`, `dvc.repo.Repo`). Everything else in javis asks it.

A past release's files are read by revision from the DVC cache or remote, never from the workspace:
`fetch_adapter`, `read_text_at`, `outputs_at`. See docs/DESIGN.md, "Versions".
"""

from __future__ import annotations

import functools
import getpass
import logging
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from javis.core import fileio
from javis.model.loading import ADAPTER_FILES
from javis.release.errors import ReleaseError, ReleaseFetchError

log = logging.getLogger("javis.vcs")

DVC_LOCK_ERRORS = ("Unable to acquire lock", "lock is held", "LockError")
DVC_BUSY = re.compile(r"\(PID (\d+)\): (.+)")  # how DVC's rwlock names who holds an output
LOCAL_CACHE = Path(".dvc/cache/files/md5")

# --- git ---------------------------------------------------------------------------------------


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], capture_output=True, text=True)


def git(*args: str, check: bool = True) -> str:
    """`git ARGS` in the current folder; its stripped stdout. With `check`, a failure raises
    ReleaseError with git's message."""
    result = _git(*args)
    if check and result.returncode != 0:
        raise ReleaseError(
            f"git {' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}"
        )
    return result.stdout.strip()


def show(rev: str, path: str) -> str | None:
    """A git-tracked file's text at a revision, or None."""
    result = _git("show", f"{rev}:{path}")
    return result.stdout if result.returncode == 0 else None


def rev_parse(rev: str) -> str:
    """The full commit hash `rev` (a tag or a commit) names, or "" when it names none."""
    result = _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    return result.stdout.strip() if result.returncode == 0 else ""


def commit_of(rev: str, param: str) -> str:
    """The full commit hash `rev` (a tag or a commit) names; a clear error when there is none.
    `param` names the setting `rev` came from."""
    commit = rev_parse(rev)
    if not commit:
        raise ReleaseFetchError(
            f"{param}: {rev!r} is not a tag or commit of this repository; list releases with "
            "`javis versions` or `git tag -l 'javis-v*'` (after `git fetch --tags`)"
        )
    return commit


def tag_commits(pattern: str) -> list[tuple[str, str]]:
    """(tag, commit it points at) of every tag matching `pattern` (annotated tags dereferenced)."""
    out = git(
        "tag",
        "--list",
        pattern,
        "--format=%(refname:short) %(objectname) %(*objectname)",
        check=False,
    )
    found = []
    for line in out.splitlines():
        parts = line.split()
        if parts:
            found.append((parts[0], parts[2] if len(parts) > 2 else parts[1]))
    return found


def changed_paths() -> list[str]:
    """Every path `git status` reports (modified, staged, untracked; the new name of a rename)."""
    result = _git("status", "--porcelain", "--untracked-files=all")
    if result.returncode != 0:
        raise ReleaseError(f"git status: {result.stderr.strip()}")
    return [line[3:].split(" -> ")[-1].strip('"') for line in result.stdout.splitlines()]


def is_work_tree() -> bool:
    return git("rev-parse", "--is-inside-work-tree", check=False) == "true"


def git_dir() -> Path:
    return Path(git("rev-parse", "--git-dir", check=False) or ".git")


def user_name() -> str:
    """git's user.name (empty when unset)."""
    return git("config", "user.name", check=False)


def git_user() -> str:
    """Who is acting: git's user.name, else the login name."""
    return user_name() or getpass.getuser()


# --- DVC commands ------------------------------------------------------------------------------


def dvc_command(*args: str) -> list[str]:
    """`python -m dvc ARGS` with this interpreter (the one place the command is built)."""
    return [sys.executable, "-m", "dvc", *args]


def dvc(*args: str, stream: bool = False) -> str:
    """Run dvc; its stdout. `stream` shows its output live (long runs). A failure raises
    ReleaseError."""
    if stream:
        result = subprocess.run(dvc_command(*args))
        if result.returncode != 0:
            raise ReleaseError(
                f"dvc {' '.join(args)} failed (exit {result.returncode}); see its output above"
            )
        return ""
    result = subprocess.run(dvc_command(*args), capture_output=True, text=True)
    if result.returncode != 0:
        raise ReleaseError(f"dvc {' '.join(args)}: {(result.stderr or result.stdout).strip()}")
    return result.stdout


def dvc_lock_holder(error: BaseException | str) -> str | None:
    """None unless `error` is DVC's lock error (another DVC process holds the repository lock or
    an output); then who holds it in words: "pid 123 (dvc repro)" as DVC names it, or "another
    DVC process" when DVC does not say."""
    text = str(error)
    is_lock = type(error).__name__ == "LockError" or any(
        s in text for s in (*DVC_LOCK_ERRORS, "is busy, it is being blocked by")
    )
    if not is_lock:
        return None
    holders = [f"pid {pid} ({cmd.strip()})" for pid, cmd in DVC_BUSY.findall(text)]
    return ", ".join(dict.fromkeys(holders)) or "another DVC process"


def checkout(dvc_file: Path) -> bool:
    """`dvc checkout -q <file>` (restore a pinned output from the local cache); True on success."""
    result = subprocess.run(
        dvc_command("checkout", "-q", str(dvc_file)), capture_output=True, text=True
    )
    return result.returncode == 0


def dvc_root(start: Path) -> Path | None:
    """The DVC repository holding `start`, or None."""
    for p in [start.resolve(), *start.resolve().parents]:
        if (p / ".dvc").is_dir():
            return p
    return None


def readd_to_dvc(folder: Path, timeout: float = 300.0) -> str:
    """`dvc add <folder>` (the folder as a whole), retried while another DVC command holds the lock.
    Returns what was done; raises ReleaseError when `dvc add` fails (the imported files are written
    by then: `javis import` reports it)."""
    root = dvc_root(folder)
    if root is None:
        return f"not a DVC repository: {folder} not added (run `dvc init`, then `dvc add {folder}`)"
    deadline = time.monotonic() + timeout
    wait = 0.2
    while True:
        result = subprocess.run(
            dvc_command("add", str(folder)), capture_output=True, text=True
        )  # not -q: it hides the lock error we retry on
        if result.returncode == 0:
            return f"dvc add {folder}: done (commit {folder}.dvc to pin it)"
        text = result.stderr + result.stdout
        if any(s in text for s in DVC_LOCK_ERRORS) and time.monotonic() < deadline:
            log.info(
                "import: DVC is busy (another DVC command holds its lock); retrying in %.1f s", wait
            )
            time.sleep(wait)
            wait = min(wait * 1.5, 2.0)
            continue
        raise ReleaseError(
            f"`dvc add {folder}` failed ({text.strip().splitlines()[-1] if text.strip() else result.returncode}); "
            f"the imported files are written; run `dvc add {folder}` yourself once the problem is fixed"
        )


# --- DVC's Python API --------------------------------------------------------------------------


def pipeline_status() -> dict:
    """`dvc status` of the DAG, asked in this process (a `dvc status` subprocess would pay DVC's
    ~1 s start-up a second time: `javis status` took 2.24 s that way, benchmarks/README.md).
    DVC's own errors (no repository, a broken dvc.yaml) propagate."""
    from dvc.repo import Repo

    with Repo() as repo:
        return repo.status()


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
    """Copy the folder `adapter_path` as committed at `commit` into `dest` (from DVC cache/remote).
    `dest` may exist already (its other files stay)."""
    from dvc.api import DVCFileSystem

    try:
        fs = DVCFileSystem(".", rev=commit, config=workspace_remotes() or None)
        if not fs.isdir(adapter_path):
            raise ReleaseFetchError(
                f"{label} has no {adapter_path} (not an output in its dvc.lock); it must be a release "
                "made by `javis release`"
            )
        # The trailing slash copies the folder's files into `dest`; without it an existing `dest`
        # would get a copy of the folder nested inside it.
        fs.get(adapter_path.rstrip("/") + "/", str(dest), recursive=True)
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


def build_marked_folder(
    out: Path, marker_name: str, marker: dict, commit: str = "", adapter_path: str = ""
) -> None:
    """Build `out` from the adapter at `commit` (if any) plus a marker file `marker_name` holding
    `marker`, in a temp folder swapped in at the end: `out` is whole or absent."""
    with fileio.replace_dir(out) as folder:
        if commit:
            fetch_adapter(commit, adapter_path, folder, marker.get("tag") or commit[:12])
        fileio.write_json(folder / marker_name, marker)


def cache_object(rev: str, path: str) -> Path | None:
    """The local DVC cache file that holds `path` as committed at `rev`, or None when unknown."""
    from dvc.api import DVCFileSystem
    from dvc.repo import Repo

    try:
        md5 = DVCFileSystem(".", rev=rev).info(path).get("md5")
        with Repo(".") as repo:
            obj = Path(repo.cache.local.oid_to_path(md5)) if md5 else None
    except Exception:  # noqa: BLE001 -- only a hint for an error message
        return None
    return obj if obj is not None and obj.exists() else None


def read_text_at(rev: str, path: str) -> str:
    """A DVC- or git-tracked file's text at a revision (DVC cache or remote); raises DVC's own
    errors when it cannot be read."""
    import dvc.api

    with dvc.api.open(path, rev=rev, encoding="utf-8") as f:
        return f.read()


def outputs_at(rev: str, tops: tuple[str, ...]) -> Iterator[tuple[str | None, Callable[[], IO]]]:
    """(md5, open it in binary) of every file under the folders `tops` as committed at `rev`; the
    files are read only when opened."""
    from dvc.api import DVCFileSystem

    fs = DVCFileSystem(".", rev=rev)
    for top in tops:
        if not fs.exists(top):
            continue
        for path in fs.find(top):
            info: dict[str, Any] = fs.info(path)
            md5 = (info.get("dvc_info") or {}).get("md5") or info.get("md5")
            yield md5, functools.partial(fs.open, path, "rb")


def delete_objects(md5s: set[str]) -> int:
    """Delete these DVC objects from the local cache and from every local-folder remote; returns
    how many files were deleted (an S3 remote's copies need `dvc gc --cloud`)."""
    stores = [LOCAL_CACHE]
    for remote in (workspace_remotes().get("remote") or {}).values():
        url = remote.get("url", "")
        if url and "://" not in url:
            stores.append(Path(url) / "files" / "md5")
    deleted = 0
    for md5 in md5s:
        for store in stores:
            obj = store / md5[:2] / md5[2:]
            if obj.exists():
                obj.chmod(0o644)
                obj.unlink()
                deleted += 1
    return deleted


# --- training on another machine (javis/release/remote.py) -------------------------------------


def push_head(git_remote: str) -> tuple[str, str]:
    """Push the checked-out branch to `git_remote` (so another machine can fetch the commit);
    (branch, commit). A detached HEAD or a rejected push raises ReleaseError."""
    branch = git("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    if not branch:
        raise ReleaseError(
            "HEAD is detached: check out a branch (`git switch -c NAME`) so the commit can be "
            f"pushed to {git_remote}"
        )
    git("push", "--quiet", git_remote, f"HEAD:refs/heads/{branch}")
    return branch, rev_parse("HEAD")


def tracked_changes() -> list[str]:
    """Tracked files changed but not committed (what another checkout of HEAD would not see)."""
    result = _git("status", "--porcelain", "--untracked-files=no")  # not stripped: " M path"
    if result.returncode != 0:
        raise ReleaseError(f"git status: {result.stderr.strip()}")
    return [line[3:].split(" -> ")[-1].strip('"') for line in result.stdout.splitlines()]


def dvc_files() -> list[str]:
    """The `.dvc` files git tracks (data added with `dvc add`)."""
    return git("ls-files", "*.dvc").splitlines()


def commit_paths(paths: list[str], message: str) -> str:
    """Commit `paths` (only them) with `message`; the new commit's hash."""
    git("add", "--", *paths)
    git("commit", "--quiet", "-m", message, "--", *paths)
    return rev_parse("HEAD")


def stage_outputs() -> dict[str, list[tuple[str, bool]]]:
    """Every stage of dvc.yaml: its outputs (outs, metrics, plots) as (path, DVC-cached)."""
    from dvc.repo import Repo

    with Repo(".") as repo:
        return {
            stage.addressing: [(str(out.def_path), bool(out.use_cache)) for out in stage.outs]
            for stage in repo.index.stages
        }


def remote_pull_script(commit: str, stages: list[str]) -> str:
    """Shell lines for another machine's checkout: go to `commit` (a forced checkout: the last
    run's dvc.lock and metrics there are thrown away, its untracked checkpoints kept) and pull
    `stages`' outputs and every `.dvc` file's data."""
    names = " ".join(stages)
    return (
        "git fetch --quiet origin\n"
        f"git checkout --quiet --force --detach {commit}\n"
        f"python -m dvc pull --quiet {names} $(git ls-files '*.dvc')\n"
    )


def remote_repro_script(stages: list[str]) -> str:
    """Shell lines that reproduce `stages` there and push their outputs to the DVC remote."""
    names = " ".join(stages)
    return f"python -m dvc repro {names}\npython -m dvc push {names}\n"


def remote_changed_files_script(folders: list[str]) -> str:
    """Shell that prints, NUL-separated, what a run there changed that git sees: every tracked
    file it modified (dvc.lock, metrics, plots) and the new, not ignored files in `folders` (the
    model stages' output folders: DVC's .gitignore files, DVCLive's files)."""
    quoted = " ".join(f"'{f}'" for f in folders)
    return f"git ls-files -z --modified; git ls-files -z --others --exclude-standard -- {quoted}"
