"""`javis forget`: exactly the asked conversation and what was derived from it, never by first user
turn; re-imports stay forgotten; satisfaction leaves forgotten ratings out; old entries still apply;
right after an import the collect stage runs first; releases that saw it are refused and purged."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import (
    copy_project,
    read_jsonl,
    set_params,
    sh,
    two_releases,
    write_jsonl,
)

from javis.core import params
from javis.data import forget as fg
from javis.data.records import group_key
from javis.release import record

WHO = "Who are you?"


def u(text: str) -> dict:
    return {"role": "user", "content": text}


def a(text: str) -> dict:
    return {"role": "assistant", "content": text}


def filler(n: int) -> list[dict]:
    return [
        {"messages": [u(f"What is on the list for day {i}?"), a(f"Day {i}: laundry, then a walk.")]}
        for i in range(n)
    ]


def rating(line_id: str, messages: list[dict], response: str, **extra) -> dict:
    return {
        "id": line_id,
        "created_at": "2026-01-01T10:00:00.000Z",
        "model_version": "javis-v0.1",
        "messages": messages,
        "response": response,
        **extra,
    }


def stage(*names: str) -> None:
    """`python -m stages.<name>` in the cwd's project, as `dvc repro` runs it."""
    for name in names:
        result = subprocess.run(
            [sys.executable, "-m", f"stages.{name}"], capture_output=True, text=True
        )
        assert result.returncode == 0, f"stage {name} failed:\n{result.stderr[-3000:]}"


