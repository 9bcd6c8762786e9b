"""The loss of a model on chosen tokens: summed negative log-likelihood, teacher forcing.

- `score_rows(model, rows, pad_id, batches)`: the one computation. Each `Row` is token ids and which
  of them are scored; a batch is left-padded (every row ends at the right edge, positions counted
  from each row's first real token) and only the last positions get logits (`logits_to_keep`), so
  memory grows with the scored span, not with the prompt times the vocabulary.
- `length_buckets(lengths, batch_size)`: batches of rows of similar length (little padding).
- `assistant_nll(model, tokenizer, conversations)`: the assistant tokens of whole conversations (the
  tokens `{% generation %}` marks: answers and their `<|im_end|>`); benchmarks/model_bench.py's
  validation loss. The evaluate stage scores its reference answers with `score_rows` directly
  (javis/model/eval_runner.py: the prompt's tokens, then the reference's).

loss per token = nll / n; perplexity = exp(sum nll / sum n).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from javis.model import template


@dataclass(frozen=True)
class Row:
    """One sequence to score: its token ids and, per token, whether its NLL counts."""

    ids: list[int]
    targets: list[bool]


def score_rows(
    model: Any, rows: Sequence[Row], pad_id: int, batches: Sequence[list[int]]
) -> list[tuple[float, int]]:
    """(summed NLL in nats, tokens scored) of each row, in input order; `batches` lists the rows
    (indices) that share a forward pass. A row with no scored token (the first token cannot be:
    nothing predicts it) gives (0.0, 0)."""
    import torch
    import torch.nn.functional as F

    out: list[tuple[float, int]] = [(0.0, 0)] * len(rows)
    dev = next(model.parameters()).device
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for idx in batches:
            scored_at = [[j for j in range(1, len(rows[i].ids)) if rows[i].targets[j]] for i in idx]
            width = max(len(rows[i].ids) for i in idx)
            ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):
                seq = rows[i].ids
                ids[row, width - len(seq) :] = torch.tensor(seq)
                mask[row, width - len(seq) :] = 1
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            # From each row's first scored token to its end, plus the position that predicts it.
            keep = (
                max(len(rows[i].ids) - at[0] for i, at in zip(idx, scored_at, strict=True) if at)
                if any(scored_at)
                else 0
            ) + 1
            logits = model(
                input_ids=ids.to(dev),
                attention_mask=mask.to(dev),
                position_ids=positions.to(dev),
                logits_to_keep=keep,
            ).logits
            for row, (i, at) in enumerate(zip(idx, scored_at, strict=True)):
                if not at:
                    continue
                n = len(rows[i].ids)
                # logits[:, k] is position width-keep+k and predicts the token after it; token j of
                # a row of n tokens sits at position width-n+j.
                scored = logits[row, [keep - n + j - 1 for j in at]].float()
                target = torch.tensor([rows[i].ids[j] for j in at], device=dev)
                nll = F.cross_entropy(scored, target, reduction="sum")
                out[i] = (float(nll), len(at))
    model.train(was_training)
    return out


# Logits of one loss batch, in floats: batch x width x vocabulary at most (a conversation's scored
# span starts at its first answer, near its start). 2^28 floats = 1 GiB (with the log-softmax beside
# it ~2-3 GiB at the peak): 16 rows of 1,000 tokens of Qwen2.5's 152k vocabulary would be 10 GiB a
# copy, so long rows go fewer to a batch.
LOGITS_BUDGET = 1 << 28


def _loss_batches(
    order: list[int], lengths: list[int], batch_size: int, vocab: int
) -> list[list[int]]:
    """`order` (longest first) cut into batches of at most `batch_size` rows whose padded logits
    stay within LOGITS_BUDGET floats (a longer row goes alone)."""
    batches: list[list[int]] = []
    for i in order:
        last = batches[-1] if batches else None
        if (
            last
            and len(last) < batch_size
            and (len(last) + 1) * lengths[last[0]] * vocab <= LOGITS_BUDGET
        ):
            last.append(i)
        else:
            batches.append([i])
    return batches


def length_buckets(
    lengths: Sequence[int], batch_size: int, max_waste: float = 0.1
) -> list[list[int]]:
    """Row indices cut into batches of at most `batch_size` rows of similar length, longest first:
    a row joins the current batch only while the batch's padding stays within `max_waste` of its
    real tokens (left-padded to its longest row), so a loss pass computes on pads at most ~10%
    more (the evaluate stage's items range from 20 to 400+ tokens: one batch of all pads them 2x)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    real = 0
    for i in order:
        last = batches[-1] if batches else None
        if last and len(last) < batch_size:
            width = lengths[last[0]]
            if width * (len(last) + 1) <= (1 + max_waste) * (real + lengths[i]):
                last.append(i)
                real += lengths[i]
                continue
        batches.append([i])
        real = lengths[i]
    return batches


def conversation_rows(
    tokenizer: Any,
    conversations: Sequence[list[dict]],
    tools: Sequence[list | None] | None = None,
    max_length: int | None = None,
) -> list[Row]:
    """Each conversation rendered by the chat template, its assistant tokens scored; cut to
    `max_length` tokens when given."""
    rows = []
    for i, conv in enumerate(conversations):
        enc = tokenizer.apply_chat_template(
            template.prepare_messages(conv),
            tools=tools[i] if tools else None,
            tokenize=True,
            return_dict=True,
            return_assistant_tokens_mask=True,
        )
        ids, amask = list(enc["input_ids"]), [bool(m) for m in enc["assistant_masks"]]
        if max_length:
            ids, amask = ids[:max_length], amask[:max_length]
        rows.append(Row(ids, amask))
    return rows


def assistant_nll(
    model: Any,
    tokenizer: Any,
    conversations: Sequence[list[dict]],
    *,
    tools: Sequence[list | None] | None = None,
    batch_size: int = 8,
    max_length: int | None = None,
) -> list[tuple[float, int]]:
    """(summed NLL in nats, number of tokens) over the assistant tokens of each conversation, in
    input order, longest first in batches of at most `batch_size` (within LOGITS_BUDGET). A
    conversation with no assistant token gives (0.0, 0)."""
    rows = conversation_rows(tokenizer, conversations, tools, max_length)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i].ids), reverse=True)
    vocab = model.get_output_embeddings().weight.shape[0]
    batches = _loss_batches(order, [len(r.ids) for r in rows], batch_size, vocab)
    return score_rows(model, rows, tokenizer.pad_token_id, batches)
