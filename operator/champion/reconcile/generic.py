"""A reconciler for kinds whose only job (so far) is to report spec validity."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from champion.adapters.kube import KubeApi
from champion.api.v1alpha1.common import Condition
from champion.reconcile.spec_validity import parse_spec, validity_conditions
from champion.reconcile.status import Event, ReconcileResult, write_status


async def reconcile_validity(
    api: KubeApi, body: dict[str, Any], now: datetime, spec_model: type[BaseModel]
) -> ReconcileResult:
    status = dict(body.get("status") or {})
    conditions = [Condition.model_validate(c) for c in status.get("conditions", [])]
    _, error = parse_spec(spec_model, body)
    generation = body["metadata"].get("generation")
    status["conditions"] = [
        c.to_wire() for c in validity_conditions(conditions, error, now, generation)
    ]
    status["observedGeneration"] = generation
    written = await write_status(api, body, status)
    events = [Event("Warning", "InvalidSpec", error)] if error and written else []
    return ReconcileResult(status_written=written, events=events)
