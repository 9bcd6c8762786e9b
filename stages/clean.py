"""clean: validate, redact secrets and personal data, score quality; keep what scores >= min_score.

Reads  data/collected/{sft,preference,kto}.jsonl
Writes data/cleaned/{sft,preference,kto}.jsonl, data/rejected/clean.jsonl, metrics/clean.json
Run    python -m stages.clean

Per record, in order:
1. schema (javis/schema.py): roles, order, non-empty content, tool calls parse and name a declared tool;
2. redaction (javis/redact.py): secrets and PII become typed placeholders (`<SECRET:aws_key>`,
   `<PII:email>`), counted per type; rejected records are redacted too;
3. quality (javis/quality.py): the brief's six criteria scored 1-5; the record's score is the
   minimum; kept when >= clean.min_score. Scores stay in `meta.quality`; a reject names the criterion.
   KTO negatives (label false) and preference `rejected` answers are bad on purpose: not filtered.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import orjson

from javis.core import fileio, params
from javis.data import quality
from javis.data.records import KINDS
from javis.data.redact import Redactor
from javis.data.schema import validate

log = logging.getLogger("javis.clean")


def clean_record(
    record: dict, redactor: Redactor, cfg: params.Clean
) -> tuple[bool, str, Counter[str]]:
    """(keep, reason, redaction counts). Redacts `record` in place; adds `meta.quality`."""
    if err := validate(record):
        counts = redactor.redact_record(record)
        return False, err, counts
    counts = redactor.redact_record(record) if cfg.redact else Counter()
    scores = quality.score_record(record, cfg)
    record.setdefault("meta", {})["quality"] = {c: s for c, (s, _) in scores.items()}
    if counts:
        record["meta"]["redacted"] = dict(counts)
    worst = min(scores, key=lambda c: (scores[c][0], quality.CRITERIA.index(c)))
    score, why = scores[worst]
    if record.get("label") is False:
        return True, "", counts  # a KTO negative is a bad answer on purpose: scored, not filtered
    if score < cfg.min_score:
        return False, f"quality_{worst} (score {score} < {cfg.min_score}: {why})", counts
    return True, "", counts


# One worker's state (a process of its own when clean runs with several jobs; see fileio.map_ordered).
def _worker_state(cfg: params.Clean) -> dict:
    return {"cfg": cfg, "redactor": Redactor()}


def clean_lines(
    chunk: tuple[str, list[bytes]],
) -> tuple[str, list[tuple[str, bool, str, Counter[str], dict | None, bytes]]]:
    """Clean a chunk of collected lines of one kind: per record (source, keep, reason, redactions,
    quality scores, the line to write: the record, or its reject entry)."""
    state = fileio.worker_state()
    cfg, redactor = state["cfg"], state["redactor"]
    kind, lines = chunk
    out = []
    for raw in lines:
        record = orjson.loads(raw)
        source = record.get("source", "?")
        keep, reason, counts = clean_record(record, redactor, cfg)
        meta = record.get("meta", {})
        if not keep:
            record = {
                "stage": "clean",
                "file": meta.get("file"),
                "line": meta.get("line"),
                "id": record.get("id"),
                "source": source,
                "reason": reason,
                "record": record,
            }
        out.append((source, keep, reason, counts, meta.get("quality"), fileio.dumps(record)))
    return kind, out


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    p = params.load()
    paths, cfg = p.paths, p.clean
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
        for kind, results in fileio.map_ordered(clean_lines, chunks, jobs, _worker_state, (cfg,)):
            for source, keep, reason, counts, scores, line in results:
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
    main()
