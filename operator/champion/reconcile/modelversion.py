"""ModelVersion: validate references, compute the fingerprint, flag duplicates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from champion.adapters.kube import KubeApi, resource_for
from champion.api.v1alpha1 import reasons
from champion.api.v1alpha1.common import Condition, ConditionType
from champion.api.v1alpha1.modelversion import ModelVersionSpec, ModelVersionStatus, Stage
from champion.domain.conditions import set_condition
from champion.domain.fingerprint import fingerprint
from champion.reconcile.references import configmap_key
from champion.reconcile.spec_validity import parse_spec
from champion.reconcile.status import Event, ReconcileResult, write_status

MV = resource_for("champion.dev/v1alpha1", "ModelVersion")
POOL = resource_for("champion.dev/v1alpha1", "GPUPool")


async def check_references(
    api: KubeApi, spec: ModelVersionSpec, namespace: str
) -> tuple[list[tuple[str, str]], str | None]:
    """Broken references as (reason, message naming the field), and the system prompt's text."""
    problems: list[tuple[str, str]] = []
    prompt: str | None = None
    if spec.serving.gpu_pool and await api.get(POOL, spec.serving.gpu_pool) is None:
        problems.append(
            (
                reasons.POOL_NOT_FOUND,
                f'spec.serving.gpuPool: GPUPool "{spec.serving.gpu_pool}" does not exist; create it or name an existing pool',
            )
        )
    ref = spec.policy.system_prompt
    if ref is not None:
        prompt, problem = await configmap_key(
            api,
            namespace,
            ref,
            "spec.policy.systemPrompt",
            reasons.CONFIGMAP_NOT_FOUND,
            reasons.CONFIGMAP_KEY_NOT_FOUND,
        )
        if problem is not None:
            problems.append(problem)
    base = spec.lineage.base_model
    if (
        base is not None
        and base.model_version
        and await api.get(MV, base.model_version, namespace) is None
    ):
        problems.append(
            (
                reasons.BASE_MODEL_NOT_FOUND,
                f'spec.lineage.baseModel.modelVersion: ModelVersion "{base.model_version}" not found in namespace {namespace}',
            )
        )
    return problems, prompt


async def reconcile_modelversion(
    api: KubeApi, body: dict[str, Any], now: datetime
) -> ReconcileResult:
    meta = body["metadata"]
    namespace, generation = meta["namespace"], meta.get("generation")
    status = ModelVersionStatus.model_validate(body.get("status") or {})
    conditions: list[Condition] = list(status.conditions)
    spec, error = parse_spec(ModelVersionSpec, body)
    events: list[Event] = []
    if spec is None:
        conditions = set_condition(
            conditions,
            ConditionType.VALID,
            False,
            reasons.INVALID_SPEC,
            f"fix the spec: {error}",
            now,
            generation,
        )
    else:
        problems, prompt = await check_references(api, spec, namespace)
        if problems:
            reason = problems[0][0]
            message = "; ".join(m for _, m in problems)
            conditions = set_condition(
                conditions, ConditionType.VALID, False, reason, message, now, generation
            )
        else:
            pin = (
                ""
                if spec.model.digest
                else " (unpinned: spec.model.digest is not set; it cannot become champion unless the Rollout allows unpinned artifacts)"
            )
            conditions = set_condition(
                conditions,
                ConditionType.VALID,
                True,
                reasons.VALID,
                f"spec and references are valid{pin}",
                now,
                generation,
            )
        status.fingerprint = fingerprint(spec, prompt)
        status.pinned = spec.model.digest is not None
        others = [
            o["metadata"]["name"]
            for o in await api.list(MV, namespace)
            if o["metadata"]["name"] != meta["name"]
            and (o.get("status") or {}).get("fingerprint") == status.fingerprint
        ]
        status.duplicates = sorted(others)
        if others:
            conditions = set_condition(
                conditions,
                ConditionType.DUPLICATE,
                True,
                reasons.DUPLICATE_FINGERPRINT,
                f"same fingerprint as {', '.join(sorted(others))}: this version changes nothing that decides behaviour",
                now,
                generation,
            )
        else:
            conditions = set_condition(
                conditions,
                ConditionType.DUPLICATE,
                False,
                reasons.UNIQUE_FINGERPRINT,
                "no other ModelVersion has this fingerprint",
                now,
                generation,
            )
        status.conditions = conditions
        await _placement(api, spec, status, now, generation)
        conditions = status.conditions
    status.stage = status.stage or Stage.REGISTERED
    status.conditions = conditions
    status.observed_generation = generation
    new = status.to_wire()
    written = await write_status(api, body, new, precondition=True)
    valid = next((c for c in conditions if c.type == ConditionType.VALID), None)
    if written and valid is not None and valid.status == "False":
        events.append(Event("Warning", valid.reason, valid.message))
    return ReconcileResult(status_written=written, events=events)


async def _placement(
    api: KubeApi,
    spec: ModelVersionSpec,
    status: ModelVersionStatus,
    now: datetime,
    generation: int | None,
) -> None:
    """Records the pool's shape at placement; later changes to it raise a condition, never a silent eviction."""
    from champion.api.v1alpha1.gpupool import GPUPoolSpec
    from champion.api.v1alpha1.modelversion import Placement
    from champion.domain.placement import placement_drift, toleration_strings

    name = spec.serving.gpu_pool
    if not name:
        return
    pool = await api.get(POOL, name)
    if pool is None:
        return
    try:
        pool_spec = GPUPoolSpec.model_validate(pool.get("spec") or {})
    except ValueError:
        return
    if status.placement is None or status.placement.pool != name:
        status.placement = Placement(pool=name, gpus=spec.serving.gpus_per_replica * spec.serving.replicas, gpu_resource=pool_spec.gpu_resource,
                                     node_selector=dict(pool_spec.node_selector), tolerations=toleration_strings(pool_spec))  # fmt: skip
    changes = placement_drift(
        status.placement.node_selector,
        status.placement.gpu_resource,
        status.placement.tolerations,
        pool_spec,
    )
    if changes:
        message = f'GPUPool "{name}" changed since this version was placed ({"; ".join(changes)}): running replicas are not evicted, new ones may not schedule where they did; roll out again to re-place'
        status.conditions = set_condition(
            status.conditions,
            ConditionType.PLACEMENT,
            False,
            reasons.POOL_CHANGED,
            message,
            now,
            generation,
        )
    else:
        status.conditions = set_condition(
            status.conditions,
            ConditionType.PLACEMENT,
            True,
            reasons.PLACED,
            f'placed on GPUPool "{name}" ({pool_spec.gpu_resource})',
            now,
            generation,
        )
