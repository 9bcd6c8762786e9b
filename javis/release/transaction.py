"""The release transaction: clean workspace -> dvc repro -> gate -> release record -> dvc push ->
commit -> tag -> open the next version. A release happens fully or not at all.

While it runs, `.git/javis-release.lock` names its pid and step (`running()`: `javis status` says a
release is running instead of failing on DVC's lock, a second `javis release` waits its turn).
A release killed midway (kill -9, power loss) leaves a marker in `.git/javis-release.json`;
`interrupted()` says how far it got (a `State`): `javis status` names it, and the next `javis
release` (`repair()`) finishes one that was committed (its push came first: tag it, open the next
version) or undoes one that was not (record files removed, CHANGELOG.md restored).

Opening the next version pins its baseline (data/baseline.json, javis/release/pin.py) and split
index (data/split_index.json) to the release, in a commit of its own after the tag, so that the
tag's dvc.lock matches its own params and deps. See docs/DESIGN.md, "The release transaction".

Over the ~400-line guide on purpose: the release transaction is one sequence of steps with its typed state, the repair of an interrupted run and the undo; split apart, the steps and their undo would be read in different files.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from javis.core import fileio, params
from javis.release import pin, preflight, vcs
from javis.release.deploy import deploy
from javis.release.errors import ReleaseError
from javis.release.gate import NOT_ENOUGH, Rule, gate, worst_regressions
from javis.release.names import Version, next_version, releases
from javis.release.record import ADAPTERS, CHANGELOG, base_changed, record_paths, write_record

# What a release may carry uncommitted: the DAG's own outputs, data pins, params and the record.
RELEASABLE = re.compile(
    r"^(dvc\.lock|params\.yaml|\.dvc/config|metrics/[^/]+\.json|data/[^/]+\.dvc|"
    r"data/split_index\.json|data/baseline\.json|"
    r"CHANGELOG\.md|models/adapters/.*|models/configs/.*|data/training/javis-v.*|dvclive/.*)$"
)
IN_PROGRESS = "javis-release.json"  # the marker of a release in progress, inside .git
RUNNING = "javis-release.lock"  # {"pid", "started_at", "step", ...} while a release process runs
STEPS = (
    "clean workspace",
    "dvc repro",
    "gate",
    "release record",
    "dvc push",
    "commit, tag, open the next version",
)


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
    seconds: dict[str, float | None] = field(default_factory=dict)  # step -> s (None: skipped)


@dataclass(frozen=True)
class Running:
    """A release process that is alive now: its pid, when it started, the step it is at."""

    pid: int
    started_at: str
    step: str
    version: str

    def describe(self) -> str:
        return (
            f"a release{' of ' + self.version if self.version else ''} is running "
            f"(pid {self.pid}, started {self.started_at}, at {self.step})"
        )


class Steps:
    """The release's numbered steps: each announced as `step N/6: ...` and timed."""

    def __init__(self, log) -> None:
        self.log = log
        self.seconds: dict[str, float | None] = {}
        self._open: tuple[str, float] | None = None

    def start(self, n: int, note: str = "") -> None:
        self.close()
        label = f"{n}/{len(STEPS)} {STEPS[n - 1]}"
        self.log(f"step {n}/{len(STEPS)}: {STEPS[n - 1]}{note}")
        self._open = (label, time.perf_counter())
        _note_step(f"step {label}")

    def skip(self, n: int, why: str) -> None:
        self.close()
        self.log(f"step {n}/{len(STEPS)}: {STEPS[n - 1]}: skipped ({why})")
        self.seconds[f"{n}/{len(STEPS)} {STEPS[n - 1]}"] = None

    def close(self) -> None:
        if self._open:
            label, t0 = self._open
            self.seconds[label] = round(time.perf_counter() - t0, 2)
            self._open = None


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
    """clean workspace -> dvc repro -> gate -> release record -> dvc push -> commit -> tag.

    One release at a time: while it runs, a lock file names its pid (`running()`)."""
    if not vcs.is_work_tree():
        raise ReleaseError(
            "not inside a git repository: a release is a git commit and tag; run `javis release` "
            "in your javis repository (or `git init` one)"
        )
    other = running()
    if other:
        raise ReleaseError(
            f"{other.describe()}: wait until it has finished (`javis status` says when), then run "
            f"`javis release` again; if no process {other.pid} exists, delete {running_path()}"
        )
    fileio.write_json(running_path(), _lock_entry("starting"))
    try:
        return _release(major, tag, message, force, repro, log)
    finally:
        _remove_lock()


