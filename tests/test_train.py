"""stages/train.py and its library (javis/model/train_rows.py, train_plan.py, training.py, card.py)
on a tiny random Llama made in the test: LoRA, DPO/KTO on top, init_from, QLoRA, reproducibility,
resume, and the clear errors on bad input."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from javis.core import fileio, params
from javis.model import loading as jm
from javis.model import train_plan, train_rows, training
from javis.model.generation import generate_batch
from stages import train as T

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
SFT = [
    {
        "id": f"s{i}",
        "source": "examples",
        "meta": {},
        "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
    }
    for i, (q, a) in enumerate(
        [
            ("Who are you?", "I am JAVIS, Minjun's assistant."),
            ("너는 누구야?", "저는 민준님의 비서 JAVIS예요."),
            ("Hello!", "Hello! How can I help?"),
            ("What is 2+2?", "4."),
            ("Thanks", "You are welcome."),
        ]
    )
] + [
    {
        "id": "tool",
        "source": "examples",
        "meta": {},
        "tools": TOOLS,
        "messages": [
            {"role": "user", "content": "서울 날씨 어때?"},
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
            {"role": "tool", "content": '{"temp_c": 3}'},
            {"role": "assistant", "content": "3도예요."},
        ],
    },
    {
        "id": "no-answer",
        "source": "examples",
        "meta": {},
        "messages": [{"role": "user", "content": "hi"}],
    },
]
PREF = [
    {
        "id": f"p{i}",
        "source": "feedback",
        "prompt": [{"role": "user", "content": q}],
        "chosen": [{"role": "assistant", "content": "I am JAVIS."}],
        "rejected": [{"role": "assistant", "content": "I am SmolLM, made by Hugging Face."}],
    }
    for i, q in enumerate(["Who are you?", "Your name?", "Introduce yourself", "누구세요?"])
]
KTO = [
    {
        "id": f"k{i}",
        "source": "feedback",
        "prompt": [{"role": "user", "content": q}],
        "completion": [{"role": "assistant", "content": a}],
        "label": good,
    }
    for i, (q, a, good) in enumerate(
        [
            ("Who are you?", "I am JAVIS.", True),
            ("Your name?", "SmolLM.", False),
            ("Hi", "Hello!", True),
            ("누구?", "모르겠어요.", False),
        ]
    )
]


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )


def make_params(
    tmp: Path, base: Path, *, data: dict | None = None, out: str = "adapter", **train
) -> params.Params:
    """Params for a tiny run in `tmp`, with the split files written from `data`."""
    folder = tmp / "data"
    for name, records in (data if data is not None else {"train": SFT, "val": SFT[:2]}).items():
        write_jsonl(folder / train_rows.SPLIT_FILES[name], records)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {
        "epochs": 2.0,
        "batch_size": 4,
        "learning_rate": 1e-2,
        "logging_steps": 1,
        "save_steps": 1000,
        "threads": 1,
        "checkpoint_dir": str(tmp / "ckpt"),
        "live_dir": str(tmp / "live"),
    } | train
    return params.Params(
        sections={
            "paths": params.Paths(
                base=str(base),
                training=str(folder),
                adapter=str(tmp / out),
                init=str(tmp / "init"),
                metrics=str(tmp / "metrics"),
            ),
            "persona": params.Persona(name="JAVIS", system_prompt="You are JAVIS."),
            "base": params.Base(),
            "train": params.Train(**cfg),
        },
        raw={},
    )


def run_train(p: params.Params) -> dict:
    """The stage as `python -m stages.train` runs it, on `p`'s sections; its javis_train.json."""
    return T.main(p.train, p.paths, p.persona, p.base)


def plan_of(p: params.Params) -> train_plan.Plan:
    return train_plan.plan(p.train, p.paths, p.persona)


def state(model, pattern: str) -> dict:
    return {k: v.detach().clone().float() for k, v in model.named_parameters() if pattern in k}


