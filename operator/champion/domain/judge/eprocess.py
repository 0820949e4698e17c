"""Anytime-valid tests of a rate ratio on conditional binomial counts.

In one interval the challenger has `x` events out of `nc` and the champion `y`
out of `nb`. Given the interval's events m = x + y, x is Binomial(m, p) with

    p = s·ρ / (s·ρ + 1 − s),   s = nc / (nc + nb) the challenger's share,

ρ the ratio of the two event rates (exact when events are Poisson in the
totals; when they are binomial the exact law is less dispersed, which only
makes the test more conservative: Hoeffding 1963, convex order). For any
alternative ρ1 above a null ρ0 the per-interval likelihood ratio has
expectation ≤ 1 under every ρ ≤ ρ0 (monotone likelihood ratio), so the product
over intervals, and any fixed mixture of such products, is a nonnegative
supermartingale: by Ville's inequality it ever reaches 1/α with probability ≤ α,
however often it is looked at (Lindon & Malek 2022; Howard et al. 2021).

The state of one test is the log-likelihood of the data at a fixed grid of
ratios around ρ0 (only differences matter, so it is kept with its maximum at
0). From it come, at no extra cost: the mixture e-value against "no worse than
ρ0" (rollback), the mixture e-value against "worse than ρ0" (promote), and
anytime-valid bounds on ρ over the grid (a confidence sequence). Every function works on arrays with
any leading batch shape, so the benchmark runs thousands of rollouts at once
through the same code.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

# Alternatives as log-ratio offsets δ from the null, geometric from 0.05 to 2 (ratios
# ×1.05 … ×7.5 of the null): equal weights on a geometric grid are a log-uniform prior on
# the effect size, which keeps small effects (latency tails) and large ones (an error
# spike) both cheap. (Finer or wider grids changed detection times by under 10% in the
# benchmark; 12 points a side keep the state small.)
DELTAS: tuple[float, ...] = tuple(0.05 * 1.4**k for k in range(12))
OFFSETS: Array = np.array([-d for d in reversed(DELTAS)] + [0.0] + list(DELTAS))
GRID = len(OFFSETS)
CENTRE = len(DELTAS)
SIDE = len(DELTAS)


def ratios(rho0: ArrayLike) -> Array:
    """The grid of rate ratios around each null ratio: shape (..., GRID)."""
    return np.asarray(rho0, dtype=float)[..., None] * np.exp(OFFSETS)


def share_to_p(share: ArrayLike, ratio: ArrayLike) -> Array:
    s = np.asarray(share, dtype=float)
    r = np.asarray(ratio, dtype=float)
    return s * r / (s * r + (1.0 - s))


def log_likelihood(x: ArrayLike, m: ArrayLike, share: ArrayLike, rho0: ArrayLike) -> Array:
    """One interval's log P(x | m, share, ρ) at every grid ratio, up to a constant in ρ.

    Intervals without events, or where one version had no traffic, carry no
    information and contribute 0.
    """
    x_ = np.asarray(x, dtype=float)[..., None]
    m_ = np.asarray(m, dtype=float)[..., None]
    s = np.asarray(share, dtype=float)[..., None]
    informative = (m_ > 0) & (s > 0.0) & (s < 1.0)
    s = np.where(informative, s, 0.5)
    r = ratios(rho0)
    sr = s * r
    log_denominator = np.log(sr + (1.0 - s))
    ll = x_ * (np.log(sr) - log_denominator) + (m_ - x_) * (np.log1p(-s) - log_denominator)
    return np.where(informative, ll, 0.0)


def update(
    loglik: ArrayLike, x: ArrayLike, m: ArrayLike, share: ArrayLike, rho0: ArrayLike
) -> Array:
    """Adds one interval to the log-likelihood grid and re-centres it (max = 0)."""
    out = np.asarray(loglik, dtype=float) + log_likelihood(x, m, share, rho0)
    return out - out.max(axis=-1, keepdims=True)


def _log_mean_exp(values: Array) -> Array:
    top = values.max(axis=-1, keepdims=True)
    return top[..., 0] + np.log(np.mean(np.exp(values - top), axis=-1))


def log_e_worse(loglik: ArrayLike, higher_is_worse: ArrayLike = True) -> Array:
    """log of the mixture e-value against "ρ is no worse than ρ0" (large: roll back)."""
    return log_e_worse_and_better(loglik, higher_is_worse)[0]


def log_e_better(loglik: ArrayLike, higher_is_worse: ArrayLike = True) -> Array:
    """log of the mixture e-value against "ρ is worse than ρ0" (large: shown within the margin)."""
    return log_e_worse_and_better(loglik, higher_is_worse)[1]


def log_e_worse_and_better(
    loglik: ArrayLike, higher_is_worse: ArrayLike = True
) -> tuple[Array, Array]:
    """(`log_e_worse`, `log_e_better`) from one pass over the grid."""
    ll = np.asarray(loglik, dtype=float)
    up = _log_mean_exp(ll[..., CENTRE + 1 :]) - ll[..., CENTRE]
    down = _log_mean_exp(ll[..., :CENTRE]) - ll[..., CENTRE]
    return np.where(higher_is_worse, up, down), np.where(higher_is_worse, down, up)


def log_e_two_sided(loglik: ArrayLike) -> Array:
    """log of the mixture e-value against ρ = ρ0 exactly, alternatives on both sides (SRM)."""
    ll = np.asarray(loglik, dtype=float)
    others = np.concatenate([ll[..., :CENTRE], ll[..., CENTRE + 1 :]], axis=-1)
    return _log_mean_exp(others) - ll[..., CENTRE]


def bounds(
    loglik: ArrayLike, rho0: ArrayLike, log_threshold_up: ArrayLike, log_threshold_down: ArrayLike
) -> tuple[Array, Array]:
    """Anytime-valid bounds on the ratio at grid resolution, batch-wise: (low, high).

    A grid ratio ρj is ruled out from below when the mixture over the grid ratios above it
    rejects "ρ ≤ ρj" (e-value ≥ e^log_threshold_up), from above likewise. `low` is the
    highest ρj below which every grid ratio is ruled out (NaN if none is); `high` the lowest
    above which every one is (NaN if none). At ρ0 the two tests are exactly the rollback and
    promote e-values, so the bounds tell the same story as the decisions.
    """
    ll = np.atleast_2d(np.asarray(loglik, dtype=float))
    n, g = ll.shape
    # log of the mean of exp(L_i) over i > j, and over i < j.
    suffix = np.logaddexp.accumulate(ll[:, ::-1], axis=1)[:, ::-1]
    prefix = np.logaddexp.accumulate(ll, axis=1)
    counts = np.arange(g)
    above = np.full((n, g), -np.inf)
    above[:, :-1] = suffix[:, 1:] - np.log(g - 1 - counts[:-1])
    below = np.full((n, g), -np.inf)
    below[:, 1:] = prefix[:, :-1] - np.log(counts[1:])
    up = np.atleast_1d(np.asarray(log_threshold_up, dtype=float))[:, None]
    down = np.atleast_1d(np.asarray(log_threshold_down, dtype=float))[:, None]
    ruled_low = (above - ll) >= up
    ruled_high = (below - ll) >= down
    lead = np.argmin(np.concatenate([ruled_low, np.zeros((n, 1), bool)], axis=1), axis=1)
    trail = np.argmin(np.concatenate([ruled_high[:, ::-1], np.zeros((n, 1), bool)], axis=1), axis=1)
    grid = ratios(np.atleast_1d(np.asarray(rho0, dtype=float)))
    rows = np.arange(n)
    low = np.where(lead > 0, grid[rows, np.clip(lead - 1, 0, g - 1)], np.nan)
    high = np.where(trail > 0, grid[rows, np.clip(g - trail, 0, g - 1)], np.nan)
    return low, high


def fresh(shape: tuple[int, ...] = ()) -> Array:
    return np.zeros((*shape, GRID))


def to_e(log_e: float) -> float:
    return math.exp(log_e) if log_e < 700 else math.inf
