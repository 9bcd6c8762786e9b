"""The rough edges a first user hits in the CLI (issue 15, item 6), on the whole DAG with the tiny
model in a temp git + DVC repository: three releases, then compare against the base, `versions` at
80 columns, rollback walking back, step numbers and times of `javis release`, `status` after a
release, after new data and while a release runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import run_in_terminal, sh, tiny_project, write_jsonl

from javis.release import vcs


def javis(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "javis.app.cli", *args], cwd=repo, capture_output=True, text=True
    )


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, (
        f"{result.args}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


def week(n: int) -> list[dict]:
    words = ["빨래", "장보기", "운동", "독서", "청소", "요리", "산책", "공부", "정리", "통화"]
    return [
        {
            "messages": [
                {"role": "user", "content": f"{n}주차 할 일 {i}번째 항목: {w}"},
                {
                    "role": "assistant",
                    "content": f"좋아요, {w} 일을 {n}주차 목록에 {i}번으로 넣었어요.",
                },
            ]
        }
        for i, w in enumerate(words * 6)
    ]


@pytest.fixture(scope="module")
def three(tmp_path_factory, tiny_base):
    """Three releases: v0.1 on the examples, v0.2 and v0.3 each after 60 new conversations."""
    root = tmp_path_factory.mktemp("rough")
    repo = tiny_project(root / "repo", tiny_base)
    ok(javis(repo, "init", "--remote", str(root / "store")))
    sh(repo, "git", "commit", "-qam", "remote")
    out = {"repo": repo, "root": root}
    out["release1"] = ok(javis(repo, "release", "-m", "first version"))
    out["status1"] = ok(javis(repo, "status"))
    for n in (2, 3):
        write_jsonl(repo / f"examples/raw/week{n}.jsonl", week(n))
        sh(repo, "git", "add", f"examples/raw/week{n}.jsonl")
        sh(repo, "git", "commit", "-qm", f"week {n} data")
        ok(javis(repo, "release", "-m", f"week {n}"))
    return out


def test_release_numbers_its_steps_from_1_and_times_them(three):
    out = three["release1"]
    steps = [line for line in out.splitlines() if line.startswith("step ")]
    numbers = [line.split(":")[0] for line in steps]
    assert numbers == [f"step {n}/6" for n in range(1, 7)], f"steps printed: {steps}"
    assert steps[0] == "step 1/6: clean workspace", f"the first step: {steps[0]}"
    assert "gate against the bare base model" in steps[2], f"step 3 says its baseline: {steps[2]}"
    summary = out.split("time per step:", 1)
    assert len(summary) == 2, f"no time summary at the end:\n{out[-2000:]}"
    timed = [line.split()[0] for line in summary[1].strip().splitlines()]
    assert timed == ["1/6", "2/6", "3/6", "4/6", "5/6", "6/6", "total"], f"timed: {summary[1]}"
    assert "javis compare base javis-v0.1" in out, f"the first release's compare hint:\n{out}"


def test_status_right_after_a_release_has_no_pending_pins(three):
    status = three["status1"]
    pipeline = next(line for line in status.splitlines() if line.startswith("pipeline: "))
    assert "out of date" not in pipeline, f"the follow-up pins look like pending work: {pipeline}"
    assert pipeline.startswith("pipeline: up to date"), pipeline
    assert "ready for the next version" in pipeline, pipeline
    assert "pinned to javis-v0.1" in pipeline, pipeline


def test_compare_base_uses_the_baseline_side_of_the_run_that_scored_it(three):
    repo = three["repo"]
    first = json.loads(sh(repo, "git", "show", "javis-v0.1:metrics/eval.json").stdout)
    out = ok(javis(repo, "compare", "base", "v0.1", "--examples", "1"))
    assert "base vs javis-v0.1" in out, out
    loss_row = next(line for line in out.splitlines() if "│ loss " in line)
    cells = [c.strip() for c in loss_row.split("│") if c.strip()]
    assert cells[1] == f"{first['baseline']['loss']:.4f}", f"base loss: {loss_row}"
    assert cells[2] == f"{first['candidate']['loss']:.4f}", f"v0.1 loss: {loss_row}"
    assert "javis-v0.1's own evaluation run" in out, f"where base comes from is not said:\n{out}"
    later = ok(javis(repo, "compare", "v0.3", "base"))
    assert "javis-v0.3 vs base" in later, later
    assert "as scored in javis-v0.1's evaluation run" in later, f"base of a later release:\n{later}"
    both = javis(repo, "compare", "base", "base")
    assert both.returncode == 2, both.stdout + both.stderr
    assert "compare base with a release" in both.stderr, both.stderr


def test_versions_fits_80_columns_and_never_cuts_a_version_name(three):
    repo = three["repo"]
    code, out = run_in_terminal([sys.executable, "-m", "javis.app.cli", "versions"], repo, 80)
    assert code == 0, out
    too_long = [line for line in out.splitlines() if len(line) > 80]
    assert too_long == [], f"lines wider than 80 columns:\n{out}"
    assert "…" not in out, f"something was cut:\n{out}"
    for name in ("javis-v0.1", "javis-v0.2", "javis-v0.3"):
        rows = [line for line in out.splitlines() if line.split()[:1] == [name]]
        assert len(rows) == 1, f"{name} is not whole at the start of one row:\n{out}"
    code, wide = run_in_terminal([sys.executable, "-m", "javis.app.cli", "versions"], repo, 200)
    assert "user satisfaction" in wide, f"a wide terminal shows every column:\n{wide}"
    piped = ok(javis(repo, "versions"))
    assert "user satisfaction" in piped, f"a pipe gets every column:\n{piped}"


def test_rollback_walks_back_and_deploy_goes_forward(three):
    repo = three["repo"]
    current = repo / "models/current"
    ok(javis(repo, "deploy"))
    assert current.resolve().name == "javis-v0.3", "deploy without a version: the newest"
    ok(javis(repo, "rollback"))
    assert current.resolve().name == "javis-v0.2", "the first rollback"
    ok(javis(repo, "rollback"))
    assert current.resolve().name == "javis-v0.1", "the second rollback goes back again"
    last = javis(repo, "rollback")
    assert last.returncode == 2, last.stdout + last.stderr
    assert "javis-v0.1 is the oldest release: nothing older" in last.stderr, last.stderr
    assert current.resolve().name == "javis-v0.1", "a refused rollback switched"
    ok(javis(repo, "deploy", "v0.2"))
    assert current.resolve().name == "javis-v0.2", "deploy goes forward"
    ok(javis(repo, "deploy"))
    assert current.resolve().name == "javis-v0.3", "deploy goes forward to the newest"


def test_status_counts_again_when_the_inputs_changed(three):
    repo = three["repo"]
    before = ok(javis(repo, "status"))
    assert "new records since the last release: 0 " in before, before
    assert "inputs changed" not in before, f"nothing changed, yet it recounted:\n{before}"
    # What `javis import` does: a new file in data/raw, then `dvc add data/raw`.
    write_jsonl(repo / "data/raw/chats.jsonl", week(4))
    sh(repo, sys.executable, "-m", "dvc", "add", "-q", "data/raw")
    after = ok(javis(repo, "status"))
    assert "inputs changed since the last count (data/raw)" in after, after
    new = next(line for line in after.splitlines() if line.startswith("new records since"))
    assert "new records since the last release: 0 " not in new, f"a stale count: {new}"
    again = ok(javis(repo, "status"))
    assert "inputs changed" not in again, f"counted again with nothing new:\n{again}"


def test_dvc_lock_errors_name_who_holds_the_lock():
    from dvc.lock import LockError

    busy = LockError(
        "'data/collected' is busy, it is being blocked by:\n  (PID 4242): dvc repro\n\n"
        "If there are no processes with such PIDs, you can manually remove '.dvc/tmp/rwlock'"
    )
    assert vcs.dvc_lock_holder(busy) == "pid 4242 (dvc repro)", vcs.dvc_lock_holder(busy)
    assert vcs.dvc_lock_holder(ValueError("no such file")) is None, "not a lock error"


def test_status_during_a_release_says_a_release_runs_with_its_pid(three):
    """Last: it kills the release it starts."""
    repo = three["repo"]
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "week 4 data")
    proc = subprocess.Popen(
        [sys.executable, "-m", "javis.app.cli", "release", "-m", "week 4"],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        lock = repo / ".git/javis-release.lock"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and "dvc repro" not in (
            lock.read_text() if lock.exists() else ""
        ):
            assert proc.poll() is None, f"the release ended early (exit {proc.returncode})"
            time.sleep(0.2)
        status = javis(repo, "status")
        second = javis(repo, "release", "-m", "again")
        still = proc.poll() is None
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert still, "the release finished before status was asked: nothing was tested"
    text = status.stdout + status.stderr
    assert status.returncode == 0, text
    assert "LockError" not in text, f"a raw DVC lock error:\n{text}"
    assert "is busy" not in text, f"a raw DVC lock error:\n{text}"
    assert f"a release is running (pid {proc.pid}" in text, text
    assert second.returncode == 2, second.stdout + second.stderr
    assert f"(pid {proc.pid}" in second.stderr, f"a second release is not refused:\n{second.stderr}"
    after = ok(javis(repo, "status"))
    assert "RELEASE RUNNING" not in after, f"a killed release's lock is taken as running:\n{after}"
