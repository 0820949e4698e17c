"""GPUPool: count nodes, allocations and reservations into status; record and release reservations.

Reservations live in the pool's status and are written by whoever admits a
rollout (`record_reservation`) and by this reconciler (dropping those of deleted
Rollouts). Every write carries the resourceVersion it read, so two writers
never overwrite each other's reservations.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from champion.adapters.kube import Conflict, KubeApi, resource_for
from champion.adapters.prometheus import PrometheusUnavailable
from champion.api.v1alpha1 import reasons
from champion.api.v1alpha1.common import ConditionStatus, ConditionType
from champion.api.v1alpha1.gpupool import (
    GPUPoolSpec,
    GPUPoolStatus,
    NamespaceUsage,
    Reservation,
    UtilizationSpec,
)
from champion.domain.conditions import set_condition
from champion.domain.placement import (
    PoolState,
    pod_label_of,
    pool_state,
    release,
    reserve,
    sample_from_prometheus,
    utilization_summary,
)
from champion.reconcile.spec_validity import parse_spec
from champion.reconcile.status import Event, ReconcileResult, write_status

POOL = resource_for("champion.dev/v1alpha1", "GPUPool")
ROLLOUT = resource_for("champion.dev/v1alpha1", "Rollout")
NODE = resource_for("v1", "Node")
POD = resource_for("v1", "Pod")


async def observe_pool(
    api: KubeApi, body: dict[str, Any]
) -> tuple[GPUPoolSpec | None, GPUPoolStatus, PoolState | None, str | None]:
    """The pool's spec, stored status and live state (nodes, pods, reservations), or the spec error."""
    spec, error = parse_spec(GPUPoolSpec, body)
    status = GPUPoolStatus.model_validate(body.get("status") or {})
    if spec is None:
        return None, status, None, error
    nodes = await api.list(NODE)
    pods = await api.list(POD)
    return (
        spec,
        status,
        pool_state(body["metadata"]["name"], spec, nodes, pods, status.reservations),
        None,
    )


def namespace_usage(state: PoolState) -> list[NamespaceUsage]:
    """Per namespace: GPUs held by its pods, still reserved by its rollouts, and its quota."""
    names = sorted(
        set(state.usage_by_namespace)
        | set(state.quotas)
        | {r.namespace for r in state.reservations}
    )
    return [
        NamespaceUsage(
            namespace=ns,
            allocated=state.usage_by_namespace.get(ns, 0),
            reserved=state.reserved_in(ns),
            quota=state.quotas.get(ns),
        )
        for ns in names
    ]


async def reconcile_gpupool(
    api: KubeApi, body: dict[str, Any], now: datetime, prometheus: Any = None
) -> ReconcileResult:
    """Counts the pool into status (one patch, only when something changed).

    `prometheus` (the Prometheus adapter's client, or None) is asked for
    `spec.utilization.query` when the pool sets one. Returns the events for the
    handler to post.
    """
    name = body["metadata"]["name"]
    for _ in range(2):
        try:
            return await _reconcile(api, body, now, prometheus)
        except Conflict:
            # A rollout recorded a reservation since the pool was read: count again.
            fresh = await api.get(POOL, name)
            if fresh is None:
                return ReconcileResult()
            body = fresh
    return await _reconcile(api, body, now, prometheus)


