"""Nodes and pods to seed the emulated API server with (the scheduler and kubelet are not emulated)."""

from __future__ import annotations

from typing import Any

import yaml

from tests.conftest import ROOT
from tests.emulator.apiserver import ApiServer

H100 = {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
GPU_TAINT = {"key": "nvidia.com/gpu", "effect": "NoSchedule"}


def example(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "examples" / name).read_text())
    return doc


def node(
    name: str,
    gpus: int,
    resource: str = "nvidia.com/gpu",
    labels: dict[str, str] | None = None,
    ready: bool = True,
    taints: list[dict[str, Any]] | None = None,
    unschedulable: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"taints": [GPU_TAINT] if taints is None else taints}
    if unschedulable:
        spec["unschedulable"] = True
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": H100 if labels is None else labels},
        "spec": spec,
        "status": {
            "capacity": {resource: str(gpus), "cpu": "96"},
            "allocatable": {resource: str(gpus), "cpu": "94"},
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def pod(
    name: str,
    node_name: str | None,
    gpus: int,
    namespace: str = "demo",
    resource: str = "nvidia.com/gpu",
    phase: str = "Running",
    labels: dict[str, str] | None = None,
    limits_only: bool = False,
) -> dict[str, Any]:
    resources = {"limits": {resource: str(gpus)}}
    if not limits_only:
        resources["requests"] = {resource: str(gpus)}
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "x", "resources": resources}]}
    if node_name:
        spec["nodeName"] = node_name
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": spec,
        "status": {"phase": phase},
    }


def version_pod(
    name: str, node_name: str, gpus: int, version: str, rollout: str = "support"
) -> dict[str, Any]:
    """A pod as a Rollout's Deployment creates it for a version."""
    labels = {"champion.dev/rollout": rollout, "champion.dev/model-version": version}
    return pod(name, node_name, gpus, labels=labels)


def seed_all(server: ApiServer, *objs: dict[str, Any]) -> None:
    for obj in objs:
        server.seed(obj)


def seed_examples(server: ApiServer) -> None:
    """Namespace demo, the h100 pool, the system prompt ConfigMap and two tolerated H100 nodes."""
    seed_all(
        server,
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}},
        example("gpupool.yaml"),
        example("system-prompt-configmap.yaml"),
        node("gpu-1", 8),
        node("gpu-2", 8),
    )
