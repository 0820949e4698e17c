"""What happens after a delete, as kube-controller-manager and the apiextensions controllers do
it, but synchronously within the request (documented in docs/emulated-apiserver.md):

- garbage collection by ownerReferences: a dependent goes once none of its owners exists
  (dangling references to a gone owner are stripped while others remain); propagation
  Background (default), Foreground (the owner waits, with the `foregroundDeletion`
  finalizer, for dependents that set blockOwnerDeletion) or Orphan (references removed);
- namespace termination: phase Terminating, its content deleted, the namespace removed once
  empty (objects with finalizers keep it Terminating, as in a real cluster);
- CRD deletion: the `customresourcecleanup.apiextensions.k8s.io` finalizer holds the CRD
  until every instance is gone, then the resource stops being served.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from tests.emulator.apiserver.types import ResourceType

if TYPE_CHECKING:
    from tests.emulator.apiserver.store import Key, Store

CRD_GROUP_PLURAL = ("apiextensions.k8s.io", "customresourcedefinitions")
NAMESPACES = ("", "namespaces")
CRD_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
FOREGROUND = "foregroundDeletion"


def _owners(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return obj["metadata"].get("ownerReferences") or []


def _crd_key(group: str, plural: str) -> Key:
    return (*CRD_GROUP_PLURAL, "", f"{plural}.{group}")


def crd_terminating(store: Store, group: str, plural: str) -> bool:
    crd = store.objects.get(_crd_key(group, plural))
    return bool(crd and crd["metadata"].get("deletionTimestamp"))


def can_remove(store: Store, key: Key) -> bool:
    """A terminating namespace waits for its content; everything else goes at once."""
    if key[:2] == NAMESPACES:
        return not any(k[2] == key[3] for k in store.objects if k[:2] != NAMESPACES)
    return True


def delete(store: Store, rt: ResourceType, key: Key, propagation: str) -> dict[str, Any]:
    obj = store.objects[key]
    uid = obj["metadata"]["uid"]
    if key[:2] == NAMESPACES:
        return _delete_namespace(store, rt, key)
    if key[:2] == CRD_GROUP_PLURAL:
        spec = obj.get("spec") or {}
        group, plural = spec.get("group", ""), (spec.get("names") or {}).get("plural", "")
        marked = store.mark_deleting(rt, key)
        for instance in [k for k in store.objects if k[:2] == (group, plural)]:
            _delete_key(store, instance, "Background")
        _settle_crd(store, group, plural)
        return store.objects.get(key, marked)
    if propagation == "Orphan":
        _orphan(store, uid)
    elif propagation == "Foreground" and _dependents(store, uid):
        marked = store.mark_deleting(rt, key, [FOREGROUND])
        for dep in _dependents(store, uid):
            _delete_key(store, dep, "Background")
        _settle_foreground(store, uid)
        return copy.deepcopy(store.objects.get(key, marked))
    if obj["metadata"].get("finalizers"):
        return store.mark_deleting(rt, key)
    return remove(store, rt, key)


def remove(store: Store, rt: ResourceType, key: Key) -> dict[str, Any]:
    """The object leaves the store (DELETED); then the cascades it unblocks run."""
    obj = store.objects.pop(key)
    store.uids.pop(obj["metadata"]["uid"], None)
    obj["metadata"]["resourceVersion"] = store._next_rv()
    store.emit(rt, "DELETED", obj)
    if key[:2] == CRD_GROUP_PLURAL:
        spec = obj.get("spec") or {}
        store.unregister(spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
    uid = obj["metadata"]["uid"]
    _collect(store, uid)
    for ref in _owners(obj):
        _settle_foreground(store, ref.get("uid", ""))
    if key[2]:
        _settle_namespace(store, key[2])
    _settle_crd(store, key[0], key[1])
    return copy.deepcopy(obj)


def _delete_key(store: Store, key: Key, propagation: str) -> None:
    obj = store.objects.get(key)
    if obj is None or obj["metadata"].get("deletionTimestamp"):
        return
    if (key[0], key[1]) not in store.versions:
        store.objects.pop(key)  # its CRD is gone: nothing serves it any more
        store.uids.pop(obj["metadata"]["uid"], None)
        return
    delete(store, store.storage_type(key[0], key[1]), key, propagation)


def _delete_namespace(store: Store, rt: ResourceType, key: Key) -> dict[str, Any]:
    name = key[3]
    marked = store.mark_deleting(rt, key)
    for content in [k for k in store.objects if k[2] == name and k[:2] != NAMESPACES]:
        _delete_key(store, content, "Background")
    _settle_namespace(store, name)
    return copy.deepcopy(store.objects.get(key, marked))


def _dependents(store: Store, uid: str) -> list[Key]:
    return [k for k, o in store.objects.items() if any(r.get("uid") == uid for r in _owners(o))]


def _collect(store: Store, owner_uid: str) -> None:
    for key in _dependents(store, owner_uid):
        obj = store.objects.get(key)
        if obj is None:
            continue
        refs = _owners(obj)
        alive = [r for r in refs if r.get("uid") in store.uids]
        if alive:
            _set_owners(store, key, alive)
        else:
            _delete_key(store, key, "Background")


def _orphan(store: Store, owner_uid: str) -> None:
    for key in _dependents(store, owner_uid):
        refs = [r for r in _owners(store.objects[key]) if r.get("uid") != owner_uid]
        _set_owners(store, key, refs)


def _set_owners(store: Store, key: Key, refs: list[dict[str, Any]]) -> None:
    obj = store.objects[key]
    new = copy.deepcopy(obj)
    if refs:
        new["metadata"]["ownerReferences"] = refs
    else:
        new["metadata"].pop("ownerReferences", None)
    if new == obj:
        return
    new["metadata"]["resourceVersion"] = store._next_rv()
    store.objects[key] = new
    store.emit(store.storage_type(key[0], key[1]), "MODIFIED", new, obj)


def _settle_foreground(store: Store, owner_uid: str) -> None:
    key = store.uids.get(owner_uid)
    if key is None:
        return
    owner = store.objects[key]
    if FOREGROUND not in (owner["metadata"].get("finalizers") or []):
        return
    blocking = [
        k
        for k in _dependents(store, owner_uid)
        if any(
            r.get("uid") == owner_uid and r.get("blockOwnerDeletion")
            for r in _owners(store.objects[k])
        )
    ]
    if not blocking:
        store.drop_finalizer(key, FOREGROUND)


def _settle_namespace(store: Store, name: str) -> None:
    key: Key = (*NAMESPACES, "", name)
    ns = store.objects.get(key)
    if ns is None or not ns["metadata"].get("deletionTimestamp"):
        return
    if not ns["metadata"].get("finalizers") and can_remove(store, key):
        remove(store, store.type_for(*NAMESPACES), key)


def _settle_crd(store: Store, group: str, plural: str) -> None:
    key = _crd_key(group, plural)
    crd = store.objects.get(key)
    if crd is None or not crd["metadata"].get("deletionTimestamp"):
        return
    if not any(k[:2] == (group, plural) for k in store.objects):
        store.drop_finalizer(key, CRD_FINALIZER)
