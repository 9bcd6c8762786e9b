"""`javis export`'s parts on tiny models made here: the GGUF adapter read back with
gguf.GGUFReader, merged weights vs base + adapter (Llama and Qwen2), and the preflight's refusals.
llama.cpp itself runs in tests/test_export_llamacpp.py (the bundled model, slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import make_base, make_qwen2, make_tokenizer

from javis.model import template
from javis.model.loading import BASE_INFO, TRAIN_INFO
from javis.release import export, gguf_adapter, preflight

MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def mark_base(base: Path, fingerprint: str = "files:tiny") -> Path:
    (base / BASE_INFO).write_text(json.dumps({"id": "tiny", "fingerprint": fingerprint}))
    return base


def make_adapter(base: Path, out: Path, fingerprint: str = "files:tiny", **lora) -> Path:
    """A LoRA adapter folder as stages/train.py leaves it: weights (random B, so it changes the
    output), our template, javis_train.json naming the base."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(base)
    kwargs = {"r": 4, "lora_alpha": 8, "target_modules": MODULES, "init_lora_weights": False}
    model = get_peft_model(model, LoraConfig(**(kwargs | lora)))
    model.save_pretrained(out)
    tok = template.apply(make_tokenizer(), "You are JAVIS.")
    tok.save_pretrained(out)
    (out / TRAIN_INFO).write_text(json.dumps({"base": {"id": "tiny", "fingerprint": fingerprint}}))
    return out


@pytest.fixture(scope="module", params=["llama", "qwen2"])
def pair(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    maker = make_base if request.param == "llama" else make_qwen2
    base = mark_base(maker(root / "base"))
    return request.param, base, make_adapter(base, root / "adapter")


def test_gguf_adapter_reads_back_with_names_shapes_alpha_and_rank(pair, tmp_path):
    import numpy as np
    from gguf import GGUFReader
    from safetensors.numpy import load_file

    arch, base, adapter = pair
    info = gguf_adapter.write(adapter, base, tmp_path / "a.gguf", name="javis-v0.1")
    reader = GGUFReader(tmp_path / "a.gguf")

    def field(key):
        f = reader.fields[key]
        return f.contents() if hasattr(f, "contents") else f.parts[f.data[0]]

    assert field("general.type") == "adapter", "general.type"
    assert field("general.architecture") == arch, "general.architecture"
    assert field("adapter.type") == "lora", "adapter.type"
    assert float(field("adapter.lora.alpha")) == 8.0, "adapter.lora.alpha"
    tensors = {t.name: t for t in reader.tensors}
    want = {
        f"blk.{layer}.{gguf_adapter.MODULES[m]}.weight.lora_{ab}"
        for layer in range(2)
        for m in MODULES
        for ab in "ab"
    }
    assert set(tensors) == want, f"tensor names: {sorted(set(tensors) ^ want)}"
    assert info["ranks"] == [4], f"rank recorded: {info['ranks']}"
    raw = load_file(str(adapter / "adapter_model.safetensors"))
    prefix = "base_model.model.model.layers.0."
    a = raw[prefix + "mlp.up_proj.lora_A.weight"]
    up_a = tensors["blk.0.ffn_up.weight.lora_a"]
    assert list(up_a.shape) == [a.shape[1], 4], f"lora_a ne = [in, r]: {list(up_a.shape)}"
    b = raw[prefix + "mlp.up_proj.lora_B.weight"]
    up_b = tensors["blk.0.ffn_up.weight.lora_b"]
    assert list(up_b.shape) == [4, b.shape[0]], f"lora_b ne = [r, out]: {list(up_b.shape)}"
    q_b = raw[prefix + "self_attn.q_proj.lora_B.weight"]
    stored = np.asarray(tensors["blk.0.attn_q.weight.lora_b"].data).reshape(q_b.shape)
    expected = gguf_adapter.permute(q_b, 4, 4) if arch == "llama" else q_b
    assert np.array_equal(stored, expected), f"{arch}: q lora_b rows as llama.cpp lays them out"


def test_the_same_adapter_gives_the_same_gguf_bytes(pair, tmp_path):
    _, base, adapter = pair
    one = gguf_adapter.write(adapter, base, tmp_path / "1.gguf")
    two = gguf_adapter.write(adapter, base, tmp_path / "2.gguf")
    assert one["sha256"] == two["sha256"], "two writes of one adapter differ"


def test_rslora_scale_is_folded_into_lora_b(tmp_path):
    import numpy as np
    from gguf import GGUFReader
    from safetensors.numpy import load_file

    base = mark_base(make_base(tmp_path / "base"))
    adapter = make_adapter(base, tmp_path / "adapter", use_rslora=True)
    gguf_adapter.write(adapter, base, tmp_path / "a.gguf")
    reader = GGUFReader(tmp_path / "a.gguf")
    stored = next(t for t in reader.tensors if t.name == "blk.1.ffn_down.weight.lora_b")
    b = load_file(str(adapter / "adapter_model.safetensors"))[
        "base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"
    ]
    ratio = (8 / 4**0.5) / (8 / 4)  # PEFT's alpha/sqrt(r) over llama.cpp's alpha/r
    got = np.asarray(stored.data).reshape(b.shape)
    assert np.allclose(got, b * ratio), "rsLoRA's scale folded into lora_b"


def test_merged_logits_equal_base_plus_adapter(pair, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    _, base, adapter = pair
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter)
    tok = AutoTokenizer.from_pretrained(adapter)
    diff = export.write_merged(model.eval(), tok, tmp_path / "merged", "float32")
    assert diff <= export.MERGE_TOLERANCE, f"merge changed the logits by {diff}"
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged").eval()
    fresh = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter).eval()
    bare = AutoModelForCausalLM.from_pretrained(base).eval()
    ids = torch.tensor([export.prompt_ids(tok, [[{"role": "user", "content": "Hello!"}]])[0]])
    with torch.inference_mode():
        want, got = fresh(input_ids=ids).logits, merged(input_ids=ids).logits
        plain = bare(input_ids=ids).logits
    gap = float((want - got).abs().max())
    assert gap <= export.MERGE_TOLERANCE, f"saved merged model vs base + adapter: {gap}"
    assert float((want - plain).abs().max()) > 10 * export.MERGE_TOLERANCE, "adapter is a no-op"
    config = GenerationConfig.from_pretrained(tmp_path / "merged")
    eos = tok.convert_tokens_to_ids(template.IM_END)
    assert config.eos_token_id == eos, f"generation_config eos {config.eos_token_id} != {eos}"
    saved = AutoTokenizer.from_pretrained(tmp_path / "merged")
    assert template.is_ours(saved), "the merged folder carries our chat template"


