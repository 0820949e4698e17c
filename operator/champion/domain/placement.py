"""GPU accounting and admission: pure functions over a pool's nodes, pods and reservations.

The counting follows the scheduler's rules:
- a node counts (is *ready*) when its Ready condition is True, it is not cordoned
  (`spec.unschedulable`), and the pool tolerates each of its NoSchedule/NoExecute taints;
- a pod holds GPUs when it is bound (`spec.nodeName`) and not Succeeded/Failed; what it
  holds is its effective request: max(sum over containers and sidecars, the largest
  init-container step), a limit standing in for a missing request (extended
  resources have requests == limits);
- a replica needs all of its GPUs on one node.

Reservations are what admitted rollouts will still need: GPUs their pods already
hold are not counted twice.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from champion.api.v1alpha1 import reasons
from champion.api.v1alpha1.gpupool import GPUPoolSpec, Reservation, Toleration
from champion.api.v1alpha1.labels import ROLLOUT_LABEL, VERSION_LABEL
from champion.api.v1alpha1.modelversion import Placement

_SUFFIX: dict[str, Decimal] = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
}


def quantity(value: Any) -> int:
    """A resource quantity as a whole count (`"8"`, `8`, `"8000m"`); 0 when it does not parse."""
    if value is None:
        return 0
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)([A-Za-z]*)\s*", str(value))
    if m is None or m.group(2) not in _SUFFIX:
        return 0
    try:
        return int(Decimal(m.group(1)) * _SUFFIX[m.group(2)])
    except InvalidOperation:
        return 0


def pod_gpus(pod: dict[str, Any], resource: str) -> int:
    """The pod's effective request of `resource`, as the scheduler counts it."""
    spec = pod.get("spec") or {}

    def request(container: dict[str, Any]) -> int:
        res = container.get("resources") or {}
        value = (res.get("requests") or {}).get(resource)
        if value is None:
            value = (res.get("limits") or {}).get(resource)
        return quantity(value)

    app = sum(request(c) for c in spec.get("containers") or [])
    sidecars = 0  # init containers with restartPolicy Always keep running next to the app
    peak_init = 0
    for c in spec.get("initContainers") or []:
        if c.get("restartPolicy") == "Always":
            sidecars += request(c)
            peak_init = max(peak_init, sidecars)
        else:
            peak_init = max(peak_init, sidecars + request(c))
    return max(app + sidecars, peak_init)


@dataclass(frozen=True)
class NodeState:
    name: str
    allocatable: int
    allocated: int
    schedulable: bool
    reason: str = ""
    """Why the node does not count (cordoned, NotReady, an untolerated taint); empty when it does."""

    @property
    def free(self) -> int:
        return max(0, self.allocatable - self.allocated) if self.schedulable else 0


@dataclass(frozen=True)
class PodUse:
    """A bound, non-terminated pod holding the pool's GPUs."""

    name: str
    namespace: str
    node: str
    gpus: int
    rollout: str | None = None
    version: str | None = None


def _rollout_name(key: str) -> str:
    return key.split("/", 1)[-1]


@dataclass
class PoolState:
    name: str
    resource: str
    nodes: list[NodeState]
    reservations: list[Reservation] = field(default_factory=list)
    usage_by_namespace: dict[str, int] = field(default_factory=dict)
    quotas: dict[str, int] = field(default_factory=dict)
    pods: list[PodUse] = field(default_factory=list)

    @property
    def capacity(self) -> int:
        return sum(n.allocatable for n in self.nodes)

    @property
    def allocatable(self) -> int:
        return sum(n.allocatable for n in self.nodes if n.schedulable)

    @property
    def allocated(self) -> int:
        return sum(n.allocated for n in self.nodes)

    @property
    def ready_nodes(self) -> int:
        return sum(1 for n in self.nodes if n.schedulable)

    def pods_of(self, namespace: str, rollout: str, version: str | None) -> list[PodUse]:
        """Pods of a rollout's version (`rollout` is the Rollout's name or namespace/name)."""
        name = _rollout_name(rollout)
        return [
            p
            for p in self.pods
            if p.namespace == namespace
            and p.rollout == name
            and (version is None or p.version == version)
        ]

    def outstanding(self, r: Reservation) -> int:
        """What a reservation still holds back: its GPUs minus those its pods already hold."""
        held = sum(p.gpus for p in self.pods_of(r.namespace, r.rollout, r.model_version))
        return max(0, r.gpus - held)

    def reserved(self, excluding_rollout: str | None = None) -> int:
        return sum(self.outstanding(r) for r in self.reservations if r.rollout != excluding_rollout)

    def reserved_in(self, namespace: str, excluding_rollout: str | None = None) -> int:
        return sum(
            self.outstanding(r)
            for r in self.reservations
            if r.namespace == namespace and r.rollout != excluding_rollout
        )

    def free(self, excluding_rollout: str | None = None) -> int:
        return max(0, sum(n.free for n in self.nodes) - self.reserved(excluding_rollout))


