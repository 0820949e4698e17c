"""Object metadata and write semantics: uid, resourceVersion, generation, 409 conflicts, Status
bodies, the status subresource, finalizers and deletionTimestamp, dry runs."""

from __future__ import annotations

import copy

import pytest
from tests.conformance.conftest import (
    CONFIGMAPS,
    GROUP,
    JSON_PATCH,
    WIDGETS,
    Api,
    Response,
    configmap,
    widget,
)
from tests.helpers import eventually

CONFLICT = (
    f'Operation cannot be fulfilled on widgets.{GROUP} "chat": the object has been modified; '
    "please apply your changes to the latest version and try again"
)


async def test_create_sets_uid_timestamp_resource_version_and_generation(server: Api) -> None:
    created = await server.create(WIDGETS, widget())
    meta = created["metadata"]
    assert len(meta["uid"]) == 36 and meta["creationTimestamp"].endswith("Z")
    assert isinstance(meta["resourceVersion"], str) and int(meta["resourceVersion"]) > 0
    assert meta["generation"] == 1 and meta["namespace"] == server.namespace
    cm = await server.create(CONFIGMAPS, configmap("c"))
    assert int(cm["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])
    assert "generation" not in cm["metadata"], "a ConfigMap has none"


async def test_create_is_201_duplicate_is_409_already_exists(server: Api) -> None:
    await server.create(CONFIGMAPS, configmap("a"))
    again = await server.post(server.path(CONFIGMAPS), configmap("a"))
    assert (again.status, again.body["reason"], again.body["kind"]) == (409, "AlreadyExists", "Status")  # fmt: skip
    assert again.body["message"] == 'configmaps "a" already exists'
    assert again.body["details"] == {"name": "a", "kind": "configmaps"}


async def test_a_missing_object_is_404_in_the_status_shape(server: Api) -> None:
    resp = await server.get(server.path(WIDGETS, "nope"))
    assert resp.status == 404
    assert resp.body == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f'widgets.{GROUP} "nope" not found', "reason": "NotFound",
        "details": {"name": "nope", "group": GROUP, "kind": "widgets"}, "code": 404,
    }  # fmt: skip


async def test_a_stale_resource_version_is_409_conflict_on_put_and_patch(server: Api) -> None:
    first = await server.create(WIDGETS, widget())
    path = server.path(WIDGETS, "chat")
    second = await server.put(path, {**first, "spec": {"model": "b"}})
    assert second.status == 200
    assert int(second.body["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])  # fmt: skip
    stale = await server.put(path, {**first, "spec": {"model": "c"}})
    assert (stale.status, stale.body["reason"], stale.body["message"]) == (
        409,
        "Conflict",
        CONFLICT,
    )
    stale_patch = {"metadata": {"resourceVersion": first["metadata"]["resourceVersion"]},
                   "spec": {"model": "d"}}  # fmt: skip
    assert (await server.patch(path, stale_patch)).status == 409
    fresh = await server.patch(path, {"spec": {"model": "e"}})
    assert fresh.status == 200 and fresh.body["spec"]["model"] == "e"
    assert fresh.body["metadata"]["generation"] == 3


async def test_put_without_a_resource_version_is_refused_for_custom_resources(server: Api) -> None:
    created = await server.create(WIDGETS, widget())
    body = copy.deepcopy(created)
    del body["metadata"]["resourceVersion"]
    resp = await server.put(server.path(WIDGETS, "chat"), body)
    assert resp.status == 422, resp.body
    assert resp.body["message"] == (
        f'widgets.{GROUP} "chat" is invalid: '
        "metadata.resourceVersion: Invalid value: 0: must be specified for an update"
    )


async def test_a_uid_precondition_that_does_not_match_is_409(server: Api) -> None:
    created = await server.create(CONFIGMAPS, configmap("u"))
    body = copy.deepcopy(created)
    body["metadata"]["uid"] = "00000000-0000-0000-0000-000000000000"
    resp = await server.put(server.path(CONFIGMAPS, "u"), body)
    assert resp.status == 409 and resp.body["reason"] == "Conflict"
    assert "Precondition failed: UID in precondition: 00000000-0000-0000-0000-000000000000" in resp.body["message"]  # fmt: skip


async def test_json_patch_test_op_guards_the_resource_version_as_kopf_uses_it(server: Api) -> None:
    created = await server.create(WIDGETS, widget())
    rv = created["metadata"]["resourceVersion"]
    add = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
        {"op": "add", "path": "/metadata/finalizers", "value": ["kopf.zalando.org/KopfFinalizerMarker"]},
    ]  # fmt: skip
    path = server.path(WIDGETS, "chat")
    ok = await server.patch(path, add, JSON_PATCH)
    assert ok.status == 200 and ok.body["metadata"]["finalizers"] == ["kopf.zalando.org/KopfFinalizerMarker"]  # fmt: skip
    again = await server.patch(path, add, JSON_PATCH)
    assert again.status == 422 and again.body["reason"] == "Invalid"
    await server.patch(path, {"metadata": {"finalizers": None}})


async def test_generation_moves_on_spec_changes_only(server: Api) -> None:
    await server.create(WIDGETS, widget())
    path = server.path(WIDGETS, "chat")
    labelled = await server.patch(path, {"metadata": {"labels": {"a": "b"}, "annotations": {"n": "1"}}})  # fmt: skip
    assert labelled.body["metadata"]["generation"] == 1
    changed = await server.patch(path, {"spec": {"model": "mistral"}})
    assert changed.body["metadata"]["generation"] == 2
    status = await server.patch(server.path(WIDGETS, "chat", "status"), {"status": {"phase": "x"}})
    assert status.body["metadata"]["generation"] == 2
    assert int(status.body["metadata"]["resourceVersion"]) > int(changed.body["metadata"]["resourceVersion"])  # fmt: skip


async def test_a_no_op_write_keeps_the_resource_version(server: Api) -> None:
    created = await server.create(WIDGETS, widget())
    path = server.path(WIDGETS, "chat")
    same = await server.patch(path, {"spec": {"model": "llama"}})
    assert same.status == 200
    assert same.body["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    put = await server.put(path, same.body)
    assert put.body["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_the_main_endpoint_drops_status_on_create_and_keeps_it_on_update(server: Api) -> None:
    created = await server.create(WIDGETS, {**widget(), "status": {"phase": "ignored"}})
    assert "status" not in created
    path = server.path(WIDGETS, "chat")
    with_status = await server.patch(server.path(WIDGETS, "chat", "status"), {"status": {"phase": "A"}})  # fmt: skip
    assert with_status.body["status"] == {"phase": "A"}
    main = await server.patch(path, {"spec": {"model": "mistral"}, "status": {"phase": "B"}})
    assert main.body["status"] == {"phase": "A"} and main.body["spec"]["model"] == "mistral"
    got = await server.get(server.path(WIDGETS, "chat", "status"))
    assert got.status == 200 and got.body["status"] == {"phase": "A"}


async def test_the_status_endpoint_changes_only_status(server: Api) -> None:
    await server.create(WIDGETS, widget())
    sneaky = {"metadata": {"labels": {"x": "y"}}, "spec": {"model": "other"}, "status": {"phase": "C"}}  # fmt: skip
    resp = await server.patch(server.path(WIDGETS, "chat", "status"), sneaky)
    assert resp.status == 200
    assert resp.body["spec"]["model"] == "llama" and "labels" not in resp.body["metadata"]
    assert resp.body["status"] == {"phase": "C"} and resp.body["metadata"]["generation"] == 1


async def test_finalizers_hold_deletion_until_the_last_is_removed(server: Api) -> None:
    held = widget()
    held["metadata"]["finalizers"] = ["a.dev/x", "b.dev/y"]
    await server.create(WIDGETS, held)
    path = server.path(WIDGETS, "chat")
    marked = await server.delete(path)
    assert marked.status == 200
    meta = marked.body["metadata"]
    assert meta["deletionTimestamp"] and meta["deletionGracePeriodSeconds"] == 0
    assert meta["generation"] == 2, "marking for deletion bumps it"
    assert (await server.get(path)).status == 200
    added = await server.patch(path, {"metadata": {"finalizers": ["a.dev/x", "new.dev/z"]}})
    assert added.status == 422
    assert "no new finalizers can be added if the object is being deleted" in added.body["message"]
    spec = await server.patch(path, {"spec": {"model": "other"}})
    assert spec.status == 200, "a terminating object can still be updated"
    one_left = await server.patch(path, {"metadata": {"finalizers": ["a.dev/x"]}})
    assert one_left.status == 200 and (await server.get(path)).status == 200
    last = await server.patch(path, {"metadata": {"finalizers": []}})
    assert last.status == 200
    assert (await server.get(path)).status == 404


async def test_deleting_twice_keeps_the_first_deletion_timestamp(server: Api) -> None:
    held = configmap("held", finalizers=["a.dev/x"])
    await server.create(CONFIGMAPS, held)
    path = server.path(CONFIGMAPS, "held")
    first = await server.delete(path)
    second = await server.delete(path)
    assert second.status == 200
    assert second.body["metadata"]["deletionTimestamp"] == first.body["metadata"]["deletionTimestamp"]  # fmt: skip
    await server.patch(path, {"metadata": {"finalizers": None}})
    assert (await server.delete(path)).status == 404


async def test_delete_preconditions(server: Api) -> None:
    created = await server.create(CONFIGMAPS, configmap("p"))
    path = server.path(CONFIGMAPS, "p")
    wrong = {"preconditions": {"resourceVersion": "1"}}
    resp = await server.delete(path, wrong)
    assert resp.status == 409 and resp.body["reason"] == "Conflict"
    right = {"preconditions": {"uid": created["metadata"]["uid"]}}
    assert (await server.delete(path, right)).status == 200


async def test_dry_run_stores_nothing(server: Api) -> None:
    resp = await server.post(server.path(CONFIGMAPS), configmap("d"), params={"dryRun": "All"})
    assert resp.status == 201 and resp.body["metadata"]["uid"]
    assert (await server.get(server.path(CONFIGMAPS, "d"))).status == 404


async def test_generate_name(server: Api) -> None:
    created = await server.create(CONFIGMAPS, {"metadata": {"generateName": "job-"}})
    name = created["metadata"]["name"]
    assert name.startswith("job-") and len(name) == 9


@pytest.mark.parametrize(
    ("meta", "fields", "text"),
    [
        ({"name": "Bad_Name"}, ["metadata.name"], "a lowercase RFC 1123 subdomain must consist of"),
        ({"name": "a", "labels": {"v": "sha256:abc"}}, ["metadata.labels"], "a valid label must be"),
        pytest.param({"name": "a", "labels": {"a/b/c": "x"}}, ["metadata.labels"], "a valid label key must consist of",
                     marks=pytest.mark.emulator_differs('words a key with two slashes "a qualified name must consist of"')),
        pytest.param({"name": "a", "finalizers": ["bad finalizer"]}, ["metadata.finalizers", "metadata.finalizers[0]"],
                     "name is neither a standard finalizer name nor is it fully qualified",
                     marks=pytest.mark.emulator_differs(
                         "a finalizer's name errors are at metadata.finalizers[i], and a built-in kind's"
                         " finalizer without a domain is not refused")),
    ],
)  # fmt: skip
async def test_object_meta_is_validated(server: Api, meta: dict[str, object], fields: list[str], text: str) -> None:  # fmt: skip
    resp = await server.post(server.path(CONFIGMAPS), {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta})  # fmt: skip
    assert resp.status == 422 and resp.body["reason"] == "Invalid"
    assert [c["field"] for c in resp.body["details"]["causes"]] == fields
    assert text in resp.body["message"]


async def test_lists_have_their_kind_a_resource_version_and_pages(server: Api) -> None:
    for i in range(5):
        await server.create(CONFIGMAPS, configmap(f"c{i}"))
    listed = await server.get(server.path(CONFIGMAPS))
    assert listed.body["kind"] == "ConfigMapList" and listed.body["apiVersion"] == "v1"
    assert int(listed.body["metadata"]["resourceVersion"]) > 0
    names: list[str] = []
    token = None
    while True:
        params = {"limit": "2", **({"continue": token} if token else {})}
        page = await server.get(server.path(CONFIGMAPS), params=params)
        names += [o["metadata"]["name"] for o in page.body["items"]]
        assert len(page.body["items"]) <= 2
        token = page.body["metadata"].get("continue")
        if not token:
            break
    assert [n for n in names if n.startswith("c")] == ["c0", "c1", "c2", "c3", "c4"]
    widgets = await server.get(server.path(WIDGETS))
    assert widgets.body["kind"] == "WidgetList" and widgets.body["items"] == []


async def test_namespaces(server: Api) -> None:
    ns = await server.get(f"/api/v1/namespaces/{server.namespace}")
    assert ns.body["status"] == {"phase": "Active"}
    assert ns.body["spec"] == {"finalizers": ["kubernetes"]}
    listed = await server.get("/api/v1/namespaces")
    names = {o["metadata"]["name"] for o in listed.body["items"]}
    assert {"default", "kube-system", "kube-public", "kube-node-lease", server.namespace} <= names
    missing = await server.post("/api/v1/namespaces/nope-missing/configmaps", configmap("c"))
    assert missing.status == 404 and missing.body["message"] == 'namespaces "nope-missing" not found'  # fmt: skip
    default = await server.delete("/api/v1/namespaces/default")
    assert default.status == 403


async def test_a_terminating_namespace_refuses_new_objects(server: Api) -> None:
    await server.create(CONFIGMAPS, configmap("held", finalizers=["test.dev/hold"]))
    marked = await server.delete(f"/api/v1/namespaces/{server.namespace}")
    assert marked.status == 200

    # A real server's admission reads namespaces from its informer: it may take a moment.
    async def refused() -> Response | None:
        late = await server.post(server.path(CONFIGMAPS), {"metadata": {"generateName": "late-"}})
        return late if late.status == 403 else None

    late = await eventually(refused, timeout=10, what="creates refused in the namespace")
    assert "because it is being terminated" in late.body["message"]
    await server.patch(server.path(CONFIGMAPS, "held"), {"metadata": {"finalizers": None}})


@pytest.mark.emulator_differs("it reports itself as v1.35")
async def test_version(server: Api) -> None:
    version = (await server.get("/version")).body
    assert (version["major"], version["minor"]) == ("1", "36")
    assert version["gitVersion"].startswith("v1.36.")


@pytest.mark.emulator_differs("it sends no warning for a finalizer without a domain")
async def test_a_custom_resources_finalizer_without_a_domain_is_a_warning(server: Api) -> None:
    obj = widget()
    obj["metadata"]["finalizers"] = ["cleanup"]
    resp = await server.post(server.path(WIDGETS), obj)
    assert resp.status == 201, resp.body
    assert resp.warnings == [
        '299 - "metadata.finalizers: \\"cleanup\\": prefer a domain-qualified finalizer name to '
        'avoid accidental conflicts with other finalizer writers"'
    ]
    await server.patch(server.path(WIDGETS, "chat"), {"metadata": {"finalizers": None}})
