"""kopf wiring for Rollout: change handlers and a timer call the reconciler."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import kopf

from champion.handlers.common import run_reconciler
from champion.handlers.runtime import Runtime
from champion.reconcile.rollout import reconcile_rollout
from champion.reconcile.settings import OperatorSettings
from champion.reconcile.status import ReconcileResult

PLURAL = "rollouts"


async def _reconcile(runtime: Runtime, body: dict[str, Any], now: datetime) -> ReconcileResult:
    return await reconcile_rollout(
        runtime.kube(), runtime.prometheus, body, now, runtime.settings.eval_runner()
    )


def register(registry: kopf.OperatorRegistry, settings: OperatorSettings) -> None:
    @kopf.on.resume("champion.dev", "v1alpha1", PLURAL, registry=registry)
    @kopf.on.create("champion.dev", "v1alpha1", PLURAL, registry=registry)
    @kopf.on.update("champion.dev", "v1alpha1", PLURAL, field="spec", registry=registry)
    async def changed(body: kopf.Body, memo: Any, retry: int = 0, **_: Any) -> None:
        await _run(body, memo, retry)

    @kopf.timer(
        "champion.dev", "v1alpha1", PLURAL,
        interval=settings.rollout_tick_seconds, initial_delay=settings.rollout_tick_seconds, idle=None, registry=registry,
    )  # fmt: skip
    async def tick(body: kopf.Body, memo: Any, retry: int = 0, **_: Any) -> None:
        await _run(body, memo, retry)

    @kopf.on.delete("champion.dev", "v1alpha1", PLURAL, optional=True, registry=registry)
    async def deleted(body: kopf.Body, memo: Any, **_: Any) -> None:
        # A deleted Rollout uses no version any more: a held ModelVersion deletion re-checks.
        memo.runtime.rollouts_changed(body["metadata"]["namespace"])


async def _run(body: kopf.Body, memo: Any, retry: int = 0) -> None:
    result = await run_reconciler("Rollout", _reconcile, body, memo, retry)
    if result is None or result.status_written:
        # What it uses (champion, challenger) may have changed: held deletions re-check.
        memo.runtime.rollouts_changed(body["metadata"]["namespace"])
