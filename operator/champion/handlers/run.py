"""Runs the operator: kopf with Champion's registry and settings."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import kopf

from champion.handlers.registry import build_registry, operator_memo
from champion.reconcile.settings import OperatorSettings


async def run_operator(
    settings: OperatorSettings,
    stop_flag: asyncio.Event | threading.Event | None = None,
    ready_flag: asyncio.Event | threading.Event | None = None,
) -> None:
    registry = build_registry(settings)
    kwargs: dict[str, Any] = {}
    if settings.namespaces:
        kwargs["namespaces"] = list(settings.namespaces)
    else:
        kwargs["clusterwide"] = True
    if settings.peering:
        kwargs["peering_name"] = settings.peering
    else:
        kwargs["standalone"] = True
    await kopf.operator(
        registry=registry,
        memo=operator_memo(settings),
        liveness_endpoint=settings.liveness_endpoint,
        stop_flag=stop_flag,
        ready_flag=ready_flag,
        **kwargs,
    )
