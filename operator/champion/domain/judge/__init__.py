"""The judge: anytime-valid statistical canary analysis on counts (see docs/judge.md)."""

from champion.domain.judge.judge import Judge
from champion.domain.judge.types import (
    Counts,
    Evidence,
    Histogram,
    JudgeConfig,
    MetricConfig,
    Verdict,
)

__all__ = ["Counts", "Evidence", "Histogram", "Judge", "JudgeConfig", "MetricConfig", "Verdict"]
