"""reconcile_gpupool against the emulated API server with seeded Nodes and Pods: numbers by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from champion.adapters.kube import KubeApi, connect, resource_for
from champion.adapters.prometheus import PrometheusUnavailable
from champion.api.v1alpha1.gpupool import Reservation
from champion.domain.placement import Request, admit
from champion.reconcile.gpupool import (
    observe_pool,
    reconcile_gpupool,
    record_reservation,
    release_reservation,
)
from tests.emulator.apiserver import ApiServer
from tests.gpupool.seed import example, node, pod, seed_all, version_pod

POOL = resource_for("champion.dev/v1alpha1", "GPUPool")
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
MIG = "nvidia.com/mig-1g.10gb"


def rollout(name: str, namespace: str = "demo") -> dict[str, Any]:
    return {"apiVersion": "champion.dev/v1alpha1", "kind": "Rollout",
            "metadata": {"name": name, "namespace": namespace}, "spec": {"modelVersion": "support-llm-v2"}}  # fmt: skip


@pytest.fixture
async def api(apiserver: ApiServer) -> AsyncIterator[KubeApi]:
    seed_all(
        apiserver,
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "batch"}},
        example("gpupool.yaml"),
    )
    client = await connect(str(apiserver.kubeconfig))
    try:
        yield client
    finally:
        await client.close()


async def reconcile(api: KubeApi, prometheus: Any = None) -> tuple[Any, dict[str, Any]]:
    body = await api.get(POOL, "h100")
    assert body is not None
    result = await reconcile_gpupool(api, body, NOW, prometheus)
    fresh = await api.get(POOL, "h100")
    assert fresh is not None
    return result, fresh


def seed_cluster(apiserver: ApiServer) -> None:
    seed_all(
        apiserver,
        node("a", 8),
        node("b", 8),
        node("cordoned", 8, unschedulable=True),
        node("down", 8, ready=False),
        node("tainted", 8, taints=[{"key": "maintenance", "effect": "NoExecute"}]),
        node("a100", 8, labels={"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}),
        node("mig", 7, resource=MIG),
        pod("train-1", "a", 4, namespace="batch"),
        pod("chat-0", "a", 1, limits_only=True),  # a limit stands in for the request
        version_pod("v2-0", "b", 2, "support-llm-v2"),
        pod("eval", "b", 2, phase="Succeeded"),  # finished: holds nothing
        pod("pending", None, 4),  # not bound: holds nothing yet
        pod("old", "cordoned", 3, namespace="batch"),  # still held on a cordoned node
        pod("elsewhere", "a100", 8, namespace="batch"),  # not a pool node
    )
    apiserver.seed(rollout("support"))


async def test_status_equals_a_hand_count(api: KubeApi, apiserver: ApiServer) -> None:
    seed_cluster(apiserver)
    await record_reservation(api, "h100", Reservation(rollout="demo/support", model_version="support-llm-v2",
                                                       namespace="demo", gpus=4, replicas=2, gpusPerReplica=2))  # fmt: skip
    result, pool = await reconcile(api)
    st = pool["status"]
    # Pool nodes: a, b, cordoned, down, tainted, mig (H100-labelled; mig has no nvidia.com/gpu).
    # Ready: a, b and mig (tainted has a NoExecute taint the pool does not tolerate).
    assert (st["nodes"], st["readyNodes"]) == (6, 3)
    assert (st["capacity"], st["allocatable"]) == (40, 16)
    # Held: a 4+1, b 2, cordoned 3 = 10. The reservation's 4 less the 2 its pod holds: 2.
    assert (st["allocated"], st["reserved"]) == (10, 2)
    # Free on ready nodes: a 3 + b 6 = 9, minus 2 reserved.
    assert st["free"] == 7
    assert st["costPerHour"] == 25.0  # 10 x 2.5
    assert st["namespaces"] == [
        {"namespace": "batch", "allocated": 7, "reserved": 0},
        {"namespace": "demo", "allocated": 3, "reserved": 2, "quota": 8},
    ]
    ready = next(c for c in st["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True" and ready["reason"] == "PoolReady"
    assert "6 nodes (3 ready), 7 of 16 allocatable nvidia.com/gpu free" in ready["message"]
    assert "cordoned (cordoned)" in ready["message"] and "down (NotReady)" in ready["message"]
    assert "tainted (taint maintenance:NoExecute not tolerated)" in ready["message"]
    assert result.events == []
    writes = apiserver.count("PATCH", "/gpupools/h100/status")
    again, _ = await reconcile(api)
    assert not again.status_written
    assert apiserver.count("PATCH", "/gpupools/h100/status") == writes


async def test_a_mig_pool_counts_its_slices(api: KubeApi, apiserver: ApiServer) -> None:
    seed_cluster(apiserver)
    seed_all(apiserver, pod("slice", "mig", 3, resource=MIG))
    await api.patch(POOL, "h100", {"spec": {"gpuResource": MIG}})
    _, pool = await reconcile(api)
    st = pool["status"]
    assert (st["capacity"], st["allocatable"], st["allocated"], st["free"]) == (7, 7, 3, 4)


async def test_a_request_that_does_not_fit_is_answered_from_the_pool(
    api: KubeApi, apiserver: ApiServer
) -> None:
    seed_cluster(apiserver)
    await record_reservation(api, "h100", Reservation(rollout="demo/support", model_version="support-llm-v2",
                                                       namespace="demo", gpus=4, replicas=2, gpusPerReplica=2))  # fmt: skip
    body = await api.get(POOL, "h100")
    assert body is not None
    _, _, state, _ = await observe_pool(api, body)
    assert state is not None
    other = Request(rollout="demo/other", namespace="demo", model_version="x", replicas=2, gpus_per_replica=4)  # fmt: skip
    answer = admit(state, other, "2026-11-24T12:00:00Z")
    assert not answer.fits
    assert answer.message == (
        'GPUPool "h100" quota for namespace demo is 8 nvidia.com/gpu; 5 in use or reserved, '
        "the challenger needs 8 more (2 replicas x 4): over by 5"
    )
    await api.patch(POOL, "h100", {"spec": {"quotas": None}})
    body = await api.get(POOL, "h100")
    assert body is not None
    _, _, state, _ = await observe_pool(api, body)
    assert state is not None
    answer = admit(state, other, "2026-11-24T12:00:00Z")
    assert answer.message == (
        'GPUPool "h100" has 7 free nvidia.com/gpu, the challenger needs 8 (2 replicas x 4): short by 1'
    )


async def test_reservations_are_idempotent_and_survive_a_concurrent_count(
    api: KubeApi, apiserver: ApiServer
) -> None:
    seed_all(apiserver, node("a", 8), rollout("one"), rollout("two"))
    await reconcile(api)
    stale = await api.get(POOL, "h100")
    assert stale is not None
    seed_all(apiserver, pod("p", "a", 1))
    r1 = Reservation(rollout="demo/one", model_version="v2", namespace="demo", gpus=2)
    assert await record_reservation(api, "h100", r1)
    assert await record_reservation(api, "h100", r1.model_copy(update={"gpus": 4}))
    await record_reservation(api, "h100", Reservation(rollout="demo/two", model_version="v9", namespace="demo", gpus=1))  # fmt: skip
    # The pool's own reconcile started from a body read before the reservations: its write
    # conflicts, it counts again from a fresh read, and no reservation is lost.
    assert (await reconcile_gpupool(api, stale, NOW)).status_written
    pool = await api.get(POOL, "h100")
    assert pool is not None
    assert [(r["rollout"], r["gpus"]) for r in pool["status"]["reservations"]] == [("demo/one", 4), ("demo/two", 1)]  # fmt: skip
    assert (pool["status"]["allocated"], pool["status"]["reserved"], pool["status"]["free"]) == (
        1,
        5,
        2,
    )
    assert await release_reservation(api, "h100", "demo/one")
    assert await release_reservation(api, "h100", "demo/one"), "releasing twice is fine"
    _, pool = await reconcile(api)
    assert [r["rollout"] for r in pool["status"]["reservations"]] == ["demo/two"]
    assert pool["status"]["free"] == 6
    assert not await record_reservation(api, "nope", r1), "no such pool"


async def test_a_deleted_rollouts_reservation_is_released(
    api: KubeApi, apiserver: ApiServer
) -> None:
    seed_all(apiserver, node("a", 8), rollout("alive"))
    for key in ("demo/alive", "demo/deleted"):
        await record_reservation(api, "h100", Reservation(rollout=key, model_version="v", namespace="demo", gpus=2))  # fmt: skip
    result, pool = await reconcile(api)
    assert [r["rollout"] for r in pool["status"]["reservations"]] == ["demo/alive"]
    assert [(e.type, e.reason) for e in result.events] == [("Normal", "StaleReservationReleased")]
    assert "Rollout demo/deleted: it no longer exists" in result.events[0].message


async def test_no_matching_nodes_is_not_ready(api: KubeApi, apiserver: ApiServer) -> None:
    seed_all(apiserver, node("a100", 8, labels={"nvidia.com/gpu.product": "A100"}))
    result, pool = await reconcile(api)
    ready = next(c for c in pool["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "NoMatchingNodes")
    assert "spec.nodeSelector" in ready["message"]
    assert [(e.type, e.reason) for e in result.events] == [("Warning", "NoMatchingNodes")]
    again, _ = await reconcile(api)
    assert again.events == []


class FakePrometheus:
    """Stands in for the Prometheus adapter's client: answers one instant query."""

    def __init__(self, series: list[tuple[dict[str, str], float]] | None) -> None:
        self.series = series
        self.queries: list[str] = []

    async def query(self, query: str, at: datetime) -> list[dict[str, Any]]:
        self.queries.append(query)
        if self.series is None:
            raise PrometheusUnavailable("connection refused")
        return [{"metric": m, "value": [at.timestamp(), str(v)]} for m, v in self.series]


