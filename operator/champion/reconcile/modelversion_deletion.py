"""A ModelVersion being deleted: held while any Rollout uses it, released once none does.

The operator's finalizer (kopf's, `champion.dev/finalizer`) stays on the version while
`check_deletion` answers `held`; the handler asks again with a back-off, and sooner when a
Rollout in the namespace changes. While held, the version's condition `Deleting=True`
(reason `DeletionBlocked`) names the Rollouts and how to release it; a Warning event says
the same each time that list changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from champion.adapters.kube import Conflict, KubeApi, resource_for
from champion.api.v1alpha1 import reasons
from champion.api.v1alpha1.common import ConditionType
from champion.domain.conditions import get_condition, set_condition
from champion.domain.usage import (
    Use,
    deletion_blocked_message,
    deletion_released_message,
    uses_of,
)
from champion.reconcile.modelversion import MV, parse_status
from champion.reconcile.status import Event, write_status

RO = resource_for("champion.dev/v1alpha1", "Rollout")


@dataclass
class DeletionCheck:
    uses: list[Use]
    message: str
    events: list[Event] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return bool(self.uses)


async def check_deletion(api: KubeApi, body: dict[str, Any], now: datetime) -> DeletionCheck:
    """Whether the ModelVersion `body` (being deleted) must stay; reports why in its status."""
    meta = body["metadata"]
    for _ in range(3):
        try:
            return await _check(api, body, now)
        except Conflict:
            # A Rollout wrote the version's status meanwhile (its stage): read it again.
            fresh = await api.get(MV, meta["name"], meta["namespace"])
            if fresh is None:
                break
            body = fresh
    return await _check(api, body, now)


async def _check(api: KubeApi, body: dict[str, Any], now: datetime) -> DeletionCheck:
    meta = body["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    uses = uses_of(name, await api.list(RO, namespace))
    if not uses:
        message = deletion_released_message(name)
        return DeletionCheck([], message, [Event("Normal", reasons.DELETION_RELEASED, message)])
    message = deletion_blocked_message(name, uses)
    status = parse_status(body.get("status"))
    before = get_condition(status.conditions, ConditionType.DELETING)
    status.conditions = set_condition(
        status.conditions,
        ConditionType.DELETING,
        True,
        reasons.DELETION_BLOCKED,
        message,
        now,
        meta.get("generation"),
    )
    await write_status(api, body, status.to_wire(), precondition=True)
    changed = before is None or before.message != message or before.status != "True"
    events = [Event("Warning", reasons.DELETION_BLOCKED, message)] if changed else []
    return DeletionCheck(uses, message, events)
