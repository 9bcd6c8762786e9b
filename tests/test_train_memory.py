"""The training setup picked by hardware and the memory plan (javis/model/memory.py), as pure
functions over made-up hardware: a T4, an A100/4090, a CPU with and without AMX, no bitsandbytes."""

from __future__ import annotations

import pytest

from javis.model import memory

GB = memory.GB
A100 = memory.Hardware("cuda", "A100", 80 * GB, bf16=True, capability=(8, 0))
RTX4090 = memory.Hardware("cuda", "RTX 4090", 24 * GB, bf16=True, capability=(8, 9))
T4 = memory.Hardware("cuda", "Tesla T4", 15 * GB, bf16=False, capability=(7, 5))
AMX_CPU = memory.Hardware("cpu", "CPU (amx_bf16)", 24 * GB, bf16=True)
OLD_CPU = memory.Hardware("cpu", "CPU (no bf16)", 16 * GB, bf16=False)
NO_BNB = "bitsandbytes is not importable (ModuleNotFoundError: No module named 'bitsandbytes')"

QWEN25_7B = memory.ModelShape.from_config(
    {
        "hidden_size": 3584,
        "intermediate_size": 18944,
        "num_hidden_layers": 28,
        "num_attention_heads": 28,
        "num_key_value_heads": 4,
        "vocab_size": 152064,
        "tie_word_embeddings": False,
    }
)
SMOLLM2_135M = memory.ModelShape.from_config(
    {
        "hidden_size": 576,
        "intermediate_size": 1536,
        "num_hidden_layers": 30,
        "num_attention_heads": 9,
        "num_key_value_heads": 3,
        "vocab_size": 49152,
        "tie_word_embeddings": True,
    }
)


def choose(hw, quantize="none", precision="auto", ckpt="auto", optimizer="adamw"):
    return memory.choose(quantize, precision, ckpt, optimizer, hw)


def test_plain_lora_on_a_gpu_loads_the_base_in_bf16_and_checkpoints():
    s = choose(A100)
    assert s.compute == "bf16", s
    assert s.base_dtype == "bf16", "the frozen base in bf16 on a GPU (fp32 would double it)"
    assert s.lora_dtype == "fp32", "fp32 master weights under autocast"
    assert s.checkpointing is True, "checkpointing on for CUDA"
    assert s.optimizer == "adamw_torch", s


def test_a_gpu_without_bf16_gets_fp16():
    s = choose(T4)
    assert s.compute == "fp16", s
    assert s.base_dtype == "fp16", "the base in fp16 where bf16 is missing"
    with pytest.raises(memory.SetupError, match="has no bf16"):
        choose(T4, precision="bf16")


def test_qlora_is_nf4_with_the_compute_dtype_by_capability():
    a100 = choose(A100, quantize="4bit")
    assert a100.base_dtype == "nf4", a100
    assert a100.compute == "bf16", a100
    assert a100.lora_dtype == "bf16", "LoRA parameters in the compute dtype"
    assert a100.checkpointing is True, "checkpointing on for 4-bit"
    t4 = choose(T4, quantize="4bit")
    assert t4.compute == "fp16", "a T4 computes in fp16 (TRL would cast LoRA to bf16)"
    assert t4.lora_dtype == "fp32", "fp16 AMP's loss scaler needs fp32 trainable weights"


def test_cpu_keeps_fp32_weights_and_no_checkpointing_unless_qlora():
    amx = choose(AMX_CPU)
    assert amx.compute == "bf16", "AMX: bf16 autocast"
    assert amx.base_dtype == "fp32", "fp32 weights on a CPU"
    assert amx.checkpointing is False, "off on a CPU: the micro-batch bounds memory instead"
    old = choose(OLD_CPU)
    assert old.compute == "fp32", "no native bf16: fp32"
    assert choose(AMX_CPU, quantize="4bit").checkpointing is True, "on for 4-bit on a CPU too"
    assert choose(AMX_CPU, ckpt=True).checkpointing is True, "an explicit true wins"
    assert choose(A100, ckpt=False).checkpointing is False, "and an explicit false"
    with pytest.raises(memory.SetupError, match="fp16 trains only on a GPU"):
        choose(AMX_CPU, precision="fp16")


def test_missing_bitsandbytes_is_a_clear_message():
    hw = memory.Hardware("cuda", "A100", 80 * GB, bf16=True, bnb_problem=NO_BNB)
    with pytest.raises(memory.SetupError, match=r"train.quantize: 4bit needs bitsandbytes.*none"):
        choose(hw, quantize="4bit")
    with pytest.raises(memory.SetupError, match="paged_adamw_8bit needs bitsandbytes on a GPU"):
        choose(AMX_CPU, optimizer="paged_adamw_8bit")
    assert choose(A100, optimizer="paged_adamw_8bit").optimizer == "paged_adamw_8bit"


def test_the_shapes_count_the_real_parameters():
    assert abs(QWEN25_7B.params - 7.62e9) / 7.62e9 < 0.01, QWEN25_7B.params
    assert abs(SMOLLM2_135M.params - 134.5e6) / 134.5e6 < 0.01, SMOLLM2_135M.params
    # LoRA r=16 on every projection of Qwen2.5-7B: 40.4M parameters (PEFT's count)
    assert QWEN25_7B.lora_params(16, "all-linear") == 40_370_176
    assert QWEN25_7B.lora_params(16, ["q_proj", "v_proj"]) == 28 * 16 * (3584 * 2 + 3584 + 512)


