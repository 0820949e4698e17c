"""The object store: resourceVersions, generations, finalizers, garbage collection, watch history."""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from champion.sandbox.apiserver import errors
from champion.sandbox.apiserver.types import ResourceType, builtin_types, types_from_crd
from champion.sandbox.apiserver.validation import apply_defaults, prune, validate

Key = tuple[str, str, str, str]  # group, plural, namespace ("" if cluster-scoped), name
HISTORY = 20000


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _spec_part(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


@dataclass
class Watcher:
    group: str
    plural: str
    namespace: str | None
    matcher: Callable[[dict[str, Any]], bool]
    queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = field(default_factory=asyncio.Queue)


class Store:
    def __init__(self) -> None:
        # A /24 of its own per server, so two sandboxes on one machine never collide.
        rnd = uuid.uuid4().int
        self.service_cidr_prefix = f"127.{11 + rnd % 240}.{(rnd >> 8) % 256}."
        self.types: dict[tuple[str, str], ResourceType] = {}
        self.objects: dict[Key, dict[str, Any]] = {}
        self.rv = 1
        self.history: deque[tuple[int, str, str, str, dict[str, Any]]] = deque(maxlen=HISTORY)
        self.watchers: list[Watcher] = []
        for rt in builtin_types():
            self.register(rt)
        for ns in ("default", "kube-system", "kube-public"):
            self.create(
                self.type_for("", "namespaces"),
                None,
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
            )

    # --- types -----------------------------------------------------------------
    def register(self, rt: ResourceType) -> None:
        self.types[(rt.group, rt.plural)] = rt

    def type_for(self, group: str, plural: str) -> ResourceType:
        rt = self.types.get((group, plural))
        if rt is None:
            raise errors.ApiStatusError(
                404,
                "NotFound",
                f"the server could not find the requested resource ({plural}.{group})",
            )
        return rt

    # --- helpers ---------------------------------------------------------------
    def _next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def _key(self, rt: ResourceType, namespace: str | None, name: str) -> Key:
        return (rt.group, rt.plural, namespace or "" if rt.namespaced else "", name)

    def _emit(self, rt: ResourceType, kind: str, obj: dict[str, Any]) -> None:
        rv = int(obj["metadata"]["resourceVersion"])
        snapshot = copy.deepcopy(obj)
        self.history.append((rv, rt.group, rt.plural, kind, snapshot))
        ns = obj["metadata"].get("namespace")
        for w in list(self.watchers):
            if (
                w.group == rt.group
                and w.plural == rt.plural
                and (w.namespace is None or w.namespace == ns)
                and w.matcher(snapshot)
            ):
                w.queue.put_nowait((kind, snapshot))

    def _validate(
        self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> dict[str, Any]:
        if rt.schema is None:
            return obj
        obj = prune(obj, rt.schema)
        obj = apply_defaults(obj, rt.schema)
        causes = validate(obj, old, rt.schema)
        if causes:
            raise errors.invalid(rt.kind, rt.group, obj["metadata"].get("name", ""), causes)
        return obj

    def _check_namespace(self, rt: ResourceType, namespace: str | None) -> None:
        if rt.namespaced:
            if not namespace:
                raise errors.bad_request(f"{rt.kind} is namespaced: a namespace is required")
            if ("", "namespaces", "", namespace) not in self.objects:
                raise errors.not_found("", "namespaces", namespace)

    # --- reads -----------------------------------------------------------------
    def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self.objects.get(self._key(rt, namespace, name))
        if obj is None:
            raise errors.not_found(rt.group, rt.plural, name)
        return copy.deepcopy(obj)

    def select(
        self, rt: ResourceType, namespace: str | None, matcher: Callable[[dict[str, Any]], bool]
    ) -> list[dict[str, Any]]:
        items = [
            copy.deepcopy(o)
            for (g, p, ns, _), o in sorted(self.objects.items())
            if g == rt.group
            and p == rt.plural
            and (namespace is None or ns == namespace)
            and matcher(o)
        ]
        return items

    def events_since(
        self,
        rt: ResourceType,
        namespace: str | None,
        rv: int,
        matcher: Callable[[dict[str, Any]], bool],
    ) -> list[tuple[str, dict[str, Any]]]:
        if self.history and rv < self.history[0][0] - 1 and rv < self.rv:
            raise errors.ApiStatusError(
                410, "Expired", f"too old resource version: {rv} ({self.history[0][0]})"
            )
        return [
            (kind, copy.deepcopy(obj))
            for (erv, g, p, kind, obj) in self.history
            if erv > rv and g == rt.group and p == rt.plural
            and (namespace is None or obj["metadata"].get("namespace") == namespace) and matcher(obj)
        ]  # fmt: skip

    # --- writes ----------------------------------------------------------------
    def create(
        self, rt: ResourceType, namespace: str | None, body: dict[str, Any]
    ) -> dict[str, Any]:
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            else:
                raise errors.invalid(
                    rt.kind,
                    rt.group,
                    "",
                    [("metadata.name", "Required value: name or generateName is required")],
                )
        if rt.namespaced:
            namespace = namespace or meta.get("namespace")
            self._check_namespace(rt, namespace)
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        key = self._key(rt, namespace, meta["name"])
        if key in self.objects:
            raise errors.already_exists(rt.group, rt.plural, meta["name"])
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        if rt.status_subresource:
            obj.pop("status", None)
        obj = self._validate(rt, obj, None)
        meta = obj["metadata"]
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = _now()
        meta["generation"] = 1
        meta.pop("deletionTimestamp", None)
        meta["resourceVersion"] = self._next_rv()
        self._on_create_hooks(rt, obj)
        self.objects[key] = obj
        self._emit(rt, "ADDED", obj)
        return copy.deepcopy(obj)

    def update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        new: dict[str, Any],
        subresource: str | None = None,
    ) -> dict[str, Any]:
        key = self._key(rt, namespace, name)
        old = self.objects.get(key)
        if old is None:
            raise errors.not_found(rt.group, rt.plural, name)
        new = copy.deepcopy(new)
        new_meta = new.setdefault("metadata", {})
        wanted_rv = new_meta.get("resourceVersion")
        if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(rt.group, rt.plural, name)
        if subresource == "status":
            merged = copy.deepcopy(old)
            if "status" in new:
                merged["status"] = new["status"]
            else:
                merged.pop("status", None)
            new = merged
        else:
            if rt.status_subresource:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
        meta = new["metadata"]
        for immutable in (
            "uid",
            "creationTimestamp",
            "name",
            "namespace",
            "deletionTimestamp",
            "generation",
        ):
            if immutable in old["metadata"]:
                meta[immutable] = old["metadata"][immutable]
            else:
                meta.pop(immutable, None)
        new["apiVersion"], new["kind"] = rt.api_version, rt.kind
        new = self._validate(rt, new, old)
        meta = new["metadata"]
        if _spec_part(new) != _spec_part(old):
            meta["generation"] = old["metadata"].get("generation", 1) + 1
        meta["resourceVersion"] = old["metadata"]["resourceVersion"]
        if new == old:
            return copy.deepcopy(old)  # no-op writes do not bump resourceVersion, as in the server
        meta["resourceVersion"] = self._next_rv()
        self._on_create_hooks(rt, new)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self.objects[key] = new
            self._remove(rt, key)
            return copy.deepcopy(new)
        self.objects[key] = new
        self._emit(rt, "MODIFIED", new)
        return copy.deepcopy(new)

    def delete(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        key = self._key(rt, namespace, name)
        obj = self.objects.get(key)
        if obj is None:
            raise errors.not_found(rt.group, rt.plural, name)
        if obj["metadata"].get("finalizers"):
            if not obj["metadata"].get("deletionTimestamp"):
                obj["metadata"]["deletionTimestamp"] = _now()
                obj["metadata"]["deletionGracePeriodSeconds"] = 0
                obj["metadata"]["resourceVersion"] = self._next_rv()
                self._emit(rt, "MODIFIED", obj)
            return copy.deepcopy(obj)
        self._remove(rt, key)
        return copy.deepcopy(obj)

    def _remove(self, rt: ResourceType, key: Key) -> None:
        obj = self.objects.pop(key)
        obj["metadata"]["resourceVersion"] = self._next_rv()
        self._emit(rt, "DELETED", obj)
        if rt.group == "apiextensions.k8s.io" and rt.plural == "customresourcedefinitions":
            spec = obj.get("spec", {})
            self.types.pop((spec.get("group", ""), spec.get("names", {}).get("plural", "")), None)
        self._collect_garbage(obj["metadata"]["uid"])

    def _collect_garbage(self, owner_uid: str) -> None:
        """Background-propagation garbage collection by ownerReferences."""
        for key, obj in list(self.objects.items()):
            owners = obj["metadata"].get("ownerReferences") or []
            if any(o.get("uid") == owner_uid for o in owners):
                rt = self.types.get((key[0], key[1]))
                if rt is not None and key in self.objects:
                    self.delete(rt, key[2] or None, key[3])

    def _on_create_hooks(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        if rt.group == "apiextensions.k8s.io" and rt.plural == "customresourcedefinitions":
            for new_type in types_from_crd(obj):
                self.register(new_type)
            obj["status"] = {
                "acceptedNames": obj.get("spec", {}).get("names", {}),
                "storedVersions": [
                    v["name"] for v in obj.get("spec", {}).get("versions", []) if v.get("storage")
                ],
                "conditions": [
                    {
                        "type": "NamesAccepted",
                        "status": "True",
                        "reason": "NoConflicts",
                        "message": "no conflicts found",
                        "lastTransitionTime": _now(),
                    },
                    {
                        "type": "Established",
                        "status": "True",
                        "reason": "InitialNamesAccepted",
                        "message": "the initial names have been accepted",
                        "lastTransitionTime": _now(),
                    },
                ],
            }
        if rt.group == "" and rt.plural == "namespaces":
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj["status"] = {"phase": "Active"}
        if rt.group == "" and rt.plural == "services":
            spec = obj.setdefault("spec", {})
            if "clusterIP" not in spec and spec.get("type") != "ExternalName":
                spec["clusterIP"] = self.allocate_cluster_ip()
                spec["clusterIPs"] = [spec["clusterIP"]]

    # Services get ClusterIPs from a loopback range, so local model servers can
    # bind the very address the Service advertises (see docs/emulated-apiserver.md).
    service_cidr_prefix = "127.0.10."  # replaced per instance in __init__

    def allocate_cluster_ip(self) -> str:
        used = {
            o.get("spec", {}).get("clusterIP")
            for (g, p, _, _), o in self.objects.items()
            if g == "" and p == "services"
        }
        for i in range(2, 255):
            ip = f"{self.service_cidr_prefix}{i}"
            if ip not in used:
                return ip
        raise errors.ApiStatusError(500, "InternalError", "service ClusterIP range exhausted")
