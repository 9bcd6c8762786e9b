"""The whole loop on the bundled SmolLM2-135M, in a temp git + DVC repository (slow: minutes).

dvc repro on examples/ -> release javis-v0.1 -> new data -> release javis-v0.2 -> dvc metrics diff ->
deploy v0.2 -> rollback to v0.1; the adapter loads with PEFT and generates. Training is cut to a
few steps (this test proves the parts fit together on the real model, not that it learns: that is
`make run`'s job, reported in the README).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import BUNDLED_EVAL, TINY_GATE, copy_project, set_params, small_evalsets, write_jsonl

pytestmark = pytest.mark.slow


def sh(repo: Path, *cmd: str) -> str:
    result = subprocess.run(list(cmd), cwd=repo, capture_output=True, text=True)
    assert result.returncode == 0, f"{cmd}:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result.stdout + result.stderr


def javis(repo: Path, *args: str) -> str:
    return sh(repo, sys.executable, "-m", "javis.app.cli", *args)


@pytest.fixture(scope="session")
def bundled(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("bundled")
    repo = copy_project(root / "repo")
    small_evalsets(repo)
    set_params(
        repo,
        train={"max_steps": 4, "batch_size": 4, "max_length": 256, "save_steps": 100},
        evaluate={"max_examples": 4, "max_new_tokens": 16, "batch_size": 4, **BUNDLED_EVAL},
        release=TINY_GATE,
    )
    sh(repo, "git", "commit", "-qam", "short training for the test")
    javis(repo, "init", "--remote", str(root / "store"))
    sh(repo, "git", "commit", "-qam", "remote")
    out1 = javis(repo, "release", "-m", "first version")
    write_jsonl(
        repo / "examples/raw/week2.jsonl",
        [
            {
                "messages": [
                    {"role": "user", "content": f"Remind me: task {i} is {w}."},
                    {
                        "role": "assistant",
                        "content": f"Noted: task {i} is {w}. I'll keep it on your list.",
                    },
                ]
            }
            for i, w in enumerate(
                ["laundry", "groceries", "running", "reading", "cleaning", "cooking"] * 10
            )
        ],
    )
    sh(repo, "git", "add", "examples/raw/week2.jsonl")
    sh(repo, "git", "commit", "-qm", "week 2")
    out2 = javis(repo, "release", "-m", "more data")
    return {"repo": repo, "out1": out1, "out2": out2}


def test_two_releases_on_the_bundled_model(bundled):
    repo = bundled["repo"]
    assert sh(repo, "git", "tag", "--list", "javis-v*").split() == ["javis-v0.1", "javis-v0.2"]
    ev = json.loads((repo / "metrics/eval.json").read_text())
    assert {"candidate", "baseline", "delta"} <= set(ev)
    assert ev["candidate"]["loss"] > 0, ev["candidate"]
    assert ev["baseline"]["loss"] > 0, ev["baseline"]
    base = json.loads((repo / "models/base/javis_base.json").read_text())
    assert base["parameters"] > 100_000_000  # the real SmolLM2-135M, not a stand-in
    meta = yaml.safe_load((repo / "models/adapters/javis-v0.2/metadata.yaml").read_text())
    assert meta["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    print("\nv0.1 release output (tail):\n" + bundled["out1"][-1500:])


def test_metrics_diff_between_the_tags(bundled):
    out = sh(
        bundled["repo"], sys.executable, "-m", "dvc", "metrics", "diff", "javis-v0.1", "javis-v0.2"
    )
    assert "metrics/eval.json" in out, out
    assert "candidate.loss" in out, out
    print("\n" + out)


def test_deploy_rollback_and_generate(bundled, monkeypatch):
    repo = bundled["repo"]
    javis(repo, "deploy", "javis-v0.2")
    javis(repo, "rollback")  # nothing deployed before v0.2: falls back to the other release
    current = (repo / "models/current").resolve()
    assert current.name == "javis-v0.1"
    meta = yaml.safe_load((repo / "models/adapters/javis-v0.1/metadata.yaml").read_text())
    from javis.core.fileio import sha256_file

    assert sha256_file(current / "adapter_model.safetensors") == meta["adapter"]["sha256"]
    from javis.model import loading as jm
    from javis.model.generation import generate_batch

    m, tok = jm.load_adapter(repo / "models/base", current, precision="fp32")
    [answer] = generate_batch(
        m, tok, [[{"role": "user", "content": "Who are you?"}]], max_new_tokens=12
    )
    assert isinstance(answer, str), answer
    assert answer.strip(), "an empty answer"
    print(f"\nv0.1 answers 'Who are you?': {answer!r}")
