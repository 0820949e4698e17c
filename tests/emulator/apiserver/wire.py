"""What goes over the wire: JSON answers, request bodies (JSON, YAML, protobuf), the Accept
header's variants (Table, PartialObjectMetadata, aggregated discovery) and common query
parameters (dryRun, fieldValidation)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import yaml
from aiohttp import web

from tests.emulator.apiserver import errors, protobuf
from tests.emulator.apiserver.patching import APPLY

JSON = "application/json"


def respond(body: Any, status: int = 200, warnings: Iterable[str] = ()) -> web.Response:
    response = web.Response(text=json.dumps(body), status=status, content_type=JSON)
    for warning in warnings:
        response.headers.add("Warning", f'299 - "{_escape(warning)}"')
    return response


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def error(exc: errors.ApiStatusError) -> web.Response:
    return respond(exc.body(), exc.code)


async def body(request: web.BaseRequest) -> Any:
    ctype = request.content_type
    raw = await request.read()
    if ctype == protobuf.MEDIA_TYPE:
        return protobuf.decode(raw)
    if not raw:
        return None
    try:
        if ctype == APPLY or ctype.endswith("yaml"):
            return yaml.safe_load(raw)
        return json.loads(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise errors.bad_request(f"the body of the request could not be decoded: {exc}") from exc


def wants(request: web.BaseRequest, as_kind: str, group: str | None = None) -> str | None:
    """The version of the `as=<as_kind>` media type the Accept header asks for, if any."""
    for alternative in request.headers.get("Accept", "").split(","):
        params = dict(p.strip().split("=", 1) for p in alternative.split(";")[1:] if "=" in p)
        if params.get("as") == as_kind and (group is None or params.get("g") == group):
            return params.get("v", "v1")
    return None


def dry_run(request: web.BaseRequest, options: dict[str, Any] | None = None) -> bool:
    values = request.query.getall("dryRun", []) + list((options or {}).get("dryRun") or [])
    for value in values:
        if value != "All":
            raise errors.bad_request(f'Invalid dryRun value "{value}": only "All" is supported')
    return bool(values)


def field_validation(request: web.BaseRequest) -> str:
    value = request.query.get("fieldValidation", "Warn") or "Warn"
    if value not in ("Ignore", "Warn", "Strict"):
        raise errors.bad_request(
            f"fieldValidation invalid value: {value}; allowed values are Ignore, Warn, Strict"
        )
    return value
