"""GPU accounting and admission, table-driven and pure: does it fit, and if not, why."""

from __future__ import annotations

from typing import Any

import pytest

from champion.api.v1alpha1 import reasons
from champion.api.v1alpha1.gpupool import GPUPoolSpec, Reservation
from champion.domain.placement import (
    GpuSample,
    Request,
    admit,
    pod_gpus,
    pool_state,
    quantity,
    release,
    reserve,
    tolerates,
    utilization_summary,
)

H100 = {"nvidia.com/gpu.product": "H100"}
GPU = "nvidia.com/gpu"
MIG = "nvidia.com/mig-1g.10gb"
NOW = "2026-11-24T12:00:00Z"


def node(
    name: str, gpus: int, resource: str = GPU, ready: bool = True, **spec: Any
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": H100},
        "spec": spec,
        "status": {
            "allocatable": {resource: str(gpus)},
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def pod(
    node_name: str | None,
    gpus: int,
    ns: str = "team-a",
    resource: str = GPU,
    phase: str = "Running",
    rollout: str | None = None,
    version: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    labels = {}
    if rollout:
        labels["champion.dev/rollout"] = rollout
    if version:
        labels["champion.dev/model-version"] = version
    return {
        "metadata": {"name": name or f"p-{node_name}-{gpus}-{version}", "namespace": ns, "labels": labels},
        "spec": {"nodeName": node_name, "containers": [{"name": "c", "resources": {"requests": {resource: str(gpus)}}}]},
        "status": {"phase": phase},
    }  # fmt: skip


def req(
    replicas: int,
    gpus: int,
    mode: str = "surge",
    champion: int = 0,
    ns: str = "team-a",
    rollout: str = "team-a/chat",
    **extra: Any,
) -> Request:
    return Request(
        rollout=rollout, namespace=ns, model_version="v2", replicas=replicas, gpus_per_replica=gpus,
        mode=mode, champion_replicas=champion, **extra,
    )  # fmt: skip


def reservation(
    rollout: str, gpus: int, ns: str = "team-b", version: str = "x", **shape: Any
) -> Reservation:
    return Reservation(rollout=rollout, model_version=version, namespace=ns, gpus=gpus, **shape)  # fmt: skip


TAINT = [{"key": "dedicated", "value": "llm", "effect": "NoSchedule"}]
EQUAL_TOLERATION = {
    "tolerations": [
        {"key": "dedicated", "operator": "Equal", "value": "llm", "effect": "NoSchedule"}
    ]
}
FULL_CHAMPION = [pod("a", 4, rollout="chat", version="v1", name=f"v1-{i}") for i in range(2)]

CASES = [
    # name, pool spec, nodes, pods, reservations, request, fits, message, reason
    ("fits with room", {}, [node("a", 8)], [pod("a", 4)], [], req(2, 2), True, 'GPUPool "h100" has 4 free nvidia.com/gpu', reasons.PLACED),
    ("short by one", {}, [node("a", 8)], [pod("a", 5)], [], req(2, 2), False,
     'GPUPool "h100" has 3 free nvidia.com/gpu, the challenger needs 4 (2 replicas x 2): short by 1', reasons.DOES_NOT_FIT),
    ("fragmented: 6 free over two nodes, a replica needs 4 on one", {}, [node("a", 8), node("b", 8)], [pod("a", 5), pod("b", 5)], [], req(1, 4), False,
     "only 0 of 1 replicas fit: a replica needs 4 on one node, the most free on one node is 3", reasons.DOES_NOT_FIT),
    ("fragmented: one of two replicas fits", {}, [node("a", 4), node("b", 8)], [pod("b", 6)], [], req(2, 3), False,
     "has 6 free nvidia.com/gpu, the challenger needs 6 (2 replicas x 3): only 1 of 2 replicas fit", reasons.DOES_NOT_FIT),
    ("cordoned node does not count", {}, [node("a", 8), node("b", 8, unschedulable=True)], [pod("a", 8)], [], req(1, 1), False, "has 0 free", reasons.DOES_NOT_FIT),
    ("NotReady node does not count", {}, [node("a", 8), node("b", 8, ready=False)], [pod("a", 8)], [], req(1, 1), False, "has 0 free", reasons.DOES_NOT_FIT),
    ("untolerated NoSchedule taint does not count", {}, [node("a", 8, taints=TAINT)], [], [], req(1, 1), False, "has 0 free", reasons.DOES_NOT_FIT),
    ("untolerated NoExecute taint does not count", {}, [node("a", 8, taints=[{"key": "x", "effect": "NoExecute"}])], [], [], req(1, 1), False, "has 0 free", reasons.DOES_NOT_FIT),
    ("PreferNoSchedule taint does not block", {}, [node("a", 8, taints=[{"key": "x", "effect": "PreferNoSchedule"}])], [], [], req(1, 1), True, "has 8 free", reasons.PLACED),
    ("tolerated taint counts", EQUAL_TOLERATION, [node("a", 8, taints=TAINT)], [], [], req(1, 1), True, "has 8 free", reasons.PLACED),
    ("Exists without a key tolerates every taint", {"tolerations": [{"operator": "Exists"}]}, [node("a", 8, taints=TAINT)], [], [], req(1, 1), True, "has 8 free", reasons.PLACED),
    ("another rollout reserved the last GPUs", {}, [node("a", 8)], [pod("a", 6)], [reservation("team-b/x", 2)], req(1, 1), False, "has 0 free", reasons.DOES_NOT_FIT),
    ("a reservation its pods already hold is not counted twice", {}, [node("a", 8)],
     [pod("a", 4), pod("a", 2, ns="team-b", rollout="x", version="x")], [reservation("team-b/x", 2)], req(1, 2), True, "has 2 free", reasons.PLACED),
    ("re-admitting: our own reservation is not double counted", {}, [node("a", 8)], [pod("a", 6)],
     [reservation("team-a/chat", 2, ns="team-a", version="v2")], req(1, 2), True, "has 2 free", reasons.PLACED),
    ("re-admitting once our pods run: they hold our room, not someone else's", {}, [node("a", 4), node("b", 4)],
     [pod("a", 2, ns="team-b"), pod("b", 2, ns="team-b"), pod("a", 2, rollout="chat", version="v2", name="v2-0"), pod("b", 2, rollout="chat", version="v2", name="v2-1")],
     [reservation("team-a/chat", 4, ns="team-a", version="v2")], req(2, 2), True, "has 4 free", reasons.PLACED),
    ("the champion's pods of the same rollout still count", {}, [node("a", 8)],
     [pod("a", 6), pod("a", 2, rollout="chat", version="v1", name="v1-0")], [], req(1, 2), False, "has 0 free", reasons.DOES_NOT_FIT),
    ("a reservation's replicas take room per node", {}, [node("a", 3), node("b", 3)], [],
     [reservation("team-b/x", 4, replicas=2, gpusPerReplica=2)], req(1, 2), False, "the most free on one node is 1", reasons.DOES_NOT_FIT),
    ("swap: GPUs freed on one node and free on another do not make one replica", {}, [node("a", 6), node("b", 6), node("c", 4)],
     [pod("a", 4, rollout="chat", version="v1", name="v1-0"), pod("a", 2, ns="team-b"), pod("b", 4, ns="team-b"), pod("c", 4, rollout="chat", version="v1", name="v1-1")],
     [], req(1, 6, mode="swap", champion=2, champion_version="v1", champion_gpus_per_replica=4), False,
     "has 2 free nvidia.com/gpu (+4 the champion gives up in swap mode), the challenger needs 6 (1 replicas x 6): only 0 of 1 replicas fit: a replica needs 6 on one node, the most free on one node is 4", reasons.DOES_NOT_FIT),
    ("swap: freed GPUs join the free ones on the same node", {}, [node("a", 12)],
     [*FULL_CHAMPION, pod("a", 2, ns="team-b")], [], req(1, 6, mode="swap", champion=2, champion_version="v1", champion_gpus_per_replica=4), True,
     "(+4 the champion gives up in swap mode)", reasons.PLACED),
    ("swap keeps one champion replica serving", {}, [node("a", 8)], FULL_CHAMPION, [], req(2, 4, mode="swap", champion=2, champion_version="v1"), False,
     'GPUPool "h100" has 0 free nvidia.com/gpu (+4 the champion gives up in swap mode), the challenger needs 8 (2 replicas x 4): short by 4', reasons.DOES_NOT_FIT),
    ("swap with the champion's pods unknown: one node per freed replica", {}, [node("a", 8)], [pod("a", 8)], [], req(2, 4, mode="swap", champion=3), True, "+8", reasons.PLACED),
    ("swap: smaller champion replicas free too little on one node", {}, [node(n, 1) for n in "abcd"],
     [pod(n, 1, rollout="chat", version="v1", name=f"v1-{n}") for n in "abcd"], [], req(1, 2, mode="swap", champion=4, champion_version="v1", champion_gpus_per_replica=1),
     False, "(+1 the champion gives up in swap mode), the challenger needs 2 (1 replicas x 2): short by 1", reasons.DOES_NOT_FIT),
    ("quota exhausted", {"quotas": [{"namespace": "team-a", "gpus": 6}]}, [node("a", 16)], [pod("a", 4)], [], req(2, 2), False,
     'GPUPool "h100" quota for namespace team-a is 6 nvidia.com/gpu; 4 in use or reserved, the challenger needs 4 more (2 replicas x 2): over by 2', reasons.QUOTA_EXCEEDED),
    ("quota: our own running pods are not growth", {"quotas": [{"namespace": "team-a", "gpus": 4}]}, [node("a", 8)],
     [pod("a", 2, rollout="chat", version="v2", name=f"v2-{i}") for i in range(2)], [], req(2, 2), True, "has 8 free", reasons.PLACED),
    ("quota counts other rollouts' reservations in the namespace", {"quotas": [{"namespace": "team-a", "gpus": 6}]}, [node("a", 16)], [pod("a", 2)],
     [reservation("team-a/other", 3, ns="team-a")], req(1, 2), False, "5 in use or reserved", reasons.QUOTA_EXCEEDED),
    ("quota in swap mode counts only the growth", {"quotas": [{"namespace": "team-a", "gpus": 8}]}, [node("a", 12)], [*FULL_CHAMPION],
     [], req(1, 4, mode="swap", champion=2, champion_version="v1"), True, "+4", reasons.PLACED),
    ("another namespace's quota does not apply", {"quotas": [{"namespace": "team-b", "gpus": 0}]}, [node("a", 8)], [], [], req(1, 1), True, "has 8 free", reasons.PLACED),
    ("MIG slices are their own resource", {"gpuResource": MIG}, [node("a", 7, resource=MIG)], [pod("a", 3, resource=MIG), pod("a", 1)], [], req(4, 1), True,
     "has 4 free nvidia.com/mig-1g.10gb", reasons.PLACED),
    ("MIG short", {"gpuResource": MIG}, [node("a", 7, resource=MIG)], [pod("a", 3, resource=MIG)], [], req(5, 1), False, "short by 1", reasons.DOES_NOT_FIT),
    ("a node without the pool's resource adds nothing", {"gpuResource": MIG}, [node("a", 8)], [], [], req(1, 1), False, "has 0 free nvidia.com/mig-1g.10gb", reasons.DOES_NOT_FIT),
    ("finished, unbound and off-pool pods hold nothing", {}, [node("a", 8)],
     [pod("a", 8, phase="Succeeded"), pod("a", 8, phase="Failed"), pod(None, 8), pod("elsewhere", 8)], [], req(2, 4), True, "has 8 free", reasons.PLACED),
    ("no GPUs requested", {}, [], [], [], req(2, 0), True, "no GPUs requested", reasons.NO_GPUS),
    ("a version check without a rollout names the version", {}, [node("a", 2)], [], [], req(1, 4, rollout=""), False,
     'ModelVersion "v2" needs 4 (1 replicas x 4): short by 2', reasons.DOES_NOT_FIT),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "spec", "nodes", "pods", "reservations", "request_", "fits", "message", "reason"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_admission(
    name: str,
    spec: dict[str, Any],
    nodes: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    reservations: list[Reservation],
    request_: Request,
    fits: bool,
    message: str,
    reason: str,
) -> None:
    pool = pool_state(
        "h100",
        GPUPoolSpec.model_validate({"nodeSelector": H100, **spec}),
        nodes,
        pods,
        reservations,
    )
    answer = admit(pool, request_, NOW)
    assert answer.fits is fits, answer.message
    assert message in answer.message
    assert answer.reason == reason
    if fits and request_.gpus_per_replica:
        r = answer.reservation
        assert r is not None and r.rollout == request_.rollout and r.since == NOW
        assert (r.gpus, r.replicas, r.gpus_per_replica) == (
            request_.replicas * request_.gpus_per_replica,
            request_.replicas,
            request_.gpus_per_replica,
        )
    else:
        assert answer.reservation is None


def test_two_rollouts_cannot_both_take_the_last_gpus() -> None:
    spec = GPUPoolSpec.model_validate({"nodeSelector": H100})
    nodes, pods = [node("a", 8)], [pod("a", 4)]
    first = admit(pool_state("h100", spec, nodes, pods, []), req(1, 4, rollout="team-a/one"), NOW)
    assert first.fits and first.reservation is not None
    recorded = reserve([], first.reservation)
    second = admit(pool_state("h100", spec, nodes, pods, recorded), req(1, 4, rollout="team-a/two"), NOW)  # fmt: skip
    assert not second.fits
    assert second.message == (
        'GPUPool "h100" has 0 free nvidia.com/gpu, the challenger needs 4 (1 replicas x 4): short by 4'
    )
    # The first rollout asking again is answered the same: its own reservation is not in its way.
    again = admit(pool_state("h100", spec, nodes, pods, recorded), req(1, 4, rollout="team-a/one"), NOW)  # fmt: skip
    assert again.fits
    assert admit(pool_state("h100", spec, nodes, pods, release(recorded, "team-a/one")), req(1, 4, rollout="team-a/two"), NOW).fits  # fmt: skip


def test_reserve_replaces_per_rollout_and_release_removes() -> None:
    a1 = reservation("ns/a", 2)
    b = reservation("ns/b", 4)
    a2 = reservation("ns/a", 6)
    assert reserve([], a1) == [a1]
    assert reserve([a1, b], a2) == [a2, b], "re-admitting replaces in place"
    assert reserve(reserve([a1, b], a2), a2) == [a2, b], "idempotent"
    assert release([a2, b], "ns/a") == [b]
    assert release([b], "ns/a") == [b], "releasing twice is a no-op"


def test_pool_counts_by_hand() -> None:
    spec = GPUPoolSpec.model_validate({"nodeSelector": H100, "quotas": [{"namespace": "team-a", "gpus": 10}]})  # fmt: skip
    nodes = [
        node("a", 8),
        node("b", 8),
        node("c", 8, unschedulable=True),
        node("d", 8, ready=False),
        node("e", 8, taints=TAINT),
        {**node("cpu", 0), "metadata": {"name": "cpu", "labels": {}}},
    ]
    pods = [
        pod("a", 3), pod("a", 2, ns="team-b"), pod("b", 8), pod("c", 4), pod("a", 8, phase="Succeeded"),
        pod("a", 1, ns="team-b", rollout="x", version="x"),
    ]  # fmt: skip
    state = pool_state("h100", spec, nodes, pods, [reservation("team-b/x", 3, replicas=3, gpusPerReplica=1)])  # fmt: skip
    # Pool nodes a-e (5 x 8); ready: a and b. Held: a 3+2+1, b 8, c 4 (cordoned, still held).
    assert [n.name for n in state.nodes] == ["a", "b", "c", "d", "e"]
    assert (state.capacity, state.allocatable, state.allocated, state.ready_nodes) == (
        40,
        16,
        18,
        2,
    )
    assert state.reserved() == 2, "3 reserved, 1 already held by the reservation's own pod"
    assert state.free() == 0, "a: 8-6=2 free, b: 0; minus 2 reserved"
    assert state.usage_by_namespace == {"team-a": 15, "team-b": 3}
    assert {n.name: n.reason for n in state.nodes if not n.schedulable} == {
        "c": "cordoned",
        "d": "NotReady",
        "e": "taint dedicated=llm:NoSchedule not tolerated",
    }


@pytest.mark.parametrize(
    ("containers", "init", "gpus"),
    [
        ([{"requests": {GPU: "2"}}, {"requests": {GPU: "1"}}], [], 3),
        ([{"limits": {GPU: "2"}}], [], 2),  # a limit stands in for a missing request
        ([{"requests": {GPU: 1}, "limits": {GPU: 1}}], [], 1),
        ([{"requests": {GPU: "1"}}], [{"requests": {GPU: "4"}}], 4),  # an init step needing more
        (
            [{"requests": {GPU: "1"}}],
            [{"requests": {GPU: "1"}, "restartPolicy": "Always"}],
            2,
        ),  # a sidecar
        ([{"requests": {"cpu": "1"}}], [], 0),
    ],
)
def test_pod_effective_gpu_request(
    containers: list[dict[str, Any]], init: list[dict[str, Any]], gpus: int
) -> None:
    def c(i: int, r: dict[str, Any]) -> dict[str, Any]:
        extra = {"restartPolicy": r.pop("restartPolicy")} if "restartPolicy" in r else {}
        return {"name": f"c{i}", "resources": r, **extra}

    spec = {
        "containers": [c(i, dict(r)) for i, r in enumerate(containers)],
        "initContainers": [c(i, dict(r)) for i, r in enumerate(init)],
    }
    assert pod_gpus({"spec": spec}, GPU) == gpus


@pytest.mark.parametrize(
    ("value", "count"), [("8", 8), (8, 8), ("8000m", 8), ("1k", 1000), (None, 0), ("lots", 0)]
)
def test_quantity(value: Any, count: int) -> None:
    assert quantity(value) == count


@pytest.mark.parametrize(
    ("toleration", "taint", "tolerated"),
    [
        ({"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"}, {"key": "k", "value": "v", "effect": "NoSchedule"}, True),
        ({"key": "k", "operator": "Equal", "value": "w", "effect": "NoSchedule"}, {"key": "k", "value": "v", "effect": "NoSchedule"}, False),
        ({"key": "k", "operator": "Exists"}, {"key": "k", "value": "v", "effect": "NoExecute"}, True),
        ({"key": "k", "operator": "Exists", "effect": "NoSchedule"}, {"key": "k", "effect": "NoExecute"}, False),
        ({"operator": "Exists"}, {"key": "anything", "effect": "NoSchedule"}, True),
    ],
)  # fmt: skip
def test_toleration_matching(toleration: dict[str, Any], taint: dict[str, Any], tolerated: bool) -> None:  # fmt: skip
    spec = GPUPoolSpec.model_validate({"tolerations": [toleration]})
    assert tolerates(taint, spec.tolerations) is tolerated


@pytest.mark.parametrize(
    ("samples", "allocated", "mean", "stranded", "attributed"),
    [
        ([], 4, None, 0, False),
        # With pod attribution: only allocated GPUs under the threshold are stranded.
        (
            [GpuSample(80, "a"), GpuSample(5, "b"), GpuSample(2), GpuSample(90, "c")],
            3,
            44.25,
            1,
            True,
        ),
        # Without it: idle GPUs, at most as many as are allocated.
        ([GpuSample(80), GpuSample(5), GpuSample(2), GpuSample(90)], 4, 44.25, 2, False),
        ([GpuSample(80), GpuSample(5), GpuSample(2), GpuSample(90)], 1, 44.25, 1, False),
        ([GpuSample(1), GpuSample(2)], 0, 1.5, 0, False),  # free idle GPUs are unused, not stranded
    ],
)
def test_utilisation_and_stranded_gpus(
    samples: list[GpuSample], allocated: int, mean: float | None, stranded: int, attributed: bool
) -> None:
    u = utilization_summary(samples, 10, allocated)
    assert (u.mean_percent, u.stranded, u.attributed) == (mean, stranded, attributed)
