"""The judge: anytime-valid statistical canary analysis on counts (see docs/judge.md).

judge = Judge(JudgeConfig(alpha=0.05, metrics={"errors": MetricConfig(margin=0.1)}))
verdict = judge.observe({"errors": Counts(3, 120, 9, 1080)}, expected_share=0.1)
verdict.decision, verdict.reason, verdict.evidence
state = judge.to_dict()          # JSON types; Judge.from_dict(config, state) resumes
final = judge.finalize()         # the planned last look at the horizon
"""

from champion.domain.judge.judge import Judge
from champion.domain.judge.types import (
    Counts,
    Evidence,
    Histogram,
    JudgeConfig,
    MetricConfig,
    Observation,
    Verdict,
)

__all__ = [
    "Counts",
    "Evidence",
    "Histogram",
    "Judge",
    "JudgeConfig",
    "MetricConfig",
    "Observation",
    "Verdict",
]
