"""Runs every method on every scenario at every rate: calibration first, then the cells."""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from benchmarks.judge import baselines
from benchmarks.judge.champion import judge_config, run_champion
from benchmarks.judge.scenarios import INTERVAL, SCENARIOS, Scenario
from benchmarks.judge.simulate import Data, simulate
from champion.domain.judge import JudgeConfig

CHAMPION = "Champion judge"
CHAMPION_SHARE = "Champion judge, slow-share margin"
ALPHA = 0.05


@dataclass(frozen=True)
class Settings:
    runs_aa: int = 2000
    runs_regression: int = 500
    runs_calibration: int = 1000
    rps: tuple[float, ...] = (1.0, 10.0, 100.0)
    scenarios: tuple[str, ...] = tuple(s.name for s in SCENARIOS)
    seed: int = 2026
    chunk: int = 500
    jobs: int = max(1, min(2, os.cpu_count() or 1))


@dataclass
class Cell:
    scenario: Scenario
    rps: float
    times: dict[str, np.ndarray] = field(default_factory=dict)
    """Method -> seconds to roll back per run (inf: never within the horizon)."""
    exposure: dict[str, np.ndarray] = field(default_factory=dict)
    """Method -> challenger requests served before the rollback (all of them if none)."""
    promoted_early: float = 0.0
    seconds: float = 0.0


def share_margin_config(workload: str) -> JudgeConfig:
    """The same judge with histogram margins stated as the share of slow requests
    (the challenger may have up to 30% more requests beyond each edge), no latency margin."""
    base = judge_config(workload)
    metrics = {
        name: (
            replace(cfg, margin=0.3, latency_margin=0.0)
            if name not in ("errors", "thumbs_up")
            else cfg
        )
        for name, cfg in base.metrics.items()
    }
    return replace(base, metrics=metrics)


def _seed(settings: Settings, *parts: int) -> int:
    return int(np.random.SeedSequence([settings.seed, *parts]).generate_state(1)[0])


def _scenario_index(s: Scenario) -> int:
    return [x.name for x in SCENARIOS].index(s.name)


def calibrate(workload: str, rps: float, settings: Settings) -> dict[str, object]:
    """Bounds for each threshold rule: calibrated on the identical A/A only, and on
    every A/A scenario of the workload (separate seeds from the evaluation)."""
    aa = [s for s in SCENARIOS if s.workload == workload and not s.regression]
    sets = [
        baselines.checks(
            simulate(
                s,
                rps,
                settings.runs_calibration,
                _seed(settings, 1, _scenario_index(s), int(rps * 10)),
            )
        )
        for s in aa
    ]
    out: dict[str, object] = {}
    for label, rule in baselines.RULES.items():
        out[f"{label}, calibrated on A/A identical"] = baselines.calibrate(rule, sets[:1], ALPHA)
        if len(sets) > 1:
            out[f"{label}, calibrated on all A/A"] = baselines.calibrate(rule, sets, ALPHA)
    return out


def _exposure(data: Data, t: np.ndarray) -> np.ndarray:
    served = np.cumsum(data.challenger.requests, axis=1)
    done = np.isfinite(t)
    idx = np.full(data.runs, data.intervals - 1)
    idx[done] = np.clip(t[done] // INTERVAL - 1, 0, data.intervals - 1).astype(int)
    return served[np.arange(data.runs), idx].astype(float)


def evaluate(
    scenario: Scenario, rps: float, settings: Settings, calibrated: dict[str, object]
) -> Cell:
    started = time.perf_counter()
    runs = settings.runs_regression if scenario.regression else settings.runs_aa
    cell = Cell(scenario, rps)
    parts: dict[str, list[np.ndarray]] = {}
    exposure: dict[str, list[np.ndarray]] = {}
    promoted = 0
    cfg = judge_config(scenario.workload)
    cfg_share = share_margin_config(scenario.workload)
    for k, start in enumerate(range(0, runs, settings.chunk)):
        n = min(settings.chunk, runs - start)
        data = simulate(
            scenario, rps, n, _seed(settings, 2, _scenario_index(scenario), int(rps * 10), k)
        )
        outcome = run_champion(data, cfg)
        promoted += int(outcome.promoted_early.sum())
        results = {
            CHAMPION: outcome.time,
            CHAMPION_SHARE: run_champion(data, cfg_share).time,
        }
        cs = baselines.checks(data)
        hand = baselines.hand_set(data)
        for label, rule in baselines.RULES.items():
            results[f"{label}, hand-set"] = rule(cs, hand)
        for label, found in calibrated.items():
            if found is not None:
                bounds = found[0]  # type: ignore[index]
                rule = baselines.RULES[label.split(",")[0]]
                results[label] = rule(cs, bounds)
        results["Kayenta-style Mann-Whitney"] = baselines.kayenta(cs)
        results["naive repeated z-test"] = baselines.naive_z(outcome.tests)
        results["fixed-horizon z-test"] = baselines.fixed_horizon_z(outcome.tests)
        for name, t in results.items():
            parts.setdefault(name, []).append(t)
            exposure.setdefault(name, []).append(_exposure(data, t))
    cell.times = {k: np.concatenate(v) for k, v in parts.items()}
    cell.exposure = {k: np.concatenate(v) for k, v in exposure.items()}
    cell.promoted_early = promoted / runs
    cell.seconds = time.perf_counter() - started
    return cell


def _calibrate_job(args: tuple[str, float, Settings]) -> tuple[str, float, dict[str, object]]:
    workload, rps, settings = args
    return workload, rps, calibrate(workload, rps, settings)


def _evaluate_job(args: tuple[Scenario, float, Settings, dict[str, object]]) -> Cell:
    return evaluate(*args)


def run(settings: Settings) -> tuple[list[Cell], dict[tuple[str, float], dict[str, object]]]:
    chosen = [s for s in SCENARIOS if s.name in settings.scenarios]
    workloads = sorted({s.workload for s in chosen})
    jobs = [(w, r, settings) for w in workloads for r in settings.rps]
    cells_args = []
    with ProcessPoolExecutor(settings.jobs) as pool:
        calibrations = {(w, r): c for w, r, c in pool.map(_calibrate_job, jobs)}
        for s in chosen:
            for r in settings.rps:
                cells_args.append((s, r, settings, calibrations[(s.workload, r)]))
        # Largest cells first keeps both workers busy to the end.
        cells_args.sort(
            key=lambda a: (
                -(a[2].runs_aa if not a[0].regression else a[2].runs_regression)
                * (2 if a[0].workload == "llm" else 1)
            )
        )
        cells = list(pool.map(_evaluate_job, cells_args))
    order = {
        (s.name, r): k for k, (s, r) in enumerate((s, r) for s in chosen for r in settings.rps)
    }
    cells.sort(key=lambda c: order[(c.scenario.name, c.rps)])
    return cells, calibrations
