"""The stable, grouped, stratified train/val/test split and what the split stage records about it.

Group: a hash of the conversation's normalised first user turn, so every record derived from one
conversation (its SFT, preference and KTO records) lands in one split. Groups form clusters: two
groups whose first user turns, or any of whose assistant answers (`assistant_texts`, at least
`split.answer_min_chars` long), are near duplicates (character 3-gram Jaccard >= split.near_threshold)
join one cluster, transitively; equal answers always do. The near pairs come from the banded
MinHash of `dedup.near_pairs` (bands and rows put the S-curve's midpoint at the threshold; each text
is compared with at most `split.window` earlier texts per band, so the candidates per text are bounded).
A cluster with groups the last release placed (`data/split_index.json`) keeps their split, and a
released group never moves. The other clusters are stratified by has-tool-call: within each
stratum (clusters with an assistant tool call, clusters without) they fill test and val to their
fractions of the stratum's groups in salted-hash order, the rest goes to train. `leakage` counts
held-out texts with an equal or near train text, per side (prompt, answer): 0 for records not
pinned by a release; collisions among pinned ones are counted apart.

Over 400 lines: the grouping and the stage's two passes over the records share `Groups`, `Written`
and the split index, and read best in one place.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

from javis.core import fileio, params
from javis.data import dedup
from javis.data.records import (
    KINDS,
    content_of,
    digest,
    first_user_turn,
    group_key,
    normalize_text,
    record_kind,
)

log = logging.getLogger("javis.split")
SPLITS = ("train", "val", "test")
SIDES = ("prompt", "answer")
OUTPUT_NAMES = {
    "sft": "{split}.jsonl",
    "preference": "preference_{split}.jsonl",
    "kto": "kto_{split}.jsonl",
}
SEED = 7  # MinHash seed of the split's grouping
CALL = "\x00call"  # marks an answer's tool calls (see answer_keys)


class SplitIndexError(ValueError):
    """data/split_index.json cannot be read; the message says how to restore it."""


def position(group: str, cfg: params.Split) -> float:
    """A group's salted-hash position in [0, 1): the order clusters fill the splits in."""
    return int(digest(cfg.salt, group, size=8), 16) / 2**64


def bucket(group: str, cfg: params.Split) -> str:
    """The split the salted hash alone would give a group (no clusters, no strata)."""
    x = position(group, cfg)
    if x < cfg.test_fraction:
        return "test"
    if x < cfg.test_fraction + cfg.val_fraction:
        return "val"
    return "train"


def char_shingles(text: str, n: int = 3) -> list[str]:
    text = text.replace(" ", "_")
    return [text[i : i + n] for i in range(max(1, len(text) - n + 1))]


def jaccard(a: str, b: str) -> float:
    """Exact Jaccard similarity of two texts' character 3-grams."""
    sa, sb = set(char_shingles(a)), set(char_shingles(b))
    return len(sa & sb) / len(sa | sb)


def tool_call_turns(messages: list) -> int:
    """Assistant turns with non-empty `tool_calls` after a user turn (the eval's tool-call items)."""
    seen_user, n = False, 0
    for m in messages:
        if not isinstance(m, dict):
            continue
        if m.get("role") == "user":
            seen_user = True
        elif m.get("role") == "assistant" and m.get("tool_calls") and seen_user:
            n += 1
    return n


def record_messages(record: dict) -> list:
    kind = record_kind(record)
    if kind == "sft":
        return record["messages"]
    return record["prompt"] + (record["chosen"] if kind == "preference" else record["completion"])


@dataclass
class Groups:
    """What pass 1 read: per group its first user turn, records and tool calls; every answer."""

    first: dict[str, str] = field(default_factory=dict)  # group key -> first user turn
    records: Counter[str] = field(default_factory=Counter)  # group key -> records
    tools: Counter[str] = field(default_factory=Counter)  # group -> SFT tool-call items
    answers: dict[str, list[str]] = field(default_factory=dict)  # answer text -> its groups


@dataclass
class Side:
    """The texts of one side and the groups (indices into the sorted keys) each belongs to."""

    texts: list[str]
    owners: list[list[int]]
    pairs: np.ndarray  # (m, 2) near pairs of text indices


def near_side(
    texts: list[str], owners: list[list[int]], cfg: params.Split, near: int | None = None
) -> Side:
    """One side's near pairs among its first `near` texts (all by default)."""
    pairs = dedup.near_pairs(
        lambda a, b: [char_shingles(t) for t in texts[a:b]],
        len(texts) if near is None else near,
        cfg.num_perm,
        SEED,
        cfg.near_threshold,
        cfg.window,
        lambda i, j: jaccard(texts[i], texts[j]),
    )
    return Side(texts, owners, pairs)


