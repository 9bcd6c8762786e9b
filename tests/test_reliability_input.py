"""Reliability of the data path: malformed input, planted secrets, split leakage.

Each test prints what it tried and what held (run with `pytest -s` to see it). The data stages run
as the DAG runs them (`python -m stages.<name>` in a project folder), so a crash is a non-zero exit.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import malformed
import pytest
from conftest import ROOT, read_jsonl, write_jsonl

from javis import importers, io, params

DATA_STAGES = ("collect", "clean", "dedupe", "split")


def run_stage(stage: str, cwd: Path) -> tuple[float, str]:
    """Run one stage as `dvc repro` would; a crash (non-zero exit, a traceback) fails the test."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", f"stages.{stage}"], cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    out = result.stdout + result.stderr
    assert result.returncode == 0 and "Traceback" not in out, f"stages.{stage} crashed:\n{out[-3000:]}"
    return seconds, out


def stage_metrics(root: Path, stage: str) -> dict:
    return json.loads((root / "metrics" / f"{stage}.json").read_text())


def jsonl_count(path: Path) -> int:
    return sum(1 for line in path.read_bytes().splitlines() if line.strip()) if path.exists() else 0


def check_accounting(root: Path) -> dict[str, dict]:
    """in = kept + rejected for every stage and source, cross-checked against the files themselves."""
    m = {s: stage_metrics(root, s) for s in DATA_STAGES}
    for stage, x in m.items():
        assert x["in"] == x["kept"] + x["rejected"], (stage, x)
        for source, c in x["by_source"].items():
            assert c["in"] == c["kept"] + c["rejected"], (stage, source, c)
        assert sum(x["rejected_by_reason"].values()) == x["rejected"], stage
    for stage in ("collect", "clean", "dedupe"):
        entries = read_jsonl(root / f"data/rejected/{stage}.jsonl")
        assert len(entries) == m[stage]["rejected"], stage  # every reject is in the file...
        assert all(e.get("reason") and e.get("file") and e.get("line") for e in entries), stage  # ...with its reason
        assert Counter(io.reason_key(e["reason"]) for e in entries) == Counter(m[stage]["rejected_by_reason"])
    collected = sum(jsonl_count(root / f"data/collected/{k}.jsonl") for k in ("sft", "preference", "kto"))
    cleaned = sum(jsonl_count(root / f"data/cleaned/{k}.jsonl") for k in ("sft", "preference", "kto"))
    deduped = sum(jsonl_count(root / f"data/deduped/{k}.jsonl") for k in ("sft", "preference", "kto"))
    training = root / "data/training/current"
    split_files = sum(jsonl_count(p) for p in training.glob("*.jsonl") if p.name != "regression.jsonl")
    assert m["clean"]["in"] == collected == sum(m["collect"]["records_out"].values())
    assert m["clean"]["kept"] == cleaned == m["dedupe"]["in"]
    assert m["dedupe"]["kept"] == deduped == m["split"]["in"] == m["split"]["kept"] == split_files
    return m


def fates(root: Path) -> dict[tuple[str, int], set[str]]:
    """(file, line) -> what became of it: `collect:<reason>`, `clean:<reason>`, `dedupe:<reason>`, `kept`."""
    out: dict[tuple[str, int], set[str]] = defaultdict(set)
    for e in read_jsonl(root / "data/rejected/collect.jsonl"):
        out[(e["file"], e["line"])].add(f"collect:{io.reason_key(e['reason'])}")
    for stage in ("clean", "dedupe"):
        for e in read_jsonl(root / f"data/rejected/{stage}.jsonl"):
            out[(e["file"], e["line"])].add(f"{stage}:{io.reason_key(e['reason'])}")
    for kind in ("sft", "preference", "kto"):
        for r in read_jsonl(root / f"data/deduped/{kind}.jsonl"):
            out[(r["meta"]["file"], r["meta"]["line"])].add("kept")
    return out


