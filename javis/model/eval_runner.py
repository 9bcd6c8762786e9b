"""Candidate and baseline scored on the same examples in one run: what stages/evaluate.py does
between reading its inputs (javis/model/eval_examples.py) and writing its files.

The base is loaded once; the candidate adapter and the baseline adapter sit on it side by side
(PEFT adapters "default" and "baseline"), and the bare base is the base with adapters disabled.
Per side (`run_sides`): the loss of each reference answer given its prompt (teacher forcing, the
reference's own tokens and its `<|im_end|>` only: javis/model/loss.py), a greedy answer to each
prompt (javis/model/generation.py) and the answers to the identity probes. `compare` judges the
answers (tool calls, style, language, chrF to corrections: javis/model/evaluation.py) and builds
metrics/eval.json's result and the eval_samples.jsonl lines; the win rate compares the two sides'
reference losses example by example.

Each part of a side shows its progress (javis/core/progress.py: a bar on a terminal, else log
lines with counts and the time left): the reference losses, a line per batch of answers, the
identity probes. The batches are the same as without the display, so the numbers are too.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from javis.core import params, progress
from javis.model import evaluation as ev
from javis.model import loading, loss
from javis.model.eval_examples import Example, Inputs, encode
from javis.model.generation import generate_batch

log = logging.getLogger("javis.evaluate")

SIDES = ("candidate", "baseline")


@dataclass
class Runs:
    """Each side's reference losses, answers and probe answers, and the seconds each side took."""

    nlls: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    answers: dict[str, list[str]] = field(default_factory=dict)
    probe_answers: dict[str, list[str]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def load(paths: params.Paths, inputs: Inputs, seed: int) -> tuple[Any, Any]:
    """(model, tokenizer): the base with the candidate adapter and, when the baseline is one, the
    baseline adapter beside it; every example encoded with the candidate's template."""
    loading.set_determinism(seed)
    precision, why = loading.pick_precision()
    log.info("precision: %s (%s)", precision, why)
    model, tokenizer = loading.load_adapter(paths.base, paths.adapter, precision=precision)
    if inputs.baseline["kind"] == "adapter":
        model.load_adapter(paths.baseline, adapter_name="baseline")
    for example in inputs.examples:
        encode(tokenizer, example)
    return model, tokenizer


def run_sides(model: Any, tokenizer: Any, inputs: Inputs, cfg: params.Evaluate) -> Runs:
    """Both sides, one after the other, on the same examples."""
    runs = Runs()
    examples = inputs.examples
    for side in SIDES:
        t0 = time.perf_counter()
        with active(model, side, inputs.baseline["kind"]):
            runs.nlls[side] = reference_losses(
                model,
                examples,
                tokenizer.pad_token_id,
                cfg.batch_size,
                label=f"evaluate {side}",
            )
            runs.answers[side] = generate(model, tokenizer, examples, cfg, side)
            runs.probe_answers[side] = ask_probes(model, tokenizer, cfg, side)
        runs.seconds[side] = time.perf_counter() - t0
        log.info("evaluate %s: done in %s", side, progress.duration(runs.seconds[side]))
    return runs


@contextlib.contextmanager
def active(model: Any, side: str, baseline_kind: str) -> Iterator[None]:
    """Make `model` (a PeftModel) behave as the candidate or as the baseline inside the block."""
    if side == "candidate":
        model.set_adapter("default")
        yield
    elif baseline_kind == "base":
        with model.disable_adapter():
            yield
    else:
        model.set_adapter("baseline")
        try:
            yield
        finally:
            model.set_adapter("default")


def reference_losses(
    model: Any,
    examples: Sequence[Example],
    pad_id: int,
    batch_size: int,
    label: str = "evaluate",
) -> list[tuple[float, int]]:
    """(summed NLL in nats, tokens) of each example's reference tokens given its prompt, in input
    order; the longest examples first, `batch_size` to a forward pass; progress under `label`."""
    rows = [
        loss.Row(
            e.prompt_ids + e.target_ids, [False] * len(e.prompt_ids) + [True] * len(e.target_ids)
        )
        for e in examples
    ]
    order = sorted(range(len(rows)), key=lambda i: -len(rows[i].ids))
    batches = [order[k : k + batch_size] for k in range(0, len(order), batch_size)]
    out: list[tuple[float, int]] = [(0.0, 0)] * len(rows)
    with progress.Progress(label, len(rows), "reference losses", log=log, every=10) as shown:
        for batch in batches:  # one call per batch: the same forward passes as all at once
            scored = loss.score_rows(model, rows, pad_id, [batch])
            for i in batch:
                out[i] = scored[i]
            shown.advance(len(batch))
    return out


def generate(
    model: Any, tokenizer: Any, examples: Sequence[Example], cfg: params.Evaluate, label: str
) -> list[str]:
    """Greedy answers (generation.generate_batch), shortest prompts last, with a progress line per
    batch of answers (`evaluate <label>: 32/129 answers, ...`)."""
    order = sorted(range(len(examples)), key=lambda i: -len(examples[i].prompt_ids))
    answers: list[str] = [""] * len(examples)
    chunk = cfg.batch_size * 4  # generate_batch orders each chunk itself: keep the same batches
    with progress.Progress(f"evaluate {label}", len(order), "answers", log=log) as shown:

        def batch_done(n: int) -> None:
            shown.advance(n, f"{shown.rate(shown.done + n):.2f} answers/s")

        for start in range(0, len(order), chunk):
            idx = order[start : start + chunk]
            texts = generate_batch(
                model,
                tokenizer,
                [examples[i].prompt for i in idx],
                tools=[examples[i].tools for i in idx],
                max_new_tokens=cfg.max_new_tokens,
                batch_size=cfg.batch_size,
                on_batch=batch_done,
            )
            for i, text in zip(idx, texts, strict=True):
                answers[i] = text
    return answers


def ask_probes(model: Any, tokenizer: Any, cfg: params.Evaluate, label: str = "") -> list[str]:
    """Greedy answers to the identity probes, each asked with no history (default system prompt)."""
    if not cfg.persona_probes:
        return []
    name = f"evaluate {label}" if label else "evaluate"
    with progress.Progress(name, len(cfg.persona_probes), "identity probes", log=log) as shown:
        return generate_batch(
            model,
            tokenizer,
            [[{"role": "user", "content": q}] for q in cfg.persona_probes],
            max_new_tokens=min(cfg.max_new_tokens, 64),
            batch_size=cfg.batch_size,
            on_batch=shown.advance,
        )


# --- judging answers ---------------------------------------------------------------------------


def style_scorer(clean_cfg: params.Clean, min_score: int) -> Callable[[str, str], tuple[int, bool]]:
    """(style score, in style) of an answer to a question, by the clean stage's style rule."""
    from javis.data import quality

    def score(answer: str, question: str) -> tuple[int, bool]:
        value = int(quality.SCORERS["style"](answer, question, clean_cfg)[0])
        return value, value >= min_score

    return score


def judge_test(
    example: Example,
    answer: str,
    nll: tuple[float, int],
    style: Callable[[str, str], tuple[int, bool]],
) -> tuple[ev.AnswerResult, dict]:
    """One model's answer to a test example: its metrics and its sample line part."""
    expected = ev.expected_calls(example.reference)
    calls = ev.parse_tool_calls(answer)
    outcome = ev.tool_call_outcome(expected, calls)
    prose = ev.strip_tool_calls(answer)
    question = ev.last_user_text(example.prompt)
    user_lang = ev.detect_language(question)
    lang = ev.detect_language(prose)
    style_score, in_style = style(prose, question) if not expected else (None, None)
    result = ev.AnswerResult(
        nll=nll[0],
        tokens=nll[1],
        outcome=outcome,
        invalid_calls=sum(c is None for c in calls),
        language_match=(lang == user_lang) if user_lang and not expected else None,
        style_ok=in_style,
    )
    sample = {
        "answer": answer,
        "loss": result.loss,
        "tool_call": outcome,
        "language": lang,
        "style": style_score,
    }
    return result, sample


def judge_regression(
    example: Example, answer: str, nll: tuple[float, int]
) -> tuple[ev.RegressionResult, dict]:
    correction = ev.reference_text(example.reference)
    result = ev.RegressionResult(
        nll=nll[0],
        tokens=nll[1],
        chrf_correction=ev.chrf(answer, correction),
        chrf_original=ev.chrf(answer, example.original),
    )
    sample = {
        "answer": answer,
        "loss": result.nll / result.tokens if result.tokens else 0.0,
        "chrf_correction": result.chrf_correction,
        "chrf_original": result.chrf_original,
        "kept": result.kept,
    }
    return result, sample


def compare(
    inputs: Inputs,
    runs: Runs,
    cfg: params.Evaluate,
    persona: params.Persona,
    clean: params.Clean,
    paths: params.Paths,
) -> tuple[dict, list[dict]]:
    """(metrics/eval.json's result without its timings, the eval_samples.jsonl lines)."""
    examples = inputs.examples
    style = style_scorer(clean, cfg.min_style_score)
    names = [persona.name, *persona.aliases]
    summaries: dict[str, dict] = {}
    samples: list[dict] = [
        {
            "id": e.id,
            "set": e.set,
            "prompt": e.prompt,
            **({"tools": e.tools} if e.tools else {}),
            "reference": ev.reference_text(e.reference),
            "tokens": len(e.target_ids or []),
            **({"original": e.original} if e.set == "regression" else {}),
        }
        for e in examples
    ]
    for side in SIDES:
        test_results, regression_results = [], []
        answers, nlls = runs.answers[side], runs.nlls[side]
        for k, (e, answer, nll) in enumerate(zip(examples, answers, nlls, strict=True)):
            if e.set == "test":
                result, part = judge_test(e, answer, nll, style)
                test_results.append(result)
            else:
                result, part = judge_regression(e, answer, nll)
                regression_results.append(result)
            samples[k][side] = part
        summaries[side] = ev.summarize(test_results, regression_results)
        named = [ev.names_persona(a, names) for a in runs.probe_answers[side]]
        summaries[side]["persona_recall"] = ev.share(sum(named), len(named))
        summaries[side]["persona_probes"] = len(named)
    samples += [
        {
            "id": f"persona-probe-{i + 1:02d}",
            "set": "persona",
            "prompt": [{"role": "user", "content": question}],
            **{
                side: {
                    "answer": runs.probe_answers[side][i],
                    "named": ev.names_persona(runs.probe_answers[side][i], names),
                }
                for side in SIDES
            },
        }
        for i, question in enumerate(cfg.persona_probes)
    ]

    test_samples = [s for s in samples if s["set"] == "test"]
    wins = ev.win_rate(
        [s["candidate"]["loss"] for s in test_samples],
        [s["baseline"]["loss"] for s in test_samples],
    )
    for s in test_samples:
        d = s["candidate"]["loss"] - s["baseline"]["loss"]
        s["winner"] = "tie" if abs(d) <= 1e-6 else ("candidate" if d < 0 else "baseline")
    result = {
        "candidate": summaries["candidate"],
        "baseline": summaries["baseline"],
        "delta": ev.delta(summaries["candidate"], summaries["baseline"]),
        "win_rate": wins.as_dict(),
        "n": {
            "test": len(inputs.test),
            "test_available": inputs.test_available,
            "regression": len(inputs.regression),
            "regression_available": inputs.regression_available,
            "reference_tokens": sum(len(e.target_ids or []) for e in inputs.test),
        },
        "rule": ev.WIN_RULE,
        "baseline_source": inputs.baseline_source,
        "base_model": loading.read_info(paths.base, loading.BASE_INFO).get("id") or str(paths.base),
    }
    return result, samples
