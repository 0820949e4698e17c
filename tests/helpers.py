"""Small test helpers: run the real kubectl without blocking the event loop; wait on conditions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass
class Result:
    code: int
    out: str
    err: str


async def run(
    *cmd: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 30
) -> Result:
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        stdin=asyncio.subprocess.PIPE if stdin is not None else None,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin else None), timeout)
    return Result(proc.returncode or 0, out.decode(), err.decode())


async def eventually(
    check: Callable[[], Awaitable[T | None]],
    timeout: float = 20,
    every: float = 0.1,
    what: str = "condition",
) -> T:
    """Polls `check` until it returns something truthy, failing with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
