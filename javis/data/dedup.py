"""Duplicate records: exact (a hash of the normalised content) and near (MinHash LSH).

Near duplicates: word `dedupe.shingle`-grams, `rensa` MinHash with `dedupe.num_perm` permutations,
LSH candidates verified against `dedupe.threshold`. `signature` needs no other record (it runs in
worker processes); `Deduper.check_hashed` compares against the records kept so far, in input order.

The banding shared with split (`bands_for`, `band_keys`, `candidate_pairs`, `near_pairs`): MinHash
digests of many texts at once, cut into bands of rows; two texts sharing a band are candidates.
`candidate_pairs` bounds the work per text: in each band a text is paired with at most `window`
earlier texts of its bucket, so a bucket that grows with the data (templated texts) costs
bands x window pairs per text, not a share of the corpus.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
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


def band_keys(digests: np.ndarray, bands: int) -> np.ndarray:
    """(n, num_perm) uint32 MinHash digests -> (n, bands) uint64 keys, one per band of
    num_perm // bands rows (an FNV-style mix of the rows; equal rows give equal keys)."""
    n, num_perm = digests.shape
    rows = num_perm // bands
    d = digests[:, : bands * rows].astype(np.uint64).reshape(n, bands, rows)
    keys = np.full((n, bands), np.uint64(0xCBF29CE484222325), dtype=np.uint64)
    for j in range(rows):  # uint64 arithmetic wraps: the intended mixing
        keys = (keys ^ d[:, :, j]) * np.uint64(0x100000001B3)
    return keys


def candidate_pairs(keys: np.ndarray, window: int) -> np.ndarray:
    """(m, 2) int64 pairs (i < j) of rows sharing a band key, each row paired with at most `window`
    earlier rows of its bucket per band (a bucket's rows in input order, by a stable sort). Work:
    a sort per band, then only the rows of buckets with two or more rows."""
    n = keys.shape[0]
    found = []
    for band in range(keys.shape[1]):
        order = np.argsort(keys[:, band], kind="stable")
        ks = keys[order, band]
        shared = np.zeros(n, dtype=bool)
        if n > 1:
            same = ks[1:] == ks[:-1]
            shared[1:] |= same
            shared[:-1] |= same
        order, ks = order[shared], ks[shared]  # rows alone in their bucket pair with nothing
        for d in range(1, min(window, len(ks) - 1) + 1):
            same = ks[d:] == ks[:-d]
            if not same.any():  # sorted keys: no pair at offset d means none further away
                break
            found.append(order[:-d][same] * n + order[d:][same])
    if not found:
        return np.empty((0, 2), dtype=np.int64)
    codes = np.unique(np.concatenate(found).astype(np.int64))
    return np.stack([codes // n, codes % n], axis=1)


def digests_of(token_sets: Sequence[list[str]], num_perm: int, seed: int) -> np.ndarray:
    """(n, num_perm) uint32 MinHash digests (rensa's bulk path; equal to RMinHash(...).digest())."""
    if not token_sets:
        return np.empty((0, num_perm), dtype=np.uint32)
    m = RMinHash.digest_matrix_from_token_sets(list(token_sets), num_perm, seed)
    return np.asarray(m.to_rows(), dtype=np.uint32)


def near_pairs(
    token_sets: Callable[[int, int], list[list[str]]],
    n: int,
    num_perm: int,
    seed: int,
    threshold: float,
    window: int,
    exact: Callable[[int, int], float],
    margin: float = 0.1,
    chunk: int = 10_000,
) -> np.ndarray:
    """(m, 2) pairs of the n texts whose similarity is at least `threshold`: banded candidates
    (`bands_for`, `candidate_pairs`), then the MinHash estimate; a pair whose estimate is within
    `margin` of the threshold is decided by `exact(i, j)` (the exact Jaccard), so the estimate's
    noise costs neither recall nor precision there. `token_sets(start, stop)`: the shingles of
    texts start..stop-1 (made a chunk at a time, so only the digests stay in memory)."""
    bands = bands_for(num_perm, threshold)
    keys = np.empty((n, bands), dtype=np.uint64)
    low = np.empty((n, num_perm), dtype=np.uint16)  # the estimate needs equality only
    for start in range(0, n, chunk):
        d = digests_of(token_sets(start, min(n, start + chunk)), num_perm, seed)
        keys[start : start + len(d)] = band_keys(d, bands)
        low[start : start + len(d)] = d.astype(np.uint16)
    pairs = candidate_pairs(keys, window)
    keep = np.zeros(len(pairs), dtype=bool)
    for s in range(0, len(pairs), 100_000):  # 100k pairs: ~25 MB of rows compared at a time
        p = pairs[s : s + 100_000]
        est = (low[p[:, 0]] == low[p[:, 1]]).mean(axis=1)
        sure = est >= threshold + margin
        for k in np.flatnonzero(~sure & (est >= threshold - margin)):
            sure[k] = exact(int(p[k, 0]), int(p[k, 1])) >= threshold
        keep[s : s + len(p)] = sure
    return pairs[keep]


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
