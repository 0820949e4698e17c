"""The sandbox's KServe stand-in: an InferenceService gets a real ModelServer, status and a target."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from champion.adapters.kube import connect, resource_for
from champion.api.v1alpha1.modelversion import ModelVersionSpec
from champion.builders.workloads import (
    Owner,
    VersionContext,
    inference_service,
    is_ready,
    service_name,
)
from champion.sandbox.prometheus import PrometheusServer
from tests.conftest import ROOT
from tests.emulator.apiserver import ApiServer
from tests.emulator.cluster import ClusterStandIn, sandbox_nodes
from tests.helpers import eventually

ISVC = resource_for("serving.kserve.io/v1beta1", "InferenceService")
SVC = resource_for("v1", "Service")
PROFILE = "sandbox.champion.dev/profile"


def churn_isvc(profile: dict[str, Any]) -> dict[str, Any]:
    """What the operator would create for examples/modelversion-predictive.yaml."""
    doc = yaml.safe_load((ROOT / "examples" / "modelversion-predictive.yaml").read_text())
    ctx = VersionContext(
        namespace="demo",
        rollout="churn",
        version=doc["metadata"]["name"],
        spec=ModelVersionSpec.model_validate(doc["spec"]),
        fingerprint="sha256:" + "77" * 32,
        owner=Owner("champion.dev/v1alpha1", "Rollout", "churn", "0000-absent"),
        replicas=1,
        annotations={PROFILE: json.dumps(profile)},
    )
    manifest = inference_service(ctx)
    # The owning Rollout is not in this store: the garbage collector would take the child.
    del manifest["metadata"]["ownerReferences"]
    assert service_name(ctx) == f"{manifest['metadata']['name']}-predictor"
    return manifest


def gpu_isvc(name: str, gpus: int) -> dict[str, Any]:
    """`churn_isvc` renamed, its predictor asking for this many GPUs."""
    isvc = churn_isvc({})
    isvc["metadata"]["name"] = name
    amount = {"nvidia.com/gpu": str(gpus)}
    isvc["spec"]["predictor"]["model"]["resources"] = {"requests": amount, "limits": amount}
    return isvc


@pytest.fixture
async def cluster(apiserver: ApiServer, tmp_path: Path) -> AsyncIterator[ClusterStandIn]:
    apiserver.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}})
    for node in sandbox_nodes(1, gpus=8):  # predictor pods are bound to nodes, as KServe's are
        apiserver.seed(node)
    stand_in = ClusterStandIn(apiserver, PrometheusServer(tmp_path / "prom"), log_dir=tmp_path)
    (tmp_path / "prom").mkdir()
    stop = asyncio.Event()

    async def controllers() -> None:
        while not stop.is_set():
            await stand_in.reconcile()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)

    task = asyncio.create_task(controllers())
    try:
        yield stand_in
    finally:
        stop.set()
        await task
        await stand_in.close()


async def predict(url: str, model: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{url}/v1/models/{model}:predict",
            json={"instances": [[5.1, 3.5, 1.4, 0.2], [6.3, 3.3, 6.0, 2.5]]},
            timeout=aiohttp.ClientTimeout(total=5),
        ) as resp,
    ):
        return resp.status, await resp.json()


@pytest.mark.slow
async def test_an_inference_service_is_served_reported_scraped_and_stopped(
    apiserver: ApiServer, cluster: ClusterStandIn, tmp_path: Path
) -> None:
    api = await connect(str(apiserver.kubeconfig))
    try:
        created = await api.create(churn_isvc({"latencyScale": 1.0}))
        name = created["metadata"]["name"]

        async def ready() -> dict[str, Any] | None:
            isvc = await api.get(ISVC, name, "demo")
            return isvc if is_ready(isvc) else None

        isvc = await eventually(ready, timeout=30, what="InferenceService Ready")
        status = isvc["status"]
        assert status["observedGeneration"] == isvc["metadata"]["generation"]
        assert {c["type"]: c["status"] for c in status["conditions"]} == {
            "IngressReady": "True",
            "PredictorReady": "True",
            "Ready": "True",
        }
        assert status["url"] == f"http://{name}-demo.example.com"
        assert status["address"]["url"] == f"http://{name}-predictor.demo.svc.cluster.local"

        # KServe's controller makes the predictor Service; the ModelServer answers on its address.
        svc = await api.get(SVC, f"{name}-predictor", "demo")
        assert svc is not None
        assert svc["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
        url = f"http://{svc['spec']['clusterIP']}:{svc['spec']['ports'][0]['port']}"
        assert await predict(url, name) == (200, {"predictions": [0, 2]})

        targets = json.loads((tmp_path / "prom" / "targets.json").read_text())
        assert targets == [
            {
                "targets": [url.removeprefix("http://")],
                "labels": {"model_version": "churn-v7", "rollout": "churn", "namespace": "demo"},
            }
        ]

        # A changed profile rolls the server, and the status follows the new generation.
        first = cluster.kserve.running[("demo", name)].process
        await api.patch(
            ISVC,
            name,
            {"spec": {"predictor": {"annotations": {PROFILE: json.dumps({"errorRate": 1.0})}}}},
            "demo",
        )

        async def failing() -> bool:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                return (await predict(url, name))[0] == 500
            return False

        await eventually(failing, timeout=30, what="the restarted server failing every request")
        assert first.exited() is not None
        isvc = await eventually(ready, timeout=10, what="Ready for the new generation")
        assert isvc["status"]["observedGeneration"] == isvc["metadata"]["generation"] == 2

        second = cluster.kserve.running[("demo", name)].process
        assert await api.delete(ISVC, name, "demo")

        async def gone() -> bool:
            return second.exited() is not None and ("demo", name) not in cluster.kserve.running

        await eventually(gone, timeout=15, what="the ModelServer stopped")
        await eventually(
            lambda: _absent(api, f"{name}-predictor"), timeout=10, what="Service collected"
        )
        with pytest.raises(aiohttp.ClientError):
            await predict(url, name)
        await eventually(
            lambda: _no_targets(tmp_path / "prom" / "targets.json"), timeout=5, what="no targets"
        )
    finally:
        await api.close()


async def _absent(api: Any, service: str) -> bool:
    return await api.get(SVC, service, "demo") is None


async def _no_targets(path: Path) -> bool:
    return json.loads(path.read_text()) == []


async def test_without_the_inference_service_crd_nothing_is_emulated(
    apiserver: ApiServer, tmp_path: Path
) -> None:
    apiserver.store.unregister("serving.kserve.io", "inferenceservices")
    stand_in = ClusterStandIn(apiserver, None, log_dir=tmp_path)
    try:
        await stand_in.reconcile()
        assert stand_in.kserve.running == {}
    finally:
        await stand_in.close()


@pytest.mark.slow
async def test_a_gpu_predictor_is_counted_as_pods_and_waits_when_no_node_has_room(
    apiserver: ApiServer, cluster: ClusterStandIn
) -> None:
    pod_t = resource_for("v1", "Pod")
    api = await connect(str(apiserver.kubeconfig))
    try:
        await api.create(gpu_isvc("churn-a", 6))

        async def ready() -> dict[str, Any] | None:
            isvc = await api.get(ISVC, "churn-a", "demo")
            return isvc if is_ready(isvc) else None

        await eventually(ready, timeout=30, what="the predictor that fits to be Ready")
        pods = await api.list(pod_t, "demo")
        assert [(p["metadata"]["name"], p["status"]["phase"]) for p in pods] == [
            ("churn-a-predictor-0", "Running")
        ]
        assert pods[0]["metadata"]["ownerReferences"][0]["kind"] == "InferenceService"
        assert pods[0]["spec"]["containers"][0]["resources"]["requests"] == {"nvidia.com/gpu": "6"}

        await api.create(gpu_isvc("churn-b", 4))

        async def pending() -> dict[str, Any] | None:
            isvc = await api.get(ISVC, "churn-b", "demo")
            conds = {c["type"]: c for c in ((isvc or {}).get("status") or {}).get("conditions", [])}
            ok = conds.get("Ready", {}).get("reason") == "InsufficientGPUs"
            return conds["Ready"] if ok else None

        cond = await eventually(pending, timeout=15, what="the predictor that does not fit")
        assert cond["status"] == "False" and "1 of 1 predictor replicas" in cond["message"]
        assert ("demo", "churn-b") not in cluster.kserve.running
    finally:
        await api.close()
