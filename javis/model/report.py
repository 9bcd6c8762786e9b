"""metrics/report.md: the candidate's and the baseline's metrics side by side with the n of each,
the paired loss difference and the forgetting check, then the test items that differ most, the
tool-call items the candidate gets wrong, the identity probes and the promises it does not keep."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from javis.core.text import fmt
from javis.model.evaluation import clustered_mean_se, last_user_text

_num = functools.partial(fmt, missing="–")  # a metric the run could not judge shows as –

REPORT_METRICS: list[tuple[str, str, bool | None, str]] = [
    # (key, label, higher is better (None: no direction), key of its n in result["n"])
    ("loss", "Loss on reference answers", False, "loss"),
    ("perplexity", "Perplexity", False, "loss"),
    ("tool_call_accuracy", "Tool-call accuracy", True, "tool_call_accuracy"),
    ("tool_call_name_accuracy", "Tool-call name accuracy", True, "tool_call_accuracy"),
    ("unwanted_tool_call_rate", "Unwanted tool calls (share)", False, "unwanted_tool_call_rate"),
    ("invalid_tool_calls", "Unparseable tool calls", False, ""),
    ("style_consistency", "In style (all six quality criteria >= threshold)", True, "style"),
    ("language_match", "Answers in the question's language (no echo)", True, "language_match"),
    ("regression_chrf", "Closeness to corrections (chrF)", True, "kept_promises"),
    ("regression_loss", "Loss on corrections", False, "kept_promises"),
    ("kept_promises", "Kept promises", True, "kept_promises"),
    (
        "kept_promises_paraphrased",
        "Kept promises, paraphrased prompts",
        True,
        "kept_promises_paraphrased",
    ),
    ("persona_recall", "Names itself as the persona (identity probes)", True, "persona_recall"),
    ("forgetting_kl", "Forgetting: KL from the base per token", False, "forgetting_kl"),
    (
        "forgetting_nll_delta",
        "Forgetting: NLL minus the base's, generic answers",
        False,
        "forgetting_nll",
    ),
]


def _verdict(d: Any, higher_better: bool | None) -> str:
    if not isinstance(d, int | float) or higher_better is None or abs(d) < 1e-12:
        return ""
    return "better" if (d > 0) == higher_better else "worse"


def _quote(text: str, limit: int = 600) -> str:
    text = text if len(text) <= limit else text[:limit] + " …"
    return "\n".join("> " + line if line else ">" for line in (text or "(empty)").splitlines())


def _cell(text: str, limit: int = 160) -> str:
    """Text for one markdown table cell: one line, pipes escaped, cut at `limit` characters."""
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[:limit] + " …"


def _call_note(side: dict) -> str:
    outcome = side.get("tool_call", "none")
    return "" if outcome == "none" else f" (tool call: {outcome.replace('_', ' ')})"


def render_report(result: dict[str, Any], samples: Sequence[dict], top: int = 5) -> str:
    """The brief's performance report: metrics side by side, then the examples that differ most."""
    cand, base, diff = result["candidate"], result["baseline"], result["delta"]
    n = result["n"]
    lines = [
        "# Evaluation report",
        "",
        f"Candidate: `{result.get('candidate_source', 'models/adapter')}` — "
        f"baseline: `{result.get('baseline_source', '?')}` — "
        f"{n['test']} test items, {n.get('tool', 0)} tool-call items, {n['regression']} "
        f"corrections (+{n.get('regression_paraphrased', 0)} paraphrased).",
        "",
        "| metric | n | candidate | baseline | delta | |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for key, label, higher, n_key in REPORT_METRICS:
        lines.append(
            f"| {label} | {n.get(n_key, '') if n_key else ''} | {_num(cand.get(key))} | "
            f"{_num(base.get(key))} | {_num(diff.get(key), signed=True)} | "
            f"{_verdict(diff.get(key), higher)} |"
        )
    for note in result.get("notes") or []:
        lines += ["", f"Note: {note}."]
    paired = [
        (s["baseline"]["loss"] - s["candidate"]["loss"], s.get("group") or s["id"])
        for s in samples
        if s["set"] == "test"
        and isinstance(s.get("candidate", {}).get("loss"), float)
        and isinstance(s.get("baseline", {}).get("loss"), float)
    ]
    mean, se = clustered_mean_se([d for d, _ in paired], [g for _, g in paired])
    lines += [
        "",
        f"**Paired loss improvement** (baseline minus candidate, per test item): mean "
        f"{_num(mean, signed=True)}, standard error {_num(se)} clustered by split group "
        f"({len({g for _, g in paired})} groups, {len(paired)} items); positive = the candidate "
        "predicts the reference answers better.",
    ]
    f = result.get("forgetting") or {}
    lines += [
        "",
        f"**Forgetting** (candidate vs the bare base): KL per token {_num(f.get('kl_mean'))} on "
        f"{f.get('n_kl', 0)} generic prompts; NLL delta on generic answers "
        f"{_num(f.get('nll_delta_mean'), signed=True)} ± {_num(f.get('nll_delta_se'))} (clustered "
        f"SE, {f.get('groups_nll', 0)} template families, {f.get('n_nll', 0)} items); 0 = no drift.",
        "",
    ]

    tests = [
        s
        for s in samples
        if s["set"] == "test"
        and s.get("candidate", {}).get("loss") is not None
        and s.get("baseline", {}).get("loss") is not None
    ]
    tests.sort(key=lambda s: -abs(s["candidate"]["loss"] - s["baseline"]["loss"]))
    if tests:
        lines += [f"## The {min(top, len(tests))} test examples that differ most (by loss)", ""]
    for s in tests[:top]:
        c, b = s["candidate"], s["baseline"]
        lines += [
            f"### `{s['id']}` — loss {c['loss']:.3f} (candidate) vs {b['loss']:.3f} (baseline)",
            "",
            "User:",
            _quote(last_user_text(s["prompt"])),
            "",
            "Reference:",
            _quote(s["reference"]),
            "",
            f"Candidate{_call_note(c)}:",
            _quote(c["answer"]),
            "",
            f"Baseline{_call_note(b)}:",
            _quote(b["answer"]),
            "",
        ]
    tools = [s for s in samples if s["set"] == "tool" and not s["candidate"]["tool_ok"]]
    if tools:
        lines += ["## Tool calls the candidate gets wrong", ""]
        for s in tools[:top]:
            lines += [
                f"### `{s['id']}` — {s['candidate']['outcome'].replace('_', ' ')}",
                "",
                "User:",
                _quote(last_user_text(s["prompt"])),
                "",
                "Expected:",
                _quote(s["reference"]),
                "",
                "Candidate:",
                _quote(s["candidate"]["answer"]),
                "",
            ]
    probes = [s for s in samples if s["set"] == "persona"]
    if probes:
        lines += [
            "## Who are you? (identity probes)",
            "",
            "| question | candidate | baseline |",
            "|---|---|---|",
        ]
        for s in probes:
            cells = [_cell(last_user_text(s["prompt"]))] + [
                ("✓ " if s[side]["named"] else "✗ ") + _cell(s[side]["answer"])
                for side in ("candidate", "baseline")
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    broken = [s for s in samples if s["set"] == "regression" and not s["candidate"]["kept"]]
    if broken:
        lines += ["## Corrections the candidate does not keep", ""]
        for s in broken[:top]:
            lines += [
                f"### `{s['id']}`{' (paraphrased)' if s.get('paraphrase') else ''} — chrF to "
                f"correction {s['candidate']['chrf_correction']:.1f}, to the original "
                f"{s['candidate']['chrf_original']:.1f} (margin {s['candidate']['margin']:+.1f})",
                "",
                "User:",
                _quote(last_user_text(s["prompt"])),
                "",
                "Correction:",
                _quote(s["reference"]),
                "",
                "Candidate:",
                _quote(s["candidate"]["answer"]),
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"
