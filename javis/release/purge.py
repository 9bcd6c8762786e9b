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
from javis.release import vcs
from javis.release.errors import ReleaseError
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
    cannot be found raises ValueError (before anything is written).

    Right after `javis import` (or a chat) the collected data doesn't hold the new lines yet:
    then `dvc repro collect` runs first. That rebuilds only the collect stage (no training; the
    next `dvc repro` skips it), and it is what the user would be told to run anyway, so doing it
    saves a round trip and a "no match" that reads as "it isn't there"."""
    if stale := forgetting.collected_is_stale(p.paths):
        yield f"{stale}: running `dvc repro collect` first, so that the newest lines can be found"
        try:
            vcs.dvc("repro", "collect", stream=True)
        except ReleaseError as e:
            raise ValueError(
                f"{e}. Run `dvc repro collect` yourself (after a running `javis release` or "
                "`dvc repro` ends), then `javis forget` again"
            ) from None
    entry = forgetting.forget(p, ident, match, reason, by)
    yield _summary(entry, p.paths.forgotten)
    if old := forgetting.old_style_entries(p.paths.forgotten):
        yield (
            f"note: {p.paths.forgotten} holds {old} older removal(s) that forget by first user "
            "turn: every conversation starting with the same question stays left out "
            '(docs/DESIGN.md, "Forgetting")'
        )
    forgotten = forgetting.Forgotten(
        frozenset(entry["ids"]), frozenset(entry["conversations"]), frozenset(entry["feedback"])
    )
    held = releases_holding(forgotten)
    if not held:
        yield "no release holds them."
        return
    if not purge_stored:
        yield (
            f"older releases still hold them: {', '.join(held)}; `javis forget ... --purge` deletes the stored "
            "data files that contain them (those releases can then no longer be restored)"
        )
        return
    affected, deleted = purge(forgotten)
    with open(Path(p.paths.forgotten), "a", encoding="utf-8") as f:
        f.write(json.dumps({"purged_releases": affected, "objects_deleted": deleted}) + "\n")
    yield (
        f"purged: {deleted} stored objects deleted (local cache and local remote); releases no longer "
        f"restorable: {', '.join(affected) or 'none'}. Purge an S3 remote's copies with `dvc gc --cloud`."
    )


def releases_holding(forgotten: forgetting.Forgotten) -> list[str]:
    """Release tags whose training data held a forgotten record, read from each tag's split index
    (it maps record ids and first-turn group keys to splits: new entries match by record id, which
    is a hash of the content, old-style ones by group key)."""
    held = []
    for v, rev in releases():
        try:
            index = json.loads(vcs.read_text_at(rev, INDEX))
        except Exception:  # noqa: BLE001 - a release whose data can't be read is reported as unknown
            held.append(f"{v.name} (could not read its index)")
            continue
        if forgotten.ids & set(index.get("records", {})) or forgotten.groups & set(
            index.get("groups", {})
        ):
            held.append(v.name)
    return held


def purge(forgotten: forgetting.Forgotten) -> tuple[list[str], int]:
    """Delete every DVC object (local cache, local-folder remote) of a data file that holds a
    forgotten record, conversation or feedback line, in every release; returns (releases affected,
    objects deleted)."""
    tainted: set[str] = set()
    affected = []
    for v, rev in releases():
        hit = False
        for md5, open_file in vcs.outputs_at(rev, DATA):
            if not md5 or md5 in tainted:
                hit = hit or md5 in tainted
                continue
            with open_file() as f:
                if _holds(f, forgotten):
                    tainted.add(md5)
                    hit = True
        if hit:
            affected.append(v.name)
    return affected, vcs.delete_objects(tainted)


def _holds(f: IO[bytes], forgotten: forgetting.Forgotten) -> bool:
    for raw in f:
        try:
            obj = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(obj, dict):
            continue
        record = obj.get("record") if isinstance(obj.get("record"), dict) else obj
        if forgetting.object_forgotten(record, forgotten):
            return True
    return False


def _summary(entry: dict, path: str) -> str:
    """What one removal did, in a sentence."""
    ratings = entry["ratings"]
    rated = ""
    if ratings:
        rated = (
            f", {ratings} of them {'a rating' if ratings == 1 else 'ratings'} of an answer in it"
        )
    return (
        f"forgotten: {_count(len(entry['ids']), 'record')} from "
        f"{_count(entry['inputs'], 'input line')}{rated}; recorded in {path} (ids and hashes "
        "only; commit it). The next `dvc repro` leaves them out, also when the same text comes in "
        "again"
        + ("; `javis versions` no longer counts those ratings" if ratings else "")
        + "; the "
        "next release retrains from the base (continuing from a release that saw them is refused)."
    )


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"
