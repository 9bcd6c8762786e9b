"""javis benchmarks (`make bench`): every figure printed beside what it is measured against, in one run.

    python benchmarks/run.py                       # the defaults below (under 30 minutes on 2 cores)
    python benchmarks/run.py --size 100k,300k      # other corpus sizes (conversations)
    python benchmarks/run.py --only data --size 2k # one part, tiny (what tests/test_benchmarks_smoke.py runs)

Parts (README.md in this folder has the results table and the machine):
- data:    collect -> clean -> dedupe -> split as `python -m stages.<name>` subprocesses in a temp
           project folder (as DVC runs them: start-up and imports count) on the synthetic corpus of
           benchmarks/gen.py, beside the floor: read, parse (orjson) and write the same JSONL.
           Per stage: docs/s, time / floor, peak RSS; across sizes: cost per doc (linear = 1.0x).
- neardup: the dedupe stage's precision and recall on the generator's planted near duplicates,
           and its throughput against datasketch's MinHashLSH (same docs, num_perm, threshold, bands).
- dvc:     a temp git + DVC repo with the corpus pinned: `dvc repro` of the data stages against the
           same stages run directly, then a no-op `dvc repro` and `javis status` against `dvc version`
           (DVC's own start-up) and the 2 s target.
- train:   our train stage's trainer against TRL's SFTTrainer defaults on the bundled model and the
           examples: tokens/s side by side, with both loss curves and validation losses
           (benchmarks/model_bench.py).
- eval:    batched generation (the evaluate stage's) against one prompt at a time, same prompts.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CODE = ROOT  # the checkout whose stages run (--code: another one, for before/after figures)

DATA_STAGES = ("collect", "clean", "dedupe", "split")
DEFAULT_SIZES = "100k,300k"
TARGETS = {"e2e_seconds_1m": 180.0, "rss_mb": 4096.0, "floor_ratio": 10.0, "dvc_seconds": 2.0}

# The floor: read every input line, parse it with orjson, write it back. What any JSONL stage costs
# at least; run as a subprocess like the stages, so the ratio compares like with like.
FLOOR = """
import sys
from pathlib import Path
import orjson
n = 0
with open(sys.argv[1], "wb") as out:
    for path in sorted(Path("data/raw").rglob("*.jsonl")) + sorted(Path("data/feedback").rglob("*.jsonl")):
        with open(path, "rb") as f:
            for line in f:
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                out.write(orjson.dumps(obj) + b"\\n")
                n += 1
print(n)
"""


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * mult)


def human(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def env() -> dict[str, str]:
    e = {
        **os.environ,
        "PYTHONPATH": str(CODE),
        "DVC_NO_ANALYTICS": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONHASHSEED": "0",
    }
    e["PATH"] = os.path.dirname(sys.executable) + os.pathsep + e.get("PATH", "")
    for k, v in (
        ("GIT_AUTHOR_NAME", "bench"),
        ("GIT_AUTHOR_EMAIL", "bench@javis.invalid"),
        ("GIT_COMMITTER_NAME", "bench"),
        ("GIT_COMMITTER_EMAIL", "bench@javis.invalid"),
    ):
        e.setdefault(k, v)
    return e


def timed(cmd: list[str], cwd: Path, check: bool = True) -> dict:
    """Run `cmd`; its wall time, CPU time and peak RSS (of it and the children it waited for)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.stdout:
        proc.stdout.close()
    text = out.decode("utf-8", "replace")
    if check and proc.returncode != 0:
        raise SystemExit(
            f"bench: {' '.join(cmd)} failed ({proc.returncode}) in {cwd}:\n{text[-3000:]}"
        )
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
        "rc": proc.returncode,
        "out": text,
    }


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {os.cpu_count()} cores{mem}, Python {platform.python_version()}, "
        f"load average {load:.1f} at start"
    )


def table(headers: list[str], rows: list[list[object]]) -> str:
    cells = [[str(c) for c in r] for r in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| "
        + " | ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        + " |"
        for r in cells
    ]
    return "\n".join([line, sep, *body])


# --- data stages --------------------------------------------------------------------------------------


