"""How a training run uses the machine: the setup picked by hardware and the memory plan.

Pure functions over small records, so the choices are tested with made-up hardware:

- `Hardware`: what `probe()` finds (device, bf16/fp16 support, memory, bitsandbytes);
- `choose(quantize, precision, checkpointing, optimizer, hw)` -> `Setup`: the compute dtype, the
  dtype the frozen base loads in (fp32 on CPU, bf16/fp16 on a GPU, NF4 for QLoRA), the LoRA
  parameters' dtype, gradient checkpointing and the optimizer, each with its reason;
- `ModelShape.from_config(config.json)`, `plan(shape, setup, ...)` -> `MemoryPlan`: weights,
  LoRA + optimizer state, activations per token, and the micro-batches that fit
  `train.max_memory_gb`: `max_tokens` padded tokens per forward (and, for trainers that need a
  fixed one, the rows per forward of the longest rows); `MemoryPlan.lines()` prints it,
  `MemoryPlan.problem` says why it cannot fit and what to change;
- `micro_batches(lengths, max_tokens)`: rows grouped by length into batches of at most
  `max_tokens` padded tokens (evaluation's loss passes); `step_micro_batches`: one optimizer
  step's rows as such forwards (the SFT trainer's token-sized micro-batches, javis/model/training.py).

The activation figures are counted per decoder layer from the shapes (what autograd saves for a
LoRA layer under autocast) and checked against a profile of SmolLM2-135M (benchmarks/README.md,
"Training memory").

Over the ~400-line guide on purpose: the setup rules, the shape counts and the plan are one model of
a run's memory (each figure of the plan follows from a choice of the setup), tested together.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

GB = 2**30
NF4_BYTES = 0.5 + 4 / 64 / 4 + 4 / 256  # 4-bit weights + double-quantised absmax (blocks of 64)
CPU_SHARE = 0.25  # default train.max_memory_gb on a CPU: a quarter of RAM (a 16 GB laptop: 4 GB),
CPU_MAX_GB = 4.0  # and at most 4 GB: past ~2k tokens per forward a CPU is no faster anyway
GPU_SHARE = 0.90  # on a GPU: most of its memory (it runs nothing else)
CPU_MICRO_TOKENS = 2048  # past ~2k tokens per forward a CPU is no faster (2x400 = 8x400 tokens/s)
# Libraries and the rest of the process (CUDA: context, cuBLAS workspace). CPU measured: the demo's
# train stage peaked at 3.87 GiB for 3.26 GB counted with 1.0 here (the tokenizer, the datasets'
# Arrow tables, Python's heap), hence 1.6.
OVERHEAD = {"cpu": 1.6 * GB, "cuda": 1.0 * GB}
# The backward's gradients and temporaries on top of what is saved for it: measured on SmolLM2-135M
# (2 x 945 tokens, bf16 autocast, benchmarks/README.md "Training memory"), peak RSS 4.73 GB =
# weights/LoRA + 1.0 GB of libraries (that profile's lighter process) + 1.54 MB per token, against
# 1.35 MB counted here.
PEAK_FACTOR = 1.15
DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}


@dataclass(frozen=True)
class Hardware:
    """What training runs on (`probe()`; tests build it by hand)."""

    device: str  # "cpu" | "cuda"
    name: str = ""
    memory_bytes: int = 0  # GPU memory on CUDA, physical RAM on CPU
    bf16: bool = False  # native bf16 matmul (CUDA capability >= 8, CPU AMX/AVX512-BF16)
    capability: tuple[int, int] | None = None  # CUDA compute capability
    bnb_problem: str | None = None  # why bitsandbytes 4-bit cannot run here (None: it can)


@dataclass(frozen=True)
class Setup:
    """How the run trains (recorded in javis_train.json under "setup")."""

    device: str
    compute: str  # autocast / bnb compute dtype: bf16 | fp16 | fp32
    base_dtype: str  # the frozen base's weights: fp32 | bf16 | fp16 | nf4
    lora_dtype: str  # the trainable LoRA parameters
    checkpointing: bool  # gradient (activation) checkpointing, non-reentrant
    optimizer: str  # adamw_torch | paged_adamw_8bit
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def act_bytes(self) -> int:
        """Bytes per element of the matmul-side activations (autocast output)."""
        return DTYPE_BYTES[self.compute]

    @property
    def stream_bytes(self) -> int:
        """Bytes per element of the residual stream (the base's dtype; NF4 runs in compute)."""
        return DTYPE_BYTES.get(self.base_dtype, DTYPE_BYTES[self.compute])


class SetupError(ValueError):
    """The params ask for something this hardware cannot do; the message says what to set."""


def choose(
    quantize: str, precision: str, checkpointing: bool | str, optimizer: str, hw: Hardware
) -> Setup:
    """The training setup for these params on `hw` (pure: no torch, no probing)."""
    reasons: dict[str, str] = {}
    gpu = hw.device == "cuda"
    if precision == "auto":
        if hw.bf16:
            compute = "bf16"
            reasons["compute"] = f"{hw.name or hw.device} computes bf16 natively"
        elif gpu:
            compute = "fp16"
            reasons["compute"] = f"{hw.name or 'the GPU'} has no bf16: fp16 with loss scaling"
        else:
            compute = "fp32"
            reasons["compute"] = "the CPU has no AMX/AVX512-BF16: bf16 would be emulated (slower)"
    else:
        compute = precision
        reasons["compute"] = "set by train.precision"
    if compute == "fp16" and not gpu:
        raise SetupError("train.precision: fp16 trains only on a GPU; set auto, bf16 or fp32")
    if compute == "bf16" and gpu and not hw.bf16:
        raise SetupError(
            f"train.precision: bf16, but {hw.name or 'this GPU'} has no bf16 "
            f"(capability {hw.capability}); set auto (fp16 there) or fp32"
        )

    if quantize == "4bit":
        if hw.bnb_problem:
            raise SetupError(
                f"train.quantize: 4bit needs bitsandbytes 4-bit on {hw.device}, but "
                f"{hw.bnb_problem}; install bitsandbytes (a CUDA build on a GPU) or set "
                "train.quantize: none"
            )
        base_dtype = "nf4"
        reasons["base_dtype"] = f"QLoRA: NF4 with double quantisation, computing in {compute}"
        # TRL casts QLoRA's LoRA parameters to bf16 whatever the compute dtype; we cast them back
        # to the compute dtype, except fp16: the loss scaler cannot unscale fp16 gradients, so
        # the trainable weights stay fp32 there (the matmuls still run in fp16).
        lora_dtype = "fp32" if compute == "fp16" else compute
        reasons["lora_dtype"] = (
            "fp16 training keeps trainable weights fp32 (the loss scaler needs them)"
            if compute == "fp16"
            else f"the compute dtype ({compute})"
        )
    elif gpu:
        base_dtype = compute
        reasons["base_dtype"] = f"the frozen base in {compute} on a GPU (fp32 would double it)"
        lora_dtype = "fp32"
        reasons["lora_dtype"] = "fp32 master weights under autocast"
    else:
        base_dtype, lora_dtype = "fp32", "fp32"
        reasons["base_dtype"] = (
            "CPU: fp32 weights, bf16 autocast matmuls"
            if compute == "bf16"
            else "CPU: fp32 (no native bf16)"
        )
        reasons["lora_dtype"] = "fp32 master weights"

    if checkpointing == "auto":
        ckpt = gpu or quantize == "4bit"
        reasons["checkpointing"] = (
            "on for a GPU and for QLoRA: activations are most of the memory there"
            if ckpt
            else "off on a CPU without QLoRA: the memory plan bounds the micro-batch instead"
        )
    else:
        ckpt = bool(checkpointing)
        reasons["checkpointing"] = "set by train.gradient_checkpointing"

    if optimizer == "paged_adamw_8bit":
        if not gpu or hw.bnb_problem:
            raise SetupError(
                "train.optimizer: paged_adamw_8bit needs bitsandbytes on a GPU"
                + (f" ({hw.bnb_problem})" if hw.bnb_problem else "")
                + "; set train.optimizer: adamw"
            )
        optim = "paged_adamw_8bit"
    else:
        optim = "adamw_torch"
    return Setup(
        device=hw.device,
        compute=compute,
        base_dtype=base_dtype,
        lora_dtype=lora_dtype,
        checkpointing=ckpt,
        optimizer=optim,
        reasons=reasons,
    )


# --- the model's shape -----------------------------------------------------------------------


@dataclass(frozen=True)
class ModelShape:
    """What the memory plan needs from config.json."""

    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied: bool

    @classmethod
    def from_config(cls, cfg: dict) -> ModelShape:
        heads = int(cfg.get("num_attention_heads") or 1)
        hidden = int(cfg["hidden_size"])
        return cls(
            layers=int(cfg["num_hidden_layers"]),
            hidden=hidden,
            intermediate=int(cfg.get("intermediate_size") or 4 * hidden),
            heads=heads,
            kv_heads=int(cfg.get("num_key_value_heads") or heads),
            head_dim=int(cfg.get("head_dim") or hidden // heads),
            vocab=int(cfg["vocab_size"]),
            tied=bool(cfg.get("tie_word_embeddings", False)),
        )

    @property
    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) of each projection of one decoder layer."""
        h, i, q, kv = self.hidden, self.intermediate, self.heads, self.kv_heads
        d = self.head_dim
        return {
            "q_proj": (h, q * d),
            "k_proj": (h, kv * d),
            "v_proj": (h, kv * d),
            "o_proj": (q * d, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }

    @property
    def layer_params(self) -> int:
        return sum(a * b for a, b in self.linear_shapes.values()) + 2 * self.hidden

    @property
    def embedding_params(self) -> int:
        return self.vocab * self.hidden * (1 if self.tied else 2)

    @property
    def params(self) -> int:
        return self.layers * self.layer_params + self.embedding_params + self.hidden

    def lora_params(self, r: int, targets: str | list[str]) -> int:
        chosen = self.linear_shapes
        if targets != "all-linear":
            chosen = {k: v for k, v in chosen.items() if k in set(targets)}
        return self.layers * sum(r * (a + b) for a, b in chosen.values())

    def activation_bytes_per_token(self, setup: Setup, r: int = 16) -> float:
        """Bytes autograd keeps per token for the backward, over all layers (the plan adds the
        backward's own temporaries: PEAK_FACTOR).

        Per layer, with LoRA on every projection (counted from what autograd saves): the two
        RMSNorms keep their input and output in the stream's dtype; each projection keeps its
        input in the compute dtype (once for the frozen matmul, once for LoRA's A); attention keeps
        q, k, v and its output, the MLP its gate, up, activation and product. With checkpointing
        only each layer's input is kept, plus one layer recomputed at a time."""
        s, a = setup.stream_bytes, setup.act_bytes
        h, i = self.hidden, self.intermediate
        qd, kvd = self.heads * self.head_dim, self.kv_heads * self.head_dim
        norms = 2 * 2 * h * s
        proj_inputs = 2 * (3 * h + qd + 2 * h + i) * a
        attention = (2 * qd + 2 * kvd) * a + 2 * qd * a  # q, k, v, out; rotary copies of q, k
        mlp = 4 * i * a
        lora = 7 * 2 * r * a
        per_layer = norms + proj_inputs + attention + mlp + lora
        if setup.checkpointing:
            return self.layers * h * s + per_layer
        return self.layers * per_layer


# --- the plan ---------------------------------------------------------------------------------


@dataclass
class MemoryPlan:
    """What a run will hold in memory, and the micro-batch picked to fit the budget."""

    budget_bytes: float
    weights_bytes: float
    lora_bytes: float  # LoRA params + grads + optimizer state
    overhead_bytes: float
    per_token_bytes: float
    effective_batch: int  # rows per optimizer step (train.batch_size x train.grad_accum)
    longest: int  # padded tokens of the longest row trained
    micro_rows: int = 0  # rows per forward for the longest rows (0: none fits)
    accumulation: int = 0  # forwards per optimizer step for the longest rows
    max_tokens: int = 0  # padded tokens one forward may hold (token-sized micro-batches)
    by_tokens: bool = True  # token-sized forwards (else the longest rows' fixed micro-batch)
    problem: str | None = None

    @property
    def micro_tokens(self) -> int:
        """Padded tokens of the largest forward: `max_tokens` (token-sized), or the fixed
        micro-batch's."""
        fixed = self.micro_rows * self.longest
        return max(self.max_tokens, fixed) if self.by_tokens else fixed

    @property
    def peak_bytes(self) -> float:
        return (
            self.weights_bytes
            + self.lora_bytes
            + self.overhead_bytes
            + self.per_token_bytes * max(self.micro_tokens, self.longest)
        )

    def lines(self) -> list[str]:
        f = _gb
        out = [
            f"weights {f(self.weights_bytes)}, LoRA + optimizer {f(self.lora_bytes)}, "
            f"libraries/allocator {f(self.overhead_bytes)}",
            f"activations {self.per_token_bytes / 2**20:.2f} MB/token: "
            f"{max(self.micro_tokens, self.longest)} tokens per forward = "
            f"{f(self.per_token_bytes * max(self.micro_tokens, self.longest))}",
            (
                f"micro-batches of up to {self.micro_tokens} padded tokens: each step's "
                f"{self.effective_batch} rows in as few forwards as fit (the longest rows: "
                f"{self.micro_rows} x {self.accumulation})"
                if self.by_tokens
                else f"micro-batch {self.micro_rows} rows x {self.accumulation} accumulation = "
                f"{self.effective_batch} rows per step"
            )
            + f"; peak ~{f(self.peak_bytes)} of {f(self.budget_bytes)} (train.max_memory_gb)",
        ]
        return out

    def record(self) -> dict:
        """The figures javis_train.json keeps (GB, rounded)."""
        return {
            "budget_gb": round(self.budget_bytes / GB, 2),
            "weights_gb": round(self.weights_bytes / GB, 3),
            "lora_optimizer_gb": round(self.lora_bytes / GB, 3),
            "activations_mb_per_token": round(self.per_token_bytes / 2**20, 3),
            "micro_rows": self.micro_rows,
            "accumulation": self.accumulation,
            "micro_tokens": self.micro_tokens,
            "micro_batches": "tokens" if self.by_tokens else "rows",
            "longest_tokens": self.longest,
            "peak_gb": round(self.peak_bytes / GB, 2),
        }


def weights_bytes(shape: ModelShape, setup: Setup) -> float:
    """The frozen base in memory. NF4 quantises the decoder's projections only (embeddings and the
    LM head stay in the compute dtype); a CPU's bf16 autocast keeps bf16 copies of the weights."""
    if setup.base_dtype == "nf4":
        compute = DTYPE_BYTES[setup.compute]
        return shape.layers * shape.layer_params * NF4_BYTES + shape.embedding_params * compute
    total = shape.params * DTYPE_BYTES[setup.base_dtype]
    if setup.device == "cpu" and setup.compute != setup.base_dtype:
        total += shape.params * DTYPE_BYTES[setup.compute]  # autocast's weight cache
    return total


def lora_state_bytes(n: int, setup: Setup) -> float:
    """LoRA params + their gradients + AdamW's two moments (fp32, or 8-bit paged)."""
    p = DTYPE_BYTES[setup.lora_dtype]
    moments = 2 * (1 if setup.optimizer == "paged_adamw_8bit" else 4)
    return n * (p + p + moments)


def plan(
    shape: ModelShape,
    setup: Setup,
    *,
    lora_r: int,
    targets: str | list[str],
    budget_gb: float,
    effective_batch: int,
    longest: int,
    micro_tokens_cap: int | None = None,
) -> MemoryPlan:
    """The micro-batch: the most rows of an optimizer step (a divisor of `effective_batch`, so every
    step accumulates whole forwards) whose `longest`-token rows fit the budget, and within
    `micro_tokens_cap` tokens when given (CPU: more tokens per forward are not faster). `problem`
    says what to change when not even one row fits."""
    mp = MemoryPlan(
        budget_bytes=budget_gb * GB,
        weights_bytes=weights_bytes(shape, setup),
        lora_bytes=lora_state_bytes(shape.lora_params(lora_r, targets), setup),
        overhead_bytes=OVERHEAD.get(setup.device, OVERHEAD["cpu"]),
        per_token_bytes=shape.activation_bytes_per_token(setup, lora_r) * PEAK_FACTOR,
        effective_batch=effective_batch,
        longest=max(1, longest),
    )
    room = mp.budget_bytes - mp.weights_bytes - mp.lora_bytes - mp.overhead_bytes
    for rows in sorted(_divisors(effective_batch), reverse=True):
        tokens = rows * mp.longest
        if micro_tokens_cap and rows > 1 and tokens > micro_tokens_cap:
            continue
        if tokens * mp.per_token_bytes <= room:
            mp.micro_rows, mp.accumulation = rows, effective_batch // rows
            # Shorter rows: more of them per forward, up to a whole step's rows (longest-sized).
            fit = int(room // mp.per_token_bytes) if mp.per_token_bytes > 0 else tokens
            fit = min(fit, effective_batch * mp.longest, micro_tokens_cap or fit)
            mp.max_tokens = max(tokens, fit)
            return mp
    one_row = mp.per_token_bytes * mp.longest
    advice = []
    if not setup.checkpointing:
        advice.append("train.gradient_checkpointing: true")
    if setup.base_dtype != "nf4":
        advice.append("train.quantize: 4bit (QLoRA, on a GPU)")
    advice.append(f"a lower train.max_length (now {mp.longest} tokens)")
    advice.append("a larger train.max_memory_gb if the machine has it")
    mp.problem = (
        f"train.max_memory_gb: {budget_gb:g} GB cannot hold one {mp.longest}-token row: weights "
        f"{_gb(mp.weights_bytes)} + LoRA/optimizer {_gb(mp.lora_bytes)} + libraries "
        f"{_gb(mp.overhead_bytes)} + activations {_gb(one_row)}; try " + ", or ".join(advice)
    )
    return mp


def default_budget_gb(hw: Hardware) -> float:
    """train.max_memory_gb 0 (auto): a safe share of this machine's memory (90% of a GPU's; a
    quarter of RAM, at most 4 GB, on a CPU)."""
    if hw.device == "cuda":
        return round(hw.memory_bytes * GPU_SHARE / GB, 1) if hw.memory_bytes else 4.0
    return min(CPU_MAX_GB, round(hw.memory_bytes * CPU_SHARE / GB, 1)) if hw.memory_bytes else 4.0


def micro_batches(lengths: list[int], max_tokens: int, max_rows: int = 0) -> list[list[int]]:
    """Row indices grouped into batches of at most `max_tokens` padded tokens (rows x the longest
    row) and `max_rows` rows (0: no row cap), rows of similar length together, longest first; a row
    longer than `max_tokens` is a batch of its own. Every index appears once."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    for i in order:
        if batches:
            current = batches[-1]
            longest = lengths[current[0]]
            rows_ok = not max_rows or len(current) < max_rows
            if rows_ok and (len(current) + 1) * longest <= max_tokens:
                current.append(i)
                continue
        batches.append([i])
    return batches


def step_micro_batches(lengths: list[int], max_tokens: int, at_least: int = 1) -> list[list[int]]:
    """One optimizer step's rows (their unpadded lengths) as forwards of at most `max_tokens`
    padded tokens (`micro_batches`), split further into `at_least` forwards when asked (ranks must
    run the same number of forwards per step: each one is a collective under DDP/FSDP), never into
    more forwards than rows. Every index appears once."""
    batches = micro_batches(lengths, max_tokens)
    while len(batches) < min(at_least, len(lengths)):
        big = max(range(len(batches)), key=lambda b: (len(batches[b]), -b))
        rows = batches.pop(big)
        half = (len(rows) + 1) // 2
        batches[big:big] = [rows[:half], rows[half:]]
    return batches


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _gb(n: float) -> str:
    return f"{n / GB:.2f} GB"


# --- probing the machine (torch) -------------------------------------------------------------


def probe(bnb_problem: str | None = None) -> Hardware:
    """This machine's `Hardware` (`bnb_problem`: loading.bitsandbytes_problem(), when checked)."""
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return Hardware(
            device="cuda",
            name=props.name,
            memory_bytes=int(props.total_memory),
            bf16=bool(torch.cuda.is_bf16_supported()),
            capability=(props.major, props.minor),
            bnb_problem=bnb_problem,
        )
    from javis.model.loading import BF16_CPU_FLAGS, cpu_flags

    flags = cpu_flags()
    return Hardware(
        device="cpu",
        name="CPU (" + ("+".join(f for f in BF16_CPU_FLAGS if f in flags) or "no bf16") + ")",
        memory_bytes=_ram_bytes(),
        bf16=any(f in flags for f in BF16_CPU_FLAGS),
        bnb_problem=bnb_problem,
    )


def _ram_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0