def tolerates(taint: dict[str, Any], tolerations: list[Toleration]) -> bool:
    """core/v1 toleration matching: empty key + Exists matches every taint; empty effect every effect."""
    for t in tolerations:
        if t.effect and t.effect != taint.get("effect"):
            continue
        if t.operator == "Exists" and (not t.key or t.key == taint.get("key")):
            return True
        if (
            t.operator == "Equal"
            and t.key == taint.get("key")
            and (t.value or "") == (taint.get("value") or "")
        ):
            return True
    return False


def node_in_pool(node: dict[str, Any], spec: GPUPoolSpec) -> bool:
    labels = (node.get("metadata") or {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in spec.node_selector.items())


def _node_unusable(node: dict[str, Any], spec: GPUPoolSpec) -> str:
    status = node.get("status") or {}
    if (node.get("spec") or {}).get("unschedulable"):
        return "cordoned"
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    if not ready:
        return "NotReady"
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(
            taint, spec.tolerations
        ):
            value = f"={taint['value']}" if taint.get("value") else ""
            return f"taint {taint.get('key')}{value}:{taint.get('effect')} not tolerated"
    return ""


def pool_state(
    name: str,
    spec: GPUPoolSpec,
    nodes: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    reservations: list[Reservation],
) -> PoolState:
    """The pool as the scheduler sees it: its nodes, the GPUs pods hold on them, reservations."""
    members = [n for n in nodes if node_in_pool(n, spec)]
    member_names = {n["metadata"]["name"] for n in members}
    uses: list[PodUse] = []
    for pod in pods:
        node = str((pod.get("spec") or {}).get("nodeName") or "")
        phase = (pod.get("status") or {}).get("phase")
        if node not in member_names or phase in ("Succeeded", "Failed"):
            continue
        gpus = pod_gpus(pod, spec.gpu_resource)
        if gpus <= 0:
            continue
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        uses.append(
            PodUse(
                name=meta.get("name", ""),
                namespace=meta.get("namespace", ""),
                node=node,
                gpus=gpus,
                rollout=labels.get(ROLLOUT_LABEL),
                version=labels.get(VERSION_LABEL),
            )
        )
    per_node: dict[str, int] = {}
    per_ns: dict[str, int] = {}
    for u in uses:
        per_node[u.node] = per_node.get(u.node, 0) + u.gpus
        per_ns[u.namespace] = per_ns.get(u.namespace, 0) + u.gpus
    states = []
    for n in sorted(members, key=lambda n: n["metadata"]["name"]):
        reason = _node_unusable(n, spec)
        node_name = n["metadata"]["name"]
        states.append(
            NodeState(
                name=node_name,
                allocatable=quantity(((n.get("status") or {}).get("allocatable") or {}).get(spec.gpu_resource)),
                allocated=per_node.get(node_name, 0),
                schedulable=not reason,
                reason=reason,
            )
        )  # fmt: skip
    return PoolState(
        name=name,
        resource=spec.gpu_resource,
        nodes=states,
        reservations=list(reservations),
        usage_by_namespace=per_ns,
        quotas={q.namespace: q.gpus for q in spec.quotas},
        pods=uses,
    )


@dataclass(frozen=True)
class Request:
    """N replicas x G GPUs for one version; in swap mode the champion makes room first."""

    rollout: str
    """namespace/name of the Rollout; empty for "would this version fit now" checks."""
    namespace: str
    model_version: str
    replicas: int
    gpus_per_replica: int
    mode: str = "surge"
    champion_replicas: int = 0
    """The champion's current replicas (swap mode)."""
    champion_version: str | None = None
    """The champion's ModelVersion: its pods are found on their nodes (swap mode). Unknown: each
    freed replica is counted as a node of its own."""
    champion_gpus_per_replica: int | None = None
    """The champion's GPUs per replica; None means the same as the challenger's."""
    champion_keeps: int = 1
    """Swap never scales the champion below this many replicas (it keeps serving meanwhile)."""


@dataclass(frozen=True)
class Admission:
    fits: bool
    message: str
    reservation: Reservation | None = None
    reason: str = ""
    """PLACED / NO_GPUS when it fits; DOES_NOT_FIT or QUOTA_EXCEEDED when not (reasons.py)."""
    free: int = 0
    """Free GPUs for this request (other rollouts' reservations taken out, swap frees not added)."""
    short: int = 0
    """GPUs missing in total (0 when the total is enough but no node has room for a replica)."""


def _pack(bins: list[int], items: list[int]) -> int:
    """First-fit decreasing: how many items find a bin with room; `bins` is updated in place."""
    order = sorted(range(len(bins)), key=lambda i: -bins[i])
    placed = 0
    for size in sorted(items, reverse=True):
        for i in order:
            if bins[i] >= size:
                bins[i] -= size
                placed += 1
                break
    return placed


def _take(bins: list[int], gpus: int) -> None:
    """Takes GPUs that cannot be placed per replica from the largest bins (the pessimistic choice)."""
    for i in sorted(range(len(bins)), key=lambda i: -bins[i]):
        step = min(bins[i], gpus)
        bins[i] -= step
        gpus -= step
        if gpus == 0:
            return


def admit(pool: PoolState, req: Request, since: str) -> Admission:
    """Does the request fit the pool now, and if not, why (naming the pool, the shortfall, the free count)?

    Other rollouts' reservations are placed first (per replica when their shape
    is recorded); in swap mode the champion's freed replicas make room on their
    own nodes; then the request's replicas are packed first-fit decreasing, each
    needing `gpus_per_replica` on one node.
    """
    g, need = req.gpus_per_replica, req.replicas * req.gpus_per_replica
    res = pool.resource
    subject = "the challenger" if req.rollout else f'ModelVersion "{req.model_version}"'
    shape = f"{req.replicas} replicas x {g}"
    if need == 0:
        return Admission(True, "no GPUs requested", None, reasons.NO_GPUS)
    reservation = Reservation(
        rollout=req.rollout,
        model_version=req.model_version,
        namespace=req.namespace,
        gpus=need,
        replicas=req.replicas,
        gpus_per_replica=g,
        mode=req.mode,
        since=since,
    )
    free = pool.free(excluding_rollout=req.rollout)
    names = [n.name for n in pool.nodes if n.schedulable]
    bins = [n.free for n in pool.nodes if n.schedulable]
    # The request's own pods (asked again once they run) hold room it already has: without this
    # a challenger that exactly fills the pool stops fitting as soon as its pods are bound.
    own = pool.pods_of(req.namespace, req.rollout, req.model_version) if req.rollout else []
    at = {name: i for i, name in enumerate(names)}
    for p in own:
        if p.node in at:
            bins[at[p.node]] += p.gpus
            free += p.gpus

    # Other rollouts' reservations first: they were admitted before this request.
    for r in pool.reservations:
        if r.rollout == req.rollout or (left := pool.outstanding(r)) == 0:
            continue
        if r.gpus_per_replica:
            items = [r.gpus_per_replica] * math.ceil(left / r.gpus_per_replica)
            unplaced = len(items) - _pack(bins, items)
            _take(bins, unplaced * r.gpus_per_replica)
        else:
            _take(bins, left)

    freed = 0
    if req.mode == "swap" and req.rollout:
        cg = req.champion_gpus_per_replica or g
        giving = min(req.replicas, max(0, req.champion_replicas - req.champion_keeps))
        champion_pods = (
            pool.pods_of(req.namespace, req.rollout, req.champion_version)
            if req.champion_version
            else []
        )
        # Freed GPUs join what is already free on the same node: free pods on the emptiest nodes first.
        index = {name: i for i, name in enumerate(names)}
        champion_pods.sort(
            key=lambda p: (-(bins[index[p.node]] if p.node in index else -1), p.name)
        )
        chosen = champion_pods[:giving]
        for p in chosen:
            if p.node in index:  # GPUs freed on a cordoned or tainted node help nobody
                bins[index[p.node]] += p.gpus
                freed += p.gpus
        unlocated = giving - len(chosen)
        bins.extend([cg] * unlocated)
        freed += cg * unlocated

    quota = pool.quotas.get(req.namespace)
    if quota is not None:
        used = pool.usage_by_namespace.get(req.namespace, 0) - sum(p.gpus for p in own)
        used += pool.reserved_in(req.namespace, excluding_rollout=req.rollout)
        growth = max(0, need - freed)
        if used + growth > quota:
            return Admission(
                False,
                f'GPUPool "{pool.name}" quota for namespace {req.namespace} is {quota} {res}; '
                f"{used} in use or reserved, {subject} needs {growth} more ({shape}): "
                f"over by {used + growth - quota}",
                None,
                reasons.QUOTA_EXCEEDED,
                free,
                used + growth - quota,
            )

    swap_note = f" (+{freed} the champion gives up in swap mode)" if freed else ""
    largest = max(bins, default=0)
    placed = _pack(bins, [g] * req.replicas)
    if placed == req.replicas:
        holder = req.rollout or req.model_version
        return Admission(
            True,
            f'GPUPool "{pool.name}" has {free} free {res}{swap_note}; '
            f"{subject} needs {need} ({shape}): reserved for {holder}",
            reservation,
            reasons.PLACED,
            free,
        )
    short = max(0, need - free - freed)
    why = (
        f"short by {short}"
        if short
        else f"only {placed} of {req.replicas} replicas fit: a replica needs {g} on one node, "
        f"the most free on one node is {largest}"
    )
    return Admission(
        False,
        f'GPUPool "{pool.name}" has {free} free {res}{swap_note}, {subject} needs {need} ({shape}): {why}',
        None,
        reasons.DOES_NOT_FIT,
        free,
        short,
    )


def reserve(reservations: list[Reservation], new: Reservation) -> list[Reservation]:
    """Records `new`, replacing the same rollout's previous reservation (idempotent per rollout)."""
    out = [new if r.rollout == new.rollout else r for r in reservations]
    return out if any(r.rollout == new.rollout for r in reservations) else [*out, new]


def release(reservations: list[Reservation], rollout: str) -> list[Reservation]:
    """Removes a rollout's reservation (a no-op when it has none)."""
    return [r for r in reservations if r.rollout != rollout]


def placement_snapshot(
    pool: str, spec: GPUPoolSpec, previous: Placement | None, since: str
) -> Placement:
    """The pool's shape to remember while a version runs on it (kept from `previous` when it exists)."""
    if previous is not None and previous.pool == pool and previous.since:
        return previous
    return Placement(
        pool=pool,
        gpu_resource=spec.gpu_resource,
        node_selector=dict(spec.node_selector),
        tolerations=list(spec.tolerations),
        affinity=spec.affinity,
        since=since,
    )


def placement_drift(placed: Placement, spec: GPUPoolSpec) -> list[str]:
    """What changed in a pool since a version started running on it (empty: nothing that matters)."""
    changes = []
    if placed.node_selector != spec.node_selector:
        changes.append(f"nodeSelector {placed.node_selector} -> {spec.node_selector}")
    if placed.gpu_resource is not None and placed.gpu_resource != spec.gpu_resource:
        changes.append(f"gpuResource {placed.gpu_resource} -> {spec.gpu_resource}")
    before, now = _toleration_strings(placed.tolerations), _toleration_strings(spec.tolerations)
    if before != now:
        changes.append(f"tolerations {before} -> {now}")
    if (placed.affinity or None) != (spec.affinity or None):
        changes.append("affinity")
    return changes


def _toleration_strings(tolerations: list[Toleration]) -> list[str]:
    out = []
    for t in tolerations:
        key = t.key or "*"
        value = f"={t.value}" if t.operator == "Equal" and t.value else ""
        out.append(f"{key}{value}:{t.effect or '*'}")
    return sorted(out)


@dataclass(frozen=True)
class GpuSample:
    """One GPU's utilisation (0-100) and the pod the exporter attributes it to, if any."""

    percent: float
    pod: str | None = None


@dataclass(frozen=True)
class Utilization:
    mean_percent: float | None
    stranded: int
    attributed: bool
    """True when the samples told allocated GPUs apart (a pod label); otherwise `stranded` is an
    upper bound: idle GPUs, at most as many as are allocated."""


def utilization_summary(
    samples: list[GpuSample], stranded_below: float, allocated: int
) -> Utilization:
    """Mean utilisation over the pool's GPUs, and stranded GPUs: allocated to a pod yet under
    `stranded_below` percent. A free idle GPU is not stranded, only unused."""
    if not samples:
        return Utilization(None, 0, False)
    mean = round(sum(s.percent for s in samples) / len(samples), 2)
    attributed = any(s.pod for s in samples)
    idle = [s for s in samples if s.percent < stranded_below and (s.pod or not attributed)]
    return Utilization(mean, min(len(idle), allocated), attributed)


def sample_from_prometheus(result: dict[str, Any], attribute_by: str) -> GpuSample:
    """A GpuSample from one instant-vector element; `attribute_by` is the label naming the pod."""
    metric = result.get("metric") or {}
    return GpuSample(float(result["value"][1]), metric.get(attribute_by) or None)


def pod_label_of(results: list[dict[str, Any]]) -> str:
    """Which label names the GPU's pod: `exported_pod` when Prometheus renamed DCGM's own `pod`
    (scraped without honorLabels, `pod` is then the exporter's pod), else `pod`."""
    if any("exported_pod" in (r.get("metric") or {}) for r in results):
        return "exported_pod"
    return "pod"
