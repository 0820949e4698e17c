"""One simulator for every method: per-interval counter deltas and histogram bucket deltas
for champion and challenger, like two Prometheus scrapes subtracted. Vectorised over runs.

All arrays are (runs, intervals[, buckets]); fixed seeds make every cell repeatable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmarks.judge.scenarios import (
    BASELINE,
    FEEDBACK_DELAY_INTERVALS,
    FEEDBACK_RATE,
    HORIZON,
    INTERVAL,
    WEIGHT,
    WORKLOADS,
    Scenario,
    Version,
    bucket_moments,
    bucket_probabilities,
    incident_mask,
    weights,
)

Int = np.ndarray


@dataclass
class Arm:
    requests: Int
    errors: Int
    histograms: dict[str, Int]
    ups: Int | None = None
    feedback: Int | None = None
    sums: dict[str, np.ndarray] | None = None
    """(runs, intervals): each histogram's `_sum` delta (seconds)."""


@dataclass
class Data:
    scenario: Scenario
    rps: float
    challenger: Arm
    champion: Arm
    expected_share: np.ndarray
    """The configured weight per interval, as the operator knows it."""
    baseline: dict[str, Int]
    """Champion-only bucket counts from the BASELINE seconds before the canary: (runs, buckets)."""
    baseline_sums: dict[str, np.ndarray]
    """Their `_sum`: (runs,)."""
    baseline_windows: dict[str, tuple[np.ndarray, np.ndarray]]
    """The same history per analysis interval, as a range read gives it: (requests, `_sum`),
    each (runs, BASELINE // INTERVAL)."""
    edges: dict[str, list[float]]

    @property
    def runs(self) -> int:
        return int(self.challenger.requests.shape[0])

    @property
    def intervals(self) -> int:
        return int(self.challenger.requests.shape[1])


def _multinomial(rng: np.random.Generator, n: Int, pvals: tuple[float, ...]) -> Int:
    return rng.multinomial(n, np.asarray(pvals)).astype(np.int32)


def _arm(
    rng: np.random.Generator,
    s: Scenario,
    version: Version,
    rate: np.ndarray,
    runs: int,
) -> Arm:
    """One version's intervals; `rate` is its requests per second in each interval."""
    wl = WORKLOADS[s.workload]
    t = len(rate)
    requests = rng.poisson(np.broadcast_to(rate * INTERVAL, (runs, t))).astype(np.int32)
    incident = incident_mask(s, t)
    error_p = np.where(incident, min(1.0, version.error_rate * 5), version.error_rate)
    errors = rng.binomial(requests, error_p).astype(np.int32)
    histograms: dict[str, Int] = {}
    for h in wl.histograms:
        normal = bucket_probabilities(s.workload, h.name, version.latency_scale, version.tail_scale)
        out = np.zeros((runs, t, len(normal)), dtype=np.int32)
        calm = ~incident
        out[:, calm] = _multinomial(rng, requests[:, calm], normal)
        if incident.any():
            slow = bucket_probabilities(
                s.workload, h.name, version.latency_scale * 1.6, version.tail_scale
            )
            out[:, incident] = _multinomial(rng, requests[:, incident], slow)
        histograms[h.name] = out
    arm = Arm(requests, errors, histograms)
    if wl.feedback:
        arm.feedback, arm.ups = _feedback(rng, requests, version.thumbs_up)
    return arm


def _sum(
    rng: np.random.Generator, counts: Int, moments: tuple[tuple[float, ...], tuple[float, ...]]
) -> np.ndarray:
    """The `_sum` of requests with these bucket counts: normal around Σ count·mean."""
    mean = counts @ np.asarray(moments[0])
    var = counts @ np.asarray(moments[1])
    return np.maximum(0.0, mean + np.sqrt(var) * rng.standard_normal(mean.shape))


