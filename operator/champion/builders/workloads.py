"""ModelVersion (+ pool + rollout) -> Deployment + Service, or a KServe InferenceService."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from champion.api.v1alpha1.gpupool import GPUPoolSpec
from champion.api.v1alpha1.modelversion import ModelVersionSpec, ServingBackend
from champion.builders.naming import (
    FINGERPRINT_ANNOTATION,
    FINGERPRINT_LABEL,
    MANAGED_BY,
    PROFILE_ANNOTATION,
    ROLLOUT_LABEL,
    VERSION_LABEL,
    child_name,
)


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
    version: str
    spec: ModelVersionSpec
    fingerprint: str
    owner: Owner
    replicas: int
    pool: GPUPoolSpec | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return child_name(self.rollout, self.version)

    def labels(self) -> dict[str, str]:
        return {
            ROLLOUT_LABEL: self.rollout,
            VERSION_LABEL: self.version,
            FINGERPRINT_LABEL: self.fingerprint.removeprefix("sha256:")[:12],
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
        "modelFormat": {"name": ctx.spec.model.format},
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
    meta["annotations"] = {"serving.kserve.io/deploymentMode": "RawDeployment"}
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
        return f"{ctx.name}-predictor"
    return ctx.name


def is_ready(manifest: dict[str, Any] | None) -> bool:
    """Readiness of a child as its controller reports it."""
    if manifest is None:
        return False
    status = manifest.get("status") or {}
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
