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
            description="PromQL giving one utilisation percentage (0-100) per GPU, e.g. "
            "avg by (Hostname, gpu) (DCGM_FI_DEV_GPU_UTIL).",
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
    """GPUs set aside for a rollout's challenger so two rollouts cannot take the same GPUs."""

    rollout: str = Field(description="namespace/name of the Rollout.")
    model_version: str
    namespace: str
    gpus: Annotated[int, Field(ge=0)]
    mode: str = "surge"
    since: str | None = None


class NamespaceUsage(ApiModel):
    namespace: str
    allocated: int = 0
    reserved: int = 0
    quota: int | None = None


class GPUPoolStatus(ApiModel):
    observed_generation: int | None = None
    nodes: int = 0
    ready_nodes: int = 0
    capacity: int = 0
    allocatable: int = 0
    allocated: int = 0
    reserved: int = 0
    free: int = 0
    cost_per_hour: float = Field(default=0.0, description="allocated x costPerGPUHour.")
    namespaces: list[NamespaceUsage] = Field(default_factory=list)
    reservations: list[Reservation] = Field(default_factory=list)
    utilization_percent: float | None = None
    stranded_gpus: int | None = Field(default=None, alias="strandedGPUs")
    conditions: list[Condition] = Field(default_factory=list)
