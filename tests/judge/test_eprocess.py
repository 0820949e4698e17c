"""The e-process: cross-checked against a brute-force product of binomial probabilities, and
shown by simulation to keep false rollbacks under alpha however often it is looked at."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom, binomtest

from champion.domain.judge import eprocess
from champion.domain.judge.final import p_value


def _brute_force(intervals: list[tuple[int, int, float]], rho0: float, higher: bool) -> float:
    """The mixture e-value written out: mean over the alternatives on the bad side of
    prod_t pmf(x_t; m_t, p1_t) / pmf(x_t; m_t, p0_t), straight from scipy.stats.binom."""
    side = eprocess.DELTAS if higher else [-d for d in eprocess.DELTAS]
    total = 0.0
    for delta in side:
        lr = 1.0
        for x, m, s in intervals:
            p0 = s * rho0 / (s * rho0 + 1 - s)
            r1 = rho0 * math.exp(delta)
            p1 = s * r1 / (s * r1 + 1 - s)
            lr *= binom.pmf(x, m, p1) / binom.pmf(x, m, p0)
        total += lr
    return total / len(side)


@pytest.mark.parametrize("higher", [True, False])
def test_mixture_e_value_equals_a_brute_force_product_of_binomial_pmfs(higher: bool) -> None:
    rng = np.random.default_rng(1)
    intervals = []
    for _ in range(25):
        m = int(rng.integers(0, 30))
        s = float(rng.uniform(0.02, 0.7))
        intervals.append((int(rng.binomial(m, s)), m, s))
    rho0 = 1.1 if higher else 0.95
    ll = eprocess.fresh()
    for x, m, s in intervals:
        ll = eprocess.update(ll, x, m, s, rho0)
    got = math.exp(float(eprocess.log_e_worse(ll, higher)))
    assert got == pytest.approx(_brute_force(intervals, rho0, higher), rel=1e-9)


def test_safety_e_value_is_the_other_side_and_srm_both_sides() -> None:
    rng = np.random.default_rng(2)
    intervals = [(int(rng.binomial(20, 0.3)), 20, 0.3) for _ in range(10)]
    ll = eprocess.fresh()
    for x, m, s in intervals:
        ll = eprocess.update(ll, x, m, s, 1.0)
    up = _brute_force(intervals, 1.0, True)
    down = _brute_force(intervals, 1.0, False)
    assert math.exp(float(eprocess.log_e_better(ll, True))) == pytest.approx(down, rel=1e-9)
    assert math.exp(float(eprocess.log_e_two_sided(ll))) == pytest.approx((up + down) / 2, rel=1e-9)


def _simulate_false_rollbacks(
    rng: np.random.Generator,
    runs: int,
    looks: int,
    rate: float,
    ratio: float,
    rho0: float,
    bernoulli: bool,
    alpha: float,
) -> float:
    """Share of runs whose e-value ever reaches 1/alpha, looking after every interval.
    Traffic and the challenger's share change from interval to interval."""
    ll = eprocess.fresh((runs,))
    crossed = np.zeros(runs, bool)
    for _ in range(looks):
        share = rng.uniform(0.05, 0.5)
        n = rng.poisson(200, runs)
        nc = rng.binomial(n, share)
        nb = n - nc
        if bernoulli:  # each request is an event with a probability: the exact law is tighter
            x = rng.binomial(nc, min(1.0, rate * ratio))
            y = rng.binomial(nb, rate)
        else:  # events as a Poisson process in the requests: the conditional law is exact
            x = rng.poisson(nc * rate * ratio)
            y = rng.poisson(nb * rate)
        s = np.where(n > 0, nc / np.maximum(n, 1), 0.5)
        ll = eprocess.update(ll, x, x + y, s, rho0)
        crossed |= eprocess.log_e_worse(ll, True) >= math.log(1 / alpha)
    return float(crossed.mean())


@pytest.mark.parametrize(
    ("rate", "ratio", "rho0", "bernoulli"),
    [
        (0.02, 1.0, 1.0, False),  # identical versions, rare events
        (0.02, 1.1, 1.1, False),  # exactly at the margin: the least favourable null
        (0.5, 1.0, 1.0, True),  # frequent events (a p50 exceedance), binomial requests
        (0.3, 1.2, 1.2, True),  # at the margin with frequent binomial events
    ],
)
def test_false_rollbacks_stay_below_alpha_under_continuous_monitoring(
    rate: float, ratio: float, rho0: float, bernoulli: bool
) -> None:
    rng = np.random.default_rng(7)
    alpha, runs = 0.05, 4000
    measured = _simulate_false_rollbacks(rng, runs, 300, rate, ratio, rho0, bernoulli, alpha)
    # Ville: P(ever ≥ 1/alpha) ≤ alpha. Allow 3 standard errors of simulation noise.
    assert measured <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / runs), measured


def test_the_same_test_rejects_a_real_regression_quickly() -> None:
    rng = np.random.default_rng(8)
    measured = _simulate_false_rollbacks(rng, 500, 60, 0.02, 3.0, 1.1, False, 0.05)
    assert measured > 0.95


def test_bounds_cover_the_true_ratio_at_all_times() -> None:
    rng = np.random.default_rng(9)
    runs, alpha, truth, rho0 = 2000, 0.05, 1.5, 1.0
    ll = eprocess.fresh((runs,))
    missed = np.zeros(runs, bool)
    log_t = np.full(runs, math.log(2 / alpha))  # alpha/2 on each side
    for _ in range(150):
        n = rng.poisson(300, runs)
        nc = rng.binomial(n, 0.2)
        x = rng.poisson(nc * 0.02 * truth)
        y = rng.poisson((n - nc) * 0.02)
        ll = eprocess.update(ll, x, x + y, nc / np.maximum(n, 1), rho0)
        low, high = eprocess.bounds(ll, np.full(runs, rho0), log_t, log_t)
        missed |= (truth < np.nan_to_num(low, nan=0.0)) | (truth > np.nan_to_num(high, nan=np.inf))
    assert missed.mean() <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / runs)
    # and they are informative by the end
    assert np.nanmedian(low) > 1.1 and np.nanmedian(high) < 2.1


@pytest.mark.parametrize("higher", [True, False])
def test_final_exact_test_is_scipys_binomtest(higher: bool) -> None:
    for x, n, p in [(3, 40, 0.05), (17, 60, 0.2), (0, 10, 0.3), (55, 100, 0.5)]:
        expected = binomtest(x, n, p, alternative="greater" if higher else "less").pvalue
        assert float(p_value(x, n, p, higher)) == pytest.approx(expected, rel=1e-9)
