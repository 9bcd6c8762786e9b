"""The score_baseline stage in a real DVC pipeline (tiny model): retraining the candidate reruns
evaluate, never the baseline's scoring; evaluate then reuses the cached scores."""

from __future__ import annotations

import json
import sys

from helpers import set_params, sh, tiny_project


def _changed(repo) -> set[str]:
    out = sh(repo, sys.executable, "-m", "dvc", "status", "--json").stdout
    return {k.split(":")[-1] for k in json.loads(out or "{}")}


def test_a_retrained_candidate_does_not_rescore_the_baseline(tmp_path, tiny_base):
    repo = tiny_project(tmp_path / "repo", tiny_base)
    sh(repo, sys.executable, "-m", "dvc", "repro")
    assert (repo / "metrics/baseline_scores.jsonl").is_file(), "score_baseline ran"
    set_params(repo, train={"max_steps": 3})
    changed = _changed(repo)
    assert "train" in changed, changed
    assert "score_baseline" not in changed, f"the baseline and the items are unchanged: {changed}"
    run = sh(repo, sys.executable, "-m", "dvc", "repro")
    out = run.stdout + run.stderr
    assert "Stage 'score_baseline' didn't change, skipping" in out, out[-3000:]
    assert "Running stage 'evaluate'" in out, out[-3000:]
    assert "the baseline is scored in this run" not in out, "evaluate reused the cached scores"
    ev = json.loads((repo / "metrics/eval.json").read_text())
    assert ev["n"]["loss"] > 0, ev["n"]
