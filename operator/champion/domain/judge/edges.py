"""Latency histograms as counts: requests beyond a bucket edge near a champion quantile.

A Prometheus histogram only says how many requests were at or below each edge,
so the judge tests "the share of requests slower than edge b". The edges are
chosen once, from the champion's own distribution in a warm-up window (the
minutes before the canary, or its first intervals), never from data the test
then uses.

A latency margin γ = 1 + latency_margin ("the challenger may be 10% slower")
means: the challenger's share above γ·b may be as large as the champion's above
b. The buckets rarely have an edge at γ·b, so one of three things is done, and
the evidence says which:

- `pair`: an edge within 2% above γ·b exists: the challenger is compared above
  it with the champion above b, null ratio 1. Exact, no assumption.
- `interpolated-log` / `interpolated`: the challenger and champion are
  compared above the same edge b, and the challenger's share may be up to κ
  times the champion's, where κ is the champion's share above b/γ over its
  share above b. The share above b/γ is interpolated inside its bucket,
  linearly in log-latency, or linearly in latency (what `histogram_quantile`
  does). Either over-estimates it — so the test is conservative — wherever the
  density of log-latency (resp. of latency) falls across that bucket: true in
  the right tail of any unimodal distribution, and checked against the
  neighbouring buckets of the warm-up histogram. κ uses a one-sided 95%
  Clopper-Pearson bound, so warm-up noise does not make it strict.
- `hazard`: the same edge b and a κ bounded from the tail above b instead:
  where the hazard of log-latency does not fall between b/γ and the next edge
  (log-normal, Weibull, gamma, log-logistic; a Pareto tail is the boundary),
  S(b/γ)/S(b) ≤ γ^H with H the mean hazard over the bucket above b. This is
  much tighter than the chord when the bucket below b is wide (Prometheus'
  default 0.1–0.25–0.5 s); the warm-up's buckets are checked to have rising
  mean hazards, and the tightest bound whose assumption holds is used.
  Neither bound survives a second mode inside the bucket below b (the
  assumptions above rule it out); `tests/judge` checks both against exact
  distributions.
- `next-edge`: otherwise the challenger is compared above the first edge ≥ γ·b
  (null ratio 1): valid but blunt, the effective margin is that edge's ratio.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from scipy.stats import beta

PAIR_TOLERANCE = 0.02
MIN_EXCEEDANCES = 5
MAX_EFFECTIVE_MARGIN = 0.25
"""A `next-edge` test whose effective latency margin is wider than this (or 2.5× the one
asked) is not run: with these buckets that quantile cannot be tested at that margin."""
MAX_NULL_RATIO = 3.0
"""An interpolated test that would allow the challenger more than 3× the champion's share
of slow requests (on top of any rate margin) is not run either."""


@dataclass(frozen=True)
class EdgeTest:
    wanted_quantile: float
    edge: float
    """The champion is counted above this edge (at or below it for lower-is-worse)."""
    real_quantile: float
    """The champion's share of warm-up requests at or below `edge`."""
    challenger_edge: float
    null_ratio: float
    """The largest accepted ratio of the challenger's share beyond its edge to the
    champion's beyond `edge`."""
    how: str
    """pair | interpolated-log | interpolated | hazard | next-edge | same-edge (see the module's docstring)."""

    def name(self, metric: str) -> str:
        return self.label(metric, self.wanted_quantile)

    @staticmethod
    def label(metric: str, quantile: float) -> str:
        return f"{metric}_p{_pct(quantile)}"

    def note(self, unit: str = "s", higher_is_worse: bool = True) -> str:
        return describe(
            self.edge,
            self.challenger_edge,
            self.real_quantile,
            self.wanted_quantile,
            self.null_ratio,
            self.how,
            unit,
            higher_is_worse,
        )


