"""`javis forget`: remove a conversation and everything derived from it from the next version.

A removal is recorded in `data/forgotten.jsonl` (git, `paths.forgotten`): the record ids and the conversation's group
keys (hashes of its first user turn), when, by whom and why, never the content. The collect stage
drops every record of a forgotten conversation (SFT, preference, KTO, regression: they share the
group key) and counts it as `forgotten`; the same conversation imported again is dropped the same
way. The init stage refuses to continue training from a release that saw it, so the next release
retrains from the base. Older tags still hold the conversation until `--purge` deletes the DVC
objects that contain it (local cache and a local-folder remote) and marks those releases as no
longer restorable: that part touches releases and lives in javis/release/purge.py.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

from javis.core import fileio, params
from javis.data.records import KINDS, group_key, record_text


def load(path: str | Path) -> tuple[set[str], set[str]]:
    """(forgotten record ids, forgotten group keys)."""
    path = Path(path)
    ids: set[str] = set()
    groups: set[str] = set()
    if path.exists():
        for entry in fileio.iter_records(path):
            ids.update(entry.get("ids", []))
            groups.update(entry.get("groups", []))
    return ids, groups


def is_forgotten(record: dict, ids: set[str], groups: set[str]) -> bool:
    return record.get("id") in ids or group_key(record) in groups


def find(collected: Path, ident: str | None, match: str | None) -> list[dict]:
    """Records of the collected data that `ident` (a record id, an input id) or `match` names."""
    needle = match.lower() if match else None
    hits = []
    for kind in KINDS:
        path = collected / f"{kind}.jsonl"
        if not path.exists():
            continue
        for record in fileio.iter_records(path):
            meta = record.get("meta") or {}
            if ident and ident in (
                record.get("id"),
                meta.get("orig_id"),
                (meta.get("import") or {}).get("id"),
            ):
                hits.append(record)
            elif needle and needle in record_text(record):
                hits.append(record)
    return hits


def forget(p: params.Params, ident: str | None, match: str | None, reason: str, by: str) -> dict:
    """Record the removal; returns the entry written."""
    if not ident and not match:
        raise ValueError("give a record id (or the id it had in your file) or --match TEXT")
    collected = Path(p.paths.collected)
    if not (collected / "sft.jsonl").exists():
        raise ValueError(
            f"{collected} is empty: run `dvc repro collect` first, so the records can be found"
        )
    hits = find(collected, ident, match)
    if not hits:
        what = f"id {ident!r}" if ident else f"text {match!r}"
        raise ValueError(
            f"no collected record matches {what}; ids are in data/collected/*.jsonl "
            "(`id`, or `meta.orig_id` for the id in your own file)"
        )
    groups = sorted({group_key(r) for r in hits})
    related = [
        r
        for kind in KINDS
        for r in _records(collected / f"{kind}.jsonl")
        if group_key(r) in set(groups)
    ]
    entry = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "by": by,
        "reason": reason,
        "ids": sorted({r["id"] for r in related}),
        "groups": groups,
    }
    forgotten = Path(p.paths.forgotten)
    forgotten.parent.mkdir(parents=True, exist_ok=True)
    with open(forgotten, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")
    return entry


def _records(path: Path) -> Iterator[dict]:
    return fileio.iter_records(path) if path.exists() else iter(())
