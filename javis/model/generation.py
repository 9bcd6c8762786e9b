"""Greedy, batched answers to conversations: what `evaluate`, the benchmarks and the model card use.

`generate_batch(model, tokenizer, conversations)` renders each conversation with the tokenizer's
chat template (javis/model/template.py), reads every prompt alone (no padding in the prefill) and
decodes the batch together from the joined caches; models whose cache cannot be joined (sliding
windows, recurrent states) go through HF `generate` on the padded batch instead.

`answer_ids(model, prompts, targets, ...)` is the same on token ids, and when a prompt comes with a
reference answer it also returns the reference's NLL from the same prefill: the reference is read
on top of the prompt's cache, which is then cut back to the prompt for the answer (the evaluate
stage: one prefill per prompt for its loss and its answer). An answer ends at `<|im_end|>`, at
`max_new_tokens`, or when it loops (`repeating`: the last REPEAT_SPAN tokens repeat the
REPEAT_SPAN before them shifted by a period of at most REPEAT_PERIOD tokens); up to where it ends
it is the same greedy answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from javis.model import template

REPEAT_SPAN = 24
REPEAT_PERIOD = 8


def repeating(tokens: Sequence[int]) -> bool:
    """The answer loops: its last REPEAT_SPAN tokens equal the REPEAT_SPAN before them shifted by a
    period p <= REPEAT_PERIOD (the same p-token cycle at least REPEAT_SPAN / p + 1 times)."""
    n = len(tokens)
    tail = list(tokens[n - REPEAT_SPAN :])
    return any(
        n >= REPEAT_SPAN + p and list(tokens[n - REPEAT_SPAN - p : n - p]) == tail
        for p in range(1, REPEAT_PERIOD + 1)
    )


def cut_repetition(tokens: list[int]) -> list[int]:
    """`tokens` up to the first point where `repeating` says the answer loops."""
    for k in range(REPEAT_SPAN + 1, len(tokens) + 1):
        if repeating(tokens[:k]):
            return tokens[:k]
    return tokens


@dataclass
class Answer:
    """One prompt's greedy answer (new token ids) and, when it came with a reference, the
    reference's summed NLL (nats) and token count from the same prefill."""

    ids: list[int]
    nll: float = 0.0
    tokens: int = 0


def generate_batch(
    model: Any,
    tokenizer: Any,
    conversations: Sequence[list[dict]],
    *,
    tools: Sequence[list | None] | None = None,
    max_new_tokens: int = 128,
    batch_size: int = 8,
    on_batch: Callable[[int], None] | None = None,
) -> list[str]:
    """Greedy answers (text after `<|im_start|>assistant\\n`, special tokens dropped) to each
    conversation, in input order, `batch_size` at a time (longest prompts first).

    Each prompt is read alone (no padding in the prefill, where nearly all the compute is) and the
    caches are joined left-padded for the batched decoding; a finished answer leaves the batch.
    HF's `generate` pads every prompt to the longest of its batch: with the test split's prompts
    (62-406 tokens) that is 1.7x the prefill work at batch 8 and 2.6x at 16. Models whose cache is
    not plain per-layer keys/values (sliding windows, recurrent states) use `generate` instead.

    Tool calls come back as `<tool_call>` blocks in the text: `evaluation.parse_tool_calls` reads them.
    `on_batch(n)` is called after each batch with its number of answers (progress displays).
    """

    prompts = [
        tokenizer.apply_chat_template(
            template.prepare_messages(conv),
            tools=tools[i] if tools else None,
            add_generation_prompt=True,
            tokenize=False,
        )
        for i, conv in enumerate(conversations)
    ]
    encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    answers = answer_ids(
        model,
        encoded,
        eos=tokenizer.convert_tokens_to_ids(template.IM_END),
        pad=tokenizer.pad_token_id,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        on_batch=on_batch,
    )
    return [tokenizer.decode(a.ids, skip_special_tokens=True).strip() for a in answers]


def answer_ids(
    model: Any,
    prompts: Sequence[list[int]],
    *,
    eos: int,
    pad: int,
    targets: Sequence[list[int] | None] | None = None,
    max_new_tokens: int = 128,
    batch_size: int = 8,
    on_batch: Callable[[int], None] | None = None,
) -> list[Answer]:
    """Greedy answers to prompts given as token ids, in input order, `batch_size` at a time
    (longest prompts first); with `targets`, each prompt's reference NLL from the same prefill
    (a None target: no NLL). Models whose cache cannot be joined: HF `generate`, and the NLL
    from a forward of prompt + reference."""
    import torch

    targets = list(targets) if targets is not None else [None] * len(prompts)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]), reverse=True)
    joinable = _joinable_cache(model)
    out: list[Answer] = [Answer([])] * len(prompts)
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            rows = [list(prompts[i]) for i in idx]
            refs = [targets[i] for i in idx]
            if joinable:
                answers = _decode_batch(model, rows, eos, max_new_tokens, refs)
            else:
                tokens = _generate_padded(model, rows, eos, pad, max_new_tokens)
                answers = [
                    Answer(cut_repetition(t), *_forward_nll(model, r, ref))
                    for t, r, ref in zip(tokens, rows, refs, strict=True)
                ]
            for i, a in zip(idx, answers, strict=True):
                out[i] = a
            if on_batch is not None:
                on_batch(len(idx))
    model.train(was_training)
    return out


