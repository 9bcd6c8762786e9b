"""The gate blocks a candidate trained on shuffled answers (bundled SmolLM2-135M, whole DAG, slow).

The data is a bilingual note-taking task whose every answer repeats the details of its question, so
what a model learns from true pairs (answer about *this* question) shows on unseen test questions.
v0.1 and the candidate train from the same base with the same params for the same number of steps;
only the pairing of questions and answers in the training split differs. The candidate is judged
against v0.1 by the shipped primary rule, `quality` (LOSS_GATE: 8-token answers say nothing about
style, tools or identity, so the guardrails are off) and must be refused: no commit, no tag.
(A few steps on the bundled examples cannot show this: there the answers' style and length, which
shuffling keeps, are learned faster than the question -> answer link; measured in session 2.)
"""

from __future__ import annotations

import json
import random
import sys

import pytest
from helpers import (
    BUNDLED_EVAL,
    LOSS_GATE,
    TINY_GATE,
    copy_project,
    set_params,
    sh,
    shuffle_trained_answers,
    small_evalsets,
    write_jsonl,
)

from javis.core import params

pytestmark = pytest.mark.slow

ITEMS_EN = [
    "milk",
    "eggs",
    "rice",
    "apples",
    "coffee",
    "bread",
    "tofu",
    "onions",
    "batteries",
    "tape",
    "stamps",
    "socks",
]
ITEMS_KO = [
    "우유",
    "달걀",
    "쌀",
    "사과",
    "커피",
    "식빵",
    "두부",
    "양파",
    "건전지",
    "테이프",
    "우표",
    "양말",
]
DAYS_EN = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
DAYS_KO = ["월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일"]


def note_records(n: int = 100, seed: int = 7) -> list[dict]:
    """n distinct note requests (half Korean) whose answers repeat the three items and the day."""
    rng, seen, rows = random.Random(seed), set(), []
    while len(rows) < n:
        ko = len(rows) % 2 == 1
        pick = tuple(sorted(rng.sample(range(12), 3))) + (rng.randrange(7),)
        if (ko, pick) in seen:
            continue
        seen.add((ko, pick))
        items, day = ITEMS_KO if ko else ITEMS_EN, (DAYS_KO if ko else DAYS_EN)[pick[3]]
        a, b, c = (items[i] for i in pick[:3])
        if ko:
            q, ans = (
                f"메모해 줘: {day}에 {a}, {b}, {c} 사기.",
                f"메모했어요: {day}에 {a}, {b}, {c} 사기. 그날 아침에 알려 드릴게요.",
            )
        else:
            q, ans = (
                f"Please note: buy {a}, {b} and {c} on {day}.",
                f"Noted: buy {a}, {b} and {c} on {day}. I'll remind you that morning.",
            )
        rows.append(
            {
                "id": f"note-{len(rows):03d}",
                "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": ans}],
            }
        )
    return rows


@pytest.fixture(scope="module")
def shuffled(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("shuffled")
    repo = copy_project(root / "repo")
    small_evalsets(repo)
    sh(repo, "git", "rm", "-rq", "examples/raw", "examples/feedback")
    write_jsonl(repo / "examples/raw/notes.jsonl", note_records())
    set_params(
        repo,
        train={"max_steps": 10, "batch_size": 4, "max_length": 192, "save_steps": 100},
        evaluate={"max_examples": 0, "max_new_tokens": 8, "batch_size": 8, **BUNDLED_EVAL},
        release=TINY_GATE,
        collect={"persona_examples": False},  # the note-taking data only
    )
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "note-taking data; short training")
    cli = [sys.executable, "-m", "javis.app.cli"]
    sh(repo, *cli, "init", "--remote", str(root / "store"))
    sh(repo, "git", "commit", "-qam", "remote")
    sh(repo, *cli, "release", "-m", "true answers")
    first = json.loads((repo / "metrics/eval.json").read_text())
    set_params(repo, release={"gate": LOSS_GATE})
    moved = shuffle_trained_answers(repo, seed=1)
    sh(repo, "git", "commit", "-qam", "the same data with the training answers shuffled")
    head = sh(repo, "git", "rev-parse", "HEAD").stdout.strip()
    result = sh(repo, *cli, "release", "-m", "shuffled", check=False)
    return {"repo": repo, "first": first, "moved": moved, "head": head, "result": result}


def test_a_candidate_trained_on_shuffled_answers_is_blocked(shuffled):
    repo, result = shuffled["repo"], shuffled["result"]
    out = result.stdout + result.stderr
    ev = json.loads((repo / "metrics/eval.json").read_text())
    first, wr = shuffled["first"], ev["win_rate"]
    print(
        f"\nv0.1 (true answers) vs base: loss {first['candidate']['loss']:.4f} vs {first['baseline']['loss']:.4f}"
        f"\nshuffled ({shuffled['moved']} answers moved) vs v0.1: loss {ev['candidate']['loss']:.4f} vs "
        f"{ev['baseline']['loss']:.4f} (delta {ev['delta']['loss']:+.4f}), wins {wr['wins']}/{wr['n']} "
        f"[{wr['ci95_low']:.3f}, {wr['ci95_high']:.3f}]"
    )
    assert shuffled["moved"] >= 60
    assert first["delta"]["loss"] < 0  # v0.1 learned from the true pairs
    assert ev["baseline_source"] == "javis-v0.1", ev["baseline_source"]
    assert ev["delta"]["loss"] > params.Gate().loss_margin, ev["delta"]
    assert result.returncode != 0, out[-3000:]
    assert "gate FAIL quality" in out, out[-3000:]
    assert "nothing was committed or tagged" in out, out[-3000:]
    assert "records to review" in out, out[-3000:]
    assert sh(repo, "git", "tag", "--list", "javis-v*").stdout.split() == ["javis-v0.1"]
    assert sh(repo, "git", "rev-parse", "HEAD").stdout.strip() == shuffled["head"]
