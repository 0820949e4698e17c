"""What the reconciler observed for one Rollout tick, and what decide() answers."""

from __future__ import annotations

from dataclasses import dataclass, field

from champion.api.v1alpha1.modelversion import Stage
from champion.api.v1alpha1.rollout import Phase, RolloutStatus
from champion.domain.judge.types import Histogram, Observation
from champion.domain.placement import Admission
from champion.domain.rollout.transitions import Event


@dataclass(frozen=True)
class VersionFacts:
    name: str
    exists: bool = True
    valid: bool = True
    message: str = ""
    pinned: bool = True
    ready: bool = False
    missing: tuple[str, ...] = ()
    """Children this version serves from that do not exist, as "Kind name"."""
    short: tuple[str, ...] = ()
    """Children that exist but are not at full strength, each as a sentence."""
    serving: bool = True
    """Its traffic Service exists and at least one replica is available (False: nothing answers)."""
    deleting: bool = False
    """Its ModelVersion is being deleted (held by the operator while a Rollout uses it)."""
    replicas: int = 1
    gpus_per_replica: int = 0
    cost_per_gpu_hour: float = 0.0


@dataclass(frozen=True)
class EvalState:
    """One eval gate suite's run for the challenger."""

    status: str  # "missing" | "running" | "passed" | "failed"
    message: str = ""
    failing_cases: tuple[str, ...] = ()
    score: float | None = None


@dataclass(frozen=True)
class Observations:
    versions: dict[str, VersionFacts] = field(default_factory=dict)
    actions: dict[str, str] = field(default_factory=dict)
    """Manual-action annotations: promote, abort, retry, pause -> value."""
    admission: Admission | None = None
    """The pool's answer for the challenger (None: not asked, e.g. no GPUs)."""
    metrics: dict[str, Observation] | None = None
    """This interval's metric deltas, when analysis was due."""
    warmup: dict[str, Histogram] | None = None
    """The champion's histograms from before the analysis began (first look only)."""
    metrics_error: str | None = None
    """Why metrics could not be read (Prometheus down, not configured)."""
    evals: dict[str, EvalState] = field(default_factory=dict)
    """Eval gate suites -> their run for the current challenger."""
    route_refused: str | None = None
    """Why the Gateway does not apply the Rollout's route (domain/route_status.py)."""

    def facts(self, name: str | None) -> VersionFacts | None:
        return None if name is None else self.versions.get(name)


@dataclass(frozen=True)
class Traffic:
    champion: str | None
    challenger: str | None
    champion_weight: int
    challenger_weight: int
    mirror_percent: int


@dataclass
class Decision:
    status: RolloutStatus
    traffic: Traffic
    children: dict[str, int]
    """Version -> replicas that should run; versions not listed are removed."""
    events: list[tuple[str, str, str]] = field(default_factory=list)
    stage_updates: dict[str, Stage] = field(default_factory=dict)
    reserve: int | None = None
    """GPUs to hold in the challenger's pool for this rollout (0 releases)."""
    finished: str | None = None
    """Outcome when the rollout ended this tick (Succeeded, RolledBack, Aborted)."""
    verdict_reason: str | None = None
    verdict_decision: str | None = None
    start_evals: list[str] = field(default_factory=list)
    """Eval gate suites whose Job should be created now."""
    transitions: list[tuple[Phase | None, Event, Phase]] = field(default_factory=list)
    """The phase changes this decision made, in order, each a row of TRANSITIONS."""
