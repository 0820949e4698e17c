"""GPUPool: count nodes, allocations and reservations into status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from champion.adapters.kube import KubeApi, resource_for
from champion.api.v1alpha1 import reasons
from champion.api.v1alpha1.common import ConditionType
from champion.api.v1alpha1.gpupool import GPUPoolSpec, GPUPoolStatus, NamespaceUsage
from champion.domain.conditions import set_condition
from champion.domain.placement import PoolState, pool_state
from champion.reconcile.spec_validity import parse_spec
from champion.reconcile.status import ReconcileResult, write_status

NODE = resource_for("v1", "Node")
POD = resource_for("v1", "Pod")


async def observe_pool(
    api: KubeApi, body: dict[str, Any]
) -> tuple[GPUPoolSpec | None, GPUPoolStatus, PoolState | None, str | None]:
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


async def reconcile_gpupool(
    api: KubeApi, body: dict[str, Any], now: datetime, prometheus: Any = None
) -> ReconcileResult:
    generation = body["metadata"].get("generation")
    spec, status, state, error = await observe_pool(api, body)
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
        status.nodes = len(state.nodes)
        status.ready_nodes = sum(1 for n in state.nodes if n.schedulable)
        status.capacity = state.capacity
        status.allocatable = state.allocatable
        status.allocated = state.allocated
        status.reserved = state.reserved()
        status.free = state.free()
        status.cost_per_hour = round(state.allocated * spec.cost_per_gpu_hour, 4)
        namespaces = sorted(
            set(state.usage_by_namespace)
            | set(state.quotas)
            | {r.namespace for r in state.reservations}
        )
        status.namespaces = [
            NamespaceUsage(
                namespace=ns,
                allocated=state.usage_by_namespace.get(ns, 0),
                reserved=sum(r.gpus for r in state.reservations if r.namespace == ns),
                quota=state.quotas.get(ns),
            )
            for ns in namespaces
        ]
        utilization_note = ""
        if spec.utilization is not None:
            utilization_note = await _utilization(
                prometheus,
                spec.utilization.query,
                spec.utilization.stranded_below_percent,
                status,
                now,
            )
        if state.nodes:
            unschedulable = [f"{n.name} ({n.reason})" for n in state.nodes if not n.schedulable]
            extra = f"; not schedulable: {', '.join(unschedulable)}" if unschedulable else ""
            status.conditions = set_condition(
                status.conditions,
                ConditionType.READY,
                True,
                reasons.POOL_READY,
                f"{status.nodes} nodes, {status.free} of {status.capacity} {spec.gpu_resource} free{extra}{utilization_note}",
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
    return ReconcileResult(status_written=written)


async def _utilization(
    prometheus: Any, query: str, threshold: float, status: GPUPoolStatus, now: datetime
) -> str:
    """Mean utilisation and stranded GPUs from a per-GPU query (e.g. DCGM_FI_DEV_GPU_UTIL)."""
    from champion.adapters.prometheus import PrometheusUnavailable
    from champion.domain.placement import utilization_summary

    if prometheus is None:
        return "; utilisation unavailable: no Prometheus configured (--prometheus-url)"
    try:
        result = await prometheus.query(query, now)
    except PrometheusUnavailable as exc:
        return f"; utilisation unavailable: {exc}"
    values = [float(r["value"][1]) for r in result]
    status.utilization_percent, status.stranded_gpus = utilization_summary(values, threshold)
    return ""
