"""Rollout: one serving endpoint and the policy that moves it from champion to challenger."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import ConfigDict, Field

from champion.api.v1alpha1.base import ApiModel
from champion.api.v1alpha1.common import Condition, ObjectName, Percent


class ParentReference(ApiModel):
    """A Gateway (or other parent) the HTTPRoute attaches to."""

    name: ObjectName
    namespace: ObjectName | None = None
    section_name: Annotated[str | None, Field(default=None, max_length=253)] = None
    group: str = "gateway.networking.k8s.io"
    kind: str = "Gateway"


class TrafficProvider(StrEnum):
    GATEWAY_API = "gateway-api"
    """One HTTPRoute: weighted backendRefs for canary, RequestMirror for shadow."""


class Endpoint(ApiModel):
    parent_refs: list[ParentReference] = Field(default_factory=list, max_length=32)
    hostnames: list[
        Annotated[
            str,
            Field(
                max_length=253,
                pattern=r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
            ),
        ]
    ] = Field(default_factory=list, max_length=16)
    path: Annotated[str, Field(pattern=r"^/.*$", max_length=1024)] = "/"
    provider: TrafficProvider = TrafficProvider.GATEWAY_API


class EvalGate(ApiModel):
    suites: list[ObjectName] = Field(
        default_factory=list, description="EvalSuites that must pass before any production traffic."
    )
    timeout_seconds: Annotated[int, Field(ge=10, le=86400)] = 1800


class ShadowPhase(ApiModel):
    duration_seconds: Annotated[
        int, Field(ge=0, le=604800, description="How long to mirror traffic; 0 skips shadow.")
    ] = 300
    mirror_percent: Annotated[int, Field(ge=1, le=100)] = 100


class CanaryStep(ApiModel):
    weight: Annotated[
        int, Field(ge=1, le=100, description="Challenger's share of live traffic, percent.")
    ]
    duration_seconds: Annotated[int, Field(ge=0, le=604800)] = 300
    pause: bool = Field(
        default=False,
        description="Wait for a `champion.dev/resume` or promote annotation after the duration.",
    )


class CanaryPhase(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.steps.map(s, s.weight).isSorted() && self.steps.all(s, self.steps.exists_one(t, t.weight == s.weight))",
                    "message": "canary step weights must strictly increase (e.g. 10, 25, 50)",
                    "fieldPath": ".steps",
                }
            ]
        }
    )

    steps: list[CanaryStep] = Field(
        default_factory=lambda: [CanaryStep(weight=10), CanaryStep(weight=50)],
        min_length=1,
        max_length=32,
    )


class CapacityMode(StrEnum):
    SURGE = "surge"
    """The challenger needs free GPUs in its pool on top of the champion's."""
    SWAP = "swap"
    """The champion gives up the challenger's replicas' GPUs: total GPU use stays flat."""


class Strategy(ApiModel):
    eval_gate: EvalGate | None = None
    shadow: ShadowPhase | None = Field(default_factory=ShadowPhase)
    canary: CanaryPhase = Field(default_factory=CanaryPhase)
    capacity_mode: CapacityMode = CapacityMode.SURGE
    scale_down_delay_seconds: Annotated[int, Field(ge=0, le=86400)] = 300
    allow_unpinned_artifacts: bool = False


class MetricPreset(StrEnum):
    VLLM_LATENCY = "vllm-latency"
    """vLLM e2e latency, time to first token and time per output token histograms."""
    VLLM_ERRORS = "vllm-errors"
    """HTTP 5xx and aborted requests from vLLM's counters."""
    KSERVE_LATENCY = "kserve-latency"
    """KServe model server request_predict_seconds histogram."""
    FEEDBACK = "feedback"
    """User feedback counters (thumbs down per version)."""
    EVAL_SCORE = "eval-score"
    """Eval failures exported by Champion's scheduled EvalSuites."""


