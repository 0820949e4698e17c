"""The methods compared. Each sees the same intervals and returns the second it rolls back, or None."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.stats import mannwhitneyu, norm

from benchmarks.judge.simulate import EDGES, Interval
from champion.domain.judge import Counts, Histogram, Judge, JudgeConfig, MetricConfig

Method = Callable[[list[Interval], int], int | None]


def _quantile(hist: list[float], q: float) -> float:
    total = sum(hist)
    if total == 0:
        return 0.0
    acc = 0.0
    for edge, count in zip(EDGES, hist, strict=True):
        acc += count
        if acc / total >= q:
            return edge if math.isfinite(edge) else EDGES[-2] * 2
    return EDGES[-2]


def champion(alpha: float = 0.05) -> Method:
    def run(data: list[Interval], interval: int) -> int | None:
        judge = Judge(
            JudgeConfig(
                alpha=alpha,
                metrics={
                    "errors": MetricConfig(margin=0.2),
                    "latency": MetricConfig(margin=0.1, quantile=0.9),
                },
                promote_early=False,
            )
        )
        for i, iv in enumerate(data):
            v = judge.observe(
                {
                    "errors": Counts(iv.c_err, iv.c_n, iv.b_err, iv.b_n),
                    "latency": Histogram(EDGES, iv.c_hist, iv.b_hist),
                }
            )
            if v.decision == "rollback":
                return (i + 1) * interval
        return len(data) * interval if judge.finalize().decision == "rollback" else None

    return run


def _windows(data: list[Interval], interval: int, window: int = 60) -> list[list[Interval]]:
    per = max(1, window // interval)
    return [data[i : i + per] for i in range(0, len(data), per)]


def flagger(threshold: int, max_error: float = 0.02, max_p99: float = 2.5) -> Method:
    """Canary-only checks per 1 m window against constants; roll back after `threshold` failed checks."""

    def run(data: list[Interval], interval: int) -> int | None:
        failed = 0
        for w_i, win in enumerate(_windows(data, interval)):
            n = sum(iv.c_n for iv in win)
            if n == 0:
                continue  # Flagger skips the check when the query returns no data
            err = sum(iv.c_err for iv in win) / n
            hist = np.sum([iv.c_hist for iv in win], axis=0).tolist()
            if err > max_error or _quantile(hist, 0.99) > max_p99:
                failed += 1
                if failed >= threshold:
                    return (w_i + 1) * 60
        return None

    return run


def argo(failure_limit: int = 3, max_error: float = 0.02, max_p90: float = 2.0) -> Method:
    """One measurement per interval, a condition per measurement, fail when failures exceed the limit."""

    def run(data: list[Interval], interval: int) -> int | None:
        failures = 0
        for i, iv in enumerate(data):
            if iv.c_n == 0:
                continue
            if iv.c_err / iv.c_n > max_error or _quantile(iv.c_hist, 0.9) > max_p90:
                failures += 1
                if failures > failure_limit:
                    return (i + 1) * interval
        return None

    return run


def kayenta(confidence: float = 0.98) -> Method:
    """Mann-Whitney on per-minute series of canary vs baseline; fail when the score < 75 (marginal)."""

    def run(data: list[Interval], interval: int) -> int | None:
        wins = _windows(data, interval)
        series_c_err, series_b_err, series_c_lat, series_b_lat = [], [], [], []
        for w_i, win in enumerate(wins):
            cn, bn = sum(iv.c_n for iv in win), sum(iv.b_n for iv in win)
            if cn and bn:
                series_c_err.append(sum(iv.c_err for iv in win) / cn)
                series_b_err.append(sum(iv.b_err for iv in win) / bn)
                series_c_lat.append(
                    _quantile(np.sum([iv.c_hist for iv in win], axis=0).tolist(), 0.9)
                )
                series_b_lat.append(
                    _quantile(np.sum([iv.b_hist for iv in win], axis=0).tolist(), 0.9)
                )
            if (
                len(series_c_err) >= 5
            ):  # Kayenta wants many points; judged once per window from 5 on
                passing = 0
                for c, b in ((series_c_err, series_b_err), (series_c_lat, series_b_lat)):
                    p = mannwhitneyu(c, b, alternative="greater").pvalue
                    passing += p >= 1 - confidence
                if passing / 2 * 100 < 75:
                    return (w_i + 1) * 60
        return None

    return run


def naive_z(alpha: float = 0.05) -> Method:
    """A two-proportion z-test on cumulative errors, repeated at every interval (no correction)."""

    def run(data: list[Interval], interval: int) -> int | None:
        ce = cn = be = bn = 0
        for i, iv in enumerate(data):
            ce, cn, be, bn = ce + iv.c_err, cn + iv.c_n, be + iv.b_err, bn + iv.b_n
            if cn and bn and ce + be:
                p = (ce + be) / (cn + bn)
                se = math.sqrt(p * (1 - p) * (1 / cn + 1 / bn))
                if se > 0 and (ce / cn - be / bn) / se > norm.ppf(1 - alpha):
                    return (i + 1) * interval
        return None

    return run


def fixed_horizon(alpha: float = 0.05) -> Method:
    """The same z-test, looked at once at the end of the horizon."""

    def run(data: list[Interval], interval: int) -> int | None:
        ce = sum(iv.c_err for iv in data)
        cn = sum(iv.c_n for iv in data)
        be = sum(iv.b_err for iv in data)
        bn = sum(iv.b_n for iv in data)
        if not (cn and bn and ce + be):
            return None
        p = (ce + be) / (cn + bn)
        se = math.sqrt(p * (1 - p) * (1 / cn + 1 / bn))
        return (
            len(data) * interval
            if se > 0 and (ce / cn - be / bn) / se > norm.ppf(1 - alpha)
            else None
        )

    return run


METHODS: dict[str, Method] = {
    "Champion judge": champion(),
    "Flagger (threshold 1)": flagger(1),
    "Flagger (threshold 5)": flagger(5),
    "Argo (failureLimit 3)": argo(3),
    "Kayenta-style MW": kayenta(),
    "naive repeated z": naive_z(),
    "fixed-horizon z": fixed_horizon(),
}