def describe(
    edge: float,
    challenger_edge: float,
    real_quantile: float,
    wanted_quantile: float,
    null_ratio: float,
    how: str,
    unit: str = "s",
    higher_is_worse: bool = True,
) -> str:
    """Which edges a test compares and what that means, honestly."""
    where = (
        f"edge {edge:g}{unit} is the champion's p{real_quantile * 100:.1f} "
        f"(asked p{_pct(wanted_quantile)})"
    )
    side = "above" if higher_is_worse else "at or below"
    if how == "pair":
        what = f"challenger counted {side} {challenger_edge:g}{unit} ({challenger_edge / edge:.3g}× the edge)"
    elif how.startswith("interpolated"):
        scale = " of log-latency" if how == "interpolated-log" else ""
        what = (
            f"challenger counted {side} the same edge, allowed up to {null_ratio:.3g}× the "
            "champion's share: the latency margin, with the champion's share at edge/γ "
            f"bounded by interpolation inside its bucket (valid as the density{scale} falls there)"
        )
    elif how == "hazard":
        what = (
            f"challenger counted {side} the same edge, allowed up to {null_ratio:.3g}× the "
            "champion's share: the latency margin, with the champion's share at edge/γ "
            "bounded from its tail above the edge (valid where the hazard of log-latency "
            "rises, as for log-normal latencies)"
        )
    elif how == "next-edge":
        gap = challenger_edge / edge - 1 if higher_is_worse else 1 - challenger_edge / edge
        what = (
            f"challenger counted {side} {challenger_edge:g}{unit}: the buckets are coarser than "
            f"the margin, so the effective latency margin is {gap:.0%}"
        )
    else:
        what = f"challenger counted {side} the same edge"
    return f"{where}; {what}"


def _pct(q: float) -> str:
    text = f"{q * 100:.3f}".rstrip("0").rstrip(".")
    return text.replace(".", "_")


def normalise(edges: Sequence[float], counts: Sequence[float]) -> tuple[list[float], list[float]]:
    """Finite edges and per-bucket counts with the +Inf bucket last; raises on a mismatch."""
    finite = [float(e) for e in edges if math.isfinite(e)]
    if len(counts) != len(finite) + 1:
        raise ValueError(
            f"histogram has {len(finite)} finite edges but {len(counts)} bucket counts; "
            "expected one count per edge plus the +Inf bucket"
        )
    return finite, [max(0.0, float(c)) for c in counts]


def beyond(counts: Sequence[float], edges: Sequence[float], edge: float, higher: bool) -> float:
    """Requests above `edge` (higher) or at or below it (not higher); `edge` must be one of `edges`."""
    i = edges.index(edge)
    return float(sum(counts[i + 1 :]) if higher else sum(counts[: i + 1]))


def plan(
    edges: Sequence[float],
    counts: Sequence[float],
    quantiles: Sequence[float],
    latency_margin: float,
    rate_margin: float,
    higher_is_worse: bool = True,
) -> list[EdgeTest]:
    """The edge tests for a histogram, from the champion's warm-up counts."""
    return plan_with_skips(edges, counts, quantiles, latency_margin, rate_margin, higher_is_worse)[
        0
    ]


