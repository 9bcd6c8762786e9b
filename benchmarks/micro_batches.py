"""Token-sized vs fixed micro-batches in the train stage's own trainer, side by side.

    python benchmarks/micro_batches.py PROJECT [--steps 6] [--rounds 2]

PROJECT: a folder whose data stages and `stages.base` have run (the demo: `make run` once). Each
measurement is its own process (`--one MODE`): the stage's trainer (`training.sft_trainer`, the
project's params) for the first `--steps` optimizer steps of the demo's schedule, no validation, no
checkpoints. Modes alternate (tokens, fixed, tokens, fixed, ...) so a shared machine's drift hits
both alike:
- tokens: each step's rows as forwards of at most the memory plan's tokens (a GPU's default);
- fixed: the plan's micro-batch for the longest row (the demo on a CPU: 1 row x 8 accumulation),
  a CPU's default.
Prints tokens/s and peak RSS (the kernel's, VmHWM) per run, the per-step losses (equal within bf16 noise: the same rows and the same
normalisation), and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one(mode: str, steps: int) -> dict:
    from javis.core import params
    from javis.model import loading, train_plan, training

    loading.return_freed_memory()  # as stages/train.py
    p = params.load("params.yaml")
    out = Path(tempfile.mkdtemp(prefix=f"javis-mb-{mode}-"))
    cfg = dataclasses.replace(
        p.train, max_steps=steps, token_budget=0, checkpoint_dir=str(out), save_steps=10**6
    )
    pl = train_plan.plan(cfg, p.paths, p.persona)
    pl.rows["val"] = []  # no validation pass: the training loop alone
    tok = training.tokenizer_for(pl)
    pl.micro_batches = "tokens" if mode == "tokens" else "rows"
    trainer, _, _ = training.sft_trainer(pl, tok, out / "run", None)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    shutil.rmtree(out, ignore_errors=True)
    tokens = int(trainer.state.num_input_tokens_seen)
    return {
        "mode": mode,
        "tokens": tokens,
        "seconds": round(seconds, 1),
        "tokens_per_s": round(tokens / seconds, 1),
        "forward_rows": trainer.args.per_device_train_batch_size,
        "accumulation": trainer.args.gradient_accumulation_steps,
        "losses": [round(h["loss"], 4) for h in trainer.state.log_history if "loss" in h],
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("project", type=Path)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--one", choices=["tokens", "fixed"])
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one(a.one, a.steps)))
        return
    runs = []
    for _ in range(a.rounds):
        for mode in ("tokens", "fixed"):
            done = subprocess.run(
                [sys.executable, __file__, str(a.project), "--steps", str(a.steps), "--one", mode],
                cwd=a.project,
                capture_output=True,
                text=True,
                check=True,
            )
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(runs[-1]), flush=True)
    med = {
        m: statistics.median(r["tokens_per_s"] for r in runs if r["mode"] == m)
        for m in ("tokens", "fixed")
    }
    print("| micro-batches | runs | tokens/step set | median tokens/s |")
    print("|---|---:|---:|---:|")
    for m in ("tokens", "fixed"):
        n = sum(r["mode"] == m for r in runs)
        print(f"| {m} | {n} | {runs[0]['tokens']} | {med[m]:.1f} |")
    print(f"tokens / fixed: {med['tokens'] / med['fixed']:.2f}x")


if __name__ == "__main__":
    main()
