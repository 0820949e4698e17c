"""Built-in kinds: what the server (its strategies, allocators and controllers) does to Nodes,
Services, Pods, Secrets, Deployments and new namespaces."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from tests.conformance.conftest import ROOT_CA, Api, Response
from tests.helpers import eventually

NODES = ("v1", "nodes")
SERVICES = ("v1", "services")
PODS = ("v1", "pods")
SECRETS = ("v1", "secrets")
DEPLOYMENTS = ("apps/v1", "deployments")
SERVICEACCOUNTS = ("v1", "serviceaccounts")
CAPACITY = {"nvidia.com/gpu": "8", "cpu": "64", "memory": "512Gi", "pods": "110"}


def _node(server: Api) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": server.unique("gpu"), "labels": {"nvidia.com/gpu.product": "H100"}},
        "spec": {},
        "status": {"capacity": CAPACITY, "allocatable": CAPACITY},
    }


async def test_a_node_created_with_a_status_keeps_it(server: Api) -> None:
    created = await server.create(NODES, _node(server), namespaced=False)
    assert created["status"]["capacity"] == CAPACITY
    assert created["status"]["allocatable"] == CAPACITY
    got = await server.get(server.path(NODES, created["metadata"]["name"], namespaced=False))
    assert got.body["status"]["capacity"]["nvidia.com/gpu"] == "8"


async def test_a_nodes_main_endpoint_keeps_its_status_and_status_changes_it(server: Api) -> None:
    name = (await server.create(NODES, _node(server), namespaced=False))["metadata"]["name"]
    path = server.path(NODES, name, namespaced=False)
    main = await server.patch(path, {"status": {"capacity": {"nvidia.com/gpu": "1"}}})
    assert main.status == 200 and main.body["status"]["capacity"]["nvidia.com/gpu"] == "8"
    status = await server.patch(path + "/status", {"status": {"capacity": {"nvidia.com/gpu": "4"}}})  # fmt: skip
    assert status.status == 200 and status.body["status"]["capacity"]["nvidia.com/gpu"] == "4"


def _service(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}], **spec}}  # fmt: skip


async def test_a_service_gets_a_cluster_ip_from_the_service_range(server: Api) -> None:
    svc = await server.create(SERVICES, _service("s"))
    spec = svc["spec"]
    assert ipaddress.ip_address(spec["clusterIP"]) in ipaddress.ip_network(server.service_cidr)
    assert spec["clusterIPs"] == [spec["clusterIP"]]
    assert spec["type"] == "ClusterIP"
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    other = await server.create(SERVICES, _service("t"))
    assert other["spec"]["clusterIP"] != spec["clusterIP"]


async def test_a_services_cluster_ip_survives_a_replace_without_it(server: Api) -> None:
    svc = await server.create(SERVICES, _service("s"))
    body = _service("s", ports=[{"port": 81}])
    body["metadata"]["resourceVersion"] = svc["metadata"]["resourceVersion"]
    replaced = await server.put(server.path(SERVICES, "s"), body)
    assert replaced.status == 200, replaced.body
    assert replaced.body["spec"]["clusterIP"] == svc["spec"]["clusterIP"]
    assert replaced.body["spec"]["ports"][0]["targetPort"] == 81


async def test_a_headless_service_keeps_cluster_ip_none(server: Api) -> None:
    svc = await server.create(SERVICES, _service("h", clusterIP="None"))
    assert svc["spec"]["clusterIP"] == "None" and svc["spec"]["clusterIPs"] == ["None"]


async def test_service_defaults(server: Api) -> None:
    spec = (await server.create(SERVICES, _service("d")))["spec"]
    assert spec["sessionAffinity"] == "None"
    assert spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
    assert spec["internalTrafficPolicy"] == "Cluster"


@pytest.mark.emulator_differs("a ClusterIP is not checked against the range or other Services")
async def test_a_cluster_ip_taken_or_outside_the_range_is_refused(server: Api) -> None:
    taken = (await server.create(SERVICES, _service("a")))["spec"]["clusterIP"]
    again = await server.post(server.path(SERVICES), _service("b", clusterIP=taken))
    assert again.status == 422 and "provided IP is already allocated" in again.body["message"]
    outside = await server.post(server.path(SERVICES), _service("c", clusterIP="10.255.0.9"))
    assert outside.status == 422
    assert "the provided network does not match the current range" in outside.body["message"]


async def test_a_secrets_string_data_is_folded_into_data(server: Api) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "v"}}  # fmt: skip
    created = await server.create(SECRETS, secret)
    assert created["data"] == {"k": "dg=="} and created["type"] == "Opaque"
    assert "stringData" not in created


async def _pod(server: Api, name: str, **extra: Any) -> Response:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}, **extra}  # fmt: skip

    # A real server admits a Pod only once the namespace's "default" ServiceAccount exists.
    async def admitted() -> Response | None:
        resp = await server.post(server.path(PODS), pod)
        return resp if resp.status != 403 else None

    return await eventually(admitted, timeout=10, what=f"pod {name} admitted")


async def test_a_pod_starts_pending_whatever_status_it_was_created_with(server: Api) -> None:
    resp = await _pod(server, "p", status={"phase": "Running", "podIP": "10.0.0.9"})
    assert resp.status == 201, resp.body
    assert resp.body["status"]["phase"] == "Pending" and "podIP" not in resp.body["status"]


@pytest.mark.emulator_differs("built-in kinds are not defaulted (only a few fields are)")
async def test_a_pod_is_defaulted(server: Api) -> None:
    resp = await _pod(server, "d")
    spec = resp.body["spec"]
    assert (spec["restartPolicy"], spec["dnsPolicy"], spec["schedulerName"]) == ("Always", "ClusterFirst", "default-scheduler")  # fmt: skip
    assert spec["containers"][0]["imagePullPolicy"] == "Always"
    assert resp.body["status"]["qosClass"] == "BestEffort"


@pytest.mark.emulator_differs("built-in kinds are not validated")
async def test_an_invalid_pod_is_refused(server: Api) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad"}, "spec": {"containers": []}}  # fmt: skip
    resp = await server.post(server.path(PODS), pod)
    assert resp.status == 422
    assert "spec.containers: Required value" in resp.body["message"]


def _deployment(replicas: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx"}]}}},
    }  # fmt: skip


async def test_a_deployments_generation_moves_with_its_spec(server: Api) -> None:
    created = await server.create(DEPLOYMENTS, _deployment())
    assert created["metadata"]["generation"] == 1
    path = server.path(DEPLOYMENTS, "web")
    labelled = await server.patch(path, {"metadata": {"labels": {"a": "b"}}})
    assert labelled.body["metadata"]["generation"] == 1
    scaled = await server.patch(path, {"spec": {"replicas": 2}})
    assert scaled.body["metadata"]["generation"] == 2
    scale = await server.get(path + "/scale")
    assert scale.body["kind"] == "Scale" and scale.body["spec"] == {"replicas": 2}


@pytest.mark.emulator_differs("built-in kinds are not defaulted (only a few fields are)")
async def test_a_deployment_is_defaulted(server: Api) -> None:
    spec = (await server.create(DEPLOYMENTS, _deployment()))["spec"]
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}  # fmt: skip
    assert (spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (10, 600)


@pytest.mark.emulator_differs("no controllers: nothing observes a Deployment")
async def test_a_deployments_controller_reports_its_status(server: Api) -> None:
    await server.create(DEPLOYMENTS, _deployment(replicas=2))

    async def observed() -> dict[str, Any] | None:
        got = (await server.get(server.path(DEPLOYMENTS, "web"))).body
        status: dict[str, Any] = got.get("status") or {}
        return status if status.get("observedGeneration") == 1 and status.get("replicas") == 2 else None  # fmt: skip

    status = await eventually(observed, timeout=server.controller_timeout, what="the Deployment observed")  # fmt: skip
    assert status.get("readyReplicas", 0) == 0, "no Node can run its Pods"


@pytest.mark.emulator_differs("no controllers: no default ServiceAccount nor root CA ConfigMap")
async def test_a_new_namespace_gets_its_default_service_account_and_root_ca(server: Api) -> None:
    async def populated() -> bool:
        sa = await server.get(server.path(SERVICEACCOUNTS, "default"))
        ca = await server.get(server.path(("v1", "configmaps"), ROOT_CA))
        return sa.status == 200 and ca.status == 200

    await eventually(populated, timeout=server.controller_timeout, what="default SA and root CA")
