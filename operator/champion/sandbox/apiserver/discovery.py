"""Discovery documents and the minimal OpenAPI kubectl needs."""

from __future__ import annotations

from typing import Any

from champion.sandbox.apiserver.types import ResourceType


def resource_list(group_version: str, types: list[ResourceType]) -> dict[str, Any]:
    resources: list[dict[str, Any]] = []
    for rt in types:
        resources.append(
            {
                "name": rt.plural,
                "singularName": rt.singular,
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": list(rt.verbs),
                **({"shortNames": rt.short_names} if rt.short_names else {}),
                **({"categories": rt.categories} if rt.categories else {}),
            }
        )
        if rt.status_subresource:
            resources.append(
                {
                    "name": f"{rt.plural}/status",
                    "singularName": "",
                    "namespaced": rt.namespaced,
                    "kind": rt.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


def group_list(types: list[ResourceType]) -> dict[str, Any]:
    groups: dict[str, list[str]] = {}
    for rt in types:
        if rt.group:
            versions = groups.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [group_doc(g, vs) for g, vs in sorted(groups.items())],
    }


def group_doc(group: str, versions: list[str]) -> dict[str, Any]:
    vs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": vs,
        "preferredVersion": vs[0],
    }


def openapi_v3_root(types: list[ResourceType]) -> dict[str, Any]:
    paths = {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1"}}
    for rt in types:
        if rt.group:
            paths[f"apis/{rt.group}/{rt.version}"] = {
                "serverRelativeURL": f"/openapi/v3/apis/{rt.group}/{rt.version}"
            }
    return {"paths": paths}


def openapi_v3_group(types: list[ResourceType]) -> dict[str, Any]:
    """A document whose PATCH operations declare `fieldValidation`: kubectl then leaves
    validation to the server instead of validating client-side against schemas we do not serve."""
    paths: dict[str, Any] = {}
    for rt in types:
        base = "/api/v1" if not rt.group else f"/apis/{rt.group}/{rt.version}"
        prefix = (
            f"{base}/namespaces/{{namespace}}/{rt.plural}"
            if rt.namespaced
            else f"{base}/{rt.plural}"
        )
        params = [
            {
                "name": "fieldValidation",
                "in": "query",
                "schema": {"type": "string", "uniqueItems": True},
            }
        ]
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        paths[f"{prefix}/{{name}}"] = {
            "patch": _op(params, gvk, "200"),
            "put": _op(params, gvk, "200"),
        }
        paths[prefix] = {"post": _op(params, gvk, "201")}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Champion emulated API server", "version": "v1"},
        "paths": paths,
        "components": {"schemas": {}},
    }


def _op(params: list[dict[str, Any]], gvk: dict[str, str], code: str) -> dict[str, Any]:
    # kubectl finds an operation by this extension, then checks it for `fieldValidation`.
    return {
        "parameters": params,
        "responses": {code: {"description": "OK"}},
        "x-kubernetes-group-version-kind": gvk,
    }
