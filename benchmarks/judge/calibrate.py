"""Calibrates the threshold rules' constants to the same A/A false-rollback budget as Champion.

Constants are searched on A/A runs with a separate seed, from strict to loose;
the first pair whose false-rollback rate is ≤ the budget is used for that rps.
"""

from __future__ import annotations

import numpy as np

from benchmarks.judge.methods import Method, argo, flagger
from benchmarks.judge.simulate import SCENARIOS, intervals

ERRORS = (0.02, 0.03, 0.05, 0.08, 0.12, 0.2, 0.3, 0.5, 1.0)
LATENCIES = (2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0)


def calibrated(
    rps: float, runs: int, horizon: int, interval: int, budget: float = 0.05
) -> dict[str, Method]:
    rng = np.random.default_rng(99)
    aa = [intervals(SCENARIOS[0], rps, 0.2, horizon, interval, rng) for _ in range(runs)]
    out: dict[str, Method] = {}
    for label, make in (
        ("Flagger (threshold 1), calibrated", lambda e, lat: flagger(1, e, lat)),
        ("Flagger (threshold 5), calibrated", lambda e, lat: flagger(5, e, lat)),
        ("Argo (failureLimit 3), calibrated", lambda e, lat: argo(3, e, lat)),
    ):
        chosen = None
        for lat in LATENCIES:
            for err in ERRORS:
                method = make(err, lat)
                rate = sum(method(d, interval) is not None for d in aa) / runs
                if rate <= budget:
                    chosen = method
                    break
            if chosen is not None:
                break
        if chosen is not None:
            out[label] = chosen
    return out
