"""The judge: e-values cross-checked, false rollbacks bounded by simulation, regressions caught."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
from scipy.stats import binom

from champion.domain.judge import Counts, Histogram, Judge, JudgeConfig, MetricConfig, evalue

EDGES = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, math.inf]


def test_e_value_matches_a_brute_force_likelihood_ratio() -> None:
    rng = np.random.default_rng(1)
    intervals = [
        (int(rng.integers(0, 8)), int(rng.integers(5, 30)), float(rng.uniform(0.05, 0.6)))
        for _ in range(20)
    ]
    ratio0 = 1.1
    logs = [0.0] * len(evalue.WORSE_GRID)
    for x, m, s in intervals:
        x = min(x, m)
        logs = evalue.update(logs, evalue.WORSE_GRID, x, m, s, ratio0)
    brute = 0.0
    for g in evalue.WORSE_GRID:
        lr = 1.0
        for x, m, s in intervals:
            x = min(x, m)
            p0 = s * ratio0 / (s * ratio0 + 1 - s)
            p1 = s * ratio0 * g / (s * ratio0 * g + 1 - s)
            lr *= binom.pmf(x, m, p1) / binom.pmf(x, m, p0)
        brute += lr / len(evalue.WORSE_GRID)
    assert evalue.mixture(logs) == pytest.approx(brute, rel=1e-9)


def _simulate(
    judge: Judge,
    rng: np.random.Generator,
    looks: int,
    rps_c: float,
    rps_b: float,
    rate_c: float,
    rate_b: float,
) -> str:
    for _ in range(looks):
        nc, nb = rng.poisson(rps_c), rng.poisson(rps_b)
        verdict = judge.observe(
            {"errors": Counts(rng.binomial(nc, rate_c), nc, rng.binomial(nb, rate_b), nb)}
        )
        if verdict.decision == "rollback":
            return "rollback"
    return "none"


def test_false_rollbacks_stay_below_alpha_however_often_it_looks() -> None:
    """A/A: identical versions, 300 looks each, 400 runs; the rate must be ≤ alpha (plus noise)."""
    rng = np.random.default_rng(7)
    alpha = 0.05
    runs = 400
    rollbacks = 0
    for _ in range(runs):
        judge = Judge(
            JudgeConfig(
                alpha=alpha, metrics={"errors": MetricConfig(margin=0.0)}, promote_early=False
            )
        )
        rollbacks += _simulate(judge, rng, 300, 20, 80, 0.02, 0.02) == "rollback"
    rate = rollbacks / runs
    # The bound is for the sequential part (alpha/2 here); allow sampling noise of 3 sd.
    assert rate <= alpha / 2 + 3 * math.sqrt(alpha / 2 * (1 - alpha / 2) / runs), rate


def test_tripled_error_rate_is_rolled_back_quickly() -> None:
    rng = np.random.default_rng(3)
    judge = Judge(JudgeConfig(alpha=0.05, metrics={"errors": MetricConfig(margin=0.2)}))
    for look in range(1, 200):  # noqa: B007 - read after the loop
        nc, nb = 100, 400
        verdict = judge.observe(
            {"errors": Counts(rng.binomial(nc, 0.03), nc, rng.binomial(nb, 0.01), nb)}
        )
        if verdict.decision == "rollback":
            break
    assert verdict.decision == "rollback" and look < 30
    assert verdict.reason == "RegressionDetected"
    assert "errors" in verdict.message and "e-value" in verdict.message


def _latency_hist(rng: np.random.Generator, n: int, scale: float) -> list[float]:
    samples = rng.lognormal(mean=math.log(0.6), sigma=0.5, size=n) * scale
    counts, _ = np.histogram(samples, bins=[0.0, *EDGES[:-1], np.inf])
    return counts.astype(float).tolist()


def test_fifty_percent_slower_latency_is_rolled_back_with_the_edge_explained() -> None:
    rng = np.random.default_rng(5)
    judge = Judge(
        JudgeConfig(alpha=0.05, metrics={"latency": MetricConfig(margin=0.1, quantile=0.9)})
    )
    for _ in range(60):
        h = Histogram(EDGES, _latency_hist(rng, 50, 1.5), _latency_hist(rng, 200, 1.0))
        verdict = judge.observe({"latency": h})
        if verdict.decision == "rollback":
            break
    assert verdict.decision == "rollback"
    assert "champion's p" in verdict.evidence[0].detail


def test_identical_latency_is_not_rolled_back_and_promotes_at_the_horizon() -> None:
    rng = np.random.default_rng(11)
    judge = Judge(
        JudgeConfig(alpha=0.05, metrics={"latency": MetricConfig(margin=0.1)}, promote_early=False)
    )
    for _ in range(40):
        verdict = judge.observe(
            {"latency": Histogram(EDGES, _latency_hist(rng, 50, 1.0), _latency_hist(rng, 200, 1.0))}
        )
        assert verdict.decision != "rollback"
    assert judge.finalize().decision == "promote"


def test_no_traffic_is_insufficient_evidence_never_rollback() -> None:
    judge = Judge(JudgeConfig(alpha=0.05, metrics={"errors": MetricConfig()}))
    for _ in range(100):
        verdict = judge.observe({"errors": None})
        assert verdict.decision == "continue" and verdict.reason == "InsufficientEvidence"
    zero = judge.observe({"errors": Counts(0, 0, 0, 0)})
    assert zero.reason == "InsufficientEvidence"


def test_sample_ratio_mismatch_is_flagged() -> None:
    judge = Judge(JudgeConfig(alpha=0.05, metrics={"errors": MetricConfig()}))
    verdict = judge.observe({"errors": Counts(1, 500, 4, 500)}, expected_share=0.1)
    assert verdict.sample_ratio_mismatch and verdict.reason == "SampleRatioMismatch"


def test_state_round_trips_through_json_so_restarts_lose_nothing() -> None:
    rng = np.random.default_rng(2)
    cfg = JudgeConfig(alpha=0.05, metrics={"errors": MetricConfig(margin=0.2)})
    a = Judge(cfg)
    b = Judge(cfg)
    for _ in range(10):
        obs = {"errors": Counts(rng.binomial(100, 0.02), 100, rng.binomial(400, 0.02), 400)}
        va = a.observe(obs)
        b = Judge.from_dict(cfg, json.loads(json.dumps(b.to_dict())))
        vb = b.observe(obs)
        assert va.evidence[0].statistic == pytest.approx(vb.evidence[0].statistic)


def test_observe_costs_well_under_a_millisecond_for_ten_metrics() -> None:
    cfg = JudgeConfig(alpha=0.05, metrics={f"m{i}": MetricConfig() for i in range(10)})
    judge = Judge(cfg)
    obs = {f"m{i}": Counts(2, 100, 8, 400) for i in range(10)}
    start = time.perf_counter()
    for _ in range(200):
        judge.observe(obs)
    per_call = (time.perf_counter() - start) / 200
    assert per_call < 0.001, per_call
