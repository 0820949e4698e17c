"""Types shared by several kinds: references, conditions, name patterns."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from champion.api.v1alpha1.base import ApiModel

DNS1123_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
SHA256_DIGEST = r"^sha256:[a-f0-9]{64}$"

ObjectName = Annotated[str, Field(min_length=1, max_length=253, pattern=DNS1123_NAME)]
LabelName = Annotated[str, Field(min_length=1, max_length=63, pattern=DNS1123_LABEL)]
Percent = Annotated[int, Field(ge=0, le=100)]


class LocalObjectReference(ApiModel):
    """A reference to an object in the same namespace."""

    name: ObjectName


class ConfigMapKeyRef(ApiModel):
    """A key of a ConfigMap in the same namespace."""

    name: ObjectName
    key: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")]


class SecretKeyRef(ApiModel):
    """A key of a Secret in the same namespace. Its value is never logged."""

    name: ObjectName
    key: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")]


class ConditionStatus(StrEnum):
    """metav1.Condition status."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(ApiModel):
    """A condition in metav1.Condition shape, so Argo CD, Flux and kubectl wait read it."""

    type: Annotated[str, Field(min_length=1, max_length=316)]
    status: ConditionStatus
    reason: Annotated[
        str,
        Field(min_length=1, max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"),
    ]
    message: Annotated[str, Field(max_length=32768)] = ""
    last_transition_time: str | None = Field(
        default=None, description="RFC 3339 time of the last status change."
    )
    observed_generation: int | None = Field(default=None, ge=0)


class ConditionType(StrEnum):
    """Condition types. Ready/Progressing/Degraded are what Argo CD and Flux understand."""

    READY = "Ready"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"
    VALID = "Valid"
    """The spec and every reference it makes resolve."""
    DUPLICATE = "Duplicate"
    """Another ModelVersion has the same fingerprint."""
    PLACEMENT = "Placement"
    """Where the version runs (or whether its GPU pool could hold it now, and why not)."""
    PINNED = "Pinned"
    """The artifact has a digest (an unpinned version cannot become champion by default)."""
    ANALYSIS = "Analysis"
    """Whether the analysis has enough evidence (Prometheus reachable, traffic seen)."""
    SCHEDULED = "Scheduled"
    """An EvalSuite with spec.schedule: whether its runs against the champion can start."""
    DELETING = "Deleting"
    """A ModelVersion whose deletion was asked for: why it is still there (which Rollouts use it)."""