def javis(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh(repo, sys.executable, "-m", "javis.app.cli", *args, check=check)


def collected() -> list[dict]:
    return [
        r for k in ("sft", "preference", "kto") for r in read_jsonl(f"data/collected/{k}.jsonl")
    ]


def text_of(records: list[dict]) -> str:
    return json.dumps(records, ensure_ascii=False)


def forgotten_rejects() -> set[tuple[str, int]]:
    return {
        (e["file"], e["line"])
        for e in read_jsonl("data/rejected/collect.jsonl")
        if e["reason"].startswith("forgotten")
    }


def accounted(name: str) -> None:
    m = json.loads(Path(f"metrics/{name}.json").read_text())
    assert m["in"] == m["kept"] + m["rejected"], f"{name}: in = kept + rejected: {m}"


# Two conversations that start with the same question and then differ.
A = [
    u(WHO),
    a("I'm JAVIS, and I keep Minjun's garden notes."),
    u("What did we plant in spring?"),
    a("We planted basil and tomatoes in April."),
]
B = [
    u(WHO),
    a("I'm JAVIS, Minjun's helper for travel plans."),
    u("Where are we flying next?"),
    a("Maybe somewhere warm."),
]
A_FIX = "We planted basil and cherry tomatoes on April 12."
B_FIX = "To Jeju on the 3rd of May: the tickets are booked."
FEEDBACK = "data/feedback/feedback-2026-01-01.jsonl"


@pytest.fixture
def two_who(workdir):
    """data/raw with filler and conversations A and B (same first turn); data/feedback with a
    rating of each one's first answer and a /fix of each one's second answer."""
    write_jsonl(
        workdir / "data/raw/chats.jsonl",
        filler(10) + [{"id": "conv-a", "messages": A}, {"id": "conv-b", "messages": B}],
    )
    write_jsonl(
        workdir / FEEDBACK,
        [
            rating("fb-a1", A[:1], A[1]["content"], rating="good", score=4),
            rating("fb-a2", A[:3], A[3]["content"], rating="bad", correction=A_FIX),
            rating("fb-b1", B[:1], B[1]["content"], rating="good"),
            rating("fb-b2", B[:3], B[3]["content"], rating="bad", correction=B_FIX),
        ],
    )
    stage("collect")
    return workdir


def test_forgetting_one_who_are_you_keeps_the_other_and_later_ones(two_who):
    sat = record.user_satisfaction("javis-v0.1", Path("data/feedback"))
    assert sat["n"] == 4, f"before: four ratings of javis-v0.1 count: {sat}"
    entry = fg.forget(params.load(), "conv-a", None, "privacy", "tester")
    print(
        "forgotten entry:", {k: v if not isinstance(v, list) else len(v) for k, v in entry.items()}
    )
    assert entry["inputs"] == 3, f"A's log line and the 2 ratings of exchanges in A: {entry}"
    assert entry["ratings"] == 2, f"2 of them are feedback lines: {entry}"
    assert "groups" not in entry, "a new entry never forgets by first user turn"
    stored = Path("data/forgotten.jsonl").read_text()
    for word in ("garden", "basil", WHO, "conv-a", "fb-a1"):
        assert word not in stored, f"forgotten.jsonl holds ids and hashes only, not {word!r}"

    stage("collect")
    accounted("collect")
    kept = collected()
    for word in ("garden", "basil", "cherry tomatoes"):
        assert word not in text_of(kept), f"nothing of A (nor its /fix) is collected: {word!r}"
    assert any(r["meta"].get("orig_id") == "conv-b" for r in kept), "B's log line stays"
    assert any(r["meta"].get("orig_id") == "fb-b1" for r in kept), "B's rating stays"
    b_pairs = [r for r in kept if r["meta"].get("orig_id") == "fb-b2" and "chosen" in r]
    assert len(b_pairs) == 1, "B's /fix pair (its regression case) stays"
    b_records = [r for r in kept if r["meta"].get("orig_id") in ("fb-b1", "fb-b2")]
    assert len(b_records) == 6, f"B's feedback yields its 6 records as before: {len(b_records)}"
    assert forgotten_rejects() == {
        ("data/raw/chats.jsonl", 11),
        (FEEDBACK, 1),
        (FEEDBACK, 2),
    }, "A's log line and its two ratings are rejected as forgotten, with file and line"

    sat = record.user_satisfaction("javis-v0.1", Path("data/feedback"))
    assert sat["n"] == 2, f"the two forgotten ratings of A no longer count: {sat}"
    assert sat["mean"] == 3.0, f"B's 👍 (5) and 👎 (1) remain: {sat}"

    # Later: a third conversation starting the same way, A imported again, A's answer rated again.
    later = Path("later.jsonl")
    write_jsonl(
        later,
        [
            {"messages": [u(WHO), a("I'm JAVIS; today I can help with the grocery list.")]},
            {"messages": A},
        ],
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "javis.app.cli",
            "import",
            str(later),
            "--source",
            "later",
            "--no-dvc",
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "imported 2" in out.stdout, f"both lines are imported: {out.stdout}"
    write_jsonl(
        Path("data/feedback/feedback-2026-01-02.jsonl"),
        [rating("fb-a2-again", A[:3], A[3]["content"], rating="good")],
    )
    stage("collect")
    accounted("collect")
    kept = collected()
    assert "grocery list" in text_of(kept), "a later 'Who are you?' conversation stays"
    assert "garden" not in text_of(kept), "A imported again stays forgotten"
    assert "basil" not in text_of(kept), "a new rating of an answer in A stays forgotten"
    rejects = forgotten_rejects()
    reimport = {(f, n) for f, n in rejects if f.startswith("data/raw/later-")}
    assert len(reimport) == 1, f"the re-import is counted as forgotten: {rejects}"
    assert next(iter(reimport))[1] == 2, f"with its line: {rejects}"
    assert ("data/feedback/feedback-2026-01-02.jsonl", 1) in rejects, (
        f"so is the new rating: {rejects}"
    )
    sat = record.user_satisfaction("javis-v0.1", Path("data/feedback"))
    assert sat["n"] == 2, f"the new rating of A's answer doesn't count either: {sat}"

    # Down the pipeline: A's pair, KTO and regression case are gone; B's are there.
    stage("clean", "dedupe", "split")
    training = Path("data/training/current")
    regression = (training / "regression.jsonl").read_text(encoding="utf-8")
    assert B_FIX in regression, "B's correction is a regression case"
    assert A_FIX not in regression, "A's correction is no regression case"
    trained = "".join(p.read_text(encoding="utf-8") for p in sorted(training.glob("*.jsonl")))
    assert "garden" not in trained, "no split holds A"
    assert "travel plans" in trained, "B is trained on"


def test_forget_removes_a_conversation_and_everything_derived(workdir):
    """Moved from tests/test_data_stages.py. The feedback now rates an answer of conv-x itself (a
    feedback line about another answer to the same question is another conversation: it stays)."""
    secret_q = "Please remember my ex's address for the letter"
    conv = [
        u(secret_q),
        a("I've noted the address for your letter."),
        u("And the zip code?"),
        a("No."),
    ]
    write_jsonl(
        workdir / "data/raw/a.jsonl",
        filler(10) + [{"id": "conv-x", "messages": conv}],
    )
    write_jsonl(
        workdir / "data/feedback/f.jsonl",
        [
            {
                "id": "fb-x",
                "messages": conv[:3],
                "response": "No.",
                "rating": "bad",
                "correction": "Sure, I'll keep it for the letter.",
            }
        ],
    )
    stage("collect")
    entry = fg.forget(params.load(), "conv-x", None, "asked to", "tester")
    # log SFT (cut before the bad answer) + the feedback's SFT, preference and 2 KTO
    assert len(entry["ids"]) == 5, (
        f"log SFT + feedback SFT, preference and 2 KTO are forgotten: {entry['ids']}"
    )
    assert entry["conversations"], "the entry names the conversations by hash"
    stage("collect")
    text = "".join(
        (workdir / f"data/collected/{k}.jsonl").read_text() for k in ("sft", "preference", "kto")
    )
    assert "ex's address" not in text, "nothing of the conversation is collected"
    rejected = (workdir / "data/rejected/collect.jsonl").read_text()
    assert "ex's address" not in rejected, (
        "a forgotten conversation's content is not kept in the rejects"
    )
    assert rejected.count("forgotten") == 2, "both forgotten input lines are rejected as forgotten"
    stored = (workdir / "data/forgotten.jsonl").read_text()
    # hashes and ids only
    assert "address" not in stored, "forgotten.jsonl holds no content"
    assert "conv-x" not in stored, "forgotten.jsonl holds no input ids"
    accounted("collect")
    with pytest.raises(ValueError, match="no collected record matches"):
        fg.forget(params.load(), "nope", None, "", "t")
    with pytest.raises(ValueError, match="names is not there"):
        fg.forget(params.load(), "conv-x", None, "", "t")


def test_old_entries_by_first_turn_are_still_applied(two_who):
    """Entries written before issue 15 hold `groups` (first-turn hashes): read and applied as then."""
    old = {"at": "2025-12-01T00:00:00+00:00", "by": "t", "reason": "", "ids": []}
    old["groups"] = [group_key({"messages": [u(WHO)]})]
    Path("data/forgotten.jsonl").write_text(json.dumps(old) + "\n")
    assert fg.old_style_entries("data/forgotten.jsonl") == 1, "the old entry is recognised"
    stage("collect")
    kept = collected()
    assert "garden" not in text_of(kept), "the old entry still leaves A out"
    assert "travel plans" not in text_of(kept), "and, as it did, every 'Who are you?' conversation"
    sat = record.user_satisfaction("javis-v0.1", Path("data/feedback"))
    assert sat["n"] == 0, f"the ratings it leaves out of training don't count either: {sat}"


def test_forget_match_right_after_an_import_runs_collect_first(tmp_path):
    """In a real git + DVC repo: `javis import`, then at once `javis forget --match`: the collect
    stage (`dvc repro collect`) runs first, so the new conversation is found."""
    repo = copy_project(tmp_path / "repo")
    mine = write_jsonl(
        tmp_path / "mine.jsonl",
        [
            {"messages": [u(WHO), a("I'm JAVIS, and I remember the anniversary dinner.")]},
            {"messages": [u(WHO), a("I'm JAVIS, the one who books your dentist.")]},
        ],
    )
    javis(repo, "import", str(mine), "--source", "mine")
    out = javis(repo, "forget", "--match", "anniversary dinner")
    print(out.stdout)
    assert "running `dvc repro collect` first" in out.stdout, out.stdout + out.stderr
    assert "forgotten: " in out.stdout, out.stdout + out.stderr
    entries = read_jsonl(repo / "data/forgotten.jsonl")
    assert len(entries) == 1, f"one removal recorded: {entries}"
    assert entries[0]["inputs"] == 1, f"only the matching conversation: {entries[0]}"
    again = javis(repo, "forget", "--match", "anniversary dinner", check=False)
    assert "running `dvc repro collect`" not in again.stdout, "collect is up to date now"
    assert again.returncode == 2, "forgetting it again says it is forgotten already"
    assert "forgotten already" in again.stderr, again.stderr
    sh(repo, sys.executable, "-m", "dvc", "repro", "collect")
    kept = [r for k in ("sft", "kto") for r in read_jsonl(repo / f"data/collected/{k}.jsonl")]
    assert "dentist" in text_of(kept), "the other 'Who are you?' conversation stays"
    assert "anniversary" not in text_of(kept), "the matching one is left out"


# --- releases --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def released(tmp_path_factory, tiny_base):
    """A tiny project with two releases (tests/helpers.py `two_releases`): this module's own copy,
    since forgetting with --purge deletes stored objects."""
    return two_releases(tmp_path_factory.mktemp("forget_releases"), tiny_base)["repo"]


def test_forget_refuses_init_from_and_purges_old_releases(released):
    """Moved from tests/test_versions.py. It deletes stored data objects of the releases."""
    repo = released
    forgotten = repo / "data/forgotten.jsonl"
    before = forgotten.read_text()
    out = javis(repo, "forget", "conv-001", "--reason", "privacy").stdout
    assert "older releases still hold them: javis-v0.1, javis-v0.2" in out, out
    set_params(repo, train={"init_from": "javis-v0.2"})
    refused = sh(repo, sys.executable, "-m", "dvc", "repro", "init", check=False)
    assert refused.returncode != 0, "continuing from a release that saw it was not refused"
    assert "conversation you asked to forget" in refused.stdout + refused.stderr, refused.stderr
    sh(repo, "git", "checkout", "--", "params.yaml")
    forgotten.write_text(before)
    out = javis(repo, "forget", "conv-001", "--purge").stdout
    assert "releases no longer restorable: javis-v0.1, javis-v0.2" in out, out
    deleted = int(out.split("purged: ")[1].split(" ")[0])
    assert deleted > 0, out
    from dvc.api import DVCFileSystem

    with pytest.raises(Exception):  # noqa: B017 - dvc raises its own kinds for a missing object
        DVCFileSystem(str(repo), rev="javis-v0.1").read_bytes("data/training/current/train.jsonl")
