"""The stable, grouped train/val/test split and what the split stage records about it.

Group: a hash of the conversation's normalised first user turn, so every record derived from one
conversation (its SFT, preference and KTO records) lands in one split. A group keeps the split the
last release gave it (`data/split_index.json`); a new group whose first turn is a near duplicate
(character 3-gram MinHash >= split.near_threshold) of an already placed one joins that group's
split; otherwise a salted hash of the group key decides.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from rensa import RMinHash, RMinHashLSH

from javis.core import fileio, params
from javis.data.records import KINDS, digest, first_user_turn, group_key

SPLITS = ("train", "val", "test")
OUTPUT_NAMES = {
    "sft": "{split}.jsonl",
    "preference": "preference_{split}.jsonl",
    "kto": "kto_{split}.jsonl",
}


class SplitIndexError(ValueError):
    """data/split_index.json cannot be read; the message says how to restore it."""


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


def minhash(text: str, num_perm: int) -> RMinHash:
    m = RMinHash(num_perm=num_perm, seed=7)
    m.update(char_shingles(text))
    return m


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


# --- the stage's passes over the records ---------------------------------------------------------


def load_index(path: Path) -> dict:
    """The last release's index ({} before the first release). Raises SplitIndexError."""
    if not path.exists() or not path.read_text(encoding="utf-8").strip():
        return {}
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as e:
        raise SplitIndexError(
            f"{path} is not valid JSON ({e}); restore it with `git checkout -- {path}`"
        ) from e
    if not isinstance(data, dict):
        raise SplitIndexError(f"{path}: expected an object with 'groups' and 'records'")
    return data


def read_groups(src: Path) -> dict[str, str]:
    """Pass 1: group key -> first user turn, over every kind's records (they stay on disk)."""
    groups: dict[str, str] = {}
    for kind in KINDS:
        for record in fileio.iter_records(src / f"{kind}.jsonl"):
            groups.setdefault(group_key(record), first_user_turn(record))
    return groups


@dataclass
class Written:
    """What pass 2 wrote: counts per kind and split, per source, the new index, what is new."""

    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    by_source: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    trained_sources: Counter[str] = field(default_factory=Counter)  # SFT train + val per source
    index: dict[str, dict[str, str]] = field(default_factory=lambda: {"groups": {}, "records": {}})
    added: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    current_ids: set[str] = field(default_factory=set)
    files: dict[str, int] = field(default_factory=dict)  # writer key -> records


def write_splits(
    src: Path,
    out: Path,
    placed: dict[str, str],
    old_records: dict[str, str],
    acc: fileio.Accounting,
) -> Written:
    """Pass 2: stream every record into its split file (and the user's corrections into
    regression.jsonl), counting each in `acc`."""
    res = Written()
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
                res.counts[kind][split] += 1
                res.by_source[source][kind] += 1
                if kind == "sft" and split != "test":
                    res.trained_sources[source] += 1
                res.index["groups"][g] = split
                res.index["records"][record["id"]] = split
                res.current_ids.add(record["id"])
                if record["id"] not in old_records:
                    res.added[kind][source] += 1
        res.files = dict(w.counts)
    return res


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


def removed_records(
    old_records: dict[str, str], current_ids: set[str], reasons: dict[str, str]
) -> dict[str, Counter]:
    """Kind -> reason -> count of the released records no longer in the data."""
    removed: dict[str, Counter] = defaultdict(Counter)
    for rid in old_records:
        if rid not in current_ids:
            removed[rid.split("-", 1)[0]][
                reasons.get(rid, "no longer in the input (deleted or forgotten)")
            ] += 1
    return removed


def moved_records(old_records: dict[str, str], new_records: dict[str, str]) -> int:
    """Released records whose split would change (0 by construction)."""
    return sum(1 for rid, s in old_records.items() if rid in new_records and new_records[rid] != s)


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


def params_hash(sections: dict[str, object]) -> str:
    """A hash of the params sections that shape the data (name -> section, as loaded)."""
    values = {
        name: dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
        for name, value in sections.items()
    }
    return digest(orjson.dumps(values, option=orjson.OPT_SORT_KEYS).decode())


def manifest(
    out: Path,
    version: str,
    res: Written,
    removed: dict[str, Counter],
    placement: Counter[str],
    hashed: str,
) -> dict:
    """manifest.json of the training folder: counts, sources, placement, each file's sha256."""
    outputs = [(f"{k}:{s}", out / OUTPUT_NAMES[k].format(split=s)) for k in KINDS for s in SPLITS]
    outputs.append(("regression", out / "regression.jsonl"))
    return {
        "previous_release": version,
        "data_count": res.counts["sft"]["train"] + res.counts["sft"]["val"],
        "counts": {k: dict(v) for k, v in res.counts.items()},
        "regression": res.files.get("regression", 0),
        "sources": {s: dict(c) for s, c in sorted(res.by_source.items())},
        "trained_sources": dict(sorted(res.trained_sources.items())),
        "added": {k: dict(v) for k, v in res.added.items()},
        "removed": {k: dict(v) for k, v in removed.items()},
        "placement": dict(placement),
        "params_hash": hashed,
        "files": {
            f.name: {"sha256": fileio.sha256_file(f), "records": res.files.get(key, 0)}
            for key, f in sorted(outputs)
        },
    }
