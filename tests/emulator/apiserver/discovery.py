"""Discovery: the legacy documents (/api, /api/v1, /apis, /apis/{g}, /apis/{g}/{v}) and the
aggregated discovery (apidiscovery.k8s.io/v2, one request for everything) kubectl 1.35 asks
for first."""

from __future__ import annotations

from typing import Any

from tests.emulator.apiserver.types import ResourceType, version_priority

AGGREGATED = "apidiscovery.k8s.io"
STATUS_VERBS = ["get", "patch", "update"]


def _sorted_versions(types: list[ResourceType]) -> list[str]:
    return sorted({t.version for t in types}, key=version_priority)


def resource_list(group_version: str, types: list[ResourceType]) -> dict[str, Any]:
    resources: list[dict[str, Any]] = []
    for rt in sorted(types, key=lambda t: t.plural):
        entry: dict[str, Any] = {
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": list(rt.verbs),
        }
        if rt.short_names:
            entry["shortNames"] = rt.short_names
        if rt.categories:
            entry["categories"] = rt.categories
        resources.append(entry)
        if rt.status_subresource:
            resources.append(
                {
                    "name": f"{rt.plural}/status",
                    "singularName": "",
                    "namespaced": rt.namespaced,
                    "kind": rt.kind,
                    "verbs": STATUS_VERBS,
                }
            )
        if rt.scale:
            resources.append(
                {
                    "name": f"{rt.plural}/scale",
                    "singularName": "",
                    "namespaced": rt.namespaced,
                    "group": "autoscaling",
                    "version": "v1",
                    "kind": "Scale",
                    "verbs": STATUS_VERBS,
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


def group_doc(group: str, types: list[ResourceType]) -> dict[str, Any]:
    vs = [{"groupVersion": f"{group}/{v}", "version": v} for v in _sorted_versions(types)]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": vs,
        "preferredVersion": vs[0],
    }


def group_list(types: list[ResourceType]) -> dict[str, Any]:
    groups: dict[str, list[ResourceType]] = {}
    for rt in types:
        if rt.group:
            groups.setdefault(rt.group, []).append(rt)
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [group_doc(g, ts) for g, ts in sorted(groups.items())],
    }


def api_versions() -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
    }


def _aggregated_resource(rt: ResourceType) -> dict[str, Any]:
    kind = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    entry: dict[str, Any] = {
        "resource": rt.plural,
        "responseKind": kind,
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = rt.short_names
    if rt.categories:
        entry["categories"] = rt.categories
    subresources = []
    if rt.status_subresource:
        subresources.append({"subresource": "status", "responseKind": kind, "verbs": STATUS_VERBS})
    if rt.scale:
        scale = {"group": "autoscaling", "version": "v1", "kind": "Scale"}
        subresources.append({"subresource": "scale", "responseKind": scale, "verbs": STATUS_VERBS})
    if subresources:
        entry["subresources"] = subresources
    return entry


def aggregated(types: list[ResourceType], core: bool, version: str) -> dict[str, Any]:
    """APIGroupDiscoveryList for /api (core) or /apis; `version` is v2 or v2beta1."""
    groups: dict[str, list[ResourceType]] = {}
    for rt in types:
        if (rt.group == "") == core:
            groups.setdefault(rt.group, []).append(rt)
    items = []
    for group, ts in sorted(groups.items()):
        items.append(
            {
                "metadata": {"name": group, "creationTimestamp": None},
                "versions": [
                    {
                        "version": v,
                        "resources": [
                            _aggregated_resource(t)
                            for t in sorted(ts, key=lambda t: t.plural)
                            if t.version == v
                        ],
                        "freshness": "Current",
                    }
                    for v in _sorted_versions(ts)
                ],
            }
        )
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"{AGGREGATED}/{version}",
        "metadata": {},
        "items": items,
    }
