"""The eval items' inputs without a model: bad lines in the eval-set files, the paraphrase rule,
the score_baseline stage's place in the DAG (an unchanged baseline is not rescored)."""

from __future__ import annotations

import pytest
import yaml
from helpers import ROOT, write_jsonl

from javis.core import params
from javis.model import eval_examples


def _inputs() -> eval_examples.Inputs:
    return eval_examples.Inputs([], 0, 0, {"kind": "base"})


def test_a_bad_probe_line_is_skipped_with_its_line_and_reason(tmp_path):
    path = tmp_path / "probes.jsonl"
    write_jsonl(
        path,
        [{"id": "p1", "question": "Who are you?"}, "{not json", {"id": "p3", "question": ""}],
    )
    inputs = _inputs()
    items = eval_examples.probe_items(path, inputs)
    assert [i.id for i in items] == ["p1"], items
    where = [w for w, _ in inputs.skipped]
    assert where == [f"{path}:2", f"{path}:3"], inputs.skipped
    assert "not JSON" in inputs.skipped[0][1], inputs.skipped
    assert "needs non-empty strings" in inputs.skipped[1][1], inputs.skipped


def test_the_paraphrase_rule_is_fixed_and_frames_the_question():
    once = eval_examples.paraphrase("Who are you?", "pref-1")
    assert once == eval_examples.paraphrase("Who are you?", "pref-1"), "deterministic"
    assert once != "Who are you?", "in other words"
    assert "Who are you?" in once, "the question inside a frame"
    ko = eval_examples.paraphrase("너는 누구야?", "pref-2")
    assert any(ko == f.format(q="너는 누구야?") for f in eval_examples.PARAPHRASE_FRAMES["ko"]), ko


def test_tool_call_turns_become_items_cut_before_them():
    record = {
        "id": "c1",
        "messages": [
            {"role": "user", "content": "Weather in Seoul and Busan?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"function": {"name": "w", "arguments": "{}"}}],
            },
            {"role": "tool", "content": "sunny"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"function": {"name": "w", "arguments": "{}"}}],
            },
            {"role": "tool", "content": "rain"},
            {"role": "assistant", "content": "Sunny in Seoul, rain in Busan."},
        ],
        "meta": {"split_group": "g-7"},
    }
    items = eval_examples.conversation_items(record)
    assert [(i.id, i.set, len(i.prompt)) for i in items] == [
        ("c1", "test", 5),
        ("c1#call1", "tool", 1),
        ("c1#call2", "tool", 3),
    ], items
    assert {i.group for i in items} == {"g-7"}, "the split's group when the record carries one"


def test_score_baseline_does_not_depend_on_the_candidate():
    """DVC skips score_baseline while the baseline, the items and the eval params are unchanged:
    it has no dep on the candidate adapter nor on train params, and evaluate reads its output."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    sb, ev = stages["score_baseline"], stages["evaluate"]
    assert "${paths.adapter}" not in sb["deps"], sb["deps"]
    assert not [p for p in sb["params"] if str(p).startswith("train")], sb["params"]
    assert "${paths.baseline}" in sb["deps"], sb["deps"]
    assert "${paths.metrics}/baseline_scores.jsonl" in ev["deps"], ev["deps"]
    assert "${paths.baseline}" not in ev["deps"], "evaluate reads the baseline's scores instead"


def test_missing_eval_sets_are_notes_for_the_gate(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_jsonl(
        tmp_path / "data/training/current/test.jsonl",
        [
            {
                "id": "s1",
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "hello"},
                ],
                "meta": {},
            }
        ],
    )
    write_jsonl(tmp_path / "data/training/current/regression.jsonl", [])
    (tmp_path / "off.jsonl").write_text("")  # an empty file turns a forgetting check off
    cfg = params.Evaluate(probes="nowhere.jsonl", generic="off.jsonl", kl_prompts="off.jsonl")
    inputs = eval_examples.read_items(cfg, params.Paths())
    text = " | ".join(inputs.notes)
    for what in (
        "no tool-call items",
        "no corrections",
        "no identity probes (nowhere.jsonl)",
        "generic",
        "KL",
    ):
        assert what in text, f"{what!r} in {text}"
    assert text.count("not enough evidence") == 5, text


@pytest.mark.parametrize("key", ["generic", "kl_prompts"])
def test_an_empty_forgetting_path_is_refused_with_the_way_to_turn_it_off(key):
    with pytest.raises(params.ParamsError, match=rf"evaluate.{key}: .*point it at an empty file"):
        params.Evaluate(**{key: ""})
