"""Versions as a product: names, the release gate, the release record, deploy and rollback.

A version is a git tag `javis-v{major}.{minor}[-{tag}]` on the commit that holds its release record:
`models/adapters/<version>/metadata.yaml` (+ README.md), `models/configs/training_v{X.Y}.yaml`,
`data/training/<version>/{manifest.json,changelog.md}`, an entry in CHANGELOG.md, and the dvc.lock
that pins its data, adapter and metrics (pushed to the DVC remote before the commit is made).

Deploy and rollback never check out the workspace: they materialise a tag's adapter from the DVC
cache or remote into `models/adapters/<version>/` (weights gitignored), verify it, and switch the
`models/current` symlink atomically.

A release killed midway (kill -9, power loss) leaves a marker in `.git/javis-release.json`:
`javis status` names the interrupted release, and the next `javis release` finishes one that was
committed (its push came first: tag it, open the next version) or undoes one that was not (record
files removed, CHANGELOG.md restored), so a release has happened fully or not at all.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from javis.core import fileio, params

PREFIX = "javis-v"
NAME = re.compile(r"^javis-v(?P<major>\d+)\.(?P<minor>\d+)(?:-(?P<tag>[a-z0-9][a-z0-9._-]*))?$")
ADAPTERS = Path("models/adapters")
CONFIGS = Path("models/configs")
CURRENT = Path("models/current")
DEPLOY_LOG = Path("models/deployments.jsonl")
CHANGELOG = Path("CHANGELOG.md")


class ReleaseError(RuntimeError):
    """A step of release/deploy failed; the message names the step and what to do."""


# --- git ---------------------------------------------------------------------------------------


def git(*args: str, check: bool = True) -> str:
    result = subprocess.run(["git", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise ReleaseError(
            f"git {' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}"
        )
    return result.stdout.strip()


def dvc(*args: str, stream: bool = False) -> str:
    """Run dvc with this interpreter; `stream` shows its output live (long runs)."""
    cmd = [sys.executable, "-m", "dvc", *args]
    if stream:
        result = subprocess.run(cmd)
        if result.returncode != 0:
            raise ReleaseError(
                f"dvc {' '.join(args)} failed (exit {result.returncode}); see its output above"
            )
        return ""
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise ReleaseError(f"dvc {' '.join(args)}: {(result.stderr or result.stdout).strip()}")
    return result.stdout


def show(rev: str, path: str) -> str | None:
    """A git-tracked file's text at a revision, or None."""
    result = subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else None


# --- names -------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    tag: str = ""

    @property
    def name(self) -> str:
        return f"{PREFIX}{self.major}.{self.minor}" + (f"-{self.tag}" if self.tag else "")

    @property
    def number(self) -> str:
        return f"{self.major}.{self.minor}"

    @classmethod
    def parse(cls, name: str) -> Version:
        m = NAME.match(name)
        if not m:
            raise ReleaseError(
                f"{name!r} is not a version name; expected javis-v<major>.<minor>[-<tag>], e.g. javis-v0.2"
            )
        return cls(int(m["major"]), int(m["minor"]), m["tag"] or "")


def releases() -> list[tuple[Version, str]]:
    """(version, commit) of every release tag, oldest first."""
    out = git(
        "tag",
        "--list",
        f"{PREFIX}*",
        "--format=%(refname:short) %(objectname) %(*objectname)",
        check=False,
    )
    found = []
    for line in out.splitlines():
        parts = line.split()
        try:
            v = Version.parse(parts[0])
        except ReleaseError:
            continue
        found.append((v, parts[2] if len(parts) > 2 else parts[1]))
    return sorted(found)


def resolve(name: str) -> tuple[Version, str]:
    """A version name (or its short form `v0.2`/`0.2`) -> (Version, commit)."""
    if not name.startswith(PREFIX):
        name = PREFIX + name.lstrip("v")
    for v, rev in releases():
        if v.name == name:
            return v, rev
    known = ", ".join(v.name for v, _ in releases()) or "none yet"
    raise ReleaseError(f"no release {name!r}; releases: {known}")


def next_version(last: Version | None, major: bool, tag: str) -> Version:
    if tag and not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", tag):
        raise ReleaseError(
            f"--tag {tag!r}: use lower-case letters, digits, '.', '_' or '-' (e.g. dpo, tools)"
        )
    if last is None:
        return Version(1, 0, tag) if major else Version(0, 1, tag)
    if major:
        return Version(last.major + 1, 0, tag)
    return Version(last.major, last.minor + 1, tag)


