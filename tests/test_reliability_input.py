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
from helpers import ROOT, read_jsonl, write_jsonl

from javis.app import workspace
from javis.core import fileio, params
from javis.data import importers

DATA_STAGES = ("collect", "clean", "dedupe", "split")


def run_stage(stage: str, cwd: Path) -> tuple[float, str]:
    """Run one stage as `dvc repro` would; a crash (non-zero exit, a traceback) fails the test."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", f"stages.{stage}"], cwd=cwd, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    out = result.stdout + result.stderr
    assert result.returncode == 0, f"stages.{stage} crashed:\n{out[-3000:]}"
    assert "Traceback" not in out, f"stages.{stage} crashed:\n{out[-3000:]}"
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
        assert all(e.get("reason") and e.get("file") and e.get("line") for e in entries), (
            stage
        )  # ...with its reason
        assert Counter(fileio.reason_key(e["reason"]) for e in entries) == Counter(
            m[stage]["rejected_by_reason"]
        )
    collected = sum(
        jsonl_count(root / f"data/collected/{k}.jsonl") for k in ("sft", "preference", "kto")
    )
    cleaned = sum(
        jsonl_count(root / f"data/cleaned/{k}.jsonl") for k in ("sft", "preference", "kto")
    )
    deduped = sum(
        jsonl_count(root / f"data/deduped/{k}.jsonl") for k in ("sft", "preference", "kto")
    )
    training = root / "data/training/current"
    split_files = sum(
        jsonl_count(p) for p in training.glob("*.jsonl") if p.name != "regression.jsonl"
    )
    assert m["clean"]["in"] == collected == sum(m["collect"]["records_out"].values())
    assert m["clean"]["kept"] == cleaned == m["dedupe"]["in"]
    assert m["dedupe"]["kept"] == deduped == m["split"]["in"] == m["split"]["kept"] == split_files
    return m


def fates(root: Path) -> dict[tuple[str, int], set[str]]:
    """(file, line) -> what became of it: `collect:<reason>`, `clean:<reason>`, `dedupe:<reason>`, `kept`."""
    out: dict[tuple[str, int], set[str]] = defaultdict(set)
    for e in read_jsonl(root / "data/rejected/collect.jsonl"):
        out[(e["file"], e["line"])].add(f"collect:{fileio.reason_key(e['reason'])}")
    for stage in ("clean", "dedupe"):
        for e in read_jsonl(root / f"data/rejected/{stage}.jsonl"):
            out[(e["file"], e["line"])].add(f"{stage}:{fileio.reason_key(e['reason'])}")
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
            wrong.append(
                f"{case.name}: lines {sorted(case.expect)} expected, stages saw {sorted(lines)}"
            )
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
    print(
        f"\n{len(cases)} classes of malformed input, {sum(held.values())} lines, "
        f"{sum(len(c.data) for c in cases) / 1e6:.1f} MB; zero crashes; stage seconds "
        + ", ".join(f"{s} {t:.1f}" for s, t in seconds.items())
    )
    for stage, x in m.items():
        print(
            f"  {stage:8s} in {x['in']:4d} = kept {x['kept']:4d} + rejected {x['rejected']:3d}  "
            f"{dict(sorted(x['rejected_by_reason'].items()))}"
        )
    for case in cases:
        print(
            f"  {case.name:26s} {held[case.name]:3d} lines as expected"
            + (" (not .jsonl: listed in skipped_files)" if case.skipped else "")
        )
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
            code = importers.main(
                p.paths,
                p.persona,
                p.collect,
                [str(paths[case.name])],
                ensure_dirs=workspace.ensure_data_dirs,  # as `javis import --no-dvc` runs it
                out=said.append,
            )
        except Exception as e:  # noqa: BLE001 -- the point: nothing may escape
            pytest.fail(f"javis import crashed on {case.name}: {type(e).__name__}: {e}")
        totals = next(x for x in said if x.startswith("read ") and " / imported " in x)
        rows.append((case.name, code, totals))
        n = {k: int(v) for v, k in (part.strip().split(" ", 1)[::-1] for part in totals.split("/"))}
        assert n["read"] == n["imported"] + n["duplicate"] + n["rejected"], (case.name, totals)
        yielded = n["imported"] + n["duplicate"] > 0
        assert code == (0 if yielded else 1), f"{case.name}: exit {code} ({totals}): {said}"
        if yielded:
            rejected_lines = [s for s in said if s.startswith("  rejected ")]
            assert len(rejected_lines) == n["rejected"], (case.name, said)
            assert all(fileio.reason_key(s.split(": ", 1)[1]) for s in rejected_lines)
        else:  # a file that yields no conversation: a non-zero exit that says why
            assert ": no conversation read: " in said[0], said
    refused = {name for name, code, _ in rows if code != 0}  # yielded no conversation
    imported = [p for p in (workdir / "data/raw").glob("*.jsonl")]
    assert imported, "nothing was imported"
    for s in ("collect", "clean"):
        run_stage(s, workdir)
    c = stage_metrics(workdir, "collect")
    assert c["rejected"] == 0, c[
        "rejected_by_reason"
    ]  # imported lines are well-formed by construction
    for x in (c, stage_metrics(workdir, "clean")):
        assert x["in"] == x["kept"] + x["rejected"]
    print(
        f"\njavis import of {len(cases)} malformed files: no crash; {len(refused)} yielded no conversation (exit 1: "
        f"{', '.join(sorted(refused)) or 'none'}); {len(imported)} files written"
    )
    for name, code, totals in rows:
        print(f"  {name:26s} exit {code}  {totals}")
    print(
        f"  then collect: {c['in']} lines, {c['rejected']} rejected; clean kept "
        f"{stage_metrics(workdir, 'clean')['kept']} of {stage_metrics(workdir, 'clean')['in']}"
    )


# --- secrets and personal data ---------------------------------------------------------------------


def strings_in(value: object) -> list[str]:
    """Every string (keys and values) inside parsed JSON."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *strings_in(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


