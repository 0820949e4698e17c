"""Observing a Rollout's world: its versions, their children, the pool, the metrics."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from champion.adapters.kube import KubeApi, resource_for
from champion.adapters.prometheus import PrometheusClient, PrometheusUnavailable
from champion.api.v1alpha1.common import ConditionType
from champion.api.v1alpha1.gpupool import GPUPoolSpec
from champion.api.v1alpha1.modelversion import ModelVersionSpec
from champion.api.v1alpha1.modelversion import Placement as ModelVersionPlacement
from champion.api.v1alpha1.rollout import Phase, RolloutSpec, RolloutStatus, TrafficProvider
from champion.builders.workloads import (
    Owner,
    VersionContext,
    answers,
    is_ready,
    service_name,
    shortfall,
    workload,
)
from champion.domain.conditions import parse_time
from champion.domain.judge.types import Histogram, Observation
from champion.domain.metrics_catalog import expand
from champion.domain.placement import Admission, Request, admit, pool_state
from champion.domain.rollout.observations import VersionFacts
from champion.domain.route_status import refusal

MV = resource_for("champion.dev/v1alpha1", "ModelVersion")
POOL = resource_for("champion.dev/v1alpha1", "GPUPool")
NODE = resource_for("v1", "Node")
POD = resource_for("v1", "Pod")
HTTPROUTE = resource_for("gateway.networking.k8s.io/v1", "HTTPRoute")
ACTIONS = ("promote", "abort", "retry", "pause")


def pinned_pool(
    pool: GPUPoolSpec | None, pool_body: dict[str, Any] | None, body: dict[str, Any] | None
) -> GPUPoolSpec | None:
    """The pool as a running version's pods were placed with it.

    A pool edited while a version runs must not re-render its pod template (that
    would reschedule, i.e. evict, every replica): the ModelVersion's
    `status.placement` snapshot keeps selector, tolerations, affinity and GPU
    resource until the version stops running; the change is reported there
    (Placement=False, GPUPoolChanged) and applies to the next version.
    """
    placement = ((body or {}).get("status") or {}).get("placement") or {}
    if pool is None or pool_body is None or not placement.get("replicas"):
        return pool
    if placement.get("pool") != pool_body["metadata"]["name"]:
        return pool
    try:
        snapshot = ModelVersionPlacement.model_validate(placement)
    except ValueError:
        return pool
    return pool.model_copy(
        update={
            "node_selector": snapshot.node_selector,
            "tolerations": snapshot.tolerations,
            "affinity": snapshot.affinity,
            "gpu_resource": snapshot.gpu_resource or pool.gpu_resource,
        }
    )


class VersionView:
    """A ModelVersion as the Rollout sees it: spec, pool and build context."""

    def __init__(
        self, name: str, body: dict[str, Any] | None, pool_body: dict[str, Any] | None
    ) -> None:
        self.name = name
        self.body = body
        self.pool_body = pool_body
        self.spec: ModelVersionSpec | None = None
        self.pool: GPUPoolSpec | None = None
        if body is not None:
            try:
                self.spec = ModelVersionSpec.model_validate(body.get("spec") or {})
            except ValueError:
                self.spec = None
        if pool_body is not None:
            try:
                self.pool = GPUPoolSpec.model_validate(pool_body.get("spec") or {})
            except ValueError:
                self.pool = None
        self.pool = pinned_pool(self.pool, pool_body, body)

    def context(self, rollout: dict[str, Any], replicas: int) -> VersionContext | None:
        if self.spec is None or self.body is None:
            return None
        meta = rollout["metadata"]
        return VersionContext(
            namespace=meta["namespace"],
            rollout=meta["name"],
            version=self.name,
            spec=self.spec,
            fingerprint=(self.body.get("status") or {}).get("fingerprint") or "unknown",
            owner=Owner(rollout["apiVersion"], rollout["kind"], meta["name"], meta["uid"]),
            replicas=replicas,
            pool=self.pool,
            annotations=self.body["metadata"].get("annotations") or {},
        )


async def load_versions(api: KubeApi, namespace: str, names: set[str]) -> dict[str, VersionView]:
    views: dict[str, VersionView] = {}
    for name in sorted(names):
        body = await api.get(MV, name, namespace)
        pool_name = ((body or {}).get("spec") or {}).get("serving", {}).get("gpuPool")
        pool_body = await api.get(POOL, pool_name) if pool_name else None
        views[name] = VersionView(name, body, pool_body)
    return views


async def version_facts(api: KubeApi, rollout: dict[str, Any], view: VersionView) -> VersionFacts:
    if view.body is None:
        return VersionFacts(view.name, exists=False, valid=False, message="not found")
    conditions = (view.body.get("status") or {}).get("conditions") or []
    valid_cond = next((c for c in conditions if c.get("type") == ConditionType.VALID), None)
    if view.spec is None:
        return VersionFacts(view.name, valid=False, message="spec does not parse")
    valid = valid_cond is not None and valid_cond.get("status") == "True"
    message = valid_cond.get("message", "") if valid_cond else "not yet validated by the operator"
    ctx = view.context(rollout, view.spec.serving.replicas)
    children = await serving_children(api, ctx) if ctx is not None else []
    primary = children[0][1] if children else None
    missing = tuple(label for label, live in children if live is None)
    cost = view.pool.cost_per_gpu_hour if view.pool else 0.0
    return VersionFacts(
        name=view.name,
        valid=valid,
        message=message,
        pinned=view.spec.model.digest is not None,
        ready=is_ready(primary),
        missing=missing,
        short=tuple(gap for _, live in children if live is not None and (gap := shortfall(live))),
        serving=answers(primary) and children[-1][1] is not None,
        deleting=bool(view.body["metadata"].get("deletionTimestamp")),
        replicas=view.spec.serving.replicas,
        gpus_per_replica=view.spec.serving.gpus_per_replica,
        cost_per_gpu_hour=cost,
    )


async def serving_children(
    api: KubeApi, ctx: VersionContext
) -> list[tuple[str, dict[str, Any] | None]]:
    """("Kind name", the live object or None) for what a version serves from: its primary
    child first (Deployment or InferenceService), the Service traffic goes to last."""
    out: list[tuple[str, dict[str, Any] | None]] = []
    for manifest in workload(ctx):
        res = resource_for(manifest["apiVersion"], manifest["kind"])
        name = manifest["metadata"]["name"]
        out.append((f"{manifest['kind']} {name}", await api.get(res, name, ctx.namespace)))
    traffic = service_name(ctx)
    if f"Service {traffic}" not in (label for label, _ in out):
        # KServe makes the predictor Service itself, from the InferenceService.
        live = await api.get(resource_for("v1", "Service"), traffic, ctx.namespace)
        out.append((f"Service {traffic} (KServe creates it from the InferenceService)", live))
    return out


async def route_refusal(api: KubeApi, rollout: dict[str, Any], spec: RolloutSpec) -> str | None:
    """What the Gateway says against the Rollout's HTTPRoute, if anything (Gateway API only)."""
    if spec.endpoint.provider != TrafficProvider.GATEWAY_API:
        return None
    meta = rollout["metadata"]
    return refusal(await api.get(HTTPROUTE, meta["name"], meta["namespace"]))


