"""One record through the clean stage: schema check, redaction, the six-criterion quality score.

Per record, in order:
1. schema (javis/data/schema.py): roles, order, non-empty content, tool calls parse and name a
   declared tool;
2. redaction (javis/data/redact.py): secrets and PII become typed placeholders (`<SECRET:aws_key>`,
   `<PII:email>`), counted per type; rejected records are redacted too;
3. quality (javis/data/quality.py): the brief's six criteria scored 1-5; the record's score is the
   minimum; kept when >= clean.min_score. Scores stay in `meta.quality`; a reject names the
   criterion. KTO negatives (label false) and preference `rejected` answers are bad on purpose:
   not filtered.
"""

from __future__ import annotations

from collections import Counter

import orjson

from javis.core import fileio, params
from javis.data import quality
from javis.data.redact import Redactor
from javis.data.schema import validate


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


def worker_state(cfg: params.Clean) -> dict:
    """One worker's state (a process of its own with several jobs; see fileio.map_ordered)."""
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