def plan_with_skips(
    edges: Sequence[float],
    counts: Sequence[float],
    quantiles: Sequence[float],
    latency_margin: float,
    rate_margin: float,
    higher_is_worse: bool = True,
) -> tuple[list[EdgeTest], dict[float, str]]:
    """The edge tests, and why each quantile without one has none. Quantiles landing on an
    edge already tested are tested once; quantiles no edge can resolve are dropped."""
    finite, c = normalise(edges, counts)
    total = sum(c)
    if total <= 0 or not finite:
        return [], {q: "no requests in the warm-up" for q in quantiles}
    cumulative = []
    acc = 0.0
    for v in c[:-1]:
        acc += v
        cumulative.append(acc)
    tests: list[EdgeTest] = []
    skipped: dict[float, str] = {}
    used: dict[float, float] = {}
    for q in quantiles:
        # The first edge at or beyond the quantile (so a regression confined to the tail
        # beyond it still shows), else the nearest one; never an edge with too few requests
        # on either side.
        wanted = (1.0 - q) if higher_is_worse else q
        best: tuple[float, int] | None = None
        for i, cum in enumerate(cumulative):
            bad = (total - cum) if higher_is_worse else cum
            if bad < MIN_EXCEEDANCES or (total - bad) < MIN_EXCEEDANCES:
                continue
            share = bad / total
            score = abs(math.log(share / wanted)) + (0.0 if share <= wanted * 1.0001 else 100.0)
            if best is None or score < best[0]:
                best = (score, i)
        if best is None:
            skipped[q] = "no bucket edge has enough requests on both sides"
            continue
        i = best[1]
        b = finite[i]
        if b in used:
            skipped[q] = f"its nearest edge {b:g} is already tested for p{_pct(used[b])}"
            continue
        real = cumulative[i] / total
        if higher_is_worse:
            test = _margin_above(finite, c, cumulative, i, latency_margin, rate_margin)
        else:
            test = _margin_below(finite, i, latency_margin, rate_margin)
        if test is None:
            skipped[q] = f"no edge beyond {b:g} to compare the challenger with"
            continue
        how, cedge, kappa = test
        if not _useful(how, b, cedge, kappa, latency_margin, rate_margin, higher_is_worse):
            skipped[q] = (
                f"the buckets around {b:g} (p{real * 100:.1f}) are too coarse for a "
                f"{latency_margin:.0%} latency margin (it would only catch a change of "
                + (
                    f"{abs(cedge / b - 1):.0%} or more)"
                    if how == "next-edge"
                    else f"{kappa:.3g}× in the share of slow requests or more)"
                )
            )
            continue
        used[b] = q
        tests.append(EdgeTest(q, b, real, cedge, kappa, how))
    return tests, skipped


def _useful(
    how: str,
    b: float,
    cedge: float,
    null_ratio: float,
    latency_margin: float,
    rate_margin: float,
    higher_is_worse: bool,
) -> bool:
    """A test that could only catch changes several times the margin is dropped when the
    edges are planned (before any data is tested): it would dilute the others' evidence."""
    if how == "next-edge":
        gap = cedge / b - 1 if higher_is_worse else 1 - cedge / b
        return gap <= max(MAX_EFFECTIVE_MARGIN, 2.5 * latency_margin)
    return null_ratio <= MAX_NULL_RATIO * (1.0 + max(0.0, rate_margin))


def _margin_above(
    finite: list[float],
    c: list[float],
    cumulative: list[float],
    i: int,
    latency_margin: float,
    rate_margin: float,
) -> tuple[str, float, float] | None:
    b = finite[i]
    gamma = 1.0 + max(0.0, latency_margin)
    rate = 1.0 + max(0.0, rate_margin)
    if gamma == 1.0:
        return "same-edge", b, rate
    target = gamma * b
    for e in finite[i + 1 :]:
        if target * (1 - 1e-9) <= e <= target * (1 + PAIR_TOLERANCE):
            return "pair", e, rate
    total = sum(c)
    t = b / gamma
    k = next((j for j, e in enumerate(finite) if e >= t), None)
    if k is not None and k <= i:
        lower = finite[k - 1] if k > 0 else 0.0
        upper = finite[k]
        above_lower = total - (cumulative[k - 1] if k > 0 else 0.0)
        above_upper = total - cumulative[k]
        above_b = total - cumulative[i]
        # The champion's share above t lies on or under the chord between the bucket's ends
        # wherever the density falls across the bucket; on or under the chord in log-latency
        # (tighter) wherever the density of log-latency falls. Both are checked on the
        # warm-up histogram against the neighbouring buckets.
        w = None
        if k > 0 and _falling(finite, c, k, log_scale=True):
            w = math.log(t / lower) / math.log(upper / lower)
            how = "interpolated-log"
        elif _falling(finite, c, k, log_scale=False):
            w = (t - lower) / (upper - lower)
            how = "interpolated"
        bounds: list[tuple[float, str]] = []
        if w is not None:
            virtual = (1 - w) * above_lower + w * above_upper
            if above_b >= MIN_EXCEEDANCES and virtual > above_b:
                # One-sided 95% lower bound of P(above b | above t), so κ errs large.
                pi_low = float(beta.ppf(0.05, above_b, virtual - above_b + 1))
                if pi_low > 0:
                    bounds.append((1.0 / pi_low, how))
        hazard = _hazard_bound(finite, cumulative, total, k, i, gamma)
        if hazard is not None:
            bounds.append((hazard, "hazard"))
        if bounds:
            kappa, how = min(bounds)
            # A bound too loose to be useful gives way to the next edge up, blunt but exact.
            if _useful(how, b, b, rate * kappa, latency_margin, rate_margin, True):
                return how, b, rate * kappa
    nxt = next((e for e in finite[i + 1 :] if e >= target * (1 - 1e-9)), None)
    if nxt is None:
        return None
    return "next-edge", nxt, rate


