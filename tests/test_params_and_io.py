"""params.yaml loads into typed sections; dvc.yaml uses params paths; io never loses a line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from helpers import ROOT

from javis.core import fileio, params


def test_every_section_of_the_projects_params_loads():
    p = params.load(ROOT / "params.yaml")
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert set(raw) <= set(params.SECTIONS)
    for name in params.SECTIONS:
        assert getattr(p, name) is not None, name
    assert p.clean.min_score == 4 and p.trigger.min_new_records == 50


@pytest.mark.parametrize(
    "text,message",
    [
        ("clean: {min_score: four}", "clean.min_score: expected int, got str"),
        ("clean: {min_scor: 4}", "clean: unknown key(s) ['min_scor']"),
        ("dedupe: {threshold: 1.5}", "dedupe.threshold"),
        ("cleaning: {}", "unknown section(s) ['cleaning']"),
        ("split: {val_fraction: 0.5, test_fraction: 0.5}", "must leave room for train"),
        ("collect: {use_examples: sometimes}", "collect.use_examples: expected one of"),
        ("clean: {redact: 1}", "clean.redact: expected bool, got int"),
    ],
)
def test_bad_params_name_the_key(tmp_path, text, message):
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(params.ParamsError, match=re.escape(message)):
        params.load(tmp_path / "params.yaml")


def test_every_templated_path_in_dvc_yaml_is_a_params_path():
    dvc = (ROOT / "dvc.yaml").read_text()
    used = set(re.findall(r"\$\{paths\.(\w+)\}", dvc))
    known = {f for f in params.Paths.__dataclass_fields__}
    assert used and used <= known, used - known
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())["paths"]
    assert set(raw) == known  # params.yaml spells out every path


def test_read_jsonl_reports_every_bad_line(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"a": 1}\r\n\n[1]\n{bad\n\xff\n' + b'{"b": "' + b"x" * 100 + b'"}\n'
    )
    lines = list(fileio.read_jsonl(path, max_bytes=50))
    assert [(ln.line, ln.error.split(" ")[0] if ln.error else None) for ln in lines] == [
        (1, None),
        (3, "not_object"),
        (4, "bad_json"),
        (5, "not_utf8"),
        (6, "too_large"),
    ]
    assert lines[0].obj == {"a": 1}


def test_atomic_open_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), fileio.atomic_open(target) as f:
        f.write(b"partial")
        raise RuntimeError("crash")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_accounting_catches_a_lost_record():
    acc = fileio.Accounting("t")
    acc.seen("a", 3)
    acc.kept("a", 2)
    with pytest.raises(AssertionError, match="in=3 != kept=2"):
        acc.metrics()
    acc.rejected("a", "bad_json (x)")
    m = acc.metrics()
    assert m["rejected_by_reason"] == {"bad_json": 1} and m["in"] == 3


def test_workspace_creates_only_unpinned_folders(tmp_path, monkeypatch):
    from javis.app.workspace import WorkspaceError, ensure_data_dirs

    monkeypatch.chdir(tmp_path)
    Path("data").mkdir()
    Path("data/feedback.dvc").write_text("outs:\n- md5: abc.dir\n  nfiles: 3\n  path: feedback\n")
    with pytest.raises(WorkspaceError, match="dvc pull"):
        ensure_data_dirs(["data/raw", "data/feedback"])
    assert Path("data/raw").is_dir() and not Path("data/feedback").exists()


def test_every_param_a_dvc_stage_names_exists():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        for entry in stage.get("params", []):
            section, _, key = entry.partition(".")
            assert section in params.SECTIONS, (name, entry)
            if key:
                assert key in params.SECTIONS[section].__dataclass_fields__, (name, entry)
        assert stage["cmd"] == f"python -m stages.{name}" and (ROOT / f"stages/{name}.py").exists()