def make_project(folder: Path, size: int, seed: int) -> tuple[dict, float]:
    """A project folder holding params.yaml and a generated corpus; (truth, generation seconds).

    The generator runs in its own process: a child started from a big parent inherits the parent's
    peak RSS in ru_maxrss, so this process stays small while it measures the stages."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "params.yaml", folder / "params.yaml")
    (folder / "examples").mkdir(exist_ok=True)
    run = timed(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "gen.py"),
            str(folder),
            "--size",
            str(size),
            "--seed",
            str(seed),
        ],
        folder,
    )
    return orjson.loads((folder / "truth.json").read_bytes()), run["wall"]


def data_benchmark(folder: Path, size: int, seed: int = 0) -> dict:
    """Generate `size` conversations in `folder`, run the floor and the four stages; the figures."""
    truth, gen_s = make_project(folder, size, seed)
    floor = timed([sys.executable, "-c", FLOOR, str(folder / "floor.jsonl")], folder)
    floor_docs = int(floor["out"].split()[-1])
    (folder / "floor.jsonl").unlink()
    stages = {}
    for stage in DATA_STAGES:
        run = timed([sys.executable, "-m", f"stages.{stage}"], folder)
        metrics = orjson.loads((folder / "metrics" / f"{stage}.json").read_bytes())
        stages[stage] = {
            **{k: run[k] for k in ("wall", "cpu", "rss_mb")},
            "in": metrics["in"],
            "kept": metrics["kept"],
            "rejected": metrics["rejected"],
            "metrics": metrics,
        }
    return {
        "size": size,
        "bytes": truth["counts"]["bytes"],
        "gen_s": gen_s,
        "truth": truth,
        "floor": {**{k: floor[k] for k in ("wall", "cpu", "rss_mb")}, "docs": floor_docs},
        "stages": stages,
        "folder": str(folder),
    }


def check_counts(result: dict) -> list[str]:
    """Each stage reads exactly what the one before it kept, and in = kept + rejected everywhere."""
    s = {k: v["metrics"] for k, v in result["stages"].items()}
    counts = result["truth"]["counts"]
    problems = []
    persona = s["collect"]["by_source"].get("persona", {}).get("in", 0)  # params `persona`
    if s["collect"]["in"] != counts["lines"] + counts["feedback"] + persona:
        problems.append(
            f"collect in {s['collect']['in']} != lines {counts['lines']} + feedback "
            f"{counts['feedback']} + persona {persona}"
        )
    if s["clean"]["in"] != sum(s["collect"]["records_out"].values()):
        problems.append("clean in != collect records_out")
    if s["dedupe"]["in"] != s["clean"]["kept"]:
        problems.append("dedupe in != clean kept")
    if s["split"]["in"] != s["dedupe"]["kept"]:
        problems.append("split in != dedupe kept")
    for stage, m in s.items():
        if m["in"] != m["kept"] + m["rejected"]:
            problems.append(f"{stage}: in != kept + rejected")
    return problems


def import_costs() -> dict[str, float]:
    """Median wall time of starting Python and importing each stage (what DVC pays per stage)."""
    cmds = {"python": "pass", **{stage: f"import stages.{stage}" for stage in DATA_STAGES}}
    return {
        name: median_of([sys.executable, "-c", code], ROOT, 5)["wall"]
        for name, code in cmds.items()
    }


def import_report(costs: dict[str, float]) -> str:
    base = costs["python"]
    rows = [[name, f"{t:.2f}", f"{t / base:.1f}x"] for name, t in costs.items()]
    return "\n".join(
        [
            "\n### Start-up: Python plus each stage's imports (median of 5)\n",
            table(["process", "wall s", "vs bare python"], rows),
        ]
    )


def data_report(results: list[dict]) -> str:
    out = []
    for r in results:
        floor = r["floor"]
        total_wall = sum(v["wall"] for v in r["stages"].values())
        total_cpu = sum(v["cpu"] for v in r["stages"].values())
        rows = [
            [
                "floor (orjson read+parse+write)",
                floor["docs"],
                f"{floor['wall']:.1f}",
                f"{floor['cpu']:.1f}",
                f"{floor['docs'] / floor['wall']:,.0f}",
                "1.0x",
                "1.0x",
                f"{floor['rss_mb']:.0f}",
            ]
        ]
        for stage, v in r["stages"].items():
            rows.append(
                [
                    stage,
                    v["in"],
                    f"{v['wall']:.1f}",
                    f"{v['cpu']:.1f}",
                    f"{v['in'] / v['wall']:,.0f}",
                    f"{v['wall'] / floor['wall']:.1f}x",
                    f"{v['cpu'] / floor['cpu']:.1f}x",
                    f"{v['rss_mb']:.0f}",
                ]
            )
        rows.append(
            [
                "all four stages",
                r["stages"]["collect"]["in"],
                f"{total_wall:.1f}",
                f"{total_cpu:.1f}",
                f"{r['size'] / total_wall:,.0f} conv/s",
                f"{total_wall / floor['wall']:.1f}x",
                f"{total_cpu / floor['cpu']:.1f}x",
                f"{max(v['rss_mb'] for v in r['stages'].values()):.0f}",
            ]
        )
        out.append(
            f"\n### Data stages, {human(r['size'])} conversations ({r['bytes'] / 1e6:,.0f} MB; "
            f"generated in {r['gen_s']:.0f} s)\n"
        )
        out.append(
            table(
                [
                    "step",
                    "docs in",
                    "wall s",
                    "cpu s",
                    "docs/s (wall)",
                    "wall / floor",
                    "cpu / floor",
                    "peak RSS MB",
                ],
                rows,
            )
        )
        kept = r["stages"]["split"]["in"]
        out.append(
            f"\nrecords: collect {r['stages']['collect']['metrics']['records_out']}, clean kept "
            f"{r['stages']['clean']['kept']}, dedupe kept {r['stages']['dedupe']['kept']}, split {kept}; "
            f"cpu/wall {sum(v['cpu'] for v in r['stages'].values()) / total_wall:.2f} "
            f"(1.0 = one core busy)"
        )
        problems = check_counts(r)
        out.append("counts add up: " + ("yes" if not problems else "NO: " + "; ".join(problems)))
    if len(results) > 1:
        small, big = results[0], results[-1]
        factor = big["size"] / small["size"]
        rows = []
        for stage in [*DATA_STAGES, "floor"]:
            a = small["floor"] if stage == "floor" else small["stages"][stage]
            b = big["floor"] if stage == "floor" else big["stages"][stage]
            rows.append(
                [
                    stage,
                    f"{a['cpu']:.1f}",
                    f"{b['cpu']:.1f}",
                    f"{b['cpu'] / a['cpu']:.1f}x",
                    f"{b['cpu'] / a['cpu'] / factor:.2f}",
                    f"{b['wall'] / a['wall'] / factor:.2f}",
                    f"{a['rss_mb']:.0f} -> {b['rss_mb']:.0f}",
                ]
            )
        out.append(
            f"\n### Scaling {human(small['size'])} -> {human(big['size'])} ({factor:.0f}x the data)\n"
        )
        out.append(
            table(
                [
                    "stage",
                    f"cpu s {human(small['size'])}",
                    f"cpu s {human(big['size'])}",
                    "cpu ratio",
                    "per-doc cpu ratio (1.00 = linear)",
                    "per-doc wall ratio",
                    "peak RSS MB",
                ],
                rows,
            )
        )
        total_a = sum(v["wall"] for v in small["stages"].values())
        total_b = sum(v["wall"] for v in big["stages"].values())
        to_1m = total_b * 1_000_000 / big["size"]
        out.append(
            f"\nend to end: {total_b:.0f} s for {human(big['size'])}"
            + (f" (linear extrapolation to 1M: {to_1m:.0f} s)" if big["size"] != 1_000_000 else "")
            + f" vs target {TARGETS['e2e_seconds_1m']:.0f} s for 1M: {to_1m / TARGETS['e2e_seconds_1m']:.2f}x the target; "
            f"growth {total_b / total_a:.1f}x for {factor:.0f}x the data"
        )
    return "\n".join(out)


# --- near-duplicate quality -----------------------------------------------------------------------------


def word_shingles(text: str, n: int) -> set[str]:
    from javis.data.dedup import shingles

    return set(shingles(text, n))


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def neardup_quality(result: dict) -> dict:
    """Precision and recall of the dedupe stage's near-duplicate rejects against the planted truth."""
    from javis.core import params
    from javis.data.records import record_text

    folder = Path(result["folder"])
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        cfg = params.load().dedupe
    finally:
        os.chdir(cwd)
    truth = result["truth"]
    root = {**truth["near"], **truth["exact"]}  # conversation id -> the original it copies

    def conv_of(record: dict) -> str | None:
        meta = record.get("meta") or {}
        return meta.get("orig_id") if str(meta.get("file", "")).startswith("data/raw") else None

    texts: dict[str, str] = {}  # record id -> text, every SFT record that reached dedupe
    conv_by_id: dict[str, str] = {}  # those from the logs: record id -> conversation id
    for record in iter_jsonl(folder / "data/cleaned/sft.jsonl"):
        texts[record["id"]] = record_text(record)
        conv = conv_of(record)
        if conv is not None:
            conv_by_id[record["id"]] = conv
    rejected: dict[str, tuple[str, str]] = {}  # conversation -> (reason, duplicate_of record id)
    for entry in iter_jsonl(folder / "data/rejected/dedupe.jsonl"):
        conv = conv_of(entry["record"])
        if conv is not None and entry["record"]["id"] in conv_by_id:
            rejected[conv] = (entry["reason"].split(" ")[0], entry["duplicate_of"])
    record_of_conv = {c: rid for rid, c in conv_by_id.items()}

    shingle = cfg.shingle
    # Recall: planted near duplicates whose copy and original both reached dedupe.
    planted = [
        (c, o) for c, o in truth["near"].items() if c in record_of_conv and o in record_of_conv
    ]
    found = found_hi = n_hi = 0
    sims = []
    for c, o in planted:
        sim = jaccard(
            word_shingles(texts[record_of_conv[c]], shingle),
            word_shingles(texts[record_of_conv[o]], shingle),
        )
        sims.append(sim)
        hit = c in rejected
        found += hit
        if sim >= cfg.threshold:
            n_hi += 1
            found_hi += hit
    # Precision: near-duplicate rejects whose copy and kept record come from the same original.
    tp = fp = fp_true_sim = 0
    for c, (reason, dup_of) in rejected.items():
        if reason != "near_duplicate":
            continue
        other = conv_by_id.get(dup_of)
        if other is not None and root.get(c, c) == root.get(other, other):
            tp += 1
        else:
            fp += 1
            sim = jaccard(
                word_shingles(texts[record_of_conv[c]], shingle),
                word_shingles(texts[dup_of], shingle),
            )
            fp_true_sim += sim >= cfg.threshold
    exact_planted = [c for c in truth["exact"] if c in record_of_conv]
    exact_found = sum(1 for c in exact_planted if rejected.get(c, ("",))[0] == "exact_duplicate")
    return {
        "threshold": cfg.threshold,
        "num_perm": cfg.num_perm,
        "shingle": shingle,
        "planted": len(planted),
        "recall": found / len(planted) if planted else float("nan"),
        "planted_above": n_hi,
        "recall_above": found_hi / n_hi if n_hi else float("nan"),
        "similarity": {
            "min": min(sims, default=0),
            "median": statistics.median(sims) if sims else 0,
            "below_threshold": len(sims) - n_hi,
        },
        "near_rejects": tp + fp,
        "precision": tp / (tp + fp) if tp + fp else float("nan"),
        "false_positives": fp,
        "false_positives_truly_similar": fp_true_sim,
        "exact_planted": len(exact_planted),
        "exact_recall": exact_found / len(exact_planted) if exact_planted else float("nan"),
    }


