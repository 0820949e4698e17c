"""Pure: per-case results -> suite score, slices, thresholds, and the paired comparison."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from scipy.stats import binomtest

from champion.api.v1alpha1.evalsuite import Thresholds


@dataclass
class CaseResult:
    id: str
    tags: list[str]
    passed: bool
    score: float
    scores: dict[str, float] = field(default_factory=dict)
    latency_seconds: float | None = None
    error: str | None = None
    answer: str | None = None


@dataclass
class Comparison:
    wins: int
    losses: int
    ties: int
    win_rate: float
    p_value: float
    score_delta: float
    slice_deltas: dict[str, float]
    regressed: bool
    message: str


def slices(cases: list[CaseResult]) -> dict[str, float]:
    by: dict[str, list[float]] = {}
    for c in cases:
        for t in c.tags or ["untagged"]:
            by.setdefault(t, []).append(c.score)
    return {k: sum(v) / len(v) for k, v in sorted(by.items())}


def suite_score(cases: list[CaseResult]) -> float:
    return sum(c.score for c in cases) / len(cases) if cases else 0.0


def compare(
    challenger: list[CaseResult], champion: list[CaseResult], max_regression: float | None
) -> Comparison:
    """Paired on case id: an exact sign test (McNemar) on the cases where the two disagree."""
    base = {c.id: c for c in champion}
    wins = losses = ties = 0
    for c in challenger:
        b = base.get(c.id)
        if b is None:
            continue
        if c.score > b.score:
            wins += 1
        elif c.score < b.score:
            losses += 1
        else:
            ties += 1
    discordant = wins + losses
    p_value = (
        binomtest(losses, discordant, 0.5, alternative="greater").pvalue if discordant else 1.0
    )
    delta = suite_score(challenger) - suite_score(champion)
    s_c, s_b = slices(challenger), slices(champion)
    slice_deltas = {k: s_c[k] - s_b.get(k, 0.0) for k in s_c}
    regressed = bool(max_regression is not None and delta < -max_regression and p_value < 0.05)
    message = (
        f"challenger {delta:+.1%} vs champion ({wins} wins, {losses} losses, {ties} ties; "
        f"sign test p={p_value:.3g})"
    )
    return Comparison(
        wins,
        losses,
        ties,
        wins / discordant if discordant else 0.5,
        p_value,
        delta,
        slice_deltas,
        regressed,
        message,
    )


def verdict(
    cases: list[CaseResult], thresholds: Thresholds, comparison: Comparison | None
) -> tuple[bool, list[str]]:
    reasons: list[str] = []
    total = suite_score(cases)
    if total < thresholds.min_score:
        reasons.append(f"score {total:.3f} < minScore {thresholds.min_score}")
    if thresholds.min_slice_score is not None:
        for name, value in slices(cases).items():
            if value < thresholds.min_slice_score:
                reasons.append(
                    f"slice {name} {value:.3f} < minSliceScore {thresholds.min_slice_score}"
                )
    if comparison is not None and comparison.regressed:
        reasons.append(
            f"worse than the champion by more than {thresholds.max_regression_vs_champion}: {comparison.message}"
        )
    return not reasons, reasons


def report(
    cases: list[CaseResult], thresholds: Thresholds, comparison: Comparison | None
) -> dict[str, Any]:
    passed, reasons = verdict(cases, thresholds, comparison)
    out: dict[str, Any] = {
        "passed": passed,
        "score": round(suite_score(cases), 6),
        "reasons": reasons,
        "slices": {k: round(v, 6) for k, v in slices(cases).items()},
        "errors": sum(1 for c in cases if c.error),
        "cases": [{k: v for k, v in asdict(c).items() if k != "answer"} for c in cases],
        "failing_cases": [c.id for c in cases if not c.passed],
    }
    if comparison is not None:
        out["comparison"] = asdict(comparison)
    return out
