"""split: stable, grouped train/val/test split; the training folder of the version being built.

Reads  data/deduped/{sft,preference,kto}.jsonl, data/split_index.json (the last release's index,
       written by `javis release`; absent or empty before the first release),
       data/rejected/{clean,dedupe}.jsonl (to say why a released record is gone)
Writes data/training/current/: train.jsonl, val.jsonl, test.jsonl (SFT),
       preference_{train,val,test}.jsonl, kto_{train,val,test}.jsonl, regression.jsonl (the user's
       corrections), index.json (record and group -> split), changelog.md, manifest.json (last);
       metrics/split.json
Run    python -m stages.split

How a group is placed (released groups never move; near-duplicate prompts or answers share a split;
the rest stratified by has-tool-call, in salted-hash order) is in javis/data/splitting.py.
metrics/split.json: `leakage` (held-out texts equal or near a train text, prompt and answer sides
together, records not pinned by a release: target 0), `leakage_by_side`, `pinned_collisions`,
`largest_group`, `strata` (groups per split) and `tool_call_items` (SFT tool-call turns per split). The regression set overlaps train on purpose: it
checks that what the user taught stays taught.
"""

from __future__ import annotations

import logging
from pathlib import Path

from javis.core import fileio, params, stage
from javis.data import splitting
from javis.data.records import KINDS

log = logging.getLogger("javis.split")


def main(
    paths: params.Paths,
    cfg: params.Split,
    collect: params.Collect,
    clean: params.Clean,
    dedupe: params.Dedupe,
    persona: params.Persona,
) -> None:
    """Split `paths.deduped` into `paths.training`; collect, clean, dedupe and persona (with `cfg`)
    are recorded as the manifest's `params_hash`."""
    src, out = Path(paths.deduped), Path(paths.training)
    try:
        index = splitting.load_index(Path(paths.split_index))
    except splitting.SplitIndexError as e:
        raise SystemExit(f"split: {e}") from e
    old_groups: dict[str, str] = index.get("groups", {})
    old_records: dict[str, str] = index.get("records", {})
    for kind in KINDS:
        if not (src / f"{kind}.jsonl").exists():
            raise SystemExit(
                f"split: {src / f'{kind}.jsonl'} is missing; run `dvc repro dedupe` first"
            )

    groups = splitting.read_groups(src)
    placer = splitting.GroupPlacer(cfg, old_groups)
    placed = placer.place_all(groups)
    acc = fileio.Accounting("split")
    res = splitting.write_splits(src, out, placed, old_records, acc, placer.cluster_of)

    reasons = splitting.rejection_reasons(Path(paths.rejected))
    removed = splitting.removed_records(old_records, res.current_ids, reasons)
    moved = splitting.moved_records(old_records, res.index["records"])
    if moved:  # cannot happen by construction; a loud failure beats a silent leak
        raise SystemExit(
            f"split: {moved} released records would change split; report this as a bug"
        )

    version = index.get("version", "")
    total = sum(sum(c.values()) for c in res.counts.values())
    fileio.write_json(out / "index.json", res.index)
    fileio.write_text(out / "changelog.md", splitting.changelog(version, res.added, removed, total))
    hashed = splitting.params_hash(
        {"collect": collect, "clean": clean, "dedupe": dedupe, "split": cfg, "persona": persona}
    )
    manifest = splitting.manifest(out, version, res, removed, placer.how, hashed)
    fileio.write_json(
        out / "manifest.json", manifest
    )  # last: its presence means the split finished
    splits = splitting.SPLITS
    acc.extra["splits"] = {k: {s: res.counts[k].get(s, 0) for s in splits} for k in KINDS}
    acc.extra["added"] = sum(sum(c.values()) for c in res.added.values())
    acc.extra["removed"] = sum(sum(c.values()) for c in removed.values())
    acc.extra["placement"] = dict(placer.how)
    leaks = splitting.leakage(placer, placed)
    acc.extra["leakage"] = {
        k: sum(leaks["unpinned"][s][k] for s in splitting.SIDES) for k in ("exact", "near")
    }
    acc.extra["leakage_by_side"] = leaks["unpinned"]
    acc.extra["pinned_collisions"] = leaks["pinned"]
    acc.extra["largest_group"] = placer.largest
    acc.extra["strata"] = {s: dict(c) for s, c in placer.strata.items()}
    acc.extra["tool_call_items"] = {s: res.tool_items.get(s, 0) for s in splits}
    metrics = acc.write(Path(paths.metrics) / "split.json")
    log.info(
        "split: %s; leakage %s; tool-call items %s; largest group %s",
        metrics["splits"],
        metrics["leakage_by_side"],
        metrics["tool_call_items"],
        metrics["largest_group"],
    )


if __name__ == "__main__":
    stage.run(main, "paths", "split", "collect", "clean", "dedupe", "persona")
