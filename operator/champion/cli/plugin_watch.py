"""Following a Rollout over time: `status --watch` until its release ends, and an action's
wait until the operator has handled it. Both poll the Rollout (one GET per interval)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from champion.adapters.kube import KubeApi
from champion.cli import plugin_release as rel
from champion.cli.plugin_common import BAD_INPUT, FAILED, KIND, ROLLOUT, TRANSIENT, human

Echo = Callable[[str], None]


def progress_line(ro: dict[str, Any]) -> str:
    s = rel.status_of(ro)
    phase = rel.phase_of(ro) or "(not started)"
    step = rel.step_label(ro)
    parts = [datetime.now().strftime("%H:%M:%S"), phase]
    if step != "-":
        parts.append(f"step {step}")
    parts.append(rel.weights_line(ro))
    line = "  ".join(parts)
    if not rel.observed(ro):
        line += "  (the operator has not seen the latest spec yet)"
    elif s.get("message"):
        line += f": {s['message']}"
    d = rel.degraded(ro)
    if d and d[1] and d[1] != s.get("message"):
        line += f" [Degraded {d[0]}: {d[1]}]"
    return line


@dataclass
class WatchResult:
    code: int
    rollout: dict[str, Any] | None
    message: str


class _Reader:
    """Reads the Rollout; a transient error is reported once per outage, then retried."""

    def __init__(self, api: KubeApi, name: str, namespace: str, echo_err: Echo) -> None:
        self.api, self.name, self.namespace, self.echo_err = api, name, namespace, echo_err
        self.failing = False

    async def read(self) -> tuple[bool, Any]:
        """(answered, the Rollout or None when it is gone); no answer is (False, None)."""
        try:
            ro = await self.api.get(ROLLOUT, self.name, self.namespace)
        except TRANSIENT as exc:
            if not self.failing:
                self.echo_err(
                    f"warning: reading Rollout {self.namespace}/{self.name} failed, retrying: {exc}"
                )
            self.failing = True
            return False, None
        if self.failing:
            self.echo_err(f"reading Rollout {self.namespace}/{self.name} works again")
        self.failing = False
        return True, ro


async def watch(
    api: KubeApi,
    ro: dict[str, Any],
    *,
    timeout: float,
    interval: float,
    echo: Echo,
    echo_err: Echo,
) -> WatchResult:
    """Prints a line at each change of phase, step (or Degraded reason) until the release
    ends: 0 promoted, 1 rolled back or aborted, 2 timed out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout if timeout > 0 else None
    name, namespace = ro["metadata"]["name"], ro["metadata"]["namespace"]
    reader = _Reader(api, name, namespace, echo_err)
    last: tuple[Any, ...] | None = None
    hinted_pause = False
    while True:
        key = rel.change_key(ro)
        if key != last:
            echo(progress_line(ro))
            last = key
        end = rel.outcome(ro)
        if end is not None:
            return WatchResult(end.code, ro, f"{end.ending}: {end.message}")
        if rel.phase_of(ro) == "Paused" and not hinted_pause:
            echo_err(
                f"paused: continue with `kubectl champion resume {name} -n {namespace}`, "
                f"or `kubectl champion promote {name} -n {namespace}`"
            )
            hinted_pause = True
        elif rel.phase_of(ro) != "Paused":
            hinted_pause = False
        remaining = None if deadline is None else deadline - loop.time()
        if remaining is not None and remaining <= 0:
            return WatchResult(
                BAD_INPUT,
                ro,
                f"timed out after {human(timeout)}: the rollout is still "
                f"{rel.phase_of(ro) or 'not started'}"
                + (f" at step {rel.step_label(ro)}" if rel.step_label(ro) != "-" else "")
                + f"; see `kubectl describe {KIND} {name} -n {namespace}`",
            )
        await asyncio.sleep(interval if remaining is None else min(interval, remaining))
        answered, fresh = await reader.read()
        if not answered:
            continue
        if fresh is None:
            return WatchResult(
                FAILED, None, f"Rollout {namespace}/{name} was deleted before its release ended"
            )
        ro = fresh


async def wait_handled(
    api: KubeApi,
    ro: dict[str, Any],
    action: str,
    value: str,
    *,
    timeout: float,
    interval: float,
    echo_err: Echo,
) -> tuple[rel.Handling, dict[str, Any]]:
    """Polls until the operator has handled `champion.dev/<action>=<value>`, or someone set
    another value, or `timeout` passed (PENDING)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    reader = _Reader(api, ro["metadata"]["name"], ro["metadata"]["namespace"], echo_err)
    while True:
        state = rel.handling(ro, action, value)
        if state is not rel.Handling.PENDING:
            return state, ro
        remaining = deadline - loop.time()
        if remaining <= 0:
            return state, ro
        await asyncio.sleep(min(interval, remaining))
        answered, fresh = await reader.read()
        if answered and fresh is None:
            return rel.Handling.DELETED, ro
        if answered:
            ro = fresh
