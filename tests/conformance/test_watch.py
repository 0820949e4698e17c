"""Label and field selectors on lists and watches; watch streams, resuming from a
resourceVersion, 410 Expired for old ones, the WatchList protocol and timeoutSeconds."""

from __future__ import annotations

import time

import pytest
from tests.conformance.conftest import (
    CONFIGMAPS,
    GROUP,
    ROOT_CA,
    WIDGETS,
    Api,
    Response,
    configmap,
    widget,
)
from tests.helpers import eventually

PODS = ("v1", "pods")


def _names(listed: dict[str, object]) -> list[str]:
    items = listed["items"]
    assert isinstance(items, list)
    return sorted(o["metadata"]["name"] for o in items if o["metadata"]["name"] != ROOT_CA)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=a", ["1"]),
        ("app==a", ["1"]),
        ("app!=a", ["2", "3"]),
        ("app in (a,b)", ["1", "2"]),
        ("app in (a, b)", ["1", "2"]),
        ("app notin (a)", ["2", "3"]),
        ("tier", ["1", "2"]),
        ("!tier", ["3"]),
        ("app=a,tier=web", ["1"]),
        ("app in (a,b),tier!=db", ["1"]),
    ],
)
async def test_label_selectors(server: Api, selector: str, expected: list[str]) -> None:
    await server.create(CONFIGMAPS, configmap("1", labels={"app": "a", "tier": "web"}))
    await server.create(CONFIGMAPS, configmap("2", labels={"app": "b", "tier": "db"}))
    await server.create(CONFIGMAPS, configmap("3"))
    listed = await server.get(server.path(CONFIGMAPS), params={"labelSelector": selector})
    assert listed.status == 200, listed.body
    assert _names(listed.body) == expected


async def test_a_malformed_label_selector_is_400(server: Api) -> None:
    resp = await server.get(server.path(CONFIGMAPS), params={"labelSelector": "app in a"})
    assert resp.status == 400 and resp.body["reason"] == "BadRequest"


async def test_field_selectors_on_name_and_namespace(server: Api) -> None:
    for name in ("web", "db"):
        await server.create(CONFIGMAPS, configmap(name))
    by_name = await server.get(server.path(CONFIGMAPS), params={"fieldSelector": "metadata.name=db"})  # fmt: skip
    assert _names(by_name.body) == ["db"]
    not_name = await server.get(server.path(CONFIGMAPS), params={"fieldSelector": "metadata.name!=db"})  # fmt: skip
    assert _names(not_name.body) == ["web"]
    across = await server.get("/api/v1/configmaps", params={"fieldSelector": f"metadata.namespace=={server.namespace},metadata.name=web"})  # fmt: skip
    assert _names(across.body) == ["web"]


async def test_an_unsupported_field_of_a_custom_resource_is_400(server: Api) -> None:
    resp = await server.get(server.path(WIDGETS), params={"fieldSelector": "spec.tier=gold"})
    assert (resp.status, resp.body["message"]) == (400, "field label not supported: spec.tier")
    pods = await server.get(server.path(PODS), params={"fieldSelector": "spec.foo=x"})
    assert (pods.status, pods.body["message"]) == (400, "field label not supported: spec.foo")


@pytest.mark.emulator_differs('words it "field label not supported: data.x" for every kind')
async def test_an_unsupported_field_of_a_configmap_is_400_naming_the_known_ones(server: Api) -> None:  # fmt: skip
    resp = await server.get(server.path(CONFIGMAPS), params={"fieldSelector": "data.x=1"})
    assert resp.status == 400
    assert resp.body["message"] == (
        '"data.x" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )


async def test_a_crds_selectable_fields(server: Api) -> None:
    await server.create(WIDGETS, widget("a", model="llama"))
    await server.create(WIDGETS, widget("b", model="mistral"))
    listed = await server.get(server.path(WIDGETS), params={"fieldSelector": "spec.model=mistral"})
    assert listed.status == 200 and _names(listed.body) == ["b"]


async def test_pod_field_selectors(server: Api) -> None:
    for name, node in (("p1", "node-a"), ("p2", "node-b")):
        pod: dict[str, object] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
               "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]}}  # fmt: skip

        # A real server admits a Pod only once its namespace's "default" ServiceAccount exists,
        # which the real controller-manager creates a moment after the namespace.
        async def admitted(body: dict[str, object] = pod) -> Response | None:
            resp = await server.post(server.path(PODS), body)
            return resp if resp.status == 201 else None

        await eventually(admitted, timeout=10, what=f"pod {name} admitted")
    listed = await server.get(server.path(PODS), params={"fieldSelector": "spec.nodeName=node-b"})
    assert _names(listed.body) == ["p2"]
    phase = await server.get(server.path(PODS), params={"fieldSelector": "status.phase=Pending"})
    assert _names(phase.body) == ["p1", "p2"]


async def test_watch_streams_added_modified_deleted(server: Api) -> None:
    async with server.watch(server.path(CONFIGMAPS), fieldSelector="metadata.name=w") as stream:
        await server.create(CONFIGMAPS, configmap("w"))
        await server.patch(server.path(CONFIGMAPS, "w"), {"data": {"k": "1"}})
        await server.delete(server.path(CONFIGMAPS, "w"))
        events = await stream.next(3)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w"),
    ]  # fmt: skip
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(set(rvs))


