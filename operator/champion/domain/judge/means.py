"""Mean latency from a histogram's `_sum`: what the bucket edges cannot see.

A Prometheus histogram also exports the sum of what it observed. When the
buckets are far apart compared with the spread of the latency (vLLM's TPOT
buckets are 1.5–2× apart, TPOT itself varies by about 25%), a 20% slowdown
mostly moves requests *inside* their buckets, where only the sum sees it.

Per block of intervals (each interval its own block once both versions have
BLOCK_REQUESTS requests in it; at low traffic, consecutive intervals until they
do), with n_c requests summing to S_c for the challenger and n_b, S_b for the
champion, and γ = 1 + latency margin:

    D = S_c − γ·n_c·S_b/n_b,    E[D] ≤ 0 when the challenger's mean ≤ γ × the champion's;
    Z = D / sqrt(n_c·v_c + γ²·n_c²/n_b·v_b),

v being each version's variance in that block, bounded from its own
buckets: every request lies in its bucket, so its squared distance from the
block's mean is at most that of the bucket's farther edge. v never
understates the spread (it overstates it about 1.3–2× in standard deviation on
the benchmark's latencies); an interval with requests in the +Inf bucket has no
such bound and is skipped, which can only drop evidence of a slowdown.

Z is close to normal (a sum of at least BLOCK_REQUESTS requests per version:
with 10, the skew of latency made the test reject too often at the null
boundary), so Π exp(λZ − λ²/2) over blocks, mixed over a fixed grid of λ ≥ 0, is an
e-process in the sense of the time-uniform central limit theorem
(Waudby-Smith et al. 2021): its validity is asymptotic, where the counts tests
are exact. The grid has the layout of `eprocess` (λ = 0 in the centre), so
`eprocess.log_e_worse` / `log_e_better` apply unchanged. tests/judge and the
benchmark measure false rollbacks at the null boundary down to 1 request/s.

The bound is the worst case the buckets allow, and on narrow latencies it is
2× the real spread (TPOT: every request of a 25–50 ms bucket could sit on its
edges). So each version's variance is also *estimated*, from how much the mean
of one window differs from the next: Σ n_i (m_i − m̄)² / (K − 1) estimates σ²
whatever the shape, and anything that moves the mean between windows (load, a
shared incident) only makes it larger. It is kept relative (σ²/m̄²), pooled
over the champion's warm-up windows (history before the canary, read per
analysis interval) and the version's own intervals so far, and used only from
MIN_SPREAD_DF degrees of freedom on. The challenger is given its relative
spread at the null boundary, (γ·m_b)², so early on it is assumed as spread as
the champion in relative terms (exact when a version is uniformly faster or
slower); its own intervals take over as they come in (alone, once they show
it more spread than the pool), which keeps the asymptotic validity without
that assumption. What the assumption costs is measured in tests/judge: a
challenger exactly as slow as allowed *and* 50% more spread. Each block's
variance is the smaller of the estimate and the bound; the estimate is the one
of when the block opened, from earlier windows only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy.stats import norm

from champion.domain.judge import eprocess

Array = npt.NDArray[np.float64]

BLOCK_REQUESTS = 30
"""Requests each version needs before a Z is computed: intervals with fewer are pooled
with the next ones into one block."""
LAMBDA_SCALE = 1.5
"""λ = LAMBDA_SCALE × eprocess.OFFSETS: from 0.075 to 3 standard deviations per
interval, a log-uniform prior over effects from faint to one-interval-obvious."""
LAMBDAS: Array = LAMBDA_SCALE * eprocess.OFFSETS
MIN_SPREAD_DF = 20
"""Degrees of freedom the estimated spread needs before it is used (below: the bound)."""
MIN_OWN_DF = 5
"""From this many degrees of freedom of its own, a version more spread than the pooled
estimate says is given its own estimate."""

Moments = list[float]
"""A version's windows, for its spread: [windows, Σ requests, Σ sum, Σ sum²/requests]."""


