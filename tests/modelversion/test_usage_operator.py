"""What "serving" means is never wrong (issue 20, section 3), with real kopf.

Champion's registry runs against the emulated API server, with the cluster's controllers
stood in (Deployments become Ready, pods are scheduled). Two Rollouts, chat and ab, serve
from the same namespace. Each test plays a case from the issue and checks a ModelVersion's
`usedBy` and `stage` against the HTTPRoutes, and against what `kubectl get
modelversions.champion.dev` and `kubectl champion lineage` print.

The ModelVersion timer is set to a minute, longer than any test here waits: what the
tests see comes from the Rollout reconciler refreshing the versions whose use it changed,
and from the ModelVersion's create and resume handlers, not from a periodic repair.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from champion.adapters.kube import KubeApi, connect, resource_for
from champion.builders.naming import child_name
from champion.cli.plugin import app
from champion.handlers.run import run_operator
from champion.reconcile.settings import OperatorSettings
from tests.conftest import ROOT
from tests.emulator.apiserver import ApiServer
from tests.emulator.cluster import ClusterStandIn, sandbox_nodes
from tests.helpers import eventually, run
from tests.modelversion.test_examples_and_columns import table

MV = resource_for("champion.dev/v1alpha1", "ModelVersion")
RO = resource_for("champion.dev/v1alpha1", "Rollout")
ROUTE = resource_for("gateway.networking.k8s.io/v1", "HTTPRoute")
NS = "demo"
VERSIONS = ("chat-v1", "chat-v2")


def demo(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "demo" / name).read_text())
    return doc


def rollout(name: str, version: str) -> dict[str, Any]:
    """The demo's Rollout, renamed, without metrics and eval gate: a first rollout of
    `version` promotes as soon as it is Ready; a later one shadows, then holds at 50%."""
    doc = demo("40-rollout.yaml")
    doc["metadata"]["name"] = name
    doc["spec"]["modelVersion"] = version
    doc["spec"]["endpoint"]["hostnames"] = [f"{name}.demo.example.com"]
    doc["spec"]["analysis"]["metrics"] = []
    doc["spec"]["strategy"] = {
        "shadow": {"durationSeconds": 600, "mirrorPercent": 100},
        "canary": {"steps": [{"weight": 50, "durationSeconds": 600}]},
        "scaleDownDelaySeconds": 1,
    }
    return doc


@dataclass
class World:
    api: KubeApi
    server: ApiServer
    restart: Callable[[Callable[[], Awaitable[None]]], Awaitable[None]]
    """Stops the operator, runs the coroutine while it is down, starts it again."""


@pytest.fixture
async def world(apiserver: ApiServer, caplog: pytest.LogCaptureFixture) -> AsyncIterator[World]:
    caplog.set_level(logging.INFO)
    for node in sandbox_nodes(2):
        apiserver.seed(node)
    for name in ("00-namespace.yaml", "10-gpupool.yaml", "21-modelversion-v1.yaml", "22-modelversion-v2.yaml"):  # fmt: skip
        apiserver.seed(demo(name))
    apiserver.seed(rollout("chat", "chat-v1"))
    apiserver.seed(rollout("ab", "chat-v2"))
    cluster = ClusterStandIn(apiserver, prometheus=None)
    stop_cluster = asyncio.Event()

    async def controllers() -> None:
        while not stop_cluster.is_set():
            await cluster.reconcile()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_cluster.wait(), 0.2)

    cluster_task = asyncio.create_task(controllers())
    settings = OperatorSettings(
        kubeconfig=str(apiserver.kubeconfig), metrics_port=None, namespaces=(NS,),
        rollout_tick_seconds=0.3, gpupool_tick_seconds=60, modelversion_tick_seconds=60,
    )  # fmt: skip
    running: dict[str, Any] = {}

    async def start() -> None:
        stop, ready = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(run_operator(settings, stop_flag=stop, ready_flag=ready))
        running.update(stop=stop, task=task)
        await asyncio.wait_for(ready.wait(), 20)

    stopping: list[tuple[int, int]] = []
    """caplog record ranges logged while the operator stopped: a reconcile cut off by
    the stop may log its closed client ("Connector is closed", "Session is closed"),
    which is the stop, not a failure of what is tested here."""

    async def stop() -> None:
        first = len(caplog.records)
        running["stop"].set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(running["task"], 20)
        stopping.append((first, len(caplog.records)))

    async def restart(meanwhile: Callable[[], Awaitable[None]]) -> None:
        await stop()
        # kopf cancels every task started while it ran, the emulated server's handlers of
        # this client's open connections too: the test goes on with a new client.
        await state.api.close()
        state.api = await connect(str(apiserver.kubeconfig))
        await meanwhile()
        await start()

    await start()
    state = World(await connect(str(apiserver.kubeconfig)), apiserver, restart)
    try:
        api = state.api
        await eventually(lambda: _serving(api, "chat", "chat-v1"), what="chat to serve chat-v1")
        await eventually(lambda: _serving(api, "ab", "chat-v2"), what="ab to serve chat-v2")
        yield state
    finally:
        await state.api.close()
        await stop()
        stop_cluster.set()
        await cluster_task
        await cluster.close()
    errors = [
        r.getMessage()
        for i, r in enumerate(caplog.records)
        if r.levelno >= logging.ERROR
        and not (
            any(a <= i < b for a, b in stopping)
            and any(m in r.getMessage() for m in ("Connector is closed", "Session is closed"))
        )
    ]
    assert not errors, errors


async def _serving(api: KubeApi, name: str, version: str) -> dict[str, Any] | None:
    ro = await api.get(RO, name, NS)
    st = (ro or {}).get("status") or {}
    return st if st.get("phase") == "Succeeded" and st.get("champion") == version else None


async def _routed(api: KubeApi) -> dict[str, set[tuple[str, int, int]]]:
    """What the HTTPRoutes send to each version: {(rollout, weight %, mirrored %)}."""
    out: dict[str, set[tuple[str, int, int]]] = {v: set() for v in VERSIONS}
    for route in await api.list(ROUTE, NS):
        name = route["metadata"]["name"]
        services = {child_name(name, v): v for v in VERSIONS}
        for rule in route["spec"]["rules"]:
            weights = {b["name"]: b.get("weight", 1) for b in rule.get("backendRefs", [])}
            mirrors = {
                f["requestMirror"]["backendRef"]["name"]: f["requestMirror"].get("percent", 100)
                for f in rule.get("filters", [])
                if f.get("type") == "RequestMirror"
            }
            for service in {*weights, *mirrors}:
                version = services[service]
                out[version].add((name, weights.get(service, 0), mirrors.get(service, 0)))
    return out


def _claimed(mv: dict[str, Any]) -> set[tuple[str, int, int]]:
    """What the version's usedBy says the routes send to it."""
    return {
        (u["rollout"], u["weight"], u["mirrorPercent"])
        for u in (mv.get("status") or {}).get("usedBy", [])
        if u["weight"] or u["mirrorPercent"]
    }


