"""Judging each side's raw results item by item, and metrics/eval.json's numbers from those items.

`sample_lines` makes one metrics/eval_samples.jsonl line per eval item (the contract with the
release gate, docs/DESIGN.md "Evaluation items"): `id`, `set`, `group`, `prompt`, and a dict per side
(`candidate`, `baseline`; generic items also `base`) holding what that side did on the item:
- test: `loss`, `tokens`, `answer`, `style_ok` (every one of the clean stage's six criteria,
  javis/data/quality.py, scores >= evaluate.min_style_score on the answer), `language_ok` (the
  question's language and not an echo of it), `unwanted_call` (the reference calls no tool but
  the answer does);
- tool: `tool_ok` (the expected calls exactly: names equal, arguments equal as parsed JSON),
  `outcome`, `answer`; `expected_calls` at the top;
- regression: `kept` (non-empty and `margin` > evaluate.promise_margin), `margin`, `answer`;
  a paraphrased item has `paraphrase: true` and `of`;
- persona: `named` (negation-aware), `answer`;
- generic: `loss`, `tokens` (candidate, baseline, base); generic_kl: `kl` (mean per token), `tokens`.

`summarize` gives one side's metrics from those lines and `counts` the n of every metric (the
same for both sides: the same items); `forgetting` is the candidate's KL and its NLL delta
against the base with a standard error clustered by group.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from javis.core import params
from javis.model import evaluation as ev
from javis.model.eval_examples import Inputs, Item

SIDES = ("candidate", "baseline")


def style_judge(clean: params.Clean, min_score: int) -> Callable[[str, str], tuple[int, str]]:
    """(lowest of the six quality scores, the reason of the lowest) of an answer to a question."""
    from javis.data import quality

    def judge(answer: str, question: str) -> tuple[int, str]:
        scores = quality.score_text(answer, question, clean)
        name = min(scores, key=lambda k: scores[k][0])
        value, reason = scores[name]
        return int(value), (f"{name}: {reason}" if reason else name)

    return judge


def _loss(raw: dict) -> float | None:
    return raw["nll"] / raw["tokens"] if raw.get("tokens") else None


def judge_item(
    item: Item,
    raw: dict,
    cfg: params.Evaluate,
    names: Sequence[str],
    style: Callable[[str, str], tuple[int, str]],
) -> dict:
    """One side's dict for one item, from its raw result (javis/model/eval_runner.py)."""
    if item.set == "generic":
        return {"loss": _loss(raw), "tokens": raw.get("tokens", 0)}
    if item.set == "generic_kl":
        n = raw.get("tokens", 0)
        return {"kl": raw["kl"] / n if n else None, "tokens": n}
    answer = raw.get("answer", "")
    if item.set == "persona":
        return {"answer": answer, "named": ev.names_persona(answer, names)}
    out: dict[str, Any] = {"answer": answer, "loss": _loss(raw), "tokens": raw.get("tokens", 0)}
    assert item.reference is not None
    if item.set == "regression":
        correction = ev.reference_text(item.reference)
        c, o = ev.chrf(answer, correction), ev.chrf(answer, item.original)
        margin = c - o
        return out | {
            "chrf_correction": c,
            "chrf_original": o,
            "margin": margin,
            "kept": ev.kept(answer, margin, cfg.promise_margin),
        }
    expected = ev.expected_calls(item.reference)
    calls = ev.parse_tool_calls(answer)
    outcome = ev.tool_call_outcome(expected, calls)
    out["invalid_calls"] = sum(c is None for c in calls)
    if item.set == "tool":
        return out | {"tool_ok": outcome == "correct", "outcome": outcome}
    prose = ev.strip_tool_calls(answer)
    question = ev.last_user_text(item.prompt)
    out["tool_call"] = outcome
    if expected:  # judged as a tool item; its prose is not the point
        return out | {"style_ok": None, "language_ok": None}
    score, reason = style(prose, question)
    return out | {
        "style": score,
        "style_reason": reason,
        "style_ok": score >= cfg.min_style_score,
        "language": ev.detect_language(prose),
        "language_ok": ev.language_ok(prose, question),
        "unwanted_call": bool(calls),
    }


