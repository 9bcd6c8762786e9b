"""Training records as the rows TRL's trainers take, and the order SFT reads them in.

- `sft_row`, `dpo_row`, `kto_row`: one record of the split's train.jsonl / preference_train.jsonl /
  kto_train.jsonl as a trainer row, or the reason it cannot be trained on; `read_rows` reads a file.
- `sft_lengths`: tokens and trained (assistant) tokens per row, as the trainer will truncate them.
- `length_buckets`: the SFT row order that makes batches pad little and every prefix of the
  schedule cover the lengths in proportion (javis/model/training.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from javis.core import fileio
from javis.model import template

log = logging.getLogger("javis.train")

SPLIT_FILES = {
    "train": "train.jsonl",
    "val": "val.jsonl",
    "dpo": "preference_train.jsonl",
    "kto": "kto_train.jsonl",
}


def sft_row(record: dict) -> tuple[dict | None, str]:
    """(row for SFTTrainer, "") or (None, reason). Tools become one JSON string (Arrow-safe)."""
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        return None, "no_messages"
    if not any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages):
        return None, "no_assistant_turn"
    return {
        "messages": template.prepare_messages(messages),
        "tools": template.tools_json(record.get("tools")),
    }, ""


def dpo_row(record: dict) -> tuple[dict | None, str]:
    """(row for DPOTrainer: conversational prompt/chosen/rejected, "") or (None, reason)."""
    prompt, chosen, rejected = record.get("prompt"), record.get("chosen"), record.get("rejected")
    if isinstance(prompt, str):  # the brief's string form
        prompt = [{"role": "user", "content": prompt}]
    chosen, rejected = _answer(chosen), _answer(rejected)
    if not prompt or not chosen or not rejected:
        return None, "incomplete_pair"
    return {
        "prompt": template.prepare_messages(prompt),
        "chosen": template.prepare_messages(chosen),
        "rejected": template.prepare_messages(rejected),
        "tools": template.tools_json(record.get("tools")),
    }, ""


def kto_row(record: dict) -> tuple[dict | None, str]:
    """(row for KTOTrainer: prompt/completion/label, "") or (None, reason)."""
    prompt, completion = record.get("prompt"), _answer(record.get("completion"))
    if isinstance(prompt, str):
        prompt = [{"role": "user", "content": prompt}]
    if not prompt or not completion or not isinstance(record.get("label"), bool):
        return None, "incomplete_kto"
    return {
        "prompt": template.prepare_messages(prompt),
        "completion": template.prepare_messages(completion),
        "label": record["label"],
        "tools": template.tools_json(record.get("tools")),
    }, ""


def _answer(value: Any) -> list[dict] | None:
    if isinstance(value, str):
        return [{"role": "assistant", "content": value}]
    if isinstance(value, dict):
        return [value]
    return value if isinstance(value, list) and value else None


def read_rows(
    path: Path,
    to_row: Callable[[dict], tuple[dict | None, str]],
    acc: fileio.Accounting | None,
    origins: list[tuple[str, str]] | None = None,
) -> list[dict]:
    """Rows of one split file (missing file = no rows); unusable records are counted, not trained.
    `origins` gets each row's (source, record id), in row order."""
    rows: list[dict] = []
    if not path.is_file():
        return rows
    for record in fileio.iter_records(path):
        source = str(record.get("source", "?"))
        row, reason = to_row(record)
        if acc is not None:
            acc.seen(source)
            if row is None:
                acc.rejected(source, reason)
            else:
                acc.kept(source)
        if row is None:
            log.warning("train: %s: record %s skipped (%s)", path, record.get("id"), reason)
        else:
            rows.append(row)
            if origins is not None:
                origins.append((source, str(record.get("id", "?"))))
    return rows


def sft_lengths(tokenizer: Any, rows: list[dict], max_length: int) -> tuple[list[int], list[int]]:
    """Tokens and assistant (trained) tokens per row, after truncation to `max_length`."""
    total, trained = [], []
    for row in rows:
        tools = json.loads(row["tools"]) if row.get("tools") else None
        enc = tokenizer.apply_chat_template(
            row["messages"],
            tools=tools,
            tokenize=True,
            return_dict=True,
            return_assistant_tokens_mask=True,
        )
        total.append(min(len(enc["input_ids"]), max_length))
        trained.append(sum(enc["assistant_masks"][:max_length]))
    return total, trained


def length_buckets(lengths: list[int], batch_size: int, seed: int, bands: int = 10) -> list[int]:
    """Row order for training: rows sorted by length cut into batches (so a batch pads little),
    the full batches ordered so that every prefix of the schedule covers the lengths in
    proportion, and the short one (when the rows do not divide evenly) last.

    The batches, ranked by length, fall into `bands` equal bands; each next batch comes from the
    band furthest behind its share of the batches so far (a seeded random batch of it). Any first
    n batches then hold each band's share to within one batch, so a run that stops early
    (`train.token_budget`: under one epoch in the demo) trains every length band in proportion; a
    seeded shuffle of the batches left whole bands (84-90 and 226-254 tokens) untrained.

    The short batch goes last: the data loader cuts the order into batches again, and a short batch
    anywhere else would shift every batch after it across two buckets (21% padding instead of 2%).
    HF's group_by_length sampler (random mega-batches of 40, sorted inside) pads 29% on the sample
    data, random order 130%."""
    import random

    by_length = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    cut = len(by_length) - len(by_length) % batch_size
    batches = [by_length[k : k + batch_size] for k in range(0, cut, batch_size)]
    order = proportional_order(len(batches), bands, random.Random(seed))
    return [i for k in order for i in batches[k]] + by_length[cut:]


def proportional_order(n: int, bands: int, rng: Any) -> list[int]:
    """0..n-1 (ranks) in an order whose every prefix takes each of `bands` consecutive rank bands
    in proportion to its size (to within one item: the band furthest behind its quota goes next,
    ties broken by `rng`; inside a band, `rng`'s shuffle)."""
    bands = max(1, min(bands, n))
    members = [list(range(d * n // bands, (d + 1) * n // bands)) for d in range(bands)]
    for band in members:
        rng.shuffle(band)
    tie = [rng.random() for _ in range(bands)]
    taken = [0] * bands
    order = []
    for step in range(1, n + 1):
        d = max(
            (d for d in range(bands) if taken[d] < len(members[d])),
            key=lambda d: (step * len(members[d]) / n - taken[d], tie[d]),
        )
        order.append(members[d][taken[d]])
        taken[d] += 1
    return order
