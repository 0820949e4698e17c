"""ModelVersion (+ pool + rollout) -> Deployment + Service, or a KServe InferenceService.

Pure: a `VersionContext` in, manifests (dicts) out. The pod template carries
`champion.dev/rollout`, `champion.dev/model-version` and a 12-hex
`champion.dev/fingerprint` label (Prometheus tells versions apart by them) and the
whole fingerprint as an annotation; GPUs come from `gpusPerReplica` and the pool's
`gpuResource`, placement from the pool's nodeSelector, tolerations and affinity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from champion.api.v1alpha1.gpupool import GPUPoolSpec
from champion.api.v1alpha1.labels import short_fingerprint
from champion.api.v1alpha1.modelversion import ModelVersionSpec, ServingBackend
from champion.builders.naming import (
    FINGERPRINT_ANNOTATION,
    FINGERPRINT_LABEL,
    KSERVE_SUFFIX,
    MANAGED_BY,
    PROFILE_ANNOTATION,
    ROLLOUT_LABEL,
    VERSION_LABEL,
    child_name,
)

KSERVE_DEPLOYMENT_MODE = "serving.kserve.io/deploymentMode"
KSERVE_STANDARD = "Standard"
"""KServe >= 0.15 calls raw Deployment mode "Standard" ("RawDeployment" is its deprecated alias)."""
KSERVE_FORMATS = {"vllm": "huggingface"}
"""KServe serves vLLM-format models with its huggingface runtime (vLLM inside), whose
ServingRuntime declares the `huggingface` model format."""
KSERVE_CONTAINER = "kserve-container"
"""The name KServe gives the predictor's model container (its webhook fills it in when empty)."""


@dataclass(frozen=True)
class Owner:
    api_version: str
    kind: str
    name: str
    uid: str

    def reference(self) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


@dataclass(frozen=True)
class VersionContext:
    """Everything a child manifest depends on."""

    namespace: str
    rollout: str
    """The Rollout's name (it owns the children)."""
    version: str
    """The ModelVersion's name."""
    spec: ModelVersionSpec
    fingerprint: str
    """status.fingerprint of the ModelVersion (`sha256:<64 hex>`)."""
    owner: Owner
    replicas: int
    """How many replicas to run: the Rollout scales champion and challenger, not the spec."""
    pool: GPUPoolSpec | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    """The ModelVersion's annotations (the sandbox profile is copied to the pods)."""

    @property
    def name(self) -> str:
        return child_name(
            self.rollout, self.version, kserve=self.spec.serving.backend == ServingBackend.KSERVE
        )

    def labels(self) -> dict[str, str]:
        return {
            ROLLOUT_LABEL: self.rollout,
            VERSION_LABEL: self.version,
            FINGERPRINT_LABEL: short_fingerprint(self.fingerprint),
        }

    def pod_annotations(self) -> dict[str, str]:
        out = {FINGERPRINT_ANNOTATION: self.fingerprint}
        if PROFILE_ANNOTATION in self.annotations:
            out[PROFILE_ANNOTATION] = self.annotations[PROFILE_ANNOTATION]
        return out


def _gpu_resources(ctx: VersionContext) -> dict[str, Any]:
    serving = ctx.spec.serving
    requests: dict[str, Any] = {}
    if serving.cpu:
        requests["cpu"] = serving.cpu
    if serving.memory:
        requests["memory"] = serving.memory
    limits: dict[str, Any] = {}
    if serving.gpus_per_replica > 0:
        resource = ctx.pool.gpu_resource if ctx.pool else "nvidia.com/gpu"
        # Extended resources must have requests == limits.
        requests[resource] = str(serving.gpus_per_replica)
        limits[resource] = str(serving.gpus_per_replica)
    out: dict[str, Any] = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def _placement(ctx: VersionContext) -> dict[str, Any]:
    if ctx.pool is None:
        return {}
    out: dict[str, Any] = {}
    if ctx.pool.node_selector:
        out["nodeSelector"] = dict(ctx.pool.node_selector)
    if ctx.pool.tolerations:
        out["tolerations"] = [t.to_wire() for t in ctx.pool.tolerations]
    if ctx.pool.affinity:
        out["affinity"] = ctx.pool.affinity
    return out


def _metadata(ctx: VersionContext, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": ctx.namespace,
        "labels": {**MANAGED_BY, **ctx.labels()},
        "ownerReferences": [ctx.owner.reference()],
    }


def deployment(ctx: VersionContext) -> dict[str, Any]:
    serving = ctx.spec.serving
    container: dict[str, Any] = {
        "name": "server",
        "image": serving.image,
        "args": list(serving.args),
        "env": [e.to_wire() for e in serving.env]
        + [{"name": "CHAMPION_MODEL_URI", "value": ctx.spec.model.uri}],
        "ports": [{"name": "http", "containerPort": serving.port, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 5},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }
    resources = _gpu_resources(ctx)
    if resources:
        container["resources"] = resources
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(ctx, ctx.name),
        "spec": {
            "replicas": ctx.replicas,
            "selector": {"matchLabels": {ROLLOUT_LABEL: ctx.rollout, VERSION_LABEL: ctx.version}},
            "template": {
                "metadata": {"labels": ctx.labels(), "annotations": ctx.pod_annotations()},
                "spec": {"containers": [container], **_placement(ctx)},
            },
        },
    }


