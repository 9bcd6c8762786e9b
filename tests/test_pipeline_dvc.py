"""The data half of the DAG under real DVC, in a temp git repository, on the bundled examples."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import copy_project, read_jsonl, write_jsonl

DATA_STAGES = ["collect", "clean", "dedupe", "split"]


def dvc(repo: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = copy_project(tmp_path_factory.mktemp("project"))
    for stage in DATA_STAGES:
        dvc(repo, "repro", "--single-item", stage)
    return repo


def test_repro_on_examples_accounts_for_every_record(repo):
    m = {s: json.loads((repo / f"metrics/{s}.json").read_text()) for s in DATA_STAGES}
    for stage, x in m.items():
        assert x["in"] == x["kept"] + x["rejected"], stage
        for src, c in x["by_source"].items():
            assert c["in"] == c["kept"] + c["rejected"], (stage, src)
        rejected = repo / f"data/rejected/{stage}.jsonl"
        if stage != "split":
            entries = read_jsonl(rejected)
            assert len(entries) == x["rejected"], stage
            assert all(e["file"] and e["line"] and e["reason"] for e in entries)
    # Each stage reads exactly what the one before it kept.
    assert m["clean"]["in"] == sum(m["collect"]["records_out"].values())
    assert m["dedupe"]["in"] == m["clean"]["kept"]
    assert m["split"]["in"] == m["dedupe"]["kept"]
    # The examples plant one failure of each kind: every filter shows up.
    reasons = set(m["clean"]["rejected_by_reason"])
    for criterion in ("length", "relevance", "style", "accuracy", "format", "safety"):
        assert f"quality_{criterion}" in reasons
    assert {"invalid_role", "empty_content", "bad_tool_call"} <= reasons
    assert {"bad_json", "rated_bad"} <= set(m["collect"]["rejected_by_reason"])
    assert {"exact_duplicate", "near_duplicate"} <= set(m["dedupe"]["rejected_by_reason"])
    assert {"SECRET:aws_key", "PII:email", "PII:phone_kr"} <= set(m["clean"]["redactions"])
    assert m["split"]["leakage"] == {"exact": 0, "near": 0}
    print(
        "\nper stage in/kept/rejected:",
        {s: (x["in"], x["kept"], x["rejected"]) for s, x in m.items()},
    )


def test_second_repro_is_a_no_op(repo):
    out = dvc(repo, "repro", "split")
    assert "Running stage" not in out, out
    assert "didn't change" in out or "up to date" in out


def test_private_data_is_dvc_tracked_not_git(repo):
    ignored = subprocess.run(
        [
            "git",
            "check-ignore",
            "data/collected",
            "data/cleaned",
            "data/deduped",
            "data/training/current",
            "data/rejected/clean.jsonl",
            "data/raw",
            "data/feedback",
        ],
        cwd=repo,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert len(ignored) == 7, ignored
    lock = (repo / "dvc.lock").read_text()
    assert "data/training/current" in lock, "the split stage's output is locked"
    assert "metrics/split.json" in lock, "the split stage's metrics are locked"


def test_the_training_folder_holds_no_planted_secret(repo):
    text = "".join(p.read_text() for p in (repo / "data/training/current").iterdir())
    for planted in _planted_secrets(repo):
        assert planted not in text


def _planted_secrets(repo: Path) -> list[str]:
    """The secret strings planted in examples/raw/broken.jsonl (AWS key, e-mail, phone)."""
    import re

    raw = (repo / "examples/raw/broken.jsonl").read_text()
    found = re.findall(r"AKIA[0-9A-Z]{16}|[\w.+-]+@[\w-]+\.[\w.]+|01[016789]-\d{3,4}-\d{4}", raw)
    assert len(found) >= 3, found
    return found


def test_redaction_false_positives_on_the_sample_data(repo):
    """Every redaction outside the planted broken lines is a false positive: counted and reported."""
    from javis.data.redact import Redactor

    redactor = Redactor()
    hits: dict[str, int] = {}
    n = 0
    for path in sorted((repo / "examples").rglob("*.jsonl")):
        if path.name == "broken.jsonl":
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            _, counts = redactor.redact(line)
            n += 1
            for k, v in counts.items():
                hits[k] = hits.get(k, 0) + v
    print(f"\nredaction false positives on {n} sample lines: {sum(hits.values())} {hits}")
    assert sum(hits.values()) == 0, hits


def test_appending_data_moves_no_released_record(repo, tmp_path):
    # A copy of the reproduced project: the shared one stays as the other tests expect it.
    repo = Path(shutil.copytree(repo, tmp_path / "repo", symlinks=True))
    index = json.loads((repo / "data/training/current/index.json").read_text())
    (repo / "data/split_index.json").write_text(json.dumps({**index, "version": "javis-v0.1"}))
    extra = [
        {
            "messages": [
                {"role": "user", "content": f"새 질문 {i}번: 오늘 할 일 {i * 7}개를 정리해 줘"},
                {
                    "role": "assistant",
                    "content": f"네, {i * 7}개의 할 일을 우선순위대로 정리해 드릴게요.",
                },
            ]
        }
        for i in range(30)
    ]
    write_jsonl(repo / "examples/raw/zz_new.jsonl", extra)
    dvc(repo, "repro", "split")
    after = json.loads((repo / "data/training/current/index.json").read_text())
    assert set(index["records"]) <= set(after["records"])
    moved = [rid for rid, s in index["records"].items() if after["records"][rid] != s]
    assert not moved
    assert len(after["records"]) == len(index["records"]) + 30
    manifest = json.loads((repo / "data/training/current/manifest.json").read_text())
    assert manifest["previous_release"] == "javis-v0.1", "the manifest names the pinned release"
    assert manifest["added"]["sft"] == {"raw/zz_new.jsonl": 30}, (
        f"only the new file's records are added: {manifest['added']}"
    )
