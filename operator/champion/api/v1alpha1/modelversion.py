"""ModelVersion: one immutable release record of a model (artifact, lineage, policy, runtime)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import ConfigDict, Field, JsonValue

from champion.api.v1alpha1.base import ApiModel
from champion.api.v1alpha1.common import (
    SHA256_DIGEST,
    Condition,
    ConfigMapKeyRef,
    ObjectName,
    Percent,
)
from champion.api.v1alpha1.gpupool import Toleration

MODELVERSION_SPEC_RULES: list[JsonValue] = [
    {
        "rule": "self == oldSelf",
        "message": "ModelVersion spec is immutable: create a new ModelVersion for a new release",
    },
    {
        "rule": "self.serving.backend != 'deployment' || has(self.serving.image)",
        "message": "serving.image is required when serving.backend is 'deployment'",
        "fieldPath": ".serving.image",
    },
    {
        "rule": "!has(self.serving.gpusPerReplica) || self.serving.gpusPerReplica == 0 || has(self.serving.gpuPool)",
        "message": "serving.gpuPool is required when serving.gpusPerReplica > 0: name the GPUPool to place on",
        "fieldPath": ".serving.gpuPool",
    },
]


class ModelFormat(StrEnum):
    """The artifact's format: decides the KServe runtime and the metric preset."""

    VLLM = "vllm"
    HUGGINGFACE = "huggingface"
    SKLEARN = "sklearn"
    XGBOOST = "xgboost"
    LIGHTGBM = "lightgbm"
    ONNX = "onnx"
    PYTORCH = "pytorch"
    TENSORFLOW = "tensorflow"
    TRITON = "triton"
    CUSTOM = "custom"


class ModelArtifact(ApiModel):
    """Where the weights are and what exactly they are."""

    uri: Annotated[
        str,
        Field(
            min_length=6,
            max_length=2048,
            pattern=r"^(s3|gs|hf|pvc|oci|https?)://.+$",
            description="Artifact location: s3://, gs://, hf://, pvc://, oci:// or http(s)://.",
        ),
    ]
    format: ModelFormat
    digest: Annotated[
        str | None,
        Field(
            default=None,
            pattern=SHA256_DIGEST,
            description="sha256 of the artifact, as `sha256:<64 hex>`. Without it the "
            "version is flagged Unpinned and cannot become champion unless the "
            "Rollout sets strategy.allowUnpinnedArtifacts.",
        ),
    ] = None


class Dataset(ApiModel):
    name: Annotated[str, Field(min_length=1, max_length=253)]
    uri: Annotated[str, Field(min_length=1, max_length=2048)]
    digest: Annotated[str | None, Field(default=None, pattern=SHA256_DIGEST)] = None


class TrainingRun(ApiModel):
    id: Annotated[str, Field(min_length=1, max_length=253)]
    url: Annotated[str | None, Field(default=None, max_length=2048)] = None


class CodeRef(ApiModel):
    repo: Annotated[str, Field(min_length=1, max_length=2048)]
    commit: Annotated[str, Field(pattern=r"^[a-f0-9]{7,64}$", description="Git commit hash.")]


class BaseModelRef(ApiModel):
    """The model this one was derived from: a ModelVersion here, or an external id."""

    model_version: ObjectName | None = Field(
        default=None, description="A ModelVersion in this namespace."
    )
    external: Annotated[
        str | None,
        Field(default=None, max_length=2048, description="e.g. hf://meta-llama/Llama-3.1-8B"),
    ] = None


class TransformationType(StrEnum):
    FINE_TUNE = "fine-tune"
    LORA = "lora"
    QUANTIZE_AWQ = "quantize-awq"
    QUANTIZE_GPTQ = "quantize-gptq"
    QUANTIZE_FP8 = "quantize-fp8"
    DISTILL = "distill"
    MERGE = "merge"
    OTHER = "other"


