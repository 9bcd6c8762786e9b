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
    assert p.clean.min_score == 4, "clean.min_score as params.yaml ships it"
    assert p.trigger.min_new_records == 50, "trigger.min_new_records as params.yaml ships it"


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
    assert used, used - known
    assert used <= known, used - known
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
    assert m["rejected_by_reason"] == {"bad_json": 1}, "the reject is counted by its reason key"
    assert m["in"] == 3, "every seen record is counted"


def test_workspace_creates_only_unpinned_folders(tmp_path, monkeypatch):
    from javis.app.workspace import WorkspaceError, ensure_data_dirs

    monkeypatch.chdir(tmp_path)
    Path("data").mkdir()
    Path("data/feedback.dvc").write_text("outs:\n- md5: abc.dir\n  nfiles: 3\n  path: feedback\n")
    with pytest.raises(WorkspaceError, match="dvc pull"):
        ensure_data_dirs(["data/raw", "data/feedback"])
    assert Path("data/raw").is_dir(), "an unpinned folder is created"
    assert not Path("data/feedback").exists(), (
        "a pinned folder is left for `dvc pull`, never created empty"
    )


def test_every_param_a_dvc_stage_names_exists():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        for entry in stage.get("params", []):
            section, _, key = entry.partition(".")
            assert section in params.SECTIONS, (name, entry)
            if key:
                assert key in params.SECTIONS[section].__dataclass_fields__, (name, entry)
        assert stage["cmd"] == f"python -m stages.{name}", (
            f"a stage runs `python -m stages.<name>`: {stage['cmd']}"
        )
        assert (ROOT / f"stages/{name}.py").exists(), f"stages/{name}.py exists"


@pytest.mark.parametrize("name", sorted(params.SECTIONS))
def test_an_empty_section_loads_as_params_yaml_ships_it(name):
    """params.py is the single source of defaults: leaving a section out of params.yaml (or any of
    its keys) gives exactly the values params.yaml ships."""
    import dataclasses

    cls = params.SECTIONS[name]
    shipped = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))[name] or {}
    defaults = dataclasses.asdict(params.build(cls, {}, name))
    loaded = dataclasses.asdict(params.build(cls, shipped, name))
    differ = {k: (defaults[k], loaded[k]) for k in defaults if defaults[k] != loaded[k]}
    assert differ == {}, f"{name}: params.py default vs params.yaml (default, shipped): {differ}"


def test_every_params_field_has_a_docstring():
    """Each field of a params dataclass is documented where it is defined (litgpt's args.py style:
    a string right below the field)."""
    import ast
    import dataclasses

    tree = ast.parse((ROOT / "javis/core/params.py").read_text(encoding="utf-8"))
    documented: dict[str, set[str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        names = documented.setdefault(node.name, set())
        for field, after in zip(node.body, node.body[1:], strict=False):
            if (
                isinstance(field, ast.AnnAssign)
                and isinstance(field.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                names.add(field.target.id)
    for cls in params.SECTIONS.values():
        nested = [f.default_factory for f in dataclasses.fields(cls)]  # Train.dpo: Preference, ...
        for sub in [cls] + [c for c in nested if dataclasses.is_dataclass(c)]:
            missing = sorted(
                f.name
                for f in dataclasses.fields(sub)
                if f.name not in documented.get(sub.__name__, set())
            )
            assert missing == [], f"params.{sub.__name__} fields without a docstring: {missing}"
