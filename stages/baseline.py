"""baseline: materialise what `evaluate` compares the candidate with, from a past release.

Reads  params evaluate.baseline, evaluate.baseline_tag, evaluate.baseline_rev; the git history and
       the DVC cache/remote (the release's adapter, never the workspace's models/adapter)
Writes models/baseline/: the release's adapter files plus javis_baseline.json, or only
       javis_baseline.json ({"kind": "base"}) when the baseline is the bare base model
Run    python -m stages.baseline

evaluate.baseline:
- `base`: the bare base model.
- `previous` (default): the last release, whose tag and commit `javis release` writes into
  evaluate.baseline_tag / evaluate.baseline_rev; before the first release (both empty) the bare
  base, and the marker says so.
- a tag such as `javis-v0.2`: that release.
The adapter is read at that commit with `dvc.api` (DVCFileSystem): from the local DVC cache, else
from the DVC remote. A stage never reads its own previous output, so models/adapter of the
workspace is never used here.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

from javis import io, params

log = logging.getLogger("javis.baseline")

MARKER = "javis_baseline.json"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


def resolve(cfg: params.Evaluate) -> tuple[str, str, str, str]:
    """(kind, tag, rev, param): what the params ask for; rev may still be a tag name.

    `param` names the setting the tag/rev came from, for error messages.
    """
    if cfg.baseline == "base":
        return "base", "", "", "evaluate.baseline"
    if cfg.baseline == "previous":
        if not cfg.baseline_tag:
            return "base", "", "", "evaluate.baseline_tag"
        if cfg.baseline_rev:
            return "adapter", cfg.baseline_tag, cfg.baseline_rev, "evaluate.baseline_rev"
        return "adapter", cfg.baseline_tag, cfg.baseline_tag, "evaluate.baseline_tag"
    return "adapter", cfg.baseline, cfg.baseline, "evaluate.baseline"


def commit_of(rev: str, param: str) -> str:
    """The full commit hash `rev` (a tag or a commit) names; a clear error when there is none."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError as e:
        raise SystemExit(
            "baseline: git is not installed; a release baseline is read from git history"
        ) from e
    if out.returncode != 0:
        raise SystemExit(
            f"baseline: {param}: {rev!r} is not a tag or commit of this repository; list releases with "
            "`git tag -l 'javis-v*'` (after `git fetch --tags`), or set evaluate.baseline: base"
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
            raise SystemExit(
                f"baseline: {label} has no {adapter_path} (not an output in its dvc.lock); a baseline must "
                "be a release made by `javis release`, or set evaluate.baseline: base"
            )
        fs.get(adapter_path, str(dest), recursive=True)
    except SystemExit:
        raise
    except Exception as e:  # dvc raises many kinds: missing cache, unreachable remote, ...
        raise SystemExit(
            f"baseline: could not read {adapter_path} of {label} from the DVC cache or remote "
            f"({type(e).__name__}: {e}); run `dvc pull` with the remote reachable, or set "
            "evaluate.baseline: base"
        ) from e
    missing = [f for f in ADAPTER_FILES if not (dest / f).is_file()]
    if missing:
        raise SystemExit(
            f"baseline: {adapter_path} of {label} is not an adapter (missing {missing})"
        )


def materialise(out: Path, marker: dict, commit: str = "", adapter_path: str = "") -> None:
    """Build the folder beside `out`, then swap it in: `out` is whole or absent."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        folder = tmp / out.name
        if commit:
            fetch_adapter(commit, adapter_path, folder, marker["tag"] or commit[:12])
        folder.mkdir(exist_ok=True)
        io.write_json(folder / MARKER, marker)
        if out.exists():
            shutil.rmtree(out)
        folder.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    p = params.load()
    cfg, paths = p.evaluate, p.paths
    kind, tag, rev, param = resolve(cfg)
    out = Path(paths.baseline)
    if kind == "base":
        reason = (
            "evaluate.baseline: base"
            if param == "evaluate.baseline"
            else "no release yet (evaluate.baseline: previous, evaluate.baseline_tag empty)"
        )
        materialise(out, {"kind": "base", "tag": "", "rev": "", "reason": reason})
        log.info("baseline: the bare base model (%s)", reason)
        return
    commit = commit_of(rev, param)
    if param == "evaluate.baseline_rev":
        tagged = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"{tag}^{{commit}}"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if tagged and tagged != commit:
            log.warning(
                "baseline: tag %s now points at %s, not %s (evaluate.baseline_rev); using the "
                "recorded commit",
                tag,
                tagged[:12],
                commit[:12],
            )
    marker = {
        "kind": "adapter",
        "tag": tag,
        "rev": commit,
        "path": paths.adapter,
        "reason": f"{param}: {rev}",
    }
    materialise(out, marker, commit=commit, adapter_path=paths.adapter)
    log.info("baseline: %s of %s (%s) -> %s", paths.adapter, tag, commit[:12], out)


if __name__ == "__main__":
    main()