def test_sft_trains_lora_and_leaves_base_weights(tmp_path, tiny_base):
    import torch
    from transformers import AutoModelForCausalLM

    p = make_params(tmp_path, tiny_base)
    pl = plan_of(p)
    assert len(pl.rows["train"]) == 6, "the record without an answer is not trained on"
    assert pl.acc.reasons == {"no_assistant_turn": 1}, "and it is counted with its reason"
    tok = jm.load_tokenizer(tiny_base, "You are JAVIS.")
    trainer, lengths, trained = training.sft_trainer(pl, tok, tmp_path / "run", None)
    before = state(trainer.model, "lora_")
    assert before, "the model has LoRA weights"
    zero = [k for k, v in before.items() if "lora_B" in k and torch.count_nonzero(v) != 0]
    assert zero == [], "a fresh LoRA starts with B = 0 (the model starts as the base)"
    trainer.train()
    after = state(trainer.model, "lora_")
    assert any(not torch.equal(before[k], after[k]) for k in before if "lora_B" in k)
    # Every label the trainer saw is an assistant token: the loss never sees prompts or padding.
    labelled = sum(sum(1 for t in row["labels"] if t != -100) for row in trainer.train_dataset)
    assert labelled == sum(trained), "labels are exactly the assistant tokens"
    assert sum(lengths) > 2 * labelled, "prompts are most of the tokens, and none is a label"
    fresh = AutoModelForCausalLM.from_pretrained(tiny_base)
    base_now = {
        k.replace("base_model.model.", "").replace(".base_layer", ""): v
        for k, v in state(trainer.model, "").items()
        if "lora_" not in k
    }
    for name, weight in fresh.named_parameters():
        assert torch.equal(base_now[name], weight.float()), name


def test_train_writes_adapter_card_metrics_and_plots(tmp_path, tiny_base):
    p = make_params(tmp_path, tiny_base)
    record = run_train(p)
    out = tmp_path / "adapter"
    for name in (
        "adapter_config.json",
        "adapter_model.safetensors",
        "tokenizer.json",
        "chat_template.jinja",
        "javis_train.json",
        "README.md",
    ):
        assert (out / name).is_file(), name
    saved = json.loads((out / "javis_train.json").read_text())
    assert saved["params"]["train"]["learning_rate"] == 1e-2, "the resolved params are recorded"
    assert saved["seed"] == 42, "the seed is recorded"
    assert saved["precision"] in ("bf16", "fp32"), saved["precision"]
    assert saved["precision_reason"], "the precision says why it was picked"
    assert saved["data"]["train"] == fileio.sha256_file(tmp_path / "data" / "train.jsonl")
    assert saved["sft"]["tokens_trained"] > 0, "trained tokens are counted"
    timed = [k for k in (*saved, *saved["sft"]) if "second" in k or k == "wall"]
    assert timed == [], f"no timings in the adapter's record (they are logged): {timed}"
    assert saved["setup"]["base_dtype"] == "fp32", "the setup picked by hardware is recorded"
    assert saved["memory"]["micro_rows"] >= 1, "and the memory plan"
    assert saved["template_sha256"], "the chat template's hash is recorded"
    assert record["run"] == saved["run"], "the stage returns what it wrote"
    card = (out / "README.md").read_text()
    assert "JAVIS adapter" in card, card
    imports = [
        line for line in card.split("```python\n")[1].splitlines() if line.startswith("from ")
    ]
    assert len(imports) == 2, (
        f"the card's example imports generate_batch and load_adapter: {imports}"
    )
    for line in imports:
        exec(line, {})  # the module paths the card names are real
    metrics = json.loads((tmp_path / "metrics" / "train.json").read_text())
    assert metrics["in"] == 7, metrics
    assert metrics["kept"] == 6, metrics
    assert metrics["rejected_by_reason"] == {"no_assistant_turn": 1}, metrics
    assert (tmp_path / "live" / "plots" / "metrics" / "sft" / "loss.tsv").is_file()
    assert not any((tmp_path / "ckpt").iterdir())  # a finished run leaves no checkpoints
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["r"] == 16, config
    assert config["peft_type"] == "LORA", config
    model, tok = jm.load_adapter(tiny_base, out)
    answers = generate_batch(
        model, tok, [[{"role": "user", "content": "Who are you?"}]], max_new_tokens=4
    )
    assert len(answers) == 1, "the saved adapter loads and answers"


def test_same_params_and_data_give_identical_adapter_bytes(tmp_path, tiny_base):
    a = make_params(tmp_path / "a", tiny_base, max_steps=3, lora_dropout=0.1)
    b = make_params(tmp_path / "b", tiny_base, max_steps=3, lora_dropout=0.1)
    run_train(a)
    run_train(b)
    first = (tmp_path / "a" / "adapter" / "adapter_model.safetensors").read_bytes()
    assert first == (tmp_path / "b" / "adapter" / "adapter_model.safetensors").read_bytes()
    c = make_params(tmp_path / "c", tiny_base, max_steps=3, lora_dropout=0.1, seed=7)
    run_train(c)
    assert first != (tmp_path / "c" / "adapter" / "adapter_model.safetensors").read_bytes()