class MetricKind(StrEnum):
    COUNTS = "counts"
    """Events out of a total (errors, thumbs-down): eventsQuery and totalQuery."""
    HISTOGRAM = "histogram"
    """A Prometheus histogram's buckets (bucketQuery): latency."""


class Direction(StrEnum):
    HIGHER_IS_WORSE = "higher-is-worse"
    LOWER_IS_WORSE = "lower-is-worse"


class AnalysisMetric(ApiModel):
    """A preset, or custom PromQL with `{{version}}` standing for the version's label value."""

    name: Annotated[
        str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$")
    ]
    preset: MetricPreset | None = None
    kind: MetricKind | None = None
    events_query: Annotated[str | None, Field(default=None, max_length=4096)] = None
    total_query: Annotated[str | None, Field(default=None, max_length=4096)] = None
    bucket_query: Annotated[str | None, Field(default=None, max_length=4096)] = None
    sum_query: Annotated[
        str | None,
        Field(
            default=None,
            max_length=4096,
            description='Custom histograms only: the histogram\'s _sum (e.g. sum(my_seconds_sum{model_version="{{version}}"})), for the mean-latency test; presets set it themselves.',
        ),
    ] = None
    direction: Direction = Direction.HIGHER_IS_WORSE
    margin: Annotated[
        float,
        Field(
            ge=0,
            le=10,
            description="Tolerated relative worsening (0.1 = 10%). For latency histograms without latencyMargin: how much slower the challenger may be.",
        ),
    ] = 0.1
    latency_margin: Annotated[
        float | None,
        Field(
            default=None,
            ge=0,
            le=10,
            description="Histograms only: how much slower the challenger may be (0 = not at all). When set, margin becomes the tolerated relative increase of the share of requests beyond each tested edge (e.g. latencyMargin 0, margin 0.3: up to 30% more slow requests).",
        ),
    ] = None


class InconclusiveAction(StrEnum):
    ROLLBACK = "rollback"
    PAUSE = "pause"


class Analysis(ApiModel):
    interval_seconds: Annotated[int, Field(ge=1, le=3600)] = 30
    metrics: list[AnalysisMetric] = Field(default_factory=list, max_length=32)
    alpha: Annotated[
        float, Field(gt=0, lt=0.5, description="False-rollback budget over the whole rollout.")
    ] = 0.05
    max_inconclusive: Annotated[int, Field(ge=1, le=10000)] = 20
    on_inconclusive: InconclusiveAction = InconclusiveAction.ROLLBACK
    version_label: Annotated[str, Field(min_length=1, max_length=63)] = "model_version"
    warmup_seconds: Annotated[
        int,
        Field(
            ge=0,
            le=86400,
            description="Seconds of the champion's own history before the analysis starts, read once to place latency histogram edges at its p50/p90/p99 and, in 10 s windows, to estimate how much its mean latency varies for the mean test (those requests are never tested). 0, or too little history: the edges come from the analysis' first requests instead, and the mean test uses the buckets' worst-case spread until the canary's own intervals give an estimate.",
        ),
    ] = 600


class RolloutSpec(ApiModel):
    model_version: ObjectName = Field(
        description="The desired ModelVersion; changing it starts a rollout."
    )
    endpoint: Endpoint = Field(default_factory=Endpoint)
    strategy: Strategy = Field(default_factory=Strategy)
    analysis: Analysis = Field(default_factory=Analysis)


class Phase(StrEnum):
    """Where a rollout is."""

    PENDING = "Pending"
    """Waiting for the challenger's ModelVersion to be valid."""
    CAPACITY_PENDING = "CapacityPending"
    """The pool cannot fit the challenger yet; nothing was changed."""
    EVAL_GATE = "EvalGate"
    """Offline evaluations are running against the challenger; no production traffic."""
    SHADOW = "Shadow"
    """The challenger receives mirrored traffic; its answers are discarded."""
    CANARY = "Canary"
    """The challenger serves `status.step`'s share of live traffic."""
    PAUSED = "Paused"
    """Held by a pause annotation or a paused canary step."""
    SUCCEEDED = "Succeeded"
    """The desired version is champion and serves all traffic."""
    ROLLED_BACK = "RolledBack"
    """The challenger was rejected; the champion serves all traffic."""
    ABORTED = "Aborted"
    """Stopped by an abort annotation; the champion serves all traffic."""


