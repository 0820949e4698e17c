"""kopf wiring for GPUPool: change handlers and a timer call the reconciler."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import kopf

from champion.handlers.common import run_reconciler
from champion.handlers.runtime import Runtime
from champion.reconcile.gpupool import reconcile_gpupool
from champion.reconcile.settings import OperatorSettings
from champion.reconcile.status import ReconcileResult

PLURAL = "gpupools"


async def _reconcile(runtime: Runtime, body: dict[str, Any], now: datetime) -> ReconcileResult:
    return await reconcile_gpupool(runtime.kube(), body, now, runtime.prometheus)


def register(registry: kopf.OperatorRegistry, settings: OperatorSettings) -> None:
    @kopf.on.resume("champion.dev", "v1alpha1", PLURAL, registry=registry)
    @kopf.on.create("champion.dev", "v1alpha1", PLURAL, registry=registry)
    @kopf.on.update("champion.dev", "v1alpha1", PLURAL, field="spec", registry=registry)
    async def changed(body: kopf.Body, memo: Any, retry: int = 0, **_: Any) -> None:
        await run_reconciler("GPUPool", _reconcile, body, memo, retry)

    @kopf.timer(
        "champion.dev", "v1alpha1", PLURAL,
        interval=settings.gpupool_tick_seconds, initial_delay=settings.gpupool_tick_seconds, idle=None, registry=registry,
    )  # fmt: skip
    async def tick(body: kopf.Body, memo: Any, retry: int = 0, **_: Any) -> None:
        await run_reconciler("GPUPool", _reconcile, body, memo, retry)