def manual_actions(rollout: dict[str, Any]) -> dict[str, str]:
    annotations = rollout["metadata"].get("annotations") or {}
    return {
        a: annotations[f"champion.dev/{a}"] for a in ACTIONS if f"champion.dev/{a}" in annotations
    }


async def admission(
    api: KubeApi,
    rollout: dict[str, Any],
    spec: RolloutSpec,
    status: RolloutStatus,
    views: dict[str, VersionView],
    now: str,
) -> Admission | None:
    """Asks the challenger's pool whether it fits, before anything is created."""
    target = status.challenger if status.challenger else spec.model_version
    if target == status.champion:
        return None
    if (
        status.phase not in (None, Phase.PENDING, Phase.CAPACITY_PENDING)
        and status.challenger == target
    ):
        return None
    view = views.get(target)
    if view is None or view.spec is None or view.pool_body is None or view.pool is None:
        return None
    if view.spec.serving.gpus_per_replica == 0:
        return None
    pool_status = view.pool_body.get("status") or {}
    from champion.api.v1alpha1.gpupool import Reservation

    reservations = [Reservation.model_validate(r) for r in pool_status.get("reservations", [])]
    state = pool_state(
        view.pool_body["metadata"]["name"],
        view.pool,
        await api.list(NODE),
        await api.list(POD),
        reservations,
    )
    meta = rollout["metadata"]
    champion_view = views.get(status.champion or "")
    champion_spec = champion_view.spec if champion_view else None
    champion_replicas = champion_spec.serving.replicas if champion_spec else 0
    request = Request(
        rollout=f"{meta['namespace']}/{meta['name']}",
        namespace=meta["namespace"],
        model_version=target,
        replicas=view.spec.serving.replicas,
        gpus_per_replica=view.spec.serving.gpus_per_replica,
        mode=str(spec.strategy.capacity_mode),
        champion_replicas=champion_replicas,
        # Swap frees the champion's replicas on the nodes they really run on, at their size.
        champion_version=status.champion,
        champion_gpus_per_replica=champion_spec.serving.gpus_per_replica if champion_spec else None,
    )
    return admit(state, request, now)


