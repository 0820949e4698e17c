"""The mean-latency test on a histogram's `_sum`: its variance bound, its false rollbacks at
the null boundary under continuous monitoring, and what a user sees when it fires."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from benchmarks.judge.scenarios import PROMETHEUS_DEFAULT

from champion.domain.judge import (
    Histogram,
    Judge,
    JudgeConfig,
    MetricConfig,
    Verdict,
    eprocess,
    means,
)
from champion.domain.metrics_catalog import VLLM_E2E_BUCKETS, VLLM_TPOT_BUCKETS

TPOT = list(VLLM_TPOT_BUCKETS)
E2E = list(VLLM_E2E_BUCKETS)


def _buckets(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """Prometheus' `le` semantics: a value equal to an edge counts in that edge's bucket."""
    return np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)


def _tpot(rng: np.random.Generator, n: int, scale: float = 1.0) -> np.ndarray:
    return rng.lognormal(math.log(0.035), 0.25, n) * scale


def _e2e(rng: np.random.Generator, n: int, scale: float = 1.0) -> np.ndarray:
    tokens = np.clip(np.round(rng.lognormal(math.log(180), 0.9, n)), 1, 4096)
    return rng.lognormal(math.log(0.3), 0.6, n) + tokens * _tpot(rng, n, scale)


def _predictor(rng: np.random.Generator, n: int, scale: float = 1.0) -> np.ndarray:
    return rng.lognormal(math.log(0.2), 0.6, n) * scale


@pytest.mark.parametrize(
    "draw",
    [
        lambda rng, n: rng.lognormal(math.log(0.035), 0.25, n),
        lambda rng, n: rng.choice(np.array(TPOT), n),  # every value exactly on an edge
        lambda rng, n: rng.uniform(0.0, 1.0, n),
        lambda rng, n: np.concatenate([rng.normal(0.03, 0.001, n), rng.normal(0.4, 0.1, n)]),
    ],
)
def test_the_variance_bound_never_understates_the_spread(draw) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    checked = 0
    for _ in range(400):
        values = np.abs(draw(rng, int(rng.integers(1, 300))))
        bound = float(means.variance_bound(TPOT, _buckets(values, TPOT), values.sum()))
        if math.isnan(bound):
            continue  # requests beyond the last edge: no bound, no test
        assert bound >= values.var() * (1 - 1e-9) - 1e-15
        checked += 1
    assert checked > 300


def _interval(
    draw, rng: np.random.Generator, sizes: np.ndarray, edges: list[float], scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """One interval for every run at once: bucket counts (runs, buckets) and sums (runs,)."""
    values = draw(rng, int(sizes.sum()), scale)
    run = np.repeat(np.arange(len(sizes)), sizes)
    where = np.searchsorted(edges, values, side="left")
    counts = np.zeros((len(sizes), len(edges) + 1))
    np.add.at(counts, (run, where), 1.0)
    return counts, np.bincount(run, weights=values, minlength=len(sizes))


def _crossings(  # type: ignore[no-untyped-def]
    draw,
    edges: list[float],
    rps: float,
    scale: float,
    runs: int = 1000,
    challenger_draw=None,
    threshold: float = 20.0,
) -> np.ndarray:
    """Per run, the look (1–180) at which the mean test's e-value first reached `threshold`
    (20: alpha 0.05), 0 for never; the challenger `scale`× the champion at 20% of traffic,
    after 10 minutes of the champion's history read per interval (its spread estimated as
    the Judge does)."""
    rng = np.random.default_rng(7)
    warm = np.zeros((runs, 4))
    for _ in range(60):
        bc, sb = _interval(draw, rng, rng.poisson(rps * 40, runs), edges)
        warm += means.window_moments(bc.sum(-1), sb)
    chal = [
        _interval(challenger_draw or draw, rng, rng.poisson(rps * 10, runs), edges, scale)
        for _ in range(180)
    ]
    champ = [_interval(draw, rng, rng.poisson(rps * 40, runs), edges) for _ in range(180)]
    cc, sc = np.stack([c[0] for c in chal], 1), np.stack([c[1] for c in chal], 1)
    bc, sb = np.stack([b[0] for b in champ], 1), np.stack([b[1] for b in champ], 1)
    z = means.block_z_scores(edges, cc, sc, bc, sb, 1.1, warm)
    ok = np.isfinite(z)
    sum_z, looks = np.cumsum(np.where(ok, z, 0.0), 1), np.cumsum(ok, 1)
    crossed = eprocess.log_e_worse(means.loglik(sum_z, looks)) >= math.log(threshold)
    return np.where(crossed.any(1), crossed.argmax(1) + 1, 0)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("draw", "edges", "rps"),
    [
        (_tpot, TPOT, 1.0),
        (_predictor, PROMETHEUS_DEFAULT, 1.0),
        (_e2e, E2E, 1.0),
        (_tpot, TPOT, 10.0),
        (_predictor, PROMETHEUS_DEFAULT, 10.0),
        (_e2e, E2E, 10.0),
    ],
    ids=["tpot-1rps", "predictor-1rps", "e2e-1rps", "tpot-10rps", "predictor-10rps", "e2e-10rps"],
)
def test_a_challenger_exactly_at_the_margin_is_rarely_rolled_back(draw, edges, rps) -> None:  # type: ignore[no-untyped-def]
    """The test is approximate (CLT, and an estimated spread); at the null boundary, 10%
    slower with a 10% margin, looked at every interval for 30 minutes, it stays inside
    alpha = 0.05, close to what an exactly normal Z with a known variance gives (2.3%):
    1.7–3.6% at 1 request/s (blocks of three intervals) and 3.3–4.0% at 10 requests/s
    when this was written."""
    assert (_crossings(draw, edges, rps, 1.1) > 0).mean() <= 0.05
    # and the same machinery does catch a real slowdown, so the bound above is not vacuous
    assert (_crossings(draw, edges, rps, 1.6, runs=200) > 0).mean() >= 0.9


def _wide_tpot(rng: np.random.Generator, n: int, scale: float = 1.0) -> np.ndarray:
    """TPOT with the same mean as `_tpot` and 1.5× its relative spread."""
    sigma = 0.37
    return rng.lognormal(math.log(0.035) + (0.25**2 - sigma**2) / 2, sigma, n) * scale


@pytest.mark.slow
def test_what_assuming_the_champions_relative_spread_costs() -> None:
    """Until the challenger has intervals of its own, its spread is taken as the
    champion's, relative to its mean. A challenger exactly as slow as allowed *and* 50%
    more spread breaks that: alone at alpha 0.05 the mean test rolls it back in about 11%
    of runs (when this was written; docs/judge.md says so). In a judge with the LLM
    workload's four metrics the mean test needs an e-value of ≈430, not 20: about 2%."""
    alone = (_crossings(_tpot, TPOT, 10.0, 1.1, challenger_draw=_wide_tpot) > 0).mean()
    assert 0.05 < alone <= 0.15
    in_judge = _crossings(_tpot, TPOT, 10.0, 1.1, challenger_draw=_wide_tpot, threshold=427)
    assert (in_judge > 0).mean() <= 0.03


