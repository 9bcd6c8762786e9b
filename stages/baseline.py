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
import subprocess
from pathlib import Path

from javis.core import params
from javis.release.vcs import commit_of, materialise

log = logging.getLogger("javis.baseline")

MARKER = "javis_baseline.json"


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
        materialise(out, MARKER, {"kind": "base", "tag": "", "rev": "", "reason": reason})
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
    materialise(out, MARKER, marker, commit=commit, adapter_path=paths.adapter)
    log.info("baseline: %s of %s (%s) -> %s", paths.adapter, tag, commit[:12], out)


if __name__ == "__main__":
    main()
