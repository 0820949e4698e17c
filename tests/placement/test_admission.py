"""GPU admission, table-driven: does the challenger fit, and if not, why (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from champion.api.v1alpha1.gpupool import GPUPoolSpec, Reservation
from champion.domain.placement import Request, admit, pool_state

H100 = {"nvidia.com/gpu.product": "H100"}


def node(name: str, gpus: int, resource: str = "nvidia.com/gpu", **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": H100},
        "spec": spec,
        "status": {
            "allocatable": {resource: str(gpus)},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def pod(
    node_name: str, gpus: int, ns: str = "team-a", resource: str = "nvidia.com/gpu"
) -> dict[str, Any]:
    return {
        "metadata": {"name": f"p-{node_name}-{gpus}", "namespace": ns},
        "spec": {
            "nodeName": node_name,
            "containers": [{"resources": {"requests": {resource: str(gpus)}}}],
        },
        "status": {"phase": "Running"},
    }


def req(
    replicas: int,
    gpus: int,
    mode: str = "surge",
    champion: int = 0,
    ns: str = "team-a",
    rollout: str = "team-a/chat",
) -> Request:
    return Request(
        rollout=rollout,
        namespace=ns,
        model_version="v2",
        replicas=replicas,
        gpus_per_replica=gpus,
        mode=mode,
        champion_replicas=champion,
    )


TAINT = [{"key": "dedicated", "value": "llm", "effect": "NoSchedule"}]


@pytest.mark.parametrize(
    ("name", "spec", "nodes", "pods", "reservations", "request_", "fits", "message"),
    [
        ("fits with room", {}, [node("a", 8)], [pod("a", 4)], [], req(2, 2), True, "has 4 free"),
        (
            "short by one",
            {},
            [node("a", 8)],
            [pod("a", 5)],
            [],
            req(2, 2),
            False,
            'GPUPool "p" has 3 free nvidia.com/gpu, the challenger needs 4 (2 replicas x 2): short by 1',
        ),
        (
            "fragmented: free GPUs on two nodes, a replica needs 4 on one",
            {},
            [node("a", 8), node("b", 8)],
            [pod("a", 5), pod("b", 5)],
            [],
            req(1, 4),
            False,
            "only 0 of 1 replicas fit",
        ),
        (
            "cordoned node does not count",
            {},
            [node("a", 8), node("b", 8, unschedulable=True)],
            [pod("a", 8)],
            [],
            req(1, 1),
            False,
            "has 0 free",
        ),
        (
            "untolerated taint does not count",
            {},
            [node("a", 8, taints=TAINT)],
            [],
            [],
            req(1, 1),
            False,
            "has 0 free",
        ),
        (
            "tolerated taint counts",
            {
                "tolerations": [
                    {
                        "key": "dedicated",
                        "operator": "Equal",
                        "value": "llm",
                        "effect": "NoSchedule",
                    }
                ]
            },
            [node("a", 8, taints=TAINT)],
            [],
            [],
            req(1, 1),
            True,
            "has 8 free",
        ),
        (
            "another rollout reserved the last GPUs",
            {},
            [node("a", 8)],
            [pod("a", 6)],
            [Reservation(rollout="team-b/x", model_version="x", namespace="team-b", gpus=2)],
            req(1, 1),
            False,
            "has 0 free",
        ),
        (
            "our own reservation is not double counted",
            {},
            [node("a", 8)],
            [pod("a", 6)],
            [Reservation(rollout="team-a/chat", model_version="v2", namespace="team-a", gpus=2)],
            req(1, 2),
            True,
            "reserved 2",
        ),
        (
            "swap mode: the champion gives its GPUs",
            {},
            [node("a", 8)],
            [pod("a", 8)],
            [],
            req(2, 4, mode="swap", champion=2),
            True,
            "swap",
        ),
        (
            "quota exhausted",
            {"quotas": [{"namespace": "team-a", "gpus": 6}]},
            [node("a", 16)],
            [pod("a", 4)],
            [],
            req(2, 2),
            False,
            "quota for namespace team-a is 6",
        ),
        (
            "MIG slices are their own resource",
            {"gpuResource": "nvidia.com/mig-1g.10gb"},
            [node("a", 7, resource="nvidia.com/mig-1g.10gb")],
            [pod("a", 3, resource="nvidia.com/mig-1g.10gb")],
            [],
            req(4, 1),
            True,
            "has 4 free nvidia.com/mig-1g.10gb",
        ),
        (
            "MIG short",
            {"gpuResource": "nvidia.com/mig-1g.10gb"},
            [node("a", 7, resource="nvidia.com/mig-1g.10gb")],
            [pod("a", 3, resource="nvidia.com/mig-1g.10gb")],
            [],
            req(5, 1),
            False,
            "short by 1",
        ),
    ],
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
) -> None:
    pool = pool_state(
        "p", GPUPoolSpec.model_validate({"nodeSelector": H100, **spec}), nodes, pods, reservations
    )
    answer = admit(pool, request_, "2026-11-24T12:00:00Z")
    assert answer.fits is fits, (name, answer.message)
    assert message in answer.message, (name, answer.message)
    if fits and request_.mode == "surge":
        assert (
            answer.reservation is not None
            and answer.reservation.gpus == request_.replicas * request_.gpus_per_replica
        )
