"""reconcile_modelversion against the emulated API server: validity, fingerprint, duplicates, placement."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from champion.adapters.kube import ApiError, KubeApi, connect, resource_for
from champion.builders.workloads import workload
from champion.reconcile.modelversion import reconcile_modelversion, refresh_usage
from champion.reconcile.rollout_observe import VersionView
from champion.reconcile.status import ReconcileResult
from tests.conftest import ROOT
from tests.emulator.apiserver import ApiServer
from tests.gpupool.seed import example, node, pod, seed_all, seed_examples, version_pod

MV = resource_for("champion.dev/v1alpha1", "ModelVersion")
POOL = resource_for("champion.dev/v1alpha1", "GPUPool")
CM = resource_for("v1", "ConfigMap")
POD = resource_for("v1", "Pod")
RO = resource_for("champion.dev/v1alpha1", "Rollout")
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
NAME = "support-llm-v1"


@pytest.fixture
async def api(apiserver: ApiServer) -> AsyncIterator[KubeApi]:
    seed_examples(apiserver)
    client = await connect(str(apiserver.kubeconfig))
    try:
        yield client
    finally:
        await client.close()


def llm(name: str = NAME, **changes: Any) -> dict[str, Any]:
    """The example LLM version, renamed, with `changes` merged into its spec sections."""
    doc = example("modelversion-llm-v1.yaml")
    doc["metadata"]["name"] = name
    for section, values in changes.items():
        if values is None:
            doc["spec"].pop(section, None)
        else:
            doc["spec"][section] = {**doc["spec"].get(section, {}), **values}
    return doc


async def reconcile(api: KubeApi, name: str = NAME) -> tuple[ReconcileResult, dict[str, Any]]:
    body = await api.get(MV, name, "demo")
    assert body is not None
    result = await reconcile_modelversion(api, body, NOW)
    fresh = await api.get(MV, name, "demo")
    assert fresh is not None
    return result, fresh


def cond(body: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(c for c in body["status"]["conditions"] if c["type"] == type_)


PROMPT = example("system-prompt-configmap.yaml")["data"]["v1.txt"]


async def test_a_valid_version_gets_its_fingerprint_once(
    api: KubeApi, apiserver: ApiServer
) -> None:
    await api.create(llm())
    result, mv = await reconcile(api)
    st = mv["status"]
    assert result.status_written and result.events == []
    assert (cond(mv, "Valid")["status"], cond(mv, "Valid")["reason"]) == ("True", "Valid")
    assert cond(mv, "Pinned")["status"] == "True"
    assert cond(mv, "Duplicate")["status"] == "False"
    assert st["fingerprint"].startswith("sha256:") and len(st["fingerprint"]) == 71
    assert st["fingerprintShort"] == st["fingerprint"][7:19]
    assert st["systemPromptHash"] == "sha256:" + hashlib.sha256(PROMPT.encode()).hexdigest()
    assert st["policyHash"].startswith("sha256:")
    assert st["stage"] == "Registered" and st["observedGeneration"] == 1 and st["pinned"] is True
    writes = apiserver.count("PATCH", f"/modelversions/{NAME}/status")
    again, _ = await reconcile(api)
    assert not again.status_written and again.events == []
    assert apiserver.count("PATCH", f"/modelversions/{NAME}/status") == writes, "nothing changed"


async def test_the_fingerprint_follows_the_prompt_text_not_its_reference(api: KubeApi) -> None:
    await api.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "copy", "namespace": "demo"},
                      "data": {"same.txt": PROMPT, "other.txt": PROMPT + "Be brief.\n"}})  # fmt: skip
    await api.create(llm())
    await api.create(
        llm("renamed-ref", policy={"systemPrompt": {"name": "copy", "key": "same.txt"}})
    )
    await api.create(
        llm("new-prompt", policy={"systemPrompt": {"name": "copy", "key": "other.txt"}})
    )
    _, v1 = await reconcile(api)
    result, renamed = await reconcile(api, "renamed-ref")
    _, new = await reconcile(api, "new-prompt")
    assert renamed["status"]["fingerprint"] == v1["status"]["fingerprint"]
    assert new["status"]["fingerprint"] != v1["status"]["fingerprint"]
    dup = cond(renamed, "Duplicate")
    assert (dup["status"], dup["reason"]) == ("True", "DuplicateFingerprint")
    assert f"same fingerprint as {NAME}" in dup["message"]
    assert renamed["status"]["duplicates"] == [NAME]
    assert [(e.type, e.reason) for e in result.events] == [("Warning", "DuplicateFingerprint")]
    # The first one learns of its twin on its next reconcile (the handler's timer).
    _, v1 = await reconcile(api)
    assert cond(v1, "Duplicate")["status"] == "True" and v1["status"]["duplicates"] == [
        "renamed-ref"
    ]
    assert cond(new, "Duplicate")["status"] == "False"


async def test_editing_the_prompt_after_registration_is_flagged(api: KubeApi) -> None:
    await api.create(llm())
    _, before = await reconcile(api)
    await api.patch(CM, "support-assistant-prompts", {"data": {"v1.txt": "Be rude."}}, "demo")
    result, after = await reconcile(api)
    valid = cond(after, "Valid")
    assert (valid["status"], valid["reason"]) == ("False", "SystemPromptChanged")
    assert valid["message"].startswith("spec.policy.systemPrompt: the text of ConfigMap")
    assert "create a new ModelVersion" in valid["message"]
    assert after["status"]["fingerprint"] == before["status"]["fingerprint"], (
        "identity as registered"
    )
    assert [(e.type, e.reason) for e in result.events] == [("Warning", "SystemPromptChanged")]
    await api.patch(CM, "support-assistant-prompts", {"data": {"v1.txt": PROMPT}}, "demo")
    result, restored = await reconcile(api)
    assert cond(restored, "Valid")["status"] == "True"
    assert [(e.type, e.reason) for e in result.events] == [("Normal", "Valid")]


@pytest.mark.parametrize(
    ("changes", "reason", "message"),
    [
        ({"serving": {"gpuPool": "a100"}}, "GPUPoolNotFound",
         'spec.serving.gpuPool: GPUPool "a100" does not exist; create it or name an existing pool'),
        ({"policy": {"systemPrompt": {"name": "nope", "key": "v1.txt"}}}, "SystemPromptConfigMapNotFound",
         'spec.policy.systemPrompt.name: ConfigMap "nope" not found in namespace demo'),
        ({"policy": {"systemPrompt": {"name": "support-assistant-prompts", "key": "v2.txt"}}}, "SystemPromptKeyNotFound",
         'spec.policy.systemPrompt.key: ConfigMap "support-assistant-prompts" has no key "v2.txt" (keys: v1.txt)'),
        ({"lineage": {"baseModel": {"modelVersion": "support-llm-v0"}}}, "BaseModelNotFound",
         'spec.lineage.baseModel.modelVersion: ModelVersion "support-llm-v0" not found in namespace demo'),
    ],
)  # fmt: skip
async def test_a_broken_reference_names_the_field(
    api: KubeApi, changes: dict[str, Any], reason: str, message: str
) -> None:
    await api.create(llm(**changes))
    result, mv = await reconcile(api)
    valid = cond(mv, "Valid")
    assert (valid["status"], valid["reason"]) == ("False", reason)
    assert message in valid["message"]
    assert ("Warning", reason) in [(e.type, e.reason) for e in result.events]
    _, mv = await reconcile(api)
    again, _ = await reconcile(api)
    assert again.events == [], "an event when the condition turns bad, not on every reconcile"


async def test_an_unreadable_prompt_leaves_no_fingerprint(api: KubeApi) -> None:
    await api.create(llm(policy={"systemPrompt": {"name": "nope", "key": "v1.txt"}}))
    _, mv = await reconcile(api)
    assert "fingerprint" not in mv["status"], (
        "a fingerprint without the prompt's text would be wrong"
    )


async def test_an_unpinned_version_is_flagged(api: KubeApi) -> None:
    doc = llm()
    del doc["spec"]["model"]["digest"]
    await api.create(doc)
    result, mv = await reconcile(api)
    assert cond(mv, "Valid")["status"] == "True"
    pinned = cond(mv, "Pinned")
    assert (pinned["status"], pinned["reason"]) == ("False", "UnpinnedArtifact")
    assert "spec.strategy.allowUnpinnedArtifacts" in pinned["message"]
    assert mv["status"]["pinned"] is False
    assert ("Warning", "UnpinnedArtifact") in [(e.type, e.reason) for e in result.events]


def _mutate(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    *parents, last = path.split(".")
    target = out
    for p in parents:
        target = target[int(p)] if p.isdigit() else target[p]
    if value is None:
        del target[last]
    else:
        target[last] = value
    return out


@pytest.mark.parametrize(
    ("path", "value", "error"),
    [
        ("spec.model.digest", "sha256:1234", "spec.model.digest"),
        ("spec.model.digest", "md5:" + "a" * 32, "spec.model.digest"),
        ("spec.lineage.datasets.0.digest", "sha256:XYZ", "spec.lineage.datasets[0].digest"),
        ("spec.model.uri", "ftp://models/x", "spec.model.uri"),
        (
            "spec.serving.gpuPool",
            None,
            "serving.gpuPool is required when serving.gpusPerReplica > 0",
        ),
        (
            "spec.serving.image",
            None,
            "serving.image is required when serving.backend is 'deployment'",
        ),
        ("spec.serving.gpusPerReplica", 17, "spec.serving.gpusPerReplica"),
    ],
)
async def test_the_schema_rejects_what_no_reconcile_could_fix(
    api: KubeApi, path: str, value: Any, error: str
) -> None:
    with pytest.raises(ApiError) as exc:
        await api.create(_mutate(llm(), path, value))
    assert exc.value.status == 422
    assert error in exc.value.message


async def test_the_spec_is_immutable(api: KubeApi) -> None:
    await api.create(llm())
    with pytest.raises(ApiError) as exc:
        await api.patch(MV, NAME, {"spec": {"serving": {"replicas": 3}}}, "demo")
    assert exc.value.status == 422 and "ModelVersion spec is immutable" in exc.value.message


async def test_a_version_that_would_not_fit_names_the_pool_the_shortfall_and_the_free_count(
    api: KubeApi, apiserver: ApiServer
) -> None:
    # Another namespace holds 15 of the 16 GPUs; the version needs 2 replicas x 1.
    seed_all(apiserver, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "batch"}},
             pod("batch-1", "gpu-1", 8, namespace="batch"), pod("batch-2", "gpu-2", 7, namespace="batch"))  # fmt: skip
    await api.create(llm())
    result, mv = await reconcile(api)
    placement = cond(mv, "Placement")
    assert (placement["status"], placement["reason"]) == ("False", "InsufficientGPUs")
    assert placement["message"] == (
        'not running; GPUPool "h100" has 1 free nvidia.com/gpu, '
        'ModelVersion "support-llm-v1" needs 2 (2 replicas x 1): short by 1'
    )
    assert ("Warning", "InsufficientGPUs") in [(e.type, e.reason) for e in result.events]
    await api.delete(POD, "batch-2", "batch")
    _, mv = await reconcile(api)
    placement = cond(mv, "Placement")
    assert (placement["status"], placement["reason"]) == ("True", "Fits")
    assert (
        'GPUPool "h100" has 8 free nvidia.com/gpu, enough for 2 replicas x 1'
        in placement["message"]
    )


async def test_the_namespace_quota_is_reported(api: KubeApi, apiserver: ApiServer) -> None:
    seed_all(apiserver, pod("other", "gpu-1", 7))  # the demo namespace's quota is 8
    await api.create(llm())
    _, mv = await reconcile(api)
    placement = cond(mv, "Placement")
    assert (placement["status"], placement["reason"]) == ("False", "GPUQuotaExceeded")
    assert (
        "quota for namespace demo is 8 nvidia.com/gpu; 7 in use or reserved" in placement["message"]
    )


async def test_a_running_version_records_where_it_runs_and_a_pool_change_is_flagged(
    api: KubeApi, apiserver: ApiServer
) -> None:
    seed_all(
        apiserver, version_pod("v1-a", "gpu-1", 1, NAME), version_pod("v1-b", "gpu-2", 1, NAME)
    )
    await api.create(llm())
    _, mv = await reconcile(api)
    placed = mv["status"]["placement"]
    assert placed["pool"] == "h100" and placed["rollout"] == "support"
    assert (placed["replicas"], placed["gpus"], placed["nodes"]) == (2, 2, ["gpu-1", "gpu-2"])
    assert placed["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    placement = cond(mv, "Placement")
    assert (placement["status"], placement["reason"]) == ("True", "Placed")

    await api.patch(POOL, "h100", {"spec": {"nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"},
                                            "tolerations": None}})  # fmt: skip
    result, mv = await reconcile(api)
    placement = cond(mv, "Placement")
    assert (placement["status"], placement["reason"]) == ("False", "GPUPoolChanged")
    assert "nodeSelector {'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3'} -> {'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-80GB'}" in placement["message"]  # fmt: skip
    assert "tolerations ['nvidia.com/gpu:NoSchedule'] -> []" in placement["message"]
    assert "are not evicted" in placement["message"]
    assert ("Warning", "GPUPoolChanged") in [(e.type, e.reason) for e in result.events]
    assert mv["status"]["placement"]["nodeSelector"] == placed["nodeSelector"], "the snapshot stays"
    assert len(await api.list(POD, "demo")) == 2, "nothing was evicted"

    # Once its pods are gone the version is no longer placed: the snapshot goes with them.
    for name in ("v1-a", "v1-b"):
        await api.delete(POD, name, "demo")
    _, mv = await reconcile(api)
    assert "placement" not in mv["status"]
    assert cond(mv, "Placement")["reason"] in ("Fits", "InsufficientGPUs")


async def test_a_version_placed_on_the_pool_gets_its_selector_tolerations_and_gpus(
    api: KubeApi, apiserver: ApiServer
) -> None:
    seed_all(apiserver, node("mig-1", 7, resource="nvidia.com/mig-1g.10gb"))
    await api.patch(POOL, "h100", {"spec": {"gpuResource": "nvidia.com/mig-1g.10gb"}})
    await api.create(llm())
    await reconcile(api)
    rollout = {"apiVersion": "champion.dev/v1alpha1", "kind": "Rollout",
               "metadata": {"name": "support", "namespace": "demo", "uid": "u-1"}}  # fmt: skip
    view = VersionView(NAME, await api.get(MV, NAME, "demo"), await api.get(POOL, "h100"))
    ctx = view.context(rollout, replicas=3)
    assert ctx is not None
    deployment, service = workload(ctx)
    await api.create(deployment)
    await api.create(service)
    stored = await api.get(resource_for("apps/v1", "Deployment"), "support-support-llm-v1", "demo")
    assert stored is not None
    pod_spec = stored["spec"]["template"]["spec"]
    assert pod_spec["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    assert pod_spec["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]  # fmt: skip
    assert pod_spec["containers"][0]["resources"]["limits"] == {"nvidia.com/mig-1g.10gb": "1"}
    assert stored["spec"]["replicas"] == 3
    labels = stored["spec"]["template"]["metadata"]["labels"]
    mv = await api.get(MV, NAME, "demo")
    assert mv is not None
    assert labels["champion.dev/fingerprint"] == mv["status"]["fingerprintShort"]
    annotations = stored["spec"]["template"]["metadata"]["annotations"]
    assert annotations["champion.dev/fingerprint"] == mv["status"]["fingerprint"]
    assert stored["metadata"]["ownerReferences"][0]["uid"] == "u-1"


def rollout(name: str, **status: Any) -> dict[str, Any]:
    """A Rollout (the demo's spec) with `status` as the Rollout reconciler stores it."""
    doc = yaml.safe_load((ROOT / "examples" / "demo" / "40-rollout.yaml").read_text())
    doc["metadata"]["name"] = name
    doc["spec"]["modelVersion"] = NAME
    doc["status"] = {"weights": {"champion": 100, "challenger": 0}, **status}
    return doc


async def test_used_by_and_stage_come_from_the_rollouts_not_from_the_stored_stage(
    api: KubeApi, apiserver: ApiServer
) -> None:
    await api.create(llm())
    # What a Rollout wrote before (its rollback of this version as its challenger) is stale:
    # Rollout a serves it to 100% of its traffic.
    await reconcile(api)
    await api.patch(MV, NAME, {"status": {"stage": "RolledBack"}}, "demo", subresource="status")
    apiserver.seed(rollout("a", phase="Succeeded", champion=NAME))
    apiserver.seed(rollout("b", phase="RolledBack", champion="chat-v0", challenger=NAME))
    _, mv = await reconcile(api)
    assert mv["status"]["stage"] == "Champion"
    assert mv["status"]["usedBy"] == [
        {"rollout": "a", "role": "champion", "weight": 100, "mirrorPercent": 0}
    ]
    assert mv["status"]["usedBySummary"] == "a champion 100%"
    # Once a stops serving it (deleted), nothing uses it: the last outcome, not Champion.
    await api.delete(RO, "a", "demo")
    _, mv = await reconcile(api)
    assert (mv["status"]["stage"], mv["status"]["usedBy"]) == ("RolledBack", [])
    assert "usedBySummary" not in mv["status"]
    # No write when nothing changed.
    result, _ = await reconcile(api)
    assert not result.status_written


async def test_a_rollout_status_written_meanwhile_is_not_overwritten(
    api: KubeApi, apiserver: ApiServer
) -> None:
    await api.create(llm())
    await reconcile(api)
    stale = await api.get(MV, NAME, "demo")
    assert stale is not None
    # Meanwhile a Rollout promotes the version and refreshes its usage, and the prompt changes.
    apiserver.seed(rollout("a", phase="Succeeded", champion=NAME))
    await refresh_usage(api, "demo", [NAME])
    await api.patch(CM, "support-assistant-prompts", {"data": {"v1.txt": "changed"}}, "demo")
    await reconcile_modelversion(api, stale, NOW)  # conflicts, re-reads, recomputes
    mv = await api.get(MV, NAME, "demo")
    assert mv is not None
    assert mv["status"]["stage"] == "Champion"
    assert [u["rollout"] for u in mv["status"]["usedBy"]] == ["a"]
    assert cond(mv, "Valid")["reason"] == "SystemPromptChanged"


async def test_one_rollout_list_per_reconcile(api: KubeApi, apiserver: ApiServer) -> None:
    await api.create(llm())
    apiserver.seed(rollout("a", phase="Succeeded", champion=NAME))
    before = apiserver.count("GET", "/namespaces/demo/rollouts")
    await reconcile(api)
    assert apiserver.count("GET", "/namespaces/demo/rollouts") == before + 1
