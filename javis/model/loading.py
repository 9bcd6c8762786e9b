"""Loading the base, the tokenizer and adapters: the device, the precision and the base checks.

What the `base`, `train` and `evaluate` stages (and `javis chat`) share about loading models:

- `pick_precision()`: bf16 where the hardware does it natively, fp32 elsewhere, with the reason.
- `load_tokenizer(path, system_prompt)`: the tokenizer with our chat template
  (javis/model/template.py).
- `load_base(path, quantize=None|"4bit", precision="fp32"|"bf16")`: a plain HF folder -> model.
- `load_adapter(base_path, adapter_path)`: base + a trained adapter and its own tokenizer/template,
  after checking the adapter was trained on this base.
- the marker files beside weights (BASE_INFO, TRAIN_INFO, BASELINE_INFO, INIT_INFO), `read_info`,
  and `check_adapter_base` (an adapter only loads on the base it was trained on).

Generation is javis/model/generation.py, the loss javis/model/loss.py. torch/transformers/peft are
imported inside functions, so `import javis.model.loading` is cheap and a stage that fails on bad
params fails in well under a second.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from javis.model import template

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

# OpenMP threads that sleep instead of spinning when they wait: on a busy machine (CI, several jobs
# on 2 cores) spinning threads wait for a descheduled sibling at every parallel region. Measured on
# 2 shared cores (load ~5): SmolLM2-135M greedy decoding 8x faster, LoRA training 2x faster; set
# before torch is imported (OpenMP reads it once), and never over the user's own setting.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def return_freed_memory(threshold: int = 1 << 20) -> bool:
    """Ask glibc to serve every allocation of `threshold` bytes or more with its own mmap and to
    give freed memory back (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD). By default glibc raises its mmap
    threshold each time a large block is freed (up to 32 MB), after which a step's activations come
    from heap arenas that never shrink: measured on the demo's longest micro-batch (2 x 945 tokens,
    SmolLM2-135M), peak RSS 5.67 GB -> 4.73 GB and 3.9 -> 1.2 GB after the backward. False where
    there is no glibc (macOS, musl) or the user set MALLOC_MMAP_THRESHOLD_ themselves.

    The train stage calls it; inference does not: there every decoding step grows each layer's
    key/value cache by a copy of a few MB (`torch.cat`), which a fresh mmap per copy made 2x
    slower (SmolLM2-135M, batch 16, 400-token context: 200 -> 133 ms per step)."""
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux") or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        return bool(libc.mallopt(m_mmap_threshold, threshold)) and bool(
            libc.mallopt(m_trim_threshold, threshold)
        )
    except (OSError, AttributeError):
        return False


BASE_INFO = "javis_base.json"  # written by stages/base.py beside the weights
TRAIN_INFO = "javis_train.json"  # written by stages/train.py beside the adapter
BASELINE_INFO = "javis_baseline.json"  # written by stages/baseline.py into models/baseline/
INIT_INFO = "javis_init.json"  # written by stages/init.py into models/init/
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


class ModelError(RuntimeError):
    """A model folder is missing, incomplete or incompatible; the message says what to do."""


# --- what the libraries print -----------------------------------------------------------------

# Libraries whose FutureWarnings/DeprecationWarnings are theirs to act on, not the user's (e.g.
# transformers' `is_gradient_checkpointing` deprecation, raised when peft and TRL read it).
LIBRARIES = ("transformers", "trl", "peft", "accelerate", "datasets", "torch", "bitsandbytes")
# bitsandbytes (0.50) tries an optional faster CPU kernel from the HF hub (the `kernels` package)
# at import on every AVX512-BF16 CPU and warns when it is not installed; its own kernel is used.
BNB_KERNEL_MESSAGE = "Failed to load CPU gemm_4bit_forward from kernels-community"


class _DropMessages(logging.Filter):
    """Drop log records whose message starts with one of `starts`."""

    def __init__(self, *starts: str) -> None:
        super().__init__()
        self.starts = starts

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.starts)


_BNB_FILTER = _DropMessages(BNB_KERNEL_MESSAGE)


def quiet_libraries() -> None:
    """Silence what the ML libraries print that reads like an error but is not: bitsandbytes'
    optional-kernel warning and the libraries' own FutureWarnings/DeprecationWarnings (raised in
    their modules: a deprecated call in javis still warns). Their errors, their other warnings and
    ours still print. Idempotent; run at import and again by the stages (pytest resets warning
    filters per test)."""
    logging.getLogger("bitsandbytes.backends.cpu.ops").addFilter(_BNB_FILTER)
    pattern = rf"({'|'.join(LIBRARIES)})(\..*)?$"
    for category in (FutureWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category, module=pattern)


def hide_library_progress_bars() -> None:
    """Turn off the HF libraries' own progress bars ("Loading weights", "Writing model shards",
    "Tokenizing train dataset", downloads): a stage shows one display of its own
    (javis/core/progress.py). Through their environment variables when they are not loaded yet
    (importing them costs seconds), through their switches when they are."""
    import importlib
    import sys

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # transformers follows it
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    for module, switch in (
        ("huggingface_hub.utils", "disable_progress_bars"),
        ("transformers.utils.logging", "disable_progress_bar"),
        ("datasets.utils.tqdm", "disable_progress_bars"),
    ):
        if module.split(".")[0] in sys.modules:
            getattr(importlib.import_module(module), switch)()


quiet_libraries()


# --- hardware -------------------------------------------------------------------------------


def device() -> str:
    """ "cuda" when a GPU is visible, else "cpu"."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def pick_precision(dev: str | None = None) -> tuple[str, str]:
    """("bf16" | "fp32", why): bf16 where the hardware computes it natively, fp32 elsewhere.

    CUDA: bf16 when the GPU supports it (Ampere+). CPU: bf16 with AMX or AVX512-BF16 (autocast
    then runs oneDNN bf16 kernels, 1.5x faster than fp32 on an AMX CPU); without them bf16 is
    emulated and slower than fp32.
    """
    import torch

    dev = dev or device()
    if dev == "cuda":
        name = torch.cuda.get_device_name(0)
        if torch.cuda.is_bf16_supported():
            return "bf16", f"CUDA device {name} supports bf16"
        return "fp32", f"CUDA device {name} has no bf16"
    flags = cpu_flags()
    found = [f for f in BF16_CPU_FLAGS if f in flags]
    if found:
        return "bf16", f"CPU has {'+'.join(found)} (native bf16 matmul)"
    return "fp32", f"CPU has none of {'/'.join(BF16_CPU_FLAGS)}: bf16 would be emulated (slower)"