# --- the gate ----------------------------------------------------------------------------------


def gate(result: dict, cfg: params.Gate) -> list[tuple[str, bool, str]]:
    """(rule, passed, detail) for this run's candidate-vs-baseline delta; a missing metric passes."""
    cand, base, delta = (
        result.get("candidate", {}),
        result.get("baseline", {}),
        result.get("delta", {}),
    )
    rules: list[tuple[str, bool, str]] = []

    def rule(name: str, value: float | None, ok: bool, detail: str) -> None:
        rules.append((name, True if value is None else ok, "n/a" if value is None else detail))

    d = delta.get("loss")
    rule(
        "loss",
        d,
        d is not None and d <= cfg.max_loss_increase,
        f"candidate {_f(cand.get('loss'))} vs baseline {_f(base.get('loss'))} (delta {_f(d)}, allowed +{cfg.max_loss_increase})",
    )
    for key, tol in (
        ("tool_call_accuracy", cfg.max_tool_accuracy_drop),
        ("style_consistency", cfg.max_style_drop),
    ):
        d = delta.get(key)
        rule(key, d, d is not None and d >= -tol, f"delta {_f(d)} (allowed -{tol})")
    d = delta.get("kept_promises")
    rule(
        "kept_promises",
        d,
        d is not None and d >= -cfg.max_promise_drop,
        f"candidate {_f(cand.get('kept_promises'))} vs baseline {_f(base.get('kept_promises'))} (allowed -{cfg.max_promise_drop})",
    )
    d = delta.get("persona_recall")
    rule(
        "persona_recall",
        d,
        d is not None and d >= -cfg.max_persona_drop,
        f"candidate {_f(cand.get('persona_recall'))} vs baseline {_f(base.get('persona_recall'))} (allowed -{cfg.max_persona_drop})",
    )
    wr = result.get("win_rate") or {}
    low = wr.get("ci95_low")
    rule(
        "win_rate",
        low,
        low is not None and low >= cfg.min_win_rate_low,
        f"{_f(wr.get('rate'))} over n={wr.get('n')}, 95% interval [{_f(low)}, {_f(wr.get('ci95_high'))}] (floor {cfg.min_win_rate_low})",
    )
    return rules


def _f(x: Any) -> str:
    return f"{x:.4f}" if isinstance(x, float) else str(x)


# --- the release record ------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def user_satisfaction(version: str, feedback: Path) -> dict[str, Any]:
    """Mean rating (👍 = 5, 👎 = 1, or the explicit 1-5 score) of answers given by `version`."""
    scores = []
    for path in fileio.list_files(feedback):
        if path.suffix != ".jsonl":
            continue
        for line in fileio.read_jsonl(path):
            obj = line.obj or {}
            if obj.get("model_version") != version:
                continue
            score = obj.get("score")
            if isinstance(score, int) and not isinstance(score, bool) and 1 <= score <= 5:
                scores.append(score)
            elif obj.get("rating") in ("good", "bad"):
                scores.append(5 if obj["rating"] == "good" else 1)
    if not scores:
        return {"mean": None, "n": 0, "text": "not rated yet"}
    mean = sum(scores) / len(scores)
    return {
        "mean": round(mean, 2),
        "n": len(scores),
        "text": f"{mean:.1f}/5 ({len(scores)} ratings)",
    }


def changes_from_previous(
    manifest: dict, result: dict, previous: str | None, p: params.Params, last_meta: dict | None
) -> list[str]:
    """Plain-language changes: data added/removed by source and reason, params changed, metric deltas."""
    changes = []
    for kind, sources in sorted((manifest.get("added") or {}).items()):
        for source, n in sorted(sources.items()):
            changes.append(f"{n} {kind} records added from {source}")
    for kind, reasons in sorted((manifest.get("removed") or {}).items()):
        for reason, n in sorted(reasons.items()):
            changes.append(f"{n} {kind} records removed ({reason})")
    if last_meta:
        old_t, new_t = last_meta.get("training", {}), training_summary(p, manifest)
        for key in ("method", "epochs", "learning_rate", "lora_r"):
            if old_t.get(key) != new_t.get(key):
                changes.append(f"training {key}: {old_t.get(key)} -> {new_t.get(key)}")
        if last_meta.get("base_model") != base_name(p):
            changes.append(f"base model: {last_meta.get('base_model')} -> {base_name(p)}")
    for key, d in sorted((result.get("delta") or {}).items()):
        if isinstance(d, float) and key in (
            "loss",
            "tool_call_accuracy",
            "style_consistency",
            "language_match",
            "kept_promises",
            "regression_chrf",
        ):
            changes.append(f"{key} {d:+.4f} vs {previous or 'the base model'}")
    return changes or ["no data or parameter changes"]


