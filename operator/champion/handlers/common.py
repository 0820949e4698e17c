"""kopf glue shared by the per-kind handler modules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import kopf

from champion.adapters import metrics
from champion.adapters.kube import Conflict, KubeApi
from champion.adapters.logging import get_logger
from champion.domain.usage import recheck_delay
from champion.handlers.runtime import Runtime
from champion.reconcile.failures import failure_of, report_failure
from champion.reconcile.modelversion_deletion import DeletionCheck
from champion.reconcile.status import ReconcileResult

CONFLICT_ATTEMPTS = 3
"""Reconciles of one tick when its status write meets a 409 (then kopf retries later)."""

Reconciler = Callable[[Runtime, dict[str, Any], datetime], Awaitable[ReconcileResult]]
DeletionChecker = Callable[[KubeApi, dict[str, Any], datetime], Awaitable[DeletionCheck]]


def backoff(retry: int) -> float:
    """Seconds before kopf retries a failure the user must fix: 5 s, doubling, at most 5 min."""
    return float(min(300, 5 * 2 ** min(retry, 6)))


async def run_reconciler(
    kind: str, reconciler: Reconciler, body: kopf.Body, memo: Any, retry: int = 0
) -> ReconcileResult | None:
    """One reconcile under the object's lock; None when the object is gone."""
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
            return None
        try:
            for attempt in range(CONFLICT_ATTEMPTS):
                try:
                    result = await reconciler(runtime, fresh, datetime.now(UTC))
                    break
                except Conflict:
                    # Written meanwhile (a status write is conditional): recompute from what
                    # is stored now, at once, rather than after kopf's retry delay.
                    if attempt == CONFLICT_ATTEMPTS - 1:
                        raise
                    log.info("status changed while reconciling; recomputing", attempt=attempt + 1)
                    again = await _refetch(runtime, body)
                    if again is None:
                        return None
                    fresh = again
        except Exception as exc:
            metrics.RECONCILE_ERRORS.labels(kind).inc()
            failure = failure_of(exc)
            if failure is None:
                log.warning("reconcile failed; kopf retries", error=str(exc))
                raise kopf.TemporaryError(f"{kind} reconcile failed: {exc}", delay=5) from exc
            # A cause the user must fix: say so on the object, and back off instead of looping.
            event = await report_failure(runtime.kube(), fresh, failure, datetime.now(UTC))
            delay = backoff(retry)
            kopf.event(body, type=event.type, reason=event.reason, message=event.message)
            log.warning(
                "reconcile failed; retrying with backoff",
                reason=failure.reason, message=failure.message, retry_in_s=delay,
            )  # fmt: skip
            raise kopf.TemporaryError(f"{failure.reason}: {failure.message}", delay=delay) from exc
    for event in result.events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)
        log.info("decision", reason=event.reason, message=event.message, event_type=event.type)
    return result


async def hold_deletion(kind: str, check: DeletionChecker, body: kopf.Body, memo: Any) -> None:
    """kopf's deletion handler: returns (and kopf drops its finalizer) once `check` lets go.

    Waits in the handler rather than raising kopf.TemporaryError: a held deletion is no
    error (kopf would log one per retry, at ERROR, and post it as an event), and a Rollout
    that stops using the object wakes the wait at once instead of at the next retry.
    """
    runtime: Runtime = memo.runtime
    settings = runtime.settings
    meta = body.get("metadata", {})
    namespace = meta.get("namespace", "")
    key = f"{kind}/{namespace}/{meta.get('name')}"
    log = get_logger("champion.deletion", kind=kind, namespace=namespace, name=meta.get("name"))
    attempt = 0
    while True:
        async with runtime.lock(key):
            fresh = await _refetch(runtime, body)
            if fresh is None:
                return
            try:
                outcome = await check(runtime.kube(), fresh, datetime.now(UTC))
            except Exception as exc:  # the API unreachable, say: keep holding, ask again
                metrics.RECONCILE_ERRORS.labels(kind).inc()
                log.warning("deletion check failed; holding and retrying", error=str(exc))
                outcome = None
        if outcome is not None:
            for event in outcome.events:
                kopf.event(body, type=event.type, reason=event.reason, message=event.message)
            if not outcome.held:
                log.info("deletion released", message=outcome.message)
                return
            if outcome.events:
                log.warning("deletion blocked", message=outcome.message)
        delay = recheck_delay(
            attempt, settings.deletion_recheck_seconds, settings.deletion_recheck_max_seconds
        )
        attempt += 1
        await runtime.wait_for_rollouts(namespace, delay)


async def _refetch(runtime: Runtime, body: kopf.Body) -> dict[str, Any] | None:
    from champion.adapters.kube import resource_for

    res = resource_for(body["apiVersion"], body["kind"])
    meta = body["metadata"]
    return await runtime.kube().get(res, meta["name"], meta.get("namespace"))
