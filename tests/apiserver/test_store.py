"""The emulated API server's storage semantics, as kopf and kubectl rely on them."""

from __future__ import annotations

import pytest

from champion.sandbox.apiserver.errors import ApiStatusError
from champion.sandbox.apiserver.selectors import field_matcher, label_matcher
from champion.sandbox.apiserver.store import Store


def cm(name: str, data: dict[str, str] | None = None, **meta: object) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, **meta},
        "data": data or {},
    }


@pytest.fixture
def store() -> Store:
    return Store()


def test_create_sets_uid_resource_version_generation_and_timestamp(store: Store) -> None:
    rt = store.type_for("", "configmaps")
    obj = store.create(rt, "default", cm("a"))
    meta = obj["metadata"]
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert meta["generation"] == 1
    assert int(meta["resourceVersion"]) > 0
    with pytest.raises(ApiStatusError) as exc:
        store.create(rt, "default", cm("a"))
    assert exc.value.code == 409 and exc.value.reason == "AlreadyExists"


def test_stale_resource_version_is_a_conflict(store: Store) -> None:
    rt = store.type_for("", "configmaps")
    first = store.create(rt, "default", cm("a"))
    store.update(rt, "default", "a", cm("a", {"k": "1"}))
    stale = cm("a", {"k": "2"}, resourceVersion=first["metadata"]["resourceVersion"])
    with pytest.raises(ApiStatusError) as exc:
        store.update(rt, "default", "a", stale)
    assert exc.value.code == 409 and exc.value.reason == "Conflict"


def test_generation_moves_on_spec_changes_only(store: Store) -> None:
    rt = store.type_for("apps", "deployments")
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"replicas": 1},
    }
    store.create(rt, "default", dep)
    labelled = store.update(
        rt, "default", "d", {**dep, "metadata": {"name": "d", "labels": {"a": "b"}}}
    )
    assert labelled["metadata"]["generation"] == 1
    scaled = store.update(rt, "default", "d", {**dep, "spec": {"replicas": 3}})
    assert scaled["metadata"]["generation"] == 2
    status = store.update(rt, "default", "d", {**scaled, "status": {"readyReplicas": 3}}, "status")
    assert status["metadata"]["generation"] == 2
    assert status["status"] == {"readyReplicas": 3}


def test_main_endpoint_ignores_status_and_status_endpoint_ignores_spec(store: Store) -> None:
    rt = store.type_for("apps", "deployments")
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"replicas": 1},
    }
    store.create(rt, "default", {**dep, "status": {"readyReplicas": 9}})
    got = store.get(rt, "default", "d")
    assert "status" not in got
    store.update(rt, "default", "d", {**dep, "status": {"readyReplicas": 1}}, "status")
    after = store.update(rt, "default", "d", {**dep, "status": {"readyReplicas": 7}})
    assert after["status"] == {"readyReplicas": 1}
    sneaky = store.update(
        rt,
        "default",
        "d",
        {**dep, "spec": {"replicas": 5}, "status": {"readyReplicas": 2}},
        "status",
    )
    assert sneaky["spec"] == {"replicas": 1} and sneaky["status"] == {"readyReplicas": 2}


def test_finalizers_hold_deletion_until_removed(store: Store) -> None:
    rt = store.type_for("", "configmaps")
    store.create(rt, "default", cm("a", finalizers=["x/y"]))
    marked = store.delete(rt, "default", "a")
    assert marked["metadata"]["deletionTimestamp"]
    assert store.get(rt, "default", "a")
    current = store.get(rt, "default", "a")
    current["metadata"]["finalizers"] = []
    store.update(rt, "default", "a", current)
    with pytest.raises(ApiStatusError) as exc:
        store.get(rt, "default", "a")
    assert exc.value.code == 404


def test_deleting_an_owner_collects_its_dependents(store: Store) -> None:
    rt = store.type_for("", "configmaps")
    owner = store.create(rt, "default", cm("owner"))
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "owner",
        "uid": owner["metadata"]["uid"],
    }
    store.create(rt, "default", cm("child", ownerReferences=[ref]))
    store.create(rt, "default", cm("unrelated"))
    store.delete(rt, "default", "owner")
    names = [o["metadata"]["name"] for o in store.select(rt, "default", lambda o: True)]
    assert names == ["unrelated"]


def test_namespaced_create_needs_an_existing_namespace(store: Store) -> None:
    rt = store.type_for("", "configmaps")
    with pytest.raises(ApiStatusError) as exc:
        store.create(rt, "nope", cm("a"))
    assert exc.value.code == 404


def test_watch_history_replays_events_after_a_resource_version(store: Store) -> None:
    rt = store.type_for("", "configmaps")
    a = store.create(rt, "default", cm("a"))
    store.create(rt, "default", cm("b"))
    store.delete(rt, "default", "a")
    events = store.events_since(
        rt, "default", int(a["metadata"]["resourceVersion"]), lambda o: True
    )
    assert [(k, o["metadata"]["name"]) for k, o in events] == [("ADDED", "b"), ("DELETED", "a")]


def test_services_get_a_loopback_cluster_ip(store: Store) -> None:
    rt = store.type_for("", "services")
    svc = store.create(
        rt,
        "default",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "s"},
            "spec": {"ports": [{"port": 80}]},
        },
    )
    assert svc["spec"]["clusterIP"].startswith("127.")


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=a", ["1"]),
        ("app==a", ["1"]),
        ("app!=a", ["2", "3"]),
        ("app in (a,b)", ["1", "2"]),
        ("app notin (a)", ["2", "3"]),
        ("tier", ["1", "2"]),
        ("!tier", ["3"]),
        ("app=a,tier=web", ["1"]),
    ],
)
def test_label_selectors(selector: str, expected: list[str]) -> None:
    objs = [
        {"metadata": {"name": "1", "labels": {"app": "a", "tier": "web"}}},
        {"metadata": {"name": "2", "labels": {"app": "b", "tier": "db"}}},
        {"metadata": {"name": "3", "labels": {}}},
    ]
    match = label_matcher(selector)
    assert [o["metadata"]["name"] for o in objs if match(o)] == expected


def test_field_selectors() -> None:
    objs = [
        {"metadata": {"name": "x", "namespace": "a"}},
        {"metadata": {"name": "y", "namespace": "b"}},
    ]
    assert [o["metadata"]["name"] for o in objs if field_matcher("metadata.namespace=b")(o)] == [
        "y"
    ]
    assert [o["metadata"]["name"] for o in objs if field_matcher("metadata.name!=x")(o)] == ["y"]