def base_name(p: params.Params) -> str:
    return p.base.name or p.base.source


def training_summary(p: params.Params, manifest: dict) -> dict[str, Any]:
    t = p.train
    lora = "QLoRA" if t.quantize == "4bit" else "LoRA"
    stages = t.method.upper().replace("+", " + ")
    return {
        "method": f"{lora} {stages}",
        "epochs": t.epochs,
        "learning_rate": t.learning_rate,
        "lora_r": t.lora_r,
        "data_count": manifest.get("data_count", 0),
    }


def source_counts(manifest: dict) -> list[str]:
    """'file (n)' per source of the SFT records trained on (train + val); they sum to data_count."""
    counts = manifest.get("trained_sources") or {}
    return [f"{source} ({n})" for source, n in sorted(counts.items()) if n]


def write_record(
    version: Version,
    p: params.Params,
    result: dict,
    previous: str | None,
    override: dict | None,
    message: str,
) -> list[Path]:
    """Write the release record files; returns the paths written (for the commit, or to undo)."""
    manifest = json.loads((Path(p.paths.training) / "manifest.json").read_text())
    last_meta = None
    if previous:
        text = show(previous, str(ADAPTERS / previous / "metadata.yaml"))
        last_meta = yaml.safe_load(text) if text else None
    adapter = Path(p.paths.adapter)
    weights = adapter / "adapter_model.safetensors"
    train_info = (
        json.loads((adapter / "javis_train.json").read_text())
        if (adapter / "javis_train.json").exists()
        else {}
    )
    cand = result.get("candidate", {})
    sat = user_satisfaction(version.name, Path(p.paths.feedback))
    meta: dict[str, Any] = {
        "version": version.number,
        "name": version.name,
        "created_at": dt.date.today().isoformat(),
        "base_model": base_name(p),
        "base_fingerprint": (train_info.get("base") or {}).get("fingerprint"),
        "training": training_summary(p, manifest),
        "data": {
            "sources": source_counts(manifest),
            "count": manifest.get("data_count", 0),
            "regression_cases": manifest.get("regression", 0),
        },
        "changes_from_previous": changes_from_previous(manifest, result, previous, p, last_meta),
        "evaluation": {
            "tool_accuracy": cand.get("tool_call_accuracy"),
            "style_consistency": cand.get("style_consistency"),
            "user_satisfaction": sat["mean"],
            "loss": cand.get("loss"),
            "kept_promises": cand.get("kept_promises"),
            "persona_recall": cand.get("persona_recall"),
            "win_rate_vs_previous": (result.get("win_rate") or {}).get("rate"),
            "baseline": previous or "base model",
        },
        "adapter": {
            "sha256": sha256_file(weights) if weights.exists() else None,
            "precision": train_info.get("precision"),
        },
        "message": message,
    }
    if override:
        meta["gate_override"] = override
    data_folder = Path(p.paths.training).parent / version.name
    written = record_paths(version, p)[:-1]  # CHANGELOG.md is added once its notes are written
    fileio.write_text(written[0], yaml.safe_dump(meta, sort_keys=False, allow_unicode=True))
    fileio.write_text(written[1], model_card(meta))
    config = {
        k: p.raw.get(k)
        for k in ("base", "train", "persona", "collect", "clean", "dedupe", "split", "evaluate")
    }
    fileio.write_text(
        written[2],
        f"# Training config of {version.name} (params.yaml as released)\n"
        + yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
    )
    for name in ("manifest.json", "changelog.md"):
        fileio.write_text(
            data_folder / name, (Path(p.paths.training) / name).read_text(encoding="utf-8")
        )
    notes = [f"## {version.name} ({meta['created_at']})", "", message or "", ""]
    notes += [f"- {c}" for c in meta["changes_from_previous"]]
    if override:
        notes.append(f"- gate overridden by {override['by']}: {override['why']}")
    old = CHANGELOG.read_text(encoding="utf-8") if CHANGELOG.exists() else "# Releases\n"
    head, _, rest = old.partition("\n")
    fileio.write_text(
        CHANGELOG, head + "\n\n" + "\n".join(n for n in notes if n is not None) + "\n" + rest
    )
    written.append(CHANGELOG)
    return written