async def _agrees_with_the_routes(
    api: KubeApi, mirrors: bool = True
) -> dict[str, dict[str, Any]] | None:
    """Every version's usedBy names exactly what the routes send it (None: not yet);
    without `mirrors`, only the live traffic (weighted backends) is compared."""
    routed = await _routed(api)
    bodies = {v: await api.get(MV, v, NS) for v in VERSIONS}

    def live(uses: set[tuple[str, int, int]]) -> set[tuple[str, int, int]]:
        return uses if mirrors else {(r, w, 0) for r, w, _ in uses if w}

    ok = all(b is not None and live(_claimed(b)) == live(routed[v]) for v, b in bodies.items())
    return {v: b for v, b in bodies.items() if b is not None} if ok else None


async def _shadow_then_abort(api: KubeApi) -> dict[str, Any]:
    """ab rolls chat-v1 out, shadows it, and aborts; returns chat-v1 as mirrored to."""
    await api.patch(RO, "ab", {"spec": {"modelVersion": "chat-v1"}}, NS)

    async def mirrored() -> dict[str, Any] | None:
        mv = await api.get(MV, "chat-v1", NS)
        uses = ((mv or {}).get("status") or {}).get("usedBy") or []
        return mv if any(u["rollout"] == "ab" and u["mirrorPercent"] for u in uses) else None

    during = await eventually(mirrored, timeout=30, what="chat-v1 mirrored to by ab")
    await eventually(lambda: _agrees_with_the_routes(api), what="usedBy to match the routes")
    await api.patch(RO, "ab", {"metadata": {"annotations": {"champion.dev/abort": "1"}}}, NS)

    async def aborted() -> dict[str, Any] | None:
        ro = await api.get(RO, "ab", NS)
        st = (ro or {}).get("status") or {}
        return st if st.get("phase") == "Aborted" else None

    await eventually(aborted, what="ab to roll chat-v1 back")
    return during