def _forward_nll(model: Any, prompt: list[int], target: list[int] | None) -> tuple[float, int]:
    """(summed NLL, tokens) of `target` after `prompt`, one unpadded forward."""
    import torch
    import torch.nn.functional as F

    if not target:
        return 0.0, 0
    dev = next(model.parameters()).device
    ids = torch.tensor([prompt + target], device=dev)
    logits = model(input_ids=ids, logits_to_keep=len(target) + 1).logits[0, :-1].float()
    return float(F.cross_entropy(logits, ids[0, len(prompt) :], reduction="sum")), len(target)


def _joinable_cache(model: Any) -> bool:
    """Whether the model's cache is plain per-layer keys/values (what `_decode_batch` joins); a
    sliding-window or recurrent layer is not."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    return all(type(layer) is DynamicLayer for layer in DynamicCache(config=model.config).layers)


def _decode_batch(
    model: Any,
    rows: list[list[int]],
    eos: int,
    max_new_tokens: int,
    targets: Sequence[list[int] | None] | None = None,
) -> list[Answer]:
    """Greedy new tokens for each prompt: prefill one prompt at a time, decode together (left-padded
    caches; a row leaves at its end token or when it loops). A row with a target also reads the
    target on top of its prefill cache (its NLL), and the cache is cut back to the prompt before
    decoding. Only for a `_joinable_cache` model."""
    import torch
    import torch.nn.functional as F
    from transformers import DynamicCache

    dev = next(model.parameters()).device
    config = model.config
    caches, first, scored = [], [], []
    for ids, target in zip(rows, targets or [None] * len(rows), strict=True):
        cache = DynamicCache(config=config)
        logits = model(
            input_ids=torch.tensor([ids], device=dev), cache=cache, use_cache=True, logits_to_keep=1
        ).logits
        first.append(logits[0, -1].argmax())
        nll = (0.0, 0)
        if target:
            rest = logits[0, -1:]
            if len(target) > 1:
                more = model(
                    input_ids=torch.tensor([target[:-1]], device=dev), cache=cache, use_cache=True
                ).logits[0]
                rest = torch.cat([rest, more])
                cache.crop(-(len(target) - 1))  # back to the prompt alone
            value = F.cross_entropy(rest.float(), torch.tensor(target, device=dev), reduction="sum")
            nll = (float(value), len(target))
        if max_new_tokens <= 0:
            cache = None
        caches.append(cache)
        scored.append(nll)
    if max_new_tokens <= 0:
        return [Answer([], *nll) for nll in scored]
    lengths = [len(ids) for ids in rows]
    width = max(lengths)
    cache = DynamicCache(config=config)
    for layer in range(len(caches[0].layers)):
        keys = [
            F.pad(c.layers[layer].keys, (0, 0, width - n, 0))
            for c, n in zip(caches, lengths, strict=True)
        ]
        values = [
            F.pad(c.layers[layer].values, (0, 0, width - n, 0))
            for c, n in zip(caches, lengths, strict=True)
        ]
        cache.update(torch.cat(keys), torch.cat(values), layer)
    del caches
    mask = torch.zeros((len(rows), width), dtype=torch.long, device=dev)
    for row, n in enumerate(lengths):
        mask[row, width - n :] = 1
    position = torch.tensor(lengths, device=dev)
    step_ids = torch.stack(first)
    alive = list(range(len(rows)))
    new: list[list[int]] = [[] for _ in rows]
    for step in range(max_new_tokens):
        for row, tok in zip(alive, step_ids.tolist(), strict=True):
            new[row].append(tok)
        if step == max_new_tokens - 1:
            break
        going = (step_ids != eos).tolist()
        going = [g and not repeating(new[row]) for g, row in zip(going, alive, strict=True)]
        live = torch.tensor([j for j, g in enumerate(going) if g], dtype=torch.long, device=dev)
        if live.numel() == 0:
            break
        if live.numel() < len(alive):
            cache.batch_select_indices(live)
            mask, step_ids, position = mask[live], step_ids[live], position[live]
            alive = [alive[j] for j in live.tolist()]
        mask = torch.cat([mask, mask.new_ones((len(alive), 1))], dim=1)
        logits = model(
            input_ids=step_ids[:, None],
            attention_mask=mask,
            position_ids=position[:, None],
            cache=cache,
            use_cache=True,
        ).logits
        step_ids = logits[:, -1].argmax(-1)
        position = position + 1
    return [Answer(ids, *nll) for ids, nll in zip(new, scored, strict=True)]


def _generate_padded(
    model: Any, rows: list[list[int]], eos: int, pad: int, max_new_tokens: int
) -> list[list[int]]:
    """HF `generate` on the left-padded batch (greedy): new tokens per row."""
    import torch
    from transformers import GenerationConfig

    dev = next(model.parameters()).device
    width = max(len(ids) for ids in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for row, seq in enumerate(rows):
        ids[row, width - len(seq) :] = torch.tensor(seq)
        mask[row, width - len(seq) :] = 1
    config = GenerationConfig(
        max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=eos, pad_token_id=pad
    )
    gen = model.generate(
        input_ids=ids.to(dev), attention_mask=mask.to(dev), generation_config=config
    )
    return [row[width:].tolist() for row in gen]
