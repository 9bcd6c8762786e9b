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

from javis.core import params
from javis.data import forget
from javis.release.vcs import commit_of, materialise

log = logging.getLogger("javis.init")

MARKER = "javis_init.json"


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    p = params.load()
    source, out = p.train.init_from, Path(p.paths.init)
    if not source or Path(source).is_dir():
        why = (
            "train.init_from is empty: a fresh adapter"
            if not source
            else f"train.init_from is the folder {source}"
        )
        materialise(out, MARKER, {"kind": "none", "tag": "", "rev": "", "reason": why})
        log.info("init: nothing to materialise (%s)", why)
        return
    commit = commit_of(source, "train.init_from")
    ids, groups = forget.load(p.paths.forgotten)
    if ids or groups:
        held = forget.releases_holding(ids, groups)
        if source in held:
            raise SystemExit(
                f"init: train.init_from: {source} was trained on a conversation you asked to forget "
                f"({p.paths.forgotten}); continuing from it would keep what it learned. Set "
                "train.init_from: '' so the next release retrains from the base"
            )
    materialise(
        out, MARKER, {"kind": "adapter", "tag": source, "rev": commit}, commit, p.paths.adapter
    )
    log.info("init: %s (%s) -> %s", source, commit[:12], out)


if __name__ == "__main__":
    main()
