"""A pool edited under a running version does not re-render (and so reschedule) its pods."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from champion.builders.workloads import workload
from champion.reconcile.rollout_observe import VersionView
from tests.conftest import ROOT

ROLLOUT = {
    "apiVersion": "champion.dev/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "chat", "namespace": "demo", "uid": "u1"},
}


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "demo" / name).read_text())
    return doc


def pod_spec(view: VersionView) -> dict[str, Any]:
    ctx = view.context(ROLLOUT, 1)
    assert ctx is not None
    deployment = next(m for m in workload(ctx) if m["kind"] == "Deployment")
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return spec


def test_a_running_version_keeps_the_placement_it_was_scheduled_with() -> None:
    pool = load("10-gpupool.yaml")
    running = load("21-modelversion-v1.yaml")
    placed_with = dict(pool["spec"]["nodeSelector"])
    running["status"] = {
        "placement": {
            "pool": pool["metadata"]["name"],
            "replicas": 2,
            "gpus": 2,
            "gpuResource": "nvidia.com/gpu",
            "nodeSelector": placed_with,
            "since": "2026-11-30T10:00:00Z",
        }
    }
    edited = copy.deepcopy(pool)
    edited["spec"]["nodeSelector"] = {"nvidia.com/gpu.product": "NVIDIA-B200"}

    kept = pod_spec(VersionView("chat-v1", running, edited))
    assert kept["nodeSelector"] == placed_with

    # A version that is not running yet is placed by the pool as it is now.
    fresh = pod_spec(VersionView("chat-v2", load("22-modelversion-v2.yaml"), edited))
    assert fresh["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-B200"}
