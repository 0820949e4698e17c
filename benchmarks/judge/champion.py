"""Champion's judge over thousands of simulated rollouts at once.

`champion.domain.judge.Judge` decides one rollout per call; running it 100,000
times per cell would take hours. This runs the same decision rules with the
same functions (`eprocess.update`, `edges.plan`, `final.p_value`, …) on arrays
of runs. `tests/judge/test_benchmark_quick.py` checks that it decides exactly
like the `Judge` class on the same data, and `observations()` feeds the class
itself for that check and for the timing in the report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from benchmarks.judge.scenarios import INTERVAL, WORKLOADS
from benchmarks.judge.simulate import Data
from champion.domain.judge import (
    Counts,
    Histogram,
    Judge,
    JudgeConfig,
    MetricConfig,
    Observation,
    eprocess,
    means,
)
from champion.domain.judge import edges as edge_plan
from champion.domain.judge.final import p_value
from champion.domain.judge.judge import null_ratio


def judge_config(workload: str) -> JudgeConfig:
    """What a user would write: 10% margins on errors and latency, 2% on thumbs-up."""
    metrics = {"errors": MetricConfig(margin=0.1)}
    for h in WORKLOADS[workload].histograms:
        metrics[h.name] = MetricConfig(margin=0.1)
    if WORKLOADS[workload].feedback:
        metrics["thumbs_up"] = MetricConfig(direction="lower-is-worse", margin=0.02)
    return JudgeConfig(alpha=0.05, metrics=metrics)


def observations(data: Data, run: int, t: int) -> dict[str, Observation]:
    """One interval of one run, as the operator would hand it to the Judge."""
    c, b = data.challenger, data.champion
    out: dict[str, Observation] = {
        "errors": Counts(
            int(c.errors[run, t]),
            int(c.requests[run, t]),
            int(b.errors[run, t]),
            int(b.requests[run, t]),
        )
    }
    for name, edges in data.edges.items():
        out[name] = Histogram(
            edges,
            c.histograms[name][run, t].tolist(),
            b.histograms[name][run, t].tolist(),
            float(c.sums[name][run, t]) if c.sums else None,
            float(b.sums[name][run, t]) if b.sums else None,
        )
    if (
        c.ups is not None
        and c.feedback is not None
        and b.ups is not None
        and b.feedback is not None
    ):
        out["thumbs_up"] = Counts(
            int(c.ups[run, t]), int(c.feedback[run, t]), int(b.ups[run, t]), int(b.feedback[run, t])
        )
    return out


def warmup(data: Data, run: int) -> dict[str, Observation]:
    """The champion's history before the canary, as the operator hands it to `warm_up`."""
    out: dict[str, Observation] = {}
    for k, e in data.edges.items():
        requests, sums = data.baseline_windows[k]
        out[k] = Histogram(
            e,
            [],
            data.baseline[k][run].tolist(),
            None,
            float(data.baseline_sums[k][run]),
            list(zip(requests[run].tolist(), sums[run].tolist(), strict=True)),
        )
    return out


def run_judge_class(data: Data, run: int, config: JudgeConfig) -> tuple[float, str]:
    """(seconds to the rollback or inf, the decision that ended the run) for one run
    through the real class, scored exactly as the benchmark scores `run_champion`."""
    judge = Judge(config)
    judge.warm_up(warmup(data, run))
    for t in range(data.intervals):
        verdict = judge.observe(observations(data, run, t), float(data.expected_share[t]))
        if verdict.decision == "rollback":
            return (t + 1) * INTERVAL, "rollback"
        if verdict.decision == "promote":
            return math.inf, "promote"
    final = judge.finalize()
    return (data.intervals * INTERVAL if final.decision == "rollback" else math.inf), final.decision


@dataclass
class Test:
    group: str
    valid: np.ndarray  # (runs,) bool: this run has this test
    rho0: np.ndarray  # (runs,)
    higher: bool
    x: np.ndarray  # (runs, T) challenger events
    nc: np.ndarray
    y: np.ndarray
    nb: np.ndarray


@dataclass
class MeanTest:
    group: str
    z: np.ndarray
    """(runs, T): each interval's Z (means.z_scores), NaN where it has none."""


@dataclass
class Outcome:
    time: np.ndarray
    """Seconds into the canary of the rollback, inf when none."""
    promoted_early: np.ndarray
    tests: list[Test]


