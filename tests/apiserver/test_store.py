"""The store's write semantics, as kopf and kubectl rely on them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.apiserver.conftest import CRD, configmap, rollout
from tests.emulator.apiserver.errors import ApiStatusError
from tests.emulator.apiserver.store import Store


@pytest.fixture
def store() -> Store:
    s = Store()
    s.create(s.type_for("apiextensions.k8s.io", "customresourcedefinitions"), None, CRD)
    return s


def _error(call: Any) -> ApiStatusError:
    with pytest.raises(ApiStatusError) as exc:
        call()
    return exc.value


def test_create_sets_uid_resource_version_generation_and_timestamp(store: Store) -> None:
    rt = store.type_for("testing.champion.dev", "rollouts")
    before = store.rv
    obj = store.create(rt, "default", rollout())
    meta = obj["metadata"]
    assert len(meta["uid"]) == 36 and meta["creationTimestamp"].endswith("Z")
    assert meta["generation"] == 1
    assert meta["resourceVersion"] == str(before + 1)  # one global counter, as a string
    other = store.create(store.type_for("", "configmaps"), "default", configmap("c"))
    assert int(other["metadata"]["resourceVersion"]) == before + 2
    assert "generation" not in other["metadata"]  # a ConfigMap has none on a real server


def test_duplicate_create_is_already_exists(store: Store) -> None:
    rt = store.type_for("", "configmaps")
    store.create(rt, "default", configmap("a"))
    exc = _error(lambda: store.create(rt, "default", configmap("a")))
    assert (exc.code, exc.reason) == (409, "AlreadyExists")
    assert exc.message == 'configmaps "a" already exists'


def test_missing_object_is_not_found_in_status_shape(store: Store) -> None:
    exc = _error(lambda: store.get(store.type_for("testing.champion.dev", "rollouts"), "default", "x"))  # fmt: skip
    assert exc.body() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'rollouts.testing.champion.dev "x" not found', "reason": "NotFound",
        "details": {"name": "x", "group": "testing.champion.dev", "kind": "rollouts"}, "code": 404,
    }  # fmt: skip


def test_stale_resource_version_is_a_conflict(store: Store) -> None:
    rt = store.type_for("testing.champion.dev", "rollouts")
    first = store.create(rt, "default", rollout())
    store.update(rt, "default", "chat", {**first, "spec": {"model": "b"}})
    exc = _error(lambda: store.update(rt, "default", "chat", {**first, "spec": {"model": "c"}}))
    assert (exc.code, exc.reason) == (409, "Conflict")
    assert "the object has been modified" in exc.message


def test_generation_moves_on_spec_changes_only(store: Store) -> None:
    rt = store.type_for("testing.champion.dev", "rollouts")
    obj = store.create(rt, "default", rollout())
    labelled = store.update(rt, "default", "chat", {**obj, "metadata": {**obj["metadata"], "labels": {"a": "b"}}})  # fmt: skip
    assert labelled["metadata"]["generation"] == 1
    changed = store.update(rt, "default", "chat", {**labelled, "spec": {"model": "mistral"}})
    assert changed["metadata"]["generation"] == 2
    status = store.update(rt, "default", "chat", {**changed, "status": {"phase": "x"}}, "status")
    assert status["metadata"]["generation"] == 2
    same = store.update(rt, "default", "chat", status)
    assert same["metadata"]["resourceVersion"] == status["metadata"]["resourceVersion"], "no-op"


def test_main_endpoint_ignores_status_and_status_endpoint_ignores_the_rest(store: Store) -> None:
    rt = store.type_for("testing.champion.dev", "rollouts")
    created = store.create(rt, "default", {**rollout(), "status": {"phase": "ignored"}})
    assert "status" not in created
    with_status = store.update(rt, "default", "chat", {**created, "status": {"phase": "A"}}, "status")  # fmt: skip
    after = store.update(rt, "default", "chat", {**with_status, "status": {"phase": "B"}})
    assert after["status"] == {"phase": "A"}
    sneaky = copy.deepcopy(after)
    sneaky["spec"]["model"] = "other"
    sneaky["metadata"]["labels"] = {"x": "y"}
    sneaky["status"] = {"phase": "C"}
    result = store.update(rt, "default", "chat", sneaky, "status")
    assert result["spec"]["model"] == "llama" and "labels" not in result["metadata"]
    assert result["status"] == {"phase": "C"} and result["metadata"]["generation"] == 1


def test_finalizers_hold_deletion_until_the_last_is_removed(store: Store) -> None:
    rt = store.type_for("testing.champion.dev", "rollouts")
    obj = rollout()
    obj["metadata"]["finalizers"] = ["a.dev/x", "b.dev/y"]
    store.create(rt, "default", obj)
    marked = store.delete(rt, "default", "chat")
    meta = marked["metadata"]
    assert meta["deletionTimestamp"] and meta["deletionGracePeriodSeconds"] == 0
    assert meta["generation"] == 2  # markAsDeleting bumps it, as kube-apiserver does
    current = store.get(rt, "default", "chat")
    current["metadata"]["finalizers"] = ["a.dev/x", "new.dev/z"]
    exc = _error(lambda: store.update(rt, "default", "chat", current))
    assert exc.code == 422 and "no new finalizers can be added" in exc.message
    current["metadata"]["finalizers"] = ["a.dev/x"]
    store.update(rt, "default", "chat", current)
    assert store.get(rt, "default", "chat")
    current = store.get(rt, "default", "chat")
    current["metadata"]["finalizers"] = []
    store.update(rt, "default", "chat", current)
    assert _error(lambda: store.get(rt, "default", "chat")).code == 404


def _owned(name: str, *owners: dict[str, Any], block: bool = False) -> dict[str, Any]:
    refs = [
        {"apiVersion": o["apiVersion"], "kind": o["kind"], "name": o["metadata"]["name"],
         "uid": o["metadata"]["uid"], **({"blockOwnerDeletion": True} if block else {})}
        for o in owners
    ]  # fmt: skip
    return configmap(name, ownerReferences=refs)


def _names(store: Store) -> list[str]:
    return [o["metadata"]["name"] for o in store.select(store.type_for("", "configmaps"), "default", lambda o: True)]  # fmt: skip


def test_deleting_an_owner_collects_dependents_once_no_owner_is_left(store: Store) -> None:
    cms = store.type_for("", "configmaps")
    ro = store.create(store.type_for("testing.champion.dev", "rollouts"), "default", rollout())
    other = store.create(cms, "default", configmap("other-owner"))
    store.create(cms, "default", _owned("child", ro))
    store.create(cms, "default", _owned("shared", ro, other))
    store.create(cms, "default", _owned("grandchild", store.get(cms, "default", "child")))
    store.delete(store.type_for("testing.champion.dev", "rollouts"), "default", "chat")
    assert _names(store) == ["other-owner", "shared"]
    shared = store.get(cms, "default", "shared")
    assert [r["name"] for r in shared["metadata"]["ownerReferences"]] == ["other-owner"]


def test_orphan_and_foreground_propagation(store: Store) -> None:
    cms = store.type_for("", "configmaps")
    owner = store.create(cms, "default", configmap("owner"))
    store.create(cms, "default", _owned("kept", owner))
    store.delete(cms, "default", "owner", propagation="Orphan")
    assert "ownerReferences" not in store.get(cms, "default", "kept")["metadata"]

    owner = store.create(cms, "default", configmap("owner2"))
    child = _owned("blocking", owner, block=True)
    child["metadata"]["finalizers"] = ["test.dev/hold"]
    store.create(cms, "default", child)
    marked = store.delete(cms, "default", "owner2", propagation="Foreground")
    assert marked["metadata"]["finalizers"] == ["foregroundDeletion"]
    held = store.get(cms, "default", "blocking")
    assert held["metadata"]["deletionTimestamp"]
    held["metadata"]["finalizers"] = []
    store.update(cms, "default", "blocking", held)
    assert _names(store) == ["kept"]


def test_namespace_termination_deletes_content_and_waits_for_finalizers(store: Store) -> None:
    ns_t, cms = store.type_for("", "namespaces"), store.type_for("", "configmaps")
    store.create(ns_t, None, {"metadata": {"name": "demo"}})
    store.create(cms, "demo", configmap("plain"))
    store.create(cms, "demo", configmap("held", finalizers=["test.dev/hold"]))
    marked = store.delete(ns_t, None, "demo")
    assert marked["status"]["phase"] == "Terminating"
    exc = _error(lambda: store.create(cms, "demo", configmap("late")))
    assert exc.code == 403 and "because it is being terminated" in exc.message
    held = store.get(cms, "demo", "held")
    held["metadata"]["finalizers"] = []
    store.update(cms, "demo", "held", held)
    assert _error(lambda: store.get(ns_t, None, "demo")).code == 404
    assert _error(lambda: store.delete(ns_t, None, "default")).code == 403


def test_deleting_a_crd_deletes_its_objects_then_stops_serving(store: Store) -> None:
    crd_t = store.type_for("apiextensions.k8s.io", "customresourcedefinitions")
    ro_t = store.type_for("testing.champion.dev", "rollouts")
    held = rollout()
    held["metadata"]["finalizers"] = ["test.dev/hold"]
    store.create(ro_t, "default", held)
    crd = store.delete(crd_t, None, "rollouts.testing.champion.dev")
    assert crd["metadata"]["deletionTimestamp"]
    assert _error(lambda: store.create(ro_t, "default", rollout("new"))).code == 405
    obj = store.get(ro_t, "default", "chat")
    obj["metadata"]["finalizers"] = []
    store.update(ro_t, "default", "chat", obj)
    assert _error(lambda: store.type_for("testing.champion.dev", "rollouts")).code == 404


@pytest.mark.parametrize(
    ("meta", "field", "text"),
    [
        ({"name": "Bad_Name"}, "metadata.name", "a lowercase RFC 1123 subdomain"),
        ({"name": "a", "labels": {"v": "sha256:abc"}}, "metadata.labels", "a valid label must be"),
        ({"name": "a", "labels": {"a/b/c": "x"}}, "metadata.labels", "a qualified name must"),
        (
            {"name": "a", "finalizers": ["bad finalizer"]},
            "metadata.finalizers[0]",
            "name part must",
        ),
    ],
)
def test_object_meta_is_validated_like_apimachinery(
    store: Store, meta: dict[str, Any], field: str, text: str
) -> None:
    exc = _error(lambda: store.create(store.type_for("", "configmaps"), "default", {"metadata": meta}))  # fmt: skip
    assert exc.code == 422
    assert [c["field"] for c in exc.details["causes"]] == [field]  # type: ignore[index]
    assert text in exc.message


def test_crd_names_and_cel_syntax_are_checked_when_the_crd_is_written(store: Store) -> None:
    crd_t = store.type_for("apiextensions.k8s.io", "customresourcedefinitions")
    bad = copy.deepcopy(CRD)
    bad["metadata"]["name"] = "wrong.testing.champion.dev"
    bad["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["x-kubernetes-validations"] = [
        {"rule": "self.spec.(("}
    ]
    exc = _error(lambda: store.create(crd_t, None, bad))
    fields = [c["field"] for c in exc.details["causes"]]  # type: ignore[index]
    assert fields == [
        "metadata.name",
        "spec.versions[0].schema.openAPIV3Schema.x-kubernetes-validations[0].rule",
    ]


def test_dry_run_persists_nothing(store: Store) -> None:
    rt = store.type_for("", "configmaps")
    rv = store.rv
    dry = store.create(rt, "default", configmap("d"), dry_run=True)
    assert dry["metadata"]["uid"] and "resourceVersion" not in dry["metadata"]
    assert store.rv == rv and not store.select(rt, "default", lambda o: o["metadata"]["name"] == "d")  # fmt: skip


def test_generate_name_and_secret_string_data(store: Store) -> None:
    cm = store.create(store.type_for("", "configmaps"), "default", {"metadata": {"generateName": "job-"}})  # fmt: skip
    assert cm["metadata"]["name"].startswith("job-") and len(cm["metadata"]["name"]) == 9
    secret = store.create(
        store.type_for("", "secrets"),
        "default",
        {"metadata": {"name": "s"}, "stringData": {"k": "v"}},
    )
    assert secret["data"] == {"k": "dg=="} and secret["type"] == "Opaque"
    assert "stringData" not in secret


def test_services_get_a_loopback_cluster_ip_that_survives_updates(store: Store) -> None:
    rt = store.type_for("", "services")
    svc = store.create(rt, "default", {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}})  # fmt: skip
    ip = svc["spec"]["clusterIP"]
    assert ip.startswith("127.") and svc["spec"]["ports"][0]["targetPort"] == 80
    replaced = store.update(rt, "default", "s", {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 81}]}})  # fmt: skip
    assert replaced["spec"]["clusterIP"] == ip
