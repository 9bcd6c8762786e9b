"""javis/core/stats.py: the clustered bootstrap, its bounds and p-values, Holm, the sign test."""

from __future__ import annotations

import numpy as np
import pytest

from javis.core import stats

# Student's t 95% quantiles (printed tables)
T95 = {1: 6.314, 2: 2.920, 4: 2.132, 10: 1.812, 30: 1.697}


@pytest.mark.parametrize("df", sorted(T95))
def test_t_quantile_matches_the_table(df):
    got = stats.t_quantile(0.95, df)
    assert abs(got - T95[df]) / T95[df] < 0.05, f"t(0.95, {df}) = {got}, table {T95[df]}"


def test_t_quantile_is_close_from_two_degrees_of_freedom_up():
    for df in (2, 4, 10, 30):
        got = stats.t_quantile(0.95, df)
        assert abs(got - T95[df]) < 0.01, f"t(0.95, {df}) = {got}, table {T95[df]}"


def test_effective_groups():
    assert stats.effective_groups([1] * 38) == 38, "equal groups count as themselves"
    k = stats.effective_groups([16] + [1] * 22)
    assert abs(k - 38**2 / 278) < 1e-9, f"the demo's shape: {k}"


def test_the_bootstrap_is_seeded():
    values, groups = np.arange(20.0), [f"g{i // 3}" for i in range(20)]
    a = stats.cluster_bootstrap(values, groups, 500, seed=3)
    b = stats.cluster_bootstrap(values, groups, 500, seed=3)
    assert np.array_equal(a.means, b.means), "same seed, same resamples"
    assert a.lower() == b.lower(), "same seed, same bound"


def test_the_bootstrap_resamples_whole_groups():
    # two groups, each constant: a resample's mean is 0, 1 or the mix of one of each (0.5 here)
    boot = stats.cluster_bootstrap([0.0] * 5 + [1.0] * 5, ["a"] * 5 + ["b"] * 5, 300, seed=0)
    assert set(np.round(boot.means, 9)) <= {0.0, 0.5, 1.0}, sorted(set(boot.means))
    assert boot.groups == 2, boot.groups
    assert boot.n == 10, boot.n


def test_constant_values_give_a_point():
    boot = stats.cluster_bootstrap([0.25] * 12, [str(i) for i in range(12)], 200)
    assert boot.lower() == pytest.approx(0.25), boot.lower()
    assert boot.upper() == pytest.approx(0.25), boot.upper()
    assert boot.se == pytest.approx(0.0), boot.se


def test_bounds_are_ordered_and_cover_the_estimate():
    rng = np.random.default_rng(1)
    boot = stats.cluster_bootstrap(rng.normal(0.3, 0.35, 38), [str(i) for i in range(38)], 2000)
    assert boot.lower() < boot.estimate, (boot.lower(), boot.estimate)
    assert boot.estimate < boot.upper(), (boot.estimate, boot.upper())
    assert 0.03 < boot.se < 0.09, f"se of 38 items with SD 0.35: {boot.se}"


def test_clustering_widens_the_bound():
    rng = np.random.default_rng(2)
    values = rng.normal(0.0, 0.35, 38)
    alone = stats.cluster_bootstrap(values, [str(i) for i in range(38)], 2000)
    grouped = stats.cluster_bootstrap(values, ["big"] * 16 + [str(i) for i in range(22)], 2000)
    assert grouped.widen() > alone.widen(), (grouped.widen(), alone.widen())
    assert grouped.widen() == pytest.approx(1.31, abs=0.02), grouped.widen()


def test_p_values_agree_with_the_bounds():
    rng = np.random.default_rng(4)
    boot = stats.cluster_bootstrap(rng.normal(-0.2, 0.3, 30), [str(i) for i in range(30)], 2000)
    t = -0.05
    assert (boot.p_below(t) <= 0.05) == (boot.upper() < t), (boot.p_below(t), boot.upper())
    assert (boot.p_above(t) <= 0.05) == (boot.lower() > t), (boot.p_above(t), boot.lower())
    assert boot.p_below(-10.0) == 1.0, "every resample is above -10: no evidence of a mean below"
    assert boot.p_below(10.0) == pytest.approx(1 / 2001), "every resample below 10: smoothed, not 0"


def test_bad_input_is_an_error_that_says_so():
    with pytest.raises(ValueError, match="non-empty"):
        stats.cluster_bootstrap([], [])
    with pytest.raises(ValueError, match="group labels"):
        stats.cluster_bootstrap([1.0, 2.0], ["a"])
    with pytest.raises(ValueError, match="finite"):
        stats.cluster_bootstrap([1.0, float("nan")], ["a", "b"])


def test_holm():
    # worked example: p = 0.01, 0.04, 0.03 (m = 3): sorted 0.01*3, 0.03*2, max(0.06, 0.04*1)
    got = stats.holm([0.01, 0.04, 0.03])
    assert got == pytest.approx([0.03, 0.06, 0.06]), got
    assert stats.holm([]) == [], "no hypotheses"
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0]), "capped at 1"


def test_sign_test_and_binomial_tail():
    assert stats.binomial_tail(0, 10) == 1.0, "P(X >= 0)"
    assert stats.binomial_tail(11, 10) == 0.0, "P(X >= n+1)"
    assert stats.binomial_tail(10, 10) == pytest.approx(2**-10), "all heads"
    assert stats.sign_test(9, 1) == pytest.approx(11 / 1024), "9 or 10 of 10"
    assert stats.sign_test(600, 400) < 1e-9, "large n does not overflow"
