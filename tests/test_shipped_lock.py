"""The committed `dvc.lock` is what the shipped code, params and samples produce.

A fresh clone's `make run` used to rewrite the lock and the metrics because they came from older
params and data. Here, in a copy of the project with the committed lock: no stage's code, params
or input files differ from what the lock recorded, and the data stages, rerun, give exactly the
locked outputs. (The model stages' outputs depend on the machine's precision, bf16 or fp32, and
record timings: their lock entries are checked for inputs, not outputs.)
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import yaml
from helpers import ROOT, copy_project

DATA_STAGES = ("collect", "clean", "dedupe", "split")
# inputs that come from git (or the samples), not from an earlier stage's output
SOURCES = (
    "javis/",
    "stages/",
    "examples",
    "data/split_index.json",
    "data/baseline.json",
    "data/forgotten.jsonl",
    "data/raw",
    "data/feedback",
)


def dvc(repo, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True, text=True
    )
    assert result.returncode == 0, f"dvc {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    repo = copy_project(tmp_path_factory.mktemp("lock") / "repo")
    shutil.copy(ROOT / "dvc.lock", repo / "dvc.lock")
    return repo


def test_the_lock_records_the_shipped_code_params_and_inputs(clone):
    status = yaml.safe_load(dvc(clone, "status", "--json")) or {}
    stale = {}
    for stage, changes in status.items():
        for change in changes:
            if not isinstance(change, dict):
                continue
            params = change.get("changed params")
            if params:
                stale.setdefault(stage, []).append(f"params {params}")
            for path, how in (change.get("changed deps") or {}).items():
                if path.startswith(SOURCES):
                    stale.setdefault(stage, []).append(f"{path} {how}")
    assert stale == {}, (
        f"the committed dvc.lock does not match the shipped code/params/inputs: {stale}; "
        "run `make run` and commit dvc.lock and metrics/"
    )


def test_the_data_stages_give_the_locked_outputs(clone):
    locked = yaml.safe_load((ROOT / "dvc.lock").read_text(encoding="utf-8"))["stages"]
    dvc(clone, "repro", *DATA_STAGES)
    rebuilt = yaml.safe_load((clone / "dvc.lock").read_text(encoding="utf-8"))["stages"]
    for stage in DATA_STAGES:
        want = {o["path"]: o["md5"] for o in locked[stage]["outs"] if "metrics/" not in o["path"]}
        got = {o["path"]: o["md5"] for o in rebuilt[stage]["outs"] if "metrics/" not in o["path"]}
        assert got == want, f"{stage}: the shipped inputs give other outputs than dvc.lock records"
