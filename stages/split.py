"""split: stable, grouped train/val/test split; the training folder of the version being built.

Reads  data/deduped/{sft,preference,kto}.jsonl, data/split_index.json (the last release's index,
       written by `javis release`; absent or empty before the first release),
       data/rejected/{clean,dedupe}.jsonl (to say why a released record is gone)
Writes data/training/current/: train.jsonl, val.jsonl, test.jsonl (SFT),
       preference_{train,val,test}.jsonl, kto_{train,val,test}.jsonl, regression.jsonl (the user's
       corrections), index.json (record and group -> split), changelog.md, manifest.json (last);
       metrics/split.json
Run    python -m stages.split

Group: a hash of the conversation's normalised first user turn, so every record derived from one
conversation (its SFT, preference and KTO records) lands in one split. A group keeps the split the
last release gave it; a new group whose first turn is a near duplicate (character 3-gram MinHash >=
split.near_threshold) of an already placed one joins that group's split; otherwise a salted hash
of the group key decides. The regression set overlaps train on purpose: it checks that what the
user taught stays taught.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter, defaultdict
from pathlib import Path

import orjson
from rensa import RMinHash, RMinHashLSH

from javis.core import fileio, params
from javis.data.records import KINDS, digest, first_user_turn, group_key

log = logging.getLogger("javis.split")

SPLITS = ("train", "val", "test")
OUTPUT_NAMES = {
    "sft": "{split}.jsonl",
    "preference": "preference_{split}.jsonl",
    "kto": "kto_{split}.jsonl",
}


def bucket(group: str, cfg: params.Split) -> str:
    """The salted-hash split of a group nobody has placed yet."""
    x = int(digest(cfg.salt, group, size=8), 16) / 2**64
    if x < cfg.test_fraction:
        return "test"
    if x < cfg.test_fraction + cfg.val_fraction:
        return "val"
    return "train"


def char_shingles(text: str, n: int = 3) -> list[str]:
    text = text.replace(" ", "_")
    return [text[i : i + n] for i in range(max(1, len(text) - n + 1))]


class GroupPlacer:
    """Assigns groups to splits: near-duplicate first turns form one cluster (transitively), a
    cluster with released groups keeps their split, any other cluster goes where its hash says."""

    NUM_PERM = 64

    def __init__(self, cfg: params.Split, index: dict[str, str]) -> None:
        self.cfg = cfg
        self.index = index
        self.how: Counter[str] = Counter()
        self.hashes: list[RMinHash] = []  # per group in sorted key order (leakage reuses them)

    def clusters(self, groups: dict[str, str]) -> list[list[str]]:
        """Connected components of the near-duplicate graph (union-find over LSH candidates)."""
        keys = sorted(groups)
        parent = list(range(len(keys)))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        lsh = RMinHashLSH(threshold=self.cfg.near_threshold, num_perm=self.NUM_PERM, num_bands=16)
        hashes = self.hashes = []
        for i, g in enumerate(keys):
            m = minhash(groups[g], self.NUM_PERM)
            for k in lsh.query(m):
                if m.jaccard(hashes[k]) >= self.cfg.near_threshold:
                    parent[find(i)] = find(k)
            lsh.insert(i, m)
            hashes.append(m)
        members: dict[int, list[str]] = defaultdict(list)
        for i, g in enumerate(keys):
            members[find(i)].append(g)
        return list(members.values())

    def place_all(self, groups: dict[str, str]) -> dict[str, str]:
        """groups: group key -> first user turn. Returns group key -> split."""
        placed: dict[str, str] = {}
        for cluster in self.clusters(groups):
            old = sorted(g for g in cluster if g in self.index)
            split = self.index[old[0]] if old else bucket(cluster[0], self.cfg)
            for g in cluster:
                if g in self.index:
                    placed[g] = self.index[g]  # a released group never moves
                    self.how["index"] += 1
                else:
                    placed[g] = split
                    self.how["near_duplicate" if len(cluster) > 1 else "hash"] += 1
        return placed


def minhash(text: str, num_perm: int) -> RMinHash:
    m = RMinHash(num_perm=num_perm, seed=7)
    m.update(char_shingles(text))
    return m


def load_index(path: Path) -> dict:
    if not path.exists() or not path.read_text(encoding="utf-8").strip():
        return {}
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as e:
        raise SystemExit(
            f"split: {path} is not valid JSON ({e}); restore it with `git checkout -- {path}`"
        ) from e
    if not isinstance(data, dict):
        raise SystemExit(f"split: {path}: expected an object with 'groups' and 'records'")
    return data


def rejection_reasons(rejected: Path) -> dict[str, str]:
    """id -> reason, from the clean and dedupe rejects (why a released record is gone)."""
    reasons: dict[str, str] = {}
    for stage in ("clean", "dedupe"):
        path = rejected / f"{stage}.jsonl"
        if path.exists():
            for entry in fileio.iter_records(path):
                if entry.get("id"):
                    reasons[entry["id"]] = f"{stage}: {entry['reason']}"
    return reasons


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def changelog(
    version: str, added: dict[str, Counter], removed: dict[str, Counter], total: int
) -> str:
    lines = [f"# Data changes since {version or 'the beginning (no release yet)'}", ""]
    lines.append(
        f"{total} records in this version: "
        f"{sum(sum(c.values()) for c in added.values())} added, "
        f"{sum(sum(c.values()) for c in removed.values())} removed."
    )
    for title, table, col in (("Added", added, "source"), ("Removed", removed, "reason")):
        lines += ["", f"## {title}", ""]
        if not table:
            lines.append("(none)")
            continue
        lines += [f"| kind | {col} | records |", "|---|---|---:|"]
        for kind in sorted(table):
            for key, n in sorted(table[kind].items()):
                lines.append(f"| {kind} | {key} | {n} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    p = params.load()
    paths, cfg = p.paths, p.split
    src, out = Path(paths.deduped), Path(paths.training)
    index = load_index(Path(paths.split_index))
    old_groups: dict[str, str] = index.get("groups", {})
    old_records: dict[str, str] = index.get("records", {})

    # Pass 1: the groups and their first user turns (records stay on disk).
    groups: dict[str, str] = {}
    for kind in KINDS:
        path = src / f"{kind}.jsonl"
        if not path.exists():
            raise SystemExit(f"split: {path} is missing; run `dvc repro dedupe` first")
        for record in fileio.iter_records(path):
            groups.setdefault(group_key(record), first_user_turn(record))
    placer = GroupPlacer(cfg, old_groups)
    placed = placer.place_all(groups)

    # Pass 2: stream every record into its split file.
    acc = fileio.Accounting("split")
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    by_source: dict[str, Counter[str]] = defaultdict(Counter)
    trained_sources: Counter[str] = Counter()  # SFT train + val per source: sums to data_count
    new_index: dict[str, dict[str, str]] = {"groups": {}, "records": {}}
    added: dict[str, Counter] = defaultdict(Counter)
    current_ids: set[str] = set()
    with fileio.JsonlWriter() as w:
        for kind in KINDS:
            for split in SPLITS:
                w.open(f"{kind}:{split}", out / OUTPUT_NAMES[kind].format(split=split))
        w.open("regression", out / "regression.jsonl")
        for kind in KINDS:
            for record in fileio.iter_records(src / f"{kind}.jsonl"):
                source = record.get("source", "?")
                acc.seen(source)
                g = group_key(record)
                split = placed[g]
                record["meta"]["split"] = split
                w.write(f"{kind}:{split}", record)
                if kind == "preference" and record["meta"].get("regression"):
                    w.write("regression", record)
                acc.kept(source)
                counts[kind][split] += 1
                by_source[source][kind] += 1
                if kind == "sft" and split != "test":
                    trained_sources[source] += 1
                new_index["groups"][g] = split
                new_index["records"][record["id"]] = split
                current_ids.add(record["id"])
                if record["id"] not in old_records:
                    added[kind][source] += 1
        files_written = dict(w.counts)

    reasons = rejection_reasons(Path(paths.rejected))
    removed: dict[str, Counter] = defaultdict(Counter)
    for rid in old_records:
        if rid not in current_ids:
            removed[rid.split("-", 1)[0]][
                reasons.get(rid, "no longer in the input (deleted or forgotten)")
            ] += 1
    moved = sum(
        1
        for rid, s in old_records.items()
        if rid in new_index["records"] and new_index["records"][rid] != s
    )
    if moved:  # cannot happen by construction; a loud failure beats a silent leak
        raise SystemExit(
            f"split: {moved} released records would change split; report this as a bug"
        )

    version = index.get("version", "")
    total = sum(sum(c.values()) for c in counts.values())
    fileio.write_json(out / "index.json", new_index)
    fileio.write_text(out / "changelog.md", changelog(version, added, removed, total))
    section = {k: p.raw.get(k) for k in ("collect", "clean", "dedupe", "split", "persona")}
    manifest = {
        "previous_release": version,
        "data_count": counts["sft"]["train"] + counts["sft"]["val"],
        "counts": {k: dict(v) for k, v in counts.items()},
        "regression": files_written.get("regression", 0),
        "sources": {s: dict(c) for s, c in sorted(by_source.items())},
        "trained_sources": dict(sorted(trained_sources.items())),
        "added": {k: dict(v) for k, v in added.items()},
        "removed": {k: dict(v) for k, v in removed.items()},
        "placement": dict(placer.how),
        "params_hash": digest(orjson.dumps(section, option=orjson.OPT_SORT_KEYS).decode()),
        "files": {
            f.name: {"sha256": file_sha256(f), "records": files_written.get(key, 0)}
            for key, f in sorted(
                [(f"{k}:{s}", out / OUTPUT_NAMES[k].format(split=s)) for k in KINDS for s in SPLITS]
                + [("regression", out / "regression.jsonl")]
            )
        },
    }
    fileio.write_json(
        out / "manifest.json", manifest
    )  # last: its presence means the split finished
    acc.extra["splits"] = {k: {s: counts[k].get(s, 0) for s in SPLITS} for k in KINDS}
    acc.extra["added"] = sum(sum(c.values()) for c in added.values())
    acc.extra["removed"] = sum(sum(c.values()) for c in removed.values())
    acc.extra["placement"] = dict(placer.how)
    acc.extra["leakage"] = leakage(groups, placed, cfg, placer.hashes)
    metrics = acc.write(Path(paths.metrics) / "split.json")
    log.info("split: %s; leakage %s", metrics["splits"], metrics["leakage"])


def leakage(
    groups: dict[str, str],
    placed: dict[str, str],
    cfg: params.Split,
    hashes: list[RMinHash] | None = None,
) -> dict[str, int]:
    """Test/val groups whose first user turn is (near) identical to a train group's: target 0.
    `hashes`: the groups' MinHashes in sorted key order, when already made (GroupPlacer.hashes)."""
    lsh = RMinHashLSH(threshold=cfg.near_threshold, num_perm=GroupPlacer.NUM_PERM, num_bands=16)
    if hashes is None or len(hashes) != len(groups):
        hashes = [minhash(text, GroupPlacer.NUM_PERM) for _, text in sorted(groups.items())]
    held_out = []
    for i, (g, m) in enumerate(zip(sorted(groups), hashes, strict=True)):
        if placed[g] == "train":
            lsh.insert(i, m)
        else:
            held_out.append(i)
    exact = near = 0
    train_texts = {groups[g] for g in groups if placed[g] == "train"}
    keys = sorted(groups)
    for i in held_out:
        if groups[keys[i]] in train_texts:
            exact += 1
        elif any(hashes[i].jaccard(hashes[k]) >= cfg.near_threshold for k in lsh.query(hashes[i])):
            near += 1
    return {"exact": exact, "near": near}


if __name__ == "__main__":
    main()
