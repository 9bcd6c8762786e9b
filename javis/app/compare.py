"""`javis compare A B`: two versions' metrics side by side, and their answers to the same prompts.

A and B are releases (`javis-v0.2`, `v0.2`), `workspace`, or `base` (the bare base model). Metrics
come from each version's metrics/eval.json (git); answers from its metrics/eval_samples.jsonl (DVC
cache or remote), joined on the test example id, the most different answers first (lowest chrF
between the two).

The bare base is never a release of its own: it is scored as the baseline side of an evaluation run
whose baseline was the base (the first release's, or any run with `evaluate.baseline: base`).
`base` takes that side from the other version's own run when it had the base as baseline (same
examples, same run), else from the first such release with the same base model, and says which.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from javis.core.text import fmt
from javis.model.evaluation import chrf
from javis.release import vcs
from javis.release.errors import ReleaseError
from javis.release.gate import prompt_text
from javis.release.names import releases, resolve
from javis.release.record import eval_at

WORKSPACE = "workspace"
BASE = "base"
CANDIDATE, BASELINE = "candidate", "baseline"  # the two sides of an evaluation run


@dataclass
class Run:
    """One evaluation run: where it comes from, its eval.json and its samples."""

    label: str  # a version name or "workspace"
    ev: dict
    samples: list[dict]


@dataclass
class Side:
    """What one column of the comparison shows: one side of an evaluation run."""

    label: str
    run: Run
    key: str  # CANDIDATE or BASELINE: which side of the run's metrics and samples

    @property
    def metrics(self) -> dict:
        return self.run.ev.get(self.key) or {}

    @property
    def base_model(self) -> str | None:
        return self.run.ev.get("base_model")


def _samples(text: str) -> list[dict]:
    return [json.loads(x) for x in text.splitlines() if x.strip()]


def load_run(side: str) -> Run:
    """The evaluation run of a release or of the workspace."""
    if side == WORKSPACE:
        ev = Path("metrics/eval.json")
        samples = Path("metrics/eval_samples.jsonl")
        return Run(
            WORKSPACE,
            json.loads(ev.read_text()) if ev.exists() else {},
            _samples(samples.read_text()) if samples.exists() else [],
        )
    v, rev = resolve(side)
    try:
        samples = _samples(vcs.read_text_at(rev, "metrics/eval_samples.jsonl"))
    except Exception:  # noqa: BLE001 - samples are optional: metrics still compare
        samples = []
    return Run(v.name, eval_at(rev), samples)


def baseline_was_base(ev: dict) -> bool:
    """Was this run's baseline the bare base model?"""
    return ev.get("baseline_source") == BASE and bool(ev.get(BASELINE))


def base_side(other: Run | None) -> tuple[Side, str]:
    """The bare base model's side, and a note saying which run it comes from."""
    if other is not None and baseline_was_base(other.ev):
        return Side(BASE, other, BASELINE), (
            f"base = the bare base model ({other.ev.get('base_model') or '?'}) as scored in "
            f"{other.label}'s own evaluation run (its baseline side: the same examples)"
        )
    want = other.ev.get("base_model") if other is not None else None
    found: list[Run] = []
    for v, rev in releases():
        ev = eval_at(rev)
        if baseline_was_base(ev):
            found.append(Run(v.name, ev, []))
    same = [r for r in found if want and r.ev.get("base_model") == want]
    pick = (same or found or [None])[0]
    if pick is None:
        raise ReleaseError(
            "no evaluation of the bare base model: it is scored as the baseline of the first "
            "release (or of any run with `evaluate.baseline: base` in params.yaml); make a "
            "release, or set that and run `dvc repro evaluate`, then `javis compare base workspace`"
        )
    run = load_run(pick.label)
    return Side(BASE, run, BASELINE), (
        f"base = the bare base model ({run.ev.get('base_model') or '?'}) as scored in "
        f"{run.label}'s evaluation run (its baseline side; its test examples, not necessarily "
        "the other version's)"
    )


def sides(a: str, b: str) -> tuple[Side, Side, list[str]]:
    """The two columns and the notes that say where a `base` column comes from."""
    if a.lower() == BASE and b.lower() == BASE:
        raise ReleaseError("compare base with a release or `workspace`: `javis compare base v0.1`")
    notes = []
    out: dict[str, Side] = {}
    for name in (a, b):
        if name.lower() != BASE:
            run = load_run(name)
            out[name] = Side(run.label, run, CANDIDATE)
    for name in (a, b):
        if name.lower() == BASE:
            other = next(iter(out.values()), None)
            out[name], note = base_side(other.run if other else None)
            notes.append(note)
    return out[a], out[b], notes


def answer(sample: dict, key: str = CANDIDATE) -> str:
    side = sample.get(key) or {}
    return str(side.get("answer") or side.get("text") or "")


def show(a: str, b: str, examples: int = 5) -> None:
    from rich.markup import escape
    from rich.table import Table

    from javis.app.cli import console as make_console

    console = make_console()
    sa, sb, notes = sides(a, b)
    la, lb = sa.label, sb.label
    t = Table(title=f"{la} vs {lb} (each side's metrics from its evaluation run)")
    for col in ("metric", la, lb, "change"):
        t.add_column(col, justify="left" if col == "metric" else "right")
    ca, cb = sa.metrics, sb.metrics
    for key in sorted(set(ca) | set(cb)):
        x, y = ca.get(key), cb.get(key)
        if not any(isinstance(v, (int, float)) for v in (x, y)):
            continue
        d = y - x if all(isinstance(v, (int, float)) for v in (x, y)) else None
        t.add_row(key, fmt(x), fmt(y), fmt(d, signed=True))
    console.print(t)
    for note in notes:
        console.print(f"note: {note}")
    base_a, base_b = sa.base_model, sb.base_model
    if base_a and base_b and base_a != base_b:
        console.print(
            f"note: different base models ({base_a} vs {base_b}): losses use different tokenizers"
        )
    by_id = {s.get("id"): s for s in sa.run.samples}
    pairs = [(by_id[s["id"]], s) for s in sb.run.samples if s.get("id") in by_id]
    if not pairs:
        console.print("(no shared test examples with stored answers to compare)")
        return
    pairs.sort(key=lambda p: chrf(answer(p[0], sa.key), answer(p[1], sb.key)))
    for x, y in pairs[:examples]:
        console.rule(escape(str(x.get("id"))))
        console.print(f"[bold]prompt[/]: {escape(prompt_text(x)[:300])}")
        console.print(f"[bold]{escape(la)}[/]: {escape(answer(x, sa.key)[:400])}")
        console.print(f"[bold]{escape(lb)}[/]: {escape(answer(y, sb.key)[:400])}")
