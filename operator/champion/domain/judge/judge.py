"""The judge: per-interval counts in, a decision with its evidence out. Pure and serialisable.

Alpha is spent in two parts: `alpha·(1 − final_look_share)` by the sequential
e-processes (each metric rolls back when its e-value reaches M/that), the rest
by the exact tests of `finalize`. By Ville's inequality and a union bound the
chance of rolling back a challenger that is within every margin stays below
alpha however many times `observe` is called. A histogram metric tests several
edges (and, given `_sum`s and a latency margin, its mean: means.py); its e-value is
their mean, itself an e-value, so it counts once in M.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import accumulate
from typing import Any

import numpy as np

from champion.api.v1alpha1 import reasons
from champion.domain.judge import edges as edge_plan
from champion.domain.judge import eprocess, explain, means
from champion.domain.judge.final import p_value
from champion.domain.judge.types import (
    Counts,
    Evidence,
    Histogram,
    JudgeConfig,
    MetricConfig,
    Observation,
    Verdict,
)

STATE_VERSION = 2


def _fresh_state() -> dict[str, Any]:
    return {"v": STATE_VERSION, "M": 0, "looks": 0, "metrics": {}, "srm": None}


def _new_test(rho0: float, higher: bool, **extra: Any) -> dict[str, Any]:
    return {
        "rho0": rho0,
        "higher": higher,
        "ll": [0.0] * eprocess.GRID,
        "cum": [0.0, 0.0, 0.0, 0.0],
        "fin": [0.0, 0.0, 0.0],
        **extra,
    }


def null_ratio(cfg: MetricConfig) -> tuple[float, bool]:
    """(ρ0, higher_is_worse) for a counts metric."""
    if cfg.direction == "lower-is-worse":
        return max(1e-6, 1.0 - cfg.margin), False
    return 1.0 + cfg.margin, True


def counts_valid(c: Counts) -> bool:
    values = (c.challenger_events, c.challenger_total, c.champion_events, c.champion_total)
    return (
        all(math.isfinite(v) and v >= 0 for v in values)
        and c.challenger_events <= c.challenger_total * (1 + 1e-9) + 1e-9
        and c.champion_events <= c.champion_total * (1 + 1e-9) + 1e-9
    )


def _observe_mean(
    test: dict[str, Any],
    finite: list[float],
    obs: Histogram,
    counts: tuple[list[float], list[float]],
) -> None:
    """One interval of the mean-latency test (means.py). It joins the open block; a block
    with means.BLOCK_REQUESTS requests of each version gives one Z and closes (a Z that is
    not usable, requests beyond the last edge, is dropped with it)."""
    assert obs.challenger_sum is not None and obs.champion_sum is not None
    sc, sb = float(obs.challenger_sum), float(obs.champion_sum)
    nc, nb = sum(counts[0]), sum(counts[1])
    # A state from before spreads were estimated has none: it starts estimating now.
    warm, own_c, own_b = test.get("sp") or [means.no_windows()] * 3
    block = test.get("blk")
    if not block:
        # The block's spread is the one known when it opens: from earlier windows only.
        block = {
            "c": [0.0] * len(counts[0]),
            "b": [0.0] * len(counts[1]),
            "s": [0.0, 0.0],
            "rel": [means.relative_variance(warm, own_c), means.relative_variance(warm, own_b)],
        }
    block["c"] = [a + b for a, b in zip(block["c"], counts[0], strict=True)]
    block["b"] = [a + b for a, b in zip(block["b"], counts[1], strict=True)]
    block["s"] = [block["s"][0] + sc, block["s"][1] + sb]
    test["sp"] = [warm, means.add_window(own_c, nc, sc), means.add_window(own_b, nb, sb)]
    if sum(block["c"]) < means.BLOCK_REQUESTS or sum(block["b"]) < means.BLOCK_REQUESTS:
        test["blk"] = block
        return
    test["blk"] = None
    z = means.z_score(
        finite,
        block["c"],
        block["s"][0],
        block["b"],
        block["s"][1],
        float(test["rho0"]),
        *block["rel"],
    )
    if z is None or not math.isfinite(z):
        return
    test["z"] = [test["z"][0] + z, test["z"][1] + 1.0]
    cum = test["cum"]
    test["cum"] = [
        cum[0] + block["s"][0],
        cum[1] + sum(block["c"]),
        cum[2] + block["s"][1],
        cum[3] + sum(block["b"]),
    ]


def _final_name(test: dict[str, Any]) -> str:
    return "normal test of the pooled z" if test.get("kind") == "mean" else "exact binomial test"


def _clamped(counts: Sequence[float]) -> list[float]:
    """Per-bucket counts as floats, a negative delta (a reset) counted as 0."""
    values = [float(v) for v in counts]
    if min(values, default=0.0) < 0.0:
        values = [max(0.0, v) for v in values]
    return values


class Judge:
    """Anytime-valid sequential comparison of a challenger with its champion."""

    def __init__(self, config: JudgeConfig, state: dict[str, Any] | None = None) -> None:
        self.config = config
        if not state or state.get("v") != STATE_VERSION:
            # An older or missing state starts afresh: evidence is lost, validity is not.
            state = _fresh_state()
        self.state: dict[str, Any] = state

    # --- persistence -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The whole state as JSON types (dicts, lists, floats, strings, bools)."""
        return self.state

    @classmethod
    def from_dict(cls, config: JudgeConfig, state: dict[str, Any] | None) -> Judge:
        return cls(config, state)

    # --- helpers -----------------------------------------------------------------------
    def _fix_m(self, names: list[str]) -> int:
        if not self.state["M"]:
            self.state["M"] = max(1, len(self.config.metrics) or len(names))
        return int(self.state["M"])

    @property
    def m(self) -> int:
        return max(1, int(self.state["M"]) or len(self.config.metrics) or 1)

    def sequential_threshold(self) -> float:
        return self.m / self.config.alpha_sequential

    def _metric(self, name: str, kind: str) -> dict[str, Any]:
        ms: dict[str, Any] = self.state["metrics"].setdefault(name, {"kind": kind, "tests": {}})
        return ms

    # --- warm-up ------------------------------------------------------------------------
    def warm_up(self, observations: Mapping[str, Observation]) -> None:
        """Feeds the champion's histograms from before the canary (or any window not tested
        afterwards); their edges are chosen once `warmup_requests` have been seen."""
        self._fix_m(list(observations))
        for name, obs in observations.items():
            if isinstance(obs, Histogram):
                self._warm(name, obs)

    def _warm(self, name: str, h: Histogram, from_interval: bool = False) -> bool:
        """Adds a histogram's champion counts to the warm-up; True once edges are chosen.
        `from_interval`: `h` is one analysis interval (not a history read)."""
        ms = self._metric(name, "histogram")
        if ms.get("planned"):
            return True
        finite, counts = edge_plan.normalise(h.edges, h.champion_counts)
        if ms.get("edges") != finite:
            ms["edges"], ms["warm"] = finite, [0.0] * len(counts)
        if h.champion_sum is not None:
            ms["sums"] = True
        # The mean test's spread: history's per-interval windows, or this interval itself.
        windows = h.champion_windows or (
            [(sum(counts), h.champion_sum)] if from_interval and h.champion_sum is not None else []
        )
        spread = ms.get("spread") or means.no_windows()
        for requests, total in windows:
            spread = means.add_window(spread, float(requests), float(total))
        ms["spread"] = spread
        ms["warm"] = [a + b for a, b in zip(ms["warm"], counts, strict=True)]
        if sum(ms["warm"]) < self.config.warmup_requests:
            return False
        cfg = self.config.metric(name)
        latency_margin, rate_margin = cfg.histogram_margins()
        higher = cfg.direction != "lower-is-worse"
        planned, skipped = edge_plan.plan_with_skips(
            finite, ms["warm"], cfg.quantiles, latency_margin, rate_margin, higher
        )
        ms["untested"] = {edge_plan.EdgeTest.label(name, q): why for q, why in skipped.items()}
        ms["planned"] = True
        ms["warmup_total"] = sum(ms["warm"])
        del ms["warm"]
        spread = ms.pop("spread", None) or means.no_windows()
        for t in planned:
            ms["tests"][t.name(name)] = _new_test(
                t.null_ratio,
                True,  # counts beyond the edge on the bad side: more is worse
                edge=t.edge,
                cedge=t.challenger_edge,
                q=t.wanted_quantile,
                rq=t.real_quantile,
                how=t.how,
            )
        if cfg.mean_test and higher and latency_margin > 0 and ms.get("sums"):
            # Its grid log-likelihood is derived from z = [ΣZ, intervals] when read (means.loglik).
            ms["tests"][f"{name}_mean"] = {
                "kind": "mean",
                "rho0": 1.0 + latency_margin,
                "higher": True,
                "z": [0.0, 0.0],
                "cum": [0.0, 0.0, 0.0, 0.0],
                # windows for the spread: the champion's warm-up, the challenger's, the champion's
                "sp": [spread, means.no_windows(), means.no_windows()],
            }
        if not ms["tests"]:
            ms["note"] = "no bucket edge separates the champion's requests: untestable"
        return True

    # --- the per-interval look -----------------------------------------------------------
    def observe(
        self, observations: Mapping[str, Observation], expected_share: float | None = None
    ) -> Verdict:
        """One analysis interval. `expected_share` is the configured weight of the challenger
        as a fraction (0.1 for a 10% canary step) for the sample-ratio check; None skips it."""
        m = self._fix_m(list(observations))
        self.state["looks"] = int(self.state["looks"]) + 1
        pending: list[tuple[dict[str, Any], float, float, float, float]] = []
        notes: dict[str, str] = {}
        for name, obs in observations.items():
            self._collect(name, obs, pending, notes)
        self._update(pending)
        srm = self._srm(observations, expected_share)
        evidence, stats = self._evidence(observations, notes)
        threshold = self.sequential_threshold()
        log_threshold = math.log(threshold)

        worst_group = max(stats, key=lambda g: stats[g], default=None)
        if worst_group is not None and stats[worst_group] >= log_threshold:
            tests = [e for e in evidence if e.group == worst_group and e.status == "testing"]
            top = max(tests, key=lambda e: e.log_e_value)
            return Verdict(
                "rollback",
                explain.regression(top, m),
                evidence,
                reasons.REGRESSION_DETECTED,
                srm is not None,
            )
        if srm is not None:
            return Verdict("continue", srm, evidence, reasons.SAMPLE_RATIO_MISMATCH, True)
        warming = [e.metric for e in evidence if e.status == "warming-up"]
        if not pending and warming and self.state.get("warm_seen"):
            self.state["warm_seen"] = False
            return Verdict(
                "continue",
                f"warming up: choosing the latency edges of {', '.join(warming)} from the "
                "champion's requests; nothing is tested yet",
                evidence,
                reasons.ANALYSIS_CONTINUE,
            )
        if not pending:
            return Verdict(
                "continue",
                "insufficient evidence: no traffic or no data for any metric in this interval; "
                "holding (no data is never a reason to roll back)",
                evidence,
                reasons.INSUFFICIENT_EVIDENCE,
            )
        if self.config.promote_early and self._all_within(evidence):
            shown = ", ".join(
                f"{e.metric} {e.ratio_high:.3g}" if e.ratio_high is not None else e.metric
                for e in evidence
                if e.status == "testing"
            )
            return Verdict(
                "promote",
                "every metric is shown within its margin (upper confidence bounds of the rate "
                f"ratios: {shown})",
                evidence,
                reasons.NO_REGRESSION,
            )
        if worst_group is None:
            strongest = "no metric is being tested yet"
        else:
            strongest = (
                f"largest e-value {explain.num(eprocess.to_e(stats[worst_group]))} "
                f"({worst_group}) of {explain.num(threshold)} needed"
            )
        extra = f"; warming up: {', '.join(warming)}" if warming else ""
        return Verdict(
            "continue",
            f"no regression detected so far: {strongest}{extra}",
            evidence,
            reasons.ANALYSIS_CONTINUE,
        )

    def _collect(
        self,
        name: str,
        obs: Observation,
        pending: list[tuple[dict[str, Any], float, float, float, float]],
        notes: dict[str, str],
    ) -> None:
        if obs is None:
            notes[name] = "no data in this interval"
            return
        if isinstance(obs, Counts):
            ms = self._metric(name, "counts")
            if not counts_valid(obs):
                notes[name] = "inconsistent counts (negative, or more events than total): skipped"
                return
            if obs.challenger_total <= 0 or obs.champion_total <= 0:
                notes[name] = "a version had no traffic in this interval"
                return
            test = ms["tests"].get(name)
            if test is None:
                rho0, higher = null_ratio(self.config.metric(name))
                test = ms["tests"][name] = _new_test(rho0, higher)
            pending.append(
                (
                    test,
                    float(obs.challenger_events),
                    float(obs.challenger_total),
                    float(obs.champion_events),
                    float(obs.champion_total),
                )
            )
            return
        ms = self._metric(name, "histogram")
        if not ms.get("planned"):
            try:
                # An interval that completes the warm-up chose the edges: it is not tested too.
                done = self._warm(name, obs, from_interval=True)
            except ValueError as err:
                notes[name] = str(err)
                return
            self.state["warm_seen"] = self.state.get("warm_seen") or bool(sum(obs.champion_counts))
            notes[name] = (
                "edges chosen from the champion's warm-up; testing from the next interval"
                if done
                else "warming up: choosing the edges from the champion's distribution"
            )
            return
        finite = [float(e) for e in obs.edges if math.isfinite(e)]
        c, b = obs.challenger_counts, obs.champion_counts
        if len(c) != len(finite) + 1 or len(b) != len(finite) + 1:
            notes[name] = f"histogram has {len(finite)} finite edges but {len(c)}/{len(b)} counts"
            return
        index = {e: k for k, e in enumerate(finite)}
        tests = [t for t in ms["tests"].values() if t.get("kind") != "mean"]
        mean_test = ms["tests"].get(f"{name}_mean")
        if any(t["edge"] not in index or t["cedge"] not in index for t in tests):
            notes[name] = "the bucket edges changed since they were chosen: skipped"
            return
        higher = self.config.metric(name).direction != "lower-is-worse"
        per_c, per_b = _clamped(c), _clamped(b)
        cum_c, cum_b = list(accumulate(per_c)), list(accumulate(per_b))
        nc, nb = cum_c[-1], cum_b[-1]
        if nc <= 0 or nb <= 0:
            notes[name] = "a version had no traffic in this interval"
            return
        for t in tests:
            i, j = index[t["cedge"]], index[t["edge"]]
            x = nc - cum_c[i] if higher else cum_c[i]
            y = nb - cum_b[j] if higher else cum_b[j]
            pending.append((t, x, nc, y, nb))
        if (
            mean_test is not None
            and obs.challenger_sum is not None
            and obs.champion_sum is not None
        ):
            _observe_mean(mean_test, finite, obs, (per_c, per_b))

    @staticmethod
    def _update(pending: list[tuple[dict[str, Any], float, float, float, float]]) -> None:
        if not pending:
            return
        x = np.array([p[1] for p in pending])
        nc = np.array([p[2] for p in pending])
        y = np.array([p[3] for p in pending])
        nb = np.array([p[4] for p in pending])
        rho0 = np.array([p[0]["rho0"] for p in pending])
        share = nc / (nc + nb)
        events = x + y
        ll = eprocess.update([p[0]["ll"] for p in pending], x, events, share, rho0)
        null_p = eprocess.share_to_p(share, rho0)
        # Six decimals of log-likelihood are plenty (e-values to 1e-6 relative) and halve the
        # state kept in the Rollout's status.
        ll = np.round(ll, 6)
        xs, ncs, ys, nbs = x.tolist(), nc.tolist(), y.tolist(), nb.tolist()
        ms, ps = events.tolist(), (events * null_p).tolist()
        rows = ll.tolist()
        for k, (test, *_) in enumerate(pending):
            test["ll"] = rows[k]
            cum = test["cum"]
            test["cum"] = [cum[0] + xs[k], cum[1] + ncs[k], cum[2] + ys[k], cum[3] + nbs[k]]
            fin = test["fin"]
            test["fin"] = [fin[0] + xs[k], fin[1] + ms[k], fin[2] + ps[k]]

    def _srm(self, observations: Mapping[str, Observation], expected: float | None) -> str | None:
        """Anytime-valid sample-ratio check: the challenger's requests given the total are
        Binomial(total, configured share) when routing works; the same mixture e-process,
        two-sided, around a ratio of 1. Returns the reason once flagged (it stays flagged)."""
        srm = self.state.get("srm") or {"ll": [0.0] * eprocess.GRID, "n": [0.0, 0.0]}
        if expected is not None and 0.0 < expected < 1.0:
            split = self._split(observations)
            if split is not None:
                nc, nb = split
                srm["ll"] = eprocess.update(srm["ll"], nc, nc + nb, expected, 1.0).tolist()
                srm["n"] = [srm["n"][0] + nc, srm["n"][1] + nc + nb]
                srm["expected"] = expected
        self.state["srm"] = srm
        log_e = float(eprocess.log_e_two_sided(srm["ll"]))
        if not srm.get("flag") and log_e >= math.log(1.0 / self.config.srm_alpha):
            # What was seen when it was flagged: the reason keeps saying why, later too.
            srm["flag"] = [srm["n"][0], srm["n"][1], log_e]
        if not srm.get("flag"):
            return None
        flag = srm["flag"] if isinstance(srm["flag"], list) else [*srm["n"], log_e]
        got = flag[0] / flag[1] if flag[1] else 0.0
        return (
            f"sample-ratio mismatch: the challenger got {got:.1%} of {explain.num(flag[1])} "
            f"requests where the configured weight is {srm.get('expected', 0.0):.1%} "
            f"(e-value {explain.num(eprocess.to_e(flag[2]))} ≥ {explain.num(1 / self.config.srm_alpha)}): "
            "routing may be broken; holding"
        )

    def _split(self, observations: Mapping[str, Observation]) -> tuple[float, float] | None:
        """Requests per version this interval: from the first histogram (every request is
        in it), else the first counts metric, in configuration order. The choice depends on
        which metrics are present, never on their values, so the check stays valid."""
        order = list(dict.fromkeys([*self.config.metrics, *observations]))
        present = [observations.get(n) for n in order]
        for obs in present:
            if isinstance(obs, Histogram):
                nc = sum(max(0.0, float(v)) for v in obs.challenger_counts)
                nb = sum(max(0.0, float(v)) for v in obs.champion_counts)
                return (nc, nb) if nc + nb > 0 else None
        for obs in present:
            if isinstance(obs, Counts) and counts_valid(obs):
                total = obs.challenger_total + obs.champion_total
                return (obs.challenger_total, obs.champion_total) if total > 0 else None
        return None

    # --- evidence --------------------------------------------------------------------------
    def _evidence(
        self, observations: Mapping[str, Observation], notes: dict[str, str]
    ) -> tuple[list[Evidence], dict[str, float]]:
        names = list(
            dict.fromkeys(
                [*self.config.metrics, *observations, *self.state["metrics"]],
            )
        )
        threshold = self.sequential_threshold()
        rows: list[tuple[str, str, dict[str, Any] | None]] = []
        untested: list[Evidence] = []
        for name in names:
            ms = self.state["metrics"].get(name)
            if ms is None or not ms["tests"]:
                rows.append((name, name, None))
                continue
            for test_name, test in ms["tests"].items():
                rows.append((name, test_name, test))
        for name in names:
            ms = self.state["metrics"].get(name)
            for label, why in ((ms or {}).get("untested") or {}).items():
                if ms and ms["tests"]:
                    untested.append(
                        Evidence(
                            label,
                            0,
                            0,
                            0,
                            0,
                            1.0,
                            threshold,
                            group=name,
                            status="untested",
                            note=f"not tested: {why}",
                        )
                    )
        tested = [t for _, _, t in rows if t is not None]
        stats: dict[str, float] = {}
        if tested:
            # Every mean test's grid log-likelihood in one call (numpy's per-call cost
            # dominated when it ran once per test).
            is_mean_list = [t.get("kind") == "mean" for t in tested]
            ll = np.empty((len(tested), eprocess.GRID))
            if any(is_mean_list):
                at = [k for k, mean in enumerate(is_mean_list) if mean]
                z = np.array([tested[k]["z"] for k in at], dtype=float)
                ll[at] = means.loglik(z[:, 0], z[:, 1])
            edge_at = [k for k, mean in enumerate(is_mean_list) if not mean]
            if edge_at:
                ll[edge_at] = np.array([tested[k]["ll"] for k in edge_at], dtype=float)
            higher = np.array([t["higher"] for t in tested])
            rho0 = np.array([t["rho0"] for t in tested])
            worse_a, better_a = eprocess.log_e_worse_and_better(ll, higher)
            worse, better = worse_a.tolist(), better_a.tolist()
            # The bounds use the rollback threshold on the bad side and the promote one on
            # the good side, so they agree with the decisions.
            log_bad = math.log(self.sequential_threshold())
            q = np.array(
                [len(self.state["metrics"][g]["tests"]) for g, _, t in rows if t is not None]
            )
            log_good = np.log(self.m * q / self.config.alpha)
            up = np.where(higher, log_bad, log_good)
            down = np.where(higher, log_good, log_bad)
            # The mean test's grid is over λ, not over ratios: it has no bounds to show.
            lows = [math.nan] * len(tested)
            highs = [math.nan] * len(tested)
            if edge_at:
                low, high = eprocess.bounds(ll[edge_at], rho0[edge_at], up[edge_at], down[edge_at])
                for k, lo, hi in zip(edge_at, low.tolist(), high.tolist(), strict=True):
                    lows[k], highs[k] = lo, hi
            k = 0
            group_logs: dict[str, list[float]] = {}
            for group, _, t in rows:
                if t is not None:
                    group_logs.setdefault(group, []).append(worse[k])
                    k += 1
            for group, logs in group_logs.items():
                top = max(logs)
                stats[group] = top + math.log(sum(math.exp(v - top) for v in logs) / len(logs))
        evidence: list[Evidence] = []
        statistic = {g: eprocess.to_e(v) for g, v in stats.items()}
        configs = {g: self.config.metric(g) for g in names}
        k = 0
        for group, test_name, t in rows:
            ms = self.state["metrics"].get(group)
            note = notes.get(group, "")
            if t is None:
                if ms is not None and ms.get("kind") == "histogram" and not ms.get("planned"):
                    status, note = "warming-up", note or "warming up"
                elif ms is not None and ms.get("planned"):
                    status, note = "untestable", ms.get("note", "")
                else:
                    status = "no-data"
                evidence.append(
                    Evidence(
                        test_name,
                        0,
                        0,
                        0,
                        0,
                        1.0,
                        threshold,
                        group=group,
                        status=status,
                        note=note,
                    )
                )
                continue
            xc, nc, yb, nb = t["cum"]
            ratio = (xc / nc) / (yb / nb) if nc and nb and yb else None
            ev = Evidence(
                metric=test_name,
                challenger_events=xc,
                challenger_total=nc,
                champion_events=yb,
                champion_total=nb,
                statistic=statistic[group],
                threshold=threshold,
                e_value=eprocess.to_e(worse[k]),
                log_e_value=worse[k],
                safety=eprocess.to_e(better[k]),
                null_ratio=t["rho0"],
                ratio=ratio,
                ratio_low=None if math.isnan(lows[k]) else lows[k],
                ratio_high=None if math.isnan(highs[k]) else highs[k],
                group=group,
                edge=t.get("edge"),
                challenger_edge=t.get("cedge"),
                wanted_quantile=t.get("q"),
                real_quantile=t.get("rq"),
            )
            k += 1
            if t.get("kind") == "mean":
                warm, own_c, _ = t.get("sp") or [means.no_windows()] * 3
                ev.spread = (warm, own_c)
            if "edge" in t or t.get("kind") == "mean":
                cfg = configs[group]
                ev.how, ev.unit = t.get("how", "mean"), cfg.unit
                ev.higher_is_worse = cfg.direction != "lower-is-worse"
            ev.note = note
            evidence.append(ev)
        return evidence + untested, stats

    def _all_within(self, evidence: list[Evidence]) -> bool:
        """The promote rule: every configured metric is tested and every one of its tests is
        shown within its margin at level alpha/M (split over a histogram's edges)."""
        groups: dict[str, list[Evidence]] = {}
        for e in evidence:
            if e.status != "untested":  # quantiles the buckets cannot resolve: said, not held
                groups.setdefault(e.group, []).append(e)
        if len(groups) < self.m:
            return False
        for tests in groups.values():
            if any(e.status != "testing" for e in tests):
                return False
            needed = self.m * len(tests) / self.config.alpha
            if any(e.safety < needed for e in tests):
                return False
        return True

    # --- the planned last look ---------------------------------------------------------------
    def finalize(self) -> Verdict:
        """The planned final look at the end of the horizon: an exact binomial test per
        test on the pooled counts, at alpha·final_look_share / M (split over a histogram's
        edges). Promotes when nothing is rejected; never rolls back without data."""
        evidence, _ = self._evidence({}, {})
        alpha_metric = self.config.alpha_final / self.m
        failed: list[tuple[float, Evidence, float, str]] = []
        seen_data = False
        for e in evidence:
            ms = self.state["metrics"].get(e.group)
            t = ms["tests"].get(e.metric) if ms else None
            if t is None:
                continue
            level = alpha_metric / len(ms["tests"]) if ms else alpha_metric
            if t.get("kind") == "mean":
                if t["z"][1] <= 0:
                    continue
                seen_data = True
                p = float(means.p_value(t["z"][0], t["z"][1]))
            else:
                sx, sm, smp = t["fin"]
                if sm <= 0:
                    continue
                seen_data = True
                p = float(p_value(sx, sm, smp / sm, t["higher"]))
            e.note = "; ".join(
                filter(None, [e.note, f"final {_final_name(t)} p={p:.3g} (needs < {level:.3g})"])
            )
            if p < level:
                failed.append((p, e, level, _final_name(t)))
        if failed:
            p, worst, level, test_name = min(failed, key=lambda f: f[0])
            return Verdict(
                "rollback",
                f"final look: {explain.seen(worst)}; {test_name} p={p:.2g} < {level:.2g})",
                evidence,
                reasons.REGRESSION_DETECTED,
            )
        if not seen_data and not self.config.metrics and not self.state["metrics"]:
            return Verdict(
                "promote",
                "horizon reached; no analysis metrics are configured",
                evidence,
                reasons.NO_REGRESSION,
            )
        if not seen_data:
            return Verdict(
                "continue",
                "insufficient evidence at the horizon: no metric ever had traffic on both versions; "
                "neither promoting nor rolling back on no data",
                evidence,
                reasons.INSUFFICIENT_EVIDENCE,
            )
        return Verdict(
            "promote",
            "horizon reached with no regression detected (sequential e-values and the final tests)",
            evidence,
            reasons.NO_REGRESSION,
        )