def no_windows() -> Moments:
    return [0.0, 0.0, 0.0, 0.0]


def add_window(m: Moments, requests: float, total: float) -> Moments:
    """`m` with one more window of `requests` summing to `total` (empty windows add nothing)."""
    if not requests > 0 or not math.isfinite(total):
        return m
    return [m[0] + 1.0, m[1] + requests, m[2] + total, m[3] + total * total / requests]


def _relative_q(m: Moments) -> tuple[float, float]:
    """(Σ n_i (m_i − m̄)² / m̄², degrees of freedom) of one set of windows."""
    k, n, s, s2n = m
    if k < 2 or not s > 0:
        return 0.0, 0.0
    return max(0.0, s2n - s * s / n) / (s / n) ** 2, k - 1.0


def relative_variance(warm: Moments, own: Moments) -> float | None:
    """A version's σ²/μ²: pooled over the champion's warm-up windows and the version's own
    windows so far; its own alone when that is larger (from MIN_OWN_DF on); None below
    MIN_SPREAD_DF degrees of freedom in all."""
    qw, dw = _relative_q(warm)
    qo, do = _relative_q(own)
    if dw + do < MIN_SPREAD_DF:
        return None
    pooled = (qw + qo) / (dw + do)
    return max(pooled, qo / do) if do >= MIN_OWN_DF else pooled


def describe_spread(warm: Sequence[float], own: Sequence[float]) -> str:
    """Where a version's variance comes from, for the evidence."""
    rel = relative_variance(list(warm), list(own))
    if rel is None:
        return (
            "the buckets' worst case (an estimate needs "
            f"{MIN_SPREAD_DF + 1} windows; {int(warm[0])} of history and {int(own[0])} of "
            "the canary so far)"
        )
    return (
        "the buckets' worst case or, when smaller, "
        f"an estimate from {int(warm[0])} history windows and {int(own[0])} canary intervals "
        f"(σ/μ {math.sqrt(rel):.2f})"
    )


def window_moments(requests: npt.ArrayLike, sums: npt.ArrayLike) -> Array:
    """Each window as the Moments `add_window` adds for it (zeros for an empty one), on a
    trailing axis of 4: summed over windows, they are what `add_window` accumulates."""
    n = np.asarray(requests, dtype=float)
    s = np.asarray(sums, dtype=float)
    ok = (n > 0) & np.isfinite(s)
    n0 = np.where(ok, n, 0.0)
    s0 = np.where(ok, s, 0.0)
    return np.stack([ok.astype(float), n0, s0, s0 * s0 / np.maximum(n0, 1e-300)], axis=-1)


def relative_variance_paths(warm: Array, requests: Array, sums: Array) -> Array:
    """`relative_variance(warm, the version's intervals before t)` for every run and interval t
    at once: warm is (runs, 4) Moments, requests and sums (runs, intervals); NaN for None."""
    rows = window_moments(requests, sums)
    before = np.cumsum(rows, axis=1) - rows  # windows strictly before each interval

    def rel_q(m: Array) -> tuple[Array, Array]:
        k, nn, ss, s2n = m[..., 0], m[..., 1], m[..., 2], m[..., 3]
        good = (k >= 2) & (ss > 0)
        safe_n = np.maximum(nn, 1e-300)
        q = np.maximum(0.0, s2n - ss * ss / safe_n) / np.maximum((ss / safe_n) ** 2, 1e-300)
        return np.where(good, q, 0.0), np.where(good, k - 1.0, 0.0)

    qw, dw = rel_q(np.asarray(warm, dtype=float)[:, None, :])
    qo, do = rel_q(before)
    df = dw + do
    pooled = (qw + qo) / np.maximum(df, 1.0)
    own = np.where(do >= MIN_OWN_DF, qo / np.maximum(do, 1.0), 0.0)
    return np.where(df >= MIN_SPREAD_DF, np.maximum(pooled, own), np.nan)