def sample_lines(
    inputs: Inputs,
    raw: dict[str, dict[str, dict]],
    cfg: params.Evaluate,
    persona: params.Persona,
    clean: params.Clean,
) -> list[dict]:
    """The eval_samples.jsonl lines: `raw` is side ("candidate", "baseline", "base") -> id -> raw."""
    names = [persona.name, *persona.aliases]
    style = style_judge(clean, cfg.min_style_score)
    lines = []
    for item in inputs.items:
        line: dict[str, Any] = {"id": item.id, "set": item.set, "group": item.group}
        line["prompt"] = item.prompt
        if item.tools:
            line["tools"] = item.tools
        if item.reference is not None:
            line["reference"] = ev.reference_text(item.reference)
            line["tokens"] = len(item.target_ids or [])
        if item.set == "tool":
            line["expected_calls"] = ev.expected_calls(item.reference or {})
        if item.set == "regression":
            line["original"] = item.original
            if item.paraphrase:
                line |= {"paraphrase": True, "of": item.of}
        sides = SIDES + (("base",) if item.set == "generic" else ())
        for side in sides:
            if item.id in raw.get(side, {}):
                line[side] = judge_item(item, raw[side][item.id], cfg, names, style)
        lines.append(line)
    return lines


def _mean(values: Sequence[Any]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def _token_mean(parts: Sequence[dict], key: str) -> float | None:
    """Token-weighted mean of a per-item mean (`loss`, `kl`)."""
    pairs = [(p[key], p["tokens"]) for p in parts if p.get(key) is not None and p.get("tokens")]
    tokens = sum(n for _, n in pairs)
    return sum(v * n for v, n in pairs) / tokens if tokens else None


def summarize(lines: Sequence[dict], side: str) -> dict[str, Any]:
    """One side's metrics from the item lines (a metric with no item to judge is None)."""

    def part(name: str) -> list[dict]:
        return [ln[side] for ln in lines if ln["set"] == name and side in ln]

    test, tool, reg = part("test"), part("tool"), part("regression")
    probes = part("persona")
    para = [ln[side] for ln in lines if ln.get("paraphrase") and side in ln]
    loss = _token_mean(test, "loss")
    not_expected = [p for p in test if p.get("unwanted_call") is not None]
    forgetting = forgetting_of(lines, side)
    return {
        "loss": loss,
        "perplexity": ev.perplexity(loss),
        "tool_call_accuracy": _mean([p["tool_ok"] for p in tool]),
        "tool_call_name_accuracy": _mean(
            [p["outcome"] in ("correct", "wrong_arguments") for p in tool]
        ),
        "tool_calls_expected": len(tool),
        "tool_calls_correct": sum(p["tool_ok"] for p in tool),
        "tool_calls_missed": sum(p["outcome"] == "missed" for p in tool),
        "unwanted_tool_calls": sum(p["unwanted_call"] for p in not_expected),
        "unwanted_tool_call_rate": _mean([p["unwanted_call"] for p in not_expected]),
        "invalid_tool_calls": sum(p.get("invalid_calls", 0) for p in test + tool),
        "style_consistency": _mean([p.get("style_ok") for p in test]),
        "language_match": _mean([p.get("language_ok") for p in test]),
        "regression_chrf": _mean([p["chrf_correction"] for p in reg]),
        "regression_loss": _token_mean(reg, "loss"),
        "kept_promises": _mean([p["kept"] for p in reg]),
        "kept_promises_paraphrased": _mean([p["kept"] for p in para]),
        "persona_recall": _mean([p["named"] for p in probes]),
        "persona_probes": len(probes),
        "forgetting_kl": forgetting["kl_mean"],
        "forgetting_nll_delta": forgetting["nll_delta_mean"],
    }


def counts(lines: Sequence[dict], inputs: Inputs) -> dict[str, int]:
    """n of every metric (items judged), and the sets' sizes."""

    def judged(name: str, key: str) -> int:
        return sum(
            1 for ln in lines if ln["set"] == name and ln.get("candidate", {}).get(key) is not None
        )

    of_set = {
        name: sum(ln["set"] == name for ln in lines)
        for name in ("test", "tool", "regression", "persona", "generic", "generic_kl")
    }
    return {
        "test": of_set["test"],
        "test_available": inputs.test_available,
        "tool": of_set["tool"],
        "regression": sum(ln["set"] == "regression" and not ln.get("paraphrase") for ln in lines),
        "regression_paraphrased": sum(bool(ln.get("paraphrase")) for ln in lines),
        "regression_available": inputs.regression_available,
        "skipped": len(inputs.skipped),  # records and eval-set lines that made no item (logged)
        "reference_tokens": sum(ln.get("tokens", 0) for ln in lines if ln["set"] == "test"),
        "loss": judged("test", "loss"),
        "tool_call_accuracy": of_set["tool"],
        "unwanted_tool_call_rate": judged("test", "unwanted_call"),
        "style": judged("test", "style_ok"),
        "language_match": judged("test", "language_ok"),
        "kept_promises": of_set["regression"],
        "kept_promises_paraphrased": sum(bool(ln.get("paraphrase")) for ln in lines),
        "persona_recall": of_set["persona"],
        "forgetting_kl": judged("generic_kl", "kl"),
        "forgetting_nll": sum(
            1
            for ln in lines
            if ln["set"] == "generic"
            and ln.get("candidate", {}).get("loss") is not None
            and ln.get("base", {}).get("loss") is not None
        ),
    }


def forgetting_of(lines: Sequence[dict], side: str) -> dict[str, Any]:
    """`side`'s drift from the bare base: the token-weighted mean per-token KL(base || side) on
    the KL prompts, and the per-item NLL delta (side - base) on the generic answers: its mean and
    its standard error clustered by the items' groups (template families)."""
    kl = [ln[side] for ln in lines if ln["set"] == "generic_kl" and side in ln]
    pairs = [
        (ln[side]["loss"] - ln["base"]["loss"], ln["group"])
        for ln in lines
        if ln["set"] == "generic"
        and ln.get(side, {}).get("loss") is not None
        and ln.get("base", {}).get("loss") is not None
    ]
    mean, se = ev.clustered_mean_se([d for d, _ in pairs], [g for _, g in pairs])
    return {
        "kl_mean": _token_mean(kl, "kl"),
        "nll_delta_mean": mean,
        "nll_delta_se": se,
        "n_kl": len([p for p in kl if p.get("kl") is not None]),
        "n_nll": len(pairs),
        "groups_nll": len({g for _, g in pairs}),
    }


def result_of(lines: Sequence[dict], inputs: Inputs, base_model: str) -> dict[str, Any]:
    """metrics/eval.json: both sides' metrics, their delta, n per metric, forgetting; no timings."""
    cand, base = summarize(lines, "candidate"), summarize(lines, "baseline")
    test = [ln for ln in lines if ln["set"] == "test"]
    wins = ev.win_rate(
        [ln["candidate"]["loss"] or 0.0 for ln in test],
        [ln["baseline"]["loss"] or 0.0 for ln in test],
    )
    return {
        "candidate": cand,
        "baseline": base,
        "delta": ev.delta(cand, base),
        "n": counts(lines, inputs),
        "forgetting": forgetting_of(lines, "candidate"),
        "forgetting_baseline": forgetting_of(lines, "baseline"),
        "win_rate": wins.as_dict(),
        "rule": ev.WIN_RULE,
        "notes": list(inputs.notes),
        "baseline_source": inputs.baseline_source,
        "base_model": base_model,
    }
