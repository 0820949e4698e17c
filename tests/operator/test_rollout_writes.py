"""A Rollout at rest costs no writes; a reconcile never writes status twice."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import pytest
import yaml

from champion.adapters.kube import connect, resource_for
from champion.handlers.run import run_operator
from champion.reconcile.settings import OperatorSettings
from tests.conftest import ROOT
from tests.emulator.apiserver import ApiServer
from tests.emulator.cluster import ClusterStandIn, sandbox_nodes
from tests.helpers import eventually

RO = resource_for("champion.dev/v1alpha1", "Rollout")


async def test_first_rollout_then_no_writes_at_rest(
    apiserver: ApiServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for node in sandbox_nodes(1):
        apiserver.seed(node)
    for name in ("00-namespace.yaml", "10-gpupool.yaml", "21-modelversion-v1.yaml"):
        apiserver.seed(yaml.safe_load((ROOT / "examples" / "demo" / name).read_text()))
    rollout = yaml.safe_load((ROOT / "examples" / "demo" / "40-rollout.yaml").read_text())
    rollout["spec"]["analysis"]["metrics"] = []
    apiserver.seed(rollout)
    cluster = ClusterStandIn(apiserver, prometheus=None)
    stop_cluster = asyncio.Event()

    async def controllers() -> None:
        while not stop_cluster.is_set():
            await cluster.reconcile()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_cluster.wait(), 0.2)

    cluster_task = asyncio.create_task(controllers())
    settings = OperatorSettings(
        kubeconfig=str(apiserver.kubeconfig),
        metrics_port=None,
        rollout_tick_seconds=0.3,
        gpupool_tick_seconds=60,
    )
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_operator(settings, stop_flag=stop, ready_flag=ready))
    api = await connect(str(apiserver.kubeconfig))
    try:
        await asyncio.wait_for(ready.wait(), 20)

        async def succeeded() -> dict[str, Any] | None:
            ro = await api.get(RO, "chat", "demo")
            st = (ro or {}).get("status") or {}
            return (
                st if st.get("phase") == "Succeeded" and st.get("champion") == "chat-v1" else None
            )

        st = await eventually(succeeded, what="the first rollout to succeed")
        assert st["weights"] == {"champion": 100, "challenger": 0}
        route = await api.get(
            resource_for("gateway.networking.k8s.io/v1", "HTTPRoute"), "chat", "demo"
        )
        assert route is not None and route["spec"]["rules"][0]["backendRefs"][0]["weight"] == 100
        writes = apiserver.count("PATCH", "/rollouts/chat/status")
        ticks = apiserver.count("GET", "/namespaces/demo/rollouts/chat")
        # Let the 0.3 s timer run a few more reconciles: nothing changes, so nothing is written.
        await eventually(lambda: _more_than(apiserver, ticks + 5), what="more reconciles")
        assert apiserver.count("PATCH", "/rollouts/chat/status") == writes
        # A reconcile writes status at most once: count writes against reconciles so far.
        assert writes <= apiserver.count("GET", "/namespaces/demo/rollouts/chat")
    finally:
        await api.close()
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 20)
        stop_cluster.set()
        await cluster_task
        await cluster.close()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def _more_than(server: ApiServer, n: int) -> bool:
    return server.count("GET", "/namespaces/demo/rollouts/chat") > n
