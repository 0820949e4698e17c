"""Pure: per-case results -> suite score, slices, thresholds, and the paired comparison."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from scipy.stats import binomtest

from champion.api.v1alpha1.evalsuite import Thresholds

ANSWER_CHARS = 500
"""A failing case's answer and reference are kept to this many characters in a result."""
DETAILED_FAILURES = 100
"""At most this many failing cases carry their answer and reference (a result ConfigMap must
stay well under 1 MiB); the rest are counted in `failures_without_detail`."""


def clip(text: str, limit: int = ANSWER_CHARS) -> str:
    """`text`, or its first `limit` characters and how many were left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def reference_text(reference: Any) -> str:
    return reference if isinstance(reference, str) else json.dumps(reference)


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
    reference: Any = None


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
        "cases": _case_entries(cases),
        "failing_cases": [c.id for c in cases if not c.passed],
    }
    undetailed = sum(1 for c in cases if not c.passed) - DETAILED_FAILURES
    if undetailed > 0:
        out["failures_without_detail"] = undetailed
    if comparison is not None:
        out["comparison"] = asdict(comparison)
    return out


def _case_entries(cases: list[CaseResult]) -> list[dict[str, Any]]:
    """One entry per case; the first DETAILED_FAILURES failing ones also say what the model
    answered and what was expected, each clipped to ANSWER_CHARS."""
    entries: list[dict[str, Any]] = []
    detailed = 0
    for c in cases:
        entry = {k: v for k, v in asdict(c).items() if k not in ("answer", "reference")}
        if not c.passed and detailed < DETAILED_FAILURES:
            detailed += 1
            if c.answer is not None:
                entry["answer"] = clip(c.answer)
            if c.reference is not None:
                entry["reference"] = clip(reference_text(c.reference))
        entries.append(entry)
    return entries


GATE_CASES = 5
"""A Rollout's eval-gate evidence shows at most this many failing cases (the rest are counted)."""
GATE_CHARS = 80
"""…and each answer, reference and case id there to this many characters."""
GATE_MESSAGE_CHARS = 1400
"""The whole evidence of one suite, reasons included, is kept to this many characters."""


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _quoted(value: Any, limit: int = GATE_CHARS) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return json.dumps(_short(text, limit), ensure_ascii=False)  # one line, quotes escaped


def failing_evidence(result: dict[str, Any]) -> str:
    """From a run's result (as `report` writes it): what the first failing cases answered and
    what was expected, bounded for a Rollout's status, e.g.
    `add-1 answered "6" (expected "5"); add-2 failed: timeout after 10s (expected "9"); and 7
    more failing cases`. Empty when the result carries no answers (an older runner's)."""
    entries = [c for c in result.get("cases") or [] if isinstance(c, dict)]
    failing = [c for c in entries if c.get("passed") is False]
    detailed = [c for c in failing if "answer" in c or "reference" in c or c.get("error")]
    if not detailed:
        return ""
    parts: list[str] = []
    for c in detailed[:GATE_CASES]:
        case_id = _short(str(c.get("id", "?")), GATE_CHARS)
        expected = f" (expected {_quoted(c['reference'])})" if "reference" in c else ""
        if "answer" in c:
            parts.append(f"{case_id} answered {_quoted(c['answer'])}{expected}")
        else:
            error = _short(str(c.get("error") or "no answer"), GATE_CHARS)
            parts.append(f"{case_id} failed: {error}{expected}")
    total = max(len(result.get("failing_cases") or []), len(failing))
    if total > len(parts):
        parts.append(f"and {total - len(parts)} more failing cases")
    return "; ".join(parts)


def gate_message(result: dict[str, Any]) -> str:
    """One suite's line of eval-gate evidence: its reasons, then the failing answers."""
    text = "; ".join(str(r) for r in result.get("reasons") or []) or (
        "passed" if result.get("passed") else "failed"
    )
    if not result.get("passed"):
        evidence = failing_evidence(result)
        text = f"{text}; {evidence}" if evidence else text
    return _short(text, GATE_MESSAGE_CHARS)