async def test_utilisation_and_stranded_gpus(api: KubeApi, apiserver: ApiServer) -> None:
    seed_all(apiserver, node("a", 4), pod("p1", "a", 2), pod("p2", "a", 1))
    series = [
        ({"Hostname": "a", "gpu": "0", "exported_pod": "p1"}, 85.0),
        ({"Hostname": "a", "gpu": "1", "exported_pod": "p1"}, 3.0),  # allocated, idle: stranded
        ({"Hostname": "a", "gpu": "2", "exported_pod": "p2"}, 40.0),
        ({"Hostname": "a", "gpu": "3", "pod": "dcgm-exporter-x"}, 0.0),  # free: not stranded
    ]
    prometheus = FakePrometheus(series)
    _, pool = await reconcile(api, prometheus)
    assert prometheus.queries == ['DCGM_FI_DEV_GPU_UTIL{modelName="NVIDIA H100 80GB HBM3"}']
    assert (pool["status"]["utilizationPercent"], pool["status"]["strandedGPUs"]) == (32.0, 1)

    _, pool = await reconcile(api, FakePrometheus(None))
    assert "utilizationPercent" not in pool["status"], "no stale numbers when Prometheus is down"
    ready = next(c for c in pool["status"]["conditions"] if c["type"] == "Ready")
    assert "utilisation unavailable: connection refused" in ready["message"]
    _, pool = await reconcile(api, None)
    ready = next(c for c in pool["status"]["conditions"] if c["type"] == "Ready")
    assert "no Prometheus configured (--prometheus-url)" in ready["message"]