@pytest.mark.slow
def test_the_estimated_spread_makes_tpot_detection_several_times_faster() -> None:
    """TPOT 20% slower: at 10 requests/s the buckets' worst case needed about eight looks,
    the estimated spread two (80 s and 20 s median when this was written); at 1 request/s,
    pooling intervals into blocks of 30 requests, eighteen (it was 900 s, per interval
    with the worst case)."""
    first = _crossings(_tpot, TPOT, 10.0, 1.2, runs=300, threshold=427)
    assert (first > 0).all()
    assert np.median(first) <= 3
    slow = _crossings(_tpot, TPOT, 1.0, 1.2, runs=300, threshold=427)
    assert (slow > 0).mean() >= 0.95
    assert np.median(slow[slow > 0]) <= 30


def test_a_20_percent_slower_tpot_is_caught_where_the_edges_see_little() -> None:
    rng = np.random.default_rng(3)
    judge = Judge(JudgeConfig(metrics={"tpot": MetricConfig(margin=0.1)}))
    history = _tpot(rng, 20000)
    judge.warm_up(
        {"tpot": Histogram(TPOT, [], _buckets(history, TPOT).tolist(), None, float(history.sum()))}
    )
    for look in range(1, 60):  # noqa: B007 - read after the loop
        verdict = _tpot_look(judge, rng, 1.2)
        if verdict.decision == "rollback":
            break
    assert verdict.decision == "rollback" and look <= 15
    assert verdict.reason.startswith("tpot_mean: challenger's mean ")
    assert "ms vs champion's" in verdict.reason and "≤ 1.1 allowed" in verdict.reason
    mean = next(e for e in verdict.evidence if e.metric == "tpot_mean")
    assert mean.how == "mean" and mean.ratio == pytest.approx(1.2, abs=0.03)
    assert "_sum and _count" in mean.detail
    # history given as one total, no windows: the variance says it is the worst case
    assert "the buckets' worst case (an estimate needs 21 windows" in mean.detail