def variance_bound(edges: npt.ArrayLike, counts: npt.ArrayLike, total: npt.ArrayLike) -> Array:
    """An upper bound on the variance of the requests in `counts` (per bucket, +Inf last)
    whose values sum to `total`: each request's squared distance from their mean is at
    most that of its bucket's farther edge. NaN where there are none or some are in +Inf.
    (Using the sum to place each bucket's mean, Bhatia–Davis inside it, tightened this by
    only 3–6% on the benchmark's latencies: not worth its code.)"""
    e = np.asarray(edges, dtype=float)
    c = np.asarray(counts, dtype=float)
    n = c.sum(axis=-1)
    safe_n = np.maximum(n, 1e-300)
    mean = (np.asarray(total, dtype=float) / safe_n)[..., None]
    lower = np.concatenate([[0.0], e[:-1]])
    far = np.maximum((lower - mean) ** 2, (e - mean) ** 2)
    bound = (c[..., :-1] * far).sum(axis=-1) / safe_n
    ok = (n > 0) & (c[..., -1] <= 0)
    return np.where(ok, bound, np.nan)


def z_scores(
    edges: npt.ArrayLike,
    challenger_counts: npt.ArrayLike,
    challenger_sum: npt.ArrayLike,
    champion_counts: npt.ArrayLike,
    champion_sum: npt.ArrayLike,
    gamma: npt.ArrayLike,
    relative_variance_c: npt.ArrayLike | None = None,
    relative_variance_b: npt.ArrayLike | None = None,
) -> Array:
    """Each block's Z against "challenger's mean ≤ γ × champion's"; NaN where it carries
    no usable evidence (too few requests, requests in +Inf). The
    relative variances (σ²/μ², NaN for none) are each version's estimated spread, from
    `relative_variance_paths`; without them, the bound alone."""
    cc = np.asarray(challenger_counts, dtype=float)
    bc = np.asarray(champion_counts, dtype=float)
    sc = np.asarray(challenger_sum, dtype=float)
    sb = np.asarray(champion_sum, dtype=float)
    g = np.asarray(gamma, dtype=float)
    nc, nb = cc.sum(axis=-1), bc.sum(axis=-1)
    vc = variance_bound(edges, cc, sc)
    vb = variance_bound(edges, bc, sb)
    safe_nb = np.maximum(nb, 1.0)
    mean_b = sb / safe_nb
    for bound, rel, scale in (
        (vc, relative_variance_c, g * mean_b),
        (vb, relative_variance_b, mean_b),
    ):
        if rel is not None:
            r = np.asarray(rel, dtype=float)
            bound[...] = np.where(np.isnan(r), bound, np.minimum(bound, r * scale * scale))
    d = sc - g * nc * sb / safe_nb
    var = nc * vc + g * g * nc * nc / safe_nb * vb
    usable = (nc >= BLOCK_REQUESTS) & (nb >= BLOCK_REQUESTS) & np.isfinite(var) & (var > 0)
    return np.where(usable, d / np.sqrt(np.where(usable, var, 1.0)), np.nan)


def z_score(
    edges: list[float],
    challenger_counts: list[float],
    challenger_sum: float,
    champion_counts: list[float],
    champion_sum: float,
    gamma: float,
    relative_variance_c: float | None = None,
    relative_variance_b: float | None = None,
) -> float | None:
    """`z_scores` for one interval in plain Python (the Judge's per-look path: numpy's
    per-call overhead on arrays this small cost ten times more); None for NaN."""

    def bound(counts: list[float], total: float) -> float | None:
        n = sum(counts)
        if n <= 0 or counts[-1] > 0:
            return None
        mean = total / n
        lower, acc = 0.0, 0.0
        for edge, count in zip(edges, counts, strict=False):
            if count:
                acc += count * max((lower - mean) ** 2, (edge - mean) ** 2)
            lower = edge
        return acc / n

    nc, nb = float(sum(challenger_counts)), float(sum(champion_counts))
    if nc < BLOCK_REQUESTS or nb < BLOCK_REQUESTS:
        return None
    vc, vb = bound(challenger_counts, challenger_sum), bound(champion_counts, champion_sum)
    if vc is None or vb is None:
        return None
    mean_b = champion_sum / nb
    if relative_variance_c is not None:
        vc = min(vc, relative_variance_c * (gamma * mean_b) ** 2)
    if relative_variance_b is not None:
        vb = min(vb, relative_variance_b * mean_b**2)
    var = nc * vc + gamma * gamma * nc * nc / nb * vb
    if not var > 0:
        return None
    return (challenger_sum - gamma * nc * champion_sum / nb) / var**0.5


