"""python -m benchmarks.judge [--quick]: detection and false rollbacks, side by side, fixed seeds.

Writes benchmarks/judge/RESULTS.md and prints its headline.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from benchmarks.judge.bench import Settings, run
from benchmarks.judge.champion import (
    judge_config,
    observations,
    run_champion,
    run_judge_class,
    warmup,
)
from benchmarks.judge.report import markdown
from benchmarks.judge.scenarios import PROMETHEUS_DEFAULT, SCENARIOS
from benchmarks.judge.simulate import simulate
from champion.domain.judge import Counts, Histogram, Judge, JudgeConfig, MetricConfig, Observation

QUICK = Settings(runs_aa=300, runs_regression=150, runs_calibration=300)
FULL = Settings(runs_aa=5000, runs_regression=1000, runs_calibration=2000)


def equivalence(runs_per_cell: int, rps: tuple[float, ...], seed: int) -> tuple[int, int]:
    """(rollouts checked, mismatches) between the array judge and the Judge class."""
    checked = mismatches = 0
    for k, s in enumerate(SCENARIOS):
        for r in rps:
            data = simulate(s, r, runs_per_cell, seed + 7919 * k + int(r))
            cfg = judge_config(s.workload)
            fast = run_champion(data, cfg)
            for run_ in range(runs_per_cell):
                t, _ = run_judge_class(data, run_, cfg)
                same = fast.time[run_] == t
                checked += 1
                mismatches += not same
    return checked, mismatches


REPEATS = 5
"""Each timing is the fastest of this many passes: what the code costs, not what else the
machine was doing at the time."""


def timings() -> dict[str, float]:
    out: dict[str, float] = {}
    data = simulate(SCENARIOS[7], 10.0, 1, 5)
    cfg = judge_config("llm")
    obs = [observations(data, 0, t) for t in range(data.intervals)]
    shares = [float(w) for w in data.expected_share]
    best = math.inf
    for _ in range(REPEATS):
        judge = Judge(cfg)
        judge.warm_up(warmup(data, 0))
        started = time.perf_counter()
        for o, share in zip(obs, shares, strict=True):
            judge.observe(o, share)
        best = min(best, time.perf_counter() - started)
    out["observe_llm_us"] = best / len(obs) * 1e6
    out["state_bytes"] = len(json.dumps(judge.to_dict()))
    rng = np.random.default_rng(1)
    edges = PROMETHEUS_DEFAULT
    probs = np.diff(np.concatenate([[0.0], np.linspace(0.02, 0.995, len(edges)), [1.0]]))
    ten = JudgeConfig(metrics={f"m{i}": MetricConfig() for i in range(10)})
    # Each bucket's requests at its middle, for the `_sum` the operator reads too.
    middles = np.append((np.array(edges) + np.concatenate([[0.0], edges[:-1]])) / 2, edges[-1])

    def histogram(n: int, with_challenger: bool = True) -> Histogram:
        b = rng.multinomial(4 * n, probs)
        c = rng.multinomial(n, probs) if with_challenger else np.zeros(0, int)
        return Histogram(
            edges,
            c.tolist(),
            b.tolist(),
            float(c @ middles) if with_challenger else None,
            float(b @ middles),
        )

    for kind in ("counts", "histograms"):
        warm = {f"m{i}": histogram(1250, with_challenger=False) for i in range(10)}
        batch: list[dict[str, Observation]]
        if kind == "histograms":
            batch = [{f"m{i}": histogram(100) for i in range(10)} for _ in range(200)]
        else:
            batch = [
                {
                    f"m{i}": Counts(
                        int(rng.binomial(100, 0.02)), 100, int(rng.binomial(400, 0.02)), 400
                    )
                    for i in range(10)
                }
                for _ in range(200)
            ]
        best = math.inf
        for _ in range(REPEATS):
            judge = Judge(ten)
            if kind == "histograms":
                judge.warm_up(warm)
            started = time.perf_counter()
            for o in batch:
                judge.observe(o, 0.2)
            best = min(best, time.perf_counter() - started)
        out[f"observe_10_{kind}_us"] = best / len(batch) * 1e6
        out[f"tests_10_{kind}"] = sum(len(m["tests"]) for m in judge.state["metrics"].values())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.judge")
    parser.add_argument(
        "--quick", action="store_true", help="fewer runs, for CI (about a minute on 2 cores)"
    )
    parser.add_argument(
        "--jobs", type=int, default=None, help="worker processes (default: up to 2)"
    )
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    args = parser.parse_args()
    settings = QUICK if args.quick else FULL
    if args.jobs:
        settings = Settings(**{**settings.__dict__, "jobs": args.jobs})
    started = time.perf_counter()
    cells, calibrations = run(settings)
    timing = timings()
    checked, mismatches = equivalence(2 if args.quick else 5, settings.rps, settings.seed)
    timing["equivalence_runs"], timing["equivalence_mismatches"] = checked, mismatches
    text = markdown(
        cells,
        calibrations,
        settings,
        "quick" if args.quick else "full",
        time.perf_counter() - started,
        timing,
    )
    args.output.write_text(text)
    print(text.split("## False rollbacks")[0])
    print(f"(full tables in {args.output})")


if __name__ == "__main__":
    main()
