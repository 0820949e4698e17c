"""kopf glue shared by the per-kind handler modules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import kopf

from champion.adapters import metrics
from champion.adapters.logging import get_logger
from champion.handlers.runtime import Runtime
from champion.reconcile.status import ReconcileResult

Reconciler = Callable[[Runtime, dict[str, Any], datetime], Awaitable[ReconcileResult]]


async def run_reconciler(kind: str, reconciler: Reconciler, body: kopf.Body, memo: Any) -> None:
    runtime: Runtime = memo.runtime
    meta = body.get("metadata", {})
    key = f"{kind}/{meta.get('namespace', '')}/{meta.get('name')}"
    log = get_logger(
        "champion.reconcile", kind=kind, namespace=meta.get("namespace"), name=meta.get("name")
    )
    async with runtime.lock(key):
        # The body kopf hands over may be stale by the time the lock is ours:
        # re-read so the status we compute starts from what is stored.
        fresh = await _refetch(runtime, body)
        if fresh is None:
            return
        try:
            result = await reconciler(runtime, fresh, datetime.now(UTC))
        except Exception as exc:
            metrics.RECONCILE_ERRORS.labels(kind).inc()
            log.warning("reconcile failed; kopf retries", error=str(exc))
            raise kopf.TemporaryError(f"{kind} reconcile failed: {exc}", delay=5) from exc
    for event in result.events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)
        log.info("decision", reason=event.reason, message=event.message, event_type=event.type)


async def _refetch(runtime: Runtime, body: kopf.Body) -> dict[str, Any] | None:
    from champion.adapters.kube import resource_for

    res = resource_for(body["apiVersion"], body["kind"])
    meta = body["metadata"]
    return await runtime.kube().get(res, meta["name"], meta.get("namespace"))
