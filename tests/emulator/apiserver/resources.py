"""The resource endpoints: get, list (paginated), watch, create, update, patch, delete and
deletecollection, with their query parameters, for any served group/version/resource."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.emulator.apiserver import errors, scale, watch, wire
from tests.emulator.apiserver.patching import APPLY, apply_patch
from tests.emulator.apiserver.selectors import field_matcher, label_matcher
from tests.emulator.apiserver.table import table
from tests.emulator.apiserver.types import ResourceType

if TYPE_CHECKING:
    from tests.emulator.apiserver.server import ApiServer


@dataclass
class Target:
    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None


def parse(api: ApiServer, group: str, version: str, tail: list[str]) -> Target:
    """`plural[/name[/sub]]` or `namespaces/ns/plural[/name[/sub]]`."""
    namespace = None
    if tail[0] == "namespaces" and len(tail) >= 3 and tail[2] not in ("status", "finalize"):
        namespace, tail = tail[1], tail[2:]
    if len(tail) > 3:
        raise _no_route()
    rt = api.store.type_for(group, tail[0], version)
    if namespace is not None and not rt.namespaced:
        raise _no_route()
    name = tail[1] if len(tail) > 1 else None
    sub = tail[2] if len(tail) > 2 else None
    if sub is not None and not (
        (sub == "status" and rt.status_subresource) or (sub == "scale" and rt.scale)
    ):
        raise _no_route()
    return Target(rt, namespace, name, sub)


def _no_route() -> errors.ApiStatusError:
    return errors.ApiStatusError(
        404, "NotFound", "the server could not find the requested resource"
    )


def _served(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """The object as the requested version shows it (conversion strategy None); a shallow
    copy, as watch events share one snapshot between watchers."""
    return {**obj, "apiVersion": rt.api_version}


def _partial(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def _page(
    items: list[dict[str, Any]], request: web.BaseRequest, rv: str
) -> tuple[list[dict[str, Any]], str | None, int | None]:
    """`limit` and `continue`: pages in (namespace, name) order; the token is opaque."""
    token = request.query.get("continue")
    if token:
        try:
            start = json.loads(base64.urlsafe_b64decode(token.encode()))["start"]
        except (ValueError, KeyError, TypeError) as exc:
            raise errors.bad_request(f"continue key is not valid: {exc}") from exc
        items = [
            o for o in items if [o["metadata"].get("namespace", ""), o["metadata"]["name"]] > start
        ]
    try:
        limit = int(request.query.get("limit") or 0)
    except ValueError as exc:
        raise errors.bad_request("limit must be an integer") from exc
    if limit <= 0 or len(items) <= limit:
        return items, None, None
    last = items[limit - 1]["metadata"]
    start = [last.get("namespace", ""), last["name"]]
    next_token = base64.urlsafe_b64encode(
        json.dumps({"v": "meta.k8s.io/v1", "rv": int(rv), "start": start}).encode()
    ).decode()
    return items[:limit], next_token, len(items) - limit


def _renderer(request: web.BaseRequest, rt: ResourceType) -> Any:
    include = request.query.get("includeObject", "Metadata")
    if wire.wants(request, "Table", "meta.k8s.io"):
        return lambda o: table(rt, [_served(rt, o)], o["metadata"]["resourceVersion"], include)
    if wire.wants(request, "PartialObjectMetadata", "meta.k8s.io"):
        return lambda o: _partial(o)
    return lambda o: _served(rt, o)


async def handle(api: ApiServer, request: web.BaseRequest, target: Target) -> web.StreamResponse:
    rt, ns, name, sub = target.rt, target.namespace, target.name, target.subresource
    method = request.method
    if sub == "scale" and name is not None:
        return await _scale(api, request, rt, ns, name)
    if method == "GET":
        return await _read(api, request, target)
    if method == "POST" and name is None:
        return await _create(api, request, rt, ns)
    if method == "PUT" and name is not None:
        return await _update(api, request, rt, ns, name, sub)
    if method == "PATCH" and name is not None:
        return await _patch(api, request, rt, ns, name, sub)
    if method == "DELETE" and name is not None and sub is None:
        return await _delete(api, request, rt, ns, name)
    if method == "DELETE" and name is None:
        return await _delete_collection(api, request, rt, ns)
    raise errors.method_not_allowed(
        "the server does not allow this method on the requested resource"
    )


def _matcher(request: web.BaseRequest, rt: ResourceType, name: str | None) -> Any:
    labels = label_matcher(request.query.get("labelSelector"))
    fields = field_matcher(request.query.get("fieldSelector"), rt.selectable_fields)

    def match(obj: dict[str, Any]) -> bool:
        named = name is None or obj["metadata"]["name"] == name
        return named and labels(obj) and fields(obj)

    return match


async def _read(api: ApiServer, request: web.BaseRequest, target: Target) -> web.StreamResponse:
    rt, ns, name = target.rt, target.namespace, target.name
    render = _renderer(request, rt)
    if request.query.get("watch", "").lower() in ("true", "1"):
        return await watch.stream(
            request,
            api.store,
            rt,
            ns,
            _matcher(request, rt, name),
            render,
            api.stopping,
            api.bookmark_interval,
        )
    if name is not None:
        obj = api.store.get(rt, ns, name)
        return wire.respond(render(obj) if target.subresource is None else _served(rt, obj))
    rv = str(api.store.rv)
    items = api.store.select(rt, ns, _matcher(request, rt, None))
    page, token, remaining = _page(items, request, rv)
    include = request.query.get("includeObject", "Metadata")
    if wire.wants(request, "Table", "meta.k8s.io"):
        return wire.respond(table(rt, [_served(rt, o) for o in page], rv, include, token))
    meta: dict[str, Any] = {"resourceVersion": rv}
    if token:
        meta["continue"] = token
        meta["remainingItemCount"] = remaining
    if wire.wants(request, "PartialObjectMetadata", "meta.k8s.io"):
        return wire.respond(
            {
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": meta,
                "items": [_partial(o) for o in page],
            }
        )
    return wire.respond(
        {
            "kind": f"{rt.kind}List",
            "apiVersion": rt.api_version,
            "metadata": meta,
            "items": [_served(rt, o) for o in page],
        }
    )


def _check_body(rt: ResourceType, body: Any, ns: str | None, name: str | None) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise errors.bad_request("the body of the request must be an object")
    kind = body.get("kind")
    if kind is not None and kind != rt.kind:
        raise errors.bad_request(
            f'the kind "{kind}" does not match the resource {rt.qualified_resource} ({rt.kind})'
        )
    meta = body.get("metadata") or {}
    if name is not None and meta.get("name", name) != name:
        raise errors.bad_request(
            f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
        )
    if ns is not None and meta.get("namespace", ns) not in (ns, "", None):
        raise errors.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    return body


async def _create(
    api: ApiServer, request: web.BaseRequest, rt: ResourceType, ns: str | None
) -> web.StreamResponse:
    if rt.namespaced and ns is None:
        raise _no_route()
    body = _check_body(rt, await wire.body(request), ns, None)
    if (body.get("metadata") or {}).get("resourceVersion"):
        raise errors.internal("resourceVersion should not be set on objects to be created")
    warnings: list[str] = []
    created = api.store.create(
        rt,
        ns,
        body,
        dry_run=wire.dry_run(request),
        field_validation=wire.field_validation(request),
        warnings=warnings,
    )
    return wire.respond(_served(rt, created), 201, _warnings(rt, warnings))


def _warnings(rt: ResourceType, warnings: list[str]) -> list[str]:
    return [*([rt.deprecation_warning] if rt.deprecation_warning else []), *warnings]


async def _update(
    api: ApiServer,
    request: web.BaseRequest,
    rt: ResourceType,
    ns: str | None,
    name: str,
    sub: str | None,
) -> web.StreamResponse:
    body = _check_body(rt, await wire.body(request), ns, name)
    if rt.custom and not (body.get("metadata") or {}).get("resourceVersion"):
        # Custom resources allow no unconditional update (a real server's CRD strategy);
        # this error names the resource, not the kind, as a real server's does.
        raise errors.invalid(
            rt.plural,
            rt.group,
            name,
            [
                errors.Cause(
                    "metadata.resourceVersion",
                    "Invalid value: 0: must be specified for an update",
                )
            ],
        )
    warnings: list[str] = []
    updated = api.store.update(
        rt,
        ns,
        name,
        body,
        sub,
        dry_run=wire.dry_run(request),
        field_validation=wire.field_validation(request),
        warnings=warnings,
    )
    return wire.respond(_served(rt, updated), 200, _warnings(rt, warnings))


async def _patch(
    api: ApiServer,
    request: web.BaseRequest,
    rt: ResourceType,
    ns: str | None,
    name: str,
    sub: str | None,
) -> web.StreamResponse:
    ctype = request.content_type
    patch = await wire.body(request)
    dry_run = wire.dry_run(request)
    validation = wire.field_validation(request)
    warnings: list[str] = []
    try:
        current = _served(rt, api.store.get(rt, ns, name))
    except errors.ApiStatusError:
        if ctype == APPLY and sub is None and isinstance(patch, dict):
            patch = _check_body(rt, patch, ns, name)
            created = api.store.create(
                rt,
                ns,
                {**patch, "metadata": {**(patch.get("metadata") or {}), "name": name}},
                dry_run=dry_run,
                field_validation=validation,
                warnings=warnings,
            )
            return wire.respond(_served(rt, created), 201, _warnings(rt, warnings))
        raise
    patched = apply_patch(current, patch, ctype, rt.custom)
    # A resourceVersion the patch sets is a precondition (409 if stale); one it leaves
    # alone is the current one.
    updated = api.store.update(
        rt,
        ns,
        name,
        patched,
        sub,
        dry_run=dry_run,
        field_validation=validation,
        warnings=warnings,
    )
    return wire.respond(_served(rt, updated), 200, _warnings(rt, warnings))


async def _delete_options(request: web.BaseRequest) -> dict[str, Any]:
    # body_exists, not can_read_body: kmock's front has read the body already (aiohttp keeps
    # it for request.read()), and can_read_body is then False.
    options = await wire.body(request) if request.body_exists else None
    options = dict(options) if isinstance(options, dict) else {}
    if request.query.get("propagationPolicy"):
        options["propagationPolicy"] = request.query["propagationPolicy"]
    if options.get("orphanDependents") is True:
        options.setdefault("propagationPolicy", "Orphan")
    policy = options.get("propagationPolicy")
    if policy not in (None, "Background", "Foreground", "Orphan"):
        raise errors.bad_request(f'propagationPolicy: Unsupported value: "{policy}"')
    return options


async def _delete(
    api: ApiServer, request: web.BaseRequest, rt: ResourceType, ns: str | None, name: str
) -> web.StreamResponse:
    options = await _delete_options(request)
    deleted = api.store.delete(
        rt,
        ns,
        name,
        propagation=options.get("propagationPolicy"),
        preconditions=options.get("preconditions"),
        dry_run=wire.dry_run(request, options),
    )
    return wire.respond(_served(rt, deleted))


async def _delete_collection(
    api: ApiServer, request: web.BaseRequest, rt: ResourceType, ns: str | None
) -> web.StreamResponse:
    options = await _delete_options(request)
    dry_run = wire.dry_run(request, options)
    deleted = []
    for obj in api.store.select(rt, ns, _matcher(request, rt, None)):
        meta = obj["metadata"]
        try:
            deleted.append(
                api.store.delete(
                    rt,
                    meta.get("namespace"),
                    meta["name"],
                    propagation=options.get("propagationPolicy"),
                    dry_run=dry_run,
                )
            )
        except errors.ApiStatusError:
            continue  # gone meanwhile (a cascade took it)
    return wire.respond(
        {
            "kind": f"{rt.kind}List",
            "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": str(api.store.rv)},
            "items": [_served(rt, o) for o in deleted],
        }
    )


async def _scale(api: ApiServer, request: web.BaseRequest, rt: ResourceType, ns: str | None, name: str) -> web.StreamResponse:  # fmt: skip
    assert rt.scale is not None
    obj = api.store.get(rt, ns, name)
    current = scale.to_scale(obj, rt.scale)
    if request.method == "GET":
        return wire.respond(current)
    if request.method == "PUT":
        wanted = await wire.body(request)
    elif request.method == "PATCH":
        wanted = apply_patch(current, await wire.body(request), request.content_type)
    else:
        raise errors.method_not_allowed("the server does not allow this method on the scale subresource")  # fmt: skip
    if not isinstance(wanted, dict):
        raise errors.bad_request("the body of the request must be a Scale object")
    updated = api.store.update(
        rt, ns, name, scale.apply_scale(obj, wanted, rt.scale), dry_run=wire.dry_run(request)
    )
    return wire.respond(scale.to_scale(updated, rt.scale))
