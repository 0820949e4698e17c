"""ModelVersion: validate references, compute the fingerprint, flag duplicates, report
placement, and say who serves it (`usedBy`, and the `stage` derived from it).

One call computes the whole status and patches /status once, only when it
changed, with the resourceVersion it read as a precondition (a Rollout writes
`evalResults` on the same status, and refreshes `usedBy` and `stage` when what it
serves changes: `refresh_usage`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from champion.adapters.kube import Conflict, KubeApi, resource_for
from champion.api.v1alpha1 import reasons
from champion.api.v1alpha1.common import ConditionStatus, ConditionType
from champion.api.v1alpha1.gpupool import GPUPoolSpec, GPUPoolStatus
from champion.api.v1alpha1.labels import ROLLOUT_LABEL, VERSION_LABEL, short_fingerprint
from champion.api.v1alpha1.modelversion import (
    ModelVersionSpec,
    ModelVersionStatus,
    Placement,
    Stage,
    VersionUse,
)
from champion.domain.conditions import rfc3339, set_condition
from champion.domain.fingerprint import content_hash, fingerprint, policy_hash
from champion.domain.placement import (
    Request,
    admit,
    placement_drift,
    placement_snapshot,
    pod_gpus,
    pool_state,
)
from champion.domain.usage import Usage, derive_usage
from champion.reconcile.references import configmap_key
from champion.reconcile.spec_validity import parse_spec
from champion.reconcile.status import Event, ReconcileResult, write_status

MV = resource_for("champion.dev/v1alpha1", "ModelVersion")
RO = resource_for("champion.dev/v1alpha1", "Rollout")
POOL = resource_for("champion.dev/v1alpha1", "GPUPool")
NODE = resource_for("v1", "Node")
POD = resource_for("v1", "Pod")

# Condition (type, status) pairs worth a Warning event when a reconcile enters them.
_WARN = {
    (ConditionType.VALID, ConditionStatus.FALSE),
    (ConditionType.DUPLICATE, ConditionStatus.TRUE),
    (ConditionType.PLACEMENT, ConditionStatus.FALSE),
    (ConditionType.PINNED, ConditionStatus.FALSE),
}
NOT_PLANNED = (Stage.RETIRED, Stage.ROLLED_BACK)

SetCondition = Callable[[str, bool, str, str], None]


@dataclass
class References:
    """What the spec's references resolved to."""

    problems: list[tuple[str, str]] = field(default_factory=list)
    """(reason, message naming the field and the fix) per broken reference."""
    prompt: str | None = None
    prompt_resolved: bool = True
    """False when spec.policy.systemPrompt names a ConfigMap or key that is missing."""
    pool: dict[str, Any] | None = None


async def check_references(api: KubeApi, spec: ModelVersionSpec, namespace: str) -> References:
    """Resolves the pool, the system prompt and the base model, naming each broken field."""
    out = References()
    if spec.serving.gpu_pool:
        out.pool = await api.get(POOL, spec.serving.gpu_pool)
        if out.pool is None:
            out.problems.append(
                (
                    reasons.POOL_NOT_FOUND,
                    f'spec.serving.gpuPool: GPUPool "{spec.serving.gpu_pool}" does not exist; create it or name an existing pool',
                )
            )
    ref = spec.policy.system_prompt
    if ref is not None:
        out.prompt, problem = await configmap_key(
            api,
            namespace,
            ref,
            "spec.policy.systemPrompt",
            reasons.CONFIGMAP_NOT_FOUND,
            reasons.CONFIGMAP_KEY_NOT_FOUND,
        )
        if problem is not None:
            out.problems.append(problem)
            out.prompt_resolved = False
    base = spec.lineage.base_model
    if (
        base is not None
        and base.model_version
        and await api.get(MV, base.model_version, namespace) is None
    ):
        out.problems.append(
            (
                reasons.BASE_MODEL_NOT_FOUND,
                f'spec.lineage.baseModel.modelVersion: ModelVersion "{base.model_version}" not found in namespace {namespace}; create it or use baseModel.external',
            )
        )
    return out


def parse_status(raw: dict[str, Any] | None) -> ModelVersionStatus:
    """The stored status; a placement written by an older operator is dropped, not fatal."""
    raw = raw or {}
    try:
        return ModelVersionStatus.model_validate(raw)
    except ValidationError:
        return ModelVersionStatus.model_validate({k: v for k, v in raw.items() if k != "placement"})


async def reconcile_modelversion(
    api: KubeApi, body: dict[str, Any], now: datetime
) -> ReconcileResult:
    """Validates, fingerprints and places one ModelVersion; one status patch when anything changed.

    Returns the events for the handler to post (Warning when a condition turns
    bad: Valid=False, Duplicate=True, Placement=False, Pinned=False).
    """
    meta = body["metadata"]
    for _ in range(2):
        try:
            return await _reconcile(api, body, now)
        except Conflict:
            # Someone wrote the object since it was read (a Rollout setting the stage): start over.
            fresh = await api.get(MV, meta["name"], meta["namespace"])
            if fresh is None:
                return ReconcileResult()
            body = fresh
    return await _reconcile(api, body, now)