def iter_jsonl(path: Path):
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                yield orjson.loads(line)


class DatasketchDeduper:
    """The dedupe stage's algorithm with datasketch in place of rensa (same shingles, perms, bands)."""

    def __init__(self, cfg) -> None:
        from datasketch import MinHashLSH

        from javis.data.dedup import bands_for

        self.cfg = cfg
        b = bands_for(cfg.num_perm, cfg.threshold)
        self.lsh = MinHashLSH(num_perm=cfg.num_perm, params=(b, cfg.num_perm // b))
        self.hashes: list = []
        self.exact: set[str] = set()

    def check(self, record: dict) -> bool:
        from datasketch import MinHash

        from javis.data.dedup import shingles
        from javis.data.records import digest, record_text

        text = record_text(record)
        h = digest(text)
        if h in self.exact:
            return False
        m = MinHash(num_perm=self.cfg.num_perm, seed=self.cfg.seed)
        m.update_batch([s.encode("utf-8") for s in shingles(text, self.cfg.shingle)])
        if any(m.jaccard(self.hashes[k]) >= self.cfg.threshold for k in self.lsh.query(m)):
            return False
        self.exact.add(h)
        self.lsh.insert(len(self.hashes), m)
        self.hashes.append(m)
        return True


def neardup_throughput(result: dict, docs: int) -> dict:
    """Docs/s of the stage's Deduper (rensa) and of the same algorithm on datasketch, same records."""
    from javis.core import params
    from javis.data.dedup import Deduper

    folder = Path(result["folder"])
    records = []
    for record in iter_jsonl(folder / "data/cleaned/sft.jsonl"):
        records.append(record)
        if len(records) >= docs:
            break
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        cfg = params.load().dedupe
    finally:
        os.chdir(cwd)
    out = {"docs": len(records)}
    for name, make in (
        ("rensa (javis dedupe)", lambda: Deduper(cfg)),
        ("datasketch MinHashLSH", lambda: DatasketchDeduper(cfg)),
    ):
        d = make()
        start = time.perf_counter()
        kept = [
            bool(d.check(r) if name.startswith("datasketch") else d.check(r)[0]) for r in records
        ]
        wall = time.perf_counter() - start
        out[name] = {"wall": wall, "docs_s": len(records) / wall, "kept": kept}
    # The hashing alone, on the same word shingles (what the libraries' own benchmarks measure).
    from datasketch import MinHash
    from rensa import RMinHash

    from javis.data.dedup import shingles
    from javis.data.records import record_text

    tokens = [shingles(record_text(r), cfg.shingle) for r in records]
    start = time.perf_counter()
    for t in tokens:
        RMinHash(num_perm=cfg.num_perm, seed=cfg.seed).update(t)
    out["hash_rensa"] = len(tokens) / (time.perf_counter() - start)
    encoded = [[x.encode("utf-8") for x in t] for t in tokens]
    start = time.perf_counter()
    for t in encoded:
        MinHash(num_perm=cfg.num_perm, seed=cfg.seed).update_batch(t)
    out["hash_datasketch"] = len(tokens) / (time.perf_counter() - start)
    a, b = out["rensa (javis dedupe)"]["kept"], out["datasketch MinHashLSH"]["kept"]
    out["agreement"] = (
        sum(x == y for x, y in zip(a, b, strict=True)) / len(a) if a else float("nan")
    )
    for name in ("rensa (javis dedupe)", "datasketch MinHashLSH"):
        out[name]["rejected"] = out[name]["kept"].count(False)
        del out[name]["kept"]
    return out


def neardup_report(q: dict, t: dict, size: int) -> str:
    rows = [
        ["planted near duplicates (copy and original reached dedupe)", q["planted"]],
        ["recall: rejected as duplicates", f"{q['recall']:.3f}"],
        [
            f"  of those with true word-{q['shingle']}gram Jaccard >= {q['threshold']}",
            f"{q['planted_above']} (recall {q['recall_above']:.3f})",
        ],
        [
            "  true Jaccard of planted pairs: min / median",
            f"{q['similarity']['min']:.2f} / {q['similarity']['median']:.2f}",
        ],
        ["near-duplicate rejects", q["near_rejects"]],
        ["precision: same original as the record kept", f"{q['precision']:.4f}"],
        [
            "  false positives (of which true Jaccard >= threshold)",
            f"{q['false_positives']} ({q['false_positives_truly_similar']})",
        ],
        ["planted exact duplicates: recall", f"{q['exact_recall']:.3f} of {q['exact_planted']}"],
    ]
    rensa, ds = t["rensa (javis dedupe)"], t["datasketch MinHashLSH"]
    ratio = rensa["docs_s"] / ds["docs_s"]
    speed = [
        [
            "rensa (javis dedupe)",
            t["docs"],
            f"{rensa['wall']:.2f}",
            f"{rensa['docs_s']:,.0f}",
            "1.0x",
            rensa["rejected"],
        ],
        [
            "datasketch MinHashLSH",
            t["docs"],
            f"{ds['wall']:.2f}",
            f"{ds['docs_s']:,.0f}",
            f"{ratio:.1f}x slower" if ratio >= 1 else f"{1 / ratio:.1f}x faster",
            ds["rejected"],
        ],
    ]
    return "\n".join(
        [
            f"\n### Near duplicates ({human(size)} corpus; threshold {q['threshold']}, {q['num_perm']} perms, word {q['shingle']}-grams)\n",
            table(["measure", "value"], rows),
            f"\nthroughput, same first {t['docs']:,} cleaned SFT records (exact + near check, insert):\n",
            table(["library", "docs", "wall s", "docs/s", "vs rensa", "rejected"], speed),
            f"\nsame keep/reject decision on {t['agreement']:.2%} of the records; MinHash alone on the same shingles: "
            f"rensa {t['hash_rensa']:,.0f} docs/s, datasketch {t['hash_datasketch']:,.0f} docs/s "
            f"({t['hash_rensa'] / t['hash_datasketch']:.1f}x)",
        ]
    )


# --- DVC overhead -------------------------------------------------------------------------------------


def copy_code(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("javis", "stages"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in ("dvc.yaml", "params.yaml", ".dvcignore", ".gitignore"):
        shutil.copy(ROOT / name, dest / name)
    (dest / "examples").mkdir(exist_ok=True)
    (dest / "data").mkdir(exist_ok=True)
    (dest / "data/split_index.json").write_text("{}\n")  # no release yet
    if (ROOT / "data/forgotten.jsonl").exists():
        (dest / "data/forgotten.jsonl").write_text("")  # nothing forgotten


def median_of(cmd: list[str], cwd: Path, n: int = 3) -> dict:
    runs = [timed(cmd, cwd, check=False) for _ in range(n)]
    return {
        "wall": statistics.median(r["wall"] for r in runs),
        "rc": runs[-1]["rc"],
        "out": runs[-1]["out"],
    }


def dvc_benchmark(source: Path, folder: Path, direct: dict) -> dict:
    """A git + DVC repo holding the corpus of `source`; repro, then no-op repro and `javis status`."""
    folder.mkdir(parents=True, exist_ok=True)
    copy_code(folder)
    for name in ("raw", "feedback"):
        shutil.copytree(source / "data" / name, folder / "data" / name)
    git = ["git", "-c", "init.defaultBranch=main"]
    for cmd in (
        [*git, "init", "-q"],
        [sys.executable, "-m", "dvc", "init", "-q"],
        [sys.executable, "-m", "dvc", "config", "core.analytics", "false"],
    ):
        timed(cmd, folder)
    add = timed([sys.executable, "-m", "dvc", "add", "-q", "data/raw", "data/feedback"], folder)
    timed(["git", "add", "-A"], folder)
    timed(["git", "commit", "-q", "-m", "bench"], folder)
    repro = timed([sys.executable, "-m", "dvc", "repro", "split"], folder)
    timed(["git", "add", "-A"], folder)
    timed(["git", "commit", "-q", "-m", "repro"], folder)
    return {
        "add": add["wall"],
        "repro": repro["wall"],
        "direct": direct,
        "noop": median_of([sys.executable, "-m", "dvc", "repro", "split"], folder),
        "status": median_of([sys.executable, "-m", "dvc", "status"], folder),
        "javis_status": median_of([sys.executable, "-m", "javis.app.cli", "status"], folder),
        "dvc_version": median_of([sys.executable, "-m", "dvc", "version"], folder),
        "python": median_of([sys.executable, "-c", "pass"], folder),
    }


def dvc_report(d: dict, size: int) -> str:
    base = d["dvc_version"]["wall"]
    target = TARGETS["dvc_seconds"]

    def row(name: str, r: dict) -> list[object]:
        return [
            name,
            f"{r['wall']:.2f}",
            f"{r['wall'] / base:.1f}x",
            f"{r['wall'] / target:.2f}x",
            "" if r["rc"] == 0 else f"exit {r['rc']}",
        ]

    rows = [
        row("`python -c pass`", d["python"]),
        row("`dvc version` (DVC start-up)", d["dvc_version"]),
        row("no-op `dvc repro split`", d["noop"]),
        row("`dvc status`", d["status"]),
        row("`javis status`", d["javis_status"]),
    ]
    return "\n".join(
        [
            f"\n### DVC overhead ({human(size)} conversations pinned; median of 3)\n",
            table(["command", "wall s", "vs dvc version", "vs 2 s target", "note"], rows),
            f"\n`dvc add` of the corpus {d['add']:.1f} s; `dvc repro split` {d['repro']:.1f} s vs the same "
            f"stages run directly {d['direct']:.1f} s ({d['repro'] / d['direct']:.2f}x: hashing and caching the outputs)",
        ]
    )


# --- main ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--size",
        default=DEFAULT_SIZES,
        help=f"corpus sizes, comma-separated (default {DEFAULT_SIZES})",
    )
    ap.add_argument(
        "--only",
        default="data,neardup,dvc,train,eval",
        help="parts to run: data, neardup, dvc, train, eval",
    )
    ap.add_argument(
        "--train-steps", type=int, default=8, help="optimizer steps per trainer (train part)"
    )
    ap.add_argument("--train-batch", type=int, default=4, help="sequences per step (train part)")
    ap.add_argument("--eval-prompts", type=int, default=32, help="test prompts (eval part)")
    ap.add_argument("--eval-tokens", type=int, default=48, help="new tokens per answer (eval part)")
    ap.add_argument(
        "--base",
        default="",
        help="a model folder for the train and eval parts (default: the bundled base)",
    )
    ap.add_argument(
        "--dvc-size", default="100k", help="corpus size for the DVC part (default 100k)"
    )
    ap.add_argument(
        "--neardup-docs", type=int, default=5_000, help="records for the datasketch comparison"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--workdir", help="where the corpora go (default: a temp folder, removed afterwards)"
    )
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument(
        "--code",
        help="run the stages of another checkout (PYTHONPATH), e.g. a copy before a change",
    )
    args = ap.parse_args(argv)
    global CODE
    if args.code:
        CODE = Path(args.code).resolve()
    parts = {p.strip() for p in args.only.split(",")}
    sizes = sorted(parse_size(s) for s in args.size.split(","))
    dvc_size = parse_size(args.dvc_size)
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="javis-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    need = max(sizes) * 1.2e3 * 9 / 1e9
    free = shutil.disk_usage(work).free / 1e9
    print(
        f"# javis benchmarks\n\nmachine: {machine()}\nwork folder: {work} ({free:.0f} GB free; the largest "
        f"corpus needs about {need:.0f} GB)\n",
        flush=True,
    )
    if free < need:
        print(f"WARNING: {free:.0f} GB free may not be enough", flush=True)
    started = time.perf_counter()
    try:
        results: list[dict] = []
        if parts & {"data", "neardup", "dvc"}:
            for size in sizes:
                print(f"running the data stages on {human(size)} conversations ...", flush=True)
                results.append(data_benchmark(work / f"data-{human(size)}", size, args.seed))
            if "data" in parts:
                print(data_report(results), flush=True)
                print(import_report(import_costs()), flush=True)
        if "neardup" in parts:
            r = next((x for x in results if x["size"] == dvc_size), results[0])
            print(
                neardup_report(
                    neardup_quality(r), neardup_throughput(r, args.neardup_docs), r["size"]
                ),
                flush=True,
            )
        if "dvc" in parts:
            r = next((x for x in results if x["size"] == dvc_size), None)
            if r is None:
                r = data_benchmark(work / f"data-{human(dvc_size)}", dvc_size, args.seed)
            direct = sum(v["wall"] for v in r["stages"].values())
            print(
                dvc_report(dvc_benchmark(Path(r["folder"]), work / "dvc-repo", direct), dvc_size),
                flush=True,
            )
        if parts & {"train", "eval"}:
            import model_bench

            folder = work / "model"
            print("preparing the bundled model and the examples' splits ...", flush=True)
            model_bench.prepare(folder, env(), args.base)
            if "train" in parts:
                print(
                    f"training {args.train_steps} steps x {args.train_batch} sequences, ours then TRL's defaults ...",
                    flush=True,
                )
                print(
                    model_bench.train_report(
                        model_bench.train_benchmark(
                            folder, env(), args.train_steps, args.train_batch
                        )
                    ),
                    flush=True,
                )
            if "eval" in parts:
                print(
                    f"generating for {args.eval_prompts} test prompts, batched then one at a time ...",
                    flush=True,
                )
                print(
                    model_bench.eval_report(
                        model_bench.eval_benchmark(
                            folder, env(), args.eval_prompts, args.eval_tokens
                        )
                    ),
                    flush=True,
                )
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"\nbenchmarks took {(time.perf_counter() - started) / 60:.1f} min "
        f"(load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: absolute times are noisy, "
        "the ratios are measured side by side)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
