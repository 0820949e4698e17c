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


async def write_status(
    api: KubeApi, body: dict[str, Any], new_status: dict[str, Any], *, precondition: bool = False
) -> bool:
    """Patches /status with `new_status` when it differs from the stored one.

    A merge patch cannot delete keys it does not mention, so keys that
    disappeared are sent as null explicitly.
    """
    current = body.get("status") or {}
    new_status = strip_nulls(new_status)
    if current == new_status:
        return False
    patch: dict[str, Any] = dict(new_status)
    for key in current:
        if key not in new_status:
            patch[key] = None
    meta = body["metadata"]
    res = resource_for(body["apiVersion"], body["kind"])
    await api.patch(
        res, meta["name"], {"status": patch}, meta.get("namespace"), subresource="status"
    )
    return True
