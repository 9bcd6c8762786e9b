"""Where the train stage's memory goes: one forward + backward of the schedule's longest batch.

    python benchmarks/train_memory.py [--rows 8] [--project .]   # a project with the demo's split

Builds the trainer exactly as stages/train.py does (javis/model/training.py `sft_trainer`, params
from the project's params.yaml), takes the `--rows` longest training rows as one padded batch, and
reports, for one forward and backward under the trainer's autocast:

- the bytes autograd saves for the backward, grouped by what saved them (attention scores on
  SDPA's math path, the MLP, the LoRA layers, norms, the LM head), from `saved_tensors_hooks`;
- the process's resident memory (VmRSS) and its peak (VmHWM, the kernel's counter) after loading,
  after the forward and after the backward.

Run it wrapped in `flock /work/notes/bundled.lock nice` on a shared machine (it loads the bundled
model). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def vm(field: str) -> float:
    """A /proc/self/status field (VmRSS, VmHWM) in GB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--project", default=".")
    ap.add_argument("--rows", type=int, default=0, help="0: the memory plan's micro-batch")
    args = ap.parse_args()
    os.chdir(args.project)
    sys.path.insert(0, str(Path.cwd()))
    import torch

    from javis.core import params
    from javis.model import loading, train_plan, training

    loading.quiet_libraries()
    p = params.load("params.yaml")
    pl = train_plan.plan(p.train, p.paths, p.persona)
    tok = training.tokenizer_for(pl)
    trainer, lengths, _ = training.sft_trainer(pl, tok, Path("/tmp/javis_mem_run"), None)
    out = {"precision": pl.precision, "device": pl.device, "loaded_rss_gb": round(vm("VmRSS"), 2)}
    if pl.memory is not None:  # the plan (this code's): what it predicts for its micro-batch
        out["plan"] = pl.memory.record()
        args.rows = args.rows or pl.memory.micro_rows
    args.rows = args.rows or 8
    longest = sorted(range(len(lengths)), key=lambda i: -lengths[i])[: args.rows]
    dataset = trainer.train_dataset
    by_len = sorted(range(len(dataset)), key=lambda i: -len(dataset[i]["input_ids"]))[: args.rows]
    batch = trainer.data_collator([dataset[i] for i in by_len])
    tokens = int(batch["input_ids"].numel())
    out["batch"] = {
        "rows": args.rows,
        "padded_tokens": tokens,
        "lengths": [lengths[i] for i in longest],
    }

    # Which module is running: a stack kept by forward pre/post hooks on every module.
    stack: list[str] = []
    model = trainer.model

    def enter(name: str):
        def hook(module, args) -> None:  # noqa: ANN001
            stack.append(name)

        return hook

    def leave(module, args, output) -> None:  # noqa: ANN001
        stack.pop()

    for name, module in model.named_modules():
        module.register_forward_pre_hook(enter(name))
        module.register_forward_hook(leave)
    saved: dict[str, int] = defaultdict(int)
    shapes: dict[str, int] = defaultdict(int)
    seen: set[int] = set()

    def category(name: str, t: torch.Tensor) -> str:
        if t.dim() == 4 and t.shape[-1] == t.shape[-2] and t.shape[-1] > 16:
            return "attention scores/probs (B x H x L x L: SDPA math path)"
        if "lora_" in name:
            return "LoRA A/B inputs and outputs"
        if "mlp" in name:
            return "MLP (gate/up/act/down inputs)"
        if "self_attn" in name:
            return "attention projections (q/k/v/o inputs, rotary)"
        if "norm" in name:
            return "RMSNorm inputs/outputs"
        if "lm_head" in name or name.endswith("model") or not name:
            return "LM head / embeddings / loss"
        return "other: " + name.rsplit(".", 1)[-1]

    def pack(t: torch.Tensor):
        key = t.untyped_storage().data_ptr() if t.device.type != "meta" else id(t)
        if key not in seen:
            seen.add(key)
            size = t.untyped_storage().nbytes()
            cat = category(stack[-1] if stack else "", t)
            saved[cat] += size
            shapes[f"{cat} {tuple(t.shape)} {t.dtype}"] += size
        return t

    model.train()
    batch = {k: v.to(model.device) for k, v in batch.items()}
    t0 = time.perf_counter()
    # The Trainer's own autocast (accelerate's, bf16/fp16 per the setup), as in training_step.
    with (
        trainer.accelerator.autocast(),
        torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t),
    ):
        loss = trainer.compute_loss(model, batch)
    forward_s = time.perf_counter() - t0
    out["after_forward"] = {"rss_gb": round(vm("VmRSS"), 2), "peak_gb": round(vm("VmHWM"), 2)}
    loss.backward()
    out["forward_backward_s"] = round(time.perf_counter() - t0, 2)
    out["forward_s"] = round(forward_s, 2)
    out["after_backward"] = {"rss_gb": round(vm("VmRSS"), 2), "peak_gb": round(vm("VmHWM"), 2)}
    total = sum(saved.values())
    out["saved_for_backward_gb"] = round(total / 2**30, 3)
    out["saved_bytes_per_token_mb"] = round(total / tokens / 2**20, 3)
    out["by_category_gb"] = {
        k: round(v / 2**30, 3) for k, v in sorted(saved.items(), key=lambda kv: -kv[1])
    }
    out["top_tensors_gb"] = {
        k: round(v / 2**30, 3) for k, v in sorted(shapes.items(), key=lambda kv: -kv[1])[:8]
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
