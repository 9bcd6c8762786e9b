"""The package's architecture, checked from the code (docs/DESIGN.md, "Layers"):

- lower layers never import upper ones (core < data < model < release < app; stages use no app);
- every DAG stage's `dvc.yaml` deps are exactly the project modules it imports, transitively, so an
  edit to a module reruns what uses it and nothing else (checked on real DVC in a temp repo);
- each shared helper has one definition;
- only `javis/release/vcs.py` runs git or DVC.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
import yaml
from helpers import ROOT, sh, tiny_project

LAYERS = ("core", "data", "model", "release", "app")
PACKAGES = ("javis", "stages")


def module_file(name: str) -> Path | None:
    """The file of a project module (`javis.data.records` -> javis/data/records.py), or None."""
    parts = name.split(".")
    if parts[0] not in PACKAGES:
        return None
    path = ROOT.joinpath(*parts)
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return None


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Project modules a file imports anywhere in it (top level or inside functions)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from javis.core import fileio` imports the module javis.core.fileio when it is one
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        else:
            continue
        for name in names:
            if name.split(".")[0] not in PACKAGES:
                continue
            while name and module_file(name) is None:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def closure(start: str) -> set[Path]:
    """Files of `start` and of every project module it imports, transitively (package
    `__init__.py` files excluded: `test_package_inits_hold_no_code` keeps them empty)."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_file(name)
        assert path is not None, f"{name} is imported but is not a module of this project"
        todo.extend(imports_of(path) - seen)
    files = {module_file(n) for n in seen}
    return {f.relative_to(ROOT) for f in files if f is not None and f.name != "__init__.py"}


def project_files() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def dvc_stages() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


def stage_module(stage: dict) -> str:
    cmd = stage["cmd"].split()
    assert cmd[:2] == ["python", "-m"], (
        f"a stage runs `python -m stages.<name>`, not {stage['cmd']}"
    )
    return cmd[2]


def code_deps(stage: dict) -> set[Path]:
    deps = [d if isinstance(d, str) else next(iter(d)) for d in stage.get("deps", [])]
    return {Path(d) for d in deps if d.split("/")[0] in PACKAGES}


# --- layers -----------------------------------------------------------------------------------


def layer_of(name: str) -> int | None:
    parts = name.split(".")
    if parts[0] == "stages":
        return LAYERS.index("app")  # stages sit below app: checked separately
    if len(parts) > 1 and parts[1] in LAYERS:
        return LAYERS.index(parts[1])
    return None


def test_every_javis_module_lives_in_a_layer():
    loose = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "javis").rglob("*.py")
        if p != ROOT / "javis" / "__init__.py" and layer_of(module_name(p)) is None
    ]
    assert loose == [], f"modules outside javis/{{{','.join(LAYERS)}}}/: {loose}"


def test_lower_layers_never_import_upper_ones():
    wrong = []
    for path in (ROOT / "javis").rglob("*.py"):
        mine = layer_of(module_name(path))
        if mine is None:
            continue
        for imported in imports_of(path):
            theirs = layer_of(imported)
            if theirs is not None and theirs > mine:
                wrong.append(f"{module_name(path)} ({LAYERS[mine]}) imports {imported}")
    assert wrong == [], "a lower layer imports an upper one:\n" + "\n".join(sorted(wrong))


def test_stages_never_import_the_app_layer():
    wrong = [
        f"{module_name(p)} imports {m}"
        for p in (ROOT / "stages").glob("*.py")
        for m in imports_of(p)
        if m.startswith("javis.app")
    ]
    assert wrong == [], "a DAG stage imports the app layer:\n" + "\n".join(wrong)


def test_package_inits_hold_no_code():
    """Empty `__init__.py` files are why the stage closures may leave them out of dvc.yaml."""
    for path in ROOT.glob("*/**/__init__.py"):
        if path.relative_to(ROOT).parts[0] not in PACKAGES:
            continue
        body = ast.parse(path.read_text(encoding="utf-8")).body
        code = [
            n for n in body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
        ]
        assert code == [], (
            f"{path.relative_to(ROOT)} holds code: it would need to be a dvc.yaml dep"
        )


