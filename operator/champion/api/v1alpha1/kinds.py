"""CRD metadata for each kind: names, scope, printer columns, and its spec/status models."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from champion.api.v1alpha1 import GROUP, VERSION
from champion.api.v1alpha1.evalsuite import EvalSuiteSpec, EvalSuiteStatus
from champion.api.v1alpha1.gpupool import GPUPoolSpec, GPUPoolStatus
from champion.api.v1alpha1.modelversion import ModelVersionSpec, ModelVersionStatus
from champion.api.v1alpha1.rollout import RolloutSpec, RolloutStatus


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    json_path: str
    type: str = "string"
    description: str = ""
    priority: int = 0


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    namespaced: bool
    spec: type[BaseModel]
    status: type[BaseModel]
    description: str
    columns: tuple[PrinterColumn, ...] = field(default_factory=tuple)
    spec_required: bool = True

    @property
    def group(self) -> str:
        return GROUP

    @property
    def version(self) -> str:
        return VERSION

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"


_AGE = PrinterColumn("Age", ".metadata.creationTimestamp", "date")

MODELVERSION = Kind(
    kind="ModelVersion",
    plural="modelversions",
    singular="modelversion",
    short_names=("mv", "mvs"),
    namespaced=True,
    spec=ModelVersionSpec,
    status=ModelVersionStatus,
    description="An immutable release record of a model: artifact, lineage, policy and runtime.",
    columns=(
        PrinterColumn("Stage", ".status.stage", description="derived from usedBy"),
        PrinterColumn(
            "Used By",
            ".status.usedBySummary",
            description="the Rollouts serving it: role and percent of their live traffic",
        ),
        PrinterColumn(
            "Fingerprint",
            ".status.fingerprintShort",
            description="first 12 hex of the sha256 identity",
        ),
        PrinterColumn("Format", ".spec.model.format"),
        PrinterColumn("Pool", ".spec.serving.gpuPool"),
        PrinterColumn("Valid", '.status.conditions[?(@.type=="Valid")].status'),
        PrinterColumn("Placement", '.status.conditions[?(@.type=="Placement")].reason', priority=1),
        PrinterColumn("Digest", ".spec.model.digest", priority=1),
        _AGE,
    ),
)

GPUPOOL = Kind(
    kind="GPUPool",
    plural="gpupools",
    singular="gpupool",
    short_names=("gp", "gpool"),
    namespaced=False,
    spec=GPUPoolSpec,
    status=GPUPoolStatus,
    description="A set of GPU nodes whose capacity Champion counts and reserves for rollouts.",
    columns=(
        PrinterColumn("Resource", ".spec.gpuResource"),
        PrinterColumn("Nodes", ".status.nodes", "integer"),
        PrinterColumn("Capacity", ".status.capacity", "integer"),
        PrinterColumn("Allocated", ".status.allocated", "integer"),
        PrinterColumn("Reserved", ".status.reserved", "integer"),
        PrinterColumn("Free", ".status.free", "integer"),
        PrinterColumn("Cost/h", ".status.costPerHour", "number", "allocated x costPerGPUHour"),
        PrinterColumn("Ready-Nodes", ".status.readyNodes", "integer", priority=1),
        PrinterColumn("Allocatable", ".status.allocatable", "integer", priority=1),
        PrinterColumn("Util%", ".status.utilizationPercent", "number", priority=1),
        PrinterColumn("Stranded", ".status.strandedGPUs", "integer", priority=1),
        _AGE,
    ),
)

ROLLOUT = Kind(
    kind="Rollout",
    plural="rollouts",
    singular="rollout",
    # Not "ro": Argo Rollouts has it (and `rollouts`); `kubectl get mro` or `rollouts.champion.dev`.
    short_names=("mro",),
    namespaced=True,
    spec=RolloutSpec,
    status=RolloutStatus,
    description="One serving endpoint and its delivery policy from champion to challenger.",
    columns=(
        PrinterColumn("Phase", ".status.phase"),
        PrinterColumn("Step", ".status.stepLabel", description='"shadow", or canary step "2/3"'),
        PrinterColumn("Champion", ".status.champion"),
        PrinterColumn("Challenger", ".status.challenger"),
        PrinterColumn(
            "Challenger%",
            ".status.weights.challenger",
            "integer",
            "challenger's share of live traffic",
        ),
        PrinterColumn("Verdict", ".status.verdict", description="the current release's verdict"),
        PrinterColumn(
            "Reason",
            ".status.reason",
            description="Degraded's reason, else Progressing's",
            priority=1,
        ),
        _AGE,
    ),
)

EVALSUITE = Kind(
    kind="EvalSuite",
    plural="evalsuites",
    singular="evalsuite",
    # Not "es": ECK's Elasticsearch has it.
    short_names=("evs",),
    namespaced=True,
    spec=EvalSuiteSpec,
    status=EvalSuiteStatus,
    description="Offline evaluation cases, request protocol, scorers and pass thresholds.",
    columns=(
        PrinterColumn("Protocol", ".spec.protocol"),
        PrinterColumn("Score", ".status.score", "number"),
        PrinterColumn("Passed", ".status.passed", "boolean"),
        PrinterColumn("Valid", '.status.conditions[?(@.type=="Valid")].status'),
        _AGE,
    ),
)

KINDS: list[Kind] = [MODELVERSION, GPUPOOL, ROLLOUT, EVALSUITE]


def register(kind: Kind) -> None:
    """Adds a kind (used by modules that define further kinds, e.g. EvalSuite)."""
    if all(k.kind != kind.kind for k in KINDS):
        KINDS.append(kind)
