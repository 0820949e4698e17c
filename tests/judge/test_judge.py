"""The Judge as a caller sees it: counts in, a decision with readable evidence out."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
from benchmarks.judge.scenarios import PROMETHEUS_DEFAULT
from scipy import stats
from scipy.stats import binomtest, norm

from champion.domain.judge import Counts, Histogram, Judge, JudgeConfig, MetricConfig
from champion.domain.judge import edges as edge_plan
from champion.domain.metrics_catalog import VLLM_E2E_BUCKETS, VLLM_TPOT_BUCKETS

VLLM_E2E = list(VLLM_E2E_BUCKETS)


def _latency(
    rng: np.random.Generator, n: int, scale: float = 1.0, edges: list[float] = VLLM_E2E
) -> list[float]:
    samples = rng.lognormal(math.log(0.9), 0.45, n) * scale
    return np.histogram(samples, bins=[0.0, *edges, np.inf])[0].astype(float).tolist()


def _errors(
    rng: np.random.Generator, rate_c: float, rate_b: float, nc: int = 100, nb: int = 400
) -> Counts:
    return Counts(int(rng.binomial(nc, rate_c)), nc, int(rng.binomial(nb, rate_b)), nb)


def test_tripled_error_rate_is_rolled_back_with_a_readable_reason() -> None:
    rng = np.random.default_rng(3)
    judge = Judge(JudgeConfig(alpha=0.05, metrics={"errors": MetricConfig(margin=0.1)}))
    for look in range(1, 100):  # noqa: B007 - read after the loop
        verdict = judge.observe({"errors": _errors(rng, 0.03, 0.01)}, expected_share=0.2)
        if verdict.decision == "rollback":
            break
    assert verdict.decision == "rollback" and look <= 20
    assert verdict.code == "RegressionDetected"
    assert verdict.reason.startswith("errors: challenger ")
    assert "e-value" in verdict.reason and "M/alpha" in verdict.reason and "ratio" in verdict.reason
    ev = verdict.evidence[0]
    assert ev.statistic >= ev.threshold == pytest.approx(1 / (0.05 * 0.75))
    assert ev.ratio is not None and ev.ratio_low is not None and ev.ratio_low >= 1.1
    assert ev.log_e_value == pytest.approx(math.log(ev.e_value))


def test_latency_regression_is_rolled_back_and_the_edges_are_explained() -> None:
    rng = np.random.default_rng(5)
    judge = Judge(JudgeConfig(alpha=0.05, metrics={"latency": MetricConfig(margin=0.1)}))
    judge.warm_up({"latency": Histogram(VLLM_E2E, [], _latency(rng, 5000))})
    for _ in range(120):
        verdict = judge.observe(
            {"latency": Histogram(VLLM_E2E, _latency(rng, 100, 1.5), _latency(rng, 400))}
        )
        if verdict.decision == "rollback":
            break
    assert verdict.decision == "rollback"
    assert verdict.reason.startswith("latency_p")
    assert "challenger exceeds" in verdict.reason and "% of requests vs" in verdict.reason
    testing = [e for e in verdict.evidence if e.status == "testing"]
    assert {e.group for e in testing} == {"latency"}
    for e in testing:
        # The edge and which champion quantile it really is, as asked in the issue.
        assert e.edge in VLLM_E2E and e.real_quantile is not None
        assert f"edge {e.edge:g}s is the champion's p" in e.detail


def test_identical_latency_is_not_rolled_back_and_promotes_at_the_horizon() -> None:
    rng = np.random.default_rng(11)
    judge = Judge(
        JudgeConfig(alpha=0.05, metrics={"latency": MetricConfig(margin=0.1)}, promote_early=False)
    )
    judge.warm_up({"latency": Histogram(VLLM_E2E, [], _latency(rng, 3000))})
    for _ in range(60):
        verdict = judge.observe(
            {"latency": Histogram(VLLM_E2E, _latency(rng, 50), _latency(rng, 200))}
        )
        assert verdict.decision == "continue"
    final = judge.finalize()
    assert final.decision == "promote" and final.code == "NoRegressionDetected"
    assert all(
        "final exact binomial test p=" in e.detail for e in final.evidence if e.status == "testing"
    )


def test_without_warm_up_the_first_intervals_choose_the_edges_and_are_not_tested() -> None:
    rng = np.random.default_rng(4)
    judge = Judge(JudgeConfig(metrics={"latency": MetricConfig()}, warmup_requests=1000))
    first = judge.observe({"latency": Histogram(VLLM_E2E, _latency(rng, 100), _latency(rng, 600))})
    assert first.evidence[0].status == "warming-up" and "warming up" in first.reason
    assert first.code == "AnalysisContinue"  # warming up is progress, not missing data
    second = judge.observe({"latency": Histogram(VLLM_E2E, _latency(rng, 100), _latency(rng, 600))})
    assert all(e.challenger_total == 0 for e in second.evidence if e.status == "testing")
    third = judge.observe({"latency": Histogram(VLLM_E2E, _latency(rng, 100), _latency(rng, 600))})
    assert any(e.challenger_total == 100 for e in third.evidence if e.status == "testing")


def test_coarse_buckets_are_handled_honestly() -> None:
    """Prometheus' default buckets around a 0.2 s median: no edge lies 10% above another, so
    each quantile is tested at its own edge with a bounded allowance, and says which quantile
    that edge really is."""
    median, sigma = 0.2, 0.6
    cdf = norm.cdf(np.log(np.array(PROMETHEUS_DEFAULT) / median) / sigma)
    counts = (np.diff(np.concatenate([[0.0], cdf, [1.0]])) * 1e6).tolist()
    tests, skipped = edge_plan.plan_with_skips(
        PROMETHEUS_DEFAULT, counts, (0.5, 0.9, 0.99), 0.1, 0.0
    )
    assert not skipped
    by_q = {t.wanted_quantile: t for t in tests}
    assert by_q[0.5].edge == 0.25 and by_q[0.5].real_quantile == pytest.approx(0.645, abs=0.002)
    assert by_q[0.9].edge == 0.5 and by_q[0.9].real_quantile == pytest.approx(0.937, abs=0.002)
    assert by_q[0.99].edge == 1.0 and by_q[0.99].real_quantile == pytest.approx(0.996, abs=0.002)
    # The p50 and p90 bounds come from the tail above the edge (the bucket below is 2.5× and
    # 2× wide: its chord would allow 1.6× at p90, where a 10% slower challenger has 1.35×).
    assert by_q[0.5].how == by_q[0.9].how == "hazard"
    assert by_q[0.9].null_ratio < 1.45
    for t in tests:
        assert "is the champion's p" in t.note()


FAMILIES = {
    "log-normal σ=0.3": stats.lognorm(0.3, scale=0.2),
    "log-normal σ=0.6": stats.lognorm(0.6, scale=0.2),
    "log-normal σ=1": stats.lognorm(1.0, scale=0.2),
    "Weibull k=1.5": stats.weibull_min(1.5, scale=0.3),
    "gamma k=2": stats.gamma(2, scale=0.1),
    "log-logistic β=3": stats.fisk(3, scale=0.2),
    "Pareto α=2.5": stats.pareto(2.5, scale=0.05),
    "exponential": stats.expon(scale=0.2),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_the_allowance_is_never_below_what_a_challenger_exactly_at_the_margin_has(
    family: str,
) -> None:
    """The null ratio κ of every interpolated or hazard-bounded edge test is at least the
    true S(b/γ)/S(b) of the champion's distribution, for the latency families the bounds
    claim to cover, at many scales and margins, in three bucket layouts: a challenger exactly
    at the margin is never judged worse than it (no false rollback from the edge planning)."""
    dist = FAMILIES[family]
    checked = 0
    for layout in (PROMETHEUS_DEFAULT, VLLM_E2E, list(VLLM_TPOT_BUCKETS)):
        edges = np.array(layout)
        for scale in (0.01, 0.03, 0.1, 0.3, 1.0, 3.0):
            cdf = dist.cdf(edges / scale)
            counts = (np.diff(np.concatenate([[0.0], cdf, [1.0]])) * 1e6).tolist()
            for margin in (0.05, 0.1, 0.2):
                for t in edge_plan.plan(layout, counts, (0.5, 0.9, 0.99), margin, 0.0):
                    if t.how in ("pair", "next-edge"):
                        continue  # exact by construction
                    exact = dist.sf(t.edge / (1 + margin) / scale) / dist.sf(t.edge / scale)
                    assert t.null_ratio >= exact * (1 - 1e-9), (layout, scale, margin, t)
                    checked += 1
    assert checked >= 20


def test_an_edge_at_exactly_gamma_times_b_is_used_as_a_pair() -> None:
    edges = [0.5, 1.0, 1.1, 2.0, 4.0]
    counts = [100.0, 500.0, 100.0, 250.0, 40.0, 10.0]
    tests = edge_plan.plan(edges, counts, (0.6,), 0.1, 0.0)  # 40% of requests above 1.0
    assert tests[0].how == "pair" and tests[0].edge == 1.0 and tests[0].challenger_edge == 1.1
    assert tests[0].null_ratio == 1.0


def test_lower_is_worse_metrics_roll_back_on_a_drop_never_on_a_rise() -> None:
    rng = np.random.default_rng(6)
    cfg = JudgeConfig(metrics={"thumbs_up": MetricConfig(direction="lower-is-worse", margin=0.02)})
    drop, rise = Judge(cfg), Judge(cfg)
    dropped = False
    for _ in range(200):
        v = drop.observe({"thumbs_up": _errors(rng, 0.3, 0.6, 400, 1600)})
        dropped = dropped or v.decision == "rollback"
        r = rise.observe({"thumbs_up": _errors(rng, 0.9, 0.6, 400, 1600)})
        assert r.decision != "rollback"
    assert dropped
    assert "≥ 0.98 allowed" in v.reason


def test_no_traffic_is_insufficient_evidence_never_a_rollback() -> None:
    judge = Judge(JudgeConfig(metrics={"errors": MetricConfig(), "latency": MetricConfig()}))
    for obs in (
        {"errors": None, "latency": None},
        {"errors": Counts(0, 0, 0, 0), "latency": Histogram(VLLM_E2E, [0.0] * 22, [0.0] * 22)},
        {"errors": Counts(5, 0, 1, 100), "latency": None},  # a challenger without requests
        {"errors": Counts(-3, 10, 1, 100), "latency": None},  # a counter reset
    ):
        for _ in range(30):
            verdict = judge.observe(obs)
            assert verdict.decision == "continue" and verdict.code == "InsufficientEvidence"
            assert "insufficient evidence" in verdict.reason
    final = judge.finalize()
    assert final.decision == "continue" and final.code == "InsufficientEvidence"


def test_sample_ratio_mismatch_is_flagged_against_the_configured_weight() -> None:
    rng = np.random.default_rng(12)
    judge = Judge(JudgeConfig(metrics={"errors": MetricConfig()}))
    verdict = None
    for _ in range(10):
        verdict = judge.observe({"errors": _errors(rng, 0.01, 0.01, 300, 700)}, expected_share=0.1)
    assert verdict is not None and verdict.sample_ratio_mismatch
    assert verdict.code == "SampleRatioMismatch" and "configured weight is 10.0%" in verdict.reason


def test_a_weight_ramp_passed_in_observe_is_no_mismatch() -> None:
    rng = np.random.default_rng(13)
    judge = Judge(JudgeConfig(metrics={"errors": MetricConfig()}))
    for weight in [0.05] * 30 + [0.1] * 30 + [0.25] * 30 + [0.5] * 30:
        n = int(rng.poisson(1000))
        nc = int(rng.binomial(n, weight))
        verdict = judge.observe(
            {"errors": _errors(rng, 0.01, 0.01, nc, n - nc)}, expected_share=weight
        )
        assert not verdict.sample_ratio_mismatch


def test_state_round_trips_through_json_so_a_restart_loses_nothing() -> None:
    rng = np.random.default_rng(2)
    cfg = JudgeConfig(metrics={"errors": MetricConfig(), "latency": MetricConfig()})
    a = Judge(cfg)
    b = Judge(cfg)
    baseline = {"latency": Histogram(VLLM_E2E, [], _latency(rng, 3000))}
    a.warm_up(baseline)
    b.warm_up(baseline)
    for _ in range(40):
        obs = {
            "errors": _errors(rng, 0.02, 0.01),
            "latency": Histogram(VLLM_E2E, _latency(rng, 100, 1.1), _latency(rng, 400)),
        }
        va = a.observe(obs, 0.2)
        b = Judge.from_dict(cfg, json.loads(json.dumps(b.to_dict())))
        vb = b.observe(obs, 0.2)
        assert (va.decision, va.reason) == (vb.decision, vb.reason)
        assert [e.to_dict() for e in va.evidence] == [e.to_dict() for e in vb.evidence]
    assert json.loads(json.dumps(a.to_dict())) == a.to_dict()
    assert len(json.dumps(a.to_dict())) < 4000  # four tests' grids and counts


def test_promotes_early_once_every_metric_is_shown_within_its_margin() -> None:
    rng = np.random.default_rng(14)
    judge = Judge(JudgeConfig(metrics={"errors": MetricConfig(margin=0.2)}))
    verdict = None
    for _ in range(300):
        verdict = judge.observe({"errors": _errors(rng, 0.05, 0.05, 2000, 8000)}, 0.2)
        if verdict.decision != "continue":
            break
    assert verdict is not None and verdict.decision == "promote"
    assert verdict.evidence[0].ratio_high is not None and verdict.evidence[0].ratio_high <= 1.2


def test_final_look_is_an_exact_binomial_test_on_pooled_counts() -> None:
    judge = Judge(
        JudgeConfig(alpha=0.05, metrics={"errors": MetricConfig(margin=0.0)}, promote_early=False)
    )
    for _ in range(30):
        judge.observe({"errors": Counts(2, 100, 4, 400)}, 0.2)  # ratio 2, small counts
    final = judge.finalize()
    expected = binomtest(60, 180, 0.2, alternative="greater").pvalue  # same share each time
    assert f"p={expected:.3g}" in final.evidence[0].detail
    assert final.decision == ("rollback" if expected < 0.05 * 0.25 else "promote")


def test_m_is_fixed_from_the_configuration() -> None:
    cfg = JudgeConfig(alpha=0.05, metrics={f"m{i}": MetricConfig() for i in range(4)})
    verdict = Judge(cfg).observe({"m0": Counts(1, 10, 1, 40)})
    assert verdict.evidence[0].threshold == pytest.approx(4 / (0.05 * 0.75))


def test_observe_costs_well_under_a_millisecond_for_ten_metrics() -> None:
    rng = np.random.default_rng(15)
    cfg = JudgeConfig(metrics={f"m{i}": MetricConfig() for i in range(10)})
    judge = Judge(cfg)
    batch = [{f"m{i}": _errors(rng, 0.02, 0.02) for i in range(10)} for _ in range(300)]
    judge.observe(batch[0], 0.2)
    # The best of five batches: what observe costs, not what other processes on the
    # machine cost it (measured 0.48 ms idle on the 2-core machine, 2026-12-01).
    per_call = math.inf
    for k in range(5):
        start = time.perf_counter()
        for obs in batch[k * 60 : (k + 1) * 60]:
            judge.observe(obs, 0.2)
        per_call = min(per_call, (time.perf_counter() - start) / 60)
    assert per_call < 0.001, per_call
