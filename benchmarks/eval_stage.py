"""The evaluate stage's time against its FLOP floor, on a project whose data stages have run.

    python benchmarks/eval_stage.py PROJECT   # run under `flock /work/notes/bundled.lock`
    python benchmarks/eval_stage.py PROJECT --measured   # after `make run` in PROJECT: its own times

In PROJECT (a folder with params.yaml, evalsets/, data/training/current/ from collect..split):
1. `python -m stages.base` when models/base is missing (the bundled SmolLM2-135M);
2. an untrained LoRA adapter with train's settings (B = 0: the base's answers, the cost of a
   trained adapter's forward) as models/adapter, and the bare base as the baseline;
3. `python -m stages.score_baseline`, then `python -m stages.evaluate`, each timed (wall, cpu);
   with --measured, steps 1-3 are skipped: the wall seconds of the stages' last run (logs/timings,
   e.g. the demo's `make run`, with the trained adapter) are read instead;
4. the floor of each: the matmul FLOPs of every token it forwards (prompts, references, answers,
   generic items, KL prompts; 2 x the decoder's linear weights per token, 2 x d x vocabulary per
   position whose logits are used, attention 4 x layers x d x context), divided by the matmul
   throughput measured here on the model's own shapes and precision.
Prints one table (markdown) for benchmarks/README.md.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def make_adapter(project: Path) -> None:
    from peft import LoraConfig, get_peft_model

    from javis.core import params
    from javis.model import loading

    p = params.load(project / "params.yaml")
    out = project / p.paths.adapter
    base = project / p.paths.base
    model = loading.load_base(base)
    cfg = LoraConfig(r=p.train.lora_r, lora_alpha=p.train.lora_alpha, target_modules="all-linear")
    get_peft_model(model, cfg).save_pretrained(out)
    loading.load_tokenizer(base, p.persona.system_prompt).save_pretrained(out)
    marker = project / p.paths.baseline / loading.BASELINE_INFO
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"kind": "base", "tag": "", "rev": ""}))


def floor_seconds(project: Path, samples: list[dict], side: str) -> tuple[float, dict]:
    """(seconds at the measured matmul rate, token counts) for one side's work on the items."""
    import torch

    from javis.core import params
    from javis.model import eval_examples, loading

    p = params.load(project / "params.yaml")
    model = loading.load_base(project / p.paths.base)
    tok = loading.load_tokenizer(project / p.paths.base, p.persona.system_prompt)
    c = model.config
    d, layers, vocab = c.hidden_size, c.num_hidden_layers, c.vocab_size
    linear = sum(
        m.weight.numel()
        for name, m in model.named_modules()
        if isinstance(m, torch.nn.Linear) and "lm_head" not in name
    )
    counts = {"prompt": 0, "reference": 0, "answer": 0, "logit_positions": 0, "attention": 0}
    seen: set = set()
    for s in samples:
        if side not in s:
            continue
        item = eval_examples.Item(s["id"], s["set"], s["prompt"], tools=s.get("tools"))
        eval_examples.encode(tok, item)
        n_prompt = len(item.prompt_ids)
        key = (tuple(item.prompt_ids), s.get("reference"))
        if key in seen:
            continue
        seen.add(key)
        ref = s.get("tokens", 0) if s["set"] != "generic_kl" else s[side].get("tokens", 0)
        ans = len(tok(s[side].get("answer") or "", add_special_tokens=False)["input_ids"])
        ans = ans + 1 if s["set"] in ("test", "tool", "regression", "persona") else 0
        counts["prompt"] += n_prompt
        counts["reference"] += ref
        counts["answer"] += ans
        counts["logit_positions"] += ref + ans
        counts["attention"] += (n_prompt + ref) ** 2 // 2 + ans * (n_prompt + ans // 2)
    tokens = counts["prompt"] + counts["reference"] + counts["answer"]
    flops = 2 * linear * tokens + 2 * d * vocab * counts["logit_positions"]
    flops += 4 * layers * d * counts["attention"]
    dtype = loading.torch_dtype(loading.pick_precision()[0])
    a = torch.randn(256, d, dtype=dtype)
    w = torch.randn(d, c.intermediate_size, dtype=dtype)
    for _ in range(3):
        a @ w
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < 3.0:
        a @ w
        n += 1
    rate = 2 * 256 * d * c.intermediate_size * n / (time.perf_counter() - t0)
    counts |= {
        "tokens": tokens,
        "gflop": round(flops / 1e9, 1),
        "gflop_per_s": round(rate / 1e9, 1),
    }
    return flops / rate, counts


def stage_seconds(project: Path, name: str) -> tuple[float, float]:
    """(wall, nan) of the stage's last run in PROJECT, from its own timing file (logs/timings)."""
    record = json.loads((project / "logs/timings" / f"{name}.json").read_text())
    return float(record["seconds"]), float("nan")


def main(project: Path, measured: bool = False) -> None:
    py = sys.executable
    if measured:  # the stages as `dvc repro` ran them (the trained adapter), timed by themselves
        sb, ev = stage_seconds(project, "score_baseline"), stage_seconds(project, "evaluate")
    else:
        if not (project / "models/base/config.json").is_file():
            timed([py, "-m", "stages.base"], project)
        make_adapter(project)
        sb = timed([py, "-m", "stages.score_baseline"], project)
        ev = timed([py, "-m", "stages.evaluate"], project)
    lines = project / "metrics/eval_samples.jsonl"
    samples = [json.loads(x) for x in lines.read_text().splitlines() if x.strip()]
    f_sb, c_sb = floor_seconds(project, samples, "baseline")
    f_ev, c_ev = floor_seconds(project, samples, "candidate")
    print("| stage | wall s | cpu s | floor s | wall / floor | tokens forwarded | GFLOP |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, (wall, cpu), f, c in (
        ("score_baseline", sb, f_sb, c_sb),
        ("evaluate", ev, f_ev, c_ev),
    ):
        print(
            f"| {name} | {wall:.0f} | {f'{cpu:.0f}' if cpu == cpu else '-'} | {f:.0f} | "
            f"{wall / f:.1f}x | {c['tokens']} | {c['gflop']} |"
        )
    print(json.dumps({"score_baseline": c_sb, "evaluate": c_ev}))


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve(), measured="--measured" in sys.argv[2:])