def record_paths(version: Version, p: params.Params) -> list[Path]:
    """The files a release record writes, CHANGELOG.md last (committed by the release, or undone)."""
    folder = ADAPTERS / version.name
    data_folder = Path(p.paths.training).parent / version.name
    return [
        folder / "metadata.yaml",
        folder / "README.md",
        CONFIGS / f"training_v{version.number}.yaml",
        data_folder / "manifest.json",
        data_folder / "changelog.md",
        CHANGELOG,
    ]


def model_card(meta: dict) -> str:
    ev = meta["evaluation"]
    lines = [
        f"# JAVIS {meta['version']} ({meta['name']})",
        "",
        f"A LoRA adapter for `{meta['base_model']}`, trained with {meta['training']['method']} on "
        f"{meta['training']['data_count']} records ({meta['created_at']}).",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v} |" for k, v in ev.items()]
    lines += ["", "## Changes from the previous version", ""] + [
        f"- {c}" for c in meta["changes_from_previous"]
    ]
    lines += [
        "",
        "Restore this version: `javis deploy "
        + meta["name"]
        + "` (serve it) or `git checkout "
        + meta["name"]
        + " && dvc pull` (the whole workspace).",
    ]
    return "\n".join(lines) + "\n"


# --- release -----------------------------------------------------------------------------------

# What a release may carry uncommitted: the DAG's own outputs, data pins, params and the record.
RELEASABLE = re.compile(
    r"^(dvc\.lock|params\.yaml|\.dvc/config|metrics/[^/]+\.json|data/[^/]+\.dvc|data/split_index\.json|"
    r"CHANGELOG\.md|models/adapters/.*|models/configs/.*|data/training/javis-v.*|dvclive/.*)$"
)


def uncommitted() -> tuple[list[str], list[str]]:
    """(changes a release may carry, changes that make the workspace dirty)."""
    ok, dirty = [], []
    out = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for line in out.splitlines():
        path = line[3:].split(" -> ")[-1].strip('"')
        (ok if RELEASABLE.match(path) else dirty).append(path)
    return ok, dirty


