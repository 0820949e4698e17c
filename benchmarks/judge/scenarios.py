"""Workloads (latency models, bucket layouts, metrics) and the scenarios run on them.

Two workloads, each with the metrics every method sees:

- `predictor`: a KServe-style model server. Latency lognormal (median 0.2 s,
  σ 0.6) in the Prometheus client's default buckets; 1% errors.
- `llm`: a vLLM-style server. e2e latency = TTFT + output tokens × TPOT with a
  heavy-tailed number of output tokens, in vLLM's default e2e buckets; TPOT in
  vLLM's TPOT buckets; 1% errors; thumbs-up feedback on 5% of requests, 60% up,
  arriving after an exponential delay (mean 2 min).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache

import numpy as np
from prometheus_client import Histogram
from scipy.stats import norm

from champion.domain.metrics_catalog import VLLM_E2E_BUCKETS, VLLM_TPOT_BUCKETS

PROMETHEUS_DEFAULT = [b for b in Histogram.DEFAULT_BUCKETS if math.isfinite(b)]
"""The Prometheus client's default buckets, +Inf left out (it is always the last bucket)."""
VLLM_E2E = list(VLLM_E2E_BUCKETS)
VLLM_TPOT = list(VLLM_TPOT_BUCKETS)

INTERVAL = 10  # seconds between looks
HORIZON = 1800  # seconds of canary
BASELINE = 600  # seconds of champion-only history before the canary (for edges, thresholds)
WEIGHT = 0.2  # the challenger's share of traffic (the rps in a cell is the challenger's)
FEEDBACK_RATE = 0.05
THUMBS_UP = 0.6
FEEDBACK_DELAY_INTERVALS = 12.0  # mean delay of feedback, in intervals (2 minutes)


@dataclass(frozen=True)
class Version:
    """How one version behaves (multipliers on the workload's base behaviour)."""

    latency_scale: float = 1.0
    """Every request's latency times this (for the LLM: TPOT times this)."""
    tail_scale: float = 1.0
    """Only requests slower than the base p99 are multiplied by this."""
    error_rate: float = 0.01
    thumbs_up: float = THUMBS_UP


@dataclass(frozen=True)
class Scenario:
    name: str
    workload: str
    regression: bool
    challenger: Version = field(default_factory=Version)
    incident: bool = False
    """Minutes 10-14: both versions at 5× errors and 1.6× latency (a shared dependency)."""
    ramp: bool = False
    """Configured weight 5%, 10%, 20%, 50% over the horizon (total traffic fixed)."""
    family: str = "A/A"


SCENARIOS = [
    Scenario("A/A identical", "predictor", False),
    Scenario("A/A shared incident", "predictor", False, incident=True),
    Scenario(
        "A/A +5% host effect (within margins)", "predictor", False, Version(1.05, 1.0, 0.0105)
    ),
    Scenario("A/A weight ramp 5→50%", "predictor", False, ramp=True),
    Scenario("latency +20% (whole distribution)", "predictor", True, Version(latency_scale=1.2)),
    Scenario("latency p99-only +20%", "predictor", True, Version(tail_scale=1.2)),
    Scenario("errors 1% → 3%", "predictor", True, Version(error_rate=0.03)),
    Scenario("LLM A/A identical", "llm", False),
    Scenario("LLM A/A +5% host effect (within margins)", "llm", False, Version(1.05, 1.0, 0.0105)),
    Scenario("LLM TPOT +20% (heavy-tailed e2e)", "llm", True, Version(latency_scale=1.2)),
    Scenario(
        "LLM thumbs-up −5% (delayed, sparse)", "llm", True, Version(thumbs_up=THUMBS_UP * 0.95)
    ),
]


@dataclass(frozen=True)
class HistogramSpec:
    name: str
    edges: tuple[float, ...]


@dataclass(frozen=True)
class Workload:
    name: str
    histograms: tuple[HistogramSpec, ...]
    feedback: bool


WORKLOADS = {
    "predictor": Workload(
        "predictor", (HistogramSpec("latency", tuple(PROMETHEUS_DEFAULT)),), False
    ),
    "llm": Workload(
        "llm",
        (HistogramSpec("e2e_latency", tuple(VLLM_E2E)), HistogramSpec("tpot", tuple(VLLM_TPOT))),
        True,
    ),
}

