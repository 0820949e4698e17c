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

WARMUP_OBSERVATIONS = 200
GAP_WEIGHT = 4.0


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
    """Picks the edge pair with the most power: champion exceedance near 1 - quantile,
    and a challenger edge as close as the buckets allow to (1 + margin) times it.

    Prometheus' buckets are coarse: the first edge above the wanted quantile can
    be far in the tail, and the next edge up can be twice as far, which would
    hide a 50% slowdown. Every candidate with 1%-50% of the champion's requests
    above it is scored by how far it is from the wanted quantile and how much
    wider than the margin the challenger's edge has to be; the best one wins.
    """
    total = sum(champion_counts)
    if total < WARMUP_OBSERVATIONS:
        return None
    best: tuple[float, EdgeChoice] | None = None
    cumulative = 0.0
    wanted_exceedance = 1.0 - quantile
    for i, count in enumerate(champion_counts[:-1]):
        cumulative += count
        exceedance = 1.0 - cumulative / total
        if not 0.01 <= exceedance <= 0.5:
            continue
        target = edges[i] * (1.0 + margin)
        j = next((k for k in range(i, len(edges) - 1) if edges[k] >= target - 1e-12), None)
        if j is None:
            continue
        # A wide gap above (1 + margin)·b silently widens the margin, which costs far more power
        # than testing a quantile a little away from the one asked for.
        score = abs(math.log(exceedance / wanted_exceedance)) + GAP_WEIGHT * math.log(
            edges[j] / target
        )
        choice = EdgeChoice(i, j, 1.0 - exceedance)
        if best is None or score < best[0]:
            best = (score, choice)
    return best[1] if best else None


def exceedances(h: Histogram, choice: EdgeChoice) -> Counts:
    return Counts(
        challenger_events=sum(h.challenger_counts[choice.challenger_index + 1 :]),
        challenger_total=sum(h.challenger_counts),
        champion_events=sum(h.champion_counts[choice.champion_index + 1 :]),
        champion_total=sum(h.champion_counts),
    )


def is_finite_edges(edges: list[float]) -> bool:
    return all(math.isfinite(e) for e in edges[:-1])
