"""The OpenAPI documents kubectl reads: /openapi/v3 (root and per group-version) and a JSON
/openapi/v2.

Every PATCH operation declares the `fieldValidation` query parameter: kubectl then knows the
server validates fields (it sends `fieldValidation=Strict` and does no client-side schema
validation). Custom resources publish their CRD schema (with
`x-kubernetes-group-version-kind`), so `kubectl explain` works for them; built-in kinds
publish no schema (kubectl falls back to its compiled-in types for strategic merge).
"""

from __future__ import annotations

import copy
from typing import Any

from tests.emulator.apiserver.types import ResourceType

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_FIELD_VALIDATION = {
    "name": "fieldValidation",
    "in": "query",
    "description": "fieldValidation instructs the server on how to handle objects in the "
    "request containing unknown or duplicate fields: Ignore, Warn or Strict.",
    "schema": {"type": "string", "uniqueItems": True},
}


def schema_name(rt: ResourceType) -> str:
    """`dev.champion.v1alpha1.Rollout` from champion.dev/v1alpha1 Rollout (reversed group)."""
    group = ".".join(reversed(rt.group.split("."))) if rt.group else "io.k8s.api.core"
    return f"{group}.{rt.version}.{rt.kind}"


def _component(rt: ResourceType, ref_prefix: str) -> dict[str, Any]:
    schema: dict[str, Any] = copy.deepcopy(rt.schema) if rt.schema else {"type": "object"}
    props: dict[str, Any] = schema.setdefault("properties", {})
    props.setdefault("apiVersion", {"type": "string", "description": "APIVersion of this object."})
    props.setdefault("kind", {"type": "string", "description": "Kind of this object."})
    props["metadata"] = {"$ref": f"{ref_prefix}{OBJECT_META}"}
    schema["x-kubernetes-group-version-kind"] = [
        {"group": rt.group, "version": rt.version, "kind": rt.kind}
    ]
    return schema


def _prefix(rt: ResourceType) -> str:
    base = f"/apis/{rt.group}/{rt.version}" if rt.group else "/api/v1"
    return (
        f"{base}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{base}/{rt.plural}"
    )


def _op(rt: ResourceType, code: str, action: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    # kubectl finds an operation by this extension, then checks it for `fieldValidation`.
    return {
        "operationId": f"{action}{rt.kind}",
        "parameters": params,
        "responses": {code: {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {
            "group": rt.group,
            "version": rt.version,
            "kind": rt.kind,
        },
    }


def v3_root(types: list[ResourceType]) -> dict[str, Any]:
    paths = {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1"}}
    for rt in types:
        if rt.group:
            paths[f"apis/{rt.group}/{rt.version}"] = {
                "serverRelativeURL": f"/openapi/v3/apis/{rt.group}/{rt.version}"
            }
    return {"paths": paths}


def v3_group(types: list[ResourceType]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {
        OBJECT_META: {"type": "object", "description": "Standard object's metadata."}
    }
    for rt in types:
        prefix = _prefix(rt)
        v3_param = [_FIELD_VALIDATION]
        paths[f"{prefix}/{{name}}"] = {
            "get": _op(rt, "200", "get", []),
            "patch": _op(rt, "200", "patch", v3_param),
            "put": _op(rt, "200", "put", v3_param),
            "delete": _op(rt, "200", "delete", []),
        }
        paths[prefix] = {
            "get": _op(rt, "200", "list", []),
            "post": _op(rt, "201", "post", v3_param),
        }
        if rt.status_subresource:
            paths[f"{prefix}/{{name}}/status"] = {"patch": _op(rt, "200", "patch", v3_param)}
        if rt.custom:
            schemas[schema_name(rt)] = _component(rt, "#/components/schemas/")
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.35.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def v2(types: list[ResourceType]) -> dict[str, Any]:
    v2_param = {
        **{k: v for k, v in _FIELD_VALIDATION.items() if k != "schema"},
        "type": "string",
        "uniqueItems": True,
    }
    paths: dict[str, Any] = {}
    definitions: dict[str, Any] = {OBJECT_META: {"type": "object"}}
    for rt in types:
        prefix = _prefix(rt)
        paths[f"{prefix}/{{name}}"] = {
            "get": _op(rt, "200", "get", []),
            "patch": _op(rt, "200", "patch", [v2_param]),
            "put": _op(rt, "200", "put", [v2_param]),
        }
        paths[prefix] = {"post": _op(rt, "201", "post", [v2_param])}
        if rt.custom:
            definitions[schema_name(rt)] = _component(rt, "#/definitions/")
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "v1.35.0"},
        "paths": paths,
        "definitions": definitions,
    }
