"""`make bench` at a tiny size: the generator and the data benchmark still run and still add up."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_generator_is_deterministic_and_plants_what_it_says(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gen
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    a, b, c = (
        gen.generate(tmp_path / name, 600, seed) for name, seed in (("a", 1), ("b", 1), ("c", 2))
    )
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")
    counts = a["counts"]
    planted = sum(
        counts.get(k, 0) for k in ("clean", "low_quality", "pii", "exact", "near", "malformed")
    )
    assert planted == counts["lines"] == 600
    for kind in ("exact", "near", "malformed"):
        assert counts.get(kind, 0) > 0, kind
    lines = b"".join(
        p.read_bytes() for p in sorted((tmp_path / "a/data/raw").glob("*.jsonl"))
    ).splitlines()
    assert len(lines) == 600
    assert any('"tool_calls"' in line.decode("utf-8", "replace") for line in lines)
    assert any(re.search("[가-힣]", line.decode("utf-8", "replace")) for line in lines)


def test_data_and_neardup_benchmarks_print_ratios_that_add_up(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--size",
            "2k",
            "--only",
            "data,neardup",
            "--neardup-docs",
            "400",
            "--workdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "counts add up: yes" in out, out
    rows: dict[str, str] = {}
    for line in out.splitlines():  # the first table naming a step is the per-stage one
        if line.startswith("| "):
            rows.setdefault(line.split("|")[1].strip(), line)
    for step in (
        "floor (orjson read+parse+write)",
        "collect",
        "clean",
        "dedupe",
        "split",
        "all four stages",
    ):
        assert step in rows, (step, out)
        ratios = re.findall(r"(\d+\.\d)x", rows[step])
        assert len(ratios) == 2, rows[step]  # wall / floor and cpu / floor, side by side
    assert re.search(r"recall: rejected as duplicates +\| +[01]\.\d{3} \|", out), out
    assert re.search(r"precision: same original as the record kept +\| +[01]\.\d{4} \|", out), out
    assert re.search(r"datasketch MinHashLSH +\| +\d+ \|.*\d\.\dx (slower|faster)", out), out


def test_train_and_eval_benchmarks_print_side_by_side_ratios(tmp_path, tiny_base):
    """The model parts on the tiny model: both trainers run the same steps on the same split and
    report tokens/s, loss curves and validation loss; generation runs batched and one at a time."""
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--only",
            "train,eval",
            "--base",
            str(tiny_base),
            "--train-steps",
            "3",
            "--train-batch",
            "4",
            "--eval-prompts",
            "5",
            "--eval-tokens",
            "4",
            "--workdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    ratio = re.search(r"ours / TRL defaults: \*\*([\d.]+)x\*\* the tokens/s", out)
    assert ratio, out
    assert float(ratio.group(1)) > 0, out
    row = {
        line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:4]]
        for line in out.splitlines()
        if line.startswith("| ")
    }
    assert row["optimizer steps"] == ["3", "3"], out
    ours_pad, trl_pad = (int(c.rstrip("%")) for c in row["padding in the batches"])
    assert ours_pad <= trl_pad, out  # exact length buckets never pad more than random batches
    assert len(row["loss per step"][0].split()) == 3, out  # ours: one loss per step
    assert len(row["loss per step"][1].split()) == 3, out  # TRL defaults
    batched = re.search(
        r"batched / one at a time: \*\*([\d.]+)x\*\*.*identical answers (\d+)/5", out
    )
    assert batched, out
    assert float(batched.group(1)) > 0, out
    print("\n" + out[-2500:])
