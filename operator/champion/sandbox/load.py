"""Sends simulated user traffic along each HTTPRoute: weights split it, RequestMirror copies it."""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

import aiohttp

from champion.sandbox.dataplane import ClusterView
from champion.sandbox.kserve_process import ISVC_LABEL

FEEDBACK_SHARE = 0.3


class LoadGenerator:
    def __init__(self, view: ClusterView, rps: float, seed: int = 1) -> None:
        self.view = view
        self.rps = rps
        self.rng = random.Random(seed)
        self.sent: dict[str, int] = {}
        self._inflight = asyncio.Semaphore(64)
        self._tasks: set[asyncio.Task[None]] = set()

    def _address(self, ns: str, service: str) -> str | None:
        """The request URL: a chat completion, or a KServe v1 predict for a predictor Service."""
        svc = self.view.service(ns, service)
        if svc is None:
            return None
        port = svc["spec"]["ports"][0]["port"]
        base = f"http://{svc['spec']['clusterIP']}:{port}"
        isvc = (svc["metadata"].get("labels") or {}).get(ISVC_LABEL)
        return f"{base}/v1/models/{isvc}:predict" if isvc else f"{base}/v1/chat/completions"

    def plan(self) -> list[tuple[str, bool]]:
        """One request per route: (request URL, is_mirror) for the primary and any mirror."""
        out: list[tuple[str, bool]] = []
        for route in self.view.http_routes():
            ns = route["metadata"]["namespace"]
            for rule in route.get("spec", {}).get("rules", []):
                refs = [r for r in rule.get("backendRefs", []) if r.get("weight", 1) > 0]
                if refs:
                    pick = self.rng.choices(refs, weights=[r.get("weight", 1) for r in refs])[0]
                    url = self._address(ns, pick["name"])
                    if url:
                        out.append((url, False))
                for f in rule.get("filters", []):
                    if f.get("type") == "RequestMirror":
                        mirror = f["requestMirror"]
                        if self.rng.random() * 100 < float(mirror.get("percent", 100)):
                            url = self._address(ns, mirror["backendRef"]["name"])
                            if url:
                                out.append((url, True))
        return out

    async def _send(self, session: aiohttp.ClientSession, url: str, mirror: bool) -> None:
        async with self._inflight:
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                predictive = url.endswith(":predict")
                body: dict[str, Any] = (
                    {"instances": [[round(self.rng.uniform(0.5, 7.0), 1) for _ in range(4)]]}
                    if predictive
                    else {"model": "chat", "messages": [{"role": "user", "content": "hello"}]}
                )
                async with session.post(url, json=body) as resp:
                    await resp.read()
                    ok = resp.status < 500
                self.sent[url] = self.sent.get(url, 0) + 1
                # Users rate some chat answers; mirrored answers never reach a user.
                if ok and not mirror and not predictive and self.rng.random() < FEEDBACK_SHARE:
                    base = url.removesuffix("/v1/chat/completions")
                    async with session.post(f"{base}/feedback") as fb:
                        await fb.read()

    async def run(self, stop: asyncio.Event) -> None:
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            loop = asyncio.get_running_loop()
            next_at = loop.time()
            while not stop.is_set():
                for url, mirror in self.plan():
                    task = asyncio.create_task(self._send(session, url, mirror))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                next_at += 1.0 / self.rps
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(0.0, next_at - loop.time()))
            for task in list(self._tasks):
                task.cancel()