async def _reconcile(api: KubeApi, body: dict[str, Any], now: datetime) -> ReconcileResult:
    meta = body["metadata"]
    namespace, name, generation = meta["namespace"], meta["name"], meta.get("generation")
    status = parse_status(body.get("status"))
    before = {c.type: c.status for c in status.conditions}
    spec, error = parse_spec(ModelVersionSpec, body)

    def condition(type_: str, ok: bool, reason: str, message: str) -> None:
        status.conditions = set_condition(
            status.conditions, type_, ok, reason, message, now, generation
        )

    # Who serves it, from the Rollouts' status: one list per reconcile.
    _apply_usage(status, derive_usage(name, await api.list(RO, namespace), status.stage))

    if spec is None:
        condition(ConditionType.VALID, False, reasons.INVALID_SPEC, f"fix the spec: {error}")
    else:
        refs = await check_references(api, spec, namespace)
        problems = list(refs.problems)
        if refs.prompt_resolved:
            prompt_hash = content_hash(refs.prompt) if refs.prompt is not None else None
            registered = status.system_prompt_hash
            if spec.policy.system_prompt is not None and registered and registered != prompt_hash:
                ref = spec.policy.system_prompt
                problems.append(
                    (
                        reasons.SYSTEM_PROMPT_CHANGED,
                        f'spec.policy.systemPrompt: the text of ConfigMap "{ref.name}" key "{ref.key}" changed since this version was registered ({registered} -> {prompt_hash}); a ModelVersion is immutable: restore the text, or create a new ModelVersion for the new prompt',
                    )
                )
            else:
                status.system_prompt_hash = prompt_hash
                status.fingerprint = fingerprint(spec, refs.prompt)
                status.fingerprint_short = short_fingerprint(status.fingerprint)
                status.policy_hash = policy_hash(spec, refs.prompt)
        if problems:
            condition(ConditionType.VALID, False, problems[0][0], "; ".join(m for _, m in problems))
        else:
            condition(ConditionType.VALID, True, reasons.VALID, "spec and references are valid")
        status.pinned = spec.model.digest is not None
        if status.pinned:
            condition(ConditionType.PINNED, True, reasons.PINNED, f"artifact {spec.model.digest}")
        else:
            condition(
                ConditionType.PINNED,
                False,
                reasons.UNPINNED_ARTIFACT,
                "spec.model.digest is not set: this version cannot become champion unless its Rollout sets spec.strategy.allowUnpinnedArtifacts",
            )
        await _duplicates(api, status, namespace, name, condition)
        await _placement(api, spec, refs.pool, status, namespace, name, now, condition)
    status.observed_generation = generation
    written = await write_status(api, body, status.to_wire(), precondition=True)
    events: list[Event] = []
    if written:
        for c in status.conditions:
            if before.get(c.type) == c.status:
                continue
            if (c.type, c.status) in _WARN:
                events.append(Event("Warning", c.reason, c.message))
            elif c.type == ConditionType.VALID and before.get(c.type) is not None:
                events.append(Event("Normal", c.reason, c.message))
    return ReconcileResult(status_written=written, events=events)


def _apply_usage(status: ModelVersionStatus, usage: Usage) -> None:
    status.used_by = [VersionUse.model_validate(u.to_wire()) for u in usage.used_by]
    status.used_by_summary = usage.summary
    status.stage = usage.stage


async def refresh_usage(api: KubeApi, namespace: str, versions: Iterable[str]) -> None:
    """Re-derives `usedBy` and `stage` of `versions` from the namespace's Rollouts.

    Called by the Rollout reconciler after it wrote a status that changes what these
    versions serve, so `kubectl get modelversions` follows the route at once rather than
    at the next ModelVersion tick. Each version is read before the Rollouts are listed and
    written with the resourceVersion it was read at: a write that raced another (a second
    Rollout's refresh, the ModelVersion reconcile) conflicts and is recomputed, so the last
    write always saw the last Rollout status.
    """
    pending = sorted(set(versions))
    for _ in range(3):
        if not pending:
            return
        bodies = [b for v in pending if (b := await api.get(MV, v, namespace)) is not None]
        if not bodies:
            return
        rollouts = await api.list(RO, namespace)
        pending = []
        for body in bodies:
            current = body.get("status") or {}
            status = parse_status(current)
            _apply_usage(status, derive_usage(body["metadata"]["name"], rollouts, status.stage))
            wire = status.to_wire()
            new = {**current, **{k: wire.get(k) for k in ("stage", "usedBy", "usedBySummary")}}
            try:
                await write_status(api, body, new, precondition=True)
            except Conflict:
                pending.append(body["metadata"]["name"])


