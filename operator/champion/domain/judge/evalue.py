"""Anytime-valid tests on conditional binomial counts (Lindon & Malek 2022; Howard et al. 2021).

In one interval the challenger sees `x` events out of `nc` requests and the
champion `y` out of `nb`. Given the interval's events m = x + y, x is
Binomial(m, p) with p = s·ρ / (s·ρ + 1 − s), s = nc / (nc + nb) the
challenger's traffic share and ρ the ratio of event rates. Against the null
ρ = ρ0 (the margin), the likelihood ratio of any alternative ρ1 > ρ0 has
expectation ≤ 1 under every ρ ≤ ρ0 (monotone likelihood ratio), so the product
over intervals is a test supermartingale, and so is a mixture over a grid of
alternatives. By Ville's inequality it crosses 1/α with probability ≤ α
however often it is looked at.
"""

from __future__ import annotations

import math

# Alternatives, as multiples of the null ratio, and equal mixture weights.
WORSE_GRID = (1.1, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0)
BETTER_GRID = (0.9, 0.8, 0.7, 0.5, 0.3)


def share_to_p(share: float, ratio: float) -> float:
    return share * ratio / (share * ratio + (1.0 - share))


def log_lr_increment(x: float, m: float, share: float, ratio0: float, ratio1: float) -> float:
    """log of P(x | m, ρ1) / P(x | m, ρ0) for one interval."""
    if m <= 0 or share <= 0.0 or share >= 1.0:
        return 0.0
    p0 = share_to_p(share, ratio0)
    p1 = share_to_p(share, ratio1)
    return x * math.log(p1 / p0) + (m - x) * math.log((1.0 - p1) / (1.0 - p0))


def update(
    log_lrs: list[float], grid: tuple[float, ...], x: float, m: float, share: float, ratio0: float
) -> list[float]:
    return [
        acc + log_lr_increment(x, m, share, ratio0, ratio0 * g)
        for acc, g in zip(log_lrs, grid, strict=True)
    ]


def mixture(log_lrs: list[float]) -> float:
    """The equal-weight mixture of the per-alternative likelihood ratios (an e-value)."""
    top = max(log_lrs)
    if top > 700:
        return math.inf
    return sum(math.exp(v) for v in log_lrs) / len(log_lrs)