def plan_tests(data: Data, config: JudgeConfig) -> list[Test]:
    c, b = data.challenger, data.champion
    tests: list[Test] = []
    for name, cfg in config.metrics.items():
        higher = cfg.direction != "lower-is-worse"
        if name in data.edges:
            edges = data.edges[name]
            lm, rm = cfg.histogram_margins()
            plans = [
                edge_plan.plan(
                    edges, data.baseline[name][r].tolist(), cfg.quantiles, lm, rm, higher
                )
                for r in range(data.runs)
            ]
            cum_c = np.cumsum(c.histograms[name], axis=-1, dtype=np.float64)
            cum_b = np.cumsum(b.histograms[name], axis=-1, dtype=np.float64)
            nc, nb = cum_c[..., -1], cum_b[..., -1]
            for q in range(max((len(p) for p in plans), default=0)):
                valid = np.array([q < len(p) for p in plans])
                ce = np.array(
                    [edges.index(p[q].challenger_edge) if q < len(p) else 0 for p in plans]
                )
                be = np.array([edges.index(p[q].edge) if q < len(p) else 0 for p in plans])
                rho0 = np.array([p[q].null_ratio if q < len(p) else 1.0 for p in plans])
                at_c = np.take_along_axis(cum_c, ce[:, None, None], axis=-1)[..., 0]
                at_b = np.take_along_axis(cum_b, be[:, None, None], axis=-1)[..., 0]
                x = nc - at_c if higher else at_c
                y = nb - at_b if higher else at_b
                tests.append(Test(name, valid, rho0, True, x, nc, y, nb))
        else:
            rho, hi = null_ratio(cfg)
            if name == "errors":
                arrays = (c.errors, c.requests, b.errors, b.requests)
            else:
                assert c.ups is not None and c.feedback is not None
                assert b.ups is not None and b.feedback is not None
                arrays = (c.ups, c.feedback, b.ups, b.feedback)
            x, nc, y, nb = (a.astype(np.float64) for a in arrays)
            tests.append(
                Test(name, np.ones(data.runs, bool), np.full(data.runs, rho), hi, x, nc, y, nb)
            )
    return tests


def plan_mean_tests(data: Data, config: JudgeConfig) -> list[MeanTest]:
    """The `_sum` tests the Judge plans: histograms with a latency margin, when sums exist."""
    c, b = data.challenger, data.champion
    out: list[MeanTest] = []
    if not c.sums or not b.sums:
        return out
    for name, cfg in config.metrics.items():
        latency_margin, _ = cfg.histogram_margins() if name in data.edges else (0.0, 0.0)
        if not cfg.mean_test or cfg.direction == "lower-is-worse" or latency_margin <= 0:
            continue
        requests, sums = data.baseline_windows[name]
        z = means.block_z_scores(
            data.edges[name],
            c.histograms[name],
            c.sums[name],
            b.histograms[name],
            b.sums[name],
            1.0 + latency_margin,
            means.window_moments(requests, sums).sum(axis=1),
        )
        out.append(MeanTest(name, z))
    return out


def _group_log_mean(values: list[np.ndarray], valid: list[np.ndarray], runs: int) -> np.ndarray:
    """log of the mean e-value over each run's valid tests; -inf where a run has none."""
    if not values:
        return np.full(runs, -np.inf)
    v = np.stack(values)
    ok = np.stack(valid)
    masked = np.where(ok, v, -np.inf)
    top = masked.max(axis=0)
    safe_top = np.where(np.isfinite(top), top, 0.0)
    total = np.where(ok, np.exp(masked - safe_top), 0.0).sum(axis=0)
    count = ok.sum(axis=0)
    with np.errstate(divide="ignore"):
        return np.where(count > 0, safe_top + np.log(total / np.maximum(count, 1)), -np.inf)