async def _duplicates(
    api: KubeApi, status: ModelVersionStatus, namespace: str, name: str, condition: SetCondition
) -> None:
    if status.fingerprint is None:
        return
    others = sorted(
        o["metadata"]["name"]
        for o in await api.list(MV, namespace)
        if o["metadata"]["name"] != name
        and (o.get("status") or {}).get("fingerprint") == status.fingerprint
    )
    status.duplicates = others
    if others:
        condition(
            ConditionType.DUPLICATE,
            True,
            reasons.DUPLICATE_FINGERPRINT,
            f"same fingerprint as {', '.join(others)}: this version changes nothing that decides behaviour (artifact digest, system prompt text, guardrails, runtime image, args and env)",
        )
    else:
        condition(
            ConditionType.DUPLICATE,
            False,
            reasons.UNIQUE_FINGERPRINT,
            "no other ModelVersion in this namespace has this fingerprint",
        )


async def _placement(
    api: KubeApi,
    spec: ModelVersionSpec,
    pool_body: dict[str, Any] | None,
    status: ModelVersionStatus,
    namespace: str,
    name: str,
    now: datetime,
    condition: SetCondition,
) -> None:
    """Where the version runs; a pool changed under it is reported, never acted on.

    Running (its pods exist): remember the pool's shape from when it started and
    compare the pool against it. Not running and still planned: would it fit now?
    """
    pods = [
        p
        for p in await api.list(POD, namespace, label_selector=f"{VERSION_LABEL}={name}")
        if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    ]
    pool_name = spec.serving.gpu_pool
    pool_spec: GPUPoolSpec | None = None
    if pool_body is not None:
        try:
            pool_spec = GPUPoolSpec.model_validate(pool_body.get("spec") or {})
        except ValidationError:
            pool_spec = None
    gpus = spec.serving.gpus_per_replica
    if gpus == 0 or pool_name is None:
        status.placement = _running(status, pods, None, None, now) if pods else None
        condition(
            ConditionType.PLACEMENT,
            True,
            reasons.NO_GPUS,
            "no GPUs requested (spec.serving.gpusPerReplica is 0)"
            if gpus == 0
            else "no GPU pool named",
        )
        return
    if pool_spec is None:
        status.placement = _running(status, pods, None, None, now) if pods else None
        condition(
            ConditionType.PLACEMENT,
            False,
            reasons.POOL_NOT_FOUND,
            f'GPUPool "{pool_name}" does not exist (or its spec does not parse): nothing can be placed',
        )
        return
    if pods:
        status.placement = _running(status, pods, pool_name, pool_spec, now)
        changes = placement_drift(status.placement, pool_spec)
        where = f'{status.placement.replicas} replica(s) on GPUPool "{pool_name}" ({status.placement.gpus} {status.placement.gpu_resource} on {", ".join(status.placement.nodes) or "no node yet"})'
        if changes:
            condition(
                ConditionType.PLACEMENT,
                False,
                reasons.POOL_CHANGED,
                f'GPUPool "{pool_name}" changed since this version started running on it ({"; ".join(changes)}): its {where} are not evicted; new replicas may not schedule where these did; roll out again to re-place',
            )
        else:
            condition(ConditionType.PLACEMENT, True, reasons.PLACED, f"running: {where}")
        return
    status.placement = None
    if status.stage in NOT_PLANNED:
        status.conditions = [c for c in status.conditions if c.type != ConditionType.PLACEMENT]
        return
    pool_status = GPUPoolStatus.model_validate(pool_body.get("status") or {}) if pool_body else None
    reservations = pool_status.reservations if pool_status else []
    own = next(
        (r for r in reservations if r.namespace == namespace and r.model_version == name), None
    )
    state = pool_state(
        pool_name, pool_spec, await api.list(NODE), await api.list(POD), reservations
    )
    request = Request(
        rollout=own.rollout if own else "",
        namespace=namespace,
        model_version=name,
        replicas=spec.serving.replicas,
        gpus_per_replica=gpus,
    )
    answer = admit(state, request, rfc3339(now))
    if answer.fits:
        condition(
            ConditionType.PLACEMENT,
            True,
            reasons.FITS,
            f'not running; GPUPool "{pool_name}" has {answer.free} free {pool_spec.gpu_resource}, enough for {spec.serving.replicas} replicas x {gpus}'
            + (f" (reserved by Rollout {own.rollout})" if own else ""),
        )
    else:
        condition(ConditionType.PLACEMENT, False, answer.reason, f"not running; {answer.message}")


def _running(
    status: ModelVersionStatus,
    pods: list[dict[str, Any]],
    pool_name: str | None,
    pool_spec: GPUPoolSpec | None,
    now: datetime,
) -> Placement:
    base = (
        placement_snapshot(pool_name, pool_spec, status.placement, rfc3339(now))
        if pool_name and pool_spec
        else status.placement
        if status.placement is not None and status.placement.since
        else Placement(since=rfc3339(now))
    )
    resource = base.gpu_resource
    rollouts = sorted({(p["metadata"].get("labels") or {}).get(ROLLOUT_LABEL) or "" for p in pods})
    return base.model_copy(
        update={
            "replicas": len(pods),
            "gpus": sum(pod_gpus(p, resource) for p in pods) if resource else 0,
            "nodes": sorted({n for p in pods if (n := (p.get("spec") or {}).get("nodeName"))}),
            "rollout": next((r for r in rollouts if r), None),
        }
    )
