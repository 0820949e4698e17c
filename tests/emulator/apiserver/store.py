"""The object store: the semantics kube-apiserver's registry gives every write.

resourceVersion (one global counter), uid, creationTimestamp, generation,
optimistic concurrency (409 on a stale resourceVersion or uid), the status
subresource split, finalizers and deletionTimestamp, ObjectMeta and CRD schema
validation, dry-run, and a bounded event history for watches. Cascades (garbage
collection, namespace and CRD termination) live in cascade.py.
"""

from __future__ import annotations

import asyncio
import copy
import random
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.emulator.apiserver import builtins, cascade, cel, errors, metadata
from tests.emulator.apiserver.types import ResourceType, types_from_crd, version_priority
from tests.emulator.apiserver.validation import apply_defaults, prune_collect, validate

Key = tuple[str, str, str, str]  # group, plural, namespace ("" if cluster-scoped), name
HISTORY = 20000
CRD = ("apiextensions.k8s.io", "customresourcedefinitions")
NAMESPACES = ("", "namespaces")
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery's generateName alphabet


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def spec_part(obj: dict[str, Any]) -> dict[str, Any]:
    """Everything generation tracks: all but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


@dataclass
class Watcher:
    """A live watch: events of one resource, optionally one namespace, matching a selector."""

    group: str
    plural: str
    namespace: str | None
    matcher: Callable[[dict[str, Any]], bool]
    queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = field(default_factory=asyncio.Queue)


@dataclass
class HistoryEvent:
    rv: int
    group: str
    plural: str
    type: str
    obj: dict[str, Any]
    old: dict[str, Any] | None  # the previous state of a MODIFIED object


def selectable_view(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """The parts of an object label and field selectors can test."""
    meta = obj.get("metadata") or {}
    view: dict[str, Any] = {
        "metadata": {
            k: copy.deepcopy(meta[k]) for k in ("name", "namespace", "labels") if k in meta
        }
    }
    for path in rt.selectable_fields:
        *parents, leaf = path.split(".")
        source: Any = obj
        target = view
        for part in parents:
            source = source.get(part) if isinstance(source, dict) else None
            target = target.setdefault(part, {})
        if isinstance(source, dict) and leaf in source:
            target[leaf] = copy.deepcopy(source[leaf])
    return view


def leaving(obj: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """What a selector-filtered watch gets when `obj` leaves its selection: the previous state
    (the one that matched) at the new resourceVersion, as the watch cache sends it. `old` may
    be only its selectable view (the history's), laid over the new object."""
    if "uid" in (old.get("metadata") or {}):
        shown = copy.deepcopy(old)
    else:
        shown = copy.deepcopy(obj)
        _overlay(shown, old)
        if "labels" not in old.get("metadata", {}):
            shown["metadata"].pop("labels", None)
    shown["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"]
    return shown


def _overlay(target: dict[str, Any], view: dict[str, Any]) -> None:
    for key, value in view.items():
        if isinstance(value, dict) and key != "labels" and isinstance(target.get(key), dict):
            _overlay(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def transition(
    event_type: str,
    obj: dict[str, Any],
    old: dict[str, Any] | None,
    matcher: Callable[[dict[str, Any]], bool],
) -> str | None:
    """The event a selector-filtered watch sees: an object entering the selection is ADDED,
    one leaving it is DELETED, as the watch cache reports them."""
    now_in = matcher(obj)
    if event_type != "MODIFIED" or old is None:
        return event_type if now_in else None
    was_in = matcher(old)
    if was_in and now_in:
        return "MODIFIED"
    if now_in:
        return "ADDED"
    if was_in:
        return "DELETED"
    return None


class Store:
    def __init__(self, history: int = HISTORY) -> None:
        # A /24 of its own per server, so two sandboxes on one machine never collide.
        rnd = uuid.uuid4().int
        self.service_cidr_prefix = f"127.{11 + rnd % 240}.{(rnd >> 8) % 256}."
        self.types: dict[tuple[str, str], ResourceType] = {}  # preferred version
        self.versions: dict[tuple[str, str], dict[str, ResourceType]] = {}
        self.objects: dict[Key, dict[str, Any]] = {}
        self.uids: dict[str, Key] = {}
        self.rv = 1
        self.history: deque[HistoryEvent] = deque(maxlen=history)
        self.watchers: list[Watcher] = []
        self.cache_start: dict[tuple[str, str], int] = {}
        for rt in builtins.builtin_types():
            self.register(rt)
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.create(
                self.type_for(*NAMESPACES),
                None,
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
            )
        for crd in builtins.third_party_crds():
            self.create(self.type_for(*CRD), None, crd)

    # --- types -----------------------------------------------------------------
    def register(self, rt: ResourceType) -> None:
        # A real server's watch cache of a kind starts when the kind is first served (at
        # start, or when its CRD is established): a watch from before then is "too old".
        self.cache_start.setdefault((rt.group, rt.plural), self.rv)
        versions = self.versions.setdefault((rt.group, rt.plural), {})
        versions[rt.version] = rt
        self.types[(rt.group, rt.plural)] = min(
            versions.values(), key=lambda t: version_priority(t.version)
        )

    def unregister(self, group: str, plural: str) -> None:
        self.cache_start.pop((group, plural), None)
        self.types.pop((group, plural), None)
        self.versions.pop((group, plural), None)

    def type_for(self, group: str, plural: str, version: str | None = None) -> ResourceType:
        if version is None:
            rt = self.types.get((group, plural))
        else:
            rt = self.versions.get((group, plural), {}).get(version)
        if rt is None:
            raise errors.ApiStatusError(
                404,
                "NotFound",
                "the server could not find the requested resource",
                {"group": group, "kind": plural},
            )
        return rt

    def served(self) -> list[ResourceType]:
        return [rt for versions in self.versions.values() for rt in versions.values()]

    def storage_type(self, group: str, plural: str) -> ResourceType:
        versions = self.versions[(group, plural)]
        stored = [t for t in versions.values() if t.storage]
        return stored[0] if stored else self.types[(group, plural)]

    # --- helpers ---------------------------------------------------------------
    def _next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def key(self, rt: ResourceType, namespace: str | None, name: str) -> Key:
        return (rt.group, rt.plural, (namespace or "") if rt.namespaced else "", name)

    def emit(
        self, rt: ResourceType, kind: str, obj: dict[str, Any], old: dict[str, Any] | None = None
    ) -> None:
        snapshot = copy.deepcopy(obj)
        rv = int(snapshot["metadata"]["resourceVersion"])
        # The history keeps of the previous state only what selectors can look at.
        old_view = selectable_view(rt, old) if old is not None else None
        self.history.append(HistoryEvent(rv, rt.group, rt.plural, kind, snapshot, old_view))
        ns = snapshot["metadata"].get("namespace")
        for w in list(self.watchers):
            if w.group != rt.group or w.plural != rt.plural:
                continue
            if w.namespace is not None and w.namespace != ns:
                continue
            seen = transition(kind, snapshot, old, w.matcher)
            if seen == "DELETED" and kind == "MODIFIED" and old is not None:
                w.queue.put_nowait((seen, leaving(snapshot, old)))
            elif seen is not None:
                w.queue.put_nowait((seen, snapshot))

    def _schema_checks(
        self,
        rt: ResourceType,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        field_validation: str,
        warnings: list[str] | None,
    ) -> dict[str, Any]:
        if rt.schema is None:
            return obj
        obj, unknown = prune_collect(obj, rt.schema)
        if unknown and field_validation == "Strict":
            fields = ", ".join(f'unknown field "{u}"' for u in unknown)
            raise errors.bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                f"strict decoding error: {fields}"
            )
        if unknown and field_validation == "Warn" and warnings is not None:
            warnings.extend(f'unknown field "{u}"' for u in unknown)
        obj = apply_defaults(obj, rt.schema)
        causes = validate(obj, old, rt.schema)
        if causes:
            raise errors.invalid(rt.kind, rt.group, obj["metadata"].get("name", ""), causes)
        return obj

    def _check_meta(
        self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        style = (
            "label"
            if (rt.group, rt.plural) == NAMESPACES
            else "dns1035"
            if (rt.group, rt.plural) == ("", "services")
            else "subdomain"
        )
        causes = metadata.validate_meta(obj["metadata"], style)
        if old is not None:
            causes += metadata.new_finalizers_while_deleting(old["metadata"], obj["metadata"])
        if (rt.group, rt.plural) == CRD:
            causes += _crd_causes(obj)
        if causes:
            raise errors.invalid(rt.kind, rt.group, obj["metadata"].get("name", ""), causes)

    def _check_namespace(self, rt: ResourceType, namespace: str | None, name: str) -> None:
        if not rt.namespaced:
            return
        if not namespace:
            raise errors.bad_request("the server could not find the requested resource")
        ns = self.objects.get(("", "namespaces", "", namespace))
        if ns is None:
            raise errors.not_found("", "namespaces", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise errors.forbidden(
                rt.group,
                rt.plural,
                name,
                f"unable to create new content in namespace {namespace} because it is being terminated",
            )

    # --- reads -----------------------------------------------------------------
    def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self.objects.get(self.key(rt, namespace, name))
        if obj is None:
            raise errors.not_found(rt.group, rt.plural, name)
        return copy.deepcopy(obj)

    def select(
        self, rt: ResourceType, namespace: str | None, matcher: Callable[[dict[str, Any]], bool]
    ) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(o)
            for (g, p, ns, _), o in sorted(self.objects.items())
            if g == rt.group
            and p == rt.plural
            and (namespace is None or ns == namespace)
            and matcher(o)
        ]

    def events_since(
        self,
        rt: ResourceType,
        namespace: str | None,
        rv: int,
        matcher: Callable[[dict[str, Any]], bool],
    ) -> list[tuple[str, dict[str, Any]]]:
        """Events after `rv`, replayed from the bounded history; 410 Expired when it is gone."""
        oldest = self.history[0].rv if self.history else self.rv + 1
        if rv < oldest - 1 and rv < self.rv:
            raise errors.expired(f"too old resource version: {rv} ({oldest - 1})")
        start = self.cache_start.get((rt.group, rt.plural), 0)
        if rv < start:
            raise errors.expired(f"too old resource version: {rv} ({start})")
        out = []
        # Each object's previous state is its previous event's snapshot, while the history
        # still has it (else the selectable view the event kept).
        previous: dict[str, dict[str, Any]] = {}
        for e in self.history:
            if e.group != rt.group or e.plural != rt.plural:
                continue
            uid = e.obj["metadata"].get("uid", "")
            before = previous.get(uid)
            previous[uid] = e.obj
            if e.rv <= rv:
                continue
            if namespace is not None and e.obj["metadata"].get("namespace") != namespace:
                continue
            seen = transition(e.type, e.obj, e.old, matcher)
            if seen == "DELETED" and e.type == "MODIFIED" and e.old is not None:
                out.append((seen, leaving(e.obj, before or e.old)))
            elif seen is not None:
                out.append((seen, copy.deepcopy(e.obj)))
        return out

    # --- writes ----------------------------------------------------------------
    def create(
        self,
        rt: ResourceType,
        namespace: str | None,
        body: dict[str, Any],
        *,
        dry_run: bool = False,
        field_validation: str = "Ignore",
        warnings: list[str] | None = None,
    ) -> dict[str, Any]:
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = meta["generateName"] + "".join(random.choices(_NAME_ALPHABET, k=5))
            else:
                raise errors.invalid(
                    rt.kind,
                    rt.group,
                    "",
                    [
                        errors.Cause(
                            "metadata.name",
                            "Required value: name or generateName is required",
                            "FieldValueRequired",
                        )
                    ],
                )
        if rt.namespaced:
            namespace = namespace or meta.get("namespace") or None
            self._check_namespace(rt, namespace, meta["name"])
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        key = self.key(rt, namespace, meta["name"])
        if key in self.objects:
            raise errors.already_exists(rt.group, rt.plural, meta["name"])
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        # Status is the server's on create, except a Node's: its creator (a kubelet, KWOK, a
        # test) reports capacity that way, and a real server keeps it.
        if rt.status_subresource and (rt.group, rt.plural) != ("", "nodes"):
            obj.pop("status", None)
        if (rt.group, rt.plural) == ("", "pods"):
            obj["status"] = {"phase": "Pending"}
        for server_owned in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "generation",
            "deletionGracePeriodSeconds",
            "selfLink",
            "managedFields",
        ):
            meta.pop(server_owned, None)
        builtins.fill_in(rt, obj, self.allocate_cluster_ip)
        if key[:2] == CRD:
            meta.setdefault("finalizers", [])
            if cascade.CRD_FINALIZER not in meta["finalizers"]:
                meta["finalizers"].append(cascade.CRD_FINALIZER)
        if rt.custom and cascade.crd_terminating(self, rt.group, rt.plural):
            raise errors.method_not_allowed(
                "create not allowed while custom resource definition is terminating"
            )
        _omit_empty_meta(meta)
        self._check_meta(rt, obj, None)
        obj = self._schema_checks(rt, obj, None, field_validation, warnings)
        meta = obj["metadata"]
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        if rt.generation:
            meta["generation"] = 1
        if dry_run:
            meta.pop("resourceVersion", None)
            return obj
        meta["resourceVersion"] = self._next_rv()
        if key[:2] == CRD:
            _crd_status(obj)
        self.objects[key] = obj
        self.uids[meta["uid"]] = key
        self.emit(rt, "ADDED", obj)
        if key[:2] == CRD:
            for new_type in types_from_crd(obj):
                self.register(new_type)
        return copy.deepcopy(obj)

    def update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        new: dict[str, Any],
        subresource: str | None = None,
        *,
        dry_run: bool = False,
        field_validation: str = "Ignore",
        warnings: list[str] | None = None,
    ) -> dict[str, Any]:
        key = self.key(rt, namespace, name)
        old = self.objects.get(key)
        if old is None:
            raise errors.not_found(rt.group, rt.plural, name)
        new = copy.deepcopy(new)
        new_meta = new.setdefault("metadata", {})
        if not isinstance(new_meta, dict):
            raise errors.bad_request("metadata must be an object")
        wanted_rv = new_meta.get("resourceVersion")
        if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(rt.group, rt.plural, name)
        wanted_uid = new_meta.get("uid")
        if wanted_uid and wanted_uid != old["metadata"]["uid"]:
            raise errors.conflict(
                rt.group,
                rt.plural,
                name,
                f"Precondition failed: UID in precondition: {wanted_uid}, "
                f"UID in object meta: {old['metadata']['uid']}",
            )
        if subresource == "status":
            merged = copy.deepcopy(old)
            if "status" in new:
                merged["status"] = new["status"]
            else:
                merged.pop("status", None)
            new = merged
        elif rt.status_subresource:
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
            "deletionGracePeriodSeconds",
            "generation",
            "resourceVersion",
        ):
            if immutable in old["metadata"]:
                meta[immutable] = old["metadata"][immutable]
            else:
                meta.pop(immutable, None)
        meta.pop("managedFields", None)
        new["apiVersion"], new["kind"] = rt.api_version, rt.kind
        if (rt.group, rt.plural) == ("", "services"):
            _keep_cluster_ip(old, new)
        builtins.fill_in(rt, new, self.allocate_cluster_ip)
        _omit_empty_meta(meta)
        self._check_meta(rt, new, old)
        new = self._schema_checks(rt, new, old, field_validation, warnings)
        meta = new["metadata"]
        if rt.generation and spec_part(new) != spec_part(old):
            meta["generation"] = old["metadata"].get("generation", 1) + 1
        if key[:2] == CRD:
            _crd_status(new, old)
        if new == old:
            return copy.deepcopy(old)  # a no-op write does not bump resourceVersion
        if dry_run:
            return new
        if (
            meta.get("deletionTimestamp")
            and not meta.get("finalizers")
            and cascade.can_remove(self, key)
        ):
            self.objects[key] = new
            cascade.remove(self, rt, key)
            return copy.deepcopy(new)
        meta["resourceVersion"] = self._next_rv()
        self.objects[key] = new
        self.emit(rt, "MODIFIED", new, old)
        if key[:2] == CRD:
            for new_type in types_from_crd(new):
                self.register(new_type)
        return copy.deepcopy(new)

    def delete(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        *,
        propagation: str | None = None,
        preconditions: dict[str, Any] | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Deletes now, or marks for deletion (deletionTimestamp, grace 0, generation bump)
        while finalizers remain; the cascades follow in cascade.py."""
        key = self.key(rt, namespace, name)
        obj = self.objects.get(key)
        if obj is None:
            raise errors.not_found(rt.group, rt.plural, name)
        for field_name, actual in (
            ("uid", obj["metadata"]["uid"]),
            ("resourceVersion", obj["metadata"]["resourceVersion"]),
        ):
            wanted = (preconditions or {}).get(field_name)
            if wanted and wanted != actual:
                label = "UID" if field_name == "uid" else "ResourceVersion"
                raise errors.conflict(
                    rt.group,
                    rt.plural,
                    name,
                    f"Precondition failed: {label} in precondition: {wanted}, "
                    f"{label} in object meta: {actual}",
                )
        if key[:2] == NAMESPACES and name in ("default", "kube-system", "kube-public"):
            raise errors.forbidden("", "namespaces", name, "this namespace may not be deleted")
        if dry_run:
            return copy.deepcopy(obj)
        return cascade.delete(self, rt, key, propagation or "Background")

    def mark_deleting(
        self, rt: ResourceType, key: Key, extra_finalizers: list[str] | None = None
    ) -> dict[str, Any]:
        obj = self.objects[key]
        old = copy.deepcopy(obj)
        meta = obj["metadata"]
        for fin in extra_finalizers or []:
            if fin not in meta.setdefault("finalizers", []):
                meta["finalizers"].append(fin)
        if not meta.get("deletionTimestamp"):
            if meta.get("generation"):
                meta["generation"] += 1
            meta["deletionTimestamp"] = now()
            meta["deletionGracePeriodSeconds"] = 0
        if key[:2] == NAMESPACES:
            obj["status"] = {"phase": "Terminating"}
        if obj != old:
            meta["resourceVersion"] = self._next_rv()
            self.emit(rt, "MODIFIED", obj, old)
        return copy.deepcopy(obj)

    def drop_finalizer(self, key: Key, finalizer: str) -> None:
        """What a controller does when its work is done: remove its finalizer."""
        obj = self.objects.get(key)
        if obj is None or finalizer not in (obj["metadata"].get("finalizers") or []):
            return
        rt = self.storage_type(key[0], key[1])
        new = copy.deepcopy(obj)
        new["metadata"]["finalizers"] = [f for f in new["metadata"]["finalizers"] if f != finalizer]
        if not new["metadata"]["finalizers"]:
            del new["metadata"]["finalizers"]
        if (
            new["metadata"].get("deletionTimestamp")
            and not new["metadata"].get("finalizers")
            and cascade.can_remove(self, key)
        ):
            self.objects[key] = new
            cascade.remove(self, rt, key)
            return
        new["metadata"]["resourceVersion"] = self._next_rv()
        self.objects[key] = new
        self.emit(rt, "MODIFIED", new, obj)

    # Services get ClusterIPs from a loopback range, so local model servers can
    # bind the very address the Service advertises (see docs/emulated-apiserver.md).
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
        raise errors.internal("service ClusterIP range exhausted")


def _omit_empty_meta(meta: dict[str, Any]) -> None:
    """ObjectMeta's lists and maps are `omitempty`: a real server stores no empty ones."""
    for name in ("labels", "annotations", "finalizers", "ownerReferences"):
        if name in meta and meta[name] in ([], {}, None):
            del meta[name]


def _keep_cluster_ip(old: dict[str, Any], new: dict[str, Any]) -> None:
    old_spec, spec = old.get("spec") or {}, new.setdefault("spec", {})
    for field_name in ("clusterIP", "clusterIPs"):
        if field_name in old_spec and field_name not in spec:
            spec[field_name] = old_spec[field_name]


def _crd_causes(crd: dict[str, Any]) -> list[errors.Cause]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    causes = []
    expected = f"{names.get('plural', '')}.{spec.get('group', '')}"
    if crd["metadata"].get("name") != expected:
        causes.append(
            errors.Cause(
                "metadata.name",
                f'Invalid value: "{crd["metadata"].get("name")}": must be spec.names.plural+"."+spec.group',
            )
        )
    versions = spec.get("versions") or []
    if sum(1 for v in versions if v.get("storage")) != 1:
        causes.append(
            errors.Cause(
                "spec.versions",
                "Invalid value: must have exactly one version marked as storage version",
            )
        )
    for i, version in enumerate(versions):
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        causes += cel.rule_compile_causes(schema, f"spec.versions[{i}].schema.openAPIV3Schema")
    return causes


def _crd_status(crd: dict[str, Any], old: dict[str, Any] | None = None) -> None:
    """What the CRD controllers report once names are accepted and the API is served."""
    spec = crd.get("spec", {})
    previous = ((old or {}).get("status") or {}).get("storedVersions") or []
    stored = [v["name"] for v in spec.get("versions", []) if v.get("storage")]
    since = {
        c["type"]: c["lastTransitionTime"]
        for c in ((old or {}).get("status") or {}).get("conditions", [])
    }
    terminating = bool(crd["metadata"].get("deletionTimestamp"))
    crd["status"] = {
        "acceptedNames": {
            "listKind": f"{spec.get('names', {}).get('kind', '')}List",
            **spec.get("names", {}),
        },
        "storedVersions": previous + [v for v in stored if v not in previous],
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": since.get("NamesAccepted", now()),
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": since.get("Established", now()),
            },
            *(
                [
                    {
                        "type": "Terminating",
                        "status": "True",
                        "reason": "InstanceDeletionInProgress",
                        "message": "CustomResource deletion is in progress",
                        "lastTransitionTime": now(),
                    }
                ]
                if terminating
                else []
            ),
        ],
    }