async def _kubectl_rows(kubectl_bin: str, server: ApiServer) -> dict[str, dict[str, str]]:
    env = {**os.environ, "KUBECONFIG": str(server.kubeconfig)}
    got = await run(kubectl_bin, "get", "modelversions.champion.dev", "-n", NS, env=env)
    assert got.code == 0, got.err
    return {r["NAME"]: r for r in table(got.out)}


async def _lineage(server: ApiServer, version: str) -> str:
    args = ["lineage", version, "-n", NS, "--kubeconfig", str(server.kubeconfig)]
    result = await asyncio.to_thread(CliRunner().invoke, app, args)
    assert result.exit_code == 0, result.output
    out: str = result.output
    return out


def _stage(api: KubeApi, version: str, stage: str) -> Callable[[], Awaitable[Any]]:
    async def check() -> dict[str, Any] | None:
        mv = await api.get(MV, version, NS)
        return mv if ((mv or {}).get("status") or {}).get("stage") == stage else None

    return check


async def test_champion_of_one_rollout_rolled_back_as_challenger_of_another(
    world: World, kubectl_bin: str
) -> None:
    api = world.api
    await eventually(lambda: _agrees_with_the_routes(api), what="usedBy to match the routes")
    # ab rolls chat-v1 out: while it shadows, chat-v1 is chat's champion and ab's challenger.
    # Then ab aborts: it rolls chat-v1 back, which still serves all of chat's traffic.
    during = await _shadow_then_abort(api)
    assert during["status"]["stage"] == "Champion"
    assert during["status"]["usedBy"] == [
        {"rollout": "ab", "role": "challenger", "weight": 0, "mirrorPercent": 100},
        {"rollout": "chat", "role": "champion", "weight": 100, "mirrorPercent": 0},
    ]
    await _settle(world)
    bodies = await eventually(
        lambda: _agrees_with_the_routes(api, mirrors=False), what="usedBy to match the routes"
    )
    v1 = bodies["chat-v1"]["status"]
    assert v1["stage"] == "Champion", v1
    assert v1["usedBy"] == [{"rollout": "chat", "role": "champion", "weight": 100, "mirrorPercent": 0}]  # fmt: skip
    assert bodies["chat-v2"]["status"]["stage"] == "Champion"
    assert bodies["chat-v2"]["status"]["usedBy"] == [{"rollout": "ab", "role": "champion", "weight": 100, "mirrorPercent": 0}]  # fmt: skip

    rows = await _kubectl_rows(kubectl_bin, world.server)
    assert (rows["chat-v1"]["STAGE"], rows["chat-v1"]["USED BY"]) == ("Champion", "chat champion 100%")  # fmt: skip
    assert (rows["chat-v2"]["STAGE"], rows["chat-v2"]["USED BY"]) == ("Champion", "ab champion 100%")  # fmt: skip
    tree = await _lineage(world.server, "chat-v1")
    assert "ModelVersion chat-v1  stage=Champion" in tree
    assert "served by Rollout chat as champion: 100% of live traffic" in tree
    assert "Rollout ab" not in tree

    # Once chat stops serving it, nothing does: the outcome is what ab did with it.
    await api.delete(RO, "chat", NS)

    async def chat_gone() -> bool:
        return await api.get(RO, "chat", NS) is None

    await eventually(chat_gone, what="Rollout chat deleted")
    # The deletion is no Rollout status change: the next reconcile of the version sees it.
    await world.restart(_nothing)
    mv = await eventually(_stage(world.api, "chat-v1", "RolledBack"), what="chat-v1 RolledBack")
    assert mv["status"]["usedBy"] == []


