"""The split on the demo data under real DVC (a temp git + DVC copy of the project, data stages
only): tool-call items in the test split, leakage on both sides, counted from the files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import copy_project, read_jsonl

from javis.core import params
from javis.data.records import first_user_turn, normalize_text
from javis.data.splitting import SPLITS, answer_messages, char_shingles, tool_call_turns


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    repo = copy_project(tmp_path_factory.mktemp("demo"))
    result = subprocess.run(
        [sys.executable, "-m", "dvc", "repro", "split"], cwd=repo, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return repo


def records(repo: Path, split: str) -> list[dict]:
    folder = repo / "data/training/current"
    names = (f"{split}.jsonl", f"preference_{split}.jsonl", f"kto_{split}.jsonl")
    return [r for name in names for r in read_jsonl(folder / name)]


def test_the_demo_test_split_holds_ten_tool_call_items(demo):
    """Counted in the files as the eval counts items: assistant turns with tool_calls after a
    user turn, in the test split's SFT conversations."""
    m = json.loads((demo / "metrics/split.json").read_text())
    folder = demo / "data/training/current"
    counted = {
        s: sum(tool_call_turns(r["messages"]) for r in read_jsonl(folder / f"{s}.jsonl"))
        for s in SPLITS
    }
    print(
        f"\ntool-call items per split {counted}; metrics {m['tool_call_items']}; strata "
        f"{m['strata']}; splits {m['splits']['sft']}; largest group {m['largest_group']}"
    )
    assert counted["test"] >= 10, f"only {counted['test']} tool-call items in the demo's test split"
    assert counted == m["tool_call_items"], f"metrics {m['tool_call_items']} != files {counted}"


def held_out_leaks(texts: dict[str, list[str]], threshold: float) -> tuple[int, int]:
    train = [set(char_shingles(t)) for t in texts["train"]]
    exact = near = 0
    for t in texts["val"] + texts["test"]:
        if t in set(texts["train"]):
            exact += 1
        elif any(
            len(s & o) / len(s | o) >= threshold for o in train for s in [set(char_shingles(t))]
        ):
            near += 1
    return exact, near


def test_the_demo_split_leaks_nothing_on_either_side(demo):
    """metrics/split.json says leakage 0 per side; exact Jaccard over the files agrees (held-out
    prompts and answers against train ones, at threshold + 0.1 where the banding promises it;
    pairs at the threshold itself are printed)."""
    cfg = params.load(demo / "params.yaml").split
    m = json.loads((demo / "metrics/split.json").read_text())
    prompts = {s: [first_user_turn(r) for r in records(demo, s)] for s in SPLITS}
    answers = {
        s: [
            t
            for r in records(demo, s)
            for msg in answer_messages(r)
            for t in [normalize_text(msg.get("content") or "")]
            if len(t) >= cfg.answer_min_chars
        ]
        for s in SPLITS
    }
    sure = cfg.near_threshold + 0.1
    found = {
        side: held_out_leaks(t, sure) for side, t in (("prompt", prompts), ("answer", answers))
    }
    at = {
        side: held_out_leaks(t, cfg.near_threshold)
        for side, t in (("prompt", prompts), ("answer", answers))
    }
    print(
        f"\nmetrics leakage {m['leakage_by_side']}, pinned {m['pinned_collisions']}; exact Jaccard "
        f"on the files (exact, near >= {sure:.1f}): {found}; at >= {cfg.near_threshold}: {at}"
    )
    for side in ("prompt", "answer"):
        assert m["leakage_by_side"][side] == {"exact": 0, "near": 0}, (
            f"{side}: {m['leakage_by_side']}"
        )
        assert found[side] == (0, 0), f"{side}: held-out texts equal/near train ones: {found[side]}"
