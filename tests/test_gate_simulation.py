"""The gate's error rates, by simulation through the production gate function: synthetic per-item
results at the demo's n, a candidate truly worse by the margin is released at most 5% of the time
and one truly better by twice the margin at least 80% of the time (`pytest -s` prints both).

Only the primary decision (`quality`) is simulated: the guardrails are switched off here because
they can only refuse more, so the first bound holds for the whole gate as well."""

from __future__ import annotations

import numpy as np
import pytest

from javis.core import params
from javis.release.gate import gate

# From the demo's v0.1-vs-base deltas (placeholders until the lead puts the measured values here):
ITEM_SD = 0.35  # nats/token: the spread of one test item's loss difference (baseline - candidate)
GROUP_SIZES = (16,) + (1,) * 22  # 38 test items: one templated group of 16, 22 single items
# Not yet measured: how much of an item's spread its split group shares (0 = items independent,
# 1 = a group moves as one). The rates must hold across the range, so each is simulated.
GROUP_SHARES = (0.0, 0.5, 1.0)
RUNS = 400  # simulated evaluations per scenario
SEED = 16
BASE_LOSS = 2.0  # the baseline's per-item loss (only differences matter)


def simulate(true_improvement: float, group_share: float, cfg: params.Gate, seed: int) -> float:
    """The share of RUNS simulated evaluations in which the gate releases."""
    rng = np.random.default_rng(seed)
    sizes = np.array(GROUP_SIZES)
    member = np.repeat(np.arange(sizes.size), sizes)
    shared = rng.normal(0, ITEM_SD * np.sqrt(group_share), (RUNS, sizes.size))[:, member]
    own = rng.normal(0, ITEM_SD * np.sqrt(1 - group_share), (RUNS, member.size))
    deltas = true_improvement + shared + own
    released = 0
    for run in deltas:
        items = [
            {
                "id": f"t{i}",
                "set": "test",
                "group": f"g{member[i]}",
                "candidate": {"loss": BASE_LOSS - float(d)},
                "baseline": {"loss": BASE_LOSS},
            }
            for i, d in enumerate(run)
        ]
        rules = gate({"baseline_source": "base"}, items, cfg)
        released += all(r.passed for r in rules)
    return released / RUNS


@pytest.mark.parametrize("group_share", GROUP_SHARES)
def test_release_error_rates_at_the_demos_n(group_share):
    cfg = params.Gate(guardrails=[])
    m = cfg.loss_margin
    worse = simulate(-m, group_share, cfg, SEED)
    better = simulate(2 * m, group_share, cfg, SEED + 1)
    print(
        f"\ngate at n={sum(GROUP_SIZES)} (groups {len(GROUP_SIZES)}, item SD {ITEM_SD}, "
        f"group share {group_share}, margin {m}, {RUNS} runs): "
        f"P(release | worse by the margin) = {worse:.3f}, "
        f"P(release | better by 2x the margin) = {better:.3f}"
    )
    assert worse <= 0.05, (
        f"P(release | candidate worse by the margin {m}) = {worse:.3f} > 0.05 "
        f"(group share {group_share}, {RUNS} runs)"
    )
    assert better >= 0.80, (
        f"P(release | true improvement 2x the margin) = {better:.3f} < 0.80 "
        f"(group share {group_share}, {RUNS} runs)"
    )
