"""The `/scale` subresource (autoscaling/v1 Scale) of Deployments and of custom resources
whose CRD declares `subresources.scale`: what `kubectl scale` and autoscalers use."""

from __future__ import annotations

import copy
from typing import Any

from tests.emulator.apiserver import errors
from tests.emulator.apiserver.table import jsonpath

DEPLOYMENT_SCALE = {
    "specReplicasPath": ".spec.replicas",
    "statusReplicasPath": ".status.replicas",
}


def _selector(obj: dict[str, Any], spec: dict[str, Any]) -> str | None:
    if spec.get("labelSelectorPath"):
        found = jsonpath(obj, spec["labelSelectorPath"])
        return str(found) if found is not None else None
    labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or None


def to_scale(obj: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    status: dict[str, Any] = {"replicas": jsonpath(obj, spec["statusReplicasPath"]) or 0}
    if (selector := _selector(obj, spec)) is not None:
        status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": jsonpath(obj, spec["specReplicasPath"]) or 0},
        "status": status,
    }


def apply_scale(obj: dict[str, Any], scale: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """The object with the Scale's spec.replicas written at specReplicasPath; a Scale carrying
    a resourceVersion makes it a precondition, as on a real server."""
    replicas = (scale.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise errors.invalid(
            "Scale", "autoscaling", obj["metadata"]["name"],
            [errors.Cause("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")],
        )  # fmt: skip
    new = copy.deepcopy(obj)
    target: Any = new
    *parents, leaf = spec["specReplicasPath"].lstrip(".").split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[leaf] = replicas
    wanted_rv = (scale.get("metadata") or {}).get("resourceVersion")
    if wanted_rv:
        new["metadata"]["resourceVersion"] = wanted_rv
    return new