def test_dpo_reference_is_the_sft_model_and_saved_adapter_reloads(tmp_path, tiny_base):
    import torch
    from peft import PeftModel
    from trl.trainer.utils import use_adapter

    p = make_params(
        tmp_path,
        tiny_base,
        method="sft+dpo",
        data={"train": SFT, "dpo": PREF},
        dpo=params.Preference(learning_rate=1e-2, epochs=2.0, batch_size=2),
        # fp32: a bf16 run leaves the trainer's model under bf16 autocast (accelerate wraps its
        # forward), so its logits would differ from the fp32 reload by bf16 rounding alone.
        precision="fp32",
    )
    pl = plan_of(p)
    tok = jm.load_tokenizer(tiny_base, "You are JAVIS.")
    run = tmp_path / "run"
    training.run_sft(pl, tok, run, None)
    trainer = training.preference_trainer(pl, tok, run, None)
    model = trainer.model
    assert set(model.peft_config) == {"default", "ref"}
    ids = tok.apply_chat_template(
        PREF[0]["prompt"] + PREF[0]["chosen"], tokenize=True, return_tensors="pt", return_dict=True
    )["input_ids"]
    sft = PeftModel.from_pretrained(jm.load_base(tiny_base), str(run / "sft_adapter")).eval()
    with torch.no_grad():
        sft_logits = sft(ids).logits
        model.eval()
        with use_adapter(model, adapter_name="ref"):
            ref_logits = model(ids).logits
        policy_logits = model(ids).logits
    assert torch.allclose(ref_logits, sft_logits, atol=1e-5)  # step 0: reference = SFT model
    assert torch.allclose(policy_logits, sft_logits, atol=1e-5)  # and the policy starts there too
    ref_before = state(model, ".ref.")
    model.train()
    trainer.train()
    assert all(torch.equal(v, state(model, ".ref.")[k]) for k, v in ref_before.items())  # frozen
    model.eval()
    with torch.no_grad():
        trained_logits = model(ids).logits
    assert not torch.allclose(trained_logits, sft_logits, atol=1e-4)
    model.save_pretrained(
        tmp_path / "adapter", selected_adapters=["default"]
    )  # as write_adapter does
    tok.save_pretrained(tmp_path / "adapter")
    assert not (tmp_path / "adapter" / "ref").exists()
    reloaded, _ = jm.load_adapter(tiny_base, tmp_path / "adapter")
    with torch.no_grad():
        assert torch.allclose(reloaded(ids).logits, trained_logits, atol=1e-5)


def test_kto_after_sft_runs(tmp_path, tiny_base):
    p = make_params(
        tmp_path,
        tiny_base,
        method="sft+kto",
        max_steps=2,
        data={"train": SFT, "kto": KTO},
        kto=params.Preference(learning_rate=1e-3, epochs=1.0, batch_size=2),
    )
    record = run_train(p)
    assert record["preference"]["kind"] == "kto", record["preference"]
    assert record["preference"]["steps"] == 2, record["preference"]
    adapter = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert adapter["peft_type"] == "LORA"


def test_init_from_starts_from_the_released_adapter(tmp_path, tiny_base):
    import torch
    from safetensors.torch import load_file

    run_train(make_params(tmp_path / "v1", tiny_base, max_steps=2))
    released = tmp_path / "v1" / "adapter"
    init = tmp_path / "v2" / "init"
    shutil.copytree(released, init)  # what the init stage materialises from the release tag
    p = make_params(tmp_path / "v2", tiny_base, init_from="javis-v0.1", max_steps=2)
    pl = plan_of(p)
    assert pl.init_dir == init
    tok = jm.load_tokenizer(tiny_base, "You are JAVIS.")
    trainer, _, _ = training.sft_trainer(pl, tok, tmp_path / "run", None)
    weights = load_file(released / "adapter_model.safetensors")
    start = {k.replace(".default", ""): v for k, v in state(trainer.model, "lora_").items()}
    assert weights, "the released adapter has weights"
    differ = [k for k, v in weights.items() if not torch.equal(start[k], v.float())]
    assert differ == [], "training starts from the released adapter's weights"
    record = run_train(p)
    want = fileio.sha256_file(released / "adapter_model.safetensors")
    assert record["init_adapter_sha256"] == want


