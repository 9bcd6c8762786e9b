"""dedupe: drop exact duplicates (normalised content hash), then near duplicates (MinHash LSH).

Reads  data/cleaned/{sft,preference,kto}.jsonl
Writes data/deduped/{sft,preference,kto}.jsonl, data/rejected/dedupe.jsonl, metrics/dedupe.json
Run    python -m stages.dedupe

Records are compared within their kind (javis/data/dedup.py). The first record of a group in input
order is kept (the order is deterministic: collect writes feedback before logs, files sorted by
name, lines in order); a rejected one names the record it duplicates and, for near duplicates, the
estimated similarity.
"""

from __future__ import annotations

import logging
from pathlib import Path

import orjson

from javis.core import fileio, params, stage
from javis.data import dedup
from javis.data.records import KINDS

log = logging.getLogger("javis.dedupe")


def main(paths: params.Paths, cfg: params.Dedupe) -> None:
    src, out = Path(paths.cleaned), Path(paths.deduped)
    acc = fileio.Accounting("dedupe")
    for kind in KINDS:
        if not (src / f"{kind}.jsonl").exists():
            raise SystemExit(
                f"dedupe: {src / f'{kind}.jsonl'} is missing; run `dvc repro clean` first"
            )
    # Hashing runs in worker processes; the checks against the records kept so far run here, in
    # input order (the first of a group is kept), so the outputs do not depend on the number of jobs.
    jobs = fileio.jobs(sum((src / f"{kind}.jsonl").stat().st_size for kind in KINDS))
    dedupers = {kind: dedup.Deduper(cfg) for kind in KINDS}
    with fileio.JsonlWriter() as w:
        w.open("rejected", Path(paths.rejected) / "dedupe.jsonl")
        for kind in KINDS:
            w.open(kind, out / f"{kind}.jsonl")
        chunks = (
            (kind, chunk) for kind in KINDS for chunk in fileio.read_chunks(src / f"{kind}.jsonl")
        )
        for kind, results in fileio.map_ordered(
            dedup.sign_lines, chunks, jobs, dedup.worker_state, (cfg,)
        ):
            deduper = dedupers[kind]
            for source, record_id, h, m, line in results:
                acc.seen(source)
                keep, reason, dup_of = deduper.check_hashed(record_id, h, m)
                if keep:
                    w.write_line(kind, line)
                    acc.kept(source)
                    continue
                acc.rejected(source, reason)
                w.write("rejected", dedup.reject_entry(orjson.loads(line), source, reason, dup_of))
        acc.extra["records_out"] = {k: w.counts.get(k, 0) for k in KINDS}
        metrics = acc.metrics()
    fileio.write_json(Path(paths.metrics) / "dedupe.json", metrics)
    log.info(
        "dedupe: %d in, %d kept, %d rejected %s (%d jobs)",
        metrics["in"],
        metrics["kept"],
        metrics["rejected"],
        metrics["rejected_by_reason"],
        jobs,
    )


if __name__ == "__main__":
    stage.run(main, "paths", "dedupe")
