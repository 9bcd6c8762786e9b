"""Statistics for the release gate and the report: a clustered bootstrap of a mean, one-sided
bounds and p-values from it, Holm's step-down adjustment and an exact sign test. Pure functions on
numbers (numpy); nothing here knows what an eval item is (javis/release/gate.py does).

Why the bootstrap is widened. Eval items are clustered: items of one split group (one conversation,
one templated answer family) move together, so the bootstrap resamples whole groups. A percentile
bootstrap over few or unequal groups is still too narrow: simulated at the demo's shape (38 items,
one group of 16 and 22 singletons), a lower bound from it released a candidate that was worse by
the margin 6-8% of the time instead of 5%. `Bootstrap.lower`/`upper` therefore scale the
bootstrap's spread around the estimate by sqrt(G/(G-1)) * t(k-1)/z, G the number of groups and
k = (sum n_g)^2 / sum n_g^2 their effective number (Kish): ~1.04 for 38 singletons, 1.31 for the
demo's shape, where the simulation then gives 2-4% (tests/test_gate_simulation.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

RESAMPLE_CELLS = 4_000_000  # resample indices held at once (resamples x groups), ~32 MB


def t_quantile(p: float, df: float) -> float:
    """Student's t quantile for probability `p` (0.5 < p < 1) and `df` >= 1 degrees of freedom
    (Cornish-Fisher expansion, Abramowitz & Stegun 26.7.5: within 5% at df=1, 0.3% at df=2, better
    above; fractional df allowed)."""
    if not 0.5 < p < 1:
        raise ValueError(f"t_quantile: p must lie in (0.5, 1), got {p}")
    df = max(float(df), 1.0)
    z = NormalDist().inv_cdf(p)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def effective_groups(sizes: Sequence[int] | np.ndarray) -> float:
    """Kish's effective number of groups, (sum n_g)^2 / sum n_g^2: G for equal groups, near 1 when
    one group holds nearly everything."""
    n = np.asarray(sizes, dtype=float)
    return float(n.sum() ** 2 / (n**2).sum()) if n.size else 0.0


@dataclass(frozen=True)
class Bootstrap:
    """The item mean of some values and its clustered bootstrap: `means` holds one resampled mean
    per resample (whole groups drawn with replacement, each item weighted equally)."""

    estimate: float
    means: np.ndarray
    n: int
    groups: int
    effective_groups: float

    def widen(self, alpha: float = 0.05) -> float:
        """The factor on the bootstrap's spread for a one-sided level `alpha` with few or unequal
        groups: sqrt(G/(G-1)) * t(1-alpha; k-1) / z(1-alpha) (see the module text)."""
        if self.groups < 2:
            return 1.0
        small = math.sqrt(self.groups / (self.groups - 1))
        p = 1 - alpha
        return small * t_quantile(p, self.effective_groups - 1) / NormalDist().inv_cdf(p)

    def _spread(self, alpha: float) -> np.ndarray:
        return self.estimate + (self.means - self.estimate) * self.widen(alpha)

    def lower(self, alpha: float = 0.05) -> float:
        """One-sided (1 - alpha) lower bound of the mean."""
        return float(np.quantile(self._spread(alpha), alpha))

    def upper(self, alpha: float = 0.05) -> float:
        """One-sided (1 - alpha) upper bound of the mean."""
        return float(np.quantile(self._spread(alpha), 1 - alpha))

    @property
    def se(self) -> float:
        """Standard error: the bootstrap means' standard deviation times sqrt(G/(G-1))."""
        if self.means.size < 2 or self.groups < 2:
            return 0.0
        return float(np.std(self.means, ddof=1) * math.sqrt(self.groups / (self.groups - 1)))

    def p_below(self, threshold: float, alpha: float = 0.05) -> float:
        """One-sided p-value for "the true mean is at least `threshold`" against "it is below":
        the share of resamples (widened as for level `alpha`) at or above the threshold, +1
        smoothed (never 0). At level alpha it agrees with `upper(alpha) < threshold`."""
        spread = self._spread(alpha)
        return float((1 + np.count_nonzero(spread >= threshold)) / (1 + spread.size))

    def p_above(self, threshold: float, alpha: float = 0.05) -> float:
        """One-sided p-value for "the true mean is at most `threshold`" against "it is above"
        (agrees with `lower(alpha) > threshold` at level alpha)."""
        spread = self._spread(alpha)
        return float((1 + np.count_nonzero(spread <= threshold)) / (1 + spread.size))


def cluster_bootstrap(
    values: Sequence[float] | np.ndarray,
    groups: Sequence[str] | np.ndarray,
    resamples: int = 2000,
    seed: int = 0,
) -> Bootstrap:
    """The mean of `values` (one per item) and `resamples` bootstrap means drawn by group: each
    resample draws as many groups as there are, with replacement, and averages their items. Seeded:
    the same values and groups give the same bounds on every machine."""
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"cluster_bootstrap: expected a non-empty list of numbers, got {v.shape}")
    if len(groups) != v.size:
        raise ValueError(
            f"cluster_bootstrap: {v.size} values but {len(groups)} group labels (one per value)"
        )
    if not np.all(np.isfinite(v)):
        raise ValueError("cluster_bootstrap: values must be finite numbers (no NaN or inf)")
    if resamples < 1:
        raise ValueError(f"cluster_bootstrap: resamples must be >= 1, got {resamples}")
    _, inverse = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
    sums = np.bincount(inverse, weights=v)
    sizes = np.bincount(inverse)
    g = sizes.size
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    step = max(1, RESAMPLE_CELLS // g)
    for start in range(0, resamples, step):
        stop = min(resamples, start + step)
        idx = rng.integers(0, g, size=(stop - start, g))
        means[start:stop] = sums[idx].sum(axis=1) / sizes[idx].sum(axis=1)
    return Bootstrap(float(v.mean()), means, int(v.size), int(g), effective_groups(sizes))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input's order: reject hypothesis i at family-wise
    level alpha when its adjusted p-value is <= alpha."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def binomial_tail(k: int, n: int, p: float = 0.5) -> float:
    """P(X >= k) for X ~ Binomial(n, p), exact (log space: fine for large n)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    logs = [
        math.lgamma(n + 1)
        - math.lgamma(i + 1)
        - math.lgamma(n - i + 1)
        + i * math.log(p)
        + (n - i) * math.log1p(-p)
        for i in range(k, n + 1)
    ]
    top = max(logs)
    return min(1.0, math.exp(top) * sum(math.exp(x - top) for x in logs))


def sign_test(wins: int, losses: int) -> float:
    """One-sided exact sign test: the p-value for "wins are no more likely than losses" given
    `wins` and `losses` (ties left out)."""
    return binomial_tail(wins, wins + losses)
