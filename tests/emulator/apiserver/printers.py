"""Printer columns of the built-in kinds, as kube-apiserver's internal printers define them
(a subset of each kind's columns; `-o wide` ones have priority 1)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass
class Column:
    name: str
    type: str
    cell: Callable[[dict[str, Any]], Any]
    priority: int = 0
    description: str = ""
    format: str = ""


def human_duration(seconds: float) -> str:
    """apimachinery's duration.HumanDuration, as kubectl shows an AGE."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 192:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        years, days = hours // 24 // 365, (hours // 24) % 365
        return f"{years}y{days}d" if days else f"{years}y"
    return f"{hours // 24 // 365}y"


def _parse(ts: Any) -> datetime | None:
    if not isinstance(ts, str):
        return None
    try:
        return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def age(timestamp: Any) -> str | None:
    then = _parse(timestamp)
    return None if then is None else human_duration((datetime.now(UTC) - then).total_seconds())


def _get(obj: Any, *path: str) -> Any:
    for p in path:
        obj = obj.get(p) if isinstance(obj, dict) else None
    return obj


def _age(obj: dict[str, Any]) -> Any:
    return age(obj["metadata"].get("creationTimestamp"))


AGE = Column("Age", "string", _age)


def _node_status(node: dict[str, Any]) -> str:
    ready = next(
        (c for c in _get(node, "status", "conditions") or [] if c.get("type") == "Ready"), None
    )
    state = "Unknown" if ready is None else "Ready" if ready.get("status") == "True" else "NotReady"
    return state + (",SchedulingDisabled" if _get(node, "spec", "unschedulable") else "")


def _node_roles(node: dict[str, Any]) -> str:
    labels = node["metadata"].get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    return ",".join(roles) or "<none>"


def _pod_ready(pod: dict[str, Any]) -> str:
    total = len(_get(pod, "spec", "containers") or [])
    ready = sum(1 for c in _get(pod, "status", "containerStatuses") or [] if c.get("ready"))
    return f"{ready}/{total}"


def _pod_status(pod: dict[str, Any]) -> str:
    if pod["metadata"].get("deletionTimestamp"):
        return "Terminating"
    for c in _get(pod, "status", "containerStatuses") or []:
        waiting = _get(c, "state", "waiting", "reason")
        if waiting:
            return str(waiting)
    return str(_get(pod, "status", "reason") or _get(pod, "status", "phase") or "Pending")


def _ports(svc: dict[str, Any]) -> str:
    out = []
    for p in _get(svc, "spec", "ports") or []:
        node = f":{p['nodePort']}" if p.get("nodePort") else ""
        out.append(f"{p.get('port')}{node}/{p.get('protocol', 'TCP')}")
    return ",".join(out) or "<none>"


def _external_ip(svc: dict[str, Any]) -> str:
    ingress = _get(svc, "status", "loadBalancer", "ingress") or []
    ips = [i.get("ip") or i.get("hostname") for i in ingress]
    if ips:
        return ",".join(str(i) for i in ips if i)
    if _get(svc, "spec", "type") == "LoadBalancer":
        return "<pending>"
    return ",".join(_get(svc, "spec", "externalIPs") or []) or "<none>"


def _selector(labels: Any) -> str:
    return ",".join(f"{k}={v}" for k, v in (labels or {}).items()) or "<none>"


def _count(*paths: tuple[str, ...]) -> Callable[[dict[str, Any]], int]:
    return lambda o: sum(len(_get(o, *p) or {}) for p in paths)