def _sums(
    rng: np.random.Generator, s: Scenario, version: Version, arm: Arm
) -> dict[str, np.ndarray]:
    """Each histogram's per-interval `_sum`, from a generator of its own so that adding
    sums left every other draw of the benchmark as it was."""
    out: dict[str, np.ndarray] = {}
    for name, counts in arm.histograms.items():
        t = counts.shape[1]
        incident = incident_mask(s, t)
        calm = bucket_moments(s.workload, name, version.latency_scale, version.tail_scale)
        total = _sum(rng, counts, calm)
        if incident.any():
            slow = bucket_moments(s.workload, name, version.latency_scale * 1.6, version.tail_scale)
            total[:, incident] = _sum(rng, counts[:, incident], slow)
        out[name] = total
    return out


def _feedback(rng: np.random.Generator, requests: Int, thumbs_up: float) -> tuple[Int, Int]:
    """Feedback on FEEDBACK_RATE of requests, arriving after an exponential delay;
    what would arrive after the horizon is lost."""
    given = rng.binomial(requests, FEEDBACK_RATE)
    ups = rng.binomial(given, thumbs_up)
    downs = given - ups
    t = requests.shape[1]
    lag = np.arange(min(t, 6 * int(FEEDBACK_DELAY_INTERVALS)))  # later than 6 means: lost
    delay = np.exp(-lag / FEEDBACK_DELAY_INTERVALS) * (1 - np.exp(-1 / FEEDBACK_DELAY_INTERVALS))
    delay = np.append(delay, max(0.0, 1 - delay.sum()))  # the last bin: never arrives
    arrived = []
    for counts in (ups, downs):
        split = rng.multinomial(counts, delay)[..., : len(lag)]  # (runs, t, lag)
        out = np.zeros_like(counts)
        for d in range(len(lag)):
            out[:, d:] += split[:, : t - d, d]
        arrived.append(out)
    up, down = arrived
    return (up + down).astype(np.int32), up.astype(np.int32)


def simulate(s: Scenario, rps: float, runs: int, seed: int) -> Data:
    """`rps` is the challenger's request rate at the nominal 20% weight."""
    rng = np.random.default_rng(seed)
    t = HORIZON // INTERVAL
    w = weights(s, t)
    total = rps / WEIGHT
    challenger = _arm(rng, s, s.challenger, total * w, runs)
    champion = _arm(rng, s, Version(), total * (1 - w), runs)
    wl = WORKLOADS[s.workload]
    baseline: dict[str, Int] = {}
    champion_history = rng.poisson(total * (1 - WEIGHT) * BASELINE, runs)
    for h in wl.histograms:
        p = bucket_probabilities(s.workload, h.name, 1.0, 1.0)
        baseline[h.name] = _multinomial(rng, champion_history, p)
    sum_rng = np.random.default_rng([seed, 7])
    challenger.sums = _sums(sum_rng, s, s.challenger, challenger)
    champion.sums = _sums(sum_rng, s, Version(), champion)
    # The history split into analysis intervals, from a generator of its own (every other
    # draw is as it was): each request falls in one of the windows with equal chance.
    window_rng = np.random.default_rng([seed, 11])
    windows = BASELINE // INTERVAL
    baseline_windows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, counts in baseline.items():
        split = window_rng.multinomial(counts, np.full(windows, 1.0 / windows))  # (runs, b, w)
        per_window = np.moveaxis(split, -1, 1).astype(np.int32)  # (runs, w, b)
        window_sums = _sum(sum_rng, per_window, bucket_moments(s.workload, name, 1.0, 1.0))
        baseline_windows[name] = (per_window.sum(-1), window_sums)
    baseline_sums = {name: w[1].sum(-1) for name, w in baseline_windows.items()}
    return Data(
        s,
        rps,
        challenger,
        champion,
        w,
        baseline,
        baseline_sums,
        baseline_windows,
        {h.name: list(h.edges) for h in wl.histograms},
    )
