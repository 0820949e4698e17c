"""Acting on owned children: create or converge what should exist, delete what should not."""

from __future__ import annotations

from typing import Any

from champion.adapters.kube import KubeApi, resource_for


async def converge(api: KubeApi, manifests: list[dict[str, Any]]) -> list[str]:
    """Creates or patches each manifest; returns `Kind/name` of those that changed."""
    changed: list[str] = []
    for manifest in manifests:
        _, did_change = await api.ensure(manifest)
        if did_change:
            changed.append(f"{manifest['kind']}/{manifest['metadata']['name']}")
    return changed


async def delete_owned(
    api: KubeApi,
    api_version: str,
    kind: str,
    namespace: str,
    owner_uid: str,
    keep: set[str],
    label_selector: str,
) -> list[str]:
    """Deletes children of `kind` owned by `owner_uid` whose names are not in `keep`."""
    res = resource_for(api_version, kind)
    deleted: list[str] = []
    for obj in await api.list(res, namespace, label_selector=label_selector):
        meta = obj["metadata"]
        owners = meta.get("ownerReferences") or []
        if meta["name"] in keep or not any(o.get("uid") == owner_uid for o in owners):
            continue
        if await api.delete(res, meta["name"], namespace):
            deleted.append(f"{kind}/{meta['name']}")
    return deleted