def analysis_due(
    spec: RolloutSpec, status: RolloutStatus, now: datetime
) -> tuple[datetime, datetime] | None:
    if (
        status.phase not in (Phase.SHADOW, Phase.CANARY)
        or not status.champion
        or not status.challenger
    ):
        return None
    start = parse_time(status.last_analysis_at) or parse_time(status.phase_started_at)
    if start is None or (now - start).total_seconds() < spec.analysis.interval_seconds:
        return None
    return start, now


async def read_metrics(
    prometheus: PrometheusClient | None,
    spec: RolloutSpec,
    status: RolloutStatus,
    window: tuple[datetime, datetime],
) -> tuple[dict[str, Observation] | None, str | None]:
    metrics = expand(spec.analysis.metrics)
    if metrics and prometheus is None:
        return None, "no Prometheus configured: start the operator with --prometheus-url"
    if not metrics:
        return None, None  # nothing to analyse: steps advance on time alone
    assert prometheus is not None
    try:
        data = await prometheus.read_interval(
            metrics,
            spec.analysis.version_label,
            status.champion or "",
            status.challenger or "",
            *window,
        )
    except PrometheusUnavailable as exc:
        return None, str(exc)
    return data, None


WARMUP_STEP_SECONDS = 10
"""The longest window the warm-up's spread is read in: 60 windows in the default 600 s."""


async def read_warmup(
    prometheus: PrometheusClient | None,
    spec: RolloutSpec,
    status: RolloutStatus,
    window: tuple[datetime, datetime],
) -> dict[str, Histogram] | None:
    """The champion's histograms over `warmupSeconds` before the analysis' first look.

    Only read for a judge that has not started (its edges are chosen once). Those
    requests end before anything is tested, so choosing the edges from them costs the
    tests no validity, and it gives the judge thousands of requests where the first
    intervals would give it a few hundred. Unreadable history is not an error: the
    judge then warms up on the analysis' first requests, and its evidence says so.
    """
    seconds = spec.analysis.warmup_seconds
    if prometheus is None or status.analysis_state or seconds <= 0 or not status.champion:
        return None
    metrics = [m for m in expand(spec.analysis.metrics) if m.kind == "histogram"]
    if not metrics:
        return None
    start = window[0]
    try:
        history = await prometheus.read_history(
            metrics,
            spec.analysis.version_label,
            status.champion,
            start - timedelta(seconds=seconds),
            start,
            # Any window length estimates the same per-request spread (means.py); shorter
            # ones give more windows. A window inside one scrape interval adds nothing.
            step=timedelta(seconds=min(spec.analysis.interval_seconds, WARMUP_STEP_SECONDS)),
        )
    except PrometheusUnavailable:
        return None
    return history or None


JOB = resource_for("batch/v1", "Job")
CONFIGMAP = resource_for("v1", "ConfigMap")


def service_port(ctx: VersionContext, service: dict[str, Any] | None) -> int:
    """The Service's own first port when it exists (KServe creates its Service itself and a
    real cluster may differ from the default), else the builder's default."""
    from champion.builders.workloads import default_service_port

    ports = ((service or {}).get("spec") or {}).get("ports") or []
    return int(ports[0]["port"]) if ports and ports[0].get("port") else default_service_port(ctx)


