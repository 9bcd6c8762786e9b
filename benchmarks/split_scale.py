"""Per-record cost of the split stage as the corpus grows (issue 16: 100k -> 1M within 1.2x).

    nice -n 10 python benchmarks/split_scale.py                 # 100k and 1M (~10 min on 2 cores)
    python benchmarks/split_scale.py --size 2k,20k              # small, what the smoke test runs

A held-out synthetic corpus, not gen.py's: conversations written from a small vocabulary (48 words
per language, Korean and English), so that unrelated first turns and answers share many character
3-grams, and planted near duplicates (3% of the conversations repeat an earlier first turn or
answer with one word changed). This is the corpus on which the old grouping (64 perms, 16 bands x
4 rows, every LSH candidate verified) went quadratic. It is written straight into data/deduped/
(SFT records only; split reads the three kinds alike), and `python -m stages.split` runs as a
subprocess in a temp project folder, as DVC runs it. Printed per size: records, cpu s (user + sys
of the stage), wall s, cpu us per record, peak RSS, the largest group; then the per-record cost of
each size over the smallest's (flat = 1.00).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
EN = (
    "the meeting report budget team email call plan trip hotel train ticket lunch dinner coffee "
    "weather rain today tomorrow morning evening week weekend project deadline review draft send "
    "check book cancel move add please could you can my our new old next last time room"
).split()
KO = (
    "회의 보고서 예산 팀 메일 전화 계획 출장 호텔 기차 표 점심 저녁 커피 날씨 비 오늘 내일 아침 "
    "주말 이번 다음 프로젝트 마감 검토 초안 보내 확인 예약 취소 옮겨 추가 해줘 줄래 내 우리 새 "
    "지난 시간 방 좀 다시 언제 어디 몇 시 일정"
).split()


def sentence(rng: random.Random, words: list[str], lo: int, hi: int) -> str:
    return " ".join(rng.choice(words) for _ in range(rng.randint(lo, hi)))


PLANTED: list[tuple[int, int]] = []  # (original, copy) record numbers of the last corpus()


def corpus(n: int, seed: int = 16) -> list[bytes]:
    """n SFT records (seeded, byte-identical for a seed): 1-2 turns, small vocabulary, 3% planted
    near duplicates of one of the first 50k records (the last word of the first turn and of the
    answer replaced; `PLANTED` lists them)."""
    PLANTED.clear()
    rng = random.Random(seed)
    out: list[bytes] = []
    made: list[tuple[str, str, list[str]]] = []
    for i in range(n):
        words = KO if rng.random() < 0.5 else EN
        if made and rng.random() < 0.03:
            k = int(rng.random() * len(made))
            q, a, words = made[k]
            q = q.rsplit(" ", 1)[0] + " " + rng.choice(words)
            a = a.rsplit(" ", 1)[0] + " " + rng.choice(words)
            PLANTED.append((k, i))
        else:
            q, a = sentence(rng, words, 4, 9), sentence(rng, words, 8, 20)
        if len(made) < 50_000:
            made.append((q, a, words))
        messages = [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        if rng.random() < 0.3:
            messages += [
                {"role": "user", "content": sentence(rng, words, 3, 7)},
                {"role": "assistant", "content": sentence(rng, words, 6, 16)},
            ]
        record = {
            "id": f"sft-{i:08d}",
            "source": "bench",
            "messages": messages,
            "meta": {"file": "bench.jsonl", "line": i + 1},
        }
        out.append(orjson.dumps(record))
    return out


def project(folder: Path, n: int) -> list[tuple[str, str]]:
    """A project folder with our params.yaml and the corpus as data/deduped/. Returns the planted
    pairs (record ids) that are near duplicates by split's definition: exact character 3-gram
    Jaccard >= split.near_threshold of the first turns or of the first answers."""
    sys.path.insert(0, str(ROOT))
    from javis.core import params
    from javis.data.records import normalize_text
    from javis.data.splitting import jaccard

    threshold = params.load(ROOT / "params.yaml").split.near_threshold
    shutil.copy(ROOT / "params.yaml", folder / "params.yaml")
    deduped = folder / "data/deduped"
    deduped.mkdir(parents=True)
    lines = corpus(n)
    (deduped / "sft.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    near = []
    for k, i in PLANTED:
        a, b = (orjson.loads(lines[x])["messages"] for x in (k, i))
        if (
            max(
                jaccard(normalize_text(a[j]["content"]), normalize_text(b[j]["content"]))
                for j in (0, 1)
            )
            >= threshold
        ):
            near.append((f"sft-{k:08d}", f"sft-{i:08d}"))
    for kind in ("preference", "kto"):
        (deduped / f"{kind}.jsonl").write_bytes(b"")
    return near


def run_split(folder: Path, near: list[tuple[str, str]]) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "JAVIS_JOBS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "stages.split"], cwd=folder, capture_output=True, text=True, env=env
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode:
        raise SystemExit(f"split failed:\n{result.stdout[-2000:]}{result.stderr[-3000:]}")
    m = json.loads((folder / "metrics/split.json").read_text())
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    where = json.loads((folder / "data/training/current/index.json").read_text())["records"]
    held = [(a, b) for a, b in near if "train" not in (where[a], where[b]) or where[a] != where[b]]
    straddle = sum(1 for a, b in held if where[a] != where[b] and "train" in (where[a], where[b]))
    return {
        "records": m["in"],
        "cpu_s": cpu,
        "wall_s": wall,
        "us_per_record": 1e6 * cpu / m["in"],
        "rss_mb": after.ru_maxrss / 1024,
        "largest": m["largest_group"],
        "leakage": m["leakage_by_side"],
        "placement": m["placement"],
        "planted": {"near": len(near), "held_out": len(held), "straddle": straddle},
    }


def parse_size(text: str) -> int:
    text = text.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * mult)


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="100k,1M", help="comma-separated conversation counts")
    args = ap.parse_args(argv)
    rows = []
    for n in map(parse_size, args.size.split(",")):
        with tempfile.TemporaryDirectory(prefix="javis-split-") as tmp:
            folder = Path(tmp)
            t = time.perf_counter()
            near = project(folder, n)
            print(f"{n} conversations generated in {time.perf_counter() - t:.1f} s", flush=True)
            row = {"size": n, **run_split(folder, near)}
        rows.append(row)
        print(
            f"split {n:>9,}: {row['records']:,} records, cpu {row['cpu_s']:.1f} s, wall "
            f"{row['wall_s']:.1f} s, {row['us_per_record']:.1f} cpu us/record, peak RSS "
            f"{row['rss_mb']:.0f} MB, largest group {row['largest']}, leakage {row['leakage']}; planted "
            f"near duplicates {row['planted']['near']}, {row['planted']['held_out']} with one in "
            f"val/test, {row['planted']['straddle']} of those straddle train/held-out",
            flush=True,
        )
    base = rows[0]["us_per_record"]
    for row in rows:
        print(
            f"per-record cost at {row['size']:,} / at {rows[0]['size']:,}: "
            f"{row['us_per_record'] / base:.2f}x"
        )
    return rows


if __name__ == "__main__":
    main()
