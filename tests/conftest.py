"""Shared fixtures: a tiny ChatML tokenizer and a tiny random Llama base, made here, never downloaded."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
for _k, _v in (
    ("GIT_AUTHOR_NAME", "javis test"),
    ("GIT_AUTHOR_EMAIL", "test@javis.invalid"),
    ("GIT_COMMITTER_NAME", "javis test"),
    ("GIT_COMMITTER_EMAIL", "test@javis.invalid"),
):
    os.environ.setdefault(_k, _v)  # releases commit and tag in temp repositories
# dvc.yaml runs `python -m stages.<name>`: the venv running the tests must come first on PATH.
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")

from helpers import ROOT, make_base, make_tokenizer, set_params  # noqa: E402


@pytest.fixture(scope="session")
def tiny_tokenizer():
    return make_tokenizer()


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    """Path of a tiny base model folder (shared read-only by the session's tests)."""
    return make_base(tmp_path_factory.mktemp("tiny_base"))


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """A temp project root with our params.yaml and empty data folders; cwd is set to it. The
    persona conversations are off (`collect.persona_examples: false`): collect reads exactly the
    rows a test writes (tests/test_persona.py turns them on)."""
    import shutil

    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    set_params(tmp_path, collect={"persona_examples": False})
    (tmp_path / "data" / "raw").mkdir(parents=True)
    (tmp_path / "data" / "feedback").mkdir(parents=True)
    (tmp_path / "examples").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def loaded(tiny_base):
    """The tiny base loaded once per module, with its tokenizer (our chat template)."""
    from javis.model import loading

    return loading.load_base(tiny_base), loading.load_tokenizer(tiny_base, "You are JAVIS.")
