"""`javis forget` and the releases: record a removal (javis/data/forget.py, which the collect
stage reads), say which releases' data held the forgotten conversation and, with `--purge`, delete
the stored DVC objects that contain it (local cache and a local-folder remote; those releases can
then no longer be restored). See docs/DESIGN.md, "Forgetting".
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from javis.core import params
from javis.data import forget as forgetting
from javis.data.records import group_key
from javis.release import vcs
from javis.release.names import releases

INDEX = "data/training/current/index.json"  # a release's split index: record ids and group keys
DATA = (
    "data/raw",
    "data/feedback",
    "data/collected",
    "data/cleaned",
    "data/deduped",
    "data/training/current",
    "data/rejected",
)


def forget(
    p: params.Params, ident: str | None, match: str | None, reason: str, by: str, purge_stored: bool
) -> Iterator[str]:
    """`javis forget`: record the removal (javis/data/forget.py), say which releases still hold it
    and, with `purge_stored`, purge them; yields what to tell the user, line by line. A record that
    cannot be found raises ValueError (before anything is written)."""
    entry = forgetting.forget(p, ident, match, reason, by)
    yield (
        f"forgotten: {len(entry['ids'])} records of {len(entry['groups'])} conversation(s), recorded in "
        f"{p.paths.forgotten} (ids and hashes only; commit it). The next `dvc repro` leaves them out, and "
        "the next release retrains from the base (continuing from a release that saw them is refused)."
    )
    ids, groups = set(entry["ids"]), set(entry["groups"])
    held = releases_holding(ids, groups)
    if not held:
        yield "no release holds them."
        return
    if not purge_stored:
        yield (
            f"older releases still hold them: {', '.join(held)}; `javis forget ... --purge` deletes the stored "
            "data files that contain them (those releases can then no longer be restored)"
        )
        return
    affected, deleted = purge(ids, groups)
    with open(Path(p.paths.forgotten), "a", encoding="utf-8") as f:
        f.write(json.dumps({"purged_releases": affected, "objects_deleted": deleted}) + "\n")
    yield (
        f"purged: {deleted} stored objects deleted (local cache and local remote); releases no longer "
        f"restorable: {', '.join(affected) or 'none'}. Purge an S3 remote's copies with `dvc gc --cloud`."
    )


def releases_holding(entry_ids: set[str], entry_groups: set[str]) -> list[str]:
    """Release tags whose training data held a forgotten record (read from each tag's index)."""
    held = []
    for v, rev in releases():
        try:
            index = json.loads(vcs.read_text_at(rev, INDEX))
        except Exception:  # noqa: BLE001 - a release whose data can't be read is reported as unknown
            held.append(f"{v.name} (could not read its index)")
            continue
        if entry_ids & set(index.get("records", {})) or entry_groups & set(index.get("groups", {})):
            held.append(v.name)
    return held


def purge(ids: set[str], groups: set[str]) -> tuple[list[str], int]:
    """Delete every DVC object (local cache, local-folder remote) of a data file that holds a
    forgotten record, in every release; returns (releases affected, objects deleted)."""
    tainted: set[str] = set()
    affected = []
    for v, rev in releases():
        hit = False
        for md5, open_file in vcs.outputs_at(rev, DATA):
            if not md5 or md5 in tainted:
                hit = hit or md5 in tainted
                continue
            with open_file() as f:
                if _holds(f, ids, groups):
                    tainted.add(md5)
                    hit = True
        if hit:
            affected.append(v.name)
    return affected, vcs.delete_objects(tainted)


def _holds(f: IO[bytes], ids: set[str], groups: set[str]) -> bool:
    for raw in f:
        try:
            obj = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(obj, dict):
            continue
        record = obj.get("record") if isinstance(obj.get("record"), dict) else obj
        if record.get("id") in ids:
            return True
        if any(isinstance(record.get(k), list) for k in ("messages", "prompt")):
            try:
                if group_key(record) in groups:
                    return True
            except (TypeError, AttributeError, KeyError):
                continue
    return False
