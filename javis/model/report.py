"""metrics/report.md: the candidate's and the baseline's metrics side by side, then the examples
that differ most, the identity probes and the corrections the candidate does not keep."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from javis.core.text import fmt
from javis.model.evaluation import last_user_text

_num = functools.partial(fmt, missing="–")  # a metric the run could not judge shows as –

REPORT_METRICS: list[tuple[str, str, bool | None]] = [
    # (key, label, higher is better; None: no direction)
    ("loss", "Loss on reference answers", False),
    ("perplexity", "Perplexity", False),
    ("tool_call_accuracy", "Tool-call accuracy", True),
    ("tool_call_name_accuracy", "Tool-call name accuracy", True),
    ("unwanted_tool_calls", "Unwanted tool calls", False),
    ("invalid_tool_calls", "Unparseable tool calls", False),
    ("style_consistency", "Style consistency (style >= threshold)", True),
    ("language_match", "Language match", True),
    ("regression_chrf", "Closeness to corrections (chrF)", True),
    ("regression_loss", "Loss on corrections", False),
    ("kept_promises", "Kept promises", True),
    ("persona_recall", "Answers as the persona (identity probes)", True),
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
        f"{n['test']} test examples, {n['regression']} corrections.",
        "",
        "| metric | candidate | baseline | delta | |",
        "|---|---:|---:|---:|---|",
    ]
    for key, label, higher in REPORT_METRICS:
        lines.append(
            f"| {label} | {_num(cand.get(key))} | {_num(base.get(key))} | "
            f"{_num(diff.get(key), signed=True)} | {_verdict(diff.get(key), higher)} |"
        )
    wr = result["win_rate"]
    lines += [
        "",
        f"**Win rate of the candidate**: {_num(wr['rate'])} "
        f"(95% CI {_num(wr['ci95_low'])}–{_num(wr['ci95_high'])}; {wr['wins']} wins, "
        f"{wr['losses']} losses, {wr['ties']} ties of {wr['n']}). Rule: {result['rule_text']}",
        "",
    ]

    tests = [s for s in samples if s["set"] == "test"]
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
                f"### `{s['id']}` — chrF to correction {s['candidate']['chrf_correction']:.1f}, "
                f"to the original {s['candidate']['chrf_original']:.1f}",
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
