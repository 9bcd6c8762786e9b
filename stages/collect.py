"""collect: chat logs and feedback -> SFT, preference and KTO records, with provenance.

Reads  data/raw/**.jsonl and data/feedback/**.jsonl (or examples/raw, examples/feedback when both
       are empty and `collect.use_examples: auto`), data/forgotten.jsonl, and params `persona`:
       the `persona` source, identity conversations made from it whatever is read
       (javis/data/persona.py; off with `collect.persona_examples: false`)
Writes data/collected/{sft,preference,kto}.jsonl, data/rejected/collect.jsonl, metrics/collect.json
Run    python -m stages.collect

The rules that turn lines into records are in javis/data/collecting.py (docs/DESIGN.md, "Records
and the rules that make them"). Every input line is counted: kept (it produced records) or
rejected with file, line and reason.
"""

from __future__ import annotations

import logging
from pathlib import Path

from javis.core import fileio, params, stage
from javis.data import collecting, forget
from javis.data.persona import FILE as PERSONA_FILE
from javis.data.persona import SOURCE as PERSONA
from javis.data.records import KINDS
from javis.data.redact import Redactor

log = logging.getLogger("javis.collect")


def main(paths: params.Paths, cfg: params.Collect, persona: params.Persona) -> None:
    raw_root, fb_root, from_examples = collecting.roots(paths, cfg.use_examples)
    log.info(
        "collect: reading %s and %s%s",
        raw_root,
        fb_root,
        " (bundled examples)" if from_examples else "",
    )
    acc = fileio.Accounting("collect")
    acc.extra["from_examples"] = from_examples
    redactor = Redactor()
    skipped: list[str] = []
    forgotten = forget.load(paths.forgotten)

    with fileio.JsonlWriter() as w:
        for kind in KINDS:
            w.open(kind, Path(paths.collected) / f"{kind}.jsonl")
        w.open("rejected", Path(paths.rejected) / "collect.jsonl")

        def reject(
            source: str, file: str, line: int, reason: str, raw: bytes | None = None
        ) -> None:
            acc.rejected(source, reason)
            w.write("rejected", collecting.reject_entry(redactor, source, file, line, reason, raw))

        # Feedback first: its ratings decide what the logs may train on.
        feedback_files = collecting.input_files(fb_root, "feedback", skipped)
        events = collecting.feedback_events(feedback_files, cfg.max_line_bytes, acc, reject)
        bad_answers = collecting.bad_answer_index(events)
        for ev in events:
            records = list(collecting.event_records(ev))
            if any(forget.is_forgotten(r, *forgotten) for _, r in records):
                reject(ev.source, ev.meta["file"], ev.meta["line"], collecting.FORGOTTEN)
                continue
            for kind, record in records:
                w.write(kind, record)
            acc.kept(ev.source)

        # The log lines, in worker processes when the logs are large: results come back in input
        # order, so the outputs are byte-identical for any number of jobs.
        logs = list(collecting.input_files(raw_root, "raw", skipped))
        jobs = fileio.jobs(sum(path.stat().st_size for path, _ in logs))
        chunks = (
            (rel, str(path), chunk)
            for path, rel in logs
            for chunk in fileio.read_numbered_chunks(path)
        )
        init = (bad_answers, forgotten, cfg.max_line_bytes)
        results = fileio.map_ordered(
            collecting.log_lines, chunks, jobs, collecting.worker_state, init
        )
        for rel, lines in results:
            for kind, reason, line in lines:
                acc.seen(rel)
                w.write_line(kind, line)
                if reason:
                    acc.rejected(rel, reason)
                else:
                    acc.kept(rel)

        # Who the assistant is comes from params `persona`, not from the data read: the same
        # identity conversations with the examples and with the user's own data.
        if cfg.persona_examples:
            for number, result in collecting.persona_lines(persona, bad_answers):
                acc.seen(PERSONA)
                if isinstance(result, str):
                    reject(PERSONA, PERSONA_FILE, number, result)
                    continue
                kind, record = result
                if forget.is_forgotten(record, *forgotten):
                    reject(PERSONA, PERSONA_FILE, number, collecting.FORGOTTEN)
                    continue
                w.write(kind, record)
                acc.kept(PERSONA)
        log.info("%s", collecting.persona_summary(cfg.persona_examples, persona, acc))

        acc.extra["records_out"] = {k: w.counts.get(k, 0) for k in KINDS}
        acc.extra["skipped_files"] = skipped
        metrics = (
            acc.metrics()
        )  # checks in == kept + rejected before anything is renamed into place
    fileio.write_json(Path(paths.metrics) / "collect.json", metrics)
    log.info(
        "collect: %d lines in, %d kept, %d rejected -> %s (%d jobs)",
        metrics["in"],
        metrics["kept"],
        metrics["rejected"],
        metrics["records_out"],
        jobs,
    )


if __name__ == "__main__":
    stage.run(main, "paths", "collect", "persona")