def service(ctx: VersionContext) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(ctx, ctx.name),
        "spec": {
            "selector": {ROLLOUT_LABEL: ctx.rollout, VERSION_LABEL: ctx.version},
            "ports": [
                {
                    "name": "http",
                    "port": ctx.spec.serving.port,
                    "targetPort": "http",
                    "protocol": "TCP",
                }
            ],
        },
    }


def inference_service(ctx: VersionContext) -> dict[str, Any]:
    serving = ctx.spec.serving
    model: dict[str, Any] = {
        "name": KSERVE_CONTAINER,
        "modelFormat": {"name": KSERVE_FORMATS.get(ctx.spec.model.format, ctx.spec.model.format)},
        "storageUri": ctx.spec.model.uri,
    }
    if serving.runtime:
        model["runtime"] = serving.runtime
    resources = _gpu_resources(ctx)
    if resources:
        model["resources"] = resources
    if serving.args:
        model["args"] = list(serving.args)
    if serving.env:
        model["env"] = [e.to_wire() for e in serving.env]
    predictor: dict[str, Any] = {
        "minReplicas": ctx.replicas,
        "maxReplicas": ctx.replicas,
        "model": model,
        "labels": ctx.labels(),
        "annotations": ctx.pod_annotations(),
        **_placement(ctx),
    }
    meta = _metadata(ctx, ctx.name)
    # Standard (raw Deployment) mode: no Knative, so Gateway API routes reach it directly.
    meta["annotations"] = {KSERVE_DEPLOYMENT_MODE: KSERVE_STANDARD}
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": meta,
        "spec": {"predictor": predictor},
    }


def workload(ctx: VersionContext) -> list[dict[str, Any]]:
    """The children that run one version: what the Rollout converges to."""
    if ctx.spec.serving.backend == ServingBackend.KSERVE:
        return [inference_service(ctx)]
    return [deployment(ctx), service(ctx)]


def service_name(ctx: VersionContext) -> str:
    """The Service traffic goes to (KServe Standard mode names it `<isvc>-predictor`)."""
    if ctx.spec.serving.backend == ServingBackend.KSERVE:
        return f"{ctx.name}{KSERVE_SUFFIX}"
    return ctx.name


KSERVE_SERVICE_PORT = 80
"""The port of KServe's `<isvc>-predictor` Service in Standard mode (the container's 8080
behind it)."""


def default_service_port(ctx: VersionContext) -> int:
    """The traffic Service's port before the Service can be read (it is the truth after)."""
    if ctx.spec.serving.backend == ServingBackend.KSERVE:
        return KSERVE_SERVICE_PORT
    return ctx.spec.serving.port


def served_model_name(ctx: VersionContext) -> str | None:
    """The model name in request paths: KServe names the model after the InferenceService."""
    if ctx.spec.serving.backend == ServingBackend.KSERVE:
        return ctx.name
    return None


def is_ready(manifest: dict[str, Any] | None) -> bool:
    """Readiness of a child as its controller reports it.

    Deployment: the controller has seen this generation and all replicas are
    updated and available. InferenceService: condition Ready is True for this
    generation. Other kinds (Service) are ready once they exist.
    """
    if manifest is None:
        return False
    status = manifest.get("status") or {}
    seen = status.get("observedGeneration")
    if (
        manifest["kind"] == "InferenceService"
        and seen is not None
        and seen < manifest["metadata"].get("generation", 1)
    ):
        return False  # a status from an older generation says nothing about this one
    if manifest["kind"] == "Deployment":
        want = manifest.get("spec", {}).get("replicas", 1)
        fresh = status.get("observedGeneration", 0) >= manifest["metadata"].get("generation", 1)
        return (
            fresh
            and status.get("availableReplicas", 0) >= want
            and status.get("updatedReplicas", want) >= want
        )
    if manifest["kind"] == "InferenceService":
        return any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions", [])
        )
    return True


def shortfall(live: dict[str, Any]) -> str | None:
    """What keeps a live child from serving at full strength, as a sentence; None when nothing.

    Deployment: fewer available replicas than it asks for (a scale-down is no shortfall).
    InferenceService: its Ready condition is not True. A Service has none.
    """
    name = live["metadata"]["name"]
    status = live.get("status") or {}
    if live["kind"] == "Deployment":
        want = int((live.get("spec") or {}).get("replicas", 1))
        available = int(status.get("availableReplicas") or 0)
        if available < want:
            return f"Deployment {name} has {available}/{want} replicas available"
        return None
    if live["kind"] == "InferenceService" and not is_ready(live):
        ready = next((c for c in status.get("conditions", []) if c.get("type") == "Ready"), None)
        why = (ready or {}).get("message") or (ready or {}).get("reason") or ""
        return f"InferenceService {name} is not Ready" + (f": {why}" if why else "")
    return None


def answers(live: dict[str, Any] | None) -> bool:
    """At least one replica of this primary child can answer requests."""
    if live is None:
        return False
    if live["kind"] == "Deployment":
        return int((live.get("status") or {}).get("availableReplicas") or 0) > 0
    return is_ready(live)
