"""The emulated Kubernetes API server: the real kubectl (1.35) and real kopf (1.45) talk to it.

Built on kmock 0.8 where kmock is a real base, and on aiohttp where it is not:

- kmock's `KubernetesScaffold` is the front (front.py): it parses and journals every request
  (`.kmock`, kmock's request views for assertions) and serves reactions declared with kmock's
  DSL before the emulation, so tests can inject faults on chosen requests; an exception in the
  emulator becomes kmock's 500 `Status` and is kept in `.errors`.
- Not kmock's `KubernetesEmulator`: its objects are merged dicts without resourceVersion, uid,
  generation, conflicts, selectors or a status subresource, which is the very fidelity this
  server exists for (store.py, cascade.py, validation.py, watch.py).
- Not kmock's `Server` for hosting: it installs a process-wide DNS interceptor into aiohttp
  (which kopf's own client would go through) that must be exited in LIFO order, and stopping
  two servers out of order raises before the port is closed. aiohttp's low-level server hosts
  the kmock handler instead.

Use it in-process (`async with ApiServer() as api:` or `await ApiServer().start()`), or as a
process: `python -m tests.emulator.apiserver.standalone --kubeconfig PATH` (standalone.py).
"""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

import yaml
from aiohttp import web

from tests.emulator.apiserver import errors, routes, wire
from tests.emulator.apiserver.front import KmockFront
from tests.emulator.apiserver.store import HISTORY, Store
from tests.emulator.apiserver.types import ResourceType

MAX_BODY = 3 * 1024 * 1024  # kube-apiserver's request body limit


class LoggedRequest(NamedTuple):
    """One request as the server saw it; `agent` tells the operator, kopf and eval Jobs apart."""

    method: str
    path: str
    query: str
    agent: str


class ApiServer:
    """An in-memory Kubernetes API server on `host:port` (port 0: any free port)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        history: int = HISTORY,
        journal_limit: int | None = 10_000,
        bookmark_interval: float = 60.0,
        kubeconfig: str | Path | None = None,
    ) -> None:
        """`history`: watch events kept for resuming (older resourceVersions get 410);
        `journal_limit`: requests kmock keeps; `kubeconfig`: written once the server serves."""
        self.host = host
        self.port = port
        self.store = Store(history)
        self.kmock = KmockFront(emulate=self._emulate, journal_limit=journal_limit)
        self.bookmark_interval = bookmark_interval
        self.requests: Counter[tuple[str, str]] = Counter()
        self.request_log: list[LoggedRequest] = []
        self.stopping = asyncio.Event()
        self.kubeconfig: Path | None = None
        self._kubeconfig_target = kubeconfig
        self._runner: web.ServerRunner | None = None

    # --- lifecycle ---------------------------------------------------------------
    async def start(self) -> ApiServer:
        await self.kmock.__aenter__()
        server = web.Server(
            self.kmock,
            request_factory=self._make_request,
            handler_cancellation=True,
            access_log=None,
        )
        self._server = server
        self._runner = web.ServerRunner(server)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        if self._kubeconfig_target is not None:
            self.write_kubeconfig(self._kubeconfig_target)
        return self

    def _make_request(
        self, message: Any, payload: Any, protocol: Any, writer: Any, task: Any
    ) -> web.BaseRequest:
        loop = asyncio.get_running_loop()
        return web.BaseRequest(
            message, payload, protocol, writer, task, loop, client_max_size=MAX_BODY
        )

    async def stop(self) -> None:
        self.stopping.set()
        for w in list(self.store.watchers):
            w.queue.put_nowait(None)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.kmock.active:
            await self.kmock.__aexit__(None, None, None)

    async def __aenter__(self) -> ApiServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def errors(self) -> list[Exception]:
        """Exceptions raised inside the emulator (each answered as a 500): a server bug."""
        return list(self.kmock.errors) if self.kmock.active else []

    def write_kubeconfig(self, path: str | Path, namespace: str = "default") -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "champion-sandbox", "cluster": {"server": self.url}}],
            "users": [{"name": "sandbox-admin", "user": {"token": "sandbox"}}],
            "contexts": [
                {
                    "name": "champion-sandbox",
                    "context": {
                        "cluster": "champion-sandbox",
                        "user": "sandbox-admin",
                        "namespace": namespace,
                    },
                }
            ],
            "current-context": "champion-sandbox",
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(config))
        tmp.replace(path)  # atomic: a reader never sees half a kubeconfig
        self.kubeconfig = path
        return path

    # --- seeding and inspection (tests, the sandbox) -------------------------------
    def type_of(self, api_version: str, kind: str) -> ResourceType:
        group, _, version = api_version.rpartition("/")
        for rt in self.store.served():
            if rt.group == group and rt.version == version and rt.kind == kind:
                return rt
        raise KeyError(f"{kind} in {api_version} is not served (apply its CRD first)")

    def seed(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create `obj` directly in the store (CRDs register their kind), status included;
        the same validation as an API request applies."""
        rt = self.type_of(obj["apiVersion"], obj["kind"])
        body = copy.deepcopy(obj)
        body.get("metadata", {}).pop("resourceVersion", None)
        created = self.store.create(rt, body.get("metadata", {}).get("namespace"), body)
        if rt.status_subresource and "status" in obj:
            meta = created["metadata"]
            created = self.store.update(
                rt,
                meta.get("namespace"),
                meta["name"],
                {**created, "status": obj["status"]},
                "status",
            )
        return created

    def seed_all(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [self.seed(d) for d in docs if d]

    def count(self, method: str, path_contains: str = "") -> int:
        """Requests with this HTTP method whose path contains `path_contains`."""
        return sum(n for (m, p), n in self.requests.items() if m == method and path_contains in p)

    # --- HTTP ------------------------------------------------------------------------
    async def _emulate(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        self.requests[(request.method, path)] += 1
        self.request_log.append(
            LoggedRequest(
                request.method, path, request.query_string, request.headers.get("User-Agent", "")
            )
        )
        try:
            return await routes.route(self, request)
        except errors.ApiStatusError as exc:
            return wire.error(exc)