def test_qlora_4bit_path_runs_on_cpu(tmp_path, tiny_base):
    if jm.bitsandbytes_problem():
        pytest.skip(f"bitsandbytes 4-bit unusable here: {jm.bitsandbytes_problem()}")
    record = run_train(
        make_params(
            tmp_path, tiny_base, quantize="4bit", max_steps=2, target_modules=["q_proj", "v_proj"]
        )
    )
    assert record["quantize"] == "4bit", record["quantize"]
    assert record["sft"]["steps"] == 2, record["sft"]
    model, _ = jm.load_adapter(tiny_base, tmp_path / "adapter", quantize="4bit")
    assert (
        "Linear4bit"
        in type(model.base_model.model.model.layers[0].self_attn.q_proj.base_layer).__name__
    )


def test_interrupted_run_resumes_from_its_checkpoint(tmp_path, tiny_base, monkeypatch, caplog):
    p = make_params(tmp_path, tiny_base, max_steps=4, save_steps=2, batch_size=2)
    real = training.LiveCallback

    def crashing(live, phase):
        from transformers import TrainerCallback

        class Crash(TrainerCallback):
            def on_save(self, args, state, control, **kw):
                raise KeyboardInterrupt("power cut")

        return Crash()

    monkeypatch.setattr(training, "LiveCallback", crashing)
    with pytest.raises(KeyboardInterrupt):
        run_train(p)
    assert list((tmp_path / "ckpt").glob("*/sft/checkpoint-2"))
    monkeypatch.setattr(training, "LiveCallback", real)
    with caplog.at_level("INFO", logger="javis.train"):
        record = run_train(p)
    assert record["sft"]["resumed_from"] == "checkpoint-2", record["sft"]
    assert record["sft"]["steps"] == 4, record["sft"]
    assert "resuming from" in caplog.text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("no_base", "paths.base: no base model"),
        ("empty_train", "has no trainable records"),
        ("no_pairs", "sft+dpo needs preference pairs"),
        ("no_bnb", "train.quantize: 4bit needs bitsandbytes"),
        ("missing_tag", "train.init_from: 'javis-v9.9' is not an adapter folder"),
        ("other_base", "train.init_from: the adapter in"),
    ],
)
def test_bad_input_stops_early_with_the_param_named(
    tmp_path, tiny_base, monkeypatch, change, message
):
    base, data, train = tiny_base, None, {}
    if change == "no_base":
        base = tmp_path / "nothing"
    elif change == "empty_train":
        data = {"train": [SFT[-1]]}
    elif change == "no_pairs":
        train = {"method": "sft+dpo"}
    elif change == "no_bnb":
        monkeypatch.setattr(
            jm, "bitsandbytes_problem", lambda: "bitsandbytes is not importable (ImportError)"
        )
        train = {"quantize": "4bit"}
    elif change == "missing_tag":
        train = {"init_from": "javis-v9.9"}
    elif change == "other_base":
        base = tmp_path / "base"
        shutil.copytree(tiny_base, base)
        (base / jm.BASE_INFO).write_text(json.dumps({"id": "tiny", "fingerprint": "files:aaaa"}))
        init = tmp_path / "init"
        init.mkdir()
        for name in jm.ADAPTER_FILES:
            (init / name).write_text("{}")
        (init / jm.TRAIN_INFO).write_text(
            json.dumps({"base": {"id": "other", "fingerprint": "files:bbbb"}})
        )
        train = {"init_from": "javis-v0.1"}
    p = make_params(tmp_path, base, data=data, **train)
    monkeypatch.setattr(
        jm, "load_base", lambda *a, **k: pytest.fail("loaded the model before checking inputs")
    )
    with pytest.raises(SystemExit, match=re.escape(message)):
        run_train(p)
    with pytest.raises(train_plan.TrainError, match=re.escape(message)):  # the library's own error
        plan_of(p)


def test_a_base_without_chatml_tokens_is_refused_before_training(tmp_path, tiny_base, monkeypatch):
    from javis.model import template

    def no_chatml(path, system_prompt=None):
        raise template.TemplateError("the base tokenizer has no ['<|im_start|>'] token(s)")

    monkeypatch.setattr(jm, "load_tokenizer", no_chatml)
    monkeypatch.setattr(
        jm, "load_base", lambda *a, **k: pytest.fail("loaded the model before the template check")
    )
    p = make_params(tmp_path, tiny_base)
    with pytest.raises(SystemExit, match=r"base.source: the base tokenizer has no"):
        run_train(p)
    with pytest.raises(train_plan.TrainError, match=r"base.source: the base tokenizer has no"):
        training.tokenizer_for(plan_of(p))  # the library's own error


