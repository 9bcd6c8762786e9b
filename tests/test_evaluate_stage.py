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
  persona_probes: []
"""


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
            assert math.isfinite(result[side][key]), (side, key)
    assert result["candidate"]["loss"] != pytest.approx(result["baseline"]["loss"])
    assert result["delta"]["loss"] == pytest.approx(
        result["candidate"]["loss"] - result["baseline"]["loss"]
    )
    # sft-tool; sft-after-tool answers in prose
    assert result["candidate"]["tool_calls_expected"] == 1, result["candidate"]
    assert result["n"]["test"] == 4, result["n"]
    assert result["n"]["regression"] == 2, result["n"]
    assert result["win_rate"]["n"] == 4, result["win_rate"]
    assert result["rule"] == "lower_loss_on_reference", result["rule"]
    assert result["baseline_source"] == "base"
    assert len(samples) == 6
    assert [s["id"] for s in samples] == [r["id"] for r in TEST] + [r["id"] for r in REGRESSION]
    tool = samples[2]
    assert (
        tool["reference"]
        == '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Seoul"}}\n</tool_call>'
    )
    assert {"answer", "loss", "tool_call"} <= set(tool["candidate"])
    assert samples[4]["original"] == "I am SmolLM.", samples[4]
    assert "kept" in samples[4]["baseline"], samples[4]
    assert "| Loss on reference answers |" in report, report
    assert "Win rate" in report, report


def test_identity_probes_are_asked_of_both_models(project):
    (project / "params.yaml").write_text(
        PARAMS.replace(
            "  persona_probes: []\n", '  persona_probes: ["Who are you?", "너는 누구야?"]\n'
        )
        + "persona:\n  name: JAVIS\n  aliases: [자비스]\n"
    )
    result, samples, report = run_evaluate()
    probes = [s for s in samples if s["set"] == "persona"]
    assert [s["id"] for s in probes] == ["persona-probe-01", "persona-probe-02"]
    assert probes[1]["prompt"] == [{"role": "user", "content": "너는 누구야?"}]
    for side in ("candidate", "baseline"):
        named = [s[side]["named"] for s in probes]
        assert named == [names_persona(s[side]["answer"], ["JAVIS", "자비스"]) for s in probes]
        assert result[side]["persona_probes"] == 2
        assert result[side]["persona_recall"] == sum(named) / 2
    assert probes[0]["candidate"]["answer"] != probes[0]["baseline"]["answer"]  # two models asked
    assert "## Who are you? (identity probes)" in report, report
    assert "| Who are you? |" in report, report


def test_without_probes_persona_recall_is_not_judged(project):
    result, samples, _ = run_evaluate()
    assert result["candidate"]["persona_recall"] is None, result["candidate"]
    assert result["delta"]["persona_recall"] is None, result["delta"]
    assert not [s for s in samples if s["set"] == "persona"]


def test_evaluate_with_an_adapter_baseline(project, models):
    """A baseline adapter sits beside the candidate; the same adapter as baseline ties everywhere."""
    set_baseline(project, models["other"])
    other, _, _ = run_evaluate()
    set_baseline(project, models["adapter"])
    same, samples, _ = run_evaluate()
    assert other["baseline"]["loss"] != pytest.approx(same["baseline"]["loss"])
    assert other["candidate"]["loss"] == pytest.approx(same["candidate"]["loss"])
    assert same["delta"]["loss"] == pytest.approx(0.0, abs=1e-6)
    assert same["win_rate"]["ties"] == 4, same["win_rate"]
    assert same["win_rate"]["rate"] == 0.5, same["win_rate"]
    assert all(s["candidate"]["answer"] == s["baseline"]["answer"] for s in samples)


def test_max_examples_samples_each_set(project):
    (project / "params.yaml").write_text(PARAMS + "  max_examples: 1\n")
    result, samples, _ = run_evaluate()
    assert result["n"]["test"] == 1, result["n"]
    assert result["n"]["regression"] == 1, result["n"]
    assert result["n"]["test_available"] == 4, result["n"]
    assert len(samples) == 2, samples


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
        tok.decode(examples[4].target_ids)
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
    """Evaluate was silent for ~90 s at a time: now a line per batch (batch_size 3 here) per side."""
    with caplog.at_level("INFO", logger="javis.evaluate"):
        run_evaluate()
    for side in ("candidate", "baseline"):
        for line in (f"evaluate {side}: 3/6 answers, ", f"evaluate {side}: 6/6 answers, "):
            assert line in caplog.text, f"{line!r} in the log: {caplog.text}"
        assert f"evaluate {side}: 6/6 reference losses" in caplog.text, caplog.text
    first = next(r.getMessage() for r in caplog.records if "3/6 answers" in r.getMessage())
    assert " left" in first, f"an unfinished step says the time left: {first}"
