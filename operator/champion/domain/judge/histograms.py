"""Latency histograms as exceedance counts above a bucket edge near a champion quantile.

Prometheus histograms only tell how many requests fell at or below each edge,
so the judge tests "share of requests slower than edge b". The edge is chosen
from the champion's own distribution (warm-up), and the challenger is compared
above the first edge at least (1 + margin)·b, so a latency margin costs no
extra assumption. Coarse buckets make the chosen edge a different quantile
than asked for; the evidence says which quantile it really is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from champion.domain.judge.types import Counts, Histogram

WARMUP_OBSERVATIONS = 50


@dataclass(frozen=True)
class EdgeChoice:
    champion_index: int
    challenger_index: int
    real_quantile: float

    def describe(self, edges: list[float], wanted: float) -> str:
        b = edges[self.champion_index]
        c = edges[self.challenger_index]
        return (
            f"edge {b:g}s is the champion's p{self.real_quantile * 100:.0f} (wanted p{wanted * 100:.0f}); "
            f"challenger compared above {c:g}s"
        )


def choose_edges(
    edges: list[float], champion_counts: list[float], quantile: float, margin: float
) -> EdgeChoice | None:
    total = sum(champion_counts)
    if total < WARMUP_OBSERVATIONS:
        return None
    cumulative = 0.0
    for i, count in enumerate(champion_counts[:-1]):
        cumulative += count
        fraction = cumulative / total
        if fraction >= quantile and fraction < 1.0:
            target = edges[i] * (1.0 + margin)
            for j in range(i, len(edges) - 1):
                if edges[j] >= target - 1e-12:
                    return EdgeChoice(i, j, fraction)
            return None
    return None


def exceedances(h: Histogram, choice: EdgeChoice) -> Counts:
    return Counts(
        challenger_events=sum(h.challenger_counts[choice.challenger_index + 1 :]),
        challenger_total=sum(h.challenger_counts),
        champion_events=sum(h.champion_counts[choice.champion_index + 1 :]),
        champion_total=sum(h.champion_counts),
    )


def is_finite_edges(edges: list[float]) -> bool:
    return all(math.isfinite(e) for e in edges[:-1])
