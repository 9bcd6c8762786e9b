"""clean: validate, redact secrets and personal data, score quality; keep what scores >= min_score.

Reads  data/collected/{sft,preference,kto}.jsonl
Writes data/cleaned/{sft,preference,kto}.jsonl, data/rejected/clean.jsonl, metrics/clean.json
Run    python -m stages.clean

What happens to one record (schema, redaction, the six quality criteria) is in
javis/data/cleaning.py; here the records stream through it and are counted.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from javis.core import fileio, params, stage
from javis.data import cleaning, quality
from javis.data.records import KINDS

log = logging.getLogger("javis.clean")


def main(paths: params.Paths, cfg: params.Clean) -> None:
    src, out = Path(paths.collected), Path(paths.cleaned)
    acc = fileio.Accounting("clean")
    redactions: Counter[str] = Counter()
    score_hist: dict[str, Counter[int]] = {c: Counter() for c in quality.CRITERIA}
    for kind in KINDS:
        if not (src / f"{kind}.jsonl").exists():
            raise SystemExit(
                f"clean: {src / f'{kind}.jsonl'} is missing; run `dvc repro collect` first"
            )
    # Records are independent: with several jobs, chunks are cleaned in worker processes and
    # written back in input order, so the outputs are byte-identical for any number of jobs.
    jobs = fileio.jobs(sum((src / f"{kind}.jsonl").stat().st_size for kind in KINDS))
    with fileio.JsonlWriter() as w:
        w.open("rejected", Path(paths.rejected) / "clean.jsonl")
        for kind in KINDS:
            w.open(kind, out / f"{kind}.jsonl")
        chunks = (
            (kind, chunk) for kind in KINDS for chunk in fileio.read_chunks(src / f"{kind}.jsonl")
        )
        results = fileio.map_ordered(
            cleaning.clean_lines, chunks, jobs, cleaning.worker_state, (cfg,)
        )
        for kind, lines in results:
            for source, keep, reason, counts, scores, line in lines:
                acc.seen(source)
                redactions.update(counts)
                for c, s in (scores or {}).items():
                    score_hist[c][s] += 1
                if keep:
                    w.write_line(kind, line)
                    acc.kept(source)
                else:
                    w.write_line("rejected", line)
                    acc.rejected(source, reason)
        acc.extra["redactions"] = dict(sorted(redactions.items()))
        acc.extra["redactions_total"] = sum(redactions.values())
        acc.extra["quality_scores"] = {
            c: {str(k): v for k, v in sorted(h.items())} for c, h in score_hist.items()
        }
        acc.extra["records_out"] = {k: w.counts.get(k, 0) for k in KINDS}
        metrics = acc.metrics()
    fileio.write_json(Path(paths.metrics) / "clean.json", metrics)
    log.info(
        "clean: %d in, %d kept, %d rejected, %d redactions %s (%d jobs)",
        metrics["in"],
        metrics["kept"],
        metrics["rejected"],
        metrics["redactions_total"],
        metrics["redactions"],
        jobs,
    )


if __name__ == "__main__":
    stage.run(main, "paths", "clean")