# --- dvc.yaml deps follow the imports -----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(dvc_stages()))
def test_stage_deps_are_its_import_closure(name):
    stage = dvc_stages()[name]
    needed = closure(stage_module(stage))
    listed = code_deps(stage)
    assert not any(d.suffix != ".py" for d in listed), (
        f"{name} depends on a code folder {sorted(d for d in listed if d.suffix != '.py')}: "
        "an edit anywhere in it would rerun the stage"
    )
    missing = sorted(str(p) for p in needed - listed)
    assert missing == [], f"dvc.yaml stage {name} runs these modules but does not depend on them"
    extra = sorted(str(p) for p in listed - needed)
    assert extra == [], f"dvc.yaml stage {name} depends on modules it never imports"


def test_the_web_page_reaches_no_stage():
    """Serving, chat and the CLI are in no stage's closure: editing them reruns nothing."""
    for name, stage in dvc_stages().items():
        app = sorted(
            str(p) for p in closure(stage_module(stage)) if p.parts[:2] == ("javis", "app")
        )
        assert app == [], f"stage {name} reaches the app layer: {app}"


def only_used_by(stage_name: str, also: tuple[str, ...] = ()) -> Path:
    """A library module in `stage_name`'s closure and in no other stage's but `also`'s."""
    stages = dvc_stages()
    mine = closure(stage_module(stages[stage_name]))
    others = set().union(
        *(closure(stage_module(s)) for n, s in stages.items() if n != stage_name and n not in also)
    )
    own = sorted(p for p in mine - others if p.parts[0] == "javis")
    assert own, f"no javis module is used by {stage_name} alone: cannot test an edit to one"
    return own[0]


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory, tiny_base):
    """A project copy whose whole DAG has run once on the tiny model (every stage locked)."""
    repo = tiny_project(tmp_path_factory.mktemp("arch") / "repo", tiny_base)
    sh(repo, sys.executable, "-m", "dvc", "repro")
    status = sh(repo, sys.executable, "-m", "dvc", "status", "--json").stdout
    assert yaml.safe_load(status) == {}, f"after repro something is still out of date: {status}"
    return repo


def changed_stages(repo: Path) -> set[str]:
    status = yaml.safe_load(sh(repo, sys.executable, "-m", "dvc", "status", "--json").stdout)
    return set(status or {})


def edit(path: Path) -> str:
    before = path.read_text(encoding="utf-8")
    path.write_text(before + "\n# an edit\n", encoding="utf-8")
    return before


def test_editing_a_dedupe_module_changes_dedupe_and_nothing_before_it(reproduced):
    module = only_used_by("dedupe", also=("split",))  # split bands answers with dedupe's MinHash
    before = edit(reproduced / module)
    try:
        changed = changed_stages(reproduced)
    finally:
        (reproduced / module).write_text(before, encoding="utf-8")
    assert "dedupe" in changed, f"editing {module} left dedupe up to date: {sorted(changed)}"
    assert not changed & {"collect", "clean", "base"}, f"{module} edit changed {sorted(changed)}"


def test_editing_serving_changes_no_stage(reproduced):
    serve = reproduced / "javis" / "app" / "serve.py"
    before = edit(serve)
    try:
        changed = changed_stages(reproduced)
    finally:
        serve.write_text(before, encoding="utf-8")
    assert changed == set(), f"editing javis/app/serve.py changed stages {sorted(changed)}"


# --- one definition of each shared helper ----------------------------------------------------


def defs(pred) -> list[str]:
    """`file:function` of every function (in javis/ and stages/) for which `pred(node)` holds."""
    out = []
    for path in project_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and pred(node):
                out.append(f"{path.relative_to(ROOT)}:{node.name}")
    return sorted(out)


def source(node: ast.AST) -> str:
    return ast.unparse(node)


def module_assignments(name: str) -> list[str]:
    out = []
    for path in project_files():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            targets = node.targets if isinstance(node, ast.Assign) else []
            targets += [node.target] if isinstance(node, ast.AnnAssign) else []
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                out.append(str(path.relative_to(ROOT)))
    return out


def test_one_file_sha256():
    found = defs(lambda f: "hashlib.sha256" in source(f) and "open(" in source(f))
    assert found == ["javis/core/fileio.py:sha256_file"], f"file hashing defined in {found}"


def test_one_temp_folder_swap():
    found = defs(
        lambda f: "mkdtemp" in source(f) and ("os.replace" in source(f) or ".rename(" in source(f))
    )
    assert found == ["javis/core/fileio.py:replace_dir"], f"temp-then-rename swaps in {found}"


