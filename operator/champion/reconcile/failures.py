"""Reports an API failure the user must fix on the object being reconciled: Degraded=True with
the cause's reason and message (one status patch), and the Event to post."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from champion.adapters.kube import ApiError, KubeApi
from champion.api.v1alpha1.common import Condition, ConditionType
from champion.domain.api_failures import ApiFailure, classify
from champion.domain.conditions import set_condition
from champion.reconcile.status import Event, write_status


class UserFixableError(Exception):
    """A cause found before any request failed (a missing prerequisite), reported as an API
    failure is: Degraded=True with its reason, a Warning event, and backoff."""

    def __init__(self, failure: ApiFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def failure_of(exc: BaseException) -> ApiFailure | None:
    if isinstance(exc, UserFixableError):
        return exc.failure
    if isinstance(exc, ApiError):
        return classify(exc.status, exc.message, exc.method, exc.path)
    return None


async def report_failure(
    api: KubeApi, body: dict[str, Any], failure: ApiFailure, now: datetime
) -> Event:
    """Sets Degraded=True (reason, message) on `body`'s status; the rest of its status is kept.
    A status write that fails in turn (the same RBAC hole, say) leaves the Event and the log."""
    status = dict(body.get("status") or {})
    conditions = [Condition.model_validate(c) for c in status.get("conditions") or []]
    generation = body["metadata"].get("generation")
    conditions = set_condition(
        conditions, ConditionType.DEGRADED, True, failure.reason, failure.message, now, generation
    )
    status["conditions"] = [
        c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in conditions
    ]
    if body.get("kind") == "Rollout":
        status["message"] = failure.message
    with contextlib.suppress(ApiError):
        await write_status(api, body, status)
    return Event("Warning", failure.reason, failure.message)
