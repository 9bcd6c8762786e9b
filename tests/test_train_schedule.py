"""The SFT schedule (javis/model/train_rows.py `length_buckets`, javis/model/training.py
`steps_for`): under a token budget the trained prefix covers every length band in proportion."""

from __future__ import annotations

import random

import pytest

from javis.core import params
from javis.model import train_rows, training

# Tokens per row of the demo's train split (241 records, SmolLM2's tokenizer, our template,
# max_length 1024), measured once on `dvc repro split` of this repository's examples.
DEMO_LENGTHS = [
    304, 91, 134, 124, 324, 103, 193, 106, 99, 242, 309, 284, 135, 177, 104, 165, 98, 126, 337,
    189, 113, 212, 241, 116, 198, 100, 198, 184, 105, 109, 136, 429, 156, 95, 400, 406, 148, 84,
    103, 207, 106, 163, 128, 300, 81, 226, 111, 212, 98, 157, 285, 545, 305, 138, 218, 122, 121,
    126, 457, 254, 338, 124, 139, 649, 152, 239, 431, 638, 278, 92, 528, 110, 668, 448, 377, 200,
    400, 126, 753, 120, 195, 407, 203, 241, 206, 785, 425, 608, 144, 655, 203, 146, 394, 473, 135,
    816, 324, 673, 202, 376, 455, 392, 374, 159, 275, 654, 645, 466, 473, 390, 137, 96, 167, 137,
    164, 522, 723, 148, 302, 945, 193, 98, 225, 463, 463, 290, 144, 90, 143, 531, 871, 490, 563,
    274, 186, 368, 485, 257, 405, 522, 469, 409, 516, 776, 477, 221, 495, 545, 302, 109, 608, 383,
    99, 94, 103, 99, 106, 155, 94, 92, 90, 115, 90, 86, 89, 87, 112, 256, 98, 171, 161, 213, 188,
    372, 188, 209, 254, 248, 195, 155, 202, 173, 180, 145, 160, 183, 79, 77, 76, 79, 81, 80, 78,
    79, 79, 83, 82, 89, 82, 83, 77, 83, 82, 81, 87, 77, 78, 82, 78, 72, 84, 154, 125, 118, 136,
    134, 144, 163, 133, 136, 132, 119, 147, 144, 128, 133, 132, 162, 132, 137, 138, 118, 132, 135,
    154, 143, 131, 116, 130, 145, 144,
]  # fmt: skip


def deciles(lengths: list[int]) -> list[list[int]]:
    """Row indices in ten bands of (nearly) equal size, shortest to longest."""
    ranked = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    n = len(ranked)
    return [ranked[d * n // 10 : (d + 1) * n // 10] for d in range(10)]


def off_proportion(lengths: list[int], trained: set[int]) -> list[float]:
    """Per decile: trained rows minus its proportional share of the trained rows."""
    share = len(trained) / len(lengths)
    return [sum(i in trained for i in band) - share * len(band) for band in deciles(lengths)]


def test_the_demo_budget_trains_every_length_decile_in_proportion():
    cfg = params.Train()  # the shipped defaults: batch 8, token_budget 50000, seed 42
    steps = training.steps_for(len(DEMO_LENGTHS), DEMO_LENGTHS, cfg)
    per_step = cfg.batch_size * cfg.grad_accum
    assert steps * per_step < len(DEMO_LENGTHS), f"the demo budget is under one epoch ({steps})"
    order = train_rows.length_buckets(DEMO_LENGTHS, cfg.batch_size, cfg.seed)
    trained = set(order[: steps * per_step])
    off = off_proportion(DEMO_LENGTHS, trained)
    worst = max(abs(x) for x in off)
    assert worst <= cfg.batch_size, f"a decile is {worst:.1f} rows off its share: {off}"


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_every_prefix_of_the_schedule_covers_the_lengths(seed):
    """Not only the demo's cut: the first n batches, for every n, whatever the seed. One batch is
    the floor (after the first batch one decile holds all its rows); a batch straddling two
    deciles adds a little, hence 1.25 batches."""
    lengths = [int(random.Random(seed).lognormvariate(5.2, 0.6)) + 8 for _ in range(403)]
    batch = 8
    order = train_rows.length_buckets(lengths, batch, seed)
    worst_n, worst = 0, 0.0
    for n in range(1, len(lengths) // batch + 1):
        off = max(abs(x) for x in off_proportion(lengths, set(order[: n * batch])))
        if off > worst:
            worst_n, worst = n, off
    assert worst <= 1.25 * batch, f"after {worst_n} batches a decile is {worst:.1f} rows off"


@pytest.mark.parametrize("n", [1, 7, 10, 53])
def test_proportional_order_is_a_permutation_with_balanced_prefixes(n):
    order = train_rows.proportional_order(n, 10, random.Random(3))
    assert sorted(order) == list(range(n)), "every rank once"
    bands = min(10, n)
    for k in range(1, n + 1):
        for d in range(bands):
            size = (d + 1) * n // bands - d * n // bands
            got = sum(d * n // bands <= r < (d + 1) * n // bands for r in order[:k])
            assert abs(got - k * size / n) < 1, f"prefix {k}, band {d}: {got} vs {k * size / n}"
