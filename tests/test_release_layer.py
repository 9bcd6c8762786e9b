"""The release layer without a model: the baseline pin (data/baseline.json) and its migration from
params.yaml, and the `baseline` stage reading a release's adapter from DVC. Real git and DVC in temp
folders; a few seconds. (javis/release/vcs.py's `dvc add` retry: tests/test_import.py.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from helpers import ROOT

from javis.core import params, stage
from javis.release import pin, vcs
from javis.release.errors import ReleaseError, ReleaseFetchError

PIN = "data/baseline.json"


def git(*args: str, cwd: Path) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def dvc(*args: str, cwd: Path) -> None:
    subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, check=True, capture_output=True)


def write_pin(folder: Path, data: dict) -> None:
    (folder / PIN).parent.mkdir(parents=True, exist_ok=True)
    (folder / PIN).write_text(json.dumps(data))


# --- the pin -----------------------------------------------------------------------------------


def test_baseline_resolution(tmp_path, monkeypatch):
    from javis.core.params import Evaluate

    monkeypatch.chdir(tmp_path)
    assert pin.resolve(Evaluate(baseline="base"), PIN) == ("base", "", "", "evaluate.baseline")
    assert pin.resolve(Evaluate(), PIN) == ("base", "", "", f"{PIN} tag"), "no pin file: the base"
    write_pin(tmp_path, {})
    assert pin.resolve(Evaluate(), PIN) == ("base", "", "", f"{PIN} tag"), "an empty pin: the base"
    write_pin(tmp_path, {"tag": "javis-v0.2"})
    assert pin.resolve(Evaluate(), PIN) == ("adapter", "javis-v0.2", "javis-v0.2", f"{PIN} tag")
    write_pin(tmp_path, {"tag": "javis-v0.2", "rev": "abc123"})
    assert pin.resolve(Evaluate(), PIN)[2:] == ("abc123", f"{PIN} rev")
    assert pin.resolve(Evaluate(baseline="javis-v0.1"), PIN) == (
        "adapter",
        "javis-v0.1",
        "javis-v0.1",
        "evaluate.baseline",
    ), "an explicit tag wins over the pin"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"rev": "abc"}', "rev set without tag"),
        ('{"tag": 3}', "tag: expected a string"),
        ('{"tag": "javis-v0.1", "commit": "abc"}', r"unknown key\(s\) \['commit'\]"),
        ("[]", "expected an object"),
        ("{tag", "not JSON"),
    ],
)
def test_a_bad_pin_file_is_an_error_naming_it(tmp_path, text, message):
    path = tmp_path / "baseline.json"
    path.write_text(text)
    with pytest.raises(ReleaseError, match=message):
        pin.read(path)


def test_the_pin_written_is_read_back(tmp_path):
    path = tmp_path / "data" / "baseline.json"
    pin.write(path, "javis-v0.3", "0" * 40)
    assert pin.read(path) == pin.BaselinePin("javis-v0.3", "0" * 40)
    assert json.loads(path.read_text()) == {"tag": "javis-v0.3", "rev": "0" * 40}


OLD_PARAMS = """# comment at the top
paths:
  split_index: data/split_index.json

evaluate:
  baseline: previous        # previous | base | a tag
  baseline_tag: "javis-v0.4"          # written by `javis release`
  baseline_rev: "{rev}"  # its commit
  max_new_tokens: 128       # greedy answer length

trigger:
  min_new_records: 50
"""


def test_an_old_params_yaml_is_migrated_to_the_pin_file(tmp_path, monkeypatch):
    """evaluate.baseline_tag/baseline_rev of an older javis: read once into data/baseline.json and
    removed from params.yaml, every other line (comments included) kept; then params.yaml loads."""
    monkeypatch.chdir(tmp_path)
    rev = "ab" * 20
    (tmp_path / "params.yaml").write_text(OLD_PARAMS.format(rev=rev))
    assert pin.migrate() is True, "an old params.yaml was not migrated"
    assert pin.read(PIN) == pin.BaselinePin("javis-v0.4", rev)
    expected = "".join(
        line
        for line in OLD_PARAMS.format(rev=rev).splitlines(keepends=True)
        if "baseline_tag" not in line and "baseline_rev" not in line
    )
    assert (tmp_path / "params.yaml").read_text() == expected, (
        "params.yaml lost more than two lines"
    )
    assert params.load().evaluate.max_new_tokens == 128, "the migrated params.yaml does not load"
    assert pin.migrate() is False, "a second migration found something to do"


def test_an_unmigrated_params_yaml_says_how_to_migrate(tmp_path, monkeypatch):
    """A stage run (`dvc repro`) before any javis command met the old keys: the error says where
    the baseline went and what to run, not just "unknown key"."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(OLD_PARAMS.format(rev="ab" * 20))
    with pytest.raises(params.ParamsError) as err:
        params.load()
    assert "data/baseline.json" in str(err.value), f"the error names no pin file: {err.value}"
    assert "javis status" in str(err.value), f"the error says nothing to run: {err.value}"