def test_one_number_format():
    found = defs(lambda f: f.name in ("_fmt", "_f", "fmt", "_format_number"))
    assert found == ["javis/core/text.py:fmt"], f"number formatting defined in {found}"


def test_one_assistant_nll():
    found = defs(lambda f: "nll" in f.name.lower() and not f.name.startswith("_"))
    assert len(found) == 1, f"assistant NLL defined in {found}"


def test_one_parse_tool_calls():
    found = defs(lambda f: f.name == "parse_tool_calls")
    assert len(found) == 1, f"parse_tool_calls defined in {found}"


@pytest.mark.parametrize("name", ["ADAPTER_FILES", "MARKER"])
def test_one_constant(name):
    found = module_assignments(name)
    assert len(found) == 1, f"{name} assigned in {found}"


def git_and_dvc_calls() -> tuple[list[str], list[str]]:
    """`file:line` of every command list starting `git`, of every `python -m dvc` command list, and
    of every import of DVC's Python API, in javis/ and stages/."""
    runs, dvc_cmds = [], []
    for path in project_files():
        rel = path.relative_to(ROOT)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.List | ast.Tuple):
                items = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
                pairs = list(zip(items, items[1:], strict=False))
                if ("-m", "dvc") in pairs:
                    dvc_cmds.append(f"{rel}:{node.lineno}")
                    runs.append(f"{rel}:{node.lineno}")
                elif items[:1] == ["git"]:
                    runs.append(f"{rel}:{node.lineno}")
            elif isinstance(node, ast.ImportFrom | ast.Import):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if any(n == "dvc" or n.startswith("dvc.") for n in names):
                    runs.append(f"{rel}:{node.lineno}")
    return runs, dvc_cmds


def test_only_vcs_runs_git_or_dvc():
    """Everything else asks javis/release/vcs.py."""
    runs, _ = git_and_dvc_calls()
    outside = [r for r in runs if not r.startswith("javis/release/vcs.py:")]
    assert outside == [], f"git or DVC run outside javis/release/vcs.py: {outside}"
    assert runs, "no git or DVC call found at all: the check is looking at the wrong code"


def test_one_python_m_dvc_command():
    _, dvc_cmds = git_and_dvc_calls()
    assert len(dvc_cmds) == 1, f"`python -m dvc` command built in {dvc_cmds}"


def test_tests_check_one_fact_per_assert():
    """`assert a and b` hides which fact failed; each fact gets its own assert."""
    found = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            test = node.test if isinstance(node, ast.Assert) else None
            if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
                found.append(f"{path.name}:{node.lineno}")
    assert found == [], f"asserts of several facts joined by `and`: {found}"


def test_tests_import_no_conftest():
    found = [
        f"{p.name}:{node.lineno}"
        for p in sorted((ROOT / "tests").glob("*.py"))
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module == "conftest"
    ]
    assert found == [], f"tests importing conftest (use fixtures or tests/helpers.py): {found}"


def test_design_names_every_module():
    """docs/DESIGN.md's "Layers" lists each module of its layer: a new module is added there too."""
    design = (ROOT / "docs" / "DESIGN.md").read_text(encoding="utf-8")
    layers = design[design.index("## Layers") : design.index("## Records")]
    missing = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "javis").rglob("*.py")
        if p.name != "__init__.py" and p.stem not in layers
    ]
    assert missing == [], f"modules docs/DESIGN.md's Layers section does not name: {missing}"


def test_long_modules_say_why_at_their_top():
    """A module over ~400 lines states why in its docstring (or is split)."""
    unexplained = []
    for path in project_files():
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        doc = ast.get_docstring(ast.parse(text)) or ""
        if lines > 420 and "400" not in doc:
            unexplained.append(f"{path.relative_to(ROOT)} ({lines} lines)")
    assert unexplained == [], f"long modules without a stated reason: {unexplained}"


def test_stage_modules_stay_thin():
    fat = [
        f"{p.relative_to(ROOT)} ({n} lines)"
        for p in (ROOT / "stages").glob("*.py")
        if (n := p.read_text(encoding="utf-8").count("\n")) > 150
    ]
    assert fat == [], f"stage modules over ~150 lines (move the logic into javis/): {fat}"