async def test_watch_resumes_after_a_resource_version(server: Api) -> None:
    first = await server.create(CONFIGMAPS, configmap("r"))
    await server.patch(server.path(CONFIGMAPS, "r"), {"data": {"k": "2"}})
    await server.create(CONFIGMAPS, configmap("s"))
    rv = first["metadata"]["resourceVersion"]
    async with server.watch(server.path(CONFIGMAPS), resourceVersion=rv) as stream:
        events = await stream.next(2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("MODIFIED", "r"), ("ADDED", "s")]  # fmt: skip


async def test_a_watch_without_a_resource_version_starts_with_the_current_objects(server: Api) -> None:  # fmt: skip
    await server.create(CONFIGMAPS, configmap("x", labels={"pick": "me"}))
    async with server.watch(server.path(CONFIGMAPS), labelSelector="pick=me") as stream:
        [event] = await stream.next(1)
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "x")


async def test_a_filtered_watch_sees_objects_enter_and_leave_the_selection(server: Api) -> None:
    await server.create(CONFIGMAPS, configmap("web", labels={"app": "web"}))
    listed = await server.get(server.path(CONFIGMAPS), params={"labelSelector": "app=web"})
    rv = listed.body["metadata"]["resourceVersion"]
    params = {"labelSelector": "app=web", "resourceVersion": rv}
    async with server.watch(server.path(CONFIGMAPS), **params) as stream:
        await server.create(CONFIGMAPS, configmap("db", labels={"app": "db"}))
        await server.patch(server.path(CONFIGMAPS, "db"), {"metadata": {"labels": {"app": "web"}}})
        await server.patch(
            server.path(CONFIGMAPS, "web"), {"metadata": {"labels": {"app": "gone"}}}
        )
        events = await stream.next(2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "db"), ("DELETED", "web")]  # fmt: skip
    left = events[1]["object"]["metadata"]
    assert left["labels"] == {"app": "web"}, "the state that matched, at the new resourceVersion"
    assert int(left["resourceVersion"]) > int(events[0]["object"]["metadata"]["resourceVersion"])


async def test_a_resumed_filtered_watch_replays_an_object_leaving_the_selection(server: Api) -> None:  # fmt: skip
    await server.create(CONFIGMAPS, configmap("web", labels={"app": "web", "tier": "a"}))
    listed = await server.get(server.path(CONFIGMAPS), params={"labelSelector": "app=web"})
    rv = listed.body["metadata"]["resourceVersion"]
    moved = await server.patch(server.path(CONFIGMAPS, "web"), {"metadata": {"labels": {"app": "gone"}}, "data": {"k": "v"}})  # fmt: skip
    params = {"labelSelector": "app=web", "resourceVersion": rv}
    async with server.watch(server.path(CONFIGMAPS), **params) as stream:
        [event] = await stream.next(1)
    assert event["type"] == "DELETED"
    meta = event["object"]["metadata"]
    assert meta["labels"] == {"app": "web", "tier": "a"}
    assert meta["resourceVersion"] == moved.body["metadata"]["resourceVersion"]
    assert "data" not in event["object"], "the state that matched"


