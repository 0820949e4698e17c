"""What every handler shares, kept in kopf's operator memo."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from champion.adapters.kube import KubeApi
from champion.reconcile.settings import OperatorSettings


@dataclass
class Runtime:
    settings: OperatorSettings
    api: KubeApi | None = None
    prometheus: Any = None
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    def lock(self, key: str) -> asyncio.Lock:
        """One reconcile at a time per object: change handlers and timers share it."""
        return self.locks.setdefault(key, asyncio.Lock())

    def kube(self) -> KubeApi:
        if self.api is None:
            raise RuntimeError("the Kubernetes client is not connected yet (startup did not run)")
        return self.api