def service_url(
    view: VersionView | None, rollout: dict[str, Any], service: dict[str, Any] | None
) -> str | None:
    """How an in-cluster client reaches a version: its Service's ClusterIP, else its DNS name."""
    if view is None or view.spec is None:
        return None
    ctx = view.context(rollout, 1)
    if ctx is None:
        return None
    name = service_name(ctx)
    port = service_port(ctx, service)
    ip = ((service or {}).get("spec") or {}).get("clusterIP")
    if ip and ip != "None":
        return f"http://{ip}:{port}"
    return f"http://{name}.{ctx.namespace}.svc:{port}"


def served_model(rollout: dict[str, Any], view: VersionView | None) -> str | None:
    """The model name an eval client must send to this version (None: the server's default)."""
    from champion.builders.workloads import served_model_name

    ctx = view.context(rollout, 1) if view else None
    return served_model_name(ctx) if ctx else None


async def version_endpoint(
    api: KubeApi, rollout: dict[str, Any], view: VersionView | None
) -> str | None:
    """The in-cluster URL of a version of this Rollout (None while it cannot be built)."""
    ctx = view.context(rollout, 1) if view else None
    if ctx is None:
        return None
    service = await api.get(resource_for("v1", "Service"), service_name(ctx), ctx.namespace)
    return service_url(view, rollout, service)


GATE_DEADLINE = "spec.strategy.evalGate.timeoutSeconds"
"""What sets a gate's eval Job's activeDeadlineSeconds."""


async def eval_states(
    api: KubeApi, rollout: dict[str, Any], spec: RolloutSpec, status: RolloutStatus
) -> dict[str, Any]:
    """Each eval gate suite's run for the current challenger, from its Job and result ConfigMap:
    a result's reasons and what the failing cases answered; a Job that ended without a result
    says why (the Job's condition, the pod's state and last lines) and how to read its logs."""
    import json as _json

    from champion.builders.eval_job import (
        RESULT_KEY,
        eval_job_name,
        failure_message,
        job_complete,
        job_failed,
        pod_state,
    )
    from champion.domain.evals.summary import gate_message
    from champion.domain.rollout.observations import EvalState

    gate = spec.strategy.eval_gate
    if gate is None or status.phase != Phase.EVAL_GATE or not status.challenger:
        return {}
    meta = rollout["metadata"]

    async def result_state(name: str) -> EvalState | None:
        cm = await api.get(CONFIGMAP, name, meta["namespace"])
        if cm is None or RESULT_KEY not in (cm.get("data") or {}):
            return None
        try:
            result = _json.loads(cm["data"][RESULT_KEY])
        except ValueError:
            return EvalState("failed", f"unreadable result in ConfigMap {name}")
        return EvalState(
            "passed" if result.get("passed") else "failed",
            gate_message(result),
            tuple(result.get("failing_cases", [])),
            result.get("score"),
        )

    out: dict[str, Any] = {}
    for suite in gate.suites:
        name = eval_job_name(meta["name"], suite, status.challenger)
        state = await result_state(name)
        if state is not None:
            out[suite] = state
            continue
        job = await api.get(JOB, name, meta["namespace"])
        if job is None:
            out[suite] = EvalState("missing")
        elif job_complete(job) and (state := await result_state(name)) is not None:
            out[suite] = state  # the result landed between the two reads
        elif job_failed(job) or job_complete(job):
            pod = await _eval_job_pod(api, job)
            out[suite] = EvalState("failed", failure_message(job, pod, GATE_DEADLINE))
        else:
            pod = await _eval_job_pod(api, job)
            out[suite] = EvalState("running", (pod_state(pod) if pod else None) or "")
    return out


async def _eval_job_pod(api: KubeApi, job: dict[str, Any]) -> dict[str, Any] | None:
    from champion.builders.eval_job import JOB_NAME_LABEL, job_pod

    meta = job["metadata"]
    pods = await api.list(POD, meta["namespace"], f"{JOB_NAME_LABEL}={meta['name']}")
    return job_pod(job, pods)
