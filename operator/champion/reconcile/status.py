"""The one status write per reconcile: compute the whole status, patch /status only if it changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from champion.adapters.kube import KubeApi, resource_for


@dataclass
class Event:
    type: str
    reason: str
    message: str


@dataclass
class ReconcileResult:
    """What a reconciler did, for the handler to report (events are posted by kopf)."""

    status_written: bool = False
    events: list[Event] = field(default_factory=list)
    requeue_after: float | None = None


def strip_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


def merge_patch(current: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) turning `current` into `new`.

    Only what changed is sent, so fields another writer set meanwhile (a
    Rollout setting a version's stage) are not overwritten with what this
    reconcile read; keys that disappeared, at any depth, are sent as null.
    """
    patch: dict[str, Any] = {}
    for key, value in new.items():
        old = current.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            sub = merge_patch(old, value)
            if sub:
                patch[key] = sub
        elif value != old or key not in current:
            patch[key] = value
    for key in current:
        if key not in new:
            patch[key] = None
    return patch


async def write_status(
    api: KubeApi, body: dict[str, Any], new_status: dict[str, Any], *, precondition: bool = False
) -> bool:
    """Patches /status with `new_status` when it differs from the stored one.

    With `precondition`, the patch carries the resourceVersion `body` was read
    at: the server answers 409 (`Conflict`) if anyone wrote the object since,
    and the caller recomputes from a fresh read.
    """
    current = body.get("status") or {}
    new_status = strip_nulls(new_status)
    if current == new_status:
        return False
    patch: dict[str, Any] = {"status": merge_patch(current, new_status)}
    meta = body["metadata"]
    if precondition and meta.get("resourceVersion"):
        patch["metadata"] = {"resourceVersion": meta["resourceVersion"]}
    res = resource_for(body["apiVersion"], body["kind"])
    await api.patch(res, meta["name"], patch, meta.get("namespace"), subresource="status")
    return True
