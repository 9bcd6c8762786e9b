"""javis/model/report.py: metrics/report.md from a result and its samples."""

from __future__ import annotations

from javis.model.evaluation import AnswerResult, delta, summarize, win_rate
from javis.model.report import render_report


def _test_result(outcome: str, nll: float = 2.0, tokens: int = 2) -> AnswerResult:
    return AnswerResult(
        nll=nll, tokens=tokens, outcome=outcome, invalid_calls=0, language_match=True, style_ok=True
    )


def test_report_has_the_table_and_the_most_different_example():
    cand = summarize([_test_result("none", nll=1.0, tokens=2)], [])
    base = summarize([_test_result("none", nll=4.0, tokens=2)], [])
    result = {
        "candidate": cand,
        "baseline": base,
        "delta": delta(cand, base),
        "win_rate": win_rate([0.5], [2.0]).as_dict(),
        "n": {"test": 1, "regression": 0},
        "rule_text": "lower loss wins",
        "baseline_source": "base",
    }
    sample = {
        "id": "sft-1",
        "set": "test",
        "prompt": [{"role": "user", "content": "who are you?"}],
        "reference": "I am JAVIS.",
        "candidate": {"answer": "I am JAVIS!", "loss": 0.5, "tool_call": "none"},
        "baseline": {"answer": "I am SmolLM.", "loss": 2.0, "tool_call": "none"},
    }
    text = render_report(result, [sample])
    assert "| Loss on reference answers | 0.5000 | 2.0000 | -1.5000 | better |" in text
    assert "> who are you?" in text, "the question is quoted"
    assert "> I am SmolLM." in text, "and the baseline's answer"
    assert "1 wins, 0 losses, 0 ties of 1" in text


def test_report_lists_identity_probes_side_by_side():
    cand = {**summarize([], []), "persona_recall": 1.0}
    base = {**summarize([], []), "persona_recall": 0.0}
    result = {
        "candidate": cand,
        "baseline": base,
        "delta": delta(cand, base),
        "win_rate": win_rate([], []).as_dict(),
        "n": {"test": 0, "regression": 0},
        "rule_text": "lower loss wins",
    }
    probe = {
        "id": "persona-probe-01",
        "set": "persona",
        "prompt": [{"role": "user", "content": "너의 이름은?"}],
        "candidate": {"answer": "저는 JAVIS예요.", "named": True},
        "baseline": {"answer": "I am an AI | assistant.", "named": False},
    }
    text = render_report(result, [probe])
    assert (
        "| Answers as the persona (identity probes) | 1.0000 | 0.0000 | +1.0000 | better |" in text
    )
    assert "| 너의 이름은? | ✓ 저는 JAVIS예요. | ✗ I am an AI \\| assistant. |" in text