def test_without_sums_or_without_a_latency_margin_there_is_no_mean_test() -> None:
    rng = np.random.default_rng(4)
    history = _tpot(rng, 5000)
    counts = _buckets(history, TPOT).tolist()
    no_sums = Judge(JudgeConfig(metrics={"tpot": MetricConfig()}))
    no_sums.warm_up({"tpot": Histogram(TPOT, [], counts)})
    slow_share = Judge(JudgeConfig(metrics={"tpot": MetricConfig(margin=0.3, latency_margin=0.0)}))
    slow_share.warm_up({"tpot": Histogram(TPOT, [], counts, None, float(history.sum()))})
    for judge in (no_sums, slow_share):
        assert not [n for n in judge.state["metrics"]["tpot"]["tests"] if n.endswith("_mean")]


def test_the_judges_scalar_z_is_the_benchmarks_array_z() -> None:
    """The Judge computes one interval's Z in plain Python, the benchmark thousands at once
    with numpy: the same number (or both none), so the benchmark measures the Judge."""
    rng = np.random.default_rng(8)
    for _ in range(300):
        n_c, n_b = int(rng.integers(0, 40)), int(rng.integers(0, 160))
        c, b = _tpot(rng, n_c, float(rng.uniform(0.8, 1.5))), _tpot(rng, n_b)
        if rng.random() < 0.1:
            c = np.append(c, 200.0)  # a request beyond the last edge: no bound, no Z
        cc, bc = _buckets(c, TPOT), _buckets(b, TPOT)
        rel_c, rel_b = (None if rng.random() < 0.3 else float(rng.uniform(0.01, 0.2)) for _ in "cb")
        scalar = means.z_score(
            TPOT, cc.tolist(), float(c.sum()), bc.tolist(), float(b.sum()), 1.1, rel_c, rel_b
        )
        array = float(
            means.z_scores(
                TPOT,
                cc,
                c.sum(),
                bc,
                b.sum(),
                1.1,
                math.nan if rel_c is None else rel_c,
                math.nan if rel_b is None else rel_b,
            )
        )
        if scalar is None:
            assert math.isnan(array)
        else:
            assert scalar == pytest.approx(array, rel=1e-12, abs=1e-12)


def test_the_spread_of_interval_means_estimates_the_latencys_own_spread() -> None:
    """Σ n_i (m_i − m̄)² / (K − 1) estimates σ² whatever the shape: on lognormal TPOT
    (σ/μ = 0.254) read as 60 windows, the relative variance lands near 0.254², far below
    what the buckets' worst case allows."""
    rng = np.random.default_rng(11)
    estimates = []
    for _ in range(200):
        windows = means.no_windows()
        for _ in range(60):
            v = _tpot(rng, int(rng.poisson(400)))
            windows = means.add_window(windows, len(v), float(v.sum()))
        got = means.relative_variance(windows, means.no_windows())
        assert got is not None
        estimates.append(got)
    true = math.exp(0.25**2) - 1.0  # a lognormal's σ²/μ²
    assert np.mean(estimates) == pytest.approx(true, rel=0.05)
    history = _tpot(rng, 24000)
    counts = _buckets(history, TPOT)
    bound = float(means.variance_bound(TPOT, counts, history.sum())) / history.mean() ** 2
    assert bound > 3 * true


def test_too_few_windows_give_no_estimate_and_a_more_spread_version_keeps_its_own() -> None:
    few = means.no_windows()
    for k in range(20):  # 19 degrees of freedom
        few = means.add_window(few, 10.0, 1.0 + 0.01 * (k % 2))
    assert means.relative_variance(few, means.no_windows()) is None
    assert means.add_window(few, 0.0, 0.0) == few  # an empty window adds nothing
    assert means.add_window(few, 5.0, math.nan) == few
    calm = means.add_window(few, 10.0, 1.0)
    pooled = means.relative_variance(calm, means.no_windows())
    assert pooled is not None and pooled < 1e-3
    wild = means.no_windows()
    for k in range(6):  # 5 degrees of freedom of its own, far more spread than the pool
        wild = means.add_window(wild, 10.0, 1.0 + 0.5 * (k % 2))
    own = means.relative_variance(means.no_windows(), wild)
    assert own is None  # alone, too few
    assert means.relative_variance(calm, wild) == pytest.approx(means._relative_q(wild)[0] / 5.0)