def output_texts(root: Path, folders: tuple[str, ...]) -> dict[str, str]:
    """file -> all its text: the raw bytes decoded, plus every JSON string in it (so a PEM block
    written with `\\n` escapes is still found)."""
    out = {}
    for folder in folders:
        for path in sorted((root / folder).rglob("*")):
            if not path.is_file():
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            parsed = []
            for line in text.splitlines() if path.suffix == ".jsonl" else [text]:
                try:
                    parsed += strings_in(json.loads(line))
                except ValueError:
                    pass
            out[str(path.relative_to(root))] = text + "\n" + "\n".join(parsed)
    return out


def planted_counts(records: list[dict]) -> Counter[str]:
    """Ground truth, independent of the redactor: occurrences of each planted string in the text a
    record would be trained on (every string in its messages, prompt, answers and tools)."""
    import secrets_corpus as sc

    counts: Counter[str] = Counter()
    for r in records:
        text = "\n".join(
            strings_in(
                {
                    k: r.get(k)
                    for k in ("messages", "prompt", "chosen", "rejected", "completion", "tools")
                }
            )
        )
        for kind, s in sc.PLANTED:
            counts[kind] += text.count(s)
    return +counts


def test_planted_secrets_never_reach_training_rejects_or_metrics(workdir):
    import secrets_corpus as sc

    write_jsonl(workdir / "data/raw/secrets.jsonl", sc.raw_lines())
    write_jsonl(workdir / "data/raw/pairs.jsonl", sc.preference_lines())
    write_jsonl(workdir / "data/feedback/feedback.jsonl", sc.feedback_lines())
    for s in DATA_STAGES:
        run_stage(s, workdir)
    check_accounting(workdir)
    kinds = Counter(k for k, _ in sc.PLANTED)
    assert len(sc.PLANTED) >= 30, f"the corpus plants at least 30 secrets: {len(sc.PLANTED)}"
    assert len(kinds) >= 12, f"the planted secrets cover at least 12 kinds: {sorted(kinds)}"

    # 1. No planted string, and no 10-character piece of a planted key, in any output.
    texts = output_texts(
        workdir, ("data/training", "data/rejected", "data/cleaned", "data/deduped", "metrics")
    )
    leaks = [(s, f) for _, s in sc.PLANTED for f, t in texts.items() if s in t]
    pieces = []
    for kind, s in sc.PLANTED:
        if kind.startswith("SECRET:"):
            core = sc.PEM_BODY if "PRIVATE KEY" in s else s
            pieces += [(core[i : i + 10], s) for i in range(len(core) - 9)]
    partial = sorted(
        {(s[:12] + "...", f) for piece, s in pieces for f, t in texts.items() if piece in t}
    )
    assert not leaks, leaks
    assert not partial, partial

    # 2. Redactions per type in metrics/clean.json: exactly the planted occurrences that reached clean.
    collected = [
        r
        for k in ("sft", "preference", "kto")
        for r in read_jsonl(workdir / f"data/collected/{k}.jsonl")
    ]
    want = planted_counts(collected)
    m = stage_metrics(workdir, "clean")
    assert m["redactions"] == dict(want), (m["redactions"], dict(want))
    assert m["redactions_total"] == sum(want.values())
    # The rejects (bad JSON, too large) were redacted in collect, before clean saw anything.
    collect_rejects = read_jsonl(workdir / "data/rejected/collect.jsonl")
    assert {fileio.reason_key(e["reason"]) for e in collect_rejects} >= {"bad_json", "too_large"}
    assert all("<SECRET:" in e["raw"] or "<PII:" in e["raw"] for e in collect_rejects)
    print(
        f"\n{len(sc.PLANTED)} planted secrets/identifiers of {len(kinds)} types in "
        f"{len(sc.raw_lines()) + 5} lines ({dict(sorted(kinds.items()))})"
    )
    print(
        f"  searched {len(texts)} output files under data/training, data/rejected, data/cleaned, data/deduped, "
        f"metrics: 0 planted strings, 0 pieces of 10+ characters of a key"
    )
    print(
        f"  metrics/clean.json redactions = planted occurrences reaching clean: {m['redactions']}"
    )
    print(f"  collect rejects ({len(collect_rejects)}) redacted in their excerpts")