class Transformation(ApiModel):
    type: TransformationType
    description: Annotated[str, Field(max_length=1024)] = ""
    parameters: dict[str, str] = Field(default_factory=dict)


class Lineage(ApiModel):
    """Where the model came from: data, training run, code, base model, post-training steps."""

    datasets: list[Dataset] = Field(default_factory=list, max_length=64)
    training_run: TrainingRun | None = None
    code_ref: CodeRef | None = None
    base_model: BaseModelRef | None = None
    transformations: list[Transformation] = Field(default_factory=list, max_length=64)


class DataClassification(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    RESTRICTED = "restricted"


class Policy(ApiModel):
    """Behaviour-defining policy: the system prompt's content is part of the fingerprint."""

    system_prompt: ConfigMapKeyRef | None = None
    guardrails: list[Annotated[str, Field(min_length=1, max_length=253)]] = Field(
        default_factory=list
    )
    regions: list[Annotated[str, Field(min_length=1, max_length=63)]] = Field(default_factory=list)
    data_classification: DataClassification = DataClassification.INTERNAL


class ServingBackend(StrEnum):
    KSERVE = "kserve"
    """A KServe InferenceService in Standard (raw) deployment mode."""
    DEPLOYMENT = "deployment"
    """A plain Deployment + Service, e.g. vLLM's OpenAI-compatible server."""


class EnvVar(ApiModel):
    name: Annotated[
        str, Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
    ]
    value: Annotated[str, Field(max_length=32768)] = ""


class Serving(ApiModel):
    """How the version runs."""

    backend: ServingBackend = ServingBackend.DEPLOYMENT
    runtime: Annotated[
        str | None,
        Field(
            default=None, max_length=253, description="KServe ServingRuntime name (backend kserve)."
        ),
    ] = None
    image: Annotated[
        str | None,
        Field(
            default=None,
            min_length=1,
            max_length=1024,
            description="Container image (required for backend deployment).",
        ),
    ] = None
    args: list[Annotated[str, Field(max_length=4096)]] = Field(default_factory=list, max_length=128)
    env: list[EnvVar] = Field(default_factory=list, max_length=128)
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    gpus_per_replica: Annotated[int, Field(ge=0, le=16)] = 1
    replicas: Annotated[int, Field(ge=1, le=100)] = 1
    gpu_pool: ObjectName | None = Field(
        default=None, description="GPUPool to place on; required when gpusPerReplica > 0."
    )
    cpu: Annotated[str | None, Field(default=None, pattern=r"^[0-9]+(\.[0-9]+)?m?$")] = None
    memory: Annotated[
        str | None, Field(default=None, pattern=r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$")
    ] = None


class Owner(ApiModel):
    team: Annotated[str, Field(min_length=1, max_length=253)]
    contact: Annotated[
        str | None,
        Field(
            default=None, max_length=253, description="On-call contact (e-mail, pager, channel)."
        ),
    ] = None


class ModelVersionSpec(ApiModel):
    """A complete, immutable release: change anything by creating a new ModelVersion."""

    model_config = ConfigDict(
        json_schema_extra={"x-kubernetes-validations": MODELVERSION_SPEC_RULES}
    )

    model: ModelArtifact
    lineage: Lineage = Field(default_factory=Lineage)
    policy: Policy = Field(default_factory=Policy)
    serving: Serving
    owner: Owner | None = None


class Stage(StrEnum):
    """Where a version is in its life: derived from `usedBy`, what the Rollouts serve it for."""

    REGISTERED = "Registered"
    """Known; not serving traffic (never used, superseded, or a challenger waiting for traffic)."""
    SHADOW = "Shadow"
    """A challenger receiving mirrored traffic whose responses are discarded; champion nowhere."""
    CANARY = "Canary"
    """A challenger serving a share of live traffic; champion nowhere."""
    CHAMPION = "Champion"
    """The champion of at least one Rollout: it serves that endpoint's traffic."""
    RETIRED = "Retired"
    """Was champion; no Rollout uses it any more (replaced by a newer version)."""
    ROLLED_BACK = "RolledBack"
    """Was a challenger and was rolled back; no Rollout uses it any more."""


class UseRole(StrEnum):
    CHAMPION = "champion"
    CHALLENGER = "challenger"


class VersionUse(ApiModel):
    """One Rollout that serves this version, as that Rollout's status (and route) has it."""

    rollout: ObjectName = Field(description="The Rollout, in this namespace.")
    role: UseRole = Field(
        description="champion (status.champion) or challenger (status.challenger, in flight)."
    )
    weight: Percent = Field(description="Percent of that Rollout's live traffic it serves.")
    mirror_percent: Percent = Field(
        default=0,
        description="Percent of that Rollout's requests mirrored to it (shadow; answers discarded).",
    )


class EvalResult(ApiModel):
    suite: str
    score: float
    passed: bool
    time: str | None = None
    message: str = ""


class Placement(ApiModel):
    """Where the version runs, and the pool's shape when it started running there.

    The snapshot (selector, resource, tolerations, affinity) is what the running
    pods were scheduled with; a pool edited later is compared against it so the
    change is reported (condition Placement=False, reason GPUPoolChanged) rather
    than silently re-placing or evicting anything.
    """

    pool: str | None = None
    rollout: str | None = Field(
        default=None, description="The Rollout whose pods run this version (pod label)."
    )
    replicas: int = Field(default=0, description="Running (non-terminated) pods of this version.")
    gpus: int = Field(default=0, description="GPUs those pods request.")
    gpu_resource: str | None = None
    nodes: list[str] = Field(default_factory=list, description="Nodes the pods are bound to.")
    node_selector: dict[str, str] = Field(
        default_factory=dict,
        description="The pool's nodeSelector when the version started running.",
    )
    tolerations: list[Toleration] = Field(
        default_factory=list, description="The pool's tolerations when the version started running."
    )
    affinity: dict[str, Any] | None = Field(
        default=None, description="The pool's affinity when the version started running."
    )
    since: str | None = Field(default=None, description="When the version was first seen running.")


class ModelVersionStatus(ApiModel):
    observed_generation: int | None = None
    fingerprint: str | None = Field(
        default=None,
        description="sha256 over artifact digest, policy content hashes, runtime image and args.",
    )
    fingerprint_short: str | None = Field(
        default=None,
        description="The fingerprint's first 12 hex digits (the pod label champion.dev/fingerprint).",
    )
    system_prompt_hash: str | None = Field(
        default=None,
        description="sha256 of the system prompt's content when the version was first validated; "
        "a later edit of the ConfigMap is flagged (Valid=False, SystemPromptChanged).",
    )
    policy_hash: str | None = Field(
        default=None,
        description="sha256 over the policy: system prompt content, guardrails, regions, data classification.",
    )
    stage: Stage | None = Field(
        default=None,
        description="Derived from usedBy: Champion if any Rollout's champion; else Canary or Shadow "
        "if a challenger with live or mirrored traffic; else, used by no Rollout, the last "
        "outcome (RolledBack, Retired, Registered).",
    )
    used_by: list[VersionUse] = Field(
        default_factory=list,
        description="The Rollouts in this namespace that serve this version, from their status; "
        "recomputed on every reconcile, so it holds after a restart or a re-create.",
    )
    used_by_summary: str | None = Field(
        default=None,
        description="usedBy on one line, e.g. 'chat champion 100%, ab challenger 20%' (kubectl get).",
    )
    pinned: bool | None = None
    duplicates: list[str] = Field(
        default_factory=list, description="Other ModelVersions with the same fingerprint."
    )
    placement: Placement | None = None
    eval_results: list[EvalResult] = Field(default_factory=list, max_length=32)
    conditions: list[Condition] = Field(default_factory=list)
