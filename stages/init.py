"""init: materialise the released adapter that training continues from (`train.init_from`).

Reads  params train.init_from; the git history and the DVC cache/remote (that release's adapter)
Writes models/init/: the release's adapter files plus javis_init.json, or only javis_init.json
       ({"kind": "none"}) when training starts from a fresh adapter
Run    python -m stages.init

`train.init_from` is "" (a fresh adapter, the brief's recommended "from scratch on all data"), a
release tag such as `javis-v0.2` (continual training on top of it), or an adapter folder on disk
(read by the train stage directly; nothing to materialise here). The adapter is read at the tag's
commit with `dvc.api`, never from the workspace's models/adapter (a stage never reads its own
previous output). A release that saw a forgotten conversation (`javis forget`) is refused.
"""

from __future__ import annotations

import logging
from pathlib import Path

from javis.core import params, stage
from javis.data import forget
from javis.model.loading import INIT_INFO
from javis.release import purge, vcs
from javis.release.errors import ReleaseError

log = logging.getLogger("javis.init")


def main(train: params.Train, paths: params.Paths) -> None:
    source, out = train.init_from, Path(paths.init)
    if not source or Path(source).is_dir():
        why = (
            "train.init_from is empty: a fresh adapter"
            if not source
            else f"train.init_from is the folder {source}"
        )
        vcs.build_marked_folder(
            out, INIT_INFO, {"kind": "none", "tag": "", "rev": "", "reason": why}
        )
        log.info("init: nothing to materialise (%s)", why)
        return
    commit = vcs.commit_of(source, "train.init_from")
    forgotten = forget.load(paths.forgotten)
    held = [] if forgotten.is_empty() else purge.releases_holding(forgotten)
    if any(h.split(" ")[0] == source for h in held):  # unreadable index: it may hold them
        raise SystemExit(
            f"init: train.init_from: {source} was trained on a conversation you asked to forget "
            f"({paths.forgotten}), or its split index can't be read to tell; continuing from it "
            "would keep what it learned. Set "
            "train.init_from: '' so the next release retrains from the base"
        )
    marker = {"kind": "adapter", "tag": source, "rev": commit}
    vcs.build_marked_folder(out, INIT_INFO, marker, commit, paths.adapter)
    log.info("init: %s (%s) -> %s", source, commit[:12], out)


if __name__ == "__main__":
    try:
        stage.run(main, "train", "paths")
    except ReleaseError as e:
        raise SystemExit(str(e)) from None