def _release(major: bool, tag: str, message: str, force: bool, repro: bool, log) -> Outcome:
    pin.migrate()
    p = params.load()
    repaired = repair(log=log)
    if repaired and repaired.state in (State.UNTAGGED, State.UNOPENED):
        # finished now: it was the release asked for
        name = repaired.version
        return Outcome(name, vcs.git("rev-parse", f"{name}^{{commit}}"), [], False)
    steps = Steps(log)
    steps.start(1)
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
        steps.start(2)
        vcs.dvc("repro", stream=True)
    else:
        steps.skip(2, "--no-repro: the workspace as it is")
    preflight.at_release(p, log)  # the adapter loads where it goes, and it stops
    eval_path = Path(p.paths.metrics) / "eval.json"
    if not eval_path.exists():
        steps.start(3)
        raise ReleaseError(
            f"step 3/6 (gate): {eval_path} is missing; the evaluate stage must run before a release"
        )
    result = json.loads(eval_path.read_text())
    against = result.get("baseline_source")
    steps.start(
        3, f" against {'the bare base model' if against == 'base' else against}" if against else ""
    )
    rules = gate(result, read_items(Path(p.paths.metrics), log), p.release.gate)
    failed = [r for r in rules if not r.passed]
    for r in rules:
        log(f"  gate {r.state.upper()} {r.name}: {r.detail}")
    override = None
    if failed:
        why = "; ".join(
            f"{r.name} ({'not enough evidence' if r.state == NOT_ENOUGH else 'failed'})"
            for r in failed
        )
        if not force:
            worst = worst_regressions(Path(p.paths.metrics))
            hint = (
                ("\n  records to review (largest loss increase first):\n" + "\n".join(worst))
                if worst
                else ""
            )
            raise ReleaseError(
                f"step 3/6 (gate): refused on {why}; nothing was committed or tagged. Review the "
                "data (or, for not enough evidence, add items), or release anyway with "
                "--force -m 'why'" + hint
            )
        log(f"  gate overridden (--force): {why}; recorded with who and why")
        override = {
            "by": vcs.git_user(),
            "why": message,
            "failed": [r.name for r in failed],
            "states": {r.name: r.state for r in rules},
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
    changed_base = last is not None and base_changed(history[-1][1], p)
    version = next_version(last, major or changed_base, tag)
    if any(v.name == version.name for v, _ in history):
        raise ReleaseError(f"step 4/6 (name): {version.name} exists already")
    steps.start(4, f" for {version.name}" + (" (major: the base changed)" if changed_base else ""))
    _note_step("step 4/6 release record", version.name)
    previous = last.name if last else None
    before = vcs.git("rev-parse", "HEAD")
    # Until the next version is opened, a marker says how to finish or undo this release if the
    # process dies (kill -9, power loss): `repair()`, run by the next `javis release`.
    fileio.write_json(
        marker_path(),
        {"version": version.name, "before": before, "message": message, "pid": os.getpid()},
    )
    written = write_record(version, p, result, previous, override, message)
    try:
        if not p.release.push:
            steps.skip(5, "release.push: false")
        else:
            steps.start(5)
            try:
                vcs.dvc("push")
            except ReleaseError as e:
                raise ReleaseError(
                    f"step 5/6 (dvc push): {e}; nothing was committed or tagged; "
                    "fix the remote (`dvc remote list`, `javis init --remote`) and run again"
                ) from e
        steps.start(6)
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
    steps.close()
    if p.release.auto_deploy and not failed:
        t0 = time.perf_counter()
        deploy(version.name, log=log)
        steps.seconds["deploy (release.auto_deploy)"] = round(time.perf_counter() - t0, 2)
    return Outcome(version.name, commit, rules, bool(override), steps.seconds)


def read_items(metrics: Path, log=print) -> list[dict]:
    """The gate's items: the lines of metrics/eval_samples.jsonl (none when it is missing: every
    gated rule then says "not enough evidence"); a line that is not a JSON object is skipped and
    named."""
    path = metrics / "eval_samples.jsonl"
    if not path.exists():
        log(
            f"  gate: {path} is missing (`dvc pull` or `dvc repro` restores it): no per-item "
            "results, so every gated rule lacks evidence"
        )
        return []
    items: list[dict] = []
    for line in fileio.read_jsonl(path, max_bytes=50_000_000):
        if line.obj is None:
            log(f"  gate: {path} line {line.line} skipped ({line.error})")
        else:
            items.append(line.obj)
    return items


# --- the running-release lock ------------------------------------------------------------------


def running_path() -> Path:
    """The lock file of a release process that runs now (inside .git, never committed)."""
    return vcs.git_dir() / RUNNING


def _proc_start(pid: int) -> str | None:
    """When process `pid` started (Linux: /proc/<pid>/stat field 22), so that a pid reused by
    another process after a crash is not taken for the release; None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def _lock_entry(step: str, version: str = "") -> dict:
    pid = os.getpid()
    return {
        "pid": pid,
        "proc_start": _proc_start(pid),
        "started_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "step": step,
        "version": version,
    }


def _note_step(step: str, version: str | None = None) -> None:
    """Record the step (and, once named, the version) in this process's lock file."""
    path = running_path()
    try:
        entry = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    if entry.get("pid") != os.getpid():
        return
    entry["step"] = step
    if version is not None:
        entry["version"] = version
    fileio.write_json(path, entry)


def _remove_lock() -> None:
    path = running_path()
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def _alive(pid: int, proc_start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by someone else
    now = _proc_start(pid)
    return not (proc_start and now and now != proc_start)


def running() -> Running | None:
    """The release process running now (its lock file names a live pid), or None; a lock left by
    a killed release is ignored."""
    try:
        entry = json.loads(running_path().read_text())
        pid = int(entry["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if pid == os.getpid() or not _alive(pid, entry.get("proc_start")):
        return None
    return Running(
        pid, str(entry.get("started_at", "")), str(entry.get("step", "")), entry.get("version", "")
    )


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
