"""How big a Rollout's objects get: `.status` and the largest object, before and after the split.

`python -m benchmarks.status_size` drives the real state machine (`decide`) and the real split
(`domain/rollout/evidence.py`) with a fake clock and synthetic metrics, and writes what each
reconcile would write. Side by side, in one process and on the same decisions:

- before: what Champion wrote until the split, everything in `.status` (the judge state and the
  last 30 decisions with their evidence);
- after: `.status` as written now, and the evidence ConfigMap.

Scenarios, all on the demo's Rollout (examples/demo/40-rollout.yaml: gate, shadow, two canary
steps; latency (3 histograms) and errors analysed every 5 s):
- demo: its three releases (v1 first, v2 promoted, v3 rolled back on errors);
- 20 releases, each promoted;
- one 6-hour canary (the first step lasts 6 h; an interval every 5 s, 4,320 in all), sampled
  each hour.

No cluster runs: the sizes are those of the JSON written (the API server adds metadata to both
layouts alike). The metrics are synthetic; what they change is the judge state's numbers, not
its shape, and the evidence lines' count (one per metric per decision).
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from champion.api.v1alpha1.rollout import RolloutSpec, RolloutStatus
from champion.builders.evidence import evidence_configmap
from champion.builders.workloads import Owner
from champion.domain.judge import Counts, Histogram
from champion.domain.metrics_catalog import expand
from champion.domain.rollout.evidence import Evidence, restore, split
from champion.domain.rollout.machine import decide
from champion.domain.rollout.observations import EvalState, Observations, VersionFacts
from champion.reconcile.rollout_observe import analysis_due

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 12, 1, tzinfo=UTC)
EDGES = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]
PROFILE = [0.05, 0.25, 0.35, 0.2, 0.1, 0.04, 0.009, 0.001]  # share per bucket, +Inf last
OLD_HISTORY = 30  # decisions the status kept before the split
OWNER = Owner("champion.dev/v1alpha1", "Rollout", "chat", "00000000-0000-0000-0000-000000000000")
KIB = 1024


def demo_spec(**strategy: Any) -> RolloutSpec:
    doc = yaml.safe_load((ROOT / "examples" / "demo" / "40-rollout.yaml").read_text())
    spec = doc["spec"]
    for key, value in strategy.items():
        spec["strategy"][key] = value
    return RolloutSpec.model_validate(spec)


def size(obj: Any) -> int:
    return len(json.dumps(obj, separators=(",", ":")))


@dataclass
class Sizes:
    before_status: int = 0
    after_status: int = 0
    configmap: int = 0
    writes: int = 0
    configmap_writes: int = 0
    samples: list[tuple[str, int, int, int]] = field(default_factory=list)

    def sample(self, label: str, before: int, after: int, cm: int) -> None:
        self.samples.append((label, before, after, cm))


class World:
    """One Rollout, its versions always Ready, its gate passing, and its metrics."""

    def __init__(self, spec: RolloutSpec, seed: int = 1) -> None:
        self.spec = spec
        self.status = RolloutStatus()
        self.stored: Evidence | None = None
        self.now = T0
        self.rng = random.Random(seed)
        self.metrics = expand(spec.analysis.metrics)
        self.slow: set[str] = set()
        self.sizes = Sizes()

    def _hist(self, n: int, slow: bool) -> list[float]:
        """n requests drawn over the buckets (the last is +Inf); slow: two buckets later."""
        profile = [0.0, 0.0, *PROFILE[:-2], PROFILE[-2] + PROFILE[-1]] if slow else PROFILE
        counts = [0.0] * len(profile)
        for _ in range(n):
            r, acc = self.rng.random(), 0.0
            for i, p in enumerate(profile):
                acc += p
                if r < acc or i == len(profile) - 1:
                    counts[i] += 1
                    break
        return counts

    def observations(self) -> Observations:
        s = self.status
        versions = {
            n: VersionFacts(n, ready=True, replicas=1, gpus_per_replica=1)
            for n in {self.spec.model_version, s.champion, s.challenger} - {None}
            if n is not None
        }
        evals = {
            suite: EvalState("passed", score=1.0)
            for suite in (
                self.spec.strategy.eval_gate.suites if self.spec.strategy.eval_gate else []
            )
        }
        data = None
        if analysis_due(self.spec, s, self.now) is not None:
            slow = s.challenger in self.slow  # a bad version: slower, and 10x the errors
            share = (s.mirror_percent or s.weights.challenger) / 100
            n = 20 * self.spec.analysis.interval_seconds  # 20 rps
            c, k = int(n * share), n - int(n * share) if s.weights.challenger else n
            data = {}
            for m in self.metrics:
                if m.kind == "histogram":
                    data[m.name] = Histogram(EDGES, self._hist(c, slow), self._hist(k, False))
                else:
                    rate = 0.05 if slow else 0.005
                    errors = sum(self.rng.random() < rate for _ in range(c))
                    data[m.name] = Counts(
                        errors, c, sum(self.rng.random() < 0.005 for _ in range(k)), k
                    )
        return Observations(versions, evals=evals, metrics=data)

    def reconcile(self) -> None:
        whole = restore(self.status, self.stored).status
        decision = decide(self.spec, whole, self.observations(), self.now, 1)
        parts = split(decision.status, self.stored, "chat")
        s = self.sizes
        s.writes += 1
        if parts.evidence is not None or not hasattr(self, "last"):
            # Sizes change only with the judge state or a decision: measured then.
            old = decision.status.model_copy(deep=True)
            old.history = old.history[
                -OLD_HISTORY:
            ]  # before: the whole status, as written until the split
            old.evidence = None
            before = size(old.to_wire())
            if parts.evidence is not None:
                self.stored = parts.evidence
                s.configmap_writes += 1
            cm = size(evidence_configmap("demo", OWNER, self.stored)) if self.stored else 0
            self.last = (before, 0, cm)
        self.status = parts.status
        after = size(self.status.to_wire())
        self.last = (self.last[0], after, self.last[2])
        s.before_status = max(s.before_status, self.last[0])
        s.after_status = max(s.after_status, after)
        s.configmap = max(s.configmap, self.last[2])

    def release(self, version: str, *, slow: bool = False, until: str = "done") -> None:
        """Sets spec.modelVersion and reconciles once a second until the release ends."""
        if slow:
            self.slow.add(version)
        self.spec = self.spec.model_copy(update={"model_version": version})
        for _ in range(4 * 3600):
            self.reconcile()
            self.now += timedelta(seconds=1)
            s = self.status
            if s.phase in ("Succeeded", "RolledBack") and version in (s.champion, s.challenger):
                return
        raise AssertionError(f"{version} never finished: {self.status.phase} {self.status.message}")


def scenario_demo() -> Sizes:
    w = World(demo_spec())
    w.release("chat-v1")
    w.release("chat-v2")
    w.release("chat-v3", slow=True)
    assert w.status.phase == "RolledBack", w.status.message
    w.sizes.sample("after the demo", *w.last)
    return w.sizes


def scenario_releases(n: int) -> Sizes:
    w = World(demo_spec())
    w.release("chat-v0")
    for i in range(1, n + 1):
        w.release(f"chat-v{i}")
        assert w.status.champion == f"chat-v{i}", w.status.message
        if i in (1, 5, 10, n):
            w.sizes.sample(f"after release {i}", *w.last)
    return w.sizes


def scenario_long_canary(hours: int) -> Sizes:
    steps = [{"weight": 20, "durationSeconds": hours * 3600}, {"weight": 50, "durationSeconds": 20}]
    w = World(demo_spec(canary={"steps": steps}))
    w.release("chat-v1")
    w.spec = w.spec.model_copy(update={"model_version": "chat-v2"})
    started: datetime | None = None
    while True:
        w.reconcile()
        w.now += timedelta(seconds=1)
        if w.status.phase == "Canary" and started is None:
            started = w.now
        if started is not None:
            elapsed = (w.now - started).total_seconds()
            if elapsed % 3600 == 0 and elapsed:
                w.sizes.sample(f"canary hour {int(elapsed // 3600)}", *w.last)
            if elapsed >= hours * 3600:
                break
        assert w.status.phase not in ("RolledBack", "Succeeded"), w.status.message
    return w.sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--releases", type=int, default=20)
    parser.add_argument("--hours", type=int, default=6)
    args = parser.parse_args()
    rows: list[tuple[str, Sizes]] = [
        ("demo (3 releases)", scenario_demo()),
        (f"{args.releases} releases", scenario_releases(args.releases)),
        (f"{args.hours}-hour canary", scenario_long_canary(args.hours)),
    ]
    print(
        "| scenario | `.status` before (KiB) | `.status` after (KiB) | ratio | evidence ConfigMap (KiB) | largest object after (KiB) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, s in rows:
        largest = max(s.after_status, s.configmap)
        print(
            f"| {name} | {s.before_status / KIB:.1f} | {s.after_status / KIB:.1f} | "
            f"{s.before_status / s.after_status:.1f}× | {s.configmap / KIB:.1f} | {largest / KIB:.1f} |"
        )
    print()
    print("| moment | `.status` before (KiB) | `.status` after (KiB) | evidence ConfigMap (KiB) |")
    print("|---|---:|---:|---:|")
    for _, s in rows:
        for label, before, after, cm in s.samples:
            print(f"| {label} | {before / KIB:.1f} | {after / KIB:.1f} | {cm / KIB:.1f} |")
    worst_status = max(s.after_status for _, s in rows)
    worst_object = max(max(s.after_status, s.configmap) for _, s in rows)
    print()
    print(
        f"goal: .status <= 8 KiB ({'met' if worst_status <= 8 * KIB else 'NOT met'}: "
        f"{worst_status / KIB:.1f} KiB), no object over 256 KiB "
        f"({'met' if worst_object <= 256 * KIB else 'NOT met'}: {worst_object / KIB:.1f} KiB)"
    )


if __name__ == "__main__":
    main()