async def _reconcile(
    api: KubeApi, body: dict[str, Any], now: datetime, prometheus: Any
) -> ReconcileResult:
    generation = body["metadata"].get("generation")
    spec, status, state, error = await observe_pool(api, body)
    ready_before = next(
        (c.status for c in status.conditions if c.type == ConditionType.READY), None
    )
    events: list[Event] = []
    if spec is None or state is None:
        status.conditions = set_condition(
            status.conditions,
            ConditionType.READY,
            False,
            reasons.INVALID_SPEC,
            f"fix the spec: {error}",
            now,
            generation,
        )
    else:
        kept = await _live_reservations(api, state.reservations)
        for r in state.reservations:
            if r not in kept:
                events.append(
                    Event(
                        "Normal",
                        reasons.STALE_RESERVATION_RELEASED,
                        f"released {r.gpus} {spec.gpu_resource} reserved by Rollout {r.rollout}: it no longer exists",
                    )
                )
        state.reservations = kept
        status.reservations = kept
        status.nodes = len(state.nodes)
        status.ready_nodes = state.ready_nodes
        status.capacity = state.capacity
        status.allocatable = state.allocatable
        status.allocated = state.allocated
        status.reserved = state.reserved()
        status.free = state.free()
        status.cost_per_hour = round(state.allocated * spec.cost_per_gpu_hour, 4)
        status.namespaces = namespace_usage(state)
        note = ""
        if spec.utilization is not None:
            note = await _utilization(prometheus, spec.utilization, state.allocated, status, now)
        else:
            status.utilization_percent = status.stranded_gpus = None
        if state.nodes:
            unusable = [f"{n.name} ({n.reason})" for n in state.nodes if not n.schedulable]
            extra = f"; not counted: {', '.join(unusable)}" if unusable else ""
            status.conditions = set_condition(
                status.conditions,
                ConditionType.READY,
                True,
                reasons.POOL_READY,
                f"{status.nodes} nodes ({status.ready_nodes} ready), {status.free} of {status.allocatable} allocatable {spec.gpu_resource} free{extra}{note}",
                now,
                generation,
            )
        else:
            status.conditions = set_condition(
                status.conditions,
                ConditionType.READY,
                False,
                reasons.NO_NODES,
                f"no node matches spec.nodeSelector {spec.node_selector}: check the labels on your GPU nodes",
                now,
                generation,
            )
    status.observed_generation = generation
    written = await write_status(api, body, status.to_wire(), precondition=True)
    ready = next(c for c in status.conditions if c.type == ConditionType.READY)
    if written and ready.status == ConditionStatus.FALSE and ready_before != ready.status:
        events.append(Event("Warning", ready.reason, ready.message))
    return ReconcileResult(status_written=written, events=events)


async def _live_reservations(api: KubeApi, reservations: list[Reservation]) -> list[Reservation]:
    """Reservations whose Rollout still exists (a deleted Rollout's GPUs would stay held forever)."""
    kept = []
    for r in reservations:
        namespace, _, name = r.rollout.partition("/")
        if name and await api.get(ROLLOUT, name, namespace) is None:
            continue
        kept.append(r)
    return kept


async def _utilization(
    prometheus: Any, spec: UtilizationSpec, allocated: int, status: GPUPoolStatus, now: datetime
) -> str:
    """Mean utilisation and stranded GPUs from a per-GPU query (e.g. DCGM_FI_DEV_GPU_UTIL).

    The query runs in the Prometheus adapter (off the event loop); the counting
    is `domain.placement.utilization_summary`. Returns a note for the Ready message.
    """
    status.utilization_percent = status.stranded_gpus = None
    if prometheus is None:
        return "; utilisation unavailable: no Prometheus configured (--prometheus-url)"
    try:
        results = await prometheus.query(spec.query, now)
    except PrometheusUnavailable as exc:
        return f"; utilisation unavailable: {exc}"
    if not results:
        return "; utilisation unavailable: spec.utilization.query returned no series"
    label = pod_label_of(results)
    summary = utilization_summary(
        [sample_from_prometheus(r, label) for r in results], spec.stranded_below_percent, allocated
    )
    status.utilization_percent, status.stranded_gpus = summary.mean_percent, summary.stranded
    if not summary.attributed:
        return "; stranded GPUs are an upper bound: the utilisation series carry no pod label"
    return ""


async def record_reservation(api: KubeApi, pool: str, reservation: Reservation) -> bool:
    """Records (or replaces) a rollout's reservation in the pool's status; False if the pool is gone."""
    return await _update_reservations(api, pool, lambda rs: reserve(rs, reservation))


async def release_reservation(api: KubeApi, pool: str, rollout: str) -> bool:
    """Removes a rollout's (namespace/name) reservation from the pool's status."""
    return await _update_reservations(api, pool, lambda rs: release(rs, rollout))


async def _update_reservations(
    api: KubeApi,
    pool: str,
    change: Callable[[list[Reservation]], list[Reservation]],
    attempts: int = 5,
) -> bool:
    for _ in range(attempts):
        body = await api.get(POOL, pool)
        if body is None:
            return False
        current = GPUPoolStatus.model_validate(body.get("status") or {}).reservations
        new = change(current)
        if new == current:
            return True
        patch = {
            "metadata": {"resourceVersion": body["metadata"]["resourceVersion"]},
            "status": {"reservations": [r.to_wire() for r in new]},
        }
        try:
            await api.patch(POOL, pool, patch, subresource="status")
            return True
        except Conflict:
            continue
    raise Conflict(409, f'GPUPool "{pool}" kept changing: reservation not recorded', "Conflict")