async def test_after_an_abort_from_shadow_nothing_is_mirrored(world: World) -> None:
    api = world.api
    await _shadow_then_abort(api)
    await _settle(world)
    await eventually(lambda: _agrees_with_the_routes(api), timeout=5, what="no mirror left")


async def test_a_deleted_and_recreated_serving_version_is_champion_again(
    world: World, kubectl_bin: str
) -> None:
    api = world.api
    await eventually(_stage(api, "chat-v1", "Champion"), what="chat-v1 Champion")
    # The finalizer holds a serving version; removed by hand, the version goes anyway.
    await api.delete(MV, "chat-v1", NS)

    async def held() -> dict[str, Any] | None:
        mv = await api.get(MV, "chat-v1", NS)
        return mv if mv and mv["metadata"].get("deletionTimestamp") else None

    await eventually(held, what="chat-v1 held by the finalizer")
    await api.patch(MV, "chat-v1", {"metadata": {"finalizers": None}}, NS)

    async def gone() -> bool:
        return await api.get(MV, "chat-v1", NS) is None

    await eventually(gone, what="chat-v1 forced out")
    assert await _serving(api, "chat", "chat-v1"), "the route still serves chat-v1"

    await api.create(demo("21-modelversion-v1.yaml"))
    mv = await eventually(
        _stage(api, "chat-v1", "Champion"), what="the re-created chat-v1 Champion"
    )
    assert mv["status"]["usedBy"] == [{"rollout": "chat", "role": "champion", "weight": 100, "mirrorPercent": 0}]  # fmt: skip
    await eventually(lambda: _agrees_with_the_routes(api), what="usedBy to match the routes")
    rows = await _kubectl_rows(kubectl_bin, world.server)
    assert (rows["chat-v1"]["STAGE"], rows["chat-v1"]["USED BY"]) == ("Champion", "chat champion 100%")  # fmt: skip
    assert "ModelVersion chat-v1  stage=Champion" in await _lineage(world.server, "chat-v1")


async def test_a_restart_rederives_a_stage_left_wrong(world: World) -> None:
    api = world.api
    await eventually(_stage(api, "chat-v1", "Champion"), what="chat-v1 Champion")

    async def wrong() -> None:
        # Left behind by an older operator while none runs: a stage that is not true.
        await world.api.patch(MV, "chat-v1", {"status": {"stage": "RolledBack", "usedBy": []}}, NS, subresource="status")  # fmt: skip

    await world.restart(wrong)
    mv = await eventually(_stage(world.api, "chat-v1", "Champion"), what="chat-v1 Champion again")
    assert [u["rollout"] for u in mv["status"]["usedBy"]] == ["chat"]


async def _nothing() -> None:
    return None


async def _settle(world: World) -> None:
    """A few more Rollout reconciles: nothing the abort left is still moving."""
    start = world.server.count("GET", f"/namespaces/{NS}/rollouts/ab")

    async def more() -> bool:
        return world.server.count("GET", f"/namespaces/{NS}/rollouts/ab") >= start + 3

    await eventually(more, what="3 more Rollout reconciles")