def test_the_benchmarks_spread_paths_are_the_judges_running_estimates() -> None:
    rng = np.random.default_rng(12)
    runs, intervals = 4, 40
    requests = rng.poisson(30, (runs, intervals)).astype(float)
    requests[0, 3] = 0.0  # a silent interval adds no window
    sums = requests * 0.035 * rng.lognormal(0.0, 0.1, (runs, intervals))
    warm_rows = []
    for _ in range(runs):
        w = means.no_windows()
        for _ in range(int(rng.integers(0, 30))):
            w = means.add_window(w, 100.0, float(3.5 * rng.lognormal(0.0, 0.05)))
        warm_rows.append(w)
    paths = means.relative_variance_paths(np.array(warm_rows), requests, sums)
    for r in range(runs):
        own = means.no_windows()
        for t in range(intervals):
            expected = means.relative_variance(warm_rows[r], own)
            if expected is None:
                assert math.isnan(paths[r, t])
            else:
                assert paths[r, t] == pytest.approx(expected, rel=1e-9)
            own = means.add_window(own, requests[r, t], sums[r, t])


def _tpot_judge(rng: np.random.Generator, windows: bool) -> Judge:
    judge = Judge(JudgeConfig(metrics={"tpot": MetricConfig(margin=0.1)}))
    parts = [_tpot(rng, 400) for _ in range(60)]  # 10 minutes of history at 40 requests/s
    history = np.concatenate(parts)
    judge.warm_up(
        {
            "tpot": Histogram(
                TPOT,
                [],
                _buckets(history, TPOT).tolist(),
                None,
                float(history.sum()),
                [(len(p), float(p.sum())) for p in parts] if windows else (),
            )
        }
    )
    return judge


def _tpot_look(judge: Judge, rng: np.random.Generator, scale: float) -> Verdict:
    """One interval: 100 challenger requests `scale`× slower, 400 of the champion's."""
    c, b = _tpot(rng, 100, scale), _tpot(rng, 400)
    return judge.observe(
        {
            "tpot": Histogram(
                TPOT,
                _buckets(c, TPOT).tolist(),
                _buckets(b, TPOT).tolist(),
                float(c.sum()),
                float(b.sum()),
            )
        },
        expected_share=0.2,
    )


def test_history_read_per_interval_lets_the_judge_catch_tpot_in_a_few_looks() -> None:
    """With the champion's history per interval the spread is estimated and a 20% slower
    TPOT is rolled back within a few looks; with history as one total only, the buckets'
    worst case is used until the canary's own intervals give an estimate, and it takes
    longer. Runs as many rollouts of each and compares their median look."""
    looks: dict[bool, list[int]] = {True: [], False: []}
    for seed in range(15):
        for windows in (True, False):
            rng = np.random.default_rng(100 + seed)
            judge = _tpot_judge(rng, windows)
            look = next(
                k for k in range(1, 60) if _tpot_look(judge, rng, 1.2).decision == "rollback"
            )
            looks[windows].append(look)
    assert np.median(looks[True]) <= 3
    rng = np.random.default_rng(7)
    judge = _tpot_judge(rng, True)
    _tpot_look(judge, rng, 1.0)
    mean = next(e for e in judge.observe({}).evidence if e.metric == "tpot_mean")
    assert "an estimate from 60 history windows and 1 canary intervals (σ/μ 0.2" in mean.detail
    assert np.median(looks[False]) > np.median(looks[True])


def test_a_state_saved_before_spreads_were_estimated_keeps_its_evidence() -> None:
    """An operator upgraded mid-rollout reads a mean test without spread windows: it keeps
    its z so far and starts estimating, rather than starting over."""
    rng = np.random.default_rng(5)
    judge = _tpot_judge(rng, True)
    for _ in range(3):
        _tpot_look(judge, rng, 1.0)
    test = judge.state["metrics"]["tpot"]["tests"]["tpot_mean"]
    del test["sp"]
    z_before = list(test["z"])
    restored = Judge.from_dict(judge.config, json.loads(json.dumps(judge.to_dict())))
    assert _tpot_look(restored, rng, 1.0).decision != "rollback"
    after = restored.state["metrics"]["tpot"]["tests"]["tpot_mean"]
    assert after["z"][1] == z_before[1] + 1  # the old intervals were kept, one was added
    assert after["sp"][1][0] == 1.0  # and the challenger's first window is counted
