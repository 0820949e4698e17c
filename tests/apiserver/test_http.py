"""The emulated API server over HTTP: status codes, Status bodies, lists, watches,
subresources, discovery, OpenAPI, Table printing and content negotiation."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import kmock

from tests.apiserver.conftest import CM, RO, configmap, rollout
from tests.emulator.apiserver import ApiServer

MERGE = {"Content-Type": "application/merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
TABLE = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}


async def _json(resp: aiohttp.ClientResponse) -> tuple[int, Any]:
    return resp.status, await resp.json(content_type=None)


async def _events(resp: aiohttp.ClientResponse, count: int, deadline: float = 5) -> list[Any]:
    events = []
    async with asyncio.timeout(deadline):
        while len(events) < count:
            line = await resp.content.readline()
            assert line, f"the stream ended after {events}"
            events.append(json.loads(line))
    return events


async def test_create_is_201_duplicate_is_409_missing_is_404(http: aiohttp.ClientSession) -> None:
    status, created = await _json(await http.post(RO, json=rollout()))
    assert status == 201 and created["metadata"]["generation"] == 1
    status, body = await _json(await http.post(RO, json=rollout()))
    assert (status, body["reason"], body["kind"]) == (409, "AlreadyExists", "Status")
    status, body = await _json(await http.get(f"{RO}/nope"))
    assert status == 404 and body == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'rollouts.testing.champion.dev "nope" not found', "reason": "NotFound",
        "details": {"name": "nope", "group": "testing.champion.dev", "kind": "rollouts"}, "code": 404,
    }  # fmt: skip


async def test_stale_writes_are_409_conflict(http: aiohttp.ClientSession) -> None:
    _, first = await _json(await http.post(RO, json=rollout()))
    status, second = await _json(await http.put(f"{RO}/chat", json={**first, "spec": {"model": "b"}}))  # fmt: skip
    assert status == 200 and int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])  # fmt: skip
    status, body = await _json(await http.put(f"{RO}/chat", json={**first, "spec": {"model": "c"}}))  # fmt: skip
    assert (status, body["reason"]) == (409, "Conflict")
    stale = {"metadata": {"resourceVersion": first["metadata"]["resourceVersion"]}, "spec": {"model": "d"}}  # fmt: skip
    status, _ = await _json(await http.patch(f"{RO}/chat", data=json.dumps(stale), headers=MERGE))
    assert status == 409
    status, body = await _json(await http.patch(f"{RO}/chat", data=json.dumps({"spec": {"model": "e"}}), headers=MERGE))  # fmt: skip
    assert status == 200 and body["spec"]["model"] == "e" and body["metadata"]["generation"] == 3


async def test_json_patch_test_op_guards_the_resource_version_as_kopf_uses_it(
    http: aiohttp.ClientSession,
) -> None:
    _, obj = await _json(await http.post(RO, json=rollout()))
    rv = obj["metadata"]["resourceVersion"]

    def add_finalizer(version: str) -> str:
        return json.dumps([
            {"op": "test", "path": "/metadata/resourceVersion", "value": version},
            {"op": "add", "path": "/metadata/finalizers", "value": ["kopf.zalando.org/KopfFinalizerMarker"]},
        ])  # fmt: skip

    status, body = await _json(await http.patch(f"{RO}/chat", data=add_finalizer(rv), headers=JSON_PATCH))  # fmt: skip
    assert status == 200 and body["metadata"]["finalizers"] == ["kopf.zalando.org/KopfFinalizerMarker"]  # fmt: skip
    status, _ = await _json(await http.patch(f"{RO}/chat", data=add_finalizer(rv), headers=JSON_PATCH))  # fmt: skip
    assert status == 422


async def test_lists_have_their_kind_a_resource_version_and_pages(
    http: aiohttp.ClientSession, server: ApiServer
) -> None:
    for i in range(5):
        server.seed(configmap(f"c{i}", namespace="default"))
    status, listed = await _json(await http.get(CM))
    assert status == 200 and listed["kind"] == "ConfigMapList" and listed["apiVersion"] == "v1"
    assert listed["metadata"]["resourceVersion"] == str(server.store.rv)
    names, token = [], None
    while True:
        params = {"limit": "2", **({"continue": token} if token else {})}
        _, page = await _json(await http.get(CM, params=params))
        names += [o["metadata"]["name"] for o in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
    assert names == ["c0", "c1", "c2", "c3", "c4"]


async def test_selectors_on_list_and_watch(http: aiohttp.ClientSession, server: ApiServer) -> None:
    server.seed(configmap("web", namespace="default", labels={"app": "web"}))
    server.seed(configmap("db", namespace="default", labels={"app": "db"}))
    _, listed = await _json(await http.get(CM, params={"labelSelector": "app in (web)"}))
    assert [o["metadata"]["name"] for o in listed["items"]] == ["web"]
    _, listed = await _json(await http.get("/api/v1/configmaps", params={"fieldSelector": "metadata.name=db"}))  # fmt: skip
    assert [o["metadata"]["name"] for o in listed["items"]] == ["db"]
    status, body = await _json(await http.get(CM, params={"fieldSelector": "data.x=1"}))
    assert (status, body["message"]) == (400, "field label not supported: data.x")
    before = str(server.store.rv)
    params = {"watch": "true", "labelSelector": "app=web", "resourceVersion": before}
    async with http.get(CM, params=params) as stream:
        await http.patch(f"{CM}/db", data=json.dumps({"data": {"k": "v"}}), headers=MERGE)
        await http.patch(f"{CM}/web", data=json.dumps({"metadata": {"labels": {"app": "gone"}}}), headers=MERGE)  # fmt: skip
        [event] = await _events(stream, 1)
    assert (event["type"], event["object"]["metadata"]["name"]) == ("DELETED", "web")
    async with http.get(CM, params=params) as replayed:  # the same, from the history
        [event] = await _events(replayed, 1)
    assert (event["type"], event["object"]["metadata"]["name"]) == ("DELETED", "web")


async def test_watch_streams_added_modified_deleted(http: aiohttp.ClientSession) -> None:
    async with http.get(CM, params={"watch": "true"}) as stream:
        await http.post(CM, json=configmap("w"))
        await http.patch(f"{CM}/w", data=json.dumps({"data": {"k": "1"}}), headers=MERGE)
        await http.delete(f"{CM}/w")
        events = await _events(stream, 3)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w"),
    ]  # fmt: skip
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(set(rvs))


async def test_watch_resumes_after_a_resource_version(http: aiohttp.ClientSession) -> None:
    _, first = await _json(await http.post(CM, json=configmap("r")))
    await http.patch(f"{CM}/r", data=json.dumps({"data": {"k": "2"}}), headers=MERGE)
    await http.post(CM, json=configmap("s"))
    params = {"watch": "true", "resourceVersion": first["metadata"]["resourceVersion"]}
    async with http.get(CM, params=params) as stream:
        events = await _events(stream, 2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("MODIFIED", "r"), ("ADDED", "s")]  # fmt: skip


async def test_a_watch_from_beyond_the_history_gets_410_expired() -> None:
    async with ApiServer(history=3) as api, aiohttp.ClientSession(api.url) as http:
        for i in range(5):
            api.seed(configmap(f"c{i}", namespace="default"))
        async with http.get(CM, params={"watch": "true", "resourceVersion": "2"}) as stream:
            assert stream.status == 200  # a real server also streams the error
            [event] = [json.loads(line) for line in (await stream.text()).splitlines()]
    assert event["type"] == "ERROR"
    assert (event["object"]["code"], event["object"]["reason"]) == (410, "Expired")
    assert event["object"]["message"].startswith("too old resource version: 2")


async def test_initial_events_bookmarks_and_timeout_seconds(http: aiohttp.ClientSession, server: ApiServer) -> None:  # fmt: skip
    server.seed(configmap("x", namespace="default"))
    params = {"watch": "true", "sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan",
              "allowWatchBookmarks": "true", "timeoutSeconds": "1"}  # fmt: skip
    started = time.monotonic()
    async with http.get(CM, params=params) as stream:
        events = [json.loads(line) for line in (await stream.text()).splitlines()]
    assert 0.9 < time.monotonic() - started < 3, "timeoutSeconds ends the stream"
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK", "BOOKMARK"]
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert events[2]["object"]["metadata"]["resourceVersion"] == str(server.store.rv)
    status, _ = await _json(await http.get(CM, params={"watch": "true", "sendInitialEvents": "true"}))  # fmt: skip
    assert status == 422


async def test_status_subresource(http: aiohttp.ClientSession) -> None:
    await http.post(RO, json=rollout())
    status_patch = json.dumps({"spec": {"model": "ignored"}, "status": {"phase": "Canary"}})
    status, body = await _json(await http.patch(f"{RO}/chat/status", data=status_patch, headers=MERGE))  # fmt: skip
    assert status == 200 and body["status"] == {"phase": "Canary"}
    assert body["spec"]["model"] == "llama" and body["metadata"]["generation"] == 1
    main_patch = json.dumps({"spec": {"model": "mistral"}, "status": {"phase": "Ignored"}})
    _, body = await _json(await http.patch(f"{RO}/chat", data=main_patch, headers=MERGE))
    assert body["status"] == {"phase": "Canary"} and body["spec"]["model"] == "mistral"
    _, body = await _json(await http.get(f"{RO}/chat/status"))
    assert body["status"] == {"phase": "Canary"}


async def test_finalizers_over_http(http: aiohttp.ClientSession) -> None:
    held = rollout()
    held["metadata"]["finalizers"] = ["testing.champion.dev/cleanup"]
    await http.post(RO, json=held)
    status, body = await _json(await http.delete(f"{RO}/chat"))
    assert status == 200 and body["metadata"]["deletionTimestamp"]
    assert (await http.get(f"{RO}/chat")).status == 200
    remove = json.dumps({"metadata": {"finalizers": None}})
    assert (await http.patch(f"{RO}/chat", data=remove, headers=MERGE)).status == 200
    assert (await http.get(f"{RO}/chat")).status == 404


async def test_namespaces(http: aiohttp.ClientSession) -> None:
    status, listed = await _json(await http.get("/api/v1/namespaces"))
    names = {o["metadata"]["name"] for o in listed["items"]}
    assert status == 200 and listed["kind"] == "NamespaceList" and {"default", "kube-system"} <= names  # fmt: skip
    status, ns = await _json(await http.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}}))  # fmt: skip
    assert status == 201 and ns["status"] == {"phase": "Active"}
    status, _ = await _json(await http.post("/api/v1/namespaces/nope/configmaps", json=configmap("c")))  # fmt: skip
    assert status == 404


async def test_discovery(http: aiohttp.ClientSession) -> None:
    _, core = await _json(await http.get("/api/v1"))
    assert core["groupVersion"] == "v1"
    assert {"name": "pods/status", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get", "patch", "update"]} in core["resources"]  # fmt: skip
    _, groups = await _json(await http.get("/apis"))
    group = next(g for g in groups["groups"] if g["name"] == "testing.champion.dev")
    assert group["preferredVersion"] == {"groupVersion": "testing.champion.dev/v1", "version": "v1"}
    _, resources = await _json(await http.get("/apis/testing.champion.dev/v1"))
    ro = next(r for r in resources["resources"] if r["name"] == "rollouts")
    assert (ro["kind"], ro["shortNames"], ro["categories"], ro["namespaced"]) == ("Rollout", ["ro"], ["champion-test"], True)  # fmt: skip
    accept = {"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"}  # fmt: skip
    resp = await http.get("/apis", headers=accept)
    assert "as=APIGroupDiscoveryList" in resp.headers["Content-Type"]
    aggregated = await resp.json(content_type=None)
    [testing] = [i for i in aggregated["items"] if i["metadata"]["name"] == "testing.champion.dev"]
    [entry] = testing["versions"][0]["resources"]
    assert entry["subresources"][0]["subresource"] == "status" and entry["scope"] == "Namespaced"


async def test_openapi_lets_kubectl_leave_validation_to_the_server(http: aiohttp.ClientSession) -> None:  # fmt: skip
    _, root = await _json(await http.get("/openapi/v3"))
    url = root["paths"]["apis/testing.champion.dev/v1"]["serverRelativeURL"]
    _, doc = await _json(await http.get(url))
    patch = doc["paths"]["/apis/testing.champion.dev/v1/namespaces/{namespace}/rollouts/{name}"]["patch"]  # fmt: skip
    assert any(p["name"] == "fieldValidation" for p in patch["parameters"])
    schema = doc["components"]["schemas"]["dev.champion.testing.v1.Rollout"]
    assert schema["x-kubernetes-group-version-kind"][0]["kind"] == "Rollout"
    status, v2 = await _json(await http.get("/openapi/v2", headers={"Accept": "application/json"}))
    assert status == 200 and v2["swagger"] == "2.0"


async def test_table_printing_uses_the_crds_columns(http: aiohttp.ClientSession) -> None:
    await http.post(RO, json=rollout(replicas=3))
    ready = {"status": {"phase": "Canary", "weight": 20, "conditions": [{"type": "Ready", "status": "True"}]}}  # fmt: skip
    await http.patch(f"{RO}/chat/status", data=json.dumps(ready), headers=MERGE)
    _, table = await _json(await http.get(RO, headers=TABLE))
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Model", "Phase", "Weight", "Ready", "Replicas", "Age"]  # fmt: skip
    [row] = table["rows"]
    assert row["cells"][:6] == ["chat", "llama", "Canary", 20, "True", 3]
    assert row["cells"][6].endswith("s") and row["object"]["kind"] == "PartialObjectMetadata"


async def test_kubectl_create_protobuf_bodies_are_read(http: aiohttp.ClientSession) -> None:
    # Captured from `kubectl create namespace foo -v=8` (kubectl 1.35).
    body = bytes.fromhex(
        "6b3873000a0f0a02763112094e616d657370616365121b0a130a03666f6f12001a0022002a00320038004200"
        "12001a020a001a002200"
    )
    headers = {"Content-Type": "application/vnd.kubernetes.protobuf", "Accept": "application/vnd.kubernetes.protobuf,application/json"}  # fmt: skip
    status, ns = await _json(await http.post("/api/v1/namespaces", data=body, headers=headers))
    assert status == 201 and ns["metadata"]["name"] == "foo"


async def test_field_validation_strict_warn_and_dry_run(http: aiohttp.ClientSession) -> None:
    status, body = await _json(await http.post(RO, params={"fieldValidation": "Strict"}, json=rollout(bogus=1)))  # fmt: skip
    assert status == 400
    assert body["message"] == 'Rollout in version "v1" cannot be handled as a Rollout: strict decoding error: unknown field "spec.bogus"'  # fmt: skip
    resp = await http.post(RO, params={"dryRun": "All"}, json=rollout(bogus=1))
    assert resp.status == 201 and resp.headers.getall("Warning") == ['299 - "unknown field \\"spec.bogus\\""']  # fmt: skip
    assert (await http.get(f"{RO}/chat")).status == 404, "a dry run stores nothing"


async def test_multiple_served_versions(http: aiohttp.ClientSession, server: ApiServer) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.testing.champion.dev"},
        "spec": {"group": "testing.champion.dev", "scope": "Cluster",
                 "names": {"kind": "Widget", "plural": "widgets"},
                 "versions": [
                     {"name": "v1beta1", "served": True, "storage": False, "deprecated": True,
                      "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}},
                     {"name": "v1", "served": True, "storage": True,
                      "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}},
                 ]},
    }  # fmt: skip
    status, _ = await _json(await http.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd))  # fmt: skip
    assert status == 201
    resp = await http.post("/apis/testing.champion.dev/v1beta1/widgets", json={"metadata": {"name": "w"}, "spec": {"a": 1}})  # fmt: skip
    assert resp.status == 201 and "deprecated" in resp.headers["Warning"]
    _, as_v1 = await _json(await http.get("/apis/testing.champion.dev/v1/widgets/w"))
    assert as_v1["apiVersion"] == "testing.champion.dev/v1" and as_v1["spec"] == {"a": 1}
    _, group = await _json(await http.get("/apis/testing.champion.dev"))
    assert group["preferredVersion"]["version"] == "v1"


async def test_health_version_and_root(http: aiohttp.ClientSession) -> None:
    assert (await (await http.get("/healthz")).text()) == "ok"
    assert (await (await http.get("/readyz")).text()) == "ok"
    _, version = await _json(await http.get("/version"))
    assert (version["major"], version["minor"]) == ("1", "35")


async def test_kmock_reactions_inject_faults_and_the_journal_counts(
    http: aiohttp.ClientSession, server: ApiServer
) -> None:
    await http.post(RO, json=rollout())
    status_writes = server.kmock["patch", kmock.resource("testing.champion.dev/v1/rollouts"), kmock.subresource("status")]  # fmt: skip
    server.kmock["patch", kmock.subresource("status")][:1] << 500 << {"kind": "Status", "code": 500, "message": "injected"}  # fmt: skip
    first = await http.patch(f"{RO}/chat/status", data=json.dumps({"status": {"phase": "A"}}), headers=MERGE)  # fmt: skip
    second = await http.patch(f"{RO}/chat/status", data=json.dumps({"status": {"phase": "B"}}), headers=MERGE)  # fmt: skip
    assert (first.status, second.status) == (500, 200)
    assert len(status_writes) == 2
    assert server.count("PATCH", "/rollouts/chat/status") == 1, "the emulator saw only the second"


async def test_the_kinds_champion_uses_are_served(http: aiohttp.ClientSession) -> None:
    wanted = {
        ("v1", "Namespace"), ("v1", "Node"), ("v1", "Pod"), ("v1", "Service"), ("v1", "ConfigMap"),
        ("v1", "Secret"), ("v1", "Event"), ("events.k8s.io/v1", "Event"),
        ("coordination.k8s.io/v1", "Lease"), ("apps/v1", "Deployment"), ("batch/v1", "Job"),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
        ("gateway.networking.k8s.io/v1", "HTTPRoute"), ("serving.kserve.io/v1beta1", "InferenceService"),
        ("kopf.dev/v1", "ClusterKopfPeering"), ("kopf.dev/v1", "KopfPeering"),
    }  # fmt: skip
    served = set()
    _, groups = await _json(await http.get("/apis"))
    for gv in ["v1", *(v["groupVersion"] for g in groups["groups"] for v in g["versions"])]:
        _, doc = await _json(await http.get("/api/v1" if gv == "v1" else f"/apis/{gv}"))
        served |= {(gv, r["kind"]) for r in doc["resources"] if "/" not in r["name"]}
    assert wanted <= served
    _, crds = await _json(await http.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions"))
    assert {"httproutes.gateway.networking.k8s.io", "inferenceservices.serving.kserve.io"} <= {
        c["metadata"]["name"] for c in crds["items"]
    }
