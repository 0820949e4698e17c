"""Rollout: observe -> decide (pure) -> act (children, route, reservation, stages) -> one status write."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from champion.adapters import metrics as operator_metrics
from champion.adapters.kube import ApiError, KubeApi, NotFound, resource_for
from champion.adapters.prometheus import PrometheusClient
from champion.api.v1alpha1 import reasons
from champion.api.v1alpha1.common import ConditionType
from champion.api.v1alpha1.evalsuite import EvalSuiteSpec
from champion.api.v1alpha1.gpupool import Reservation
from champion.api.v1alpha1.modelversion import ServingBackend
from champion.api.v1alpha1.rollout import RolloutSpec, RolloutStatus
from champion.builders.eval_job import EvalRunner, eval_job, llm_judge_env
from champion.builders.httproute import Backend, TrafficState, routable
from champion.builders.naming import ROLLOUT_LABEL, child_name
from champion.builders.traffic import provider_for
from champion.builders.workloads import Owner, service_name, workload
from champion.domain.api_failures import ApiFailure
from champion.domain.conditions import rfc3339, set_condition
from champion.domain.rollout.evidence import restore, split
from champion.domain.rollout.machine import decide
from champion.domain.rollout.observations import Decision, Observations
from champion.domain.usage import changed_uses
from champion.reconcile.children import converge, delete_owned
from champion.reconcile.eval_access import require_eval_service_account
from champion.reconcile.failures import failure_of
from champion.reconcile.gpupool import record_reservation, release_reservation
from champion.reconcile.modelversion import refresh_usage
from champion.reconcile.rollout_evidence import load_evidence, save_evidence
from champion.reconcile.rollout_observe import (
    MV,
    VersionView,
    admission,
    analysis_due,
    eval_states,
    load_versions,
    manual_actions,
    read_metrics,
    read_warmup,
    route_refusal,
    served_model,
    service_port,
    version_endpoint,
    version_facts,
)
from champion.reconcile.spec_validity import parse_spec
from champion.reconcile.status import Event, ReconcileResult, write_status

CHILD_KINDS = (
    ("apps/v1", "Deployment"),
    ("v1", "Service"),
    ("serving.kserve.io/v1beta1", "InferenceService"),
)

SERVICE = resource_for("v1", "Service")
ROUTED = {"Shadow", "Canary"}
"""Phases whose progress needs the Gateway to apply the route's weights or mirror."""
log = logging.getLogger(__name__)


async def reconcile_rollout(
    api: KubeApi,
    prometheus: PrometheusClient | None,
    body: dict[str, Any],
    now: datetime,
    eval_runner: EvalRunner = EvalRunner(),
) -> ReconcileResult:
    meta = body["metadata"]
    namespace, name, generation = meta["namespace"], meta["name"], meta.get("generation")
    status = RolloutStatus.model_validate(body.get("status") or {})
    spec, error = parse_spec(RolloutSpec, body)
    if spec is None:
        status.conditions = set_condition(
            status.conditions,
            ConditionType.DEGRADED,
            True,
            reasons.INVALID_SPEC,
            f"fix the spec: {error}",
            now,
            generation,
        )
        status.message = f"invalid spec: {error}"
        written = await write_status(api, body, status.to_wire())
        return ReconcileResult(
            written, [Event("Warning", reasons.INVALID_SPEC, status.message)] if written else []
        )

    # The judge state and the decisions' evidence, as this status committed to them.
    stored = await load_evidence(api, body)
    restored = restore(status, stored.evidence)
    lost = [Event("Warning", reasons.EVIDENCE_LOST, restored.lost)] if restored.lost else []
    if restored.lost:
        log.warning("Rollout %s/%s: %s", namespace, name, restored.lost)
    status = restored.status
    names = {
        spec.model_version,
        *(n for n in (status.champion, status.challenger) if n),
        *status.retired,
    }
    views = await load_versions(api, namespace, names)
    facts = {n: await version_facts(api, body, v) for n, v in views.items()}
    window = analysis_due(spec, status, now)
    metrics_data, metrics_error = (None, None)
    warmup = None
    if (
        window is not None
        and facts.get(status.challenger or "")
        and facts[status.challenger or ""].ready
    ):
        metrics_data, metrics_error = await read_metrics(prometheus, spec, status, window)
        if metrics_data is not None:
            warmup = await read_warmup(prometheus, spec, status, window)
    evals = await eval_states(api, body, spec, status)
    obs = Observations(
        evals=evals,
        versions=facts,
        actions=manual_actions(body),
        admission=await admission(api, body, spec, status, views, rfc3339(now)),
        metrics=metrics_data,
        warmup=warmup,
        metrics_error=metrics_error,
        route_refused=await route_refusal(api, body, spec) if status.phase in ROUTED else None,
    )
    decision = decide(spec, status, obs, now, generation)

    side = SideWrites(f"Rollout {namespace}/{name}")
    await _act_children(api, body, decision, views, side)
    await _act_route(api, body, spec, decision, views)
    await _act_reservation(api, body, decision, views)
    await _act_evals(api, body, spec, decision, views, evals, eval_runner, side)
    parts = split(decision.status, stored.evidence, name)
    if parts.evidence is not None:
        # Before the status: a status never names evidence that was not stored.
        await save_evidence(api, body, stored, parts.evidence)
    decision.status = parts.status
    # Conditional on the resourceVersion read: a status written meanwhile (another writer, a
    # stale read) is a 409, and the handler re-reads and recomputes rather than overwrite it.
    written = await write_status(api, body, decision.status.to_wire(), precondition=True)
    # A version's usedBy and stage follow from the Rollouts' status (never written as a
    # memory): re-derive those whose use by this Rollout changed, now that it is stored.
    touched = set(decision.stage_updates) | changed_uses(
        name, body.get("status") or {}, decision.status.to_wire()
    )
    if touched:
        await side.attempt(
            f"updating the usedBy of ModelVersions {', '.join(sorted(touched))}",
            refresh_usage(api, namespace, touched),
        )
    _export(namespace, name, decision, status)
    return ReconcileResult(
        written, [*lost, *(Event(t, r, m) for t, r, m in decision.events), *side.events]
    )