async def test_a_watch_on_a_named_object(server: Api) -> None:
    await server.create(WIDGETS, widget("one"))
    await server.create(WIDGETS, widget("two"))
    async with server.watch(server.path(WIDGETS), fieldSelector="metadata.name=two") as stream:
        [added] = await stream.next(1)
        await server.patch(server.path(WIDGETS, "one", "status"), {"status": {"phase": "A"}})
        await server.patch(server.path(WIDGETS, "two", "status"), {"status": {"phase": "B"}})
        [modified] = await stream.next(1)
    assert (added["type"], added["object"]["metadata"]["name"]) == ("ADDED", "two")
    assert (modified["type"], modified["object"]["status"]) == ("MODIFIED", {"phase": "B"})


async def test_a_watch_from_before_the_kinds_watch_cache_is_410_expired(server: Api) -> None:
    # A real server's watch cache of a custom resource starts when its CRD is established
    # (long after resourceVersion 1); an older resourceVersion is "too old".
    await server.create(WIDGETS, widget())
    async with server.watch(server.path(WIDGETS), resourceVersion="1") as stream:
        assert stream.status == 200, "the error comes as an event in the stream"
        [event] = await stream.next(1)
    assert event["type"] == "ERROR"
    assert (event["object"]["code"], event["object"]["reason"]) == (410, "Expired")
    assert event["object"]["message"].startswith("too old resource version: 1")


@pytest.mark.emulator_differs("a list's resourceVersion and resourceVersionMatch are ignored")
async def test_a_list_at_an_exact_resource_version_is_the_state_then(server: Api) -> None:
    first = await server.create(CONFIGMAPS, configmap("a"))
    await server.create(CONFIGMAPS, configmap("b"))
    rv = first["metadata"]["resourceVersion"]
    params = {"resourceVersion": rv, "resourceVersionMatch": "Exact"}
    listed = await server.get(server.path(CONFIGMAPS), params=params)
    assert listed.status == 200 and listed.body["metadata"]["resourceVersion"] == rv
    assert _names(listed.body) == ["a"]


@pytest.mark.emulator_differs("a list's resourceVersion and resourceVersionMatch are ignored")
async def test_a_list_at_a_resource_version_nothing_keeps_is_410_expired(server: Api) -> None:
    # Older than the kind's watch cache (which starts when its CRD is established) and, once
    # etcd is compacted, than etcd's history too.
    await server.create(WIDGETS, widget())
    await server.compact()
    params = {"resourceVersion": "1", "resourceVersionMatch": "Exact"}
    resp = await server.get(server.path(WIDGETS), params=params)
    assert resp.status == 410, resp.body
    assert resp.body["reason"] == "Expired"
    assert resp.body["message"] == "The resourceVersion for the provided list is too old."


async def test_a_watch_from_a_compacted_resource_version_still_in_the_watch_cache(server: Api) -> None:  # fmt: skip
    first = await server.create(WIDGETS, widget("a"))
    await server.create(WIDGETS, widget("b"))
    await server.compact()
    rv = first["metadata"]["resourceVersion"]
    async with server.watch(server.path(WIDGETS), resourceVersion=rv) as stream:
        [event] = await stream.next(1)
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "b")


async def test_initial_events_end_with_a_bookmark_and_timeout_seconds_ends_the_stream(server: Api) -> None:  # fmt: skip
    await server.create(CONFIGMAPS, configmap("x"))
    params = {"sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan",
              "allowWatchBookmarks": "true", "timeoutSeconds": "2", "resourceVersion": ""}  # fmt: skip
    started = time.monotonic()
    async with server.watch(server.path(CONFIGMAPS), **params) as stream:
        events = await stream.rest(timeout=10)
    elapsed = time.monotonic() - started
    assert 1.5 < elapsed < 5, f"timeoutSeconds ends the stream ({elapsed:.1f}s)"
    names = [e["object"]["metadata"]["name"] for e in events if e["type"] == "ADDED"]
    assert names == ["x"]
    [end] = [e for e in events if e["type"] == "BOOKMARK"][:1]
    assert end["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert [e["type"] for e in events].index("BOOKMARK") == len(names)


async def test_send_initial_events_needs_not_older_than(server: Api) -> None:
    resp = await server.get(server.path(CONFIGMAPS), params={"watch": "true", "sendInitialEvents": "true"})  # fmt: skip
    assert resp.status == 422 and resp.body["reason"] == "Invalid"


async def test_watch_of_a_custom_resource_kind(server: Api) -> None:
    async with server.watch(server.path(WIDGETS)) as stream:
        await server.create(WIDGETS, widget())
        [event] = await stream.next(1)
    assert event["type"] == "ADDED" and event["object"]["apiVersion"] == f"{GROUP}/v1"
