"""GPU accounting and admission: pure functions over a pool's nodes, pods and reservations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from champion.api.v1alpha1.gpupool import GPUPoolSpec, Reservation, Toleration


@dataclass(frozen=True)
class NodeState:
    name: str
    allocatable: int
    allocated: int
    schedulable: bool
    reason: str = ""

    @property
    def free(self) -> int:
        return max(0, self.allocatable - self.allocated) if self.schedulable else 0


@dataclass
class PoolState:
    name: str
    resource: str
    nodes: list[NodeState]
    reservations: list[Reservation] = field(default_factory=list)
    usage_by_namespace: dict[str, int] = field(default_factory=dict)
    quotas: dict[str, int] = field(default_factory=dict)

    @property
    def capacity(self) -> int:
        return sum(n.allocatable for n in self.nodes)

    @property
    def allocatable(self) -> int:
        return sum(n.allocatable for n in self.nodes if n.schedulable)

    @property
    def allocated(self) -> int:
        return sum(n.allocated for n in self.nodes)

    def reserved(self, excluding_rollout: str | None = None) -> int:
        return sum(r.gpus for r in self.reservations if r.rollout != excluding_rollout)

    def free(self, excluding_rollout: str | None = None) -> int:
        return max(0, sum(n.free for n in self.nodes) - self.reserved(excluding_rollout))


def _quantity(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def _tolerated(taint: dict[str, Any], tolerations: list[Toleration]) -> bool:
    for t in tolerations:
        if t.effect and t.effect != taint.get("effect"):
            continue
        if t.operator == "Exists" and (t.key is None or t.key == taint.get("key")):
            return True
        if (
            t.operator == "Equal"
            and t.key == taint.get("key")
            and (t.value or "") == (taint.get("value") or "")
        ):
            return True
    return False


def node_in_pool(node: dict[str, Any], spec: GPUPoolSpec) -> bool:
    labels = node.get("metadata", {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in spec.node_selector.items())


def pool_state(
    name: str,
    spec: GPUPoolSpec,
    nodes: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    reservations: list[Reservation],
) -> PoolState:
    members = [n for n in nodes if node_in_pool(n, spec)]
    member_names = {n["metadata"]["name"] for n in members}
    per_node: dict[str, int] = {}
    per_ns: dict[str, int] = {}
    for pod in pods:
        node = pod.get("spec", {}).get("nodeName")
        phase = (pod.get("status") or {}).get("phase")
        if node not in member_names or phase in ("Succeeded", "Failed"):
            continue
        gpus = sum(
            _quantity(((c.get("resources") or {}).get("requests") or {}).get(spec.gpu_resource, 0))
            for c in pod.get("spec", {}).get("containers", [])
        )
        per_node[node] = per_node.get(node, 0) + gpus
        ns = pod["metadata"].get("namespace", "")
        per_ns[ns] = per_ns.get(ns, 0) + gpus
    states = []
    for n in members:
        status = n.get("status") or {}
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions", [])
        )
        taints = [
            t
            for t in (n.get("spec", {}).get("taints") or [])
            if t.get("effect") in ("NoSchedule", "NoExecute")
        ]
        untolerated = [t for t in taints if not _tolerated(t, spec.tolerations)]
        cordoned = bool(n.get("spec", {}).get("unschedulable"))
        reason = (
            "cordoned"
            if cordoned
            else "NotReady"
            if not ready
            else f"taint {untolerated[0].get('key')} not tolerated"
            if untolerated
            else ""
        )
        states.append(
            NodeState(
                name=n["metadata"]["name"],
                allocatable=_quantity((status.get("allocatable") or {}).get(spec.gpu_resource, 0)),
                allocated=per_node.get(n["metadata"]["name"], 0),
                schedulable=not reason,
                reason=reason,
            )
        )
    return PoolState(
        name,
        spec.gpu_resource,
        states,
        list(reservations),
        per_ns,
        {q.namespace: q.gpus for q in spec.quotas},
    )


@dataclass(frozen=True)
class Request:
    rollout: str
    namespace: str
    model_version: str
    replicas: int
    gpus_per_replica: int
    mode: str = "surge"
    champion_replicas: int = 0
    """In swap mode, the champion gives up this many replicas' GPUs to the challenger."""


