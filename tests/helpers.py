"""Helpers shared by the tests (imported as `from helpers import ...`): a tiny ChatML tokenizer and
Llama base made here, never downloaded; JSONL files; the project copied into a temp git + DVC repo."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CORPUS = [
    "system user assistant tool You are JAVIS, the personal assistant of Minjun Kim.",
    "Hello! How are you? I am fine, thank you. What is the weather in Seoul today?",
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Seoul"}}\n</tool_call>',
    "안녕하세요 저는 자비스입니다. 무엇을 도와드릴까요? 서울 날씨는 맑아요.",
    "# Tools You may call one or more functions to assist with the user query.",
    "0123456789 {}[]()<>:;,.!?'\"-_/\\|@#$%^&*+=~`",
]


def make_tokenizer(path: Path | None = None):
    """A byte-level BPE tokenizer (~500 tokens) with the ChatML special tokens, trained in ms."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=500, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        unk_token="<|endoftext|>",
    )
    if path is not None:
        fast.save_pretrained(path)
    return fast


def make_qwen2(path: Path, seed: int = 0, tie_word_embeddings: bool = True) -> Path:
    """A tiny random Qwen2 (2 layers, width 64, q/k/v biases; model_type qwen2, as Qwen2.5
    checkpoints say) with the tiny tokenizer."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = make_tokenizer(path)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        tie_word_embeddings=tie_word_embeddings,
    )
    torch.manual_seed(seed)
    Qwen2ForCausalLM(config).save_pretrained(path)
    return path


def make_base(
    path: Path, seed: int = 0, width: int = 64, heads: int = 4, kv_heads: int = 2
) -> Path:
    """A tiny random Llama (2 layers, width 64, 4 heads of 16) and its tokenizer saved as a plain
    HF folder (vLLM's CPU attention needs heads of 64: width 128, 2 heads)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = make_tokenizer(path)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=width,
        intermediate_size=2 * width,
        num_hidden_layers=2,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(path)
    return path


# --- the project in a temp folder (data stages, DVC) ---------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def write_jsonl(path: Path, rows: list) -> Path:
    """Rows are dicts (written as JSON) or str (written as they are: for broken lines)."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write((row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n")
    return path


def read_jsonl(path: Path) -> list[dict]:
    import json

    return [
        json.loads(line)
        for line in Path(path).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def copy_project(dest: Path) -> Path:
    """A git + DVC repository holding a copy of this project's code, params and examples."""
    import shutil
    import subprocess

    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("javis", "stages", "examples", "evalsets"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in (
        "dvc.yaml",
        "params.yaml",
        ".dvcignore",
        ".gitignore",
        "data/split_index.json",
        "data/baseline.json",
        "data/forgotten.jsonl",
        "models/adapters/.gitignore",
    ):
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, dest / name)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }

    def run(*cmd: str) -> None:
        subprocess.run(cmd, cwd=dest, env=env, check=True, capture_output=True)

    run("git", "init", "-q", "-b", "main")
    run("dvc", "init", "-q")
    run("dvc", "config", "core.analytics", "false")
    (dest / "data" / "raw").mkdir(parents=True, exist_ok=True)
    (dest / "data" / "feedback").mkdir(parents=True, exist_ok=True)
    run("dvc", "add", "-q", "data/raw", "data/feedback")
    run("git", "add", "-A")
    run("git", "commit", "-q", "-m", "init")
    return dest


def set_params(repo: Path, **sections: dict) -> None:
    """Override params.yaml sections (deep-merged) in a project copy."""
    import yaml

    path = repo / "params.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))

    def merge(into: dict, new: dict) -> None:
        for k, v in new.items():
            if isinstance(v, dict) and isinstance(into.get(k), dict):
                merge(into[k], v)
            else:
                into[k] = v

    merge(data, sections)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


