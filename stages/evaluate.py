"""evaluate: the candidate adapter and the baseline on the same test and regression examples.

Reads  data/training/current/test.jsonl (SFT conversations), data/training/current/regression.jsonl
       (the user's corrections), models/base, models/adapter (the candidate, with its tokenizer and
       chat template), models/baseline (stages/baseline.py: a release's adapter, or a marker saying
       the baseline is the bare base); params `evaluate`, `clean` (the style scorer's rules)
Writes metrics/eval.json (numbers; git), metrics/eval_samples.jsonl and metrics/report.md (they hold
       user text: DVC-cached)
Run    python -m stages.evaluate

Both models answer the same prompts, rendered by the candidate's chat template, in one run: the
base is loaded once, the candidate adapter and the baseline adapter sit on it side by side (PEFT
adapters "default" and "baseline"), and the bare base is the base with adapters disabled.

A test conversation's eval prompt is everything before its last assistant turn; that turn is the
reference. Per model: loss/perplexity of the reference tokens (teacher forcing, the reference's own
tokens and its `<|im_end|>` only), and a greedy answer (batched: javis.model.generate_batch) judged for tool calls,
style and language (javis/evaluation.py). On the regression set: chrF of the answer to the
correction and to the original bad answer, and the loss of the correction. The win rate compares
the two models' reference losses example by example. Held-out identity questions
(`evaluate.persona_probes`) measure whether each model answers as the persona (`persona_recall`).
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from javis.core import fileio, params
from javis.data.records import content_of
from javis.model import evaluation as ev
from javis.model import template

log = logging.getLogger("javis.evaluate")

MARKER = "javis_baseline.json"  # written by stages/baseline.py into models/baseline/
SIDES = ("candidate", "baseline")


@dataclass
class Example:
    """One eval prompt and what a good answer to it is."""

    id: str
    set: str  # "test" | "regression"
    prompt: list[dict]
    reference: dict  # the reference (test) or corrected (regression) assistant message
    tools: list | None = None
    original: str = ""  # regression: the bad answer the user corrected
    prompt_ids: list[int] | None = None
    target_ids: list[int] | None = None


# --- inputs --------------------------------------------------------------------------------------


def sample(records: list[dict], limit: int, seed: int) -> list[dict]:
    """A seeded sample of `limit` records in file order (all of them when limit is 0)."""
    if not limit or limit >= len(records):
        return records
    keep = sorted(random.Random(seed).sample(range(len(records)), limit))
    return [records[i] for i in keep]


def test_examples(records: Sequence[dict]) -> list[Example]:
    out = []
    for r in records:
        prompt, reference = ev.split_reference(r["messages"])
        out.append(Example(r["id"], "test", prompt, reference, tools=r.get("tools")))
    return out


def regression_examples(records: Sequence[dict]) -> list[Example]:
    return [
        Example(
            r["id"],
            "regression",
            r["prompt"],
            r["chosen"][0],
            tools=r.get("tools"),
            original=content_of(r["rejected"][0]),
        )
        for r in records
    ]


def read_split(path: Path, what: str, required: bool) -> list[dict]:
    if not path.is_file():
        raise SystemExit(f"evaluate: {path} is missing; run `dvc repro split` first")
    records = list(fileio.iter_records(path))
    if required and not records:
        raise SystemExit(
            f"evaluate: the {what} split {path} is empty (0 records): nothing to evaluate on; add "
            "conversations (data/raw, data/feedback) or raise params split.test_fraction"
        )
    return records


def read_baseline(folder: Path) -> dict:
    """The baseline marker: {"kind": "base" | "adapter", "tag", "rev", ...}."""
    marker = folder / MARKER
    if not marker.is_file():
        raise SystemExit(f"evaluate: {marker} is missing; run `dvc repro baseline` first")
    info = orjson.loads(marker.read_bytes())
    if info.get("kind") not in ("base", "adapter"):
        raise SystemExit(
            f"evaluate: {marker}: kind must be base or adapter, got {info.get('kind')!r}"
        )
    return info


# --- scoring with a model ----------------------------------------------------------------------


def encode(tokenizer: Any, example: Example) -> None:
    """Token ids of the eval prompt (ending in `<|im_start|>assistant\\n`) and of the reference
    answer after it, up to and including its `<|im_end|>` (what generation would have to produce)."""
    prompt = template.prepare_messages(example.prompt)
    answer = template.prepare_messages([example.reference])
    prompt_text = tokenizer.apply_chat_template(
        prompt, tools=example.tools, add_generation_prompt=True, tokenize=False
    )
    full_text = tokenizer.apply_chat_template(prompt + answer, tools=example.tools, tokenize=False)
    if not full_text.startswith(prompt_text):
        raise SystemExit(
            f"evaluate: {example.id}: the chat template renders the prompt differently with and without "
            "the answer; the adapter's template must be javis's (javis/template.py)"
        )
    example.prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    target = tokenizer(full_text[len(prompt_text) :], add_special_tokens=False)["input_ids"]
    end = tokenizer.convert_tokens_to_ids(template.IM_END)
    example.target_ids = target[: target.index(end) + 1] if end in target else target


def reference_nll(
    model: Any, examples: Sequence[Example], pad_id: int, batch_size: int
) -> list[tuple[float, int]]:
    """(summed NLL in nats, tokens) of each example's target given its prompt, in input order.

    Batches are left-padded so every target ends at the right edge; only the last
    `max target length + 1` positions get logits (`logits_to_keep`), so memory grows with the
    answers, not with the prompts times the vocabulary.
    """
    import torch
    import torch.nn.functional as F

    order = sorted(
        range(len(examples)),
        key=lambda i: -len(examples[i].prompt_ids) - len(examples[i].target_ids),
    )
    out: list[tuple[float, int]] = [(0.0, 0)] * len(examples)
    dev = next(model.parameters()).device
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            seqs = [examples[i].prompt_ids + examples[i].target_ids for i in idx]
            width = max(map(len, seqs))
            ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for row, seq in enumerate(seqs):
                ids[row, width - len(seq) :] = torch.tensor(seq)
                mask[row, width - len(seq) :] = 1
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            keep = max(len(examples[i].target_ids) for i in idx) + 1
            logits = model(
                input_ids=ids.to(dev),
                attention_mask=mask.to(dev),
                position_ids=positions.to(dev),
                logits_to_keep=keep,
            ).logits
            for row, i in enumerate(idx):
                target = examples[i].target_ids
                # logits[:, j] is position width-keep+j and predicts the token after it.
                scored = logits[row, keep - len(target) - 1 : keep - 1].float()
                nll = F.cross_entropy(scored, torch.tensor(target, device=dev), reduction="sum")
                out[i] = (float(nll), len(target))
    return out


def generate(
    model: Any, tokenizer: Any, examples: Sequence[Example], cfg: params.Evaluate, label: str
) -> list[str]:
    """Greedy answers (javis.model.generate_batch), shortest prompts last, with progress logs."""
    from javis.model.loading import generate_batch

    order = sorted(range(len(examples)), key=lambda i: -len(examples[i].prompt_ids))
    answers: list[str] = [""] * len(examples)
    chunk = cfg.batch_size * 4
    started = time.perf_counter()
    for start in range(0, len(order), chunk):
        idx = order[start : start + chunk]
        texts = generate_batch(
            model,
            tokenizer,
            [examples[i].prompt for i in idx],
            tools=[examples[i].tools for i in idx],
            max_new_tokens=cfg.max_new_tokens,
            batch_size=cfg.batch_size,
        )
        for i, text in zip(idx, texts, strict=True):
            answers[i] = text
        done = start + len(idx)
        rate = done / (time.perf_counter() - started)
        log.info("%s: %d/%d answers (%.2f answers/s)", label, done, len(order), rate)
    return answers


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


def ask_probes(model: Any, tokenizer: Any, cfg: params.Evaluate) -> list[str]:
    """Greedy answers to the identity probes, each asked with no history (default system prompt)."""
    if not cfg.persona_probes:
        return []
    from javis.model.loading import generate_batch

    return generate_batch(
        model,
        tokenizer,
        [[{"role": "user", "content": q}] for q in cfg.persona_probes],
        max_new_tokens=min(cfg.max_new_tokens, 64),
        batch_size=cfg.batch_size,
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


# --- the stage -----------------------------------------------------------------------------------


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    started = time.perf_counter()
    p = params.load()
    paths, cfg = p.paths, p.evaluate
    data = Path(paths.training)

    # Everything that can be wrong with the inputs fails here, before any model is loaded.
    test_records = read_split(data / "test.jsonl", "test", required=True)
    regression_records = read_split(data / "regression.jsonl", "regression", required=False)
    from javis.model import loading as jm

    adapter = Path(paths.adapter)
    missing = [f for f in jm.ADAPTER_FILES if not (adapter / f).is_file()]
    if missing:
        raise SystemExit(
            f"evaluate: no trained adapter in {adapter} (missing {missing}); run `dvc repro train` first"
        )
    baseline = read_baseline(Path(paths.baseline))
    baseline_source = baseline.get("tag") or baseline["kind"]
    if baseline["kind"] == "adapter":
        try:
            jm.check_adapter_base(paths.baseline, paths.base, "evaluate.baseline")
        except jm.ModelError as e:
            raise SystemExit(
                f"evaluate: {e}. After a base change, compare with the bare base (evaluate.baseline: base) "
                "and across bases with `javis compare`"
            ) from e
    test = test_examples(sample(test_records, cfg.max_examples, cfg.seed))
    regression = regression_examples(sample(regression_records, cfg.max_examples, cfg.seed))
    style = style_scorer(p.clean, cfg.min_style_score)
    log.info(
        "evaluate: %d of %d test examples, %d of %d corrections; baseline: %s",
        len(test),
        len(test_records),
        len(regression),
        len(regression_records),
        baseline_source,
    )

    jm.set_determinism(cfg.seed)
    precision, why = jm.pick_precision()
    log.info("precision: %s (%s)", precision, why)
    model, tokenizer = jm.load_adapter(paths.base, paths.adapter, precision=precision)
    if baseline["kind"] == "adapter":
        model.load_adapter(paths.baseline, adapter_name="baseline")
    examples = test + regression
    for example in examples:
        encode(tokenizer, example)
    loaded = time.perf_counter()

    answers: dict[str, list[str]] = {}
    nlls: dict[str, list[tuple[float, int]]] = {}
    probe_answers: dict[str, list[str]] = {}
    seconds: dict[str, float] = {"load": loaded - started}
    for side in SIDES:
        t0 = time.perf_counter()
        with active(model, side, baseline["kind"]):
            nlls[side] = reference_nll(model, examples, tokenizer.pad_token_id, cfg.batch_size)
            answers[side] = generate(model, tokenizer, examples, cfg, side)
            probe_answers[side] = ask_probes(model, tokenizer, cfg)
        seconds[side] = time.perf_counter() - t0

    summaries: dict[str, dict] = {}
    names = [p.persona.name, *p.persona.aliases]
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
        for k, (e, answer, nll) in enumerate(zip(examples, answers[side], nlls[side], strict=True)):
            if e.set == "test":
                result, part = judge_test(e, answer, nll, style)
                test_results.append(result)
            else:
                result, part = judge_regression(e, answer, nll)
                regression_results.append(result)
            samples[k][side] = part
        summaries[side] = ev.summarize(test_results, regression_results)
        named = [ev.names_persona(a, names) for a in probe_answers[side]]
        summaries[side]["persona_recall"] = ev.share(sum(named), len(named))
        summaries[side]["persona_probes"] = len(named)
    samples += [
        {
            "id": f"persona-probe-{i + 1:02d}",
            "set": "persona",
            "prompt": [{"role": "user", "content": question}],
            **{
                side: {
                    "answer": probe_answers[side][i],
                    "named": ev.names_persona(probe_answers[side][i], names),
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
            "test": len(test),
            "test_available": len(test_records),
            "regression": len(regression),
            "regression_available": len(regression_records),
            "reference_tokens": sum(len(e.target_ids or []) for e in test),
        },
        "rule": ev.WIN_RULE,
        "baseline_source": baseline_source,
        "base_model": jm.read_info(paths.base, jm.BASE_INFO).get("id") or str(paths.base),
        "seconds": {
            k: round(v, 2) for k, v in {**seconds, "total": time.perf_counter() - started}.items()
        },
    }
    metrics = Path(paths.metrics)
    with fileio.atomic_open(metrics / "eval_samples.jsonl") as f:
        for s in samples:
            f.write(fileio.dumps(s))
    fileio.write_text(
        metrics / "report.md",
        ev.render_report(
            {**result, "rule_text": ev.WIN_RULE_TEXT, "candidate_source": paths.adapter},
            samples,
            top=cfg.report_examples,
        ),
    )
    fileio.write_json(metrics / "eval.json", result)  # last: its presence means the stage finished
    c, b = summaries["candidate"], summaries["baseline"]
    log.info(
        "evaluate: loss %.4f (candidate) vs %.4f (%s); win rate %.3f of %d; "
        "persona %s vs %s; %.1f s",
        c["loss"],
        b["loss"],
        baseline_source,
        wins.rate,
        wins.n,
        c["persona_recall"],
        b["persona_recall"],
        result["seconds"]["total"],
    )


if __name__ == "__main__":
    main()