def test_length_buckets_pad_little_and_keep_every_row():
    import random

    lengths = [random.Random(7).randint(20, 900) for _ in range(186)]
    order = train_rows.length_buckets(lengths, 8, seed=42)
    assert sorted(order) == list(range(186))  # a permutation: every row once
    assert order == train_rows.length_buckets(lengths, 8, seed=42), "the same seed, the same order"
    assert order != train_rows.length_buckets(lengths, 8, seed=43), "another seed, another order"
    batches = [order[k : k + 8] for k in range(0, 186, 8)]  # as a sequential data loader cuts them
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    assert padded / sum(lengths) < 1.1  # random batches of 8 pad about 2x here
    # 186 = 23 x 8 + 2, the short one last
    assert [len(b) for b in batches].count(2) == 1, "one short batch"
    assert len(batches[-1]) == 2, "the short batch comes last"
    ranks = {row: r for r, row in enumerate(sorted(range(186), key=lambda i: (lengths[i], i)))}
    for b in batches:  # every batch is one run of neighbours in length order, whatever the seed
        assert sorted(ranks[i] for i in b) == list(
            range(min(ranks[i] for i in b), min(ranks[i] for i in b) + len(b))
        )


# --- what a run shows: one progress display, no raw dicts, the last loss, a capped validation ----


def test_the_trainer_prints_no_raw_dicts(tmp_path, tiny_base, capfd, caplog):
    """HF's PrinterCallback printed `{'loss': '1.83', ...}` to stdout beside our progress lines."""
    p = make_params(tmp_path, tiny_base, max_steps=4, logging_steps=2)
    with caplog.at_level("INFO", logger="javis.train"):
        run_train(p)
    out, err = capfd.readouterr()
    assert "'loss'" not in out, f"a raw log dict on stdout: {out!r}"
    assert "'loss'" not in err, f"a raw log dict on stderr: {err!r}"
    assert out == "", f"a training prints nothing to stdout: {out!r}"
    assert "train sft: 2/4 steps, loss " in caplog.text, f"our own progress line: {caplog.text}"
    pl = plan_of(p)
    tok = jm.load_tokenizer(tiny_base, "You are JAVIS.")
    trainer, _, _ = training.sft_trainer(pl, tok, tmp_path / "run", None)
    names = [type(c).__name__ for c in trainer.callback_handler.callbacks]
    assert "PrinterCallback" not in names, f"the dict printer is removed: {names}"
    assert "ProgressCallback" not in names, f"the tqdm bar is removed: {names}"


def test_the_last_loss_is_logged_with_fewer_steps_than_logging_steps(tmp_path, tiny_base, caplog):
    p = make_params(tmp_path, tiny_base, max_steps=3, logging_steps=5)
    with caplog.at_level("INFO", logger="javis.train"):
        record = run_train(p)
    assert record["sft"]["final_loss"] is not None, f"3 steps < logging_steps 5: {record['sft']}"
    assert "train sft: 3/3 steps, loss " in caplog.text, f"the last step's line: {caplog.text}"
    assert "loss None" not in caplog.text, f"no `loss None` in the summary: {caplog.text}"
    curve = (tmp_path / "live" / "plots" / "metrics" / "sft" / "loss.tsv").read_text()
    assert len(curve.strip().splitlines()) == 2, f"one point (step 3) on the loss curve: {curve}"


@pytest.mark.parametrize(("limit", "used"), [(2, 2), (0, 5), (64, 5)])
def test_max_val_examples_caps_the_validation_set(tmp_path, tiny_base, caplog, limit, used):
    val = SFT[:5]
    p = make_params(
        tmp_path, tiny_base, data={"train": SFT, "val": val}, max_steps=2, max_val_examples=limit
    )
    questions = [r["messages"][0]["content"] for r in val]

    def sampled() -> list[str]:
        return [r["messages"][0]["content"] for r in plan_of(p).rows["val"]]

    picked = sampled()
    assert len(picked) == used, f"max_val_examples {limit} of 5: {picked}"
    assert picked == [q for q in questions if q in picked], f"a sample, in file order: {picked}"
    assert picked == sampled(), "the same sample every time (drawn with the train seed)"
    with caplog.at_level("INFO", logger="javis.train"):
        record = run_train(p)
    assert record["validation"] == {"records": used, "available": 5}, record["validation"]
    assert f"validation loss {record['sft']['eval_loss']:.4f} on {used} records" in caplog.text, (
        f"the trainer validated on the capped set: {caplog.text}"
    )


