"""kopf wiring for ModelVersion: change handlers and a timer call the reconciler; the
deletion handler holds a version (kopf's finalizer stays) while a Rollout uses it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import kopf

from champion.handlers.common import hold_deletion, run_reconciler
from champion.handlers.runtime import Runtime
from champion.reconcile.modelversion import reconcile_modelversion
from champion.reconcile.modelversion_deletion import check_deletion
from champion.reconcile.settings import OperatorSettings
from champion.reconcile.status import ReconcileResult

PLURAL = "modelversions"


async def _reconcile(runtime: Runtime, body: dict[str, Any], now: datetime) -> ReconcileResult:
    return await reconcile_modelversion(runtime.kube(), body, now)


def register(registry: kopf.OperatorRegistry, settings: OperatorSettings) -> None:
    @kopf.on.resume("champion.dev", "v1alpha1", PLURAL, registry=registry)
    @kopf.on.create("champion.dev", "v1alpha1", PLURAL, registry=registry)
    @kopf.on.update("champion.dev", "v1alpha1", PLURAL, field="spec", registry=registry)
    async def changed(body: kopf.Body, memo: Any, retry: int = 0, **_: Any) -> None:
        await run_reconciler("ModelVersion", _reconcile, body, memo, retry)

    @kopf.timer(
        "champion.dev", "v1alpha1", PLURAL,
        interval=settings.modelversion_tick_seconds, initial_delay=settings.modelversion_tick_seconds, idle=None, registry=registry,
    )  # fmt: skip
    async def tick(body: kopf.Body, memo: Any, retry: int = 0, **_: Any) -> None:
        await run_reconciler("ModelVersion", _reconcile, body, memo, retry)

    @kopf.on.delete("champion.dev", "v1alpha1", PLURAL, registry=registry)
    async def deleting(body: kopf.Body, memo: Any, **_: Any) -> None:
        await hold_deletion("ModelVersion", check_deletion, body, memo)
