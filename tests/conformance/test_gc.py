"""Garbage collection by ownerReferences. On the real server the collector is the real
kube-controller-manager, which acts asynchronously: every check polls with a deadline."""

from __future__ import annotations

from typing import Any

import pytest
from tests.conformance.conftest import CONFIGMAPS, WIDGETS, Api, configmap, owner_ref, widget
from tests.helpers import eventually


async def _names(server: Api) -> list[str]:
    listed = await server.get(server.path(CONFIGMAPS))
    return sorted(
        o["metadata"]["name"]
        for o in listed.body["items"]
        if o["metadata"]["name"] != "kube-root-ca.crt"  # the real root-CA publisher's
    )


async def _until_names(server: Api, expected: list[str]) -> None:
    async def check() -> bool:
        return await _names(server) == expected

    await eventually(
        check, timeout=server.controller_timeout, every=0.1, what=f"configmaps {expected}"
    )


async def _owned(server: Api, name: str, *owners: dict[str, Any], **extra: Any) -> dict[str, Any]:
    refs = [owner_ref(o, **extra) for o in owners]
    created: dict[str, Any] = await server.create(CONFIGMAPS, configmap(name, ownerReferences=refs))
    return created


async def test_deleting_a_custom_resource_owner_collects_its_dependents(server: Api) -> None:
    owner = await server.create(WIDGETS, widget())
    other = await server.create(CONFIGMAPS, configmap("other-owner"))
    child = await _owned(server, "child", owner)
    await _owned(server, "shared", owner, other)
    await _owned(server, "grandchild", child)
    assert (await server.delete(server.path(WIDGETS, "chat"))).status == 200
    await _until_names(server, ["other-owner", "shared"])

    async def stripped() -> list[str] | None:
        shared = (await server.get(server.path(CONFIGMAPS, "shared"))).body
        refs = [r["name"] for r in shared["metadata"].get("ownerReferences", [])]
        return refs if refs == ["other-owner"] else None

    await eventually(
        stripped, timeout=server.controller_timeout, what="the dangling ownerReference removed"
    )


async def test_background_propagation_of_a_built_in_owner(server: Api) -> None:
    owner = await server.create(CONFIGMAPS, configmap("owner"))
    await _owned(server, "dep-a", owner)
    await _owned(server, "dep-b", owner)
    body = {"propagationPolicy": "Background"}
    assert (await server.delete(server.path(CONFIGMAPS, "owner"), body)).status == 200
    await _until_names(server, [])


async def test_orphan_propagation_keeps_dependents_and_removes_the_reference(server: Api) -> None:
    owner = await server.create(CONFIGMAPS, configmap("owner"))
    await _owned(server, "kept", owner)
    deleted = await server.delete(server.path(CONFIGMAPS, "owner"), {"propagationPolicy": "Orphan"})
    assert deleted.status == 200
    await _until_names(server, ["kept"])

    async def orphaned() -> bool:
        kept = (await server.get(server.path(CONFIGMAPS, "kept"))).body
        return "ownerReferences" not in kept["metadata"]

    await eventually(orphaned, timeout=server.controller_timeout, what="the ownerReference removed")


async def test_foreground_propagation_waits_for_blocking_dependents(server: Api) -> None:
    owner = await server.create(CONFIGMAPS, configmap("owner"))
    blocker = configmap("blocking", finalizers=["test.dev/hold"],
                        ownerReferences=[owner_ref(owner, blockOwnerDeletion=True)])  # fmt: skip
    await server.create(CONFIGMAPS, blocker)
    marked = await server.delete(server.path(CONFIGMAPS, "owner"), {"propagationPolicy": "Foreground"})  # fmt: skip
    assert marked.status == 200
    assert marked.body["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert marked.body["metadata"]["deletionTimestamp"]

    async def dependent_marked() -> bool:
        held = (await server.get(server.path(CONFIGMAPS, "blocking"))).body
        return bool(held["metadata"].get("deletionTimestamp"))

    await eventually(
        dependent_marked, timeout=server.controller_timeout, what="the dependent marked deleted"
    )
    assert "owner" in await _names(server), "the owner waits for its blocking dependent"
    await server.patch(server.path(CONFIGMAPS, "blocking"), {"metadata": {"finalizers": None}})
    await _until_names(server, [])


@pytest.mark.emulator_differs("it collects dependents only when an owner is deleted")
async def test_a_dependent_whose_owner_never_existed_is_collected(server: Api) -> None:
    ghost = {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "ghost", "uid": "11111111-2222-3333-4444-555555555555"}}  # fmt: skip
    await _owned(server, "orphan", ghost)
    await _until_names(server, [])