PREDICTOR_MEDIAN, PREDICTOR_SIGMA = 0.2, 0.6


def _predictor_cdf(x: np.ndarray, scale: float, tail: float) -> np.ndarray:
    def base(v: np.ndarray) -> np.ndarray:
        return norm.cdf(
            np.log(np.maximum(v, 1e-300) / (PREDICTOR_MEDIAN * scale)) / PREDICTOR_SIGMA
        )

    if tail == 1.0:
        return base(x)
    q99 = PREDICTOR_MEDIAN * scale * math.exp(PREDICTOR_SIGMA * norm.ppf(0.99))
    below = base(np.minimum(x, q99))
    return below + np.maximum(0.0, base(x / tail) - base(np.full_like(x, q99)))


@cache
def bucket_probabilities(
    workload: str, histogram: str, scale: float, tail: float
) -> tuple[float, ...]:
    """Probability of each bucket (+Inf last) for a version with these multipliers."""
    if workload == "predictor":
        cdf = _predictor_cdf(np.array(PROMETHEUS_DEFAULT), scale, tail)
        return tuple(np.diff(np.concatenate([[0.0], cdf, [1.0]])).tolist())
    # The LLM: Monte Carlo once per version, fixed seed (1e6 requests).
    values = _latency_samples(workload, histogram, scale, tail)
    llm_edges = VLLM_TPOT if histogram == "tpot" else VLLM_E2E
    counts = np.histogram(values, bins=[0.0, *llm_edges, np.inf])[0]
    return tuple((counts / len(values)).tolist())


def _latency_samples(workload: str, histogram: str, scale: float, tail: float) -> np.ndarray:
    """1e6 requests of one version (fixed seed), as `bucket_probabilities` describes them."""
    rng = np.random.default_rng(12345)
    n = 1_000_000
    if workload == "predictor":
        values = rng.lognormal(math.log(PREDICTOR_MEDIAN * scale), PREDICTOR_SIGMA, n)
        q99 = PREDICTOR_MEDIAN * scale * math.exp(PREDICTOR_SIGMA * norm.ppf(0.99))
        return np.where(values > q99, values * tail, values)
    ttft = rng.lognormal(math.log(0.3), 0.6, n)
    tokens = np.clip(np.round(rng.lognormal(math.log(180), 0.9, n)), 1, 4096)
    tpot = rng.lognormal(math.log(0.035), 0.25, n) * scale
    values = tpot if histogram == "tpot" else ttft + tokens * tpot
    if tail != 1.0:
        q99 = np.quantile(values, 0.99)
        values = np.where(values > q99, values * tail, values)
    return values


@cache
def bucket_moments(
    workload: str, histogram: str, scale: float, tail: float
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean and variance of the requests inside each bucket (+Inf last), for the `_sum`
    a histogram exports: an interval's sum is drawn around Σ count·mean with variance
    Σ count·variance, consistent with its bucket counts."""
    values = _latency_samples(workload, histogram, scale, tail)
    edges = (
        PROMETHEUS_DEFAULT
        if workload == "predictor"
        else (VLLM_TPOT if histogram == "tpot" else VLLM_E2E)
    )
    which = np.searchsorted(np.asarray(edges), values, side="left")
    means, variances = [], []
    for j in range(len(edges) + 1):
        inside = values[which == j]
        means.append(float(inside.mean()) if inside.size else 0.0)
        variances.append(float(inside.var()) if inside.size > 1 else 0.0)
    return tuple(means), tuple(variances)


def weights(s: Scenario, intervals: int) -> np.ndarray:
    """The configured challenger weight in each interval."""
    if not s.ramp:
        return np.full(intervals, WEIGHT)
    t = np.arange(intervals) * INTERVAL
    return np.select([t < 300, t < 600, t < 1200], [0.05, 0.10, 0.20], 0.50)


def incident_mask(s: Scenario, intervals: int) -> np.ndarray:
    t = np.arange(intervals) * INTERVAL
    return (t >= 600) & (t < 840) if s.incident else np.zeros(intervals, dtype=bool)