class SideWrites:
    """Writes a reconcile goes on without (the next one redoes them): a failure is logged with
    what was being written, and one the user must fix (RBAC, a refused object) is also a
    Warning event. Only API errors are expected here; anything else fails the reconcile."""

    def __init__(self, who: str) -> None:
        self.who = who
        self.events: list[Event] = []

    async def attempt(self, what: str, write: Awaitable[Any], *, absent_ok: bool = False) -> None:
        try:
            await write
        except NotFound:
            if not absent_ok:
                self._failed(what, "404", "not found", None)
        except ApiError as e:
            self._failed(what, str(e.status), e.message, failure_of(e))

    def _failed(self, what: str, status: str, message: str, failure: ApiFailure | None) -> None:
        log.warning(
            "%s: %s failed (%s: %s); the next reconcile tries again",
            self.who,
            what,
            status,
            message,
        )
        if failure is not None:
            self.events.append(Event("Warning", failure.reason, f"{what}: {failure.message}"))


async def _act_children(
    api: KubeApi,
    rollout: dict[str, Any],
    decision: Decision,
    views: dict[str, VersionView],
    side: SideWrites,
) -> None:
    keep: set[str] = set()
    manifests: list[dict[str, Any]] = []
    for version, replicas in decision.children.items():
        view = views.get(version)
        ctx = view.context(rollout, replicas) if view else None
        if ctx is None:
            # Its ModelVersion is gone (or unreadable): nothing to rebuild it from, but what
            # runs it is kept, never deleted behind the user's back (the status says so).
            name = rollout["metadata"]["name"]
            keep.update({child_name(name, version), child_name(name, version, kserve=True)})
            continue
        for m in workload(ctx):
            keep.add(m["metadata"]["name"])
            manifests.append(m)
    await converge(api, manifests)
    meta = rollout["metadata"]
    for api_version, kind in CHILD_KINDS:
        # A kind the cluster does not serve (no KServe) has nothing to delete: absent_ok.
        await side.attempt(
            f"deleting {kind}s no version uses any more",
            delete_owned(
                api, api_version, kind, meta["namespace"], meta["uid"], keep,
                f"{ROLLOUT_LABEL}={meta['name']}",
            ),
            absent_ok=True,
        )  # fmt: skip


async def _act_route(
    api: KubeApi,
    rollout: dict[str, Any],
    spec: RolloutSpec,
    decision: Decision,
    views: dict[str, VersionView],
) -> None:
    t = decision.traffic

    async def backend(version: str | None) -> Backend | None:
        """The version's traffic Service as it exists now (None: it does not exist)."""
        view = views.get(version or "")
        ctx = view.context(rollout, 1) if view else None
        if ctx is None:
            return None
        name = service_name(ctx)
        live = await api.get(SERVICE, name, ctx.namespace)
        if live is None:
            return None
        if ctx.spec.serving.backend != ServingBackend.KSERVE:
            return Backend(name, ctx.spec.serving.port)  # our own Service: its port is ours
        # KServe makes the predictor Service itself: route to the port it really has.
        return Backend(name, service_port(ctx, live))

    meta = rollout["metadata"]
    owner = Owner(rollout["apiVersion"], rollout["kind"], meta["name"], meta["uid"])
    state = routable(
        TrafficState(
            await backend(t.champion),
            await backend(t.challenger),
            t.champion_weight,
            t.challenger_weight,
            t.mirror_percent,
        ),
        champion_expected=t.champion is not None,
    )
    if state is None:
        return  # the route stays as it was, the last one that worked; Degraded says why
    for manifest in provider_for(spec.endpoint).render(
        meta["name"], meta["namespace"], owner, spec.endpoint, state
    ):
        await api.ensure(manifest)


