"""A fault-injecting HTTP proxy in front of a real kube-apiserver, for tests.

The operator is pointed at it with `write_kubeconfig`: plain HTTP on 127.0.0.1 (no second CA to
trust), forwarded over TLS to the real apiserver with the CA and bearer token of the original
kubeconfig. The client's own Authorization header, if any, is passed through unchanged, so RBAC
is the real RBAC. Watch responses are streamed chunk by chunk, so a watch behaves as a watch.

Rules are matched in order against every request; the first one whose counter reaches its `nth`
match fires once (or `times` times). Writes (POST/PUT/PATCH/DELETE) are counted per resource, and
`after_write(k, f)` calls f() right after the k-th forwarded write got its response from the
apiserver, before the client sees it: the client crashes with the write applied and unacknowledged,
the worst moment for idempotency.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import ssl
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_HOP = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "accept-encoding"}
)


def resource_of(path: str) -> str:
    """`apis/champion.dev/v1alpha1/namespaces/x/rollouts/chat/status` -> `rollouts/status`."""
    parts = [p for p in path.split("/") if p]
    parts = parts[2:] if parts[:1] == ["api"] else parts[3:] if parts[:1] == ["apis"] else parts
    if len(parts) >= 2 and parts[0] == "namespaces":
        parts = parts[2:] if len(parts) > 2 else ["namespaces"]
    if not parts:
        return ""
    return parts[0] + (f"/{parts[2]}" if len(parts) > 2 else "")


@dataclass
class Rule:
    """Answer the nth request matching (method, path regex, watch?) with a fault instead."""

    methods: frozenset[str]
    path: str = ""
    watch: bool | None = None
    nth: int = 1
    times: int = 1
    status: int | None = None  # answer with this status instead of forwarding
    retry_after: int | None = None
    cut_after_chunks: int | None = None  # forward a watch, then drop the connection
    gone_event: bool = False  # forward the watch's 200, then send an ERROR event with code 410
    seen: int = 0
    fired: int = 0

    def matches(self, method: str, path: str, watch: bool) -> bool:
        if self.methods and method not in self.methods:
            return False
        if self.watch is not None and self.watch != watch:
            return False
        return not self.path or re.search(self.path, path) is not None

    def take(self) -> bool:
        self.seen += 1
        if self.seen >= self.nth and self.fired < self.times:
            self.fired += 1
            return True
        return False


def _status_body(code: int) -> dict[str, Any]:
    reasons = {409: "Conflict", 410: "Expired", 429: "TooManyRequests", 500: "InternalError",
               503: "ServiceUnavailable"}  # fmt: skip
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
            "reason": reasons.get(code, "InternalError"), "message": f"injected by the fault proxy ({code})"}  # fmt: skip


@dataclass
class FaultProxy:
    upstream: str
    ca_data: bytes
    token: str | None = None
    rules: list[Rule] = field(default_factory=list)
    writes: Counter[str] = field(default_factory=Counter)
    write_log: list[tuple[str, str, int]] = field(default_factory=list)
    port: int = 0
    _hooks: dict[int, Callable[[], None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _ready: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def from_kubeconfig(cls, path: str | Path) -> FaultProxy:
        cfg = yaml.safe_load(Path(path).read_text())
        cluster = cfg["clusters"][0]["cluster"]
        user = cfg["users"][0]["user"]
        return cls(
            upstream=cluster["server"].rstrip("/"),
            ca_data=base64.b64decode(cluster["certificate-authority-data"]),
            token=user.get("token"),
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_kubeconfig(self, out: Path) -> Path:
        """A kubeconfig for the operator: this proxy, with the original token."""
        user = {"token": self.token} if self.token else {}
        out.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "proxy", "cluster": {"server": self.url}}],
            "users": [{"name": "proxy", "user": user}],
            "contexts": [{"name": "proxy", "context": {"cluster": "proxy", "user": "proxy"}}],
            "current-context": "proxy",
        }))  # fmt: skip
        return out

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def after_write(self, k: int, hook: Callable[[], None]) -> None:
        with self._lock:
            self._hooks[k] = hook

    @property
    def write_count(self) -> int:
        with self._lock:
            return len(self.write_log)

    def _match(self, method: str, path: str, watch: bool) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.matches(method, path, watch) and rule.take():
                    return rule
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method, path = request.method, request.path
        watch = request.query.get("watch") in ("true", "1")
        rule = self._match(method, path, watch)
        if rule is not None and rule.status is not None:
            headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after else {}
            return web.json_response(_status_body(rule.status), status=rule.status, headers=headers)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        if "Authorization" not in headers and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = await request.read()
        assert self._session is not None
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with self._session.request(
            method, self.upstream + str(request.rel_url),
            headers=headers, data=body or None, timeout=timeout,
        ) as upstream:  # fmt: skip
            if method in WRITES:
                with self._lock:
                    self.writes[resource_of(path)] += 1
                    self.write_log.append((method, path, upstream.status))
                    hook = self._hooks.pop(len(self.write_log), None)
                if hook is not None:
                    payload = await upstream.read()
                    hook()
                    return web.Response(body=payload, status=upstream.status,
                                        content_type=upstream.content_type)  # fmt: skip
            response = web.StreamResponse(status=upstream.status)
            response.content_type = upstream.content_type
            await response.prepare(request)
            if rule is not None and rule.gone_event and upstream.status == 200:
                event = {"type": "ERROR", "object": _status_body(410)}
                await response.write(json.dumps(event).encode() + b"\n")
                return response
            chunks = 0
            async for chunk in upstream.content.iter_any():
                try:
                    await response.write(chunk)
                except ConnectionResetError:
                    return response  # the client went away (a killed operator's watch)
                chunks += 1
                if (
                    rule is not None
                    and rule.cut_after_chunks is not None
                    and chunks >= rule.cut_after_chunks
                ):
                    assert request.transport is not None
                    request.transport.close()  # the stream ends mid-way, as a dropped connection
                    return response
            await response.write_eof()
            return response

    async def _serve(self) -> None:
        ctx = ssl.create_default_context(cadata=self.ca_data.decode())
        # Decompressed here and sent on plain: rules can read bodies and chunks as JSON lines.
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx, limit=0))
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()

    def start(self) -> FaultProxy:
        """Serves on a thread of its own, so a synchronous test can drive it."""
        self._loop = asyncio.new_event_loop()

        def main() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._serve())
            self._loop.run_forever()

        self._thread = threading.Thread(target=main, daemon=True, name="fault-proxy")
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fault proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        async def close() -> None:
            # The session first: it ends the upstream watches the handlers are still relaying.
            if self._session is not None:
                await self._session.close()
            if self._runner is not None:
                await self._runner.cleanup()

        with contextlib.suppress(TimeoutError):
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(10)
        self._loop = None

    _session: aiohttp.ClientSession | None = None
    _runner: web.AppRunner | None = None


def scratch_kubeconfig(proxy: FaultProxy) -> Path:
    return proxy.write_kubeconfig(Path(tempfile.mkstemp(suffix=".kubeconfig")[1]))