def test_redaction_false_positives_on_the_examples(workdir):
    """The bundled examples plant exactly 3 identifiers (examples/README.md: an AWS key, an e-mail
    and a phone number in raw/broken.jsonl); every other redaction is a false positive."""
    import shutil

    shutil.rmtree(workdir / "examples")
    shutil.copytree(ROOT / "examples", workdir / "examples")
    for s in ("collect", "clean"):
        run_stage(s, workdir)
    m = stage_metrics(workdir, "clean")
    planted = {"SECRET:aws_key": 1, "PII:email": 1, "PII:phone_kr": 1}
    false_pos = Counter(m["redactions"])
    false_pos.subtract(planted)
    from javis.data.redact import Redactor

    r, lines, every = Redactor(), 0, Counter()
    for path in sorted((ROOT / "examples").rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            lines += 1
            every.update(r.redact(line)[1])
    print(
        f"\nclean on examples/: {m['in']} records, redactions {m['redactions']}; planted {planted}; "
        f"false positives {sum(v for v in false_pos.values() if v > 0)}"
    )
    print(
        f"redactor over every example line ({lines} lines, {len(list((ROOT / 'examples').rglob('*.jsonl')))} "
        f"files): {dict(every)}; false positives {sum(every.values()) - 3}"
    )
    assert +false_pos == Counter(), false_pos
    assert all(v == 0 for v in false_pos.values()), false_pos
    assert sum(every.values()) == 3, every


# --- leakage between splits ------------------------------------------------------------------------

CITIES = [
    "서울",
    "부산",
    "대구",
    "인천",
    "광주",
    "대전",
    "울산",
    "수원",
    "제주",
    "춘천",
    "전주",
    "포항",
    "창원",
    "청주",
]
ASKS = [
    "{c} 내일 아침 날씨 어때? 우산 챙겨야 할까",
    "What's a good {c} restaurant for a team dinner of eight people",
    "{c} 가는 KTX 첫차가 몇 시였지? 주말 기준으로",
    "Remind me what I booked in {c} for the conference next month",
]


def _variants(prompt: str) -> list[str]:
    """Near duplicates of a prompt (one character or word changed, punctuation added)."""
    return [
        prompt,
        prompt + "?",
        prompt.replace("?", "?!") if "?" in prompt else prompt + " please",
    ]


def held_out_near(splits: dict[str, list[str]], threshold: float) -> tuple[int, int]:
    """Exact Jaccard on character 3-grams (no MinHash): held-out first turns equal to, or at least
    `threshold` similar to, a train first turn."""
    from javis.data.splitting import char_shingles

    train = [set(char_shingles(t)) for t in splits["train"]]
    train_texts = set(splits["train"])
    exact = near = 0
    for t in splits["val"] + splits["test"]:
        if t in train_texts:
            exact += 1
            continue
        s = set(char_shingles(t))
        if any(len(s & o) / len(s | o) >= threshold for o in train):
            near += 1
    return exact, near


def answers_by_split(root: Path, min_chars: int) -> dict[str, list[str]]:
    """Every normalised assistant answer (prose, at least `min_chars`) of every record, by split."""
    from javis.data.records import normalize_text
    from javis.data.splitting import answer_messages

    out: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    folder = root / "data/training/current"
    for split in out:
        for name in (f"{split}.jsonl", f"preference_{split}.jsonl", f"kto_{split}.jsonl"):
            for r in read_jsonl(folder / name):
                for m in answer_messages(r):
                    text = normalize_text(m.get("content") or "")
                    if len(text) >= min_chars:
                        out[split].append(text)
    return out


WORDS = (
    "회의록 예산안 출장비 기차표 호텔방 점심값 주간보고 초안 메일함 일정표 알림 택배 세탁 병원 약국 "
    "dentist invoice laptop charger parcel garden bicycle recipe passport museum ferry concert "
    "umbrella library sandwich mortgage printer keyboard violin marathon"
).split()


def unrelated(n: int) -> str:
    """An answer made of random words (seeded by n): unrelated answers share few 3-grams."""
    import random

    return " ".join(random.Random(n).sample(WORDS, 9))


ANSWERS = [
    "No, I'm JAVIS, Minjun Kim's personal assistant. How can I help you today?",
    "아니요, 저는 김민준 님의 개인 비서 JAVIS예요. 무엇을 도와드릴까요?",
    "The quarterly budget review moved to Thursday at 3pm in the small meeting room.",
    "분기 예산 검토는 목요일 오후 3시로 옮겨졌고, 장소는 작은 회의실이에요.",
]


def answer_rows() -> list[dict]:
    """Conversations with unrelated first turns whose answers are equal or near duplicates."""
    rows = []
    for i, answer in enumerate(ANSWERS):
        for k, city in enumerate(CITIES[:6]):
            text = answer if k % 2 else answer.replace(".", "!").replace("요", "요 ", 1)
            rows.append(
                {
                    "messages": [
                        {"role": "user", "content": f"{city} {unrelated(1000 + i * 10 + k)}"},
                        {"role": "assistant", "content": text},
                    ]
                }
            )
    return rows


def first_turns_by_split(root: Path) -> dict[str, list[str]]:
    from javis.data.records import first_user_turn

    out: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    folder = root / "data/training/current"
    for split in out:
        for name in (f"{split}.jsonl", f"preference_{split}.jsonl", f"kto_{split}.jsonl"):
            out[split] += [first_user_turn(r) for r in read_jsonl(folder / name)]
    return out


def test_near_duplicate_prompts_never_straddle_splits(workdir):
    """Near-duplicate first user turns that the hash alone would put in different splits land in
    one split, and so do conversations with unrelated prompts whose answers are equal or near
    duplicates; metrics/split.json reports leakage 0 on both sides (prompt, answer) and an exact
    Jaccard check on the files agrees for both; after a release pins the split index, new near
    duplicates of held-out prompts join them, and no pinned collision appears."""
    from javis.data.records import group_key, normalize_text
    from javis.data.splitting import bucket

    cfg = params.load().split
    rows, clusters = [], []
    for i, city in enumerate(CITIES):
        for j, ask in enumerate(ASKS[:3] if i % 2 else ASKS[1:]):
            # a tail of random words: other cities' prompts of one shape are not near duplicates
            prompts = _variants(f"{ask.format(c=city)} {unrelated(i * 10 + j)[:24]}")
            clusters.append(prompts)
            for prompt in prompts:
                rows.append(
                    {
                        "messages": [
                            {"role": "user", "content": prompt},
                            {"role": "assistant", "content": unrelated(len(rows))},
                        ]
                    }
                )
    write_jsonl(workdir / "data/raw/near.jsonl", rows)
    answered = answer_rows()
    write_jsonl(workdir / "data/raw/answers.jsonl", answered)
    by_hash = sum(
        1
        for c in clusters
        if len({bucket(group_key({"messages": [{"role": "user", "content": p}]}), cfg) for p in c})
        > 1
    )
    for s in DATA_STAGES:
        run_stage(s, workdir)
    m = stage_metrics(workdir, "split")
    turns = first_turns_by_split(workdir)
    # The banding's promise (10 bands x 6 rows): a pair at Jaccard >= 0.8 is a candidate 95% of the
    # time and, with its near duplicates around it, joins one group; pairs at 0.7-0.8 are
    # candidates 71-95% of the time, so the exact check holds at threshold + 0.1 and prints the rest.
    sure = cfg.near_threshold + 0.1
    exact, near = held_out_near(turns, sure)
    boundary = held_out_near(turns, cfg.near_threshold)[1] - near
    assert m["in"] == len(rows) + len(answered), "dedupe dropped a record: the test needs them all"
    assert m["leakage"] == {"exact": 0, "near": 0}, m["leakage"]
    assert m["leakage_by_side"]["answer"] == {"exact": 0, "near": 0}, m["leakage_by_side"]
    assert m["leakage_by_side"]["prompt"] == {"exact": 0, "near": 0}, m["leakage_by_side"]
    assert (exact, near) == (0, 0), f"held-out first turns near train ones: {exact}, {near}"
    answers = answers_by_split(workdir, cfg.answer_min_chars)
    a_exact, a_near = held_out_near(answers, sure)
    a_boundary = held_out_near(answers, cfg.near_threshold)[1] - a_near
    assert (a_exact, a_near) == (0, 0), (
        f"held-out answers equal/near train ones: {a_exact}, {a_near}"
    )
    answer_splits = {
        i: {
            m2
            for s2, ts in answers.items()
            for t in ts
            for m2 in [s2]
            if t.startswith(a[:20].lower())
        }
        for i, a in enumerate(ANSWERS)
    }
    assert all(len(v) == 1 for v in answer_splits.values()), f"an answer straddles: {answer_splits}"
    distinct = {normalize_text(p) for c in clusters for p in c}
    where = {t: s for s, ts in turns.items() for t in ts}
    straddling = [c for c in clusters if len({where[normalize_text(p)] for p in c}) > 1]
    assert not straddling, straddling[:3]
    held = sum(len(v) for k, v in turns.items() if k != "train")
    print(
        f"\n{len(clusters)} clusters of near-duplicate prompts ({len(distinct)} distinct first turns); the hash alone "
        f"would split {by_hash} of them across train/held-out; after split: 0 clusters straddle; "
        f"metrics leakage {m['leakage']}; exact Jaccard check on the files: exact {exact}, near (>= {sure:.1f}) {near}, "
        f"at {cfg.near_threshold}-{sure:.1f} {boundary} "
        f"({held} held-out vs {len(turns['train'])} train first turns); answers: "
        f"{len(answered)} conversations with unrelated prompts share {len(ANSWERS)} answers, each "
        f"answer in one split {answer_splits}; exact Jaccard on the answers in the files: exact "
        f"{a_exact}, near (>= {sure:.1f}) {a_near}, at {cfg.near_threshold}-{sure:.1f} {a_boundary}; largest group {m['largest_group']}"
    )

    # A release pins the split index; new near duplicates of held-out prompts arrive.
    index = json.loads((workdir / "data/training/current/index.json").read_text())
    (workdir / "data/split_index.json").write_text(json.dumps({**index, "version": "javis-v0.1"}))
    held_out = [t for t in turns["val"] + turns["test"]]
    new = [
        {
            "messages": [
                {"role": "user", "content": t + " 다시"},
                {"role": "assistant", "content": f"다시 확인했어요: {n}번 항목 그대로예요."},
            ]
        }
        for n, t in enumerate(held_out)
    ]
    write_jsonl(workdir / "data/raw/week2.jsonl", new)
    for s in DATA_STAGES:
        run_stage(s, workdir)
    m2 = stage_metrics(workdir, "split")
    turns2 = first_turns_by_split(workdir)
    assert m2["leakage"] == {"exact": 0, "near": 0}, m2["leakage"]
    assert m2["pinned_collisions"]["answer"] == {"exact": 0, "near": 0}, m2["pinned_collisions"]
    assert held_out_near(turns2, sure) == (0, 0), "held-out first turns leak"
    answers2 = answers_by_split(workdir, cfg.answer_min_chars)
    assert held_out_near(answers2, sure) == (0, 0), "held-out answers leak"
    after = json.loads((workdir / "data/training/current/index.json").read_text())
    assert all(
        after["records"][rid] == s for rid, s in index["records"].items()
    )  # nothing released moved
    joined = sum(1 for t in held_out if (t + " 다시") in turns2["val"] + turns2["test"])
    assert joined == len(held_out), (joined, len(held_out))
    print(
        f"after a release: {len(new)} new near duplicates of held-out prompts all joined their split "
        f"(placement {m2['placement']}); leakage {m2['leakage']}; 0 released records moved"
    )
