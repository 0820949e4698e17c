"""URL routing: health, version, discovery, OpenAPI, then the resource endpoints."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aiohttp import web

from tests.emulator.apiserver import discovery, errors, openapi, resources, wire

if TYPE_CHECKING:
    from tests.emulator.apiserver.server import ApiServer

VERSION = {
    "major": "1",
    "minor": "35",
    "gitVersion": "v1.35.0-champion-emulated",
    "gitCommit": "",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.25",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def _aggregated(api: ApiServer, request: web.BaseRequest, core: bool) -> web.Response | None:
    version = wire.wants(request, "APIGroupDiscoveryList", discovery.AGGREGATED)
    if version not in ("v2", "v2beta1"):
        return None
    doc = discovery.aggregated(api.store.served(), core, version)
    # The Content-Type tells client-go it got the aggregated document, not the legacy one.
    ctype = f"application/json;g={discovery.AGGREGATED};v={version};as=APIGroupDiscoveryList"
    return web.Response(body=json.dumps(doc).encode(), headers={"Content-Type": ctype})


def _openapi(api: ApiServer, request: web.BaseRequest, path: str) -> web.Response:
    types = api.store.served()
    if path == "/openapi/v2":
        accept = request.headers.get("Accept", "*/*")
        if "json" not in accept and "*/*" not in accept:
            raise errors.ApiStatusError(
                406, "NotAcceptable", "only application/json is served for /openapi/v2"
            )
        return wire.respond(openapi.v2(types))
    if path == "/openapi/v3":
        return wire.respond(openapi.v3_root(types))
    rel = path.removeprefix("/openapi/v3/")
    if rel == "api/v1":
        return wire.respond(openapi.v3_group([t for t in types if t.group == ""]))
    parts = rel.split("/")
    if len(parts) == 3 and parts[0] == "apis":
        chosen = [t for t in types if t.group == parts[1] and t.version == parts[2]]
        if chosen:
            return wire.respond(openapi.v3_group(chosen))
    raise errors.ApiStatusError(404, "NotFound", f"the OpenAPI document {rel} does not exist")


async def route(api: ApiServer, request: web.BaseRequest) -> web.StreamResponse:
    path = request.path.rstrip("/") or "/"
    parts = path.strip("/").split("/")
    if parts[0] in ("healthz", "readyz", "livez"):
        return web.Response(text="ok")
    if path == "/version":
        return wire.respond(VERSION)
    if path.startswith("/openapi/"):
        return _openapi(api, request, path)
    types = api.store.served()
    if path == "/":
        groups = sorted({f"/apis/{t.group}/{t.version}" for t in types if t.group})
        return wire.respond(
            {
                "paths": [
                    "/api",
                    "/api/v1",
                    "/apis",
                    *groups,
                    "/healthz",
                    "/livez",
                    "/openapi/v2",
                    "/openapi/v3",
                    "/readyz",
                    "/version",
                ]
            }
        )
    if path == "/api":
        return _aggregated(api, request, core=True) or wire.respond(discovery.api_versions())
    if path == "/api/v1":
        return wire.respond(discovery.resource_list("v1", [t for t in types if t.group == ""]))
    if path == "/apis":
        return _aggregated(api, request, core=False) or wire.respond(discovery.group_list(types))
    if parts[0] == "apis" and len(parts) == 2:
        in_group = [t for t in types if t.group == parts[1]]
        if not in_group:
            raise errors.ApiStatusError(
                404, "NotFound", "the server could not find the requested resource"
            )
        return wire.respond(discovery.group_doc(parts[1], in_group))
    if parts[0] == "apis" and len(parts) == 3:
        matching = [t for t in types if t.group == parts[1] and t.version == parts[2]]
        if not matching:
            raise errors.ApiStatusError(
                404, "NotFound", "the server could not find the requested resource"
            )
        return wire.respond(discovery.resource_list(f"{parts[1]}/{parts[2]}", matching))
    if parts[0] == "api" and len(parts) >= 3 and parts[1] == "v1":
        target = resources.parse(api, "", "v1", parts[2:])
        return await resources.handle(api, request, target)
    if parts[0] == "apis" and len(parts) >= 4:
        target = resources.parse(api, parts[1], parts[2], parts[3:])
        return await resources.handle(api, request, target)
    raise errors.ApiStatusError(404, "NotFound", "the server could not find the requested resource")