def _hazard_bound(
    finite: list[float], cumulative: list[float], total: float, k: int, i: int, gamma: float
) -> float | None:
    """κ ≥ S(b/γ)/S(b) from the tail beyond b, where the hazard of log-latency rises.

    With u = log latency and H(u) = −d log S/du non-decreasing on [log b/γ, log next],
    log S(b/γ) − log S(b) ≤ log γ · H(log b) ≤ log γ · (the mean of H over the bucket
    above b, i.e. log(S(b)/S(next)) / log(next/b)). Log-normal, Weibull, gamma and
    log-logistic latencies have such hazards (a Pareto tail is the boundary case:
    constant H); the warm-up's own buckets are checked to be consistent with it. The
    share beyond `next` uses a one-sided 95% lower bound, so κ errs large.
    """
    if i + 1 >= len(finite) or k == 0:
        return None
    above = [total - c for c in cumulative]
    above_b, above_next = above[i], above[i + 1]
    if above_b < MIN_EXCEEDANCES or above_next < 1:
        return None

    def secant(j: int) -> float | None:
        """Mean hazard of log-latency over bucket j (from edge j−1 to edge j)."""
        start = above[j - 1]
        if j <= 0 or above[j] <= 0 or start <= 0:
            return None
        return math.log(start / above[j]) / math.log(finite[j] / finite[j - 1])

    h_next = secant(i + 1)
    if h_next is None:
        return None
    # Every bucket from the one holding b/γ up to the one above b must have a mean hazard
    # no larger than the next one's: what a rising hazard implies.
    maybe = [secant(j) for j in range(k, i + 2)]
    chain = [h for h in maybe if h is not None]
    if len(chain) < len(maybe) or any(a > b_ * (1 + 1e-9) for a, b_ in pairwise(chain)):
        return None
    pi_low = float(beta.ppf(0.05, above_next, above_b - above_next + 1))
    if pi_low <= 0:
        return None
    h_up = -math.log(pi_low) / math.log(finite[i + 1] / finite[i])
    return float(gamma**h_up)


def _falling(finite: list[float], c: list[float], k: int, log_scale: bool) -> bool:
    """Is the (log-)density falling from the bucket below k, across k, to the bucket above?"""

    def density(j: int) -> float | None:
        if j < 0 or j >= len(finite):
            return None
        low = finite[j - 1] if j > 0 else 0.0
        if log_scale:
            return None if low <= 0 else c[j] / math.log(finite[j] / low)
        return c[j] / (finite[j] - low)

    here = density(k)
    if here is None:
        return False
    before, after = density(k - 1), density(k + 1)
    # Without the bucket below (the first bucket has no width in log-latency) nothing says
    # the mode is not inside this one.
    return before is not None and before >= here and (after is None or here >= after)


def _margin_below(
    finite: list[float], i: int, latency_margin: float, rate_margin: float
) -> tuple[str, float, float] | None:
    """Lower-is-worse histograms (e.g. a score): the challenger's share at or below b/γ
    against the champion's at or below b, with the largest edge ≤ b/γ."""
    b = finite[i]
    gamma = 1.0 + max(0.0, latency_margin)
    rate = 1.0 + max(0.0, rate_margin)  # more requests at or below the edge is worse
    if gamma == 1.0:
        return "same-edge", b, rate
    lower = [e for e in finite[:i] if e <= b / gamma * (1 + 1e-9)]
    if not lower:
        return None
    return "next-edge", lower[-1], rate
