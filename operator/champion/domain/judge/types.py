"""The judge's inputs, configuration and verdicts (plain data, JSON-friendly)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Decision = Literal["continue", "promote", "rollback"]
Direction = Literal["higher-is-worse", "lower-is-worse"]


@dataclass(frozen=True)
class Counts:
    """Events out of a total, for one interval (deltas, not rates)."""

    challenger_events: float
    challenger_total: float
    champion_events: float
    champion_total: float


@dataclass(frozen=True)
class Histogram:
    """Per-bucket (non-cumulative) deltas for one interval; `edges` are upper bounds, +Inf last."""

    edges: list[float]
    challenger_counts: list[float]
    champion_counts: list[float]


Observation = Counts | Histogram | None


@dataclass(frozen=True)
class MetricConfig:
    direction: Direction = "higher-is-worse"
    margin: float = 0.1
    """Tolerated relative worsening: a rate ratio of 1 + margin (or 1 - margin) is still fine."""
    quantile: float = 0.9
    """For histograms: which champion quantile's bucket edge the exceedance test uses."""


@dataclass(frozen=True)
class JudgeConfig:
    alpha: float = 0.05
    """False-rollback budget over the whole rollout, shared by all metrics."""
    metrics: dict[str, MetricConfig] = field(default_factory=dict)
    final_look_share: float = 0.5
    """Share of alpha kept for the planned final look at the horizon."""
    promote_early: bool = True
    """Promote before the horizon once every metric is shown within its margin (at level alpha)."""
    min_events: int = 5
    """A metric with fewer pooled events than this is not yet evidence either way."""
    srm_alpha: float = 1e-4

    def metric(self, name: str) -> MetricConfig:
        return self.metrics.get(name, MetricConfig())


@dataclass
class Evidence:
    metric: str
    challenger_events: float
    challenger_total: float
    champion_events: float
    champion_total: float
    statistic: float
    """The e-value against "no worse than the margin" (large = evidence of regression)."""
    threshold: float
    safety: float = 0.0
    """The e-value against "worse than the margin" (large = evidence of safety)."""
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Verdict:
    decision: Decision
    reason: str
    message: str
    evidence: list[Evidence] = field(default_factory=list)
    sample_ratio_mismatch: bool = False
