"""stages/evaluate.py and its library (javis/model/eval_examples.py, eval_runner.py) on a tiny random
Llama, in a temp project folder."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import orjson
import pytest

from javis.core import params
from javis.model import eval_examples, eval_runner, loading, template
from javis.model.evaluation import names_persona

SYSTEM = "You are JAVIS."
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
TEST = [
    {
        "id": "sft-en",
        "messages": [
            {"role": "user", "content": "Hello! How are you?"},
            {"role": "assistant", "content": "I am fine, thank you."},
        ],
        "source": "test",
        "meta": {},
    },
    {
        "id": "sft-ko",
        "messages": [
            {"role": "system", "content": "You are JAVIS, the personal assistant of Minjun Kim."},
            {"role": "user", "content": "안녕하세요"},
            {"role": "assistant", "content": "안녕하세요 저는 자비스입니다."},
            {"role": "user", "content": "무엇을 도와드릴까요?"},
            {"role": "assistant", "content": "서울 날씨는 맑아요."},
        ],
        "source": "test",
        "meta": {},
    },
    {
        "id": "sft-tool",
        "messages": [
            {"role": "user", "content": "What is the weather in Seoul today?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Seoul"}'},
                    }
                ],
            },
        ],
        "tools": [WEATHER_TOOL],
        "source": "test",
        "meta": {},
    },
    {
        "id": "sft-after-tool",
        "messages": [
            {"role": "user", "content": "What is the weather in Seoul?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": {"city": "Seoul"}},
                    }
                ],
            },
            {"role": "tool", "content": '{"sky": "clear"}'},
            {"role": "assistant", "content": "It is clear in Seoul today."},
        ],
        "tools": [WEATHER_TOOL],
        "source": "test",
        "meta": {},
    },
]
REGRESSION = [
    {
        "id": "pref-1",
        "prompt": [{"role": "user", "content": "Who are you?"}],
        "chosen": [
            {"role": "assistant", "content": "I am JAVIS, the personal assistant of Minjun Kim."}
        ],
        "rejected": [{"role": "assistant", "content": "I am SmolLM."}],
        "source": "feedback",
        "meta": {"regression": True},
    },
    {
        "id": "pref-2",
        "prompt": [{"role": "user", "content": "너는 누구야?"}],
        "chosen": [{"role": "assistant", "content": "저는 자비스입니다."}],
        "rejected": [{"role": "assistant", "content": "I am an AI."}],
        "source": "feedback",
        "meta": {"regression": True},
    },
]
PARAMS = """\
evaluate:
  max_new_tokens: 6
  batch_size: 3
  probes: evalsets/probes.jsonl
  generic: evalsets/generic.jsonl
  kl_prompts: evalsets/kl.jsonl
  kl_tokens: 4