class GroupPlacer:
    """Clusters groups by near-duplicate prompts and answers and assigns each cluster a split:
    released groups keep theirs; the others fill each stratum's splits in salted-hash order."""

    def __init__(self, cfg: params.Split, index: dict[str, str]) -> None:
        self.cfg = cfg
        self.index = index
        self.how: Counter[str] = Counter()
        self.cluster_of: dict[str, str] = {}
        self.keys: list[str] = []
        self.sides: dict[str, Side] = {}
        self.largest: dict[str, int | float] = {}
        self.strata: dict[str, Counter[str]] = {}

    def clusters(self, groups: Groups) -> list[list[str]]:
        """Connected components (union-find) of the near-duplicate graph over both sides."""
        keys = self.keys = sorted(groups.first)
        at = {g: i for i, g in enumerate(keys)}
        parent = list(range(len(keys)))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        def union(i: int, j: int) -> None:
            a, b = find(i), find(j)
            if a != b:
                parent[max(a, b)] = min(a, b)

        answers = sorted(
            (t for t in groups.answers if len(t) >= self.cfg.answer_min_chars),
            key=lambda t: (t.startswith(CALL), t),
        )
        owners = [sorted({at[g] for g in groups.answers[t]}) for t in answers]
        prose = sum(1 for t in answers if not t.startswith(CALL))  # calls sort last: equal only
        self.sides = {
            "prompt": near_side(
                [groups.first[g] for g in keys], [[i] for i in range(len(keys))], self.cfg
            ),
            "answer": near_side(answers, owners, self.cfg, near=prose),
        }
        for side in self.sides.values():
            for own in side.owners:
                for g in own[1:]:
                    union(own[0], g)  # an equal text in several groups
            for a, b in side.pairs.tolist():
                union(side.owners[a][0], side.owners[b][0])
        members: dict[int, list[str]] = defaultdict(list)
        for i, g in enumerate(keys):
            members[find(i)].append(g)
        return list(members.values())

    def place_all(self, groups: Groups) -> dict[str, str]:
        """Group key -> split (see the module docstring). A stratum's weight: its groups, or for
        the tool stratum its tool-call items, whose test share is at least
        min(split.min_test_tool_items, half of them)."""
        cfg, placed = self.cfg, {}
        clusters = self.clusters(groups)
        # The cluster a group is in, named by its first group's key: records.meta.split_group, the
        # unit the gate's clustered bootstrap resamples (near-duplicate answers move together).
        self.cluster_of = {g: min(cluster) for cluster in clusters for g in cluster}
        counts: dict[str, Counter[str]] = {"tool": Counter(), "plain": Counter()}
        totals: Counter[str] = Counter()
        free: list[tuple[float, str, list[str], int]] = []
        for cluster in clusters:
            items = sum(groups.tools[g] for g in cluster)
            stratum, w = ("tool", items) if items else ("plain", len(cluster))
            totals[stratum] += w
            old = sorted(g for g in cluster if g in self.index)
            if not old:
                free.append((position(cluster[0], cfg), stratum, cluster, w))
                continue
            split = self.index[old[0]]
            for g in cluster:
                placed[g] = self.index.get(g, split)  # a released group never moves
                self.how["index" if g in self.index else "near_duplicate"] += 1
            counts[stratum][split] += w  # a straddling pinned cluster counts once, where old[0] is
        target = {
            s: {"test": cfg.test_fraction * t, "val": cfg.val_fraction * t}
            for s, t in totals.items()
        }
        if "tool" in target:
            floor = min(cfg.min_test_tool_items, totals["tool"] // 2)
            target["tool"]["test"] = max(target["tool"]["test"], floor)
        for _, stratum, cluster, w in sorted(free, key=lambda f: (f[0], f[2][0])):
            c = counts[stratum]
            split = next(
                (s for s in ("test", "val") if c[s] + w <= target[stratum][s] + 0.5), "train"
            )
            c[split] += w
            for g in cluster:
                placed[g] = split
            self.how["near_duplicate" if len(cluster) > 1 else "hash"] += len(cluster)
        self.strata = {s: Counter({k: c.get(k, 0) for k in SPLITS}) for s, c in counts.items()}
        self.check_largest(clusters, groups)
        return placed

    def check_largest(self, clusters: list[list[str]], groups: Groups) -> None:
        """Record the largest cluster and warn when it holds over max_group_share of the records
        (transitive chaining: one split would get a large share of the data as one block)."""
        total = sum(groups.records.values()) or 1
        top = max(clusters, key=lambda c: (sum(groups.records[g] for g in c), len(c)), default=[])
        records = sum(groups.records[g] for g in top)
        self.largest = {"groups": len(top), "records": records, "share": round(records / total, 4)}
        if len(top) > 1 and records > self.cfg.max_group_share * total:
            log.warning(
                "split: one cluster of near-duplicate prompts/answers holds %d of %d records (%.1f%%, "
                "over split.max_group_share %.1f%%), all in one split; e.g. first turn %r. If these "
                "are not really the same conversation, raise split.near_threshold",
                records,
                total,
                100 * records / total,
                100 * self.cfg.max_group_share,
                groups.first[top[0]][:80],
            )


def side_leaks(
    side: Side, split: list[str], pinned: list[bool]
) -> dict[tuple[int, int], dict[str, bool]]:
    """(held-out group, text) -> {"exact"|"near": whether every train partner involves a pinned
    group on either end} for one side's held-out texts equal or near to a train text."""
    leaks: dict[tuple[int, int], dict[str, bool]] = defaultdict(dict)

    def note(g: int, e: int, partners: list[int], kind: str) -> None:
        all_pinned = pinned[g] or all(pinned[h] for h in partners)
        leaks[(g, e)][kind] = leaks[(g, e)].get(kind, True) and all_pinned

    for e, own in enumerate(side.owners):
        train = [g for g in own if split[g] == "train"]
        if train and len(train) < len(own):
            for g in own:
                if split[g] != "train":
                    note(g, e, train, "exact")
    for a, b in side.pairs.tolist():
        for x, y in ((a, b), (b, a)):
            train = [g for g in side.owners[y] if split[g] == "train"]
            if train:
                for g in side.owners[x]:
                    if split[g] != "train":
                        note(g, x, train, "near")
    return leaks


def leakage(placer: GroupPlacer, placed: dict[str, str]) -> dict[str, dict[str, dict[str, int]]]:
    """Per side, held-out (val/test) texts equal ("exact") or near ("near") to a train text:
    {"unpinned": {side: {exact, near}}, "pinned": {...}}. A leak counts as pinned when every train
    text it repeats involves a group the release pinned (the split index), on either end: those are
    collisions the "never move" rule keeps; the unpinned ones are 0 by construction. "near" counts
    the pairs the banded grouping found (the exact check on the files is the reliability test's)."""
    split = [placed[g] for g in placer.keys]
    pinned = [g in placer.index for g in placer.keys]
    out = {k: {s: {"exact": 0, "near": 0} for s in SIDES} for k in ("unpinned", "pinned")}
    for name, side in placer.sides.items():
        for kinds in side_leaks(side, split, pinned).values():
            kind = "exact" if "exact" in kinds else "near"
            out["pinned" if kinds[kind] else "unpinned"][name][kind] += 1
    return out


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


def answer_messages(record: dict) -> list:
    """The assistant turns a record trains on (SFT turns, chosen, completion)."""
    kind = record_kind(record)
    msgs = {"sft": "messages", "preference": "chosen", "kto": "completion"}[kind]
    return [m for m in record[msgs] if isinstance(m, dict) and m.get("role") == "assistant"]


def answer_keys(message: dict) -> list[str]:
    """What of an answer can leak: its normalised prose, and its tool calls written out, marked
    CALL: equal calls group, near calls do not (calls of one tool with other arguments share
    their shape, which the tool-call eval item does not reward; the arguments are the answer)."""
    keys = []
    prose = message.get("content")
    if isinstance(prose, str) and prose.strip():
        keys.append(normalize_text(prose))
    if message.get("tool_calls"):
        keys.append(CALL + normalize_text(content_of({"tool_calls": message["tool_calls"]})))
    return keys


def read_groups(src: Path) -> Groups:
    """Pass 1 over every kind's records (they stay on disk): per group its first user turn, its
    records, its tool-call items, and every normalised assistant answer."""
    groups = Groups()
    for kind in KINDS:
        for record in fileio.iter_records(src / f"{kind}.jsonl"):
            g = group_key(record)
            groups.first.setdefault(g, first_user_turn(record))
            groups.records[g] += 1
            if kind == "sft":
                groups.tools[g] += tool_call_turns(record["messages"])
            for message in answer_messages(record):
                for text in answer_keys(message):
                    owners = groups.answers.setdefault(text, [])
                    if not owners or owners[-1] != g:  # repeats of other groups: sets later
                        owners.append(g)
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
    tool_items: Counter[str] = field(default_factory=Counter)  # split -> SFT tool-call turns


def write_splits(
    src: Path,
    out: Path,
    placed: dict[str, str],
    old_records: dict[str, str],
    acc: fileio.Accounting,
    cluster_of: dict[str, str] | None = None,
) -> Written:
    """Pass 2: stream every record into its split file (and the user's corrections into
    regression.jsonl), counting each in `acc`; `meta.split_group` names the record's cluster
    (`cluster_of`, else its own group)."""
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
                record["meta"]["split_group"] = (cluster_of or {}).get(g, g)
                w.write(f"{kind}:{split}", record)
                if kind == "preference" and record["meta"].get("regression"):
                    w.write("regression", record)
                acc.kept(source)
                res.counts[kind][split] += 1
                res.by_source[source][kind] += 1
                if kind == "sft" and split != "test":
                    res.trained_sources[source] += 1
                if kind == "sft":
                    res.tool_items[split] += tool_call_turns(record["messages"])
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