TINY_TRAIN = {
    "epochs": 1.0,
    "max_steps": 2,
    "batch_size": 4,
    "max_length": 256,
    "precision": "fp32",
    "lora_r": 4,
    "lora_alpha": 8,
    "save_steps": 100,
    "logging_steps": 1,
}
# Plumbing tests (a whole DAG, a release) need the items their gate reads, not all of the
# forgetting sets (229 generic answers, 64 KL prompts the base answers first) nor the paraphrased
# promises: on the bundled model those were about half of each release's evaluation. They keep
# `SMALL_EVALSETS` lines of each set (`small_evalsets`); forgetting itself is tested on its own
# (tests/test_evaluate_stage.py, tests/test_eval_sets.py, tests/test_gate_rules.py). (Setting
# evaluate.generic or kl_prompts to "" cannot work under DVC: they are stage deps, and DVC fails
# on an empty dependency path.)
BUNDLED_EVAL = {"paraphrases": False}
TINY_EVAL = {"max_new_tokens": 8, "max_examples": 6, "batch_size": 6, **BUNDLED_EVAL}
SMALL_EVALSETS = 8


def small_evalsets(repo: Path, lines: int = SMALL_EVALSETS) -> None:
    """Cut a project copy's forgetting sets (evalsets/generic.jsonl, kl_prompts.jsonl) to their
    first `lines` lines (commit them with the test's params)."""
    for name in ("generic.jsonl", "kl_prompts.jsonl"):
        path = repo / "evalsets" / name
        kept = path.read_text(encoding="utf-8").splitlines(keepends=True)[:lines]
        path.write_text("".join(kept), encoding="utf-8")


# A random tiny model's answers are noise: its releases pass on loss alone, with a wide margin and
# its few eval items (gate logic is tested on crafted items: tests/test_gate_rules.py), and it
# never stops: the "does it stop" check is off (tests/test_export.py).
TINY_GATE = {
    "stop_prompts": 0,
    "gate": {"min_items": 1, "loss_margin": 0.5, "guardrails": []},
}


# The shipped primary rule (params.Gate's loss_margin and alpha), the guardrails switched off and
# fewer items required: for candidates whose short or noisy generations say nothing about style,
# tools or identity, evaluated on a handful of test items.
LOSS_GATE = {"min_items": 5, "guardrails": [], "loss_margin": 0.10}  # the shipped quality margin


def sh(repo: Path, *cmd: str, check: bool = True):
    """Run a command in `repo`; with `check`, a failure shows the ends of its output."""
    import subprocess

    result = subprocess.run(list(cmd), cwd=repo, capture_output=True, text=True)
    if check:
        assert result.returncode == 0, f"{cmd}:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result


def tiny_project(dest: Path, base: Path) -> Path:
    """A project copy whose whole DAG runs in seconds: the tiny base, 2 training steps, 6 eval examples."""
    import subprocess

    repo = copy_project(dest)
    small_evalsets(repo)
    set_params(
        repo,
        base={"source": str(base), "name": "tiny-llama"},
        train=TINY_TRAIN,
        evaluate=TINY_EVAL,
        release=TINY_GATE,
    )
    subprocess.run(
        ["git", "commit", "-qam", "tiny settings"],
        cwd=repo,
        check=True,
        capture_output=True,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t",
        },
    )
    return repo


def shuffle_trained_answers(repo: Path, seed: int = 0) -> int:
    """Permute the final answers of the plain (no tool) conversations that train on, in examples/raw/*;
    test records keep theirs, so the candidate is judged on the true answers. Returns how many moved."""
    import random

    trained = {}
    for r in read_jsonl(repo / "data/training/current/train.jsonl"):
        meta = r.get("meta", {})
        if str(meta.get("file", "")).startswith("examples/raw/"):
            trained.setdefault(meta["file"], set()).add(meta["line"])
    moved = 0
    for name, lines in trained.items():
        rows = read_jsonl(repo / name)
        plain = [
            i
            for i in range(len(rows))
            if i + 1 in lines
            and not rows[i].get("tools")
            and rows[i]["messages"][-1]["role"] == "assistant"
            and isinstance(rows[i]["messages"][-1].get("content"), str)
        ]
        answers = [rows[i]["messages"][-1]["content"] for i in plain]
        random.Random(seed).shuffle(answers)
        for i, answer in zip(plain, answers, strict=True):
            moved += rows[i]["messages"][-1]["content"] != answer
            rows[i]["messages"][-1]["content"] = answer
        write_jsonl(repo / name, rows)
    return moved


