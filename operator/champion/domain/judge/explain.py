"""Sentences for `kubectl describe`: what was compared, what was seen, against what."""

from __future__ import annotations

from champion.domain.judge import means
from champion.domain.judge.edges import describe
from champion.domain.judge.types import Evidence


def num(v: float) -> str:
    if v >= 1e6:
        return f"{v:.1e}"
    if v >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"


def rates(ev: Evidence) -> tuple[float, float]:
    rc = ev.challenger_events / ev.challenger_total if ev.challenger_total else 0.0
    rb = ev.champion_events / ev.champion_total if ev.champion_total else 0.0
    return rc, rb


def interval(ev: Evidence) -> str:
    if ev.ratio_low is None and ev.ratio_high is None:
        return ""
    low = "…" if ev.ratio_low is None else f"{ev.ratio_low:.3g}"
    high = "…" if ev.ratio_high is None else f"{ev.ratio_high:.3g}"
    return f" [{low}–{high}]"


def seen(ev: Evidence, unit: str = "s") -> str:
    """What the test compares, in words: '<metric>: challenger … vs … for champion (ratio …)'."""
    rc, rb = rates(ev)
    ratio = "n/a" if ev.ratio is None else f"{ev.ratio:.3g}"
    higher = ev.null_ratio >= 1.0
    allowed = f"{'≤' if higher else '≥'} {ev.null_ratio:.3g} allowed"
    if ev.how == "mean":
        scale, unit_ = (1000.0, "ms") if unit == "s" and max(rc, rb) < 1 else (1.0, unit)
        return (
            f"{ev.metric}: challenger's mean {rc * scale:.3g} {unit_} vs champion's "
            f"{rb * scale:.3g} {unit_} (ratio {ratio}, {allowed}"
        )
    if ev.edge is not None and ev.challenger_edge is not None:
        side = "exceeds" if higher else "is at or below"
        champion_edge = (
            ""
            if ev.edge == ev.challenger_edge
            else f" {'above' if higher else 'at or below'} {ev.edge:g}{unit}"
        )
        return (
            f"{ev.metric}: challenger {side} {ev.challenger_edge:g}{unit} in {rc:.1%} of requests "
            f"vs {rb:.1%} for champion{champion_edge} (ratio {ratio}{interval(ev)}, {allowed}"
        )
    return (
        f"{ev.metric}: challenger {rc:.2%} ({num(ev.challenger_events)}/{num(ev.challenger_total)}) "
        f"vs champion {rb:.2%} ({num(ev.champion_events)}/{num(ev.champion_total)}) "
        f"(ratio {ratio}{interval(ev)}, {allowed}"
    )


def regression(ev: Evidence, m: int) -> str:
    mean = " (mean over the histogram's tests)" if ev.statistic != ev.e_value else ""
    return (
        f"{seen(ev)}; e-value {num(ev.statistic)}{mean} ≥ {num(ev.threshold)} = M/alpha "
        f"with M={m} and the final look's share of alpha kept back)"
    )


def detail(ev: Evidence) -> str:
    if ev.status != "testing":
        return ev.note or ev.status
    ratio = "n/a" if ev.ratio is None else f"{ev.ratio:.3g}"
    parts = [
        f"e-value {num(ev.e_value)} (log {ev.log_e_value:.2f}), threshold {num(ev.threshold)}; "
        f"ratio {ratio}{interval(ev) or ''}, allowed {ev.null_ratio:.3g}"
    ]
    if ev.edge is not None and ev.challenger_edge is not None:
        parts.append(
            describe(
                ev.edge,
                ev.challenger_edge,
                ev.real_quantile or 0.0,
                ev.wanted_quantile or 0.0,
                ev.null_ratio,
                ev.how,
                ev.unit,
                ev.higher_is_worse,
            )
        )
    if ev.how == "mean":
        parts.append(
            "mean latency from the histogram's _sum and _count, one approximate (CLT) z-test "
            "per interval; the challenger's variance: "
            + means.describe_spread(*(ev.spread or (means.no_windows(), means.no_windows())))
        )
    if ev.note:
        parts.append(ev.note)
    return "; ".join(parts)
