"""One simulator for every method: per-interval counters like Prometheus deltas (fixed seeds)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

EDGES = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, math.inf]


@dataclass(frozen=True)
class Scenario:
    name: str
    error_champion: float = 0.01
    error_challenger: float = 0.01
    latency_scale: float = 1.0
    regression: bool = False


SCENARIOS = [
    Scenario("A/A identical", regression=False),
    Scenario("A/A +5% latency (within 10% margin)", latency_scale=1.05, regression=False),
    Scenario("errors 1% -> 3%", error_challenger=0.03, regression=True),
    Scenario("latency +20%", latency_scale=1.2, regression=True),
    Scenario("latency +50%", latency_scale=1.5, regression=True),
]


@dataclass
class Interval:
    c_n: int
    b_n: int
    c_err: int
    b_err: int
    c_hist: list[float]
    b_hist: list[float]


def intervals(
    s: Scenario,
    rps_challenger: float,
    share: float,
    seconds: int,
    interval: int,
    rng: np.random.Generator,
) -> list[Interval]:
    """Challenger at `rps_challenger`, champion at the rest of the traffic (share = challenger's)."""
    out = []
    rps_champion = rps_challenger * (1 - share) / share
    bins = [0.0, *EDGES[:-1], np.inf]
    for _ in range(seconds // interval):
        c_n = int(rng.poisson(rps_challenger * interval))
        b_n = int(rng.poisson(rps_champion * interval))
        c_lat = rng.lognormal(math.log(0.9), 0.45, c_n) * s.latency_scale
        b_lat = rng.lognormal(math.log(0.9), 0.45, b_n)
        out.append(
            Interval(
                c_n, b_n,
                int(rng.binomial(c_n, s.error_challenger)), int(rng.binomial(b_n, s.error_champion)),
                np.histogram(c_lat, bins=bins)[0].astype(float).tolist(),
                np.histogram(b_lat, bins=bins)[0].astype(float).tolist(),
            )
        )  # fmt: skip
    return out
