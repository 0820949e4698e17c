"""Registers the per-kind handler modules."""

from __future__ import annotations

import kopf

from champion.handlers import evalsuite, gpupool, modelversion, rollout
from champion.reconcile.settings import OperatorSettings


def register(registry: kopf.OperatorRegistry, settings: OperatorSettings) -> None:
    for module in (modelversion, gpupool, rollout, evalsuite):
        module.register(registry, settings)