# --- the preflight ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def llama_base(tmp_path_factory):
    return mark_base(make_base(tmp_path_factory.mktemp("pf") / "base"))


def test_a_compatible_adapter_has_no_problems(llama_base, tmp_path):
    adapter = make_adapter(llama_base, tmp_path / "a")
    problems = preflight.check(adapter, "llama.cpp", llama_base)
    assert problems == [], f"unexpected problems: {problems}"


def test_lm_head_in_modules_to_save_is_refused_by_name(llama_base, tmp_path):
    adapter = make_adapter(llama_base, tmp_path / "a", modules_to_save=["lm_head"])
    fields = [p.field for p in preflight.check(adapter, "llama.cpp", llama_base)]
    assert fields == ["modules_to_save: lm_head"], f"problems: {fields}"


def test_a_module_llama_cpp_does_not_know_is_refused_by_name(llama_base, tmp_path):
    adapter = make_adapter(llama_base, tmp_path / "a", target_modules=["q_proj", "lm_head"])
    problems = preflight.check(adapter, "llama.cpp", llama_base)
    assert [p.field for p in problems] == ["target_modules: lm_head"], f"problems: {problems}"
    assert "q_proj" in problems[0].message, f"says what it supports: {problems[0].message}"


def test_the_gguf_writer_refuses_what_the_preflight_refuses(llama_base, tmp_path):
    adapter = make_adapter(llama_base, tmp_path / "a", target_modules=["q_proj", "lm_head"])
    with pytest.raises(gguf_adapter.GGUFAdapterError, match="lm_head"):
        gguf_adapter.write(adapter, llama_base, tmp_path / "a.gguf")


def test_an_adapter_of_another_base_is_refused(llama_base, tmp_path):
    adapter = make_adapter(llama_base, tmp_path / "a", fingerprint="gguf:0123456789abcdef")
    problems = preflight.check(adapter, None, llama_base)
    assert [p.field for p in problems] == ["base"], f"problems: {problems}"
    assert "0123456789abcdef" in problems[0].message, f"names both: {problems[0].message}"


def test_an_adapter_without_our_template_is_refused(llama_base, tmp_path):
    adapter = make_adapter(llama_base, tmp_path / "a")
    (adapter / "chat_template.jinja").unlink()
    fields = [p.field for p in preflight.check(adapter, None, llama_base)]
    assert fields == ["chat_template"], f"problems: {fields}"


def test_an_unknown_target_is_an_error(llama_base, tmp_path):
    adapter = make_adapter(llama_base, tmp_path / "a")
    with pytest.raises(ValueError, match="llama.cpp"):
        preflight.check(adapter, "ollama-cloud", llama_base)


