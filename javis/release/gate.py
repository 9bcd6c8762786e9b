"""The release gate: rules on this run's candidate-vs-baseline delta (metrics/eval.json), and what
to review when it fails. Add a rule in `gate()` and its tolerance to `params.Gate` (docs/DESIGN.md,
"Adding a gate rule")."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from javis.core import fileio, params
from javis.core.text import fmt


class Rule(NamedTuple):
    """One gate rule's verdict: `detail` says the numbers, "n/a" when the metric is missing."""

    name: str
    passed: bool
    detail: str


def gate(result: dict, cfg: params.Gate) -> list[Rule]:
    """A verdict per rule for this run's candidate-vs-baseline delta; a missing metric passes."""
    cand, base, delta = (
        result.get("candidate", {}),
        result.get("baseline", {}),
        result.get("delta", {}),
    )
    rules: list[Rule] = []

    def rule(name: str, value: float | None, ok: bool, detail: str) -> None:
        rules.append(Rule(name, True if value is None else ok, "n/a" if value is None else detail))

    d = delta.get("loss")
    rule(
        "loss",
        d,
        d is not None and d <= cfg.max_loss_increase,
        f"candidate {fmt(cand.get('loss'))} vs baseline {fmt(base.get('loss'))} (delta {fmt(d)}, allowed +{cfg.max_loss_increase})",
    )
    for key, tol in (
        ("tool_call_accuracy", cfg.max_tool_accuracy_drop),
        ("style_consistency", cfg.max_style_drop),
    ):
        d = delta.get(key)
        rule(key, d, d is not None and d >= -tol, f"delta {fmt(d)} (allowed -{tol})")
    d = delta.get("kept_promises")
    rule(
        "kept_promises",
        d,
        d is not None and d >= -cfg.max_promise_drop,
        f"candidate {fmt(cand.get('kept_promises'))} vs baseline {fmt(base.get('kept_promises'))} (allowed -{cfg.max_promise_drop})",
    )
    d = delta.get("persona_recall")
    rule(
        "persona_recall",
        d,
        d is not None and d >= -cfg.max_persona_drop,
        f"candidate {fmt(cand.get('persona_recall'))} vs baseline {fmt(base.get('persona_recall'))} (allowed -{cfg.max_persona_drop})",
    )
    wr = result.get("win_rate") or {}
    low = wr.get("ci95_low")
    rule(
        "win_rate",
        low,
        low is not None and low >= cfg.min_win_rate_low,
        f"{fmt(wr.get('rate'))} over n={wr.get('n')}, 95% interval [{fmt(low)}, {fmt(wr.get('ci95_high'))}] (floor {cfg.min_win_rate_low})",
    )
    return rules


def worst_regressions(metrics: Path, n: int = 5) -> list[str]:
    """What to review after a failed gate (from eval_samples.jsonl): the identity questions and the
    user's corrections the candidate gets wrong and the baseline right, then the test examples it
    lost most on."""
    path = metrics / "eval_samples.jsonl"
    if not path.exists():
        return []
    broken, lost = [], []
    for s in fileio.iter_records(path):
        c, b = s.get("candidate", {}), s.get("baseline", {})
        if s.get("set") == "persona" and c.get("named") is False and b.get("named") is True:
            broken.append(
                f"    forgot who it is {s.get('id')}: {prompt_text(s)[:70]!r} -> {str(c.get('answer'))[:70]!r}"
            )
        elif s.get("set") == "regression" and c.get("kept") is False and b.get("kept") is not False:
            broken.append(
                f"    broken promise {s.get('id')}: {prompt_text(s)[:70]!r} -> {str(c.get('answer'))[:70]!r}"
            )
        elif (
            isinstance(c.get("loss"), float)
            and isinstance(b.get("loss"), float)
            and c["loss"] > b["loss"]
        ):
            lost.append(
                (
                    c["loss"] - b["loss"],
                    f"    loss +{c['loss'] - b['loss']:.3f} {s.get('id')}: {prompt_text(s)[:70]!r}",
                )
            )
    lost.sort(key=lambda r: -r[0])
    return (broken + [line for _, line in lost])[:n]


def prompt_text(sample: dict) -> str:
    """The last user turn of an eval sample's prompt (what the example asked)."""
    prompt = sample.get("prompt")
    if isinstance(prompt, list):
        users = [
            m.get("content") or ""
            for m in prompt
            if isinstance(m, dict) and m.get("role") == "user"
        ]
        return users[-1] if users else ""
    return str(prompt or sample.get("id"))
