"""The emulated API server over HTTP (aiohttp): the real kubectl and kopf talk to it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from champion.sandbox.apiserver import discovery, errors
from champion.sandbox.apiserver.patching import APPLY, apply_patch
from champion.sandbox.apiserver.selectors import field_matcher, label_matcher
from champion.sandbox.apiserver.store import Store, Watcher
from champion.sandbox.apiserver.table import table
from champion.sandbox.apiserver.types import ResourceType

JSON = "application/json"


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type=JSON)


def _error(exc: errors.ApiStatusError) -> web.Response:
    return _json(exc.body(), exc.code)


class ApiServer:
    """An in-memory Kubernetes API server; `await start()` then use `.url` / `.kubeconfig`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.store = Store()
        self.requests: Counter[tuple[str, str]] = Counter()
        self.request_log: list[tuple[str, str, str]] = []
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self.kubeconfig: Path | None = None

    # --- lifecycle ---------------------------------------------------------------
    async def start(self) -> ApiServer:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def stop(self) -> None:
        self._stopping.set()
        for w in list(self.store.watchers):
            w.queue.put_nowait(None)
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

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
        tmp.replace(path)
        self.kubeconfig = path
        return path

    # --- seeding and inspection (tests, the sandbox) -------------------------------
    def seed(self, obj: dict[str, Any]) -> dict[str, Any]:
        api_version = obj["apiVersion"]
        group = api_version.split("/")[0] if "/" in api_version else ""
        rt = self._type_by_kind(group, obj["kind"])
        created = self.store.create(rt, obj.get("metadata", {}).get("namespace"), obj)
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

    def _type_by_kind(self, group: str, kind: str) -> ResourceType:
        for rt in self.store.types.values():
            if rt.group == group and rt.kind == kind:
                return rt
        raise KeyError(f"unknown kind {kind} in group {group!r}")

    def count(self, method: str, path_contains: str = "") -> int:
        return sum(1 for m, p, _ in self.request_log if m == method and path_contains in p)

    # --- dispatch --------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        self.request_log.append((request.method, path, request.query_string))
        try:
            return await self._route(request, path)
        except errors.ApiStatusError as exc:
            return _error(exc)

    async def _route(self, request: web.Request, path: str) -> web.StreamResponse:
        if path in ("/healthz", "/readyz", "/livez"):
            return web.Response(text="ok")
        if path == "/version":
            return _json(
                {
                    "major": "1",
                    "minor": "35",
                    "gitVersion": "v1.35.0-champion-emulated",
                    "platform": "linux/amd64",
                }
            )
        types = list(self.store.types.values())
        if path == "/api":
            return _json(
                {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
            )
        if path == "/api/v1":
            return _json(discovery.resource_list("v1", [t for t in types if t.group == ""]))
        if path == "/apis":
            return _json(discovery.group_list(types))
        if path == "/openapi/v3":
            return _json(discovery.openapi_v3_root(types))
        if path.startswith("/openapi/v3/"):
            rel = path.removeprefix("/openapi/v3/")
            if rel == "api/v1":
                return _json(discovery.openapi_v3_group([t for t in types if t.group == ""]))
            parts = rel.split("/")
            if len(parts) == 3 and parts[0] == "apis":
                return _json(
                    discovery.openapi_v3_group(
                        [t for t in types if t.group == parts[1] and t.version == parts[2]]
                    )
                )
            raise errors.not_found("", "openapi", rel)
        if path == "/openapi/v2":
            raise errors.ApiStatusError(
                404, "NotFound", "openapi v2 is not served; use /openapi/v3"
            )
        parts = path.strip("/").split("/")
        if parts[0] == "apis" and len(parts) == 2:
            versions = sorted({t.version for t in types if t.group == parts[1]})
            if not versions:
                raise errors.not_found("", "groups", parts[1])
            return _json(discovery.group_doc(parts[1], versions))
        if parts[0] == "apis" and len(parts) == 3:
            matching = [t for t in types if t.group == parts[1] and t.version == parts[2]]
            if not matching:
                raise errors.not_found("", "groupversions", f"{parts[1]}/{parts[2]}")
            return _json(discovery.resource_list(f"{parts[1]}/{parts[2]}", matching))
        if parts[0] == "api" and len(parts) >= 3 and parts[1] == "v1":
            return await self._resource(request, "", "v1", parts[2:])
        if parts[0] == "apis" and len(parts) >= 4:
            return await self._resource(request, parts[1], parts[2], parts[3:])
        raise errors.ApiStatusError(
            404, "NotFound", f"the server could not find the requested resource: {path}"
        )

    def _parse(
        self, group: str, tail: list[str]
    ) -> tuple[ResourceType, str | None, str | None, str | None]:
        namespace = None
        if (
            tail[0] == "namespaces"
            and len(tail) >= 3
            and (group, tail[2]) in self.store.types
            and tail[2] != "status"
        ):
            namespace, tail = tail[1], tail[2:]
        rt = self.store.type_for(group, tail[0])
        name = tail[1] if len(tail) > 1 else None
        sub = tail[2] if len(tail) > 2 else None
        if sub is not None and not (sub == "status" and rt.status_subresource):
            raise errors.ApiStatusError(
                404,
                "NotFound",
                f"the server could not find the requested resource ({rt.plural}/{sub})",
            )
        return rt, namespace, name, sub

    async def _body(self, request: web.Request) -> Any:
        ctype = request.content_type
        if "protobuf" in ctype:
            raise errors.ApiStatusError(
                415,
                "UnsupportedMediaType",
                "protobuf is not supported by the emulated API server; send JSON",
            )
        raw = await request.read()
        if not raw:
            return None
        try:
            if ctype.startswith(APPLY):
                return yaml.safe_load(raw)
            return json.loads(raw)
        except ValueError as exc:
            raise errors.bad_request(f"invalid request body: {exc}") from exc

    async def _resource(
        self, request: web.Request, group: str, version: str, tail: list[str]
    ) -> web.StreamResponse:
        rt, namespace, name, sub = self._parse(group, tail)
        if rt.version != version:
            raise errors.ApiStatusError(
                404, "NotFound", f"{rt.plural}.{group} is not served at version {version}"
            )
        q = request.query
        method = request.method
        as_table = "as=Table" in request.headers.get("Accept", "")
        if method == "GET" and name is None:
            matcher_l = label_matcher(q.get("labelSelector"))
            matcher_f = field_matcher(q.get("fieldSelector"))

            def matcher(o: dict[str, Any]) -> bool:
                return matcher_l(o) and matcher_f(o)

            if q.get("watch") in ("true", "1"):
                return await self._watch(request, rt, namespace, matcher, as_table)
            items = self.store.select(rt, namespace, matcher)
            rv = str(self.store.rv)
            if as_table:
                return _json(table(rt, items, rv))
            return _json(
                {
                    "kind": f"{rt.kind}List",
                    "apiVersion": rt.api_version,
                    "metadata": {"resourceVersion": rv},
                    "items": items,
                }
            )
        if method == "GET":
            assert name is not None
            obj = self.store.get(rt, namespace, name)
            return _json(table(rt, [obj], str(self.store.rv)) if as_table else obj)
        if method == "POST" and name is None:
            body = await self._body(request)
            if not isinstance(body, dict):
                raise errors.bad_request("the request body must be an object")
            self._check_kind(rt, body)
            return _json(self.store.create(rt, namespace, body), 201)
        if method == "PUT" and name is not None:
            body = await self._body(request)
            if not isinstance(body, dict):
                raise errors.bad_request("the request body must be an object")
            self._check_kind(rt, body)
            if body.get("metadata", {}).get("name", name) != name:
                raise errors.bad_request(
                    "the name of the object does not match the name on the URL"
                )
            return _json(self.store.update(rt, namespace, name, body, sub))
        if method == "PATCH" and name is not None:
            body = await self._body(request)
            ctype = request.content_type
            try:
                current = self.store.get(rt, namespace, name)
            except errors.ApiStatusError:
                if ctype.startswith(APPLY) and isinstance(body, dict):
                    return _json(self.store.create(rt, namespace, body), 201)
                raise
            patched = apply_patch(current, body, ctype)
            if not (
                isinstance(body, dict) and body.get("metadata", {}).get("resourceVersion")
            ) and not ctype.startswith("application/json-patch"):
                patched.setdefault("metadata", {}).pop("resourceVersion", None)
            elif ctype.startswith("application/json-patch"):
                # A JSON patch carries no precondition unless it `test`s one (already checked).
                patched.setdefault("metadata", {}).pop("resourceVersion", None)
            return _json(self.store.update(rt, namespace, name, patched, sub))
        if method == "DELETE" and name is not None:
            return _json(self.store.delete(rt, namespace, name))
        if method == "DELETE" and name is None:
            by_label = label_matcher(q.get("labelSelector"))
            items = self.store.select(rt, namespace, by_label)
            for obj in items:
                with contextlib.suppress(errors.ApiStatusError):
                    self.store.delete(rt, obj["metadata"].get("namespace"), obj["metadata"]["name"])
            return _json(
                {"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}}
            )
        raise errors.ApiStatusError(
            405, "MethodNotAllowed", f"{method} is not supported on this path"
        )

    def _event_line(
        self, rt: ResourceType, kind: str, obj: dict[str, Any], as_table: bool
    ) -> bytes:
        payload = table(rt, [obj], obj["metadata"]["resourceVersion"]) if as_table else obj
        return (json.dumps({"type": kind, "object": payload}) + "\n").encode()

    def _check_kind(self, rt: ResourceType, body: dict[str, Any]) -> None:
        kind = body.get("kind")
        if kind is not None and kind != rt.kind:
            raise errors.bad_request(
                f"the kind {kind!r} does not match the resource {rt.plural!r} ({rt.kind})"
            )

    async def _watch(
        self,
        request: web.Request,
        rt: ResourceType,
        namespace: str | None,
        matcher: Any,
        as_table: bool = False,
    ) -> web.StreamResponse:
        q = request.query
        timeout = float(q.get("timeoutSeconds", "1800"))
        rv_param = q.get("resourceVersion")
        if rv_param and rv_param != "0":
            initial = self.store.events_since(rt, namespace, int(rv_param), matcher)
        else:
            initial = [("ADDED", o) for o in self.store.select(rt, namespace, matcher)]
        watcher = Watcher(rt.group, rt.plural, namespace, matcher)
        self.store.watchers.append(watcher)
        response = web.StreamResponse(
            headers={"Content-Type": JSON, "Transfer-Encoding": "chunked"}
        )
        try:
            await response.prepare(request)
            for kind, obj in initial:
                await response.write(self._event_line(rt, kind, obj, as_table))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while not self._stopping.is_set():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(watcher.queue.get(), timeout=remaining)
                except TimeoutError:
                    break
                if item is None:
                    break
                kind, obj = item
                await response.write(self._event_line(rt, kind, obj, as_table))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(ValueError):
                self.store.watchers.remove(watcher)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await response.write_eof()
        return response
