"""The release gate on real training (tiny model, whole DAG, real DVC): a trained candidate passes the
shipped primary rule (`quality`, the paired per-item loss) against the base and, with `release.auto_deploy: true`, is served at
once. (A candidate trained on shuffled answers is blocked: tests/test_gate_bundled.py, where the
model is real enough for that to show; a tiny random model learns little beyond token frequencies.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import LOSS_GATE, read_jsonl, set_params, sh, tiny_project

# The tiny model's generations are noise, so only the loss-based rules are judged here (LOSS_GATE);
# the rules on generated text are tested on crafted results.
LEARN = {
    "max_steps": -1,
    "epochs": 2,
    "batch_size": 8,
    "learning_rate": 0.003,
    "lora_r": 8,
    "lora_alpha": 16,
}


def javis(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh(repo, sys.executable, "-m", "javis.app.cli", *args, check=check)


def serving(repo: Path) -> str:
    return Path(os.readlink(repo / "models/current")).name


@pytest.fixture(scope="module")
def gated(tmp_path_factory, tiny_base):
    root = tmp_path_factory.mktemp("gate")
    repo = tiny_project(root / "repo", tiny_base)
    set_params(
        repo,
        train=LEARN,
        evaluate={"max_examples": 0},
        release={"gate": LOSS_GATE, "auto_deploy": True},
    )
    sh(repo, "git", "commit", "-qam", "learn for real; the loss gate; auto deploy")
    javis(repo, "init", "--remote", str(root / "store"))
    sh(repo, "git", "commit", "-qam", "remote")
    first = javis(repo, "release", "-m", "true answers")
    return {"repo": repo, "first": first.stdout + first.stderr}


def test_a_trained_candidate_passes_the_shipped_loss_gate(gated):
    out = gated["first"]
    assert "gate PASS quality" in out, out
    assert "gate OFF tool_call_accuracy" in out, out
    ev = json.loads((gated["repo"] / "metrics/eval.json").read_text())
    assert ev["baseline_source"] == "base", ev["baseline_source"]
    assert ev["delta"]["loss"] < 0, ev["delta"]


def test_auto_deploy_serves_the_release_at_once(gated):
    repo = gated["repo"]
    assert serving(repo) == "javis-v0.1"
    assert [e["version"] for e in read_jsonl(repo / "models/deployments.jsonl")] == ["javis-v0.1"]
    assert (
        "deployed javis-v0.1: models/current -> adapters/javis-v0.1 (was nothing" in gated["first"]
    )


@pytest.fixture(scope="module")
def forced(gated):
    """After v0.1: the tool-call guardrail switched on and `min_items` above the samples' 10
    tool-call test items, released as it is (`--no-repro`): refused, then `--force`d."""
    repo = gated["repo"]
    gate = {**LOSS_GATE, "guardrails": ["tool_call_accuracy"], "min_items": 11}
    set_params(repo, release={"gate": gate})
    sh(repo, "git", "commit", "-qam", "gate on tool calls")
    refused = javis(repo, "release", "--no-repro", "-m", "no tools yet", check=False)
    forced = javis(repo, "release", "--no-repro", "--force", "-m", "no tool data yet", check=False)
    return {"repo": repo, "refused": refused, "forced": forced}


def test_a_metric_without_items_refuses_the_release(forced):
    out = forced["refused"].stdout + forced["refused"].stderr
    assert forced["refused"].returncode != 0, out
    assert "not enough evidence for tool_call_accuracy: n=10, need 11" in out, out
    assert "refused on tool_call_accuracy (not enough evidence)" in out, out


def test_force_releases_anyway_and_records_who_why_and_each_rule(forced):
    import yaml

    out = forced["forced"].stdout + forced["forced"].stderr
    assert forced["forced"].returncode == 0, out
    assert "gate overridden (--force): tool_call_accuracy (not enough evidence)" in out, out
    meta = yaml.safe_load((forced["repo"] / "models/adapters/javis-v0.2/metadata.yaml").read_text())
    override = meta["gate_override"]
    assert override["why"] == "no tool data yet", override
    assert override["failed"] == ["tool_call_accuracy"], override
    assert override["states"]["tool_call_accuracy"] == "not enough evidence", override
    assert override["states"]["quality"] == "pass", override
    assert serving(forced["repo"]) == "javis-v0.1", "a forced release is not auto-deployed"
