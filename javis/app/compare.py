"""`javis compare A B`: two versions' metrics side by side, and their answers to the same prompts.

A and B are releases (`javis-v0.2`, `v0.2`) or `workspace`. Metrics come from each version's
metrics/eval.json (git); answers from its metrics/eval_samples.jsonl (DVC cache or remote), joined
on the test example id, the most different answers first (lowest chrF between the two).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from javis.core.text import fmt
from javis.model.evaluation import chrf
from javis.release import vcs
from javis.release.gate import prompt_text
from javis.release.names import resolve
from javis.release.record import eval_at

WORKSPACE = "workspace"


def load(side: str) -> tuple[str, dict, list[dict]]:
    """(label, eval.json, eval samples) of a release or the workspace."""
    if side == WORKSPACE:
        ev = Path("metrics/eval.json")
        samples = Path("metrics/eval_samples.jsonl")
        return (
            WORKSPACE,
            json.loads(ev.read_text()) if ev.exists() else {},
            [json.loads(x) for x in samples.read_text().splitlines() if x.strip()]
            if samples.exists()
            else [],
        )
    v, rev = resolve(side)
    try:
        text = vcs.read_text_at(rev, "metrics/eval_samples.jsonl")
        samples = [json.loads(x) for x in text.splitlines() if x.strip()]
    except Exception:  # noqa: BLE001 - samples are optional: metrics still compare
        samples = []
    return v.name, eval_at(rev), samples


def answer(sample: dict) -> str:
    side = sample.get("candidate") or {}
    return str(side.get("answer") or side.get("text") or "")


def show(a: str, b: str, examples: int = 5) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console() if sys.stdout.isatty() else Console(width=200)
    la, ea, sa = load(a)
    lb, eb, sb = load(b)
    t = Table(title=f"{la} vs {lb} (each version's candidate metrics)")
    for col in ("metric", la, lb, "change"):
        t.add_column(col, justify="left" if col == "metric" else "right")
    ca, cb = ea.get("candidate", {}), eb.get("candidate", {})
    for key in sorted(set(ca) | set(cb)):
        x, y = ca.get(key), cb.get(key)
        if not any(isinstance(v, (int, float)) for v in (x, y)):
            continue
        d = y - x if all(isinstance(v, (int, float)) for v in (x, y)) else None
        t.add_row(key, fmt(x), fmt(y), fmt(d, signed=True))
    console.print(t)
    base_a, base_b = ea.get("base_model"), eb.get("base_model")
    if base_a and base_b and base_a != base_b:
        console.print(
            f"note: different base models ({base_a} vs {base_b}): losses use different tokenizers"
        )
    by_id = {s.get("id"): s for s in sa}
    pairs = [(by_id[s["id"]], s) for s in sb if s.get("id") in by_id]
    if not pairs:
        console.print("(no shared test examples with stored answers to compare)")
        return
    pairs.sort(key=lambda p: chrf(answer(p[0]), answer(p[1])))
    for x, y in pairs[:examples]:
        console.rule(f"{x.get('id')}")
        console.print(f"[bold]prompt[/]: {prompt_text(x)[:300]}")
        console.print(f"[bold]{la}[/]: {answer(x)[:400]}")
        console.print(f"[bold]{lb}[/]: {answer(y)[:400]}")