def run_in_terminal(
    cmd: list[str], cwd: Path, columns: int = 80, rows: int = 24, timeout: float = 300.0
) -> tuple[int, str]:
    """Run `cmd` with a pseudo-terminal `columns` wide as its stdout and stderr (COLUMNS and
    LINES set to match, NO_COLOR=1); (exit code, what it wrote, ANSI escapes removed)."""
    import fcntl
    import pty
    import re
    import select
    import struct
    import subprocess
    import termios
    import time

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {**os.environ, "COLUMNS": str(columns), "LINES": str(rows), "NO_COLOR": "1"}
    proc = subprocess.Popen(cmd, cwd=cwd, stdin=follower, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not select.select([leader], [], [], 1.0)[0]:
            continue
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: every writer has closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    else:
        proc.kill()
    os.close(leader)
    code = proc.wait()
    text = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
    return code, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07", "", text)


# Conversations to generate from or score (a question, a multi-turn exchange with a system turn, Korean).
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


def javis(repo: Path, *args: str, check: bool = True):
    """Run the `javis` command line in `repo` (see `sh`)."""
    import sys

    return sh(repo, sys.executable, "-m", "javis.app.cli", *args, check=check)


def two_releases(root: Path, base: Path) -> dict:
    """A tiny project under `root` with two releases: v0.1 on the examples, v0.2 after 60 new
    (Korean) conversations. Returns the repo, both releases' output and `javis status` between."""
    repo = tiny_project(root / "repo", base)
    javis(repo, "init", "--remote", str(root / "store"))
    sh(repo, "git", "commit", "-qam", "remote")
    out1 = javis(repo, "release", "-m", "first version")
    words = ["빨래", "장보기", "운동", "독서", "청소", "요리", "산책", "공부", "정리", "통화"] * 6
    extra = [
        {
            "messages": [
                {"role": "user", "content": f"오늘의 할 일 {i}번째 항목: {w}"},
                {
                    "role": "assistant",
                    "content": f"좋아요, {w} 일을 오늘 목록에 {i}번으로 넣었어요.",
                },
            ]
        }
        for i, w in enumerate(words)
    ]
    write_jsonl(repo / "examples/raw/week2.jsonl", extra)
    sh(repo, "git", "add", "examples/raw/week2.jsonl")
    sh(repo, "git", "commit", "-qm", "week 2 data")
    status = javis(repo, "status", "--refresh")
    out2 = javis(repo, "release", "-m", "more data")
    return {
        "repo": repo,
        "out1": out1.stdout + out1.stderr,
        "out2": out2.stdout + out2.stderr,
        "status": status.stdout,
        "root": root,
    }


# --- serving (javis serve on a loopback port) --------------------------------------------------------


def make_adapter(base: Path, dest: Path, seed: int, rank: int = 4, **lora: object) -> Path:
    """A LoRA adapter on the tiny `base` with random (nonzero) weights, so each seed answers
    differently, saved as a javis adapter folder (weights, config, tokenizer with our template)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from javis.model import loading

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(str(base))
    config = LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        target_modules=lora.pop("target_modules", ["q_proj", "v_proj"]),
        init_lora_weights=False,
        **lora,
    )
    peft_model = get_peft_model(model, config)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    peft_model.save_pretrained(dest)
    loading.load_tokenizer(base, f"You are JAVIS {seed}.").save_pretrained(dest)
    return dest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(app) -> Iterator[str]:
    """uvicorn serving `app` on 127.0.0.1 on a free port, in a thread. The socket listens before
    the thread starts, so the first connection waits in the backlog: no sleeping, no polling."""
    import socket
    import threading

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        sock.close()
