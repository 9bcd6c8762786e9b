"""deploy/sky/train.yaml, read by SkyPilot's own parser (`sky.Task.from_yaml`) in the separate venv
.ci/run makes (SKY_VENV, default ~/.cache/javis-skyvenv: skypilot is never installed in the project's venv);
and `javis train --sky` without SkyPilot installed is refused with what to install. Launching the
task needs a RunPod account: never run here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, tiny_project

SKY_PYTHON = (
    Path(os.environ.get("SKY_VENV", Path.home() / ".cache" / "javis-skyvenv")) / "bin" / "python"
)
TASK = ROOT / "deploy" / "sky" / "train.yaml"

READ = """
import json, sys
import sky
task = sky.Task.from_yaml(sys.argv[1])
res = sorted(task.resources, key=lambda r: str(r.accelerators))
print(json.dumps({
    "version": sky.__version__,
    "clouds": sorted({str(r.cloud) for r in res}),
    "accelerators": [next(iter(r.accelerators)) for r in res],
    "envs": sorted(task.envs),
    "secrets": sorted(task.secrets),
    "run": task.run,
    "setup": task.setup,
}))
"""


@pytest.fixture(scope="module")
def task() -> dict:
    if not SKY_PYTHON.exists():
        pytest.skip(f"no SkyPilot venv at {SKY_PYTHON.parent.parent} (.ci/run makes it; SKY_VENV)")
    out = subprocess.run(
        [str(SKY_PYTHON), "-c", READ, str(TASK)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, f"sky.Task.from_yaml refused {TASK}:\n{out.stderr[-3000:]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_skypilot_is_the_pinned_version(task):
    pin = (ROOT / ".ci" / "run").read_text()
    assert f"skypilot[runpod]=={task['version']}" in pin, f".ci/run pins another {task['version']}"


def test_task_runs_on_runpod(task):
    assert task["clouds"] == ["RunPod"], f"the task's clouds: {task['clouds']}"


def test_task_asks_for_a_gpu(task):
    assert task["accelerators"], "the task asks for no accelerator"


def test_task_takes_the_commit_and_repository(task):
    missing = {"JAVIS_COMMIT", "JAVIS_GIT_URL"} - set(task["envs"])
    assert not missing, f"the task lacks the envs javis train --sky passes: {missing}"


def test_task_carries_the_dvc_remote_keys_as_secrets(task):
    assert "AWS_SECRET_ACCESS_KEY" in task["secrets"], f"secrets: {task['secrets']}"


@pytest.mark.parametrize(
    "line",
    [
        'git checkout --quiet --force --detach "$JAVIS_COMMIT"',
        "python -m dvc pull",
        "python -m dvc repro train evaluate",
        "python -m dvc push train evaluate",
    ],
)
def test_task_runs_the_pipeline_steps(task, line):
    assert line in task["run"], f"the task's run lacks {line!r}:\n{task['run']}"


def test_task_installs_the_project(task):
    assert "pip install -q -e ." in task["setup"], f"setup:\n{task['setup']}"


def test_sky_refused_without_skypilot(tmp_path, tiny_base):
    repo = tiny_project(tmp_path / "repo", tiny_base)
    env_path = os.path.dirname(sys.executable) + os.pathsep + "/usr/bin:/bin"
    out = subprocess.run(
        [sys.executable, "-m", "javis.app.cli", "train", "--sky", "gpu1"],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": env_path},
    )
    assert out.returncode == 2, f"--sky without SkyPilot was not refused:\n{out.stderr[-2000:]}"
    assert "skypilot[runpod]==" in out.stderr, (
        f"the refusal does not say what to install: {out.stderr}"
    )