"""
GENERIC = [
    {
        "id": f"g-{k}",
        "group": f"fam-{k % 2}",
        "prompt": f"What is {k} plus {k}?",
        "answer": f"{2 * k}.",
    }
    for k in range(1, 5)
]
KL = [{"id": "kl-1", "prompt": "Hello! How are you?"}, {"id": "kl-2", "prompt": "서울 날씨는?"}]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))


def make_adapter(base: Path, out: Path, seed: int) -> Path:
    """A LoRA adapter with random (non-zero) B matrices, saved with our template."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = template.apply(AutoTokenizer.from_pretrained(base), SYSTEM)
    torch.manual_seed(seed)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base),
        LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    )
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def models(tiny_base, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {
        "base": tiny_base,
        "adapter": make_adapter(tiny_base, root / "adapter", seed=1),
        "other": make_adapter(tiny_base, root / "other", seed=2),
    }


@pytest.fixture
def project(tmp_path, models, monkeypatch) -> Path:
    """A project folder laid out like the repo: params, split data, base, adapter, baseline marker."""
    (tmp_path / "params.yaml").write_text(PARAMS)
    write_jsonl(tmp_path / "data/training/current/test.jsonl", TEST)
    write_jsonl(tmp_path / "data/training/current/regression.jsonl", REGRESSION)
    write_jsonl(tmp_path / "evalsets/generic.jsonl", GENERIC)
    write_jsonl(tmp_path / "evalsets/kl.jsonl", KL)
    (tmp_path / "models").mkdir()
    (tmp_path / "models/base").symlink_to(models["base"])
    shutil.copytree(models["adapter"], tmp_path / "models/adapter")
    set_baseline(tmp_path, None)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def set_baseline(root: Path, adapter: Path | None) -> None:
    folder = root / "models/baseline"
    shutil.rmtree(folder, ignore_errors=True)
    if adapter is None:
        folder.mkdir(parents=True)
        kind = {"kind": "base", "tag": ""}
    else:
        shutil.copytree(adapter, folder)
        kind = {"kind": "adapter", "tag": "javis-v0.1"}
    (folder / loading.BASELINE_INFO).write_bytes(orjson.dumps(kind))


def run_evaluate() -> tuple[dict, list[dict], str]:
    """The stage as `python -m stages.evaluate` runs it in the cwd; its three files."""
    from stages import evaluate

    p = params.load()
    evaluate.main(p.evaluate, p.paths, p.persona, p.clean)
    result = orjson.loads(Path("metrics/eval.json").read_bytes())
    samples = [
        orjson.loads(line) for line in Path("metrics/eval_samples.jsonl").read_bytes().splitlines()
    ]
    return result, samples, Path("metrics/report.md").read_text()


# --- evaluate --------------------------------------------------------------------------------------


def test_evaluate_candidate_against_the_base(project):
    result, samples, report = run_evaluate()
    for side in ("candidate", "baseline", "delta"):
        for key in ("loss", "perplexity", "regression_chrf", "regression_loss", "kept_promises"):
            assert math.isfinite(result[side][key]), f"{side}.{key} is a number: {result[side]}"
    assert result["candidate"]["loss"] != pytest.approx(result["baseline"]["loss"]), "two models"
    assert result["delta"]["loss"] == pytest.approx(
        result["candidate"]["loss"] - result["baseline"]["loss"]
    ), "delta = candidate - baseline"
    assert result["baseline_source"] == "base", result["baseline_source"]
    assert "seconds" not in result, "no timings in metrics/eval.json (they are logged)"
    assert "| Loss on reference answers |" in report, report
    assert "**Forgetting**" in report, report


def test_items_not_conversations(project):
    """One item per final answer and one per assistant turn carrying tool_calls (cut before it)."""
    result, samples, _ = run_evaluate()
    ids = [(s["id"], s["set"]) for s in samples if s["set"] in ("test", "tool")]
    assert ids == [
        ("sft-en", "test"),
        ("sft-ko", "test"),
        ("sft-tool", "test"),
        ("sft-tool#call1", "tool"),
        ("sft-after-tool", "test"),
        ("sft-after-tool#call1", "tool"),
    ], ids
    by_id = {s["id"]: s for s in samples}
    cut = by_id["sft-after-tool#call1"]
    assert cut["prompt"] == TEST[3]["messages"][:1], "cut just before the tool-call turn"
    assert cut["expected_calls"] == [{"name": "get_weather", "arguments": {"city": "Seoul"}}]
    assert isinstance(cut["candidate"]["tool_ok"], bool), cut["candidate"]
    assert result["n"]["tool_call_accuracy"] == 2, result["n"]
    assert result["candidate"]["tool_calls_expected"] == 2, result["candidate"]
    assert by_id["sft-en"]["candidate"]["unwanted_call"] in (True, False), by_id["sft-en"]
    assert "unwanted_call" not in by_id["sft-tool"]["candidate"], "its reference calls a tool"
    # the final answer with a call and its tool item share one prompt: answered once
    assert (
        by_id["sft-tool"]["candidate"]["answer"] == by_id["sft-tool#call1"]["candidate"]["answer"]
    )


def test_every_line_carries_the_contract_keys_and_every_metric_its_n(project):
    from javis.data.records import group_key

    result, samples, _ = run_evaluate()
    for s in samples:
        for key in ("id", "set", "group", "prompt", "candidate", "baseline"):
            assert key in s, f"{s['id']} has {key}"
    assert len({s["id"] for s in samples}) == len(samples), "ids are unique"
    groups = {s["id"]: s["group"] for s in samples}
    assert groups["sft-en"] == group_key(TEST[0]), "the split's group key of the record"
    assert groups["sft-tool#call1"] == groups["sft-tool"], "a record's items share its group"
    assert groups["pref-1~para"] == groups["pref-1"], "a paraphrase shares its original's group"
    generic = [s for s in samples if s["set"] == "generic"]
    assert len(generic) == 4, generic
    assert all("base" in s for s in generic), "generic items are compared with the base"
    n = result["n"]
    for metric in (
        "loss",
        "tool_call_accuracy",
        "kept_promises",
        "persona_recall",
        "style",
        "language_match",
        "forgetting_kl",
        "forgetting_nll",
    ):
        assert isinstance(n[metric], int), f"n.{metric} in {n}"
    assert n["loss"] == 4, n
    assert n["kept_promises"] == 4, "2 corrections and their 2 paraphrases"
    assert n["forgetting_nll"] == 4, n
    assert n["forgetting_kl"] == 2, n
    f = result["forgetting"]
    assert set(f) >= {"kl_mean", "nll_delta_mean", "nll_delta_se", "n_kl", "n_nll"}, f
    assert f["kl_mean"] > 0, "a random adapter drifts from the base"
    assert math.isfinite(f["nll_delta_se"]), "two template families: a clustered SE"


def test_promises_are_checked_on_a_paraphrased_prompt_too(project):
    _, samples, _ = run_evaluate()
    para = next(s for s in samples if s["id"] == "pref-2~para")
    assert para["paraphrase"] is True, para
    assert para["of"] == "pref-2", para
    asked = para["prompt"][-1]["content"]
    assert asked != "너는 누구야?", "asked in other words"
    assert "너는 누구야?" in asked, "the rule frames the question"
    assert isinstance(para["candidate"]["kept"], bool), para["candidate"]
    assert isinstance(para["candidate"]["margin"], float), para["candidate"]


def test_identity_probes_come_from_the_probe_file(project):
    write_jsonl(
        project / "evalsets/probes.jsonl",
        [{"id": "p-en", "question": "Who are you?"}, {"id": "p-ko", "question": "너는 누구야?"}],
    )
    (project / "params.yaml").write_text(PARAMS + "persona:\n  name: JAVIS\n  aliases: [자비스]\n")
    result, samples, report = run_evaluate()
    probes = [s for s in samples if s["set"] == "persona"]
    assert [s["id"] for s in probes] == ["p-en", "p-ko"], probes
    assert probes[1]["prompt"] == [{"role": "user", "content": "너는 누구야?"}], probes[1]
    for side in ("candidate", "baseline"):
        named = [s[side]["named"] for s in probes]
        want = [names_persona(s[side]["answer"], ["JAVIS", "자비스"]) for s in probes]
        assert named == want, f"{side}: named by the negation-aware check"
        assert result[side]["persona_recall"] == sum(named) / 2, result[side]
    assert result["n"]["persona_recall"] == 2, result["n"]
    assert probes[0]["candidate"]["answer"] != probes[0]["baseline"]["answer"], "two models asked"
    assert "| Who are you? |" in report, report


def test_a_missing_probe_file_is_a_note_saying_what_it_means_for_the_gate(project, caplog):
    with caplog.at_level("WARNING", logger="javis.evaluate"):
        result, samples, report = run_evaluate()
    assert result["candidate"]["persona_recall"] is None, result["candidate"]
    assert result["n"]["persona_recall"] == 0, result["n"]
    assert not [s for s in samples if s["set"] == "persona"], "no probe items"
    note = next(x for x in result["notes"] if "identity probes" in x)
    assert "not enough evidence" in note, note
    assert "evalsets/probes.jsonl" in caplog.text, caplog.text


def test_no_tool_items_and_no_corrections_are_notes_not_passes(project):
    write_jsonl(project / "data/training/current/test.jsonl", TEST[:2])
    write_jsonl(project / "data/training/current/regression.jsonl", [])
    result, _, report = run_evaluate()
    assert result["n"]["tool_call_accuracy"] == 0, result["n"]
    assert result["candidate"]["tool_call_accuracy"] is None, "not measured, not a pass"
    assert result["n"]["kept_promises"] == 0, result["n"]
    notes = " | ".join(result["notes"])
    assert "no tool-call items" in notes, notes
    assert "no corrections" in notes, notes
    assert "not enough evidence" in report, report


def test_evaluate_with_an_adapter_baseline(project, models):
    """A baseline adapter sits beside the candidate; the same adapter as baseline ties everywhere."""
    set_baseline(project, models["other"])
    other, _, _ = run_evaluate()
    set_baseline(project, models["adapter"])
    same, samples, _ = run_evaluate()
    assert other["baseline"]["loss"] != pytest.approx(same["baseline"]["loss"]), "other adapter"
    assert other["candidate"]["loss"] == pytest.approx(same["candidate"]["loss"]), "same candidate"
    assert same["delta"]["loss"] == pytest.approx(0.0, abs=1e-6), same["delta"]
    assert same["delta"]["forgetting_kl"] == pytest.approx(0.0, abs=1e-6), same["delta"]
    answered = [s for s in samples if "answer" in s["candidate"]]
    assert all(s["candidate"]["answer"] == s["baseline"]["answer"] for s in answered), (
        "same answers"
    )


def test_the_baseline_scored_in_its_own_stage_is_reused(project, models, caplog):
    """stages/score_baseline.py writes metrics/baseline_scores.jsonl; evaluate reads it instead of
    rescoring, and gets the same numbers as when it scores the baseline itself."""
    from stages import score_baseline

    (project / "params.yaml").write_text(PARAMS + f"persona:\n  system_prompt: {SYSTEM}\n")
    set_baseline(project, models["other"])
    here, samples_here, _ = run_evaluate()
    p = params.load()
    score_baseline.main(p.evaluate, p.paths, p.persona)
    assert (project / "metrics/baseline_scores.jsonl").is_file(), "the stage's output"
    with caplog.at_level("INFO", logger="javis.evaluate"):
        cached, samples_cached, _ = run_evaluate()
    assert "the baseline is scored in this run" not in caplog.text, caplog.text
    for key in ("loss", "kept_promises", "forgetting_kl", "forgetting_nll_delta"):
        assert cached["baseline"][key] == pytest.approx(here["baseline"][key], rel=1e-4), key
    assert [s["baseline"].get("answer") for s in samples_cached] == [
        s["baseline"].get("answer") for s in samples_here
    ], "the same baseline answers"
    write_jsonl(project / "data/training/current/test.jsonl", TEST[:2])
    caplog.clear()
    with caplog.at_level("INFO", logger="javis.evaluate"):
        run_evaluate()
    assert "made for other items or another baseline" in caplog.text, "stale scores not reused"


def test_max_examples_samples_each_set(project):
    (project / "params.yaml").write_text(PARAMS + "  max_examples: 1\n")
    result, samples, _ = run_evaluate()
    assert result["n"]["test"] == 1, result["n"]
    assert result["n"]["regression"] == 1, result["n"]
    assert result["n"]["test_available"] == 4, result["n"]


def test_empty_test_split_is_an_error_naming_it(project):
    write_jsonl(project / "data/training/current/test.jsonl", [])
    with pytest.raises(SystemExit, match=r"test split data/training/current/test.jsonl is empty"):
        run_evaluate()
    p = params.load()
    with pytest.raises(
        eval_examples.EvalError, match=r"test split data/training/current/test.jsonl is empty"
    ):
        eval_examples.read_inputs(p.evaluate, p.paths)


def test_missing_adapter_is_an_error(project):
    shutil.rmtree(project / "models/adapter")
    with pytest.raises(SystemExit, match=r"no trained adapter in models/adapter.*dvc repro train"):
        run_evaluate()
    p = params.load()
    with pytest.raises(
        eval_examples.EvalError, match=r"no trained adapter in models/adapter.*dvc repro train"
    ):
        eval_examples.read_inputs(p.evaluate, p.paths)


def test_missing_baseline_is_an_error(project):
    shutil.rmtree(project / "models/baseline")
    with pytest.raises(SystemExit, match=r"javis_baseline.json is missing.*dvc repro baseline"):
        run_evaluate()
    p = params.load()
    with pytest.raises(
        eval_examples.EvalError, match=r"javis_baseline.json is missing.*dvc repro baseline"
    ):
        eval_examples.read_inputs(p.evaluate, p.paths)


# --- the loss on reference answers -----------------------------------------------------------------


@pytest.fixture(scope="module")
def candidate(models):
    return loading.load_adapter(models["base"], models["adapter"])


def encoded(tokenizer) -> list:
    examples = eval_examples.test_examples(TEST) + eval_examples.regression_examples(REGRESSION)
    for e in examples:
        eval_examples.encode(tokenizer, e)
    return examples


def test_encode_targets_exactly_the_reference_answer(candidate):
    _, tok = candidate
    examples = encoded(tok)
    assert tok.decode(examples[0].target_ids) == "I am fine, thank you.<|im_end|>"
    assert tok.decode(examples[1].prompt_ids).endswith(
        "무엇을 도와드릴까요?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert tok.decode(examples[2].target_ids).startswith('<tool_call>\n{"name": "get_weather"')
    assert (
        tok.decode(examples[6].target_ids)
        == "I am JAVIS, the personal assistant of Minjun Kim.<|im_end|>"
    )


def test_batched_reference_loss_equals_one_at_a_time_and_the_plain_forward(candidate):
    import torch

    model, tok = candidate
    examples = encoded(tok)
    batched = eval_runner.reference_losses(model, examples, tok.pad_token_id, batch_size=4)
    single = eval_runner.reference_losses(model, examples, tok.pad_token_id, batch_size=1)
    for (a, n), (b, m) in zip(batched, single, strict=True):
        assert n == m, "the same tokens are scored in any batch"
        assert a == pytest.approx(b, rel=1e-4), "and give the same loss"
    e = examples[1]
    ids = torch.tensor([e.prompt_ids + e.target_ids])
    labels = torch.full_like(ids, -100)
    labels[0, len(e.prompt_ids) :] = torch.tensor(e.target_ids)
    with torch.inference_mode():
        mean = model(input_ids=ids, labels=labels).loss.item()
    assert batched[1][0] / batched[1][1] == pytest.approx(mean, rel=1e-4)


# --- params (the baseline stage and its pin, data/baseline.json: tests/test_release_layer.py) ----


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"batch_size": 0}, "evaluate.batch_size: expected a positive number"),
        ({"max_examples": -1}, "evaluate.max_examples: expected >= 0"),
        ({"min_style_score": 6}, "evaluate.min_style_score: expected 1..5"),
        ({"baseline": ""}, "evaluate.baseline: expected previous, base or a release tag"),
        ({"max_new_tokens": "64"}, "evaluate.max_new_tokens: expected int, got str"),
        ({"baseline_commit": "abc"}, r"evaluate: unknown key\(s\) \['baseline_commit'\]"),
    ],
)
def test_evaluate_params_are_validated(values, message):
    from javis.core.params import Evaluate, ParamsError, build

    with pytest.raises(ParamsError, match=message):
        build(Evaluate, values, "evaluate")


def test_evaluate_shows_progress_per_batch_of_answers(project, caplog):
    """Evaluate was silent for ~90 s at a time: now a line per batch (batch_size 3 here) per side:
    9 distinct prompts (5 test and tool prompts, 2 corrections, 2 paraphrases)."""
    with caplog.at_level("INFO", logger="javis.evaluate"):
        run_evaluate()
    for side in ("candidate", "baseline"):
        for line in (f"evaluate {side}: 3/9 answers, ", f"evaluate {side}: 9/9 answers, "):
            assert line in caplog.text, f"{line!r} in the log: {caplog.text}"
        assert f"evaluate {side}: 4/4 reference losses" in caplog.text, caplog.text
    first = next(r.getMessage() for r in caplog.records if "3/9 answers" in r.getMessage())
    assert " left" in first, f"an unfinished step says the time left: {first}"