def test_qwen25_7b_qlora_at_2k_tokens_fits_a_24gb_gpu():
    setup = choose(RTX4090, quantize="4bit")
    mp = memory.plan(
        QWEN25_7B,
        setup,
        lora_r=16,
        targets="all-linear",
        budget_gb=memory.default_budget_gb(RTX4090),
        effective_batch=8,
        longest=2048,
    )
    assert mp.problem is None, mp.problem
    assert 4.5 * GB < mp.weights_bytes < 6.5 * GB, "NF4 layers + bf16 embeddings and head"
    assert mp.micro_rows >= 1, mp.lines()
    assert mp.micro_rows * mp.accumulation == 8, "accumulation keeps the effective batch"
    assert mp.peak_bytes <= mp.budget_bytes, mp.lines()


def test_without_checkpointing_it_refuses_with_advice():
    setup = choose(RTX4090, quantize="4bit", ckpt=False)
    mp = memory.plan(
        QWEN25_7B,
        setup,
        lora_r=16,
        targets="all-linear",
        budget_gb=21.6,
        effective_batch=8,
        longest=4096,
    )
    assert mp.micro_rows == 0, mp.lines()
    assert "gradient_checkpointing: true" in (mp.problem or ""), mp.problem
    assert "train.max_length" in mp.problem, "and names the other knobs"


def test_bf16_lora_of_a_7b_needs_checkpointing_on_24gb_and_qlora_on_a_t4():
    kw = dict(lora_r=16, targets="all-linear", effective_batch=8, longest=2048)
    fits = memory.plan(QWEN25_7B, choose(RTX4090), budget_gb=21.6, **kw)
    assert fits.problem is None, "15.2 GB of bf16 weights + checkpointed activations fit"
    assert 14 * GB < fits.weights_bytes < 16 * GB, fits.lines()
    t4 = memory.plan(QWEN25_7B, choose(T4), budget_gb=memory.default_budget_gb(T4), **kw)
    assert t4.problem is not None, "a 15 GB T4 cannot hold 15 GB of fp16 weights"
    assert "train.quantize: 4bit" in t4.problem, t4.problem


def test_the_micro_batch_shrinks_with_the_budget_and_divides_the_batch():
    setup = choose(AMX_CPU)
    kw = dict(lora_r=16, targets="all-linear", effective_batch=8, longest=945)
    roomy = memory.plan(SMOLLM2_135M, setup, budget_gb=64, **kw)
    tight = memory.plan(SMOLLM2_135M, setup, budget_gb=4.0, **kw)
    capped = memory.plan(SMOLLM2_135M, setup, budget_gb=64, micro_tokens_cap=2048, **kw)
    assert roomy.micro_rows == 8, roomy.lines()
    assert 1 <= tight.micro_rows < 8, tight.lines()
    assert 8 % tight.micro_rows == 0, "a divisor: every step accumulates whole forwards"
    assert tight.micro_rows * tight.accumulation == 8, tight.lines()
    assert capped.micro_rows == 2, "the CPU token cap: 2 x 945 <= 2048"
    assert any("micro-batch" in line for line in tight.lines()), "the plan prints its choice"


def test_default_budget_is_a_safe_share():
    assert memory.default_budget_gb(AMX_CPU) == 4.0, "a quarter of a CPU machine's RAM, <= 4 GB"
    small = memory.Hardware("cpu", "CPU", 8 * GB)
    assert memory.default_budget_gb(small) == 2.0, "a quarter of an 8 GB machine"
    assert memory.default_budget_gb(RTX4090) == 21.6, "90% of a GPU"


@pytest.mark.parametrize("cap", [1, 500, 2048, 10_000])
def test_micro_batches_by_tokens_cover_every_row_within_the_cap(cap):
    lengths = [945, 12, 300, 300, 80, 81, 700, 5, 5, 5, 1200]
    batches = memory.micro_batches(lengths, cap)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(len(lengths))), "every row once"
    for b in batches:
        padded = len(b) * max(lengths[i] for i in b)
        assert len(b) == 1 or padded <= cap, f"batch {b} pads to {padded} > {cap}"
    rows_capped = memory.micro_batches(lengths, 10_000, max_rows=3)
    assert max(len(b) for b in rows_capped) == 3, "max_rows caps the rows"


def test_no_bitsandbytes_kernel_warning_when_the_libraries_load():
    """bitsandbytes warns at import on AVX512-BF16 CPUs that an optional hub kernel is missing
    (its own kernel is used); after our modules load, importing peft (which imports bitsandbytes)
    prints nothing of it."""
    import subprocess
    import sys

    from helpers import ROOT

    code = "import stages.train, peft, bitsandbytes"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "gemm_4bit_forward" not in done.stderr, done.stderr[-2000:]


def test_glibc_returns_freed_memory_where_it_can():
    import os
    import sys

    from javis.model import loading

    expected = sys.platform.startswith("linux") and "MALLOC_MMAP_THRESHOLD_" not in os.environ
    result = loading.return_freed_memory()
    assert result is expected, f"mallopt applied on Linux (unless the user set it): {result}"