# --- the memory plan and the setup, through the stage ------------------------------------------


def test_a_budget_too_small_is_refused_with_advice_before_the_model_loads(
    tmp_path, tiny_base, monkeypatch
):
    monkeypatch.setattr(
        jm, "load_base", lambda *a, **k: pytest.fail("loaded the model before the memory plan")
    )
    p = make_params(tmp_path, tiny_base, max_memory_gb=0.5)
    with pytest.raises(SystemExit, match=r"train.max_memory_gb: 0.5 GB cannot hold one") as e:
        run_train(p)
    assert "train.max_length" in str(e.value), f"the advice names what to change: {e.value}"


def test_auto_checkpointing_turns_on_when_a_row_fits_only_with_it(tmp_path, tiny_base):
    """fp32 on a CPU without bf16: the demo's longest row did not fit 4 GB without checkpointing
    (2.81 GB of activations), and `auto` kept it off and refused; it now turns it on."""
    import dataclasses

    from javis.model import memory

    tok = jm.load_tokenizer(tiny_base, "You are JAVIS.")
    roomy = training.plan_memory(plan_of(make_params(tmp_path / "a", tiny_base)), tok)
    pl = plan_of(make_params(tmp_path / "b", tiny_base))
    shape = memory.ModelShape.from_config(json.loads((tiny_base / "config.json").read_text()))
    on = dataclasses.replace(pl.setup, checkpointing=True)
    per_token_on = shape.activation_bytes_per_token(on, 16) * memory.PEAK_FACTOR
    fixed = roomy.weights_bytes + roomy.lora_bytes + roomy.overhead_bytes
    between = fixed + roomy.longest * (roomy.per_token_bytes + per_token_on) / 2
    tight = {"max_memory_gb": between / memory.GB, "batch_size": 1}
    pl = plan_of(make_params(tmp_path / "c", tiny_base, **tight))
    training.plan_memory(pl, tok)
    assert pl.setup.checkpointing, pl.setup
    assert pl.setup.reasons["checkpointing"].startswith("on (auto)"), pl.setup.reasons
    off = plan_of(make_params(tmp_path / "d", tiny_base, gradient_checkpointing=False, **tight))
    with pytest.raises(train_plan.TrainError, match="cannot hold one"):
        training.plan_memory(off, tok)


def test_missing_bitsandbytes_stops_qlora_before_any_long_work(tmp_path, tiny_base, monkeypatch):
    monkeypatch.setattr(jm, "bitsandbytes_problem", lambda: "bitsandbytes is not importable")
    monkeypatch.setattr(
        jm, "load_base", lambda *a, **k: pytest.fail("loaded the model despite no bitsandbytes")
    )
    p = make_params(tmp_path, tiny_base, quantize="4bit")
    with pytest.raises(
        SystemExit, match=r"train.quantize: 4bit needs bitsandbytes.*not importable"
    ):
        run_train(p)


