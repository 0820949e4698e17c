"""Real kopf, running Champion's registry, against the emulated API server."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from typing import Any

import pytest
import yaml

from champion.adapters.kube import connect, resource_for
from champion.handlers.run import run_operator
from champion.reconcile.settings import OperatorSettings
from tests.conftest import ROOT
from tests.emulator.apiserver import ApiServer
from tests.helpers import eventually

MV = resource_for("champion.dev/v1alpha1", "ModelVersion")


def example(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "examples" / "demo" / name).read_text())


@pytest.fixture
async def operator(apiserver: ApiServer, caplog: pytest.LogCaptureFixture):  # type: ignore[no-untyped-def]
    for doc in ("00-namespace.yaml", "10-gpupool.yaml"):
        apiserver.seed(example(doc))
    settings = OperatorSettings(
        kubeconfig=str(apiserver.kubeconfig), metrics_port=None, namespaces=("demo",),
        rollout_tick_seconds=60, gpupool_tick_seconds=60, modelversion_tick_seconds=2,
    )  # fmt: skip
    stop = asyncio.Event()
    ready = asyncio.Event()
    caplog.set_level(logging.INFO)
    task = asyncio.create_task(run_operator(settings, stop_flag=stop, ready_flag=ready))
    await asyncio.wait_for(ready.wait(), 20)
    api = await connect(str(apiserver.kubeconfig))
    try:
        yield api
    finally:
        await api.close()
        stop.set()
        # kopf ends its own task by cancellation once the stop-flag is seen.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 20)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


async def test_finalizer_status_and_one_write_per_change(
    operator: Any, apiserver: ApiServer
) -> None:
    api = operator
    body = example("21-modelversion-v1.yaml")
    await api.create(body)

    async def reconciled() -> dict[str, Any] | None:
        obj = await api.get(MV, "chat-v1", "demo")
        conds = (obj or {}).get("status", {}).get("conditions", [])
        return obj if any(c["type"] == "Valid" for c in conds) else None

    obj = await eventually(reconciled, what="the Valid condition")
    assert "champion.dev/finalizer" in obj["metadata"]["finalizers"]
    valid = next(c for c in obj["status"]["conditions"] if c["type"] == "Valid")
    assert valid["status"] == "True" and valid["observedGeneration"] == 1
    status_writes = apiserver.count("PATCH", "/modelversions/chat-v1/status")
    assert status_writes == 1
    # Nothing changed: further reconciles (resume, labels) write no status.
    labelled = copy.deepcopy(obj["metadata"].get("labels") or {})
    labelled["team"] = "x"
    await api.patch(MV, "chat-v1", {"metadata": {"labels": labelled}}, "demo")
    await asyncio.sleep(1.0)  # give kopf the chance to (wrongly) react; the count must not move
    assert apiserver.count("PATCH", "/modelversions/chat-v1/status") == 1

    await api.delete(MV, "chat-v1", "demo")

    async def gone() -> bool:
        return await api.get(MV, "chat-v1", "demo") is None

    await eventually(gone, what="the finalizer to be removed and the object deleted")


async def test_unknown_pool_is_flagged_with_the_field_named(operator: Any) -> None:
    api = operator
    body = example("21-modelversion-v1.yaml")
    body["metadata"]["name"] = "bad-ref"
    # The schema accepts any valid name; only the operator can tell the pool is missing.
    body["spec"]["serving"]["gpuPool"] = "a100"
    await api.create(body)

    async def valid_condition() -> dict[str, Any] | None:
        obj = await api.get(MV, "bad-ref", "demo")
        conds = (obj or {}).get("status", {}).get("conditions", [])
        return next((c for c in conds if c["type"] == "Valid"), None)

    cond = await eventually(valid_condition, what="a Valid condition")
    assert cond["status"] == "False"
    assert cond["reason"] == "GPUPoolNotFound"
    assert 'spec.serving.gpuPool: GPUPool "a100" does not exist' in cond["message"]


async def test_gpupool_status_equals_a_hand_count(operator: Any, apiserver: ApiServer) -> None:
    api = operator
    gpu = "nvidia.com/gpu"
    label = {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    ready = [{"type": "Ready", "status": "True"}]
    for name, extra in (("n1", {}), ("n2", {}), ("n3", {"unschedulable": True})):
        apiserver.seed({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": label}, "spec": extra,
                        "status": {"capacity": {gpu: "8"}, "allocatable": {gpu: "8"}, "conditions": ready}})  # fmt: skip
    apiserver.seed(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "cpu"},
            "status": {"allocatable": {"cpu": "8"}, "conditions": ready},
        }
    )
    for i, (node, gpus, phase) in enumerate(
        (("n1", 2, "Running"), ("n1", 1, "Running"), ("n2", 4, "Running"), ("n2", 4, "Succeeded"))
    ):
        apiserver.seed({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}", "namespace": "demo"},
                        "spec": {"nodeName": node, "containers": [{"name": "c", "resources": {"requests": {gpu: str(gpus)}}}]},
                        "status": {"phase": phase}})  # fmt: skip
    pool = resource_for("champion.dev/v1alpha1", "GPUPool")
    await api.patch(pool, "h100", {"metadata": {"annotations": {"touch": "1"}}})
    await api.patch(pool, "h100", {"spec": {"costPerGPUHour": 3.0}})

    async def counted() -> dict[str, Any] | None:
        obj = await api.get(pool, "h100")
        st = (obj or {}).get("status") or {}
        return (
            st
            if st.get("nodes") == 3 and st.get("allocated") == 7 and st.get("costPerHour") == 21.0
            else None
        )

    st = await eventually(counted, what="the pool's counts")
    # Hand count: 3 pool nodes x 8; n3 is cordoned; 2+1+4 GPUs in running pods (the finished pod frees its GPUs).
    assert (st["capacity"], st["allocatable"], st["allocated"], st["free"]) == (24, 16, 7, 9)
    assert st["namespaces"] == [{"namespace": "demo", "allocated": 7, "reserved": 0}]
    ready_cond = next(c for c in st["conditions"] if c["type"] == "Ready")
    assert "n3 (cordoned)" in ready_cond["message"]


async def test_evalsuite_with_a_missing_configmap_is_flagged(operator: Any) -> None:
    api = operator
    suite = yaml.safe_load((ROOT / "examples" / "evalsuite-chat.yaml").read_text())
    suite["metadata"]["name"] = "from-cm"
    suite["spec"]["cases"] = {"configMap": {"name": "cases", "key": "cases.jsonl"}}
    await api.create(suite)
    es = resource_for("champion.dev/v1alpha1", "EvalSuite")

    async def valid_condition() -> dict[str, Any] | None:
        obj = await api.get(es, "from-cm", "demo")
        conds = (obj or {}).get("status", {}).get("conditions", [])
        return next((c for c in conds if c["type"] == "Valid"), None)

    cond = await eventually(valid_condition, what="the EvalSuite's Valid condition")
    assert cond["status"] == "False" and cond["reason"] == "CasesConfigMapNotFound"
    assert 'spec.cases.configMap.name: ConfigMap "cases" not found' in cond["message"]


async def test_missing_system_prompt_key_names_the_field_and_the_keys(operator: Any) -> None:
    api = operator
    await api.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "prompts", "namespace": "demo"},
            "data": {"support": "You are helpful."},
        }
    )
    body = example("21-modelversion-v1.yaml")
    body["metadata"]["name"] = "prompted"
    body["spec"]["policy"] = {"systemPrompt": {"name": "prompts", "key": "sales"}}
    await api.create(body)

    async def valid_condition() -> dict[str, Any] | None:
        obj = await api.get(MV, "prompted", "demo")
        conds = (obj or {}).get("status", {}).get("conditions", [])
        return next((c for c in conds if c["type"] == "Valid"), None)

    cond = await eventually(valid_condition, what="the Valid condition")
    assert cond["status"] == "False" and cond["reason"] == "SystemPromptKeyNotFound"
    assert (
        'spec.policy.systemPrompt.key: ConfigMap "prompts" has no key "sales" (keys: support)'
        in cond["message"]
    )


async def test_changing_a_pool_flags_the_versions_placed_on_it(
    operator: Any, apiserver: ApiServer
) -> None:
    api = operator
    # chat-v1 runs on the pool: its pods (as a Rollout's Deployment would create them) are bound there.
    gpu = "nvidia.com/gpu"
    apiserver.seed({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}},
                    "status": {"allocatable": {gpu: "8"}, "conditions": [{"type": "Ready", "status": "True"}]}})  # fmt: skip
    for i in range(2):
        apiserver.seed({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"chat-v1-{i}", "namespace": "demo",
                        "labels": {"champion.dev/rollout": "chat", "champion.dev/model-version": "chat-v1"}},
                        "spec": {"nodeName": "n1", "containers": [{"name": "c", "resources": {"limits": {gpu: "1"}}}]},
                        "status": {"phase": "Running"}})  # fmt: skip
    await api.create(example("21-modelversion-v1.yaml"))

    async def placement() -> dict[str, Any] | None:
        obj = await api.get(MV, "chat-v1", "demo")
        return next(
            (
                c
                for c in (obj or {}).get("status", {}).get("conditions", [])
                if c["type"] == "Placement"
            ),
            None,
        )

    assert (await eventually(placement, what="a Placement condition"))["status"] == "True"
    pool = resource_for("champion.dev/v1alpha1", "GPUPool")
    await api.patch(
        pool,
        "h100",
        {"spec": {"nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}}},
    )
    # Versions are re-checked on their timer (2 s in this test, 30 s by default).

    async def flagged() -> dict[str, Any] | None:
        cond = await placement()
        return cond if cond and cond["status"] == "False" else None

    cond = await eventually(flagged, timeout=40, what="the Placement condition to turn False")
    assert (
        cond["reason"] == "GPUPoolChanged"
        and "NVIDIA-A100-SXM4-80GB" in cond["message"]
        and "not evicted" in cond["message"]
    )
