"""baseline: materialise what `evaluate` compares the candidate with, from a past release.

Reads  params evaluate.baseline; data/baseline.json (paths.baseline_pin: the last release's tag and
       commit, written by `javis release`); the git history and the DVC cache/remote (the release's
       adapter, never the workspace's models/adapter)
Writes models/baseline/: the release's adapter files plus javis_baseline.json, or only
       javis_baseline.json ({"kind": "base"}) when the baseline is the bare base model
Run    python -m stages.baseline

evaluate.baseline:
- `base`: the bare base model.
- `previous` (default): the release pinned in data/baseline.json (javis/release/pin.py); before the
  first release (no tag pinned) the bare base, and the marker says so.
- a tag such as `javis-v0.2`: that release.
The adapter is read at that commit with `dvc.api` (DVCFileSystem): from the local DVC cache, else
from the DVC remote. A stage never reads its own previous output, so models/adapter of the
workspace is never used here.
"""

from __future__ import annotations

import logging
from pathlib import Path

from javis.core import params, stage
from javis.model.loading import BASELINE_INFO
from javis.release import pin, vcs
from javis.release.errors import ReleaseError

log = logging.getLogger("javis.baseline")


def main(cfg: params.Evaluate, paths: params.Paths) -> None:
    kind, tag, rev, source = pin.resolve(cfg, paths.baseline_pin)
    out = Path(paths.baseline)
    if kind == "base":
        reason = (
            "evaluate.baseline: base"
            if source == "evaluate.baseline"
            else f"no release yet (evaluate.baseline: previous, no tag in {paths.baseline_pin})"
        )
        vcs.build_marked_folder(
            out, BASELINE_INFO, {"kind": "base", "tag": "", "rev": "", "reason": reason}
        )
        log.info("baseline: the bare base model (%s)", reason)
        return
    commit = vcs.commit_of(rev, source)
    if rev != tag:  # a pinned commit: the tag should still point at it
        tagged = vcs.rev_parse(tag)
        if tagged and tagged != commit:
            log.warning(
                "baseline: tag %s now points at %s, not %s (%s); using the recorded commit",
                tag,
                tagged[:12],
                commit[:12],
                source,
            )
    marker = {
        "kind": "adapter",
        "tag": tag,
        "rev": commit,
        "path": paths.adapter,
        "reason": f"{source}: {rev}",
    }
    vcs.build_marked_folder(out, BASELINE_INFO, marker, commit=commit, adapter_path=paths.adapter)
    log.info("baseline: %s of %s (%s) -> %s", paths.adapter, tag, commit[:12], out)


if __name__ == "__main__":
    try:
        pin.migrate()  # an old params.yaml's evaluate.baseline_tag/baseline_rev -> the pin file
        stage.run(main, "evaluate", "paths")
    except ReleaseError as e:
        raise SystemExit(str(e)) from None
