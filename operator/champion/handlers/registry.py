"""Builds the kopf registry with every Champion handler (a fresh one per call, for tests)."""

from __future__ import annotations

from typing import Any

import kopf

from champion.handlers import kinds, lifecycle
from champion.reconcile.settings import OperatorSettings


def build_registry(settings: OperatorSettings) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    lifecycle.register(registry, settings)
    kinds.register(registry, settings)
    return registry


def operator_memo(settings: OperatorSettings) -> Any:
    from champion.handlers.runtime import Runtime

    return kopf.Memo(runtime=Runtime(settings=settings))