def cpu_flags() -> set[str]:
    """The CPU feature flags from /proc/cpuinfo (empty where there is none, e.g. macOS)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def torch_dtype(precision: str) -> torch.dtype:
    import torch

    try:
        return {"bf16": torch.bfloat16, "fp32": torch.float32, "fp16": torch.float16}[precision]
    except KeyError:
        raise ValueError(f"precision: expected bf16, fp32 or fp16, got {precision!r}") from None


def set_determinism(seed: int, threads: int = 0) -> None:
    """Seed every RNG, fix the thread count (0 = leave as is) and ask torch for deterministic kernels.

    On CPU this makes two runs with the same params and data produce identical bytes.
    """
    import torch
    from transformers import set_seed

    if threads > 0:
        torch.set_num_threads(threads)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    set_seed(seed, deterministic=False)  # deterministic=True also sets flags TRL/transformers reset


def bitsandbytes_problem() -> str | None:
    """Why 4-bit (NF4) loading cannot work here, or None when bitsandbytes is usable."""
    try:
        import bitsandbytes  # noqa: F401
        import torch
        from bitsandbytes.functional import dequantize_4bit, quantize_4bit
    except Exception as e:  # ImportError, or a broken native library raising anything
        return f"bitsandbytes is not importable ({type(e).__name__}: {e})"
    try:
        x = torch.randn(64, 64, device=device())
        q, state = quantize_4bit(x, quant_type="nf4")
        y = dequantize_4bit(q, state)
        if (y.float() - x).abs().mean() > 0.2:
            return "bitsandbytes NF4 round trip is wrong on this device"
    except Exception as e:
        return f"bitsandbytes 4-bit does not run on {device()} ({type(e).__name__}: {e})"
    return None


# --- folders ----------------------------------------------------------------------------------


def check_base_folder(path: str | Path, param: str = "paths.base") -> None:
    """Raise ModelError unless `path` is a model folder (config.json and weights)."""
    p = Path(path)
    if not (p / "config.json").is_file():
        raise ModelError(
            f"{param}: no base model at {p} (no config.json); run `dvc repro base` "
            "(stages/base.py builds it there from params base.source)"
        )
    if not any(p.glob("*.safetensors")) and not any(p.glob("*.bin")):
        raise ModelError(f"{param}: {p} has config.json but no weights; rerun `dvc repro base`")


def read_info(folder: str | Path, name: str) -> dict:
    """A javis_*.json beside weights, or {} when there is none."""
    p = Path(folder) / name
    if not p.is_file():
        return {}
    return json.loads(p.read_text(encoding="utf-8"))


def base_fingerprint(base_path: str | Path) -> str | None:
    """The identity of a base folder (from javis_base.json), or None when it has no record."""
    return read_info(base_path, BASE_INFO).get("fingerprint")


def check_adapter_base(adapter_path: str | Path, base_path: str | Path, param: str) -> None:
    """Raise ModelError when the adapter at `adapter_path` was trained on another base."""
    trained = read_info(adapter_path, TRAIN_INFO).get("base", {})
    want, have = trained.get("fingerprint"), base_fingerprint(base_path)
    if want and have and want != have:
        raise ModelError(
            f"{param}: the adapter in {adapter_path} was trained on base {trained.get('id')!r} "
            f"(fingerprint {want[:12]}), but {base_path} holds {read_info(base_path, BASE_INFO).get('id')!r} "
            f"({have[:12]}); an adapter only fits its own base: retrain from scratch (train.init_from: '') "
            "or set base.* back to the adapter's base"
        )


def count_parameters(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


# --- loading ----------------------------------------------------------------------------------


def model_type(path: str | Path) -> str | None:
    """The `model_type` in a model folder's config.json (None without one)."""
    p = Path(path) / "config.json"
    try:
        return json.loads(p.read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError):
        return None


