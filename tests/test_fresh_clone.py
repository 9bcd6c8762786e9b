"""A fresh clone's `make run` leaves `git status` clean (issue 15, item 7).

What `make run` does after its installs (`python -m javis.app.workspace`, `dvc repro`) runs here on
a tiny project: once in the project, whose lock, metrics and DVCLive files are committed as the
shipped ones are, then in a `git clone` of it, which has no DVC cache and so reruns every stage. Any
timing, date or machine-dependent field in a tracked output would show up as a modified file.
The shipped lock itself is checked against the shipped code, params and data in
tests/test_shipped_lock.py; the bundled model's numbers depend on the CPU's precision (bf16 with
AMX, else fp32), which README's "Reproducing the demo" states.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import sh, tiny_project

ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@t",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@t",
    "DVC_NO_ANALYTICS": "1",
}


def make_run(repo: Path) -> None:
    """`make run` without its installs: the workspace folders, then the whole DAG."""
    for cmd in ([sys.executable, "-m", "javis.app.workspace"], ["dvc", "repro"]):
        result = subprocess.run(cmd, cwd=repo, env=ENV, capture_output=True, text=True)
        assert result.returncode == 0, f"{cmd}:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"


def porcelain(repo: Path) -> list[str]:
    return sh(repo, "git", "status", "--porcelain", "--untracked-files=all").stdout.splitlines()


@pytest.mark.slow
def test_a_fresh_clones_run_leaves_git_status_clean(tmp_path, tiny_base):
    origin = tiny_project(tmp_path / "origin", tiny_base)
    make_run(origin)
    sh(origin, "git", "add", "-A")
    sh(
        origin,
        "git",
        "commit",
        "-qm",
        "the lock, metrics and DVCLive files of the shipped defaults",
    )
    assert porcelain(origin) == [], "everything a run writes is committed or ignored"
    assert (origin / "logs" / "timings" / "train.json").exists(), "timings are written, untracked"

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True, env=ENV)
    assert not (clone / "models" / "adapter").exists(), "the clone has no outputs: every stage runs"
    make_run(clone)
    assert (clone / "models" / "adapter").is_dir(), "the clone trained its own adapter"
    changed = porcelain(clone)
    diff = sh(clone, "git", "diff").stdout
    assert changed == [], f"a fresh clone's run changed tracked files:\n{changed}\n{diff[-4000:]}"