class Weights(ApiModel):
    champion: Percent = 100
    challenger: Percent = 0


class MetricEvidence(ApiModel):
    metric: str
    challenger_events: float | None = None
    challenger_total: float | None = None
    champion_events: float | None = None
    champion_total: float | None = None
    statistic: float | None = None
    threshold: float | None = None
    detail: str = ""


class DecisionRecord(ApiModel):
    """One decision and the evidence behind it. The Rollout's evidence ConfigMap keeps the
    recent ones with their evidence; `.status.history` keeps the last few without it."""

    seq: int | None = Field(
        default=None, description="Its number among this Rollout's decisions, from 1."
    )
    time: str
    phase: str
    step: int | None = None
    decision: str
    reason: str
    message: str = ""
    evidence: list[MetricEvidence] = Field(default_factory=list)


class EvidenceRef(ApiModel):
    """Where the judge's working state and the full decision evidence are kept.

    The ConfigMap may be ahead of the status by one reconcile (it is written first);
    these numbers say which of its contents the status committed to, so a crash between
    the two writes neither loses nor double-counts an interval."""

    config_map: str = Field(description="The ConfigMap, in the Rollout's namespace, it owns.")
    revision: int = Field(default=0, description="The judge state's revision this status saw.")
    decisions: int = Field(default=0, description="How many decisions this status recorded.")


class RolloutStatus(ApiModel):
    observed_generation: int | None = None
    phase: Phase | None = None
    message: str = ""
    champion: str | None = None
    challenger: str | None = None
    step: int | None = None
    step_label: str | None = Field(
        default=None,
        description='The phase\'s place in the strategy as messages number it: "shadow", "2/3" (canary step 2 of 3), "gate".',
    )
    reason: str | None = Field(
        default=None,
        description="The current condition's reason in one word: Degraded's when Degraded, else Progressing's.",
    )
    paused_from: Phase | None = Field(
        default=None,
        description="Paused only: the phase it returns to when resumed (EvalGate, Shadow, or Canary at status.step).",
    )
    pause_reason: str | None = Field(
        default=None,
        description="Paused only: why. ManualPause (champion.dev/pause=true), StepPause (a canary step with pause: true is done), InsufficientEvidence (spec.analysis.maxInconclusive reached with onInconclusive: pause).",
    )
    weights: Weights = Field(default_factory=Weights)
    mirror_percent: Percent = 0
    verdict: str | None = Field(
        default=None,
        description="The judge's latest verdict on the current release (promote, continue, inconclusive, rollback); cleared when a new release starts.",
    )
    phase_started_at: str | None = None
    rollout_started_at: str | None = None
    last_analysis_at: str | None = None
    inconclusive_count: int = 0
    analysis_state: dict[str, Any] | None = Field(
        default=None,
        description="Never written since the evidence ConfigMap (status.evidence) holds it; a status from an older Champion that has it is read once and moved there.",
    )
    history: list[DecisionRecord] = Field(
        default_factory=list,
        max_length=50,
        description="The last few decisions, without their evidence (`kubectl champion history` shows it, from the evidence ConfigMap).",
    )
    evidence: EvidenceRef | None = None
    gpu_hours: float = 0.0
    cost: float = 0.0
    retired: list[str] = Field(
        default_factory=list, description="Old champions waiting for scale-down."
    )
    scale_down_at: str | None = None
    handled_actions: dict[str, str] = Field(
        default_factory=dict,
        description="Manual-action annotation values already acted on (the annotations stay: Git owns them).",
    )
    cost_updated_at: str | None = None
    reserved_gpus: int = 0
    conditions: list[Condition] = Field(default_factory=list)
