"""The planned final look: an exact conditional binomial test on the pooled counts.

At the horizon the sequential part has spent its share of alpha; the rest goes
to one classical test per metric, which recovers power for effects too small
to cross the e-value threshold in time. Pooled over intervals whose traffic
shares differ, the challenger's events given the events of each interval are a
sum of binomials with different p (Poisson-binomial); a single binomial with
the events-weighted mean p is more dispersed, so its upper tail bounds the true
one (Hoeffding 1956) and the test stays conservative.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.stats import binom

ArrayLike = npt.ArrayLike


def p_value(
    events: ArrayLike, total_events: ArrayLike, null_p: ArrayLike, higher_is_worse: ArrayLike
) -> npt.NDArray[np.float64]:
    """One-sided exact binomial p-value, as `scipy.stats.binomtest(...).pvalue` with
    alternative "greater" (higher-is-worse) or "less"; vectorised."""
    x = np.rint(np.asarray(events, dtype=float))
    n = np.rint(np.asarray(total_events, dtype=float))
    p = np.clip(np.asarray(null_p, dtype=float), 0.0, 1.0)
    greater = binom.sf(x - 1, n, p)
    less = binom.cdf(x, n, p)
    out = np.where(np.asarray(higher_is_worse), greater, less)
    return np.where(n > 0, out, 1.0)
