"""The models' side of an evaluation: each side's raw results on the eval items
(javis/model/eval_examples.py), for stages/evaluate.py (the candidate) and stages/score_baseline.py
(the baseline and the bare base, cached by DVC so an unchanged baseline is not rescored).

The base is loaded once; an adapter sits on it by name (PEFT: the candidate is "default" in
evaluate, the baseline "default" in score_baseline) and the bare base is the base with adapters
disabled (`using`). The bare base's work (KL, its NLLs) comes first; then the side's adapter is
merged into the base weights (`merge`: a merged forward costs the base's, an unmerged LoRA twice
that on a CPU) for its answers and losses. Per side (`score_side`), for every item, raw numbers only:
- an item that gets an answer (test, tool, regression, persona): one prefill of its prompt gives
  the NLL of its reference (when it has one) and the greedy answer (javis/model/generation.py
  `answer_ids`); items with the same prompt and reference are run once;
- a generic item: the NLL of its reference answer, in length buckets (javis/model/loss.py);
- a KL prompt: the base's greedy answer (`kl_targets`, made once and cached with the baseline's
  scores) is read by the base and by the side, and `kl_scores` sums KL(base || side) over its tokens.
Judging the answers and the metrics are javis/model/eval_summary.py's.

Each part shows its progress (javis/core/progress.py: a bar on a terminal, else log lines with
counts and the time left). Timings go to the log, never into a metrics file.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from javis.core import fileio, params, progress
from javis.model import generation, loading, loss
from javis.model.eval_examples import EvalError, Inputs, Item, encode, fingerprint

log = logging.getLogger("javis.evaluate")

PROBE_TOKENS = 64  # an identity probe's answer: the name comes first or not at all
SCORES_FILE = "baseline_scores.jsonl"  # stages/score_baseline.py's output, in paths.metrics


def load(paths: params.Paths, adapter: str | None, seed: int) -> tuple[Any, Any]:
    """(model, tokenizer): the base with `adapter` as "default" and the adapter's tokenizer (its
    template); with adapter None, the bare base and no tokenizer (the caller makes one)."""
    loading.set_determinism(seed)
    precision, why = loading.pick_precision()
    log.info("precision: %s (%s)", precision, why)
    if adapter is None:
        return loading.load_base(paths.base, precision=precision), None
    return loading.load_adapter(paths.base, adapter, precision=precision)


def encode_all(tokenizer: Any, items: Sequence[Item]) -> None:
    for item in items:
        encode(tokenizer, item)


@contextlib.contextmanager
def using(model: Any, adapter: str | None) -> Iterator[None]:
    """Inside the block `model` is the base with adapter `adapter` on (None: the bare base)."""
    if adapter is None:
        if hasattr(model, "disable_adapter"):
            with model.disable_adapter():
                yield
        else:
            yield
        return
    before = model.active_adapter
    model.set_adapter(adapter)
    try:
        yield
    finally:
        model.set_adapter(before)


def merge(model: Any, adapter: str) -> None:
    """Merge `adapter`'s LoRA into the base weights, for the rest of the process: a forward then
    costs what the base's does (an unmerged LoRA beside each projection doubled the cost of the
    candidate's forward on a 2-core CPU: 16 x 200 tokens of SmolLM2-135M in 12.3 s vs 5.4 s merged;
    the numbers differ from unmerged in the weights' rounding only). The bare base and the other
    adapters are gone afterwards (PEFT would unmerge on `set_adapter`, lossy in bf16): merge after
    the last use of the base (KL, the base's NLLs) and score with `score_side` outside `using`."""
    model.set_adapter(adapter)
    model.base_model.merge_adapter(adapter_names=[adapter])


def score_side(
    model: Any, tokenizer: Any, items: Sequence[Item], cfg: params.Evaluate, label: str
) -> dict[str, dict]:
    """id -> raw result of the active model on every item but the KL prompts: {"nll", "tokens",
    "answer"} for answered items, {"nll", "tokens"} for generic ones."""
    out: dict[str, dict] = {}
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    for tokens, chosen in (
        (cfg.max_new_tokens, [i for i in items if i.answered and i.set != "persona"]),
        (min(cfg.max_new_tokens, PROBE_TOKENS), [i for i in items if i.set == "persona"]),
    ):
        unique: dict[tuple, list[Item]] = {}
        for i in chosen:
            unique.setdefault((tuple(i.prompt_ids), tuple(i.target_ids or ())), []).append(i)
        keys = list(unique)
        what = "identity probes" if chosen and chosen[0].set == "persona" else "answers"
        with progress.Progress(f"evaluate {label}", len(keys), what, log=log) as shown:

            def batch_done(n: int, shown: Any = shown, what: str = what) -> None:
                shown.advance(n, f"{shown.rate(shown.done + n):.2f} {what}/s")

            answers = generation.answer_ids(
                model,
                [list(k[0]) for k in keys],
                eos=eos,
                pad=tokenizer.pad_token_id,
                targets=[list(k[1]) or None for k in keys],
                max_new_tokens=tokens,
                batch_size=cfg.batch_size,
                on_batch=batch_done,
            )
        for key, a in zip(keys, answers, strict=True):
            text = tokenizer.decode(a.ids, skip_special_tokens=True).strip()
            for i in unique[key]:
                out[i.id] = {"answer": text, "nll": a.nll, "tokens": a.tokens}
    generic = [i for i in items if i.set == "generic"]
    for i, (nll, n) in zip(
        generic,
        reference_losses(model, generic, tokenizer.pad_token_id, cfg.batch_size, label),
        strict=True,
    ):
        out[i.id] = {"nll": nll, "tokens": n}
    return out


def reference_losses(
    model: Any, items: Sequence[Item], pad_id: int, batch_size: int, label: str = "evaluate"
) -> list[tuple[float, int]]:
    """(summed NLL in nats, tokens) of each item's reference tokens given its prompt, in input
    order, in length buckets of at most `batch_size` rows (little padding)."""
    rows = [
        loss.Row(
            i.prompt_ids + i.target_ids, [False] * len(i.prompt_ids) + [True] * len(i.target_ids)
        )
        for i in items
    ]
    batches = loss.length_buckets([len(r.ids) for r in rows], batch_size)
    out: list[tuple[float, int]] = [(0.0, 0)] * len(rows)
    if not rows:
        return out
    with progress.Progress(
        f"evaluate {label}", len(rows), "reference losses", log=log, every=10
    ) as shown:
        for batch in batches:
            scored = loss.score_rows(model, rows, pad_id, [batch])
            for i in batch:
                out[i] = scored[i]
            shown.advance(len(batch))
    return out


def kl_targets(model: Any, tokenizer: Any, items: Sequence[Item], cfg: params.Evaluate) -> None:
    """The bare base's greedy answer (at most `kl_tokens` tokens) to each KL prompt becomes the
    item's target: the tokens KL(base || side) is measured on."""
    chosen = [i for i in items if i.set == "generic_kl"]
    if not chosen:
        return
    with using(model, None):
        answers = generation.answer_ids(
            model,
            [i.prompt_ids for i in chosen],
            eos=tokenizer.convert_tokens_to_ids("<|im_end|>"),
            pad=tokenizer.pad_token_id,
            max_new_tokens=cfg.kl_tokens,
            batch_size=cfg.batch_size,
        )
    for i, a in zip(chosen, answers, strict=True):
        i.target_ids = a.ids or [tokenizer.convert_tokens_to_ids("<|im_end|>")]


def kl_scores(
    model: Any, items: Sequence[Item], adapters: dict[str, str], pad_id: int, batch_size: int
) -> dict[str, dict[str, dict]]:
    """side -> id -> {"kl": summed KL(base || side) in nats over the target tokens, "tokens"}, for
    each KL prompt whose target is set, each side being the base with adapters[side] on."""
    import torch

    chosen = [i for i in items if i.set == "generic_kl" and i.target_ids]
    out: dict[str, dict[str, dict]] = {side: {} for side in adapters}
    if not chosen or not adapters:
        return out
    rows = [
        loss.Row(
            i.prompt_ids + i.target_ids, [False] * len(i.prompt_ids) + [True] * len(i.target_ids)
        )
        for i in chosen
    ]
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for batch in loss.length_buckets([len(r.ids) for r in rows], batch_size):
            with using(model, None):
                base = _target_logprobs(model, [rows[k] for k in batch], pad_id)
            for side, adapter in adapters.items():
                with using(model, adapter):
                    other = _target_logprobs(model, [rows[k] for k in batch], pad_id)
                for k, p, q in zip(batch, base, other, strict=True):
                    kl = (p.exp() * (p - q)).sum(-1).clamp(min=0).sum()
                    out[side][chosen[k].id] = {"kl": float(kl), "tokens": int(p.shape[0])}
    model.train(was_training)
    return out


def _target_logprobs(model: Any, rows: Sequence[loss.Row], pad_id: int) -> list[Any]:
    """Per row, the log-softmax over the vocabulary at each position that predicts a target token
    (rows left-padded to one width; one forward)."""
    import torch

    dev = next(model.parameters()).device
    width = max(len(r.ids) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for k, r in enumerate(rows):
        ids[k, width - len(r.ids) :] = torch.tensor(r.ids)
        mask[k, width - len(r.ids) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    keep = max(sum(r.targets) for r in rows) + 1
    logits = model(
        input_ids=ids.to(dev),
        attention_mask=mask.to(dev),
        position_ids=positions.to(dev),
        logits_to_keep=keep,
    ).logits.float()
    out = []
    for k, r in enumerate(rows):
        n = sum(r.targets)  # the targets are the row's last n tokens
        out.append(torch.log_softmax(logits[k, keep - n - 1 : keep - 1], dim=-1))
    return out


# --- the baseline's cached scores (stages/score_baseline.py) ---------------------------------------


def baseline_side(
    model: Any,
    tokenizer: Any,
    inputs: Inputs,
    cfg: params.Evaluate,
    adapter: str | None,
    merge_last: bool = False,
) -> dict[str, dict]:
    """id -> {"baseline": raw, "base": raw (generic items, when the baseline is an adapter),
    "target_ids": (KL prompts)}: everything about the baseline and the bare base that does not
    depend on the candidate. `model` is the base with the baseline as `adapter` (None: the bare
    base is the baseline); the KL prompts' targets are set on the items. The bare base's work
    comes first; with `merge_last` (nothing else uses `model` afterwards: score_baseline) the
    baseline adapter is then merged into the base for its answers (`merge`)."""
    kl_targets(model, tokenizer, inputs.items, cfg)
    generic = [i for i in inputs.items if i.set == "generic"]
    base_nll = {}
    if adapter is not None and generic:
        with using(model, None):
            nlls = reference_losses(model, generic, tokenizer.pad_token_id, cfg.batch_size, "base")
        base_nll = {
            i.id: {"nll": nll, "tokens": n} for i, (nll, n) in zip(generic, nlls, strict=True)
        }
    kl = kl_scores(
        model,
        inputs.items,
        {"baseline": adapter} if adapter else {},
        tokenizer.pad_token_id,
        cfg.batch_size,
    )
    if adapter is None:
        with using(model, None):
            raw = score_side(model, tokenizer, inputs.items, cfg, "baseline")
    elif merge_last:
        merge(model, adapter)  # the base's work is done above
        raw = score_side(model, tokenizer, inputs.items, cfg, "baseline")
    else:
        with using(model, adapter):
            raw = score_side(model, tokenizer, inputs.items, cfg, "baseline")
    lines = {i: {"baseline": r} for i, r in raw.items()}
    for i in generic:
        lines[i.id]["base"] = base_nll.get(i.id) or dict(lines[i.id]["baseline"])
    for i in inputs.items:
        if i.set == "generic_kl":
            lines[i.id] = {
                "baseline": kl.get("baseline", {}).get(
                    i.id, {"kl": 0.0, "tokens": len(i.target_ids or [])}
                ),
                "target_ids": i.target_ids,
            }
    return lines


def write_scores(path: Path, inputs: Inputs, lines: dict[str, dict]) -> None:
    """metrics/baseline_scores.jsonl: a header (the items' fingerprint, the baseline marker), then
    one line per item."""
    with fileio.atomic_open(path) as f:
        f.write(
            fileio.dumps({"fingerprint": fingerprint(inputs.items), "baseline": inputs.baseline})
        )
        for item_id, line in lines.items():
            f.write(fileio.dumps({"id": item_id, **line}))


def read_scores(path: Path, inputs: Inputs) -> dict[str, dict] | None:
    """The cached baseline scores when they were made for exactly these items and this baseline;
    None (with the reason logged) otherwise."""
    if not path.is_file():
        log.info("evaluate: no %s: the baseline is scored in this run", path)
        return None
    raw = path.read_bytes().splitlines()
    header = orjson.loads(raw[0]) if raw else {}
    if (
        header.get("fingerprint") != fingerprint(inputs.items)
        or header.get("baseline") != inputs.baseline
    ):
        log.warning(
            "evaluate: %s was made for other items or another baseline (run `dvc repro "
            "score_baseline`); the baseline is scored in this run",
            path,
        )
        return None
    lines = {obj["id"]: obj for obj in map(orjson.loads, raw[1:])}
    missing = [i.id for i in inputs.items if i.id not in lines]
    if missing:
        raise EvalError(
            f"evaluate: {path} lacks items {missing[:5]}; run `dvc repro score_baseline`"
        )
    return lines
