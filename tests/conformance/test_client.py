"""The operator's own client (`champion.adapters.kube`) on Champion's CRDs and built-in kinds:
what it expects of the server holds on both."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from tests.conformance.conftest import Api
from tests.conftest import ROOT

from champion.adapters.kube import Conflict, NotFound, resource_for

EXAMPLES = ROOT / "examples" / "demo"


def _example(name: str, namespace: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    if namespace is None:
        doc["metadata"].pop("namespace", None)
    else:
        doc["metadata"]["namespace"] = namespace
    return doc


async def test_create_get_list_and_status(server: Api) -> None:
    client, ns = server.client, server.namespace
    mv = _example("21-modelversion-v1.yaml", ns)
    mv["metadata"]["labels"] = {"team": "assistants"}
    res = resource_for(mv["apiVersion"], mv["kind"])
    created = await client.create(mv)
    assert created["metadata"]["generation"] == 1
    assert await client.get(res, "chat-v1", ns) == created
    assert await client.get(res, "nope", ns) is None
    listed = await client.list(res, ns, label_selector="team=assistants")
    assert [o["metadata"]["name"] for o in listed] == ["chat-v1"]
    assert await client.list(res, ns, label_selector="team=other") == []
    status = await client.patch(res, "chat-v1", {"status": {"stage": "Registered"}}, ns,
                                subresource="status")  # fmt: skip
    assert status["status"]["stage"] == "Registered" and status["metadata"]["generation"] == 1


async def test_ensure_creates_then_converges_then_leaves_alone(server: Api) -> None:
    client, ns = server.client, server.namespace
    cm = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "prompt", "namespace": ns, "labels": {"a": "1"}}, "data": {"k": "v1"}}  # fmt: skip
    created, changed = await client.ensure(cm)
    assert changed and created["data"] == {"k": "v1"}
    same, changed = await client.ensure(cm)
    assert not changed and same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]  # fmt: skip
    cm["data"] = {"k": "v2"}
    updated, changed = await client.ensure(cm)
    assert changed and updated["data"] == {"k": "v2"}


async def test_ensure_of_a_service_is_stable_despite_server_defaults(server: Api) -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "chat", "namespace": server.namespace},
           "spec": {"selector": {"app": "chat"}, "ports": [{"name": "http", "port": 80, "targetPort": 8000}]}}  # fmt: skip
    first, changed = await server.client.ensure(svc)
    assert changed and first["spec"]["clusterIP"]
    _, changed = await server.client.ensure(svc)
    assert not changed


async def test_a_stale_patch_raises_conflict_and_a_missing_one_not_found(server: Api) -> None:
    client, ns = server.client, server.namespace
    suite = _example("30-evalsuite.yaml", ns)
    res = resource_for(suite["apiVersion"], suite["kind"])
    created = await client.create(suite)
    await client.patch(res, "arithmetic", {"metadata": {"labels": {"x": "1"}}}, ns)
    stale = {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"], "labels": {"x": "2"}}}  # fmt: skip
    with pytest.raises(Conflict) as conflict:
        await client.patch(res, "arithmetic", stale, ns)
    assert conflict.value.status == 409 and conflict.value.reason == "Conflict"
    with pytest.raises(NotFound):
        await client.patch(res, "nope", {"metadata": {"labels": {"x": "1"}}}, ns)


async def test_delete_of_a_cluster_scoped_pool(server: Api) -> None:
    pool = _example("10-gpupool.yaml", None)
    pool["metadata"]["name"] = server.unique("h100")
    server.cluster_scoped.append(f"/apis/champion.dev/v1alpha1/gpupools/{pool['metadata']['name']}")
    res = resource_for(pool["apiVersion"], pool["kind"])
    await server.client.create(pool)
    assert await server.client.delete(res, pool["metadata"]["name"]) is True
    assert await server.client.delete(res, pool["metadata"]["name"]) is False
    assert await server.client.get(res, pool["metadata"]["name"]) is None
