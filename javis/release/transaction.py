"""The release transaction: clean workspace -> dvc repro -> gate -> release record -> dvc push ->
commit -> tag -> open the next version. A release happens fully or not at all.

A release killed midway (kill -9, power loss) leaves a marker in `.git/javis-release.json`;
`interrupted()` says how far it got (a `State`): `javis status` names it, and the next `javis
release` (`repair()`) finishes one that was committed (its push came first: tag it, open the next
version) or undoes one that was not (record files removed, CHANGELOG.md restored).

Opening the next version pins its baseline (data/baseline.json, javis/release/pin.py) and split
index (data/split_index.json) to the release, in a commit of its own after the tag, so that the
tag's dvc.lock matches its own params and deps. See docs/DESIGN.md, "The release transaction".
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
from dataclasses import dataclass
from pathlib import Path

from javis.core import fileio, params
from javis.release import pin, vcs
from javis.release.deploy import deploy
from javis.release.errors import ReleaseError
from javis.release.gate import Rule, gate, worst_regressions
from javis.release.names import Version, next_version, releases
from javis.release.record import ADAPTERS, CHANGELOG, base_changed, record_paths, write_record

# What a release may carry uncommitted: the DAG's own outputs, data pins, params and the record.
RELEASABLE = re.compile(
    r"^(dvc\.lock|params\.yaml|\.dvc/config|metrics/[^/]+\.json|data/[^/]+\.dvc|"
    r"data/split_index\.json|data/baseline\.json|"
    r"CHANGELOG\.md|models/adapters/.*|models/configs/.*|data/training/javis-v.*|dvclive/.*)$"
)
IN_PROGRESS = "javis-release.json"  # the marker of a release in progress, inside .git


class State(enum.StrEnum):
    """How far an interrupted release got, and so what `repair()` does."""

    UNCOMMITTED = "uncommitted"  # record files written, maybe pushed, no commit: undo it
    UNTAGGED = "untagged"  # committed after a successful push, no tag: tag it
    UNOPENED = "unopened"  # tagged, the next version not yet opened: open it
    OPENED = "opened"  # done; only the marker is left
    MOVED = "moved"  # the repository has new commits since: a person must look


@dataclass(frozen=True)
class Interrupted:
    """A release that was cut off: its version, the commit before it, its message, its state."""

    version: str
    before: str
    message: str
    state: State


@dataclass
class Outcome:
    version: str
    commit: str
    gate: list[Rule]
    forced: bool


def uncommitted() -> tuple[list[str], list[str]]:
    """(changes a release may carry, changes that make the workspace dirty)."""
    ok, dirty = [], []
    for path in vcs.changed_paths():
        (ok if RELEASABLE.match(path) else dirty).append(path)
    return ok, dirty


def release(
    *,
    major: bool = False,
    tag: str = "",
    message: str = "",
    force: bool = False,
    repro: bool = True,
    log=print,
) -> Outcome:
    """clean workspace -> dvc repro -> gate -> release record -> dvc push -> commit -> tag."""
    pin.migrate()
    p = params.load()
    repaired = repair(log=log)
    if repaired and repaired.state in (State.UNTAGGED, State.UNOPENED):
        # finished now: it was the release asked for
        name = repaired.version
        return Outcome(name, vcs.git("rev-parse", f"{name}^{{commit}}"), [], False)
    _, dirty = uncommitted()
    if dirty:
        raise ReleaseError(
            "step 1/6 (clean workspace): uncommitted changes outside the pipeline's own files: "
            + ", ".join(dirty[:8])
            + ("..." if len(dirty) > 8 else "")
            + "; commit or stash them first, so the release pins exactly what it ran"
        )
    if force and not message:
        raise ReleaseError(
            "--force needs -m MESSAGE saying why the gate is overridden (it is recorded)"
        )
    history = releases()
    last = history[-1][0] if history else None
    if repro:
        log("step 2/6: dvc repro")
        vcs.dvc("repro", stream=True)
    eval_path = Path(p.paths.metrics) / "eval.json"
    if not eval_path.exists():
        raise ReleaseError(
            f"step 3/6 (gate): {eval_path} is missing; the evaluate stage must run before a release"
        )
    result = json.loads(eval_path.read_text())
    rules = gate(result, p.release.gate)
    failed = [r for r in rules if not r.passed]
    for name, ok, detail in rules:
        log(f"  gate {'PASS' if ok else 'FAIL'} {name}: {detail}")
    override = None
    if failed:
        if not force:
            worst = worst_regressions(Path(p.paths.metrics))
            hint = (
                ("\n  records to review (largest loss increase first):\n" + "\n".join(worst))
                if worst
                else ""
            )
            raise ReleaseError(
                "step 3/6 (gate): failed on "
                + ", ".join(r.name for r in failed)
                + "; nothing was committed or tagged. Review the data, or release anyway with "
                "--force -m 'why'" + hint
            )
        override = {
            "by": vcs.git_user(),
            "why": message,
            "failed": [r.name for r in failed],
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
    changed_base = last is not None and base_changed(history[-1][1], p)
    version = next_version(last, major or changed_base, tag)
    if any(v.name == version.name for v, _ in history):
        raise ReleaseError(f"step 4/6 (name): {version.name} exists already")
    log(
        f"step 4/6: release record for {version.name}"
        + (" (major: the base changed)" if changed_base else "")
    )
    previous = last.name if last else None
    before = vcs.git("rev-parse", "HEAD")
    # Until the next version is opened, a marker says how to finish or undo this release if the
    # process dies (kill -9, power loss): `repair()`, run by the next `javis release`.
    fileio.write_json(
        marker_path(), {"version": version.name, "before": before, "message": message}
    )
    written = write_record(version, p, result, previous, override, message)
    try:
        if p.release.push:
            log("step 5/6: dvc push")
            try:
                vcs.dvc("push")
            except ReleaseError as e:
                raise ReleaseError(
                    f"step 5/6 (dvc push): {e}; nothing was committed or tagged; "
                    "fix the remote (`dvc remote list`, `javis init --remote`) and run again"
                ) from e
        log("step 6/6: commit and tag")
        vcs.git("add", "-A", "--", ".")
        vcs.git(
            "commit", "-q", "-m", f"Release {version.name}" + (f": {message}" if message else "")
        )
        vcs.git("tag", "-a", version.name, "-m", message or f"javis {version.name}")
    except BaseException:
        undo(before, written)
        marker_path().unlink(missing_ok=True)
        raise
    commit = vcs.git("rev-parse", "HEAD")
    open_next(version, commit, p)
    marker_path().unlink(missing_ok=True)
    if p.release.auto_deploy and not failed:
        deploy(version.name, log=log)
    return Outcome(version.name, commit, rules, bool(override))


def marker_path() -> Path:
    """Where a release in progress is noted: inside .git, so it is never part of a commit."""
    return vcs.git_dir() / IN_PROGRESS


def interrupted() -> Interrupted | None:
    """A release that was cut off (its process killed) and how far it got, or None."""
    path = marker_path()
    if not path.exists():
        return None
    m = json.loads(path.read_text())
    name, head = m["version"], vcs.git("rev-parse", "HEAD")
    subject = vcs.git("log", "-1", "--format=%s")
    if vcs.git("rev-parse", "-q", "--verify", f"refs/tags/{name}", check=False):
        opened = subject.startswith(f"Open the version after {name}:")
        state = State.OPENED if opened else State.UNOPENED
    elif head == m["before"]:
        state = State.UNCOMMITTED
    elif subject == f"Release {name}" or subject.startswith(f"Release {name}: "):
        state = State.UNTAGGED
    else:
        state = State.MOVED
    return Interrupted(name, m["before"], m.get("message") or "", state)


def repair(log=print) -> Interrupted | None:
    """Finish or undo a release that was cut off; what was found (its state before the repair), or
    None when none was.

    A release commit exists only after a successful `dvc push`, so a committed release is finished
    (tag, open the next version); one cut off before its commit is undone (record files removed,
    CHANGELOG.md restored), so the next release starts clean and writes its notes once."""
    cut = interrupted()
    if cut is None:
        return None
    name, state = cut.version, cut.state
    if state == State.MOVED:
        raise ReleaseError(
            f"a release of {name} was cut off and the repository has new commits since; check "
            f"CHANGELOG.md and {ADAPTERS / name}/ by hand, then delete {marker_path()}"
        )
    p = params.load()
    version = Version.parse(name)
    if state == State.UNCOMMITTED:
        undo(cut.before, record_paths(version, p))
        log(
            f"an interrupted release of {name} (cut off before its commit) was undone: no commit, no tag"
        )
    else:
        if state == State.UNTAGGED:
            vcs.git("tag", "-a", name, "-m", cut.message or f"javis {name}")
        if state in (State.UNTAGGED, State.UNOPENED):
            open_next(version, vcs.git("rev-parse", f"{name}^{{commit}}"), p)
        log(
            f"an interrupted release of {name} was finished (it was {state}): tagged, next version opened"
        )
    marker_path().unlink(missing_ok=True)
    return cut


def undo(before: str, written: list[Path]) -> None:
    """Back to the state before the release: no commit, no tag, no record files."""
    if vcs.git("rev-parse", "HEAD") != before:
        vcs.git("reset", "-q", "--soft", before)
    vcs.git("reset", "-q")
    for path in written:
        if path == CHANGELOG and vcs.show("HEAD", str(CHANGELOG)) is not None:
            vcs.git("checkout", "-q", "HEAD", "--", str(CHANGELOG))
        elif vcs.show("HEAD", str(path)) is None:
            path.unlink(missing_ok=True)
            folder = path.parent
            while folder != Path(".") and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
                folder = folder.parent


def open_next(version: Version, commit: str, p: params.Params) -> None:
    """After the tag: pin the next version's baseline (this release) and split index, one commit.

    Kept out of the tagged commit so that the tag's dvc.lock matches its own params and deps
    (a tag must reproduce and report exactly what was released)."""
    index = json.loads((Path(p.paths.training) / "index.json").read_text())
    fileio.write_json(p.paths.split_index, {"version": version.name, "commit": commit, **index})
    pin.write(p.paths.baseline_pin, version.name, commit)
    vcs.git("add", p.paths.split_index, p.paths.baseline_pin)
    vcs.git(
        "commit",
        "-q",
        "-m",
        f"Open the version after {version.name}: baseline and split index pinned to it",
    )
