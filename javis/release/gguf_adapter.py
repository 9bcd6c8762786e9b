"""A PEFT LoRA adapter as a llama.cpp GGUF adapter file, written in pure Python with `gguf`.

What llama.cpp reads (src/llama-adapter.cpp and convert_lora_to_gguf.py of the llama.cpp that the
pinned llama-cpp-python vendors): `general.type = adapter`, `general.architecture` equal to the
base's (`llama` for SmolLM2, `qwen2`), `adapter.type = lora`, `adapter.lora.alpha`; one pair of
tensors per adapted weight, `blk.N.attn_q.weight.lora_a` (PEFT's lora_A, shape [r, in] in numpy
order, ne = [in, r]) and `....lora_b` (lora_B, [out, r]). llama.cpp scales by alpha / r with r read
from lora_a's shape. The converter of a Llama-architecture base permutes the rows of q_proj and
k_proj (the rotary layout llama.cpp expects); the rows of W = B·A are B's rows, so lora_b of q and
k gets the same permutation. Qwen2 weights are not permuted.

PEFT scales each module by alpha/r (alpha/sqrt(r) with rsLoRA, and per-module values from
rank_pattern/alpha_pattern): where that differs from the file's one alpha over the tensor's rank,
the ratio is folded into lora_b, so llama.cpp computes the same delta. Tensors are written as f32,
in sorted order: the same adapter gives the same bytes. What llama.cpp cannot load is refused
before anything is written (javis/release/preflight.py).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from javis.core import fileio

# HF architecture -> (gguf architecture name, whether q/k rows are permuted like the converter does)
ARCHITECTURES = {
    "LlamaForCausalLM": ("llama", True),
    "Qwen2ForCausalLM": ("qwen2", False),
}
# PEFT module name (last part) -> the GGUF tensor inside blk.N (gguf-py's tensor_mapping.py)
MODULES = {
    "q_proj": "attn_q",
    "k_proj": "attn_k",
    "v_proj": "attn_v",
    "o_proj": "attn_output",
    "gate_proj": "ffn_gate",
    "up_proj": "ffn_up",
    "down_proj": "ffn_down",
}
MLP = ("gate_proj", "up_proj", "down_proj")
_KEY = re.compile(
    r"^base_model\.model\.model\.layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.lora_([AB])\.weight$"
)


class GGUFAdapterError(ValueError):
    """An adapter that cannot be written as a llama.cpp adapter; the message names the tensor."""


def permute(rows: Any, n_head: int, n_head_kv: int | None = None) -> Any:
    """llama.cpp's q/k row order for a Llama base (convert_hf_to_gguf's LlamaModel.permute):
    within each head, the two rotary halves interleaved."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    shape = rows.shape
    return (
        rows.reshape(n_head, 2, shape[0] // n_head // 2, *shape[1:]).swapaxes(1, 2).reshape(shape)
    )


def scaling(config: dict, module: str, rank: int) -> float:
    """PEFT's scale of `module` (its full name) at `rank`: alpha/r, alpha/sqrt(r) with rsLoRA."""
    alpha = float(config.get("lora_alpha", rank))
    for pattern, value in (config.get("alpha_pattern") or {}).items():
        if re.search(rf"(^|\.){pattern}$", module):
            alpha = float(value)
    return alpha / math.sqrt(rank) if config.get("use_rslora") else alpha / rank


def tensors(adapter_dir: Path, base_config: dict) -> tuple[dict[str, Any], dict]:
    """{gguf tensor name: float32 array} and a summary (alpha, ranks, folded modules)."""
    import numpy as np
    from safetensors.numpy import load_file

    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    arch = (base_config.get("architectures") or ["?"])[0]
    if arch not in ARCHITECTURES:
        raise GGUFAdapterError(
            f"base architecture {arch}: the GGUF adapter writer knows {sorted(ARCHITECTURES)}"
        )
    _, permuted = ARCHITECTURES[arch]
    n_head = base_config["num_attention_heads"]
    n_kv = base_config.get("num_key_value_heads", n_head)
    raw = load_file(str(adapter_dir / "adapter_model.safetensors"))
    pairs: dict[tuple[int, str], dict[str, Any]] = {}
    for key, value in raw.items():
        m = _KEY.match(key)
        if not m or m.group(2) not in MODULES:
            raise GGUFAdapterError(
                f"adapter tensor {key}: llama.cpp adapters hold LoRA pairs of {sorted(MODULES)} "
                "only; retrain with train.lora target modules among them"
            )
        pairs.setdefault((int(m.group(1)), m.group(2)), {})[m.group(3)] = value.astype(np.float32)
    alpha = float(config.get("lora_alpha", config.get("r", 8)))
    out: dict[str, Any] = {}
    ranks, folded = set(), []
    for (layer, module), ab in sorted(pairs.items()):
        if set(ab) != {"A", "B"}:
            raise GGUFAdapterError(f"layer {layer} {module}: lora_A or lora_B is missing")
        a, b = ab["A"], ab["B"]
        rank = a.shape[0]
        ranks.add(rank)
        full = f"model.layers.{layer}.{'mlp' if module in MLP else 'self_attn'}.{module}"
        ratio = scaling(config, full, rank) / (alpha / rank)
        if not math.isclose(ratio, 1.0, rel_tol=1e-9):
            b = b * np.float32(ratio)
            folded.append(full)
        if permuted and module == "q_proj":
            b = permute(b, n_head, n_head)
        elif permuted and module == "k_proj":
            b = permute(b, n_head, n_kv)
        name = f"blk.{layer}.{MODULES[module]}.weight"
        out[name + ".lora_a"] = np.ascontiguousarray(a)
        out[name + ".lora_b"] = np.ascontiguousarray(b)
    if not out:
        raise GGUFAdapterError(f"{adapter_dir}: the adapter holds no LoRA tensors")
    return out, {"alpha": alpha, "ranks": sorted(ranks), "folded": folded, "architecture": arch}


def write(adapter_dir: str | Path, base_dir: str | Path, out: str | Path, name: str = "") -> dict:
    """Write `adapter_dir` (a PEFT LoRA folder) for the base in `base_dir` (its config.json) as a
    GGUF adapter at `out`, atomically; returns the summary with the file's sha256 and size."""
    import gguf

    adapter_dir, out = Path(adapter_dir), Path(out)
    base_config = json.loads((Path(base_dir) / "config.json").read_text(encoding="utf-8"))
    arrays, summary = tensors(adapter_dir, base_config)
    arch_name = ARCHITECTURES[summary["architecture"]][0]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    writer = gguf.GGUFWriter(str(tmp), arch_name)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, summary["alpha"])
    if name:
        writer.add_name(name)
    for tensor_name, array in arrays.items():
        writer.add_tensor(tensor_name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(out)
    summary.update(tensors=len(arrays), sha256=fileio.sha256_file(out), bytes=out.stat().st_size)
    return summary