def test_malformed_input_through_every_data_stage(workdir):
    cases = malformed.cases()
    assert len(cases) >= 20
    malformed.write(cases, workdir)
    seconds = {s: run_stage(s, workdir)[0] for s in DATA_STAGES}
    m = check_accounting(workdir)
    got = fates(workdir)

    wrong, held = [], Counter()
    for case in cases:
        file = f"data/{case.folder}/{case.file}"
        if case.skipped:
            assert file in m["collect"]["skipped_files"], case.name  # named, not silently dropped
            assert not any(f == file for f, _ in got), case.name
            held[case.name] = 0
            continue
        lines = {line for f, line in got if f == file}
        if set(case.expect) != lines:
            wrong.append(f"{case.name}: lines {sorted(case.expect)} expected, stages saw {sorted(lines)}")
            continue
        for line, want in case.expect.items():
            fate = got[(file, line)]
            if want == "kept":
                ok = fate == {"kept"}
            elif want.endswith(":"):
                ok = len(fate) == 1 and next(iter(fate)).startswith(want)
            else:
                ok = fate == {want}
            if not ok:
                wrong.append(f"{case.name} line {line}: expected {want}, got {sorted(fate)}")
            held[case.name] += 1
    print(f"\n{len(cases)} classes of malformed input, {sum(held.values())} lines, "
          f"{sum(len(c.data) for c in cases) / 1e6:.1f} MB; zero crashes; stage seconds "
          + ", ".join(f"{s} {t:.1f}" for s, t in seconds.items()))
    for stage, x in m.items():
        print(f"  {stage:8s} in {x['in']:4d} = kept {x['kept']:4d} + rejected {x['rejected']:3d}  "
              f"{dict(sorted(x['rejected_by_reason'].items()))}")
    for case in cases:
        print(f"  {case.name:26s} {held[case.name]:3d} lines as expected"
              + (" (not .jsonl: listed in skipped_files)" if case.skipped else ""))
    assert not wrong, "\n".join(wrong)


def test_malformed_input_through_javis_import(workdir):
    """Every class through `javis import` (auto format): no crash; read = imported + duplicate +
    rejected per file, each reject with its reason; what was imported then flows through collect
    and clean with every record accounted for."""
    cases = malformed.cases()
    src = workdir / "incoming"
    paths = malformed.write(cases, src)
    p = params.load()
    rows = []
    for case in cases:
        said: list[str] = []
        try:
            code = importers.main(p, [str(paths[case.name])], dvc_add=False, out=said.append)
        except Exception as e:  # noqa: BLE001 -- the point: nothing may escape
            pytest.fail(f"javis import crashed on {case.name}: {type(e).__name__}: {e}")
        totals = said[-2] if code == 0 else said[0]
        rows.append((case.name, code, totals))
        if code == 0:
            n = {k: int(v) for v, k in (part.strip().split(" ", 1)[::-1] for part in totals.split("/"))}
            assert n["read"] == n["imported"] + n["duplicate"] + n["rejected"], (case.name, totals)
            rejected_lines = [s for s in said if s.startswith("  rejected ")]
            assert len(rejected_lines) == n["rejected"], (case.name, said)
            assert all(io.reason_key(s.split(": ", 1)[1]) for s in rejected_lines)
        else:  # a file that is not JSON/JSONL at all: refused as a whole, with the reason, nothing written
            assert said[0].startswith("javis import: ") and "expected" in said[0], said
    # Import refuses only what cannot be read as records at all.
    refused = {name for name, code, _ in rows if code != 0}
    assert refused <= {"text_file"}, rows
    imported = [p for p in (workdir / "data/raw").glob("*.jsonl")]
    assert imported, "nothing was imported"
    for s in ("collect", "clean"):
        run_stage(s, workdir)
    c = stage_metrics(workdir, "collect")
    assert c["rejected"] == 0, c["rejected_by_reason"]  # imported lines are well-formed by construction
    for x in (c, stage_metrics(workdir, "clean")):
        assert x["in"] == x["kept"] + x["rejected"]
    print(f"\njavis import of {len(cases)} malformed files: no crash; {len(refused)} refused as a whole "
          f"({', '.join(sorted(refused)) or 'none'}); {len(imported)} files written")
    for name, code, totals in rows:
        print(f"  {name:26s} exit {code}  {totals}")
    print(f"  then collect: {c['in']} lines, {c['rejected']} rejected; clean kept "
          f"{stage_metrics(workdir, 'clean')['kept']} of {stage_metrics(workdir, 'clean')['in']}")
