"""The judge: per-interval counts in, a decision with its evidence out. Pure and serialisable."""

from __future__ import annotations

import math
from typing import Any

from scipy.stats import binomtest

from champion.domain.judge import evalue
from champion.domain.judge.histograms import choose_edges, exceedances
from champion.domain.judge.types import (
    Counts,
    Evidence,
    JudgeConfig,
    Observation,
    Verdict,
)


class Judge:
    """Anytime-valid sequential comparison of a challenger with its champion.

    `observe` may be called at any cadence, as often as wanted: the chance of a
    false rollback over the whole rollout stays below `alpha` (the sequential
    part gets `alpha·(1 − final_look_share)`, the planned final look the rest,
    each split evenly across the M metrics).
    """

    def __init__(self, config: JudgeConfig, state: dict[str, Any] | None = None) -> None:
        self.config = config
        self.state: dict[str, Any] = state if state is not None else {"metrics": {}, "looks": 0}

    # --- persistence -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return self.state

    @classmethod
    def from_dict(cls, config: JudgeConfig, state: dict[str, Any] | None) -> Judge:
        return cls(config, state)

    # --- helpers -----------------------------------------------------------------------
    def _m(self) -> int:
        return max(1, len(self.config.metrics) or len(self.state["metrics"]) or 1)

    def sequential_threshold(self) -> float:
        return self._m() / (self.config.alpha * (1.0 - self.config.final_look_share))

    def _metric_state(self, name: str) -> dict[str, Any]:
        ms: dict[str, Any] = self.state["metrics"].setdefault(name, {})
        ms.setdefault("bad", [0.0] * len(evalue.WORSE_GRID))
        ms.setdefault("good", [0.0] * len(evalue.BETTER_GRID))
        ms.setdefault("cum", [0.0, 0.0, 0.0, 0.0])
        ms.setdefault("shares", [0.0, 0.0])  # sum of share*m and m, for the final look
        return ms

    def _to_counts(
        self, name: str, obs: Observation, ms: dict[str, Any]
    ) -> tuple[Counts | None, str]:
        if obs is None:
            return None, "no data"
        if isinstance(obs, Counts):
            return obs, ""
        cfg = self.config.metric(name)
        choice = ms.get("edges")
        if choice is None:
            warm = ms.setdefault("warmup", [0.0] * len(obs.champion_counts))
            if len(warm) != len(obs.champion_counts):
                warm = [0.0] * len(obs.champion_counts)
            warm = [a + b for a, b in zip(warm, obs.champion_counts, strict=True)]
            ms["warmup"] = warm
            picked = choose_edges(obs.edges, warm, cfg.quantile, cfg.margin)
            if picked is None:
                return (
                    None,
                    "warming up: choosing the latency edge from the champion's distribution",
                )
            ms["edges"] = [picked.champion_index, picked.challenger_index, picked.real_quantile]
            ms["edge_detail"] = picked.describe(obs.edges, cfg.quantile)
            choice = ms["edges"]
        from champion.domain.judge.histograms import EdgeChoice

        return exceedances(
            obs, EdgeChoice(int(choice[0]), int(choice[1]), float(choice[2]))
        ), ms.get("edge_detail", "")

    def _null_ratio(self, name: str) -> tuple[float, bool]:
        cfg = self.config.metric(name)
        worse_is_higher = cfg.direction == "higher-is-worse"
        if isinstance(self.state["metrics"].get(name, {}).get("edges"), list):
            return 1.0, True  # the margin is already in the challenger's higher edge
        return (1.0 + cfg.margin, True) if worse_is_higher else (max(1e-6, 1.0 - cfg.margin), False)

    # --- the per-interval look -------------------------------------------------------------
    def observe(
        self, observations: dict[str, Observation], expected_share: float | None = None
    ) -> Verdict:
        self.state["looks"] = int(self.state.get("looks", 0)) + 1
        threshold = self.sequential_threshold()
        evidence: list[Evidence] = []
        seen_data = False
        srm = False
        for name, obs in observations.items():
            ms = self._metric_state(name)
            counts, detail = self._to_counts(name, obs, ms)
            if counts is not None and counts.challenger_total > 0 and counts.champion_total > 0:
                seen_data = True
                ratio0, higher_is_worse = self._null_ratio(name)
                share = counts.challenger_total / (counts.challenger_total + counts.champion_total)
                x, m = counts.challenger_events, counts.challenger_events + counts.champion_events
                bad_grid = evalue.WORSE_GRID if higher_is_worse else evalue.BETTER_GRID
                good_grid = evalue.BETTER_GRID if higher_is_worse else evalue.WORSE_GRID
                ms["bad"] = evalue.update(
                    ms["bad"][: len(bad_grid)] + [0.0] * (len(bad_grid) - len(ms["bad"])),
                    bad_grid,
                    x,
                    m,
                    share,
                    ratio0,
                )
                ms["good"] = evalue.update(
                    ms["good"][: len(good_grid)] + [0.0] * (len(good_grid) - len(ms["good"])),
                    good_grid,
                    x,
                    m,
                    share,
                    ratio0,
                )
                cum = ms["cum"]
                ms["cum"] = [
                    cum[0] + x,
                    cum[1] + counts.challenger_total,
                    cum[2] + counts.champion_events,
                    cum[3] + counts.champion_total,
                ]
                ms["shares"] = [ms["shares"][0] + share * m, ms["shares"][1] + m]
                if expected_share is not None and 0 < expected_share < 1 and not srm:
                    n = counts.challenger_total + counts.champion_total
                    if n >= 100:
                        p = binomtest(
                            round(counts.challenger_total), round(n), expected_share
                        ).pvalue
                        srm = bool(p < self.config.srm_alpha)
            evidence.append(self._evidence(name, ms, threshold, detail))
        rollback = [e for e in evidence if e.statistic >= threshold]
        if rollback:
            worst = max(rollback, key=lambda e: e.statistic)
            return Verdict("rollback", "RegressionDetected", self._explain(worst), evidence, srm)
        if srm:
            return Verdict(
                "continue",
                "SampleRatioMismatch",
                "observed traffic split differs from the configured weight: routing may be broken; holding",
                evidence,
                True,
            )
        if not seen_data:
            return Verdict(
                "continue",
                "InsufficientEvidence",
                "no traffic or no data for any metric in this interval: holding, never failing",
                evidence,
            )
        if (
            self.config.promote_early
            and evidence
            and all(e.safety >= self._m() / self.config.alpha for e in evidence)
        ):
            return Verdict(
                "promote",
                "NoRegressionDetected",
                "every metric is shown within its margin",
                evidence,
            )
        return Verdict("continue", "AnalysisContinue", "no regression detected yet", evidence)

    def finalize(self) -> Verdict:
        """The planned final look: an exact conditional binomial test per metric on pooled counts."""
        alpha_final = self.config.alpha * self.config.final_look_share / self._m()
        evidence: list[Evidence] = []
        failed: list[tuple[Evidence, float]] = []
        for name, ms in self.state["metrics"].items():
            ev = self._evidence(name, ms, self.sequential_threshold(), ms.get("edge_detail", ""))
            x, m = ms["cum"][0], ms["cum"][0] + ms["cum"][2]
            if m >= self.config.min_events and ms["shares"][1] > 0:
                share = ms["shares"][0] / ms["shares"][1]
                ratio0, higher_is_worse = self._null_ratio(name)
                p0 = evalue.share_to_p(share, ratio0)
                alternative = "greater" if higher_is_worse else "less"
                pvalue = binomtest(round(x), round(m), p0, alternative=alternative).pvalue
                ev.detail = (
                    f"{ev.detail}; final exact test p={pvalue:.3g} vs {alpha_final:.3g}".strip("; ")
                )
                if pvalue < alpha_final:
                    failed.append((ev, pvalue))
            evidence.append(ev)
        if failed:
            worst, pvalue = min(failed, key=lambda t: t[1])
            return Verdict(
                "rollback",
                "RegressionDetected",
                f"final look: {worst.metric} worse than its margin (exact test p={pvalue:.2g} < {alpha_final:.2g})",
                evidence,
            )
        return Verdict(
            "promote",
            "NoRegressionDetected",
            "horizon reached with no regression detected",
            evidence,
        )

    # --- reporting ---------------------------------------------------------------------------
    def _evidence(self, name: str, ms: dict[str, Any], threshold: float, detail: str) -> Evidence:
        cum = ms["cum"]
        return Evidence(
            metric=name,
            challenger_events=cum[0],
            challenger_total=cum[1],
            champion_events=cum[2],
            champion_total=cum[3],
            statistic=_finite(evalue.mixture(ms["bad"])),
            threshold=threshold,
            safety=_finite(evalue.mixture(ms["good"])),
            detail=detail,
        )

    def _explain(self, ev: Evidence) -> str:
        rc = ev.challenger_events / ev.challenger_total if ev.challenger_total else 0.0
        rb = ev.champion_events / ev.champion_total if ev.champion_total else 0.0
        ratio = (rc / rb) if rb > 0 else math.inf
        what = f" ({ev.detail})" if ev.detail else ""
        return (
            f"{ev.metric}: challenger {rc:.2%} of requests vs champion {rb:.2%} "
            f"(ratio {ratio:.2f}; e-value {ev.statistic:.3g} ≥ {ev.threshold:.3g} = M/alpha){what}"
        )


def _finite(value: float) -> float:
    return 1e300 if math.isinf(value) else value