def run_champion(data: Data, config: JudgeConfig) -> Outcome:
    """Every run's first rollback (or promotion), exactly as `Judge.observe`/`finalize` decide."""
    runs, horizon = data.runs, data.intervals
    tests = plan_tests(data, config)
    mean_tests = plan_mean_tests(data, config)
    sum_z = [np.zeros(runs) for _ in mean_tests]
    looks = [np.zeros(runs) for _ in mean_tests]
    groups = list(config.metrics)
    m = len(groups)
    log_threshold = math.log(m / config.alpha_sequential)
    log_srm = math.log(1.0 / config.srm_alpha)
    ll = [eprocess.fresh((runs,)) for _ in tests]
    fin = [np.zeros((runs, 3)) for _ in tests]
    srm_ll = eprocess.fresh((runs,))
    srm_flag = np.zeros(runs, bool)
    decided = np.zeros(runs, bool)
    time = np.full(runs, math.inf)
    promoted = np.zeros(runs, bool)
    per_group = {g: [k for k, t in enumerate(tests) if t.group == g] for g in groups}
    per_mean = {g: [k for k, t in enumerate(mean_tests) if t.group == g] for g in groups}
    q_count = {
        g: (np.sum([tests[k].valid for k in ks], axis=0) if ks else np.zeros(runs, int))
        + len(per_mean[g])
        for g, ks in per_group.items()
    }
    first_hist = next((g for g in groups if g in data.edges), None)
    for t in range(horizon):
        any_pending = np.zeros(runs, bool)
        worse: list[np.ndarray] = []
        better: list[np.ndarray] = []
        for k, test in enumerate(tests):
            x, nc, y, nb = test.x[:, t], test.nc[:, t], test.y[:, t], test.nb[:, t]
            pending = test.valid & (nc > 0) & (nb > 0)
            any_pending |= pending
            share = np.where(pending, nc / np.maximum(nc + nb, 1), 0.5)
            events = np.where(pending, x + y, 0.0)
            ll[k] = np.round(
                eprocess.update(ll[k], np.where(pending, x, 0.0), events, share, test.rho0), 6
            )
            null_p = eprocess.share_to_p(share, test.rho0)
            fin[k] += np.where(pending[:, None], np.stack([x, events, events * null_p], -1), 0.0)
            worse.append(eprocess.log_e_worse(ll[k], test.higher))
            better.append(eprocess.log_e_better(ll[k], test.higher))
        mean_worse: list[np.ndarray] = []
        mean_better: list[np.ndarray] = []
        for k, mt in enumerate(mean_tests):
            z = mt.z[:, t]
            ok = np.isfinite(z)
            sum_z[k] = sum_z[k] + np.where(ok, z, 0.0)
            looks[k] = looks[k] + ok
            ll_mean = means.loglik(sum_z[k], looks[k])
            mean_worse.append(eprocess.log_e_worse(ll_mean, True))
            mean_better.append(eprocess.log_e_better(ll_mean, True))
        every = np.ones(runs, bool)
        stat = {
            g: _group_log_mean(
                [worse[k] for k in ks] + [mean_worse[k] for k in per_mean[g]],
                [tests[k].valid for k in ks] + [every for _ in per_mean[g]],
                runs,
            )
            for g, ks in per_group.items()
        }
        rollback = ~decided & np.any([s >= log_threshold for s in stat.values()], axis=0)
        # The sample-ratio check, on the same split the Judge uses.
        share_t = float(data.expected_share[t])
        if first_hist is not None:
            h = (
                data.challenger.histograms[first_hist][:, t].sum(-1),
                data.champion.histograms[first_hist][:, t].sum(-1),
            )
        else:
            h = data.challenger.requests[:, t], data.champion.requests[:, t]
        if 0.0 < share_t < 1.0:
            nc, nb = h[0].astype(float), h[1].astype(float)
            srm_ll = eprocess.update(srm_ll, nc, nc + nb, share_t, 1.0)
        srm_flag |= eprocess.log_e_two_sided(srm_ll) >= log_srm
        within = np.ones(runs, bool)
        for g, ks in per_group.items():
            needed = np.log(m * np.maximum(q_count[g], 1) / config.alpha)
            has = q_count[g] > 0
            checks = [~tests[k].valid | (better[k] >= needed) for k in ks] + [
                mean_better[k] >= needed for k in per_mean[g]
            ]
            ok = np.all(checks, axis=0) if checks else has
            within &= has & ok
        promote = ~decided & ~rollback & ~srm_flag & any_pending & within & config.promote_early
        time[rollback] = (t + 1) * INTERVAL
        promoted |= promote
        decided |= rollback | promote
        if decided.all():
            break
    # The planned final look for runs still undecided at the horizon.
    open_runs = ~decided
    final_reject = np.zeros(runs, bool)
    for g, ks in per_group.items():
        level = config.alpha_final / m / np.maximum(q_count[g], 1)
        for k in ks:
            sx, sm, smp = fin[k][:, 0], fin[k][:, 1], fin[k][:, 2]
            p = p_value(
                sx, sm, np.where(sm > 0, smp / np.maximum(sm, 1e-300), 0.0), tests[k].higher
            )
            final_reject |= tests[k].valid & (sm > 0) & (p < level)
        for k in per_mean[g]:
            final_reject |= (looks[k] > 0) & (means.p_value(sum_z[k], looks[k]) < level)
    time[open_runs & final_reject] = horizon * INTERVAL
    return Outcome(time, promoted, tests)