@dataclass(frozen=True)
class Admission:
    fits: bool
    message: str
    reservation: Reservation | None = None


def admit(pool: PoolState, req: Request, since: str) -> Admission:
    """Does the challenger fit? Replicas need whole GPUs on one node (first-fit decreasing)."""
    need = req.replicas * req.gpus_per_replica
    reservation = Reservation(
        rollout=req.rollout,
        model_version=req.model_version,
        namespace=req.namespace,
        gpus=need,
        mode=req.mode,
        since=since,
    )
    if need == 0:
        return Admission(True, "no GPUs requested", None)
    if req.mode == "swap":
        # The champion shrinks by the challenger's replicas: total GPU use stays flat.
        freed = min(req.champion_replicas, req.replicas) * req.gpus_per_replica
        if freed >= need:
            return Admission(
                True,
                f"swap: the champion gives up {freed} {pool.resource} for the challenger",
                Reservation(**{**reservation.__dict__, "gpus": 0}),
            )
    quota = pool.quotas.get(req.namespace)
    if quota is not None:
        used = pool.usage_by_namespace.get(req.namespace, 0) + sum(
            r.gpus
            for r in pool.reservations
            if r.namespace == req.namespace and r.rollout != req.rollout
        )
        if used + need > quota:
            return Admission(
                False,
                f'GPUPool "{pool.name}" quota for namespace {req.namespace} is {quota} {pool.resource}; {used} in use, the challenger needs {need}: over by {used + need - quota}',
            )
    free_total = pool.free(excluding_rollout=req.rollout)
    others_reserved = pool.reserved(excluding_rollout=req.rollout)
    node_free = sorted((n.free for n in pool.nodes), reverse=True)
    remaining_reserved = others_reserved
    # Other rollouts' reservations take GPUs first, from the fullest-fitting nodes.
    for i, free in enumerate(node_free):
        take = min(free, remaining_reserved)
        node_free[i] -= take
        remaining_reserved -= take
    placed = 0
    for _ in range(req.replicas):
        for i, free in enumerate(node_free):
            if free >= req.gpus_per_replica:
                node_free[i] -= req.gpus_per_replica
                placed += 1
                break
    if placed == req.replicas:
        return Admission(
            True,
            f'GPUPool "{pool.name}" has {free_total} free {pool.resource}; reserved {need} ({req.replicas} x {req.gpus_per_replica})',
            reservation,
        )
    short = need - free_total
    why = (
        f"short by {short}"
        if short > 0
        else f"only {placed} of {req.replicas} replicas fit on one node each ({req.gpus_per_replica} {pool.resource} per replica)"
    )
    return Admission(
        False,
        f'GPUPool "{pool.name}" has {free_total} free {pool.resource}, the challenger needs {need} ({req.replicas} replicas x {req.gpus_per_replica}): {why}',
    )


def placement_drift(
    recorded_selector: dict[str, str],
    recorded_resource: str | None,
    recorded_tolerations: list[str],
    spec: GPUPoolSpec,
) -> list[str]:
    """What changed in a pool since a version was placed on it (empty: nothing that matters)."""
    changes = []
    if recorded_selector != spec.node_selector:
        changes.append(f"nodeSelector {recorded_selector} -> {spec.node_selector}")
    if recorded_resource is not None and recorded_resource != spec.gpu_resource:
        changes.append(f"gpuResource {recorded_resource} -> {spec.gpu_resource}")
    now = toleration_strings(spec)
    if recorded_tolerations != now:
        changes.append(f"tolerations {recorded_tolerations} -> {now}")
    return changes


def toleration_strings(spec: GPUPoolSpec) -> list[str]:
    return sorted(f"{t.key or '*'}={t.value or ''}:{t.effect or '*'}" for t in spec.tolerations)


def utilization_summary(
    per_gpu_percent: list[float], stranded_below: float
) -> tuple[float | None, int]:
    """Mean utilisation and how many GPUs sit under the threshold (allocated but idle: stranded)."""
    if not per_gpu_percent:
        return None, 0
    mean = sum(per_gpu_percent) / len(per_gpu_percent)
    return round(mean, 2), sum(1 for v in per_gpu_percent if v < stranded_below)
