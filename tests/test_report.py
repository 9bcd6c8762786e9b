"""javis/model/report.py: metrics/report.md from a result and its item lines."""

from __future__ import annotations

from javis.model.eval_summary import summarize
from javis.model.evaluation import delta
from javis.model.report import render_report


def _result(lines: list[dict]) -> dict:
    cand, base = summarize(lines, "candidate"), summarize(lines, "baseline")
    return {
        "candidate": cand,
        "baseline": base,
        "delta": delta(cand, base),
        "n": {"test": 1, "tool": 0, "regression": 0, "loss": 1, "persona_recall": 1},
        "forgetting": {
            "kl_mean": 0.01,
            "nll_delta_mean": 0.02,
            "nll_delta_se": 0.01,
            "n_kl": 64,
            "n_nll": 229,
        },
        "baseline_source": "base",
        "notes": ["no corrections (regression.jsonl is empty): ... not enough evidence"],
    }


def test_report_has_the_table_with_n_and_the_most_different_example():
    sample = {
        "id": "sft-1",
        "set": "test",
        "group": "g1",
        "prompt": [{"role": "user", "content": "who are you?"}],
        "reference": "I am JAVIS.",
        "candidate": {"answer": "I am JAVIS!", "loss": 0.5, "tokens": 2, "tool_call": "none"},
        "baseline": {"answer": "I am SmolLM.", "loss": 2.0, "tokens": 2, "tool_call": "none"},
    }
    text = render_report(_result([sample]), [sample])
    assert "| Loss on reference answers | 1 | 0.5000 | 2.0000 | -1.5000 | better |" in text, text
    assert "> who are you?" in text, "the question is quoted"
    assert "> I am SmolLM." in text, "and the baseline's answer"
    assert "**Paired loss improvement**" in text, text
    assert "KL per token 0.0100 on 64 generic prompts" in text, text
    assert "Note: no corrections" in text, "what is missing is said"


def test_report_lists_identity_probes_side_by_side():
    probe = {
        "id": "probe-ko-01",
        "set": "persona",
        "group": "probe-ko-01",
        "prompt": [{"role": "user", "content": "너의 이름은?"}],
        "candidate": {"answer": "저는 JAVIS예요.", "named": True},
        "baseline": {"answer": "I am an AI | assistant.", "named": False},
    }
    text = render_report(_result([probe]), [probe])
    row = (
        "| Names itself as the persona (identity probes) | 1 | 1.0000 | 0.0000 | +1.0000 | better |"
    )
    assert row in text, text
    assert "| 너의 이름은? | ✓ 저는 JAVIS예요. | ✗ I am an AI \\| assistant. |" in text, text
