"""GPUPool (cluster-scoped): a set of GPU nodes the operator accounts for."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field

from champion.api.v1alpha1.base import ApiModel
from champion.api.v1alpha1.common import Condition


class TolerationOperator(StrEnum):
    EXISTS = "Exists"
    EQUAL = "Equal"


class TaintEffect(StrEnum):
    NO_SCHEDULE = "NoSchedule"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
    NO_EXECUTE = "NoExecute"


class Toleration(ApiModel):
    key: Annotated[str | None, Field(default=None, max_length=316)] = None
    operator: TolerationOperator = TolerationOperator.EQUAL
    value: Annotated[str | None, Field(default=None, max_length=63)] = None
    effect: TaintEffect | None = None


class NamespaceQuota(ApiModel):
    namespace: Annotated[
        str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    ]
    gpus: Annotated[int, Field(ge=0)]


class UtilizationSpec(ApiModel):
    """Where GPU utilisation comes from (e.g. DCGM in Prometheus)."""

    query: Annotated[
        str,
        Field(
            min_length=1,
            max_length=4096,
            description="PromQL giving one utilisation percentage (0-100) per GPU of this pool, "
            'e.g. DCGM_FI_DEV_GPU_UTIL{gpu_pool="h100"}. Keep the exporter\'s pod label: it '
            "tells allocated GPUs from free ones.",
        ),
    ]
    stranded_below_percent: Annotated[float, Field(ge=0, le=100)] = 10.0


class GPUPoolSpec(ApiModel):
    node_selector: dict[str, str] = Field(
        default_factory=dict, description="Labels a node must have to be in the pool."
    )
    tolerations: list[Toleration] = Field(default_factory=list)
    affinity: dict[str, Any] | None = Field(
        default=None,
        description="A core/v1 Affinity copied into every pod placed on the pool (e.g. spread replicas across nodes).",
    )
    gpu_resource: Annotated[
        str,
        Field(
            pattern=r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[a-z0-9]([-a-z0-9._]*[a-z0-9])?$",
            max_length=253,
            description="Extended resource name, e.g. nvidia.com/gpu or nvidia.com/mig-1g.10gb.",
        ),
    ] = "nvidia.com/gpu"
    gpu_product: Annotated[str | None, Field(default=None, max_length=253)] = None
    cost_per_gpu_hour: Annotated[
        float,
        Field(
            ge=0,
            alias="costPerGPUHour",
            description="Cost of one GPU for one hour, in your currency.",
        ),
    ] = 0.0
    quotas: list[NamespaceQuota] = Field(default_factory=list)
    utilization: UtilizationSpec | None = None


class Reservation(ApiModel):
    """GPUs set aside for a rollout's challenger so two rollouts cannot take the same GPUs.

    One per Rollout (re-admitting replaces it). GPUs the challenger's pods already
    hold are not counted twice: only the part not yet allocated is reserved.
    """

    rollout: str = Field(description="namespace/name of the Rollout.")
    model_version: str
    namespace: str
    gpus: Annotated[int, Field(ge=0)]
    replicas: Annotated[
        int | None,
        Field(
            default=None, ge=0, description="Replicas reserved (with gpusPerReplica: per-node fit)."
        ),
    ] = None
    gpus_per_replica: Annotated[int | None, Field(default=None, ge=0)] = None
    mode: str = "surge"
    since: str | None = None


class NamespaceUsage(ApiModel):
    namespace: str
    allocated: int = 0
    reserved: int = 0
    quota: int | None = None


class GPUPoolStatus(ApiModel):
    observed_generation: int | None = None
    nodes: int = Field(default=0, description="Nodes matching spec.nodeSelector.")
    ready_nodes: int = Field(
        default=0,
        description="Of those, nodes that are Ready, not cordoned, and whose NoSchedule/NoExecute "
        "taints the pool tolerates: the ones counted in allocatable.",
    )
    capacity: int = Field(default=0, description="GPUs on all pool nodes (node allocatable).")
    allocatable: int = Field(default=0, description="GPUs on the ready nodes.")
    allocated: int = Field(
        default=0, description="GPUs requested by non-terminated pods bound to pool nodes."
    )
    reserved: int = Field(
        default=0, description="GPUs reserved by rollouts and not yet held by their pods."
    )
    free: int = Field(
        default=0,
        description="Sum over ready nodes of (allocatable - allocated), minus reserved; never negative.",
    )
    cost_per_hour: float = Field(default=0.0, description="allocated x costPerGPUHour.")
    namespaces: list[NamespaceUsage] = Field(default_factory=list)
    reservations: list[Reservation] = Field(default_factory=list)
    utilization_percent: float | None = Field(
        default=None, description="Mean utilisation of the GPUs spec.utilization.query returns."
    )
    stranded_gpus: int | None = Field(
        default=None,
        alias="strandedGPUs",
        description="Allocated GPUs whose utilisation is under spec.utilization.strandedBelowPercent.",
    )
    conditions: list[Condition] = Field(default_factory=list)