def test_migrating_empty_values_writes_no_pin(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(
        'evaluate:\n  baseline: previous\n  baseline_tag: ""\n  baseline_rev: ""\n'
    )
    assert pin.migrate() is True
    assert not (tmp_path / PIN).exists(), "empty old values wrote a pin file"
    assert (tmp_path / "params.yaml").read_text() == "evaluate:\n  baseline: previous\n"


def test_migration_keeps_a_pin_that_exists(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_pin(tmp_path, {"tag": "javis-v0.5", "rev": "cd" * 20})
    (tmp_path / "params.yaml").write_text(OLD_PARAMS.format(rev="ab" * 20))
    assert pin.migrate() is True
    assert pin.read(PIN).tag == "javis-v0.5", "the old params overwrote a newer pin"


def test_the_shipped_params_need_no_migration(tmp_path):
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    assert pin.migrate(tmp_path / "params.yaml") is False
    assert (tmp_path / "params.yaml").read_bytes() == (ROOT / "params.yaml").read_bytes()


def test_the_releasable_files_include_the_pin():
    from javis.release.transaction import RELEASABLE

    assert RELEASABLE.match(PIN), "a release would refuse its own pin file as a dirty change"
    assert RELEASABLE.match("data/split_index.json")


# --- the baseline stage ------------------------------------------------------------------------


def run_baseline():
    from stages import baseline

    return stage.run(baseline.main, "evaluate", "paths")


def test_baseline_before_the_first_release_is_the_base(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("evaluate:\n  baseline: previous\n")
    run_baseline()
    marker = orjson.loads((tmp_path / "models/baseline/javis_baseline.json").read_bytes())
    assert marker["kind"] == "base", marker
    assert "no release yet" in marker["reason"], marker
    assert os.listdir(tmp_path / "models/baseline") == ["javis_baseline.json"]


def test_baseline_takes_the_released_adapter_from_dvc(tmp_path, monkeypatch):
    """The tag's adapter, from the DVC remote (cache emptied), not the workspace's newer one."""
    remote = tmp_path / "remote"
    repo = tmp_path / "repo"
    repo.mkdir()
    git("init", "-q", cwd=repo)
    dvc("init", "-q", cwd=repo)
    dvc("remote", "add", "-d", "local", str(remote), cwd=repo)
    adapter = repo / "models/adapter"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text('{"r": 4}')
    (adapter / "adapter_model.safetensors").write_bytes(b"released weights")
    dvc("add", "models/adapter", cwd=repo)
    dvc("push", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "release", cwd=repo)
    git("tag", "javis-v0.1", cwd=repo)
    (adapter / "adapter_model.safetensors").write_bytes(b"newer weights")
    shutil.rmtree(repo / ".dvc/cache")
    monkeypatch.chdir(repo)

    (repo / "params.yaml").write_text("evaluate:\n  baseline: javis-v0.1\n")
    run_baseline()
    out = repo / "models/baseline"
    assert (out / "adapter_model.safetensors").read_bytes() == b"released weights"
    marker = orjson.loads((out / "javis_baseline.json").read_bytes())
    assert marker["kind"] == "adapter", marker
    assert marker["tag"] == "javis-v0.1", marker
    assert len(marker["rev"]) == 40, marker
    assert sorted(os.listdir(out)) == [
        "adapter_config.json",
        "adapter_model.safetensors",
        "javis_baseline.json",
    ], "the adapter's files were not put beside the marker"

    (repo / "params.yaml").write_text("evaluate:\n  baseline: previous\n")
    write_pin(repo, {"tag": "javis-v0.1", "rev": vcs.rev_parse("javis-v0.1")})
    run_baseline()
    marker = orjson.loads((out / "javis_baseline.json").read_bytes())
    assert marker["reason"].startswith(f"{PIN} rev: "), marker
    assert (out / "adapter_model.safetensors").read_bytes() == b"released weights"

    (repo / "params.yaml").write_text("evaluate:\n  baseline: javis-v0.9\n")
    with pytest.raises(ReleaseFetchError, match=r"evaluate.baseline: 'javis-v0.9' is not a tag"):
        run_baseline()
    (repo / "params.yaml").write_text("evaluate:\n  baseline: previous\n")
    write_pin(repo, {"tag": "javis-v0.1", "rev": "0123abcd"})
    with pytest.raises(ReleaseFetchError, match=rf"{PIN} rev: '0123abcd' is not a tag or commit"):
        run_baseline()
    kept = (out / "adapter_model.safetensors").read_bytes()
    assert kept == b"released weights", "a failure did not keep the last baseline"
    # Run as the DAG runs it, the stage turns the error into an exit with the message.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "stages.baseline"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{PIN} rev: '0123abcd' is not a tag or commit" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
