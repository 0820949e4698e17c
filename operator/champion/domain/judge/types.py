"""The judge's inputs, configuration and verdicts: plain data that converts to JSON types."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Decision = Literal["continue", "promote", "rollback"]
Direction = Literal["higher-is-worse", "lower-is-worse"]


@dataclass(frozen=True)
class Counts:
    """One interval's events out of a total for each version: counter deltas, not rates.

    `*_total` is whatever the events are counted in: requests for errors,
    feedback given for thumbs-up, and so on. The challenger's share of the
    totals in the interval is what the test conditions on.
    """

    challenger_events: float
    challenger_total: float
    champion_events: float
    champion_total: float


@dataclass(frozen=True)
class Histogram:
    """One interval's per-bucket deltas (not cumulative) for each version.

    `edges` are the buckets' upper bounds (Prometheus `le`), ascending; the
    counts have one more entry than the finite edges: the +Inf bucket comes
    last. A trailing `inf` in `edges` is accepted and ignored.
    """

    edges: Sequence[float]
    challenger_counts: Sequence[float]
    champion_counts: Sequence[float]
    challenger_sum: float | None = None
    champion_sum: float | None = None
    """The interval's delta of each version's `_sum` (seconds): with the counts, the mean.
    None when not read; the mean-latency test then has no data."""
    champion_windows: Sequence[tuple[float, float]] = ()
    """`Judge.warm_up` only: the champion's (requests, `_sum`) in each analysis interval of
    the history, from which the mean test estimates the latency's spread (means.py)."""

    def finite_edges(self) -> list[float]:
        return [float(e) for e in self.edges if math.isfinite(e)]


Observation = Counts | Histogram | None


@dataclass(frozen=True)
class MetricConfig:
    direction: Direction = "higher-is-worse"
    margin: float = 0.1
    """Tolerated relative change of the event rate: the challenger's rate may be up to
    (1 + margin)× the champion's (higher-is-worse) or down to (1 − margin)× (lower-is-worse).
    For histograms it applies to the share of requests beyond the edge, on top of
    `latency_margin`."""
    latency_margin: float | None = None
    """Histograms only: the challenger may be this much slower (0.1 = 10%): its share of
    requests above γ·b (γ = 1 + latency_margin) is compared with the champion's above b.
    None (the default) means the same value as `margin`; then `margin` itself is not
    applied again to the exceedance rates."""
    quantiles: tuple[float, ...] = (0.5, 0.9, 0.99)
    """Histograms only: the champion quantiles whose nearest bucket edges are tested."""
    unit: str = "s"
    """Histograms only: the unit of the edges, for messages."""
    mean_test: bool = True
    """Histograms with a latency margin only: also test the mean (from `_sum`) against
    "at most γ times the champion's" (see means.py), when the histograms carry sums."""

    def histogram_margins(self) -> tuple[float, float]:
        """(latency margin, exceedance-rate margin) for a histogram metric."""
        if self.latency_margin is None:
            return self.margin, 0.0
        return self.latency_margin, self.margin


@dataclass(frozen=True)
class JudgeConfig:
    alpha: float = 0.05
    """False-rollback budget over the whole rollout, shared by all metrics and looks."""
    metrics: dict[str, MetricConfig] = field(default_factory=dict)
    """The metrics, by the names used in `observe`. M = how many there are; M is fixed
    from this list (or, if empty, from the first observation) so that looking at a
    metric late cannot raise the false-rollback rate."""
    final_look_share: float = 0.25
    """Share of alpha kept for the planned final look at the horizon (`finalize`)."""
    promote_early: bool = True
    """Promote before the horizon once every metric is shown to be within its margin."""
    warmup_requests: int = 200
    """Champion requests a histogram needs (from `warm_up` or the first intervals)
    before its edges are chosen."""
    srm_alpha: float = 0.001
    """Level of the anytime-valid sample-ratio-mismatch test."""

    def metric(self, name: str) -> MetricConfig:
        return self.metrics.get(name, MetricConfig())

    @property
    def alpha_sequential(self) -> float:
        return self.alpha * (1.0 - self.final_look_share)

    @property
    def alpha_final(self) -> float:
        return self.alpha * self.final_look_share


@dataclass
class Evidence:
    """What one test saw and concluded, cumulative since it started."""

    metric: str
    """The test: the metric's name, or `<histogram>_p90` for a histogram's edge tests."""
    challenger_events: float
    challenger_total: float
    champion_events: float
    champion_total: float
    statistic: float
    """The e-value compared with `threshold`: the test's own for counts, the mean over the
    histogram's edge tests for an edge (large = evidence of a regression)."""
    threshold: float
    """M / alpha_sequential."""
    e_value: float = 1.0
    """This test's own e-value against "no worse than the margin"."""
    log_e_value: float = 0.0
    safety: float = 1.0
    """The e-value against "worse than the margin" (large = shown within the margin)."""
    null_ratio: float = 1.0
    """The largest (higher-is-worse) or smallest (lower-is-worse) rate ratio still accepted."""
    ratio: float | None = None
    """Observed ratio of the challenger's event rate to the champion's."""
    ratio_low: float | None = None
    ratio_high: float | None = None
    """Anytime-valid bounds on the ratio at grid resolution: the bad side at the rollback
    threshold, the good side at the promote one (None: beyond the grid or not yet known)."""
    group: str = ""
    """The configured metric this test belongs to."""
    edge: float | None = None
    challenger_edge: float | None = None
    wanted_quantile: float | None = None
    real_quantile: float | None = None
    """For histograms: the edges compared and which champion quantile the edge really is."""
    status: str = "testing"
    """testing | warming-up | no-data | untestable"""
    how: str = ""
    """For histograms: pair | interpolated-log | interpolated | hazard | next-edge | same-edge
    (see edges.py), or mean (the `_sum` test, means.py)."""
    unit: str = "s"
    higher_is_worse: bool = True
    note: str = ""
    """What happened to this metric in the interval (no data, warming up, final test…)."""
    spread: tuple[Sequence[float], Sequence[float]] | None = None
    """Mean tests: the history's and the challenger's windows its variance is estimated
    from (described when `detail` is read: means.describe_spread)."""

    @property
    def detail(self) -> str:
        """Everything above in one line for status and events (built only when read)."""
        from champion.domain.judge import explain  # the formatting lives with the sentences

        return explain.detail(self)

    def to_dict(self) -> dict[str, Any]:
        out = {k: _json_float(v) for k, v in asdict(self).items() if k != "spread"}
        out["detail"] = self.detail
        return out


@dataclass
class Verdict:
    decision: Decision
    reason: str
    """One sentence a human can read in `kubectl describe`."""
    evidence: list[Evidence] = field(default_factory=list)
    code: str = ""
    """CamelCase reason for conditions and events (champion.api.v1alpha1.reasons)."""
    sample_ratio_mismatch: bool = False

    @property
    def message(self) -> str:
        """The human-readable reason (older name)."""
        return self.reason

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "reason": self.reason,
            "code": self.code,
            "sampleRatioMismatch": self.sample_ratio_mismatch,
            "evidence": [e.to_dict() for e in self.evidence],
        }


def _json_float(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return 1e300 if v > 0 else -1e300
    return v
