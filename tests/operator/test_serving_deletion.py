"""Nothing serving is deleted behind the user's back (issue 20, section 1).

Real kopf runs Champion's registry against the emulated API server, with the cluster's
controllers stood in (Deployments become Ready, pods are scheduled). Each test deletes
something a Rollout serves from and checks the ModelVersion, the children, the route's
backends, the events and the conditions. Every state the server stored is read back from
its history, so a condition that was True for one reconcile is seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import kmock
import pytest
import yaml

from champion.adapters.kube import KubeApi, connect, resource_for
from champion.handlers.run import run_operator
from champion.reconcile.settings import OperatorSettings
from tests.conftest import ROOT
from tests.emulator.apiserver import ApiServer
from tests.emulator.cluster import ClusterStandIn, sandbox_nodes
from tests.helpers import eventually

MV = resource_for("champion.dev/v1alpha1", "ModelVersion")
RO = resource_for("champion.dev/v1alpha1", "Rollout")
DEPLOYMENT = resource_for("apps/v1", "Deployment")
SERVICE = resource_for("v1", "Service")
ROUTE = resource_for("gateway.networking.k8s.io/v1", "HTTPRoute")
EVENT = resource_for("v1", "Event")
NS = "demo"
CHILD = "chat-chat-v1"
"""The Deployment and Service the Rollout `chat` runs chat-v1 with."""


def demo(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "demo" / name).read_text())
    return doc


@dataclass
class World:
    api: KubeApi
    server: ApiServer
    controllers_on: asyncio.Event
    """Cleared: the stand-in Deployment controller stops making Deployments Ready."""


@pytest.fixture
async def world(apiserver: ApiServer, caplog: pytest.LogCaptureFixture) -> AsyncIterator[World]:
    caplog.set_level(logging.INFO)
    for node in sandbox_nodes(1):
        apiserver.seed(node)
    for name in (
        "00-namespace.yaml",
        "10-gpupool.yaml",
        "21-modelversion-v1.yaml",
        "22-modelversion-v2.yaml",
    ):
        apiserver.seed(demo(name))
    rollout = demo("40-rollout.yaml")
    rollout["spec"]["analysis"]["metrics"] = []
    rollout["spec"]["strategy"] = {
        "canary": {"steps": [{"weight": 50, "durationSeconds": 600}]},
        "scaleDownDelaySeconds": 1,
    }
    apiserver.seed(rollout)
    cluster = ClusterStandIn(apiserver, prometheus=None)
    stop_cluster, on = asyncio.Event(), asyncio.Event()
    on.set()

    async def controllers() -> None:
        while not stop_cluster.is_set():
            if on.is_set():
                await cluster.reconcile()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_cluster.wait(), 0.2)

    cluster_task = asyncio.create_task(controllers())
    settings = OperatorSettings(
        kubeconfig=str(apiserver.kubeconfig), metrics_port=None, namespaces=(NS,),
        rollout_tick_seconds=0.3, gpupool_tick_seconds=60, modelversion_tick_seconds=60,
    )  # fmt: skip
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_operator(settings, stop_flag=stop, ready_flag=ready))
    api = await connect(str(apiserver.kubeconfig))
    try:
        await asyncio.wait_for(ready.wait(), 20)
        await eventually(lambda: _serving(api, "chat-v1"), what="chat-v1 to serve 100%")
        yield World(api, apiserver, on)
    finally:
        await api.close()
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 20)
        stop_cluster.set()
        await cluster_task
        await cluster.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors


async def _serving(api: KubeApi, version: str) -> dict[str, Any] | None:
    ro = await api.get(RO, "chat", NS)
    st = (ro or {}).get("status") or {}
    ok = st.get("phase") == "Succeeded" and st.get("champion") == version
    return st if ok and _condition(st, "Ready", "True") else None


def _condition(status: dict[str, Any], type_: str, value: str) -> dict[str, Any] | None:
    return next(
        (c for c in status.get("conditions") or [] if c["type"] == type_ and c["status"] == value),
        None,
    )


async def _backends(api: KubeApi) -> list[str]:
    """The Services the route sends to: weighted backends first, then mirrors."""
    route = await api.get(ROUTE, "chat", NS)
    assert route is not None
    rules = route["spec"]["rules"]
    mirrors = [
        f["requestMirror"]["backendRef"]["name"]
        for r in rules
        for f in r.get("filters", [])
        if f.get("type") == "RequestMirror"
    ]
    return [b["name"] for r in rules for b in r.get("backendRefs", [])] + mirrors


async def _route_names_only_existing_services(api: KubeApi) -> None:
    backends = await _backends(api)
    assert backends, "the route has no backend at all"
    for name in backends:
        assert await api.get(SERVICE, name, NS) is not None, f"the route names a missing {name}"


async def _events(api: KubeApi, kind: str, name: str) -> list[dict[str, Any]]:
    return [
        e
        for e in await api.list(EVENT, NS)
        if e["involvedObject"].get("kind") == kind and e["involvedObject"].get("name") == name
    ]


def _rollout_states(server: ApiServer, after_rv: int) -> list[dict[str, Any]]:
    """Every status of Rollout chat the server stored after `after_rv`."""
    return [
        e.obj.get("status") or {}
        for e in list(server.store.history)
        if e.rv > after_rv
        and e.plural == "rollouts"
        and e.obj["metadata"]["name"] == "chat"
        and e.type != "DELETED"
    ]


async def _reconciles(server: ApiServer, n: int) -> None:
    """Waits until the Rollout has been read `n` more times (each reconcile reads it)."""
    start = server.count("GET", f"/namespaces/{NS}/rollouts/chat")

    async def more() -> bool:
        return server.count("GET", f"/namespaces/{NS}/rollouts/chat") >= start + n

    await eventually(more, what=f"{n} more Rollout reconciles")


async def _held(api: KubeApi) -> dict[str, Any] | None:
    """chat-v1 is being deleted and the operator says why it stays."""
    mv = await api.get(MV, "chat-v1", NS)
    if mv is None or not mv["metadata"].get("deletionTimestamp"):
        return None
    return _condition(mv.get("status") or {}, "Deleting", "True")


async def test_a_serving_version_is_held_until_its_rollout_is_deleted(world: World) -> None:
    api = world.api
    await api.delete(MV, "chat-v1", NS)

    cond = await eventually(lambda: _held(api), what="chat-v1 held, with a Deleting condition")
    assert cond["reason"] == "DeletionBlocked"
    assert "Rollout chat" in cond["message"] and "champion" in cond["message"]
    assert "rollouts.champion.dev/chat" in cond["message"]

    async def warned() -> list[dict[str, Any]]:
        return [
            e
            for e in await _events(api, "ModelVersion", "chat-v1")
            if e["type"] == "Warning" and e["reason"] == "DeletionBlocked"
        ]

    [event] = await eventually(warned, what="a DeletionBlocked Warning event on chat-v1")
    assert "Rollout chat" in event["message"]

    # Several Rollout reconciles later nothing that serves has moved.
    await _reconciles(world.server, 6)
    assert await api.get(MV, "chat-v1", NS) is not None
    assert await api.get(DEPLOYMENT, CHILD, NS) is not None
    assert await _backends(api) == [CHILD]
    await _route_names_only_existing_services(api)
    assert await _serving(api, "chat-v1")
    # One Warning, not one per re-check.
    assert len(await warned()) == 1

    await api.delete(RO, "chat", NS)

    async def gone() -> bool:
        return await api.get(MV, "chat-v1", NS) is None

    await eventually(gone, what="chat-v1 to go once no Rollout uses it")


async def test_a_held_version_goes_once_the_rollout_promotes_another(world: World) -> None:
    api = world.api
    await api.delete(MV, "chat-v1", NS)
    await eventually(lambda: _held(api), what="chat-v1 held")

    # Pointing the Rollout at another version does not release chat-v1 yet: it still serves.
    await api.patch(RO, "chat", {"spec": {"modelVersion": "chat-v2"}}, NS)

    async def shadow() -> dict[str, Any] | None:
        ro = await api.get(RO, "chat", NS)
        st = (ro or {}).get("status") or {}
        return st if st.get("phase") == "Shadow" and st.get("mirrorPercent") else None

    await eventually(shadow, timeout=30, what="chat-v2 in shadow, mirrored to")
    await _reconciles(world.server, 3)
    assert await _held(api)
    await _route_names_only_existing_services(api)
    assert await _backends(api) == [CHILD, "chat-chat-v2"]  # champion's backend, then the mirror

    await api.patch(RO, "chat", {"metadata": {"annotations": {"champion.dev/promote": "1"}}}, NS)
    await eventually(lambda: _serving(api, "chat-v2"), what="chat-v2 promoted")

    async def gone() -> bool:
        return await api.get(MV, "chat-v1", NS) is None

    await eventually(gone, what="chat-v1 to go once it no longer serves")
    assert await _backends(api) == ["chat-chat-v2"]
    await _route_names_only_existing_services(api)
    assert await _serving(api, "chat-v2")


async def test_a_deleted_champion_deployment_is_recreated_and_degraded_until_ready(
    world: World,
) -> None:
    api = world.api
    before = await api.get(DEPLOYMENT, CHILD, NS)
    assert before is not None
    world.controllers_on.clear()  # the recreated Deployment stays unready until switched back on
    rv = world.server.store.rv
    await api.delete(DEPLOYMENT, CHILD, NS)

    async def recreated() -> dict[str, Any] | None:
        dep = await api.get(DEPLOYMENT, CHILD, NS)
        return dep if dep and dep["metadata"]["uid"] != before["metadata"]["uid"] else None

    await eventually(recreated, what="the Deployment to be recreated")

    async def degraded() -> dict[str, Any] | None:
        ro = await api.get(RO, "chat", NS)
        return _condition((ro or {}).get("status") or {}, "Degraded", "True")

    cond = await eventually(degraded, what="Degraded=True while the Deployment is not Ready")
    assert f"Deployment {CHILD}" in cond["message"] and "chat-v1" in cond["message"]
    ro = await api.get(RO, "chat", NS)
    assert ro is not None and _condition(ro["status"], "Ready", "False")
    await _route_names_only_existing_services(api)
    events = await _events(api, "Rollout", "chat")
    assert any(e["type"] == "Warning" and f"Deployment {CHILD}" in e["message"] for e in events), (
        events
    )

    world.controllers_on.set()
    await eventually(
        lambda: _not_degraded(api), what="Degraded=False once the Deployment is Ready again"
    )
    assert await _serving(api, "chat-v1")
    states = _rollout_states(world.server, rv)
    reasons = {c["reason"] for s in states for c in s.get("conditions", []) if c["type"] == "Degraded" and c["status"] == "True"}  # fmt: skip
    assert reasons <= {"ServingChildMissing", "ServingChildNotReady"}, reasons


async def _not_degraded(api: KubeApi) -> dict[str, Any] | None:
    ro = await api.get(RO, "chat", NS)
    st = (ro or {}).get("status") or {}
    return st if _condition(st, "Degraded", "False") and _condition(st, "Ready", "True") else None


async def test_a_deleted_champion_service_is_recreated_and_degraded_meanwhile(
    world: World,
) -> None:
    api = world.api
    rv = world.server.store.rv
    await api.delete(SERVICE, CHILD, NS)

    async def recreated() -> dict[str, Any] | None:
        return await api.get(SERVICE, CHILD, NS)

    await eventually(recreated, what="the Service to be recreated")
    await _route_names_only_existing_services(api)
    await eventually(lambda: _not_degraded(api), what="not Degraded once the Service is back")

    # What the Rollout said meanwhile, as the server stored it.
    states = _rollout_states(world.server, rv)
    said = [_condition(s, "Degraded", "True") for s in states]
    missing = [c for c in said if c and c["reason"] == "ServingChildMissing"]
    assert missing, [s.get("conditions") for s in states]
    assert f"Service {CHILD}" in missing[0]["message"] and "chat-v1" in missing[0]["message"]
    events = await _events(api, "Rollout", "chat")
    assert any(
        e["type"] == "Warning"
        and e["reason"] == "ServingChildMissing"
        and f"Service {CHILD}" in e["message"]
        for e in events
    ), events
    assert await _serving(api, "chat-v1")


async def test_a_version_forced_out_by_hand_leaves_what_serves_in_place(world: World) -> None:
    api = world.api
    await api.delete(MV, "chat-v1", NS)
    await eventually(lambda: _held(api), what="chat-v1 held")
    # Someone removes the finalizer by hand: the version goes, the operator cannot stop that.
    await api.patch(MV, "chat-v1", {"metadata": {"finalizers": None}}, NS)

    async def gone() -> bool:
        return await api.get(MV, "chat-v1", NS) is None

    await eventually(gone, what="chat-v1 forced out")

    async def degraded() -> dict[str, Any] | None:
        ro = await api.get(RO, "chat", NS)
        cond = _condition((ro or {}).get("status") or {}, "Degraded", "True")
        return cond if cond and cond["reason"] == "ServingModelVersionMissing" else None

    cond = await eventually(degraded, what="Degraded=True naming the missing ModelVersion")
    assert "recreate ModelVersion chat-v1" in cond["message"]
    await _reconciles(world.server, 5)
    # Nothing that serves was deleted: the Deployment, its Service and the route stay.
    assert await api.get(DEPLOYMENT, CHILD, NS) is not None
    assert await _backends(api) == [CHILD]
    await _route_names_only_existing_services(api)


async def test_a_rollout_deleted_mid_reconcile_goes_in_seconds(world: World) -> None:
    """`kubectl delete rollout` waits for kopf's finalizer, which waits for the tick to end.

    kopf re-checks a timer that did not stop at once only after its cancellation polling
    (60 s by default), so a delete that landed mid-reconcile hung for a minute: CI's kubectl
    timed out on it. The tick is held mid-reconcile here on purpose, by slowing the child
    Deployment reads it makes.
    """
    api, server = world.api, world.server
    deployments = kmock.resource("apps/v1/deployments")
    reads = server.kmock["get", deployments]
    before = len(reads)

    async def slow(request: kmock.Request) -> Any:
        await asyncio.sleep(3)
        assert request._raw_request is not None
        return await server.kmock.emulate(request._raw_request)

    server.kmock["get", deployments, kmock.namespace(NS)] << slow

    async def mid_reconcile() -> bool:
        return len(reads) > before

    await eventually(mid_reconcile, what="a tick reading its Deployments")
    started = time.monotonic()
    await api.delete(RO, "chat", NS)

    async def gone() -> bool:
        return await api.get(RO, "chat", NS) is None

    await eventually(gone, timeout=30, what="the Rollout to be deleted")
    assert time.monotonic() - started < 12