def test_micro_batches_are_sized_by_tokens_and_add_up_to_the_step(tmp_path, tiny_base):
    """A budget that holds 1.5 of the longest rows per forward: each step's 4 rows (one data
    loader batch) run as several forwards of at most the plan's tokens, short rows together, and
    the losses and the adapter equal a run whose budget holds the whole step in one forward."""
    import torch

    p = make_params(tmp_path / "roomy", tiny_base, max_steps=2, batch_size=4)
    tok = jm.load_tokenizer(tiny_base, "You are JAVIS.")
    pl = plan_of(p)
    pl.micro_batches = "tokens"  # a GPU's default (a CPU's: rows)
    mp = training.plan_memory(pl, tok)
    assert mp.micro_rows == 4, "the tiny model fits the whole batch in one forward"
    tight = (
        mp.weights_bytes
        + mp.lora_bytes
        + mp.overhead_bytes
        + mp.per_token_bytes * (1.5 * mp.longest)
    )
    p2 = make_params(tmp_path / "tight", tiny_base, max_steps=2, batch_size=4,
                     max_memory_gb=tight / 2**30)  # fmt: skip
    pl2 = plan_of(p2)
    pl2.micro_batches = "tokens"  # a GPU's default (a CPU's: rows)
    mp2 = training.plan_memory(pl2, tok)
    assert (mp2.micro_rows, mp2.accumulation) == (1, 4), "the longest rows go one at a time"
    assert mp.longest <= mp2.max_tokens < 2 * mp.longest, mp2.lines()
    assert any("micro-batches of up to" in line for line in mp2.lines()), mp2.lines()

    runs = {}
    for name, plan in (("roomy", pl), ("tight", pl2)):
        trainer, _, _ = training.sft_trainer(plan, tok, tmp_path / name / "run", None)
        forwards: list[tuple[int, int]] = []
        compute = trainer.compute_loss

        def counted(model, inputs, *a, compute=compute, forwards=forwards, **k):
            if model.training:
                forwards.append(tuple(inputs["input_ids"].shape))
            return compute(model, inputs, *a, **k)

        trainer.compute_loss = counted
        assert trainer.args.per_device_train_batch_size == 4, "the loader yields whole steps"
        assert trainer.args.gradient_accumulation_steps == 1
        trainer.train()
        assert trainer.state.global_step == 2, "the steps are optimizer steps"
        losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
        lora = {k: v.detach().clone() for k, v in trainer.model.named_parameters() if "lora_" in k}
        runs[name] = (forwards, losses, lora)
    roomy, tight_run = runs["roomy"], runs["tight"]
    assert len(roomy[0]) == 2, f"one forward per step with room: {roomy[0]}"
    assert len(tight_run[0]) > 2, f"the tight budget splits the steps: {tight_run[0]}"
    assert sum(r for r, _ in tight_run[0]) == len(pl2.rows["train"]), "2 steps = the 6 rows, once"
    for rows, width in tight_run[0]:
        assert rows * width <= mp2.max_tokens or rows == 1, (rows, width, mp2.max_tokens)
    assert any(r > 1 for r, _ in tight_run[0]), f"short rows share a forward: {tight_run[0]}"
    # The logged loss of a step is the sum over its forwards: a forward normalised by its own
    # tokens instead of the step's would change step 1's figure, a wrong gradient step 2's.
    assert tight_run[1] == pytest.approx(roomy[1], rel=1e-5), "the same loss per step"
    for k, v in roomy[2].items():  # AdamW at lr 1e-2 moves each weight ~1e-2 per step
        torch.testing.assert_close(tight_run[2][k], v, rtol=0, atol=1e-3)


def test_step_micro_batches_keep_every_row_and_can_match_another_ranks_count():
    from javis.model import memory

    lengths = [100, 30, 28, 25, 90, 10]
    batches = memory.step_micro_batches(lengths, max_tokens=120)
    assert sorted(i for b in batches for i in b) == list(range(6))
    for b in batches:
        assert len(b) * max(lengths[i] for i in b) <= 120 or len(b) == 1, b
    assert len(batches) == 3, batches  # [100], [90], [30, 28, 25, 10]
    more = memory.step_micro_batches(lengths, max_tokens=120, at_least=5)
    assert len(more) == 5, more
    assert sorted(i for b in more for i in b) == list(range(6)), more
    assert len(memory.step_micro_batches(lengths, 120, at_least=9)) == 6, "never more than rows"


def test_a_cpu_keeps_the_fixed_micro_batch_by_default(tmp_path, tiny_base):
    """auto: rows on a CPU (token-sized forwards peaked above the plan there), tokens on a GPU."""
    p = make_params(tmp_path, tiny_base, max_steps=1, batch_size=4)
    pl = plan_of(p)
    tok = jm.load_tokenizer(tiny_base, "You are JAVIS.")
    mp = training.plan_memory(pl, tok)
    trainer, _, _ = training.sft_trainer(pl, tok, tmp_path / "run", None)
    assert pl.micro_batches == "auto"
    assert pl.device == "cpu"
    assert trainer.args.per_device_train_batch_size == mp.micro_rows
    assert trainer.args.gradient_accumulation_steps == mp.accumulation
    assert type(trainer).__name__ == "SFTTrainer", type(trainer).__name__
    assert any("micro-batch 4 rows x 1 accumulation" in line for line in mp.lines()), mp.lines()
    assert mp.record()["micro_batches"] == "rows"
