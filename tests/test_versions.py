"""Versions as a product, on the whole DAG with the tiny model: release, status, compare, deploy, rollback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import read_jsonl, set_params, two_releases, write_jsonl

from javis.core import fileio, params
from javis.release import deploy, names, pin, record
from javis.release.errors import ReleaseError


def sh(repo: Path, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(list(cmd), cwd=repo, capture_output=True, text=True)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def javis(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh(repo, sys.executable, "-m", "javis.app.cli", *args, check=check)


@pytest.fixture(scope="module")
def released(tmp_path_factory, tiny_base):
    """A tiny project with two releases: v0.1 on the examples, v0.2 after 60 new conversations."""
    return two_releases(tmp_path_factory.mktemp("versions"), tiny_base)


def test_release_tags_and_records(released):
    repo = released["repo"]
    tags = sh(repo, "git", "tag", "--list", "javis-v*").stdout.split()
    assert tags == ["javis-v0.1", "javis-v0.2"], released["out1"] + released["out2"]
    meta = yaml.safe_load((repo / "models/adapters/javis-v0.2/metadata.yaml").read_text())
    for key in (
        "version",
        "created_at",
        "base_model",
        "training",
        "data",
        "changes_from_previous",
        "evaluation",
    ):
        assert key in meta
    assert meta["version"] == "0.2", meta["version"]
    assert meta["base_model"] == "tiny-llama", meta["base_model"]
    assert {"method", "epochs", "learning_rate", "data_count"} <= set(meta["training"])
    assert {"tool_accuracy", "style_consistency", "user_satisfaction"} <= set(meta["evaluation"])
    counted = sum(int(s.rsplit("(", 1)[1].rstrip(")")) for s in meta["data"]["sources"])
    assert counted == meta["training"]["data_count"], (counted, meta["data"]["sources"])
    assert counted > 0, "no training records counted"
    assert any("raw/week2.jsonl" in c for c in meta["changes_from_previous"])
    for path in (
        "models/configs/training_v0.2.yaml",
        "data/training/javis-v0.2/manifest.json",
        "data/training/javis-v0.2/changelog.md",
        "CHANGELOG.md",
    ):
        assert (
            sh(repo, "git", "cat-file", "-e", f"javis-v0.2:{path}", check=False).returncode == 0
        ), path
    assert "javis-v0.2" in (repo / "CHANGELOG.md").read_text()
    # The open-next commit pins the baseline to the last release, in the pin file (not params.yaml).
    pinned = pin.read(repo / "data/baseline.json")
    assert pinned.tag == "javis-v0.2", pinned
    tagged = sh(repo, "git", "rev-parse", "javis-v0.2^{commit}").stdout.strip()
    assert pinned.rev == tagged, (pinned.rev, tagged)
    opened = sh(
        repo,
        "git",
        "log",
        "-1",
        "--name-only",
        "--format=%s",
        "--grep=^Open the version after javis-v0.2",
    ).stdout
    assert "data/baseline.json" in opened, f"the open-next commit does not hold the pin: {opened}"
    assert "params.yaml" not in opened, f"the open-next commit edits params.yaml: {opened}"
    assert "baseline_tag" not in (repo / "params.yaml").read_text(), "params.yaml holds the pin"


def test_status_counts_new_records_and_the_trigger(released):
    status = released["status"]
    assert "new records since the last release: 60" in status, status
    assert "REACHED" in status, status
    # `dvc status` in words: the data stages ran (--refresh), the model stages wait for `javis release`
    pipeline = next(line for line in status.splitlines() if line.startswith("pipeline: "))
    assert "out of date" in pipeline, pipeline
    assert "train" in pipeline, pipeline
    assert "collect" not in pipeline, pipeline


def test_metrics_diff_between_releases(released):
    out = sh(
        released["repo"], sys.executable, "-m", "dvc", "metrics", "diff", "javis-v0.1", "javis-v0.2"
    ).stdout
    assert "metrics/eval.json" in out, out
    assert "metrics/split.json" in out, out


def test_v02_was_gated_against_v01(released):
    repo = released["repo"]
    ev = json.loads(sh(repo, "git", "show", "javis-v0.2:metrics/eval.json").stdout)
    assert set(ev) >= {"candidate", "baseline", "delta", "win_rate"}, sorted(ev)
    marker = json.loads((repo / "models/baseline/javis_baseline.json").read_text())
    # what v0.2 was evaluated against
    assert marker["kind"] == "adapter", marker
    assert marker["tag"] == "javis-v0.1", marker
    assert "gate PASS quality" in released["out2"], released["out2"]
    assert "baseline: javis-v0.2" not in released["out2"], released["out2"]


def test_deploy_and_rollback_restore_identical_bytes(released, monkeypatch):
    repo = released["repo"]
    monkeypatch.chdir(repo)
    recorded = {
        v: yaml.safe_load((repo / f"models/adapters/{v}/metadata.yaml").read_text())["adapter"][
            "sha256"
        ]
        for v in ("javis-v0.1", "javis-v0.2")
    }
    deploy.deploy("javis-v0.2", log=lambda *_: None)
    assert deploy.current_version() == "javis-v0.2"
    weights = repo / "models/current/adapter_model.safetensors"
    assert fileio.sha256_file(weights) == recorded["javis-v0.2"], "v0.2's recorded weights"
    deploy.rollback(log=lambda *_: None)  # walks back through the releases: v0.1
    assert deploy.current_version() == "javis-v0.1", "rollback from v0.2 serves v0.1"
    assert fileio.sha256_file(weights) == recorded["javis-v0.1"], "v0.1's recorded weights"
    deploy.deploy("javis-v0.2", log=lambda *_: None)
    deploy.rollback("v0.1", log=lambda *_: None)  # an explicit version
    assert fileio.sha256_file(weights) == recorded["javis-v0.1"], "v0.1's weights again"
    log = read_jsonl(repo / "models/deployments.jsonl")
    assert [e["version"] for e in log] == ["javis-v0.2", "javis-v0.1", "javis-v0.2", "javis-v0.1"]
    git_status = sh(repo, "git", "status", "--porcelain").stdout.strip()
    assert git_status == "", f"deploy touched git: {git_status}"


def test_deploy_refuses_a_corrupted_cache_object(released, monkeypatch):
    repo = released["repo"]
    monkeypatch.chdir(repo)
    want = yaml.safe_load((repo / "models/adapters/javis-v0.1/metadata.yaml").read_text())[
        "adapter"
    ]["sha256"]
    # Find the cached object of v0.1's weights and flip bytes in it (a disk error, a bad copy).
    objects = [
        p
        for p in (repo / ".dvc/cache/files/md5").rglob("*")
        if p.is_file() and not p.name.endswith(".dir") and fileio.sha256_file(p) == want
    ]
    assert objects, "the v0.1 weights are not in the local cache"
    obj = objects[0]
    original = obj.read_bytes()
    obj.chmod(0o644)
    obj.write_bytes(original[:-16] + bytes(16))
    try:
        before = deploy.current_version()
        shutil.rmtree(repo / "models/adapters/javis-v0.1", ignore_errors=True)
        sh(repo, "git", "checkout", "--", "models/adapters/javis-v0.1")
        with pytest.raises(ReleaseError, match="differ from the release record"):
            deploy.deploy("javis-v0.1", log=lambda *_: None)
        assert deploy.current_version() == before, "a refused deploy switched models/current"
    finally:
        obj.write_bytes(original)


def test_dirty_workspace_is_refused(released, monkeypatch):
    repo = released["repo"]
    (repo / "stages/collect.py").write_text((repo / "stages/collect.py").read_text() + "\n# edit\n")
    try:
        out = javis(repo, "release", "-m", "x", check=False)
        assert out.returncode == 2, out.stdout + out.stderr
        assert "uncommitted changes" in out.stderr, out.stderr
        assert "stages/collect.py" in out.stderr, out.stderr
    finally:
        sh(repo, "git", "checkout", "--", "stages/collect.py")


def test_failed_push_leaves_no_commit_and_no_tag(released):
    repo = released["repo"]
    head = sh(repo, "git", "rev-parse", "HEAD").stdout
    blocker = released["root"] / "not-a-folder"
    blocker.write_text("a file where the remote folder should be")
    sh(
        repo,
        sys.executable,
        "-m",
        "dvc",
        "remote",
        "add",
        "-f",
        "-d",
        "broken",
        str(blocker / "store"),
    )
    try:
        set_params(repo, train={"lora_r": 8})  # a change, so the release has something new to push
        sh(repo, "git", "commit", "-qam", "r8")
        head = sh(repo, "git", "rev-parse", "HEAD").stdout
        out = javis(repo, "release", "--force", "-m", "push must fail", check=False)
        assert out.returncode == 2, out.stdout + out.stderr
        assert "dvc push" in out.stderr, out.stdout + out.stderr
        assert sh(repo, "git", "rev-parse", "HEAD").stdout == head, "a failed push committed"
        assert "javis-v0.3" not in sh(repo, "git", "tag").stdout, "a failed push tagged"
        assert not (repo / "models/adapters/javis-v0.3").exists(), "the record was left behind"
    finally:
        sh(repo, sys.executable, "-m", "dvc", "remote", "default", "store")


def test_version_names():
    V = names.Version
    assert names.next_version(None, False, "") == V(0, 1)
    assert names.next_version(V(0, 3), False, "dpo").name == "javis-v0.4-dpo"
    assert names.next_version(V(1, 4, "tools"), True, "").name == "javis-v2.0"
    assert V.parse("javis-v1.1-dpo") == V(1, 1, "dpo")
    with pytest.raises(ReleaseError, match="not a version name"):
        V.parse("v1")
    with pytest.raises(ReleaseError, match="--tag 'DPO'"):
        names.next_version(V(0, 3), False, "DPO")


def test_versions_and_compare_commands(released):
    repo = released["repo"]
    fb = repo / "data/feedback/ratings.jsonl"
    write_jsonl(
        fb,
        [
            {
                "id": "r1",
                "model_version": "javis-v0.2",
                "messages": [{"role": "user", "content": "hi"}],
                "response": "hello",
                "rating": "good",
            },
            {
                "id": "r2",
                "model_version": "javis-v0.2",
                "messages": [{"role": "user", "content": "yo"}],
                "response": "what",
                "rating": "bad",
            },
            {
                "id": "r3",
                "model_version": "javis-v0.2",
                "messages": [{"role": "user", "content": "hm"}],
                "response": "ok",
                "score": 4,
            },
        ],
    )
    try:
        out = javis(repo, "versions").stdout
        assert "javis-v0.1" in out, out
        assert "javis-v0.2" in out, out
        assert "3.3/5 (3 ratings)" in out, out  # (5 + 1 + 4) / 3, live from the feedback files
        assert "not rated yet" in out, out  # v0.1 has no ratings
        cmp = javis(repo, "compare", "v0.1", "v0.2", "--examples", "2").stdout
        assert "javis-v0.1 vs javis-v0.2" in cmp, cmp
        assert "loss" in cmp, cmp
        # Answers of both versions to the same test prompts (when their eval samples share examples).
        assert "prompt" in cmp or "no shared test examples" in cmp, cmp
    finally:
        fb.unlink()


def test_base_swap_makes_the_next_release_major(released, tmp_path, monkeypatch):
    from helpers import make_base

    repo = released["repo"]
    other = make_base(tmp_path / "other-base", seed=1)
    set_params(repo, base={"source": str(other), "name": "tiny-llama-2"})
    try:
        status = javis(repo, "status").stdout
        assert "base model changed (tiny-llama -> tiny-llama-2)" in status, status
        assert "major version" in status, status
        sh(repo, sys.executable, "-m", "dvc", "repro", "base")
        monkeypatch.chdir(repo)
        last_v, last_rev = names.releases()[-1]
        assert record.base_changed(last_rev, params.load()), "the base swap went unnoticed"
        assert names.next_version(last_v, True, "").name == "javis-v1.0"
        # Continuing from an adapter of the old base is refused before any training.
        set_params(repo, train={"init_from": "javis-v0.2"})
        refused = sh(repo, sys.executable, "-m", "dvc", "repro", "train", check=False)
        assert refused.returncode != 0, "training from an adapter of the old base was not refused"
        assert "trained on base" in refused.stdout + refused.stderr, refused.stderr
    finally:
        sh(repo, "git", "checkout", "--", "params.yaml")
        sh(repo, sys.executable, "-m", "dvc", "repro", "base")