@dataclass
class Outcome:
    version: str
    commit: str
    gate: list[tuple[str, bool, str]]
    forced: bool


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
    p = params.load()
    repaired = repair(log=log)
    if repaired and repaired[0] in (
        "untagged",
        "unopened",
    ):  # finished now: it was the release asked for
        name = repaired[1]
        return Outcome(name, git("rev-parse", f"{name}^{{commit}}"), [], False)
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
        dvc("repro", stream=True)
    eval_path = Path(p.paths.metrics) / "eval.json"
    if not eval_path.exists():
        raise ReleaseError(
            f"step 3/6 (gate): {eval_path} is missing; the evaluate stage must run before a release"
        )
    result = json.loads(eval_path.read_text())
    rules = gate(result, p.release.gate)
    failed = [r for r in rules if not r[1]]
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
                + ", ".join(r[0] for r in failed)
                + "; nothing was committed or tagged. Review the data, or release anyway with "
                "--force -m 'why'" + hint
            )
        override = {
            "by": git_user(),
            "why": message,
            "failed": [r[0] for r in failed],
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
    base_changed = last is not None and _base_changed(history[-1][1], p)
    version = next_version(last, major or base_changed, tag)
    if any(v.name == version.name for v, _ in history):
        raise ReleaseError(f"step 4/6 (name): {version.name} exists already")
    log(
        f"step 4/6: release record for {version.name}"
        + (" (major: the base changed)" if base_changed else "")
    )
    previous = last.name if last else None
    before = git("rev-parse", "HEAD")
    # Until the next version is opened, a marker says how to finish or undo this release if the
    # process dies (kill -9, power loss): `repair()`, run by the next `javis release`.
    fileio.write_json(_marker(), {"version": version.name, "before": before, "message": message})
    written = write_record(version, p, result, previous, override, message)
    try:
        if p.release.push:
            log("step 5/6: dvc push")
            try:
                dvc("push")
            except ReleaseError as e:
                raise ReleaseError(
                    f"step 5/6 (dvc push): {e}; nothing was committed or tagged; "
                    "fix the remote (`dvc remote list`, `javis init --remote`) and run again"
                ) from e
        log("step 6/6: commit and tag")
        git("add", "-A", "--", ".")
        git("commit", "-q", "-m", f"Release {version.name}" + (f": {message}" if message else ""))
        git("tag", "-a", version.name, "-m", message or f"javis {version.name}")
    except BaseException:
        _undo(before, written)
        _marker().unlink(missing_ok=True)
        raise
    commit = git("rev-parse", "HEAD")
    open_next(version, commit, p)
    _marker().unlink(missing_ok=True)
    if p.release.auto_deploy and not failed:
        deploy(version.name, log=log)
    return Outcome(version.name, commit, rules, bool(override))


def _marker() -> Path:
    """Where a release in progress is noted: inside .git, so it is never part of a commit."""
    return Path(git("rev-parse", "--git-dir", check=False) or ".git") / "javis-release.json"


def interrupted() -> dict | None:
    """A release that was cut off (its process killed) and how far it got, or None.

    `state`: `uncommitted` (record files written, maybe pushed, no commit: undo it), `untagged`
    (committed after a successful push, no tag: tag it), `unopened` (tagged, the next version not
    yet opened: open it), `opened` (done; only the marker is left), `moved` (the repository has new
    commits since: a person must look)."""
    path = _marker()
    if not path.exists():
        return None
    m = json.loads(path.read_text())
    name, head = m["version"], git("rev-parse", "HEAD")
    subject = git("log", "-1", "--format=%s")
    if git("rev-parse", "-q", "--verify", f"refs/tags/{name}", check=False):
        m["state"] = (
            "opened" if subject.startswith(f"Open the version after {name}:") else "unopened"
        )
    elif head == m["before"]:
        m["state"] = "uncommitted"
    elif subject == f"Release {name}" or subject.startswith(f"Release {name}: "):
        m["state"] = "untagged"
    else:
        m["state"] = "moved"
    return m


def repair(log=print) -> tuple[str, str] | None:
    """Finish or undo a release that was cut off; (state it was in, version), or None when none was.

    A release commit exists only after a successful `dvc push`, so a committed release is finished
    (tag, open the next version); one cut off before its commit is undone (record files removed,
    CHANGELOG.md restored), so the next release starts clean and writes its notes once."""
    m = interrupted()
    if m is None:
        return None
    name, state = m["version"], m["state"]
    if state == "moved":
        raise ReleaseError(
            f"a release of {name} was cut off and the repository has new commits since; check "
            f"CHANGELOG.md and {ADAPTERS / name}/ by hand, then delete {_marker()}"
        )
    p = params.load()
    version = Version.parse(name)
    if state == "uncommitted":
        _undo(m["before"], record_paths(version, p))
        log(
            f"an interrupted release of {name} (cut off before its commit) was undone: no commit, no tag"
        )
    else:
        if state == "untagged":
            git("tag", "-a", name, "-m", m.get("message") or f"javis {name}")
        if state in ("untagged", "unopened"):
            open_next(version, git("rev-parse", f"{name}^{{commit}}"), p)
        log(
            f"an interrupted release of {name} was finished (it was {state}): tagged, next version opened"
        )
    _marker().unlink(missing_ok=True)
    return state, name


def _undo(before: str, written: list[Path]) -> None:
    """Back to the state before the release: no commit, no tag, no record files."""
    if git("rev-parse", "HEAD") != before:
        git("reset", "-q", "--soft", before)
    git("reset", "-q")
    for path in written:
        if path == CHANGELOG and show("HEAD", str(CHANGELOG)) is not None:
            git("checkout", "-q", "HEAD", "--", str(CHANGELOG))
        elif show("HEAD", str(path)) is None:
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
    text = Path(params.PARAMS_FILE).read_text(encoding="utf-8")
    text = set_param(text, "evaluate", "baseline_tag", version.name)
    text = set_param(text, "evaluate", "baseline_rev", commit)
    fileio.write_text(params.PARAMS_FILE, text)
    params.load()  # still valid
    git("add", p.paths.split_index, params.PARAMS_FILE)
    git(
        "commit",
        "-q",
        "-m",
        f"Open the version after {version.name}: baseline and split index pinned to it",
    )


def set_param(text: str, section: str, key: str, value: str) -> str:
    """Set `section.key` in params.yaml text, keeping comments and layout."""
    pattern = re.compile(
        rf"(^{section}:\n(?:[ \t]+.*\n|\n)*?[ \t]+{key}:[ \t]*)([^#\n]*?)([ \t]*(?:#.*)?)$", re.M
    )
    new, n = pattern.subn(
        lambda m: m.group(1) + json.dumps(value) + (m.group(3) or ""), text, count=1
    )
    if n != 1:
        raise ReleaseError(f"params.yaml: cannot find {section}.{key} to set it")
    return new


def git_user() -> str:
    return git("config", "user.name", check=False) or getpass.getuser()


def _base_changed(last_rev: str, p: params.Params) -> bool:
    """Did the base model change since the last release (by fingerprint, else by name)?"""
    last = Version.parse(next(v.name for v, r in releases() if r == last_rev))
    text = show(last_rev, str(ADAPTERS / last.name / "metadata.yaml"))
    meta = yaml.safe_load(text) if text else {}
    info_path = Path(p.paths.base) / "javis_base.json"
    now = json.loads(info_path.read_text()).get("fingerprint") if info_path.exists() else None
    if meta.get("base_fingerprint") and now:
        return meta["base_fingerprint"] != now
    return meta.get("base_model") not in (None, base_name(p))


def worst_regressions(metrics: Path, n: int = 5) -> list[str]:
    """What to review after a failed gate (from eval_samples.jsonl): the identity questions and the
    user's corrections the candidate gets wrong and the baseline right, then the test examples it
    lost most on."""
    path = metrics / "eval_samples.jsonl"
    if not path.exists():
        return []
    broken, lost = [], []
    for s in fileio.iter_records(path):
        c, b = s.get("candidate", {}), s.get("baseline", {})
        if s.get("set") == "persona" and c.get("named") is False and b.get("named") is True:
            broken.append(
                f"    forgot who it is {s.get('id')}: {prompt_text(s)[:70]!r} -> {str(c.get('answer'))[:70]!r}"
            )
        elif s.get("set") == "regression" and c.get("kept") is False and b.get("kept") is not False:
            broken.append(
                f"    broken promise {s.get('id')}: {prompt_text(s)[:70]!r} -> {str(c.get('answer'))[:70]!r}"
            )
        elif (
            isinstance(c.get("loss"), float)
            and isinstance(b.get("loss"), float)
            and c["loss"] > b["loss"]
        ):
            lost.append(
                (
                    c["loss"] - b["loss"],
                    f"    loss +{c['loss'] - b['loss']:.3f} {s.get('id')}: {prompt_text(s)[:70]!r}",
                )
            )
    lost.sort(key=lambda r: -r[0])
    return (broken + [line for _, line in lost])[:n]


def prompt_text(sample: dict) -> str:
    """The last user turn of an eval sample's prompt (what the example asked)."""
    prompt = sample.get("prompt")
    if isinstance(prompt, list):
        users = [
            m.get("content") or ""
            for m in prompt
            if isinstance(m, dict) and m.get("role") == "user"
        ]
        return users[-1] if users else ""
    return str(prompt or sample.get("id"))


# --- deploy and rollback -----------------------------------------------------------------------


def materialise(version: str, rev: str, paths: params.Paths) -> Path:
    """The tag's adapter files into models/adapters/<version>/ (from the DVC cache or remote),
    beside the git-tracked metadata.yaml and README.md of the release record."""
    from javis.release.vcs import fetch_adapter

    dest = ADAPTERS / version
    dest.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".materialise.", dir=ADAPTERS))
    try:
        try:
            fetch_adapter(rev, paths.adapter, tmp / "adapter", version)
        except SystemExit as e:
            raise ReleaseError(f"{e}; try `dvc fetch --all-tags`") from e
        for f in (tmp / "adapter").iterdir():
            if f.name in ("README.md",):
                continue  # the release record's model card stays
            target = dest / f.name
            if target.is_dir():
                shutil.rmtree(target)
            os.replace(f, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def verify(version: str, folder: Path, paths: params.Paths) -> dict:
    """The materialised weights match the release record; the adapter fits the current base."""
    from javis.model.loading import ModelError, check_adapter_base

    text = show(resolve(version)[1], str(ADAPTERS / version / "metadata.yaml"))
    meta = yaml.safe_load(text) if text else {}
    want = (meta.get("adapter") or {}).get("sha256")
    weights = folder / "adapter_model.safetensors"
    if not weights.exists():
        raise ReleaseError(f"{weights} is missing after materialising {version}")
    have = sha256_file(weights)
    if want and want != have:
        # `dvc fetch` keeps an object the cache already has, corrupted or not: the copy must go first.
        obj = cache_object(resolve(version)[1], f"{paths.adapter}/adapter_model.safetensors")
        raise ReleaseError(
            f"{version}: adapter weights sha256 {have[:16]} differ from the release record's "
            f"{want[:16]}: the local DVC cache holds a corrupted copy; nothing was switched. "
            f"Delete {obj or 'that cache object'} and run `javis deploy {version}` again: "
            "it fetches a good copy from the DVC remote"
        )
    try:
        check_adapter_base(folder, paths.base, "deploy")
    except ModelError as e:
        raise ReleaseError(f"{version}: {e}") from e
    return meta


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


def deploy(version: str, *, log=print) -> Path:
    """Serve `version`: materialise, verify, switch models/current atomically, hook, log."""
    p = params.load()
    v, rev = resolve(version)
    folder = materialise(v.name, rev, p.paths)
    verify(v.name, folder, p.paths)
    previous = current_version()
    tmp = CURRENT.with_name(f".current.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    os.symlink(Path("adapters") / v.name, tmp)
    os.replace(tmp, CURRENT)
    hook = p.deploy.hook
    status = "no hook"
    if hook:
        env = {**os.environ, "JAVIS_VERSION": v.name, "JAVIS_ADAPTER": str(folder.resolve())}
        result = subprocess.run(hook, shell=True, env=env, capture_output=True, text=True)
        status = f"hook exit {result.returncode}"
        if result.returncode != 0:
            log(f"deploy.hook failed (exit {result.returncode}): {result.stderr.strip()[:500]}")
    entry = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "version": v.name,
        "commit": rev,
        "previous": previous,
        "by": git_user(),
        "hook": status,
    }
    DEPLOY_LOG.parent.mkdir(parents=True, exist_ok=True)
    with open(DEPLOY_LOG, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")
    log(
        f"deployed {v.name}: models/current -> adapters/{v.name} (was {previous or 'nothing'}; {status})"
    )
    return folder


def current_version() -> str | None:
    if not CURRENT.is_symlink():
        return None
    return Path(os.readlink(CURRENT)).name


def rollback(version: str | None = None, *, log=print) -> Path:
    """Serve `version`, or the version deployed before the current one."""
    if version is None:
        history = (
            [json.loads(line) for line in DEPLOY_LOG.read_text().splitlines()]
            if DEPLOY_LOG.exists()
            else []
        )
        now = current_version()
        earlier = [e["version"] for e in history if e["version"] != now]
        if not earlier:
            done = [v.name for v, _ in releases() if v.name != now]
            if not done:
                raise ReleaseError(
                    "nothing to roll back to: no other release has been deployed or made"
                )
            earlier = done
        version = earlier[-1]
    return deploy(version, log=log)


# --- reading versions --------------------------------------------------------------------------


def eval_at(rev: str) -> dict:
    text = show(rev, "metrics/eval.json")
    return json.loads(text) if text else {}


def version_rows(p: params.Params) -> list[dict]:
    rows = []
    deployed = current_version()
    for v, rev in releases():
        text = show(rev, str(ADAPTERS / v.name / "metadata.yaml"))
        meta = yaml.safe_load(text) if text else {}
        ev = meta.get("evaluation") or {}
        rows.append(
            {
                "version": v.name,
                "date": meta.get("created_at"),
                "base": meta.get("base_model"),
                "method": (meta.get("training") or {}).get("method"),
                "data": (meta.get("training") or {}).get("data_count"),
                "loss": ev.get("loss"),
                "tool_accuracy": ev.get("tool_accuracy"),
                "style": ev.get("style_consistency"),
                "persona": ev.get("persona_recall"),
                "satisfaction": user_satisfaction(v.name, Path(p.paths.feedback))["text"],
                "deployed": v.name == deployed,
                "commit": rev[:10],
            }
        )
    return rows