def _job_status(job: dict[str, Any]) -> str:
    conditions = {c.get("type"): c.get("status") for c in _get(job, "status", "conditions") or []}
    for kind in ("Complete", "Failed", "Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if conditions.get(kind) == "True":
            return "Complete" if kind == "SuccessCriteriaMet" else kind
    return "Running"


def _job_duration(job: dict[str, Any]) -> str | None:
    start = _parse(_get(job, "status", "startTime"))
    if start is None:
        return None
    end = _parse(_get(job, "status", "completionTime")) or datetime.now(UTC)
    return human_duration((end - start).total_seconds())


def _containers(path: tuple[str, ...], field: str) -> Callable[[dict[str, Any]], str]:
    return lambda o: ",".join(str(c.get(field, "")) for c in _get(o, *path) or [])


def _event_object(ref_field: str) -> Callable[[dict[str, Any]], str]:
    return lambda e: (
        f"{str(_get(e, ref_field, 'kind') or '').lower()}/{_get(e, ref_field, 'name') or ''}"
    )


def _event_last_seen(*fields: str) -> Callable[[dict[str, Any]], Any]:
    def cell(event: dict[str, Any]) -> Any:
        for f in fields:
            if _get(event, *f.split(".")):
                return age(_get(event, *f.split(".")))
        return age(event["metadata"].get("creationTimestamp"))

    return cell


_POD_TEMPLATE = ("spec", "template", "spec", "containers")
_NAME_LAST = Column("Name", "string", lambda o: o["metadata"]["name"], 1, format="name")

BUILTIN_COLUMNS: dict[tuple[str, str], list[Column]] = {
    ("", "namespaces"): [Column("Status", "string", lambda o: _get(o, "status", "phase")), AGE],
    ("", "nodes"): [
        Column("Status", "string", _node_status),
        Column("Roles", "string", _node_roles),
        AGE,
        Column(
            "Version", "string", lambda o: _get(o, "status", "nodeInfo", "kubeletVersion") or ""
        ),
    ],
    ("", "pods"): [
        Column("Ready", "string", _pod_ready),
        Column("Status", "string", _pod_status),
        Column(
            "Restarts",
            "string",
            lambda o: str(
                sum(
                    int(c.get("restartCount", 0))
                    for c in _get(o, "status", "containerStatuses") or []
                )
            ),
        ),
        AGE,
        Column("IP", "string", lambda o: _get(o, "status", "podIP") or "<none>", 1),
        Column("Node", "string", lambda o: _get(o, "spec", "nodeName") or "<none>", 1),
    ],
    ("", "services"): [
        Column("Type", "string", lambda o: _get(o, "spec", "type") or "ClusterIP"),
        Column("Cluster-IP", "string", lambda o: _get(o, "spec", "clusterIP") or "<none>"),
        Column("External-IP", "string", _external_ip),
        Column("Port(s)", "string", _ports),
        AGE,
        Column("Selector", "string", lambda o: _selector(_get(o, "spec", "selector")), 1),
    ],
    ("", "configmaps"): [Column("Data", "integer", _count(("data",), ("binaryData",))), AGE],
    ("", "secrets"): [
        Column("Type", "string", lambda o: o.get("type", "Opaque")),
        Column("Data", "integer", _count(("data",))),
        AGE,
    ],
    ("", "serviceaccounts"): [Column("Secrets", "integer", _count(("secrets",))), AGE],
    ("", "events"): [
        Column("Last Seen", "string", _event_last_seen("lastTimestamp", "eventTime")),
        Column("Type", "string", lambda o: o.get("type", "")),
        Column("Reason", "string", lambda o: o.get("reason", "")),
        Column("Object", "string", _event_object("involvedObject")),
        Column("Message", "string", lambda o: o.get("message", "")),
        _NAME_LAST,
    ],
    ("events.k8s.io", "events"): [
        Column("Last Seen", "string", _event_last_seen("deprecatedLastTimestamp", "eventTime")),
        Column("Type", "string", lambda o: o.get("type", "")),
        Column("Reason", "string", lambda o: o.get("reason", "")),
        Column("Object", "string", _event_object("regarding")),
        Column("Message", "string", lambda o: o.get("note", "")),
        _NAME_LAST,
    ],
    ("coordination.k8s.io", "leases"): [
        Column("Holder", "string", lambda o: _get(o, "spec", "holderIdentity") or ""),
        AGE,
    ],
    ("apps", "deployments"): [
        Column(
            "Ready",
            "string",
            lambda o: (
                f"{_get(o, 'status', 'readyReplicas') or 0}/{_get(o, 'spec', 'replicas') if _get(o, 'spec', 'replicas') is not None else 1}"
            ),
        ),
        Column("Up-to-date", "integer", lambda o: _get(o, "status", "updatedReplicas") or 0),
        Column("Available", "integer", lambda o: _get(o, "status", "availableReplicas") or 0),
        AGE,
        Column("Containers", "string", _containers(_POD_TEMPLATE, "name"), 1),
        Column("Images", "string", _containers(_POD_TEMPLATE, "image"), 1),
    ],
    ("batch", "jobs"): [
        Column("Status", "string", _job_status),
        Column(
            "Completions",
            "string",
            lambda o: (
                f"{_get(o, 'status', 'succeeded') or 0}/{_get(o, 'spec', 'completions') or 1}"
            ),
        ),
        Column("Duration", "string", _job_duration),
        AGE,
        Column("Containers", "string", _containers(_POD_TEMPLATE, "name"), 1),
        Column("Images", "string", _containers(_POD_TEMPLATE, "image"), 1),
    ],
    ("apiextensions.k8s.io", "customresourcedefinitions"): [
        Column("Created At", "date", lambda o: o["metadata"].get("creationTimestamp")),
    ],
}
