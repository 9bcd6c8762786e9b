"""Duplicate records: exact (a hash of the normalised content) and near (MinHash LSH).

Near duplicates: word `dedupe.shingle`-grams, `rensa` MinHash with `dedupe.num_perm` permutations,
LSH candidates verified against `dedupe.threshold`. `signature` needs no other record (it runs in
worker processes); `Deduper.check_hashed` compares against the records kept so far, in input order.
"""

from __future__ import annotations

import orjson
from rensa import RMinHash, RMinHashLSH

from javis.core import fileio, params
from javis.data.records import digest, record_text


def shingles(text: str, n: int) -> list[str]:
    """Word n-grams of normalised text; short texts fall back to their words."""
    words = text.split()
    if len(words) <= n:
        return [" ".join(words)] if words else [""]
    return list(
        map(" ".join, zip(*(words[i:] for i in range(n)), strict=False))
    )  # 3x faster than slicing


def bands_for(num_perm: int, threshold: float) -> int:
    """LSH bands (dividing num_perm) whose S-curve midpoint (1/b)^(1/r) is the highest one at or
    below the threshold: candidates err towards recall, and each is verified against the threshold."""
    options = [b for b in range(1, num_perm + 1) if num_perm % b == 0]
    below = [b for b in options if (1 / b) ** (b / num_perm) <= threshold]
    return min(below, key=lambda b: threshold - (1 / b) ** (b / num_perm)) if below else options[-1]


class Deduper:
    """Streaming exact + near duplicate detection for one kind of record."""

    def __init__(self, cfg: params.Dedupe) -> None:
        self.cfg = cfg
        self.exact: dict[str, str] = {}
        self.lsh = RMinHashLSH(
            threshold=cfg.threshold,
            num_perm=cfg.num_perm,
            num_bands=bands_for(cfg.num_perm, cfg.threshold),
        )
        self.hashes: list[RMinHash] = []
        self.ids: list[str] = []

    def check(self, record: dict) -> tuple[bool, str, str | None]:
        """(keep, reason, duplicate_of). A kept record is remembered."""
        return self.check_hashed(record["id"], *signature(record, self.cfg))

    def check_hashed(self, record_id: str, h: str, m: RMinHash) -> tuple[bool, str, str | None]:
        """`check` for a record whose `signature` is already made (in a worker process)."""
        if h in self.exact:
            return False, f"exact_duplicate (of {self.exact[h]})", self.exact[h]
        best, best_sim = None, 0.0
        for key in self.lsh.query(m):
            sim = m.jaccard(self.hashes[key])
            if sim >= self.cfg.threshold and (sim > best_sim or (sim == best_sim and key < best)):
                best, best_sim = key, sim
        if best is not None:
            other = self.ids[best]
            return False, f"near_duplicate (of {other}, similarity {best_sim:.2f})", other
        self.exact[h] = record_id
        self.lsh.insert(len(self.hashes), m)
        self.hashes.append(m)
        self.ids.append(record_id)
        return True, "", None


def signature(record: dict, cfg: params.Dedupe) -> tuple[str, RMinHash]:
    """(exact hash of the normalised content, MinHash of its word shingles)."""
    text = record_text(record)
    m = RMinHash(num_perm=cfg.num_perm, seed=cfg.seed)
    m.update(shingles(text, cfg.shingle))
    return digest(text), m


def worker_state(cfg: params.Dedupe) -> dict:
    """One worker's state (a process of its own with several jobs; see fileio.map_ordered)."""
    return {"cfg": cfg}


def sign_lines(
    chunk: tuple[str, list[bytes]],
) -> tuple[str, list[tuple[str, str, str, RMinHash, bytes]]]:
    """Per cleaned line (its source, id, exact hash, MinHash, the line): the part of the check
    that needs no other record, so it runs in any process."""
    kind, lines = chunk
    out = []
    for raw in lines:
        record = orjson.loads(raw)
        out.append(
            (
                record.get("source", "?"),
                record["id"],
                *signature(record, fileio.worker_state()["cfg"]),
                raw,
            )
        )
    return kind, out


def reject_entry(record: dict, source: str, reason: str, duplicate_of: str | None) -> dict:
    """The line of data/rejected/dedupe.jsonl for a duplicate: the record and what it repeats."""
    meta = record.get("meta", {})
    return {
        "stage": "dedupe",
        "file": meta.get("file"),
        "line": meta.get("line"),
        "id": record["id"],
        "source": source,
        "reason": reason,
        "duplicate_of": duplicate_of,
        "record": record,
    }
