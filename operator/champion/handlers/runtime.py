"""What every handler shares, kept in kopf's operator memo."""

from __future__ import annotations

import asyncio
import contextlib
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
    rollout_changes: dict[str, asyncio.Event] = field(default_factory=dict)
    """Per namespace: set when a Rollout there changed what it uses (a held deletion re-checks)."""

    def lock(self, key: str) -> asyncio.Lock:
        """One reconcile at a time per object: change handlers and timers share it."""
        return self.locks.setdefault(key, asyncio.Lock())

    def rollouts_changed(self, namespace: str) -> None:
        """Wakes whoever waits in `wait_for_rollouts` for this namespace."""
        event = self.rollout_changes.pop(namespace, None)
        if event is not None:
            event.set()

    async def wait_for_rollouts(self, namespace: str, timeout: float) -> None:
        """Returns when a Rollout in `namespace` changed, or after `timeout` seconds."""
        event = self.rollout_changes.setdefault(namespace, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    def kube(self) -> KubeApi:
        if self.api is None:
            raise RuntimeError("the Kubernetes client is not connected yet (startup did not run)")
        return self.api