def test_every_target_states_its_source():
    for name, target in preflight.TARGETS.items():
        assert target.source, f"{name}: no source for its lists"


def _peft(base: Path, adapter: Path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter)
    return model.eval(), AutoTokenizer.from_pretrained(adapter)


def test_a_model_that_never_stops_is_refused_with_its_prompts(llama_base, tmp_path):
    # a random tiny model rambles: greedy decoding never picks <|im_end|>
    model, tok = _peft(llama_base, make_adapter(llama_base, tmp_path / "a"))
    prompts = ["Who are you?", "서울 날씨 어때?"]
    problems, ran_on = preflight.check_stops(model, tok, prompts, max_new_tokens=12)
    assert ran_on == prompts, f"ran on: {ran_on}"
    assert [p.field for p in problems] == ["stops"], f"problems: {problems}"
    assert "서울 날씨 어때?" in problems[0].message, f"names the prompts: {problems[0].message}"


def test_a_model_that_stops_passes_the_stop_check(llama_base, tmp_path):
    import torch

    model, tok = _peft(llama_base, make_adapter(llama_base, tmp_path / "a"))
    eos = tok.convert_tokens_to_ids(template.IM_END)
    bias = torch.zeros(len(tok))
    bias[eos] = 1e4  # <|im_end|> the top token everywhere: it answers at once and stops
    model.get_output_embeddings().register_forward_hook(lambda mod, args, out: out + bias)
    problems, ran_on = preflight.check_stops(model, tok, ["Who are you?"], max_new_tokens=12)
    assert ran_on == [], f"ran on: {ran_on}"
    assert problems == [], f"problems: {problems}"


# --- the command, in a tiny project with a release ----------------------------------------------


@pytest.fixture(scope="module")
def tiny_release(tmp_path_factory, tiny_base):
    from helpers import javis, sh, tiny_project

    root = tmp_path_factory.mktemp("export_cli")
    repo = tiny_project(root / "repo", tiny_base)
    javis(repo, "init", "--remote", str(root / "store"))
    sh(repo, "git", "commit", "-qam", "remote")
    javis(repo, "release", "-m", "first version")
    return repo


def test_export_merged_writes_the_folder_records_it_and_repeats_byte_for_byte(tiny_release):
    import yaml
    from helpers import javis

    first = javis(tiny_release, "export", "javis-v0.1", "--to", "merged").stdout
    folder = tiny_release / "exports/javis-v0.1/merged"
    assert (folder / "generation_config.json").is_file(), f"no generation_config.json: {first}"
    meta = yaml.safe_load((tiny_release / "models/adapters/javis-v0.1/metadata.yaml").read_text())
    files = {f["file"] for f in meta["exports"]["merged"]["files"]}
    assert "model.safetensors" in files, f"recorded files: {files}"
    again = javis(tiny_release, "export", "v0.1", "--to", "merged").stdout
    assert "byte-identical" in again, f"second export: {again}"


def test_export_gguf_of_an_hf_base_says_how_to_convert_it(tiny_release):
    from helpers import javis

    out = javis(tiny_release, "export", "javis-v0.1", "--to", "gguf", check=False)
    assert out.returncode == 2, f"exit {out.returncode}: {out.stdout}{out.stderr}"
    assert "convert_hf_to_gguf.py" in out.stderr, f"no conversion command: {out.stderr}"


def test_export_current_with_nothing_deployed_says_what_to_do(tiny_release):
    from helpers import javis

    out = javis(tiny_release, "export", "current", "--to", "merged", check=False)
    assert "nothing is deployed" in out.stderr, f"message: {out.stderr}"


def test_a_release_that_never_stops_is_refused_before_the_gate(tmp_path, tiny_base):
    from helpers import javis, set_params, sh, tiny_project

    repo = tiny_project(tmp_path / "repo", tiny_base)
    set_params(repo, release={"stop_prompts": 2}, serve={"max_new_tokens": 8})
    sh(repo, "git", "commit", "-qam", "stop check on")
    javis(repo, "init", "--remote", str(tmp_path / "store"))
    sh(repo, "git", "commit", "-qam", "remote")
    out = javis(repo, "release", "-m", "rambles", check=False)
    assert out.returncode == 2, f"exit {out.returncode}: {out.stdout[-2000:]}"
    assert "no greedy answer ended with <|im_end|>" in out.stderr, f"message: {out.stderr}"
    assert "step 3/6" not in out.stdout, f"the gate ran: {out.stdout[-2000:]}"
    tags = sh(repo, "git", "tag", "--list").stdout.split()
    assert tags == [], f"tags after a refused release: {tags}"
