"""The train stage's code on a GPU, against its memory plan: QLoRA and bf16 LoRA on a model shaped
like Qwen2.5-7B (width, heads, vocabulary) with only `--layers` random layers.

    python benchmarks/gpu_check.py --mode qlora --layers 2 --tokens 2048 --steps 8 [--out DIR]

Builds the random model (bf16, on the GPU) and a synthetic SFT split with rows up to `--tokens`
tokens, then runs what stages/train.py runs: `train_plan.plan` (the setup by hardware),
`training.plan_memory` (the micro-batch), `training.sft_trainer` (TRL + our fixes) and `train()`.
Prints one JSON object: the setup, the plan's figures, the measured peak GPU memory (allocated and
reserved), tokens/s, the loss per step, the LoRA parameters' dtype and whether checkpointing was on.
Run through benchmarks/gpu_check.sh on the borrowed GPU machine (no network there).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

QWEN25_7B = dict(
    hidden_size=3584,
    intermediate_size=18944,
    num_attention_heads=28,
    num_key_value_heads=4,
    vocab_size=152064,
    max_position_embeddings=32768,
    rope_theta=1000000.0,
    rms_norm_eps=1e-6,
    tie_word_embeddings=False,
)
TINY = dict(
    QWEN25_7B,
    hidden_size=64,
    intermediate_size=128,
    num_attention_heads=4,
    num_key_value_heads=2,
    vocab_size=512,
)  # --shape tiny: a smoke test on a CPU
WORDS_EN = (
    "the weather in Seoul today is clear and my assistant JAVIS answers every question".split()
)
WORDS_KO = "오늘 서울 날씨는 맑아요 자비스가 모든 질문에 답해요".split()


def make_model(path: Path, layers: int, shape: dict) -> None:
    import torch
    from helpers import make_tokenizer
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tok = make_tokenizer(path)
    config = Qwen2Config(
        num_hidden_layers=layers,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.convert_tokens_to_ids("<|endoftext|>"),
        **shape,
    )
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(path)
    del model
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def conversation(rng: random.Random, words: int) -> dict:
    def text(n: int) -> str:
        return " ".join(rng.choice(WORDS_EN + WORDS_KO) for _ in range(n))

    return {
        "id": f"c{rng.random():.8f}",
        "source": "gpu_check",
        "meta": {},
        "messages": [
            {"role": "user", "content": text(max(4, words // 3))},
            {"role": "assistant", "content": text(max(4, 2 * words // 3))},
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["qlora", "bf16"], required=True)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=2048, help="train.max_length; rows reach it")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch", type=int, default=8, help="train.batch_size (the effective batch)")
    ap.add_argument("--out", default="")
    ap.add_argument("--shape", choices=["qwen2.5-7b", "tiny"], default="qwen2.5-7b")
    args = ap.parse_args()

    import torch

    from javis.core import params
    from javis.model import loading, train_plan, training

    loading.quiet_libraries()
    work = Path(tempfile.mkdtemp(prefix="javis_gpu_check_"))
    base = work / "base"
    make_model(base, args.layers, QWEN25_7B if args.shape == "qwen2.5-7b" else TINY)
    cuda = torch.cuda.is_available()
    rng = random.Random(0)
    rows = args.steps * args.batch
    # Lengths spread up to --tokens (the tiny tokenizer: ~2.5 tokens per word).
    data = [conversation(rng, rng.randint(args.tokens // 8, args.tokens // 2)) for _ in range(rows)]
    folder = work / "data"
    folder.mkdir()
    for name, part in (("train.jsonl", data), ("val.jsonl", data[:4])):
        (folder / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in part))
    cfg = params.Train(
        quantize="4bit" if args.mode == "qlora" else "none",
        max_length=args.tokens,
        batch_size=args.batch,
        max_steps=args.steps,
        epochs=1.0,
        token_budget=0,
        logging_steps=1,
        save_steps=100000,
        max_val_examples=4,
        learning_rate=2e-4,
        checkpoint_dir=str(work / "ckpt"),
        live_dir=str(work / "live"),
    )
    paths = params.Paths(
        base=str(base),
        training=str(folder),
        adapter=str(work / "adapter"),
        init=str(work / "init"),
        metrics=str(work / "metrics"),
    )
    persona = params.Persona(name="JAVIS", system_prompt="You are JAVIS.")
    pl = train_plan.plan(cfg, paths, persona)
    tok = training.tokenizer_for(pl)
    mp = training.plan_memory(pl, tok)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    trainer, lengths, _ = training.sft_trainer(pl, tok, work / "run", None)
    lora_dtypes = sorted(
        {str(p.dtype) for n, p in trainer.model.named_parameters() if p.requires_grad}
    )
    started = time.perf_counter()
    trainer.train()
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    tokens = int(trainer.state.num_input_tokens_seen or 0)
    out = {
        "mode": args.mode,
        "gpu": torch.cuda.get_device_name(0) if cuda else "none (CPU smoke test)",
        "layers": args.layers,
        "versions": {
            "torch": torch.__version__,
            "transformers": __import__("transformers").__version__,
            "trl": __import__("trl").__version__,
            "peft": __import__("peft").__version__,
            "bitsandbytes": _version("bitsandbytes"),
        },
        "setup": {k: v for k, v in pl.setup.__dict__.items()},
        "plan": mp.record(),
        "plan_lines": mp.lines(),
        "rows": len(lengths),
        "longest_row": max(lengths),
        "lora_param_dtypes": lora_dtypes,
        "checkpointing_on": bool(getattr(trainer.model, "is_gradient_checkpointing", False)),
        "peak_allocated_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else 0,
        "peak_reserved_gb": round(torch.cuda.max_memory_reserved() / 2**30, 2) if cuda else 0,
        "tokens": tokens,
        "seconds": round(seconds, 1),
        "tokens_per_s": round(tokens / seconds, 1) if seconds else None,
        "loss_per_step": [round(e["loss"], 4) for e in trainer.state.log_history if "loss" in e],
    }
    out["peak_vs_plan"] = round(out["peak_allocated_gb"] / max(1e-9, mp.record()["peak_gb"]), 2)
    text = json.dumps(out, indent=1, ensure_ascii=False)
    print(text)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / f"gpu_check_{args.mode}.json").write_text(text)


def _version(name: str) -> str | None:
    try:
        return __import__(name).__version__
    except Exception as e:  # noqa: BLE001 (reported, not raised)
        return f"not importable: {e}"


if __name__ == "__main__":
    main()