async def _act_reservation(
    api: KubeApi, rollout: dict[str, Any], decision: Decision, views: dict[str, VersionView]
) -> None:
    """Records the challenger's reservation in its pool and releases this rollout's others."""
    if decision.reserve is None:
        return
    meta = rollout["metadata"]
    key = f"{meta['namespace']}/{meta['name']}"
    target = decision.status.challenger
    view = views.get(target or "")
    pools = {v.pool_body["metadata"]["name"] for v in views.values() if v.pool_body is not None}
    spec = view.spec if view is not None else None
    target_pool = view.pool_body["metadata"]["name"] if view and view.pool_body else None
    for pool_name in sorted(pools):
        if decision.reserve and spec is not None and pool_name == target_pool:
            await record_reservation(
                api,
                pool_name,
                Reservation(
                    rollout=key,
                    model_version=target or "",
                    namespace=meta["namespace"],
                    gpus=decision.reserve,
                    replicas=spec.serving.replicas,
                    gpus_per_replica=spec.serving.gpus_per_replica,
                    mode="reserved",
                    since=decision.status.rollout_started_at,
                ),
            )
        else:
            await release_reservation(api, pool_name, key)


async def _judge_keys(api: KubeApi, suite: str, namespace: str) -> list[dict[str, Any]]:
    """The llm_judge API-key env of a suite's Job (an unreadable suite fails in the Job itself,
    where the error is reported per suite)."""
    obj = await api.get(resource_for("champion.dev/v1alpha1", "EvalSuite"), suite, namespace)
    try:
        return llm_judge_env(EvalSuiteSpec.model_validate((obj or {}).get("spec") or {}))
    except ValidationError:
        return []


async def _act_evals(
    api: KubeApi,
    rollout: dict[str, Any],
    spec: RolloutSpec,
    decision: Decision,
    views: dict[str, VersionView],
    evals: dict[str, Any],
    runner: EvalRunner,
    side: SideWrites,
) -> None:
    meta = rollout["metadata"]
    s = decision.status

    async def url(version: str | None) -> str | None:
        return await version_endpoint(api, rollout, views.get(version or ""))

    if decision.start_evals and s.challenger:
        await require_eval_service_account(api, meta["namespace"], runner)
        endpoint = await url(s.challenger)
        if endpoint is not None:
            gate = spec.strategy.eval_gate
            owner = Owner(rollout["apiVersion"], rollout["kind"], meta["name"], meta["uid"])
            for suite in decision.start_evals:
                await api.ensure(
                    eval_job(
                        namespace=meta["namespace"], rollout=meta["name"], suite=suite, version=s.challenger,
                        endpoint=endpoint, baseline_endpoint=await url(s.champion), runner=runner,
                        timeout_seconds=gate.timeout_seconds if gate else 1800, owner=owner,
                        env=await _judge_keys(api, suite, meta["namespace"]),
                        model=served_model(rollout, views.get(s.challenger)),
                        baseline_model=served_model(rollout, views.get(s.champion or "")),
                    )
                )  # fmt: skip
    # Results go where users look: the suite's status, the version's record, the metrics.
    target = s.challenger or s.champion
    for suite, state in evals.items():
        if state.status not in ("passed", "failed") or target is None:
            continue
        es = resource_for("champion.dev/v1alpha1", "EvalSuite")
        stamp = s.phase_started_at
        await side.attempt(
            f"writing EvalSuite {suite}'s status",
            api.patch(
                es,
                suite,
                {
                    "status": {
                        "lastRunAt": stamp,
                        "modelVersion": target,
                        "score": state.score,
                        "passed": state.status == "passed",
                        "failingCases": list(state.failing_cases[:50]),
                    }
                },
                meta["namespace"],
                subresource="status",
            ),
        )
        mv = await api.get(MV, target, meta["namespace"])
        if mv is not None:
            results = [
                r
                for r in (mv.get("status") or {}).get("evalResults", [])
                if r.get("suite") != suite
            ]
            results.append(
                {
                    "suite": suite,
                    "score": state.score or 0.0,
                    "passed": state.status == "passed",
                    "time": stamp,
                    "message": state.message[:500],
                }
            )
            await side.attempt(
                f"writing ModelVersion {target}'s evalResults",
                api.patch(
                    MV,
                    target,
                    {"status": {"evalResults": results[-32:]}},
                    meta["namespace"],
                    subresource="status",
                ),
            )
        if state.score is not None:
            operator_metrics.EVAL_SCORE.labels(meta["namespace"], suite, target, "all").set(
                state.score
            )


def _export(namespace: str, name: str, decision: Decision, before: RolloutStatus) -> None:
    s = decision.status
    operator_metrics.record_rollout(
        namespace, name, str(s.phase) if s.phase else None, s.weights.champion, s.weights.challenger
    )
    operator_metrics.INCONCLUSIVE.labels(namespace, name).set(s.inconclusive_count)
    if decision.verdict_decision is not None:
        operator_metrics.VERDICTS.labels(
            namespace, name, decision.verdict_decision, decision.verdict_reason or ""
        ).inc()
    if decision.finished:
        from champion.domain.conditions import parse_time

        started = parse_time(before.rollout_started_at)
        ended = parse_time(s.phase_started_at)
        if started and ended:
            operator_metrics.ROLLOUT_DURATION.labels(namespace, decision.finished).observe(
                (ended - started).total_seconds()
            )