def load_tokenizer(path: str | Path, system_prompt: str | None = None) -> Any:
    """The tokenizer in `path`, with our chat template installed: Qwen2.5's training format for a
    Qwen2 base (config.json `model_type` qwen2), ours (ChatML) for the others
    (javis/model/template.py).

    `system_prompt=None` keeps the template saved in `path` (an adapter folder: its persona), and
    raises ModelError when that template is not ours.
    """
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path))
    if system_prompt is not None:
        template.apply(tok, system_prompt, template.family(model_type(path)))
    elif not template.is_ours(tok):
        raise ModelError(
            f"{path}: the tokenizer has no javis chat template; the adapter folder must come from "
            "stages/train.py (it saves the template), or pass the persona's system prompt"
        )
    tok.padding_side = "right"
    return tok


def deepspeed_launched() -> bool:
    """Whether `accelerate launch` runs this process under DeepSpeed (its launcher says so in the
    environment)."""
    return os.environ.get("ACCELERATE_USE_DEEPSPEED", "").lower() == "true"


def sharded_engine() -> bool:
    """Whether this process is a rank of an FSDP or DeepSpeed launch (Accelerate's launcher says so
    in the environment): the weights are sharded over the ranks."""
    return deepspeed_launched() or os.environ.get("ACCELERATE_USE_FSDP", "").lower() == "true"


def load_base(
    path: str | Path,
    *,
    quantize: str | None = None,
    precision: str = "fp32",
    dev: str | None = None,
    param: str = "paths.base",
) -> Any:
    """The base model in `path` (a plain HF folder) for training or inference.

    quantize: None loads the weights in `precision`'s dtype (train in fp32 and let bf16 autocast
    do the matmuls); "4bit" loads them as bitsandbytes NF4 with double quantisation and
    `precision` as compute dtype (QLoRA).
    """
    import torch
    from transformers import AutoModelForCausalLM

    check_base_folder(path, param)
    dev = dev or device()
    if dev == "cuda" and "LOCAL_RANK" in os.environ:  # one GPU per rank (javis/model/launch.py)
        dev = f"cuda:{os.environ['LOCAL_RANK']}"
    kwargs: dict[str, Any] = {"dtype": torch_dtype(precision)}
    if quantize in (None, "", "none"):
        pass
    elif quantize == "4bit":
        problem = bitsandbytes_problem()
        if problem:
            raise ModelError(
                f"train.quantize: 4bit needs bitsandbytes, but {problem}; set train.quantize: none"
            )
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch_dtype(precision),
            # FSDP and DeepSpeed ZeRO-3 shard only tensors of one dtype: NF4 weights are then
            # stored in the compute dtype's bytes (FSDP-QLoRA); else PEFT's default, uint8
            bnb_4bit_quant_storage=torch_dtype(precision) if sharded_engine() else torch.uint8,
        )
        kwargs["device_map"] = {"": dev}
    else:
        raise ValueError(f"quantize: expected none or 4bit, got {quantize!r}")
    model = AutoModelForCausalLM.from_pretrained(str(path), **kwargs)
    if "device_map" not in kwargs:
        model.to(dev)
    return model


def load_adapter(
    base_path: str | Path,
    adapter_path: str | Path,
    *,
    quantize: str | None = None,
    precision: str = "fp32",
    dev: str | None = None,
    trainable: bool = False,
    param: str = "paths.adapter",
) -> tuple[Any, Any]:
    """(PeftModel, tokenizer): the base in `base_path` with the adapter in `adapter_path` on top.

    The tokenizer (and so the chat template and persona) comes from the adapter folder. Raises
    ModelError when the folder is not an adapter, has no javis template, or was trained on a
    different base (per the fingerprints in javis_train.json and javis_base.json).
    """
    from peft import PeftModel

    adapter = Path(adapter_path)
    missing = [f for f in ADAPTER_FILES if not (adapter / f).is_file()]
    if missing:
        raise ModelError(f"{param}: {adapter} is not a trained adapter (missing {missing})")
    check_adapter_base(adapter, base_path, param)
    tok = load_tokenizer(adapter)
    base = load_base(base_path, quantize=quantize, precision=precision, dev=dev)
    model = PeftModel.from_pretrained(base, str(adapter), is_trainable=trainable)
    if not trainable:
        model.eval()
    return model, tok