def block_z_scores(
    edges: list[float],
    challenger_counts: Array,
    challenger_sum: Array,
    champion_counts: Array,
    champion_sum: Array,
    gamma: float,
    warm: Array | None = None,
) -> Array:
    """Per run and interval (runs, intervals), the Z of the block that closes at that
    interval (NaN where none does), blocks and spreads exactly as the Judge forms them
    one interval at a time; `warm` is each run's history windows, (runs, 4) Moments."""
    cc = np.asarray(challenger_counts, dtype=float)
    bc = np.asarray(champion_counts, dtype=float)
    runs, intervals = cc.shape[:2]
    nc, nb = cc.sum(-1), bc.sum(-1)
    both = (nc > 0) & (nb > 0)  # the Judge skips an interval where a version had none
    sc = np.asarray(challenger_sum, dtype=float)
    sb = np.asarray(champion_sum, dtype=float)
    nan = np.full((runs, intervals), np.nan)
    if warm is None:
        rel_c = rel_b = nan
    else:
        rel_c = relative_variance_paths(warm, np.where(both, nc, 0.0), sc)
        rel_b = relative_variance_paths(warm, np.where(both, nb, 0.0), sb)
    block_c, block_b = np.zeros((runs, cc.shape[2])), np.zeros((runs, bc.shape[2]))
    block_sc, block_sb = np.zeros(runs), np.zeros(runs)
    open_c, open_b = np.full(runs, np.nan), np.full(runs, np.nan)
    out = nan.copy()
    for t in range(intervals):
        add = both[:, t]
        opening = add & (block_c.sum(-1) + block_b.sum(-1) == 0)
        open_c = np.where(opening, rel_c[:, t], open_c)
        open_b = np.where(opening, rel_b[:, t], open_b)
        block_c += np.where(add[:, None], cc[:, t], 0.0)
        block_b += np.where(add[:, None], bc[:, t], 0.0)
        block_sc += np.where(add, sc[:, t], 0.0)
        block_sb += np.where(add, sb[:, t], 0.0)
        full = (block_c.sum(-1) >= BLOCK_REQUESTS) & (block_b.sum(-1) >= BLOCK_REQUESTS)
        if full.any():
            z = z_scores(edges, block_c, block_sc, block_b, block_sb, gamma, open_c, open_b)
            out[:, t] = np.where(full, z, np.nan)
            block_c[full], block_b[full], block_sc[full], block_sb[full] = 0.0, 0.0, 0.0, 0.0
    return out


def loglik(sum_z: npt.ArrayLike, looks: npt.ArrayLike) -> Array:
    """The grid log-likelihood of the intervals so far, centred (max 0), six decimals,
    from the running sum of Z and the number of intervals that had one."""
    s = np.asarray(sum_z, dtype=float)[..., None]
    k = np.asarray(looks, dtype=float)[..., None]
    ll = LAMBDAS * s - 0.5 * LAMBDAS**2 * k
    return np.round(ll - ll.max(axis=-1, keepdims=True), 6)


def p_value(sum_z: npt.ArrayLike, looks: npt.ArrayLike) -> Array:
    """The final look: one-sided normal test of the pooled Z."""
    k = np.asarray(looks, dtype=float)
    s = np.asarray(sum_z, dtype=float)
    return np.where(k > 0, norm.sf(s / np.sqrt(np.maximum(k, 1.0))), 1.0)
