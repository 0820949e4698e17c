"""Child manifests: golden files, valid built-in kinds, and KServe's own model classes agree.

`UPDATE_GOLDEN=1 pytest tests/builders` rewrites the golden files; review the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from champion.api.v1alpha1.gpupool import GPUPoolSpec
from champion.api.v1alpha1.modelversion import ModelVersionSpec
from champion.api.v1alpha1.rollout import Endpoint
from champion.builders.httproute import Backend, TrafficState, httproute
from champion.builders.naming import child_name
from champion.builders.workloads import Owner, VersionContext, is_ready, service_name, workload

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
K8S = kubernetes_validate.utils.latest_version()
OWNER = Owner("champion.dev/v1alpha1", "Rollout", "chat", "00000000-0000-0000-0000-000000000001")
FINGERPRINT = "sha256:" + "ab" * 32
POOL = GPUPoolSpec.model_validate(
    {"nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}, "gpuResource": "nvidia.com/mig-3g.40gb",
     "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
     "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "x"}}}}]}}}
)  # fmt: skip


PROFILE = {"sandbox.champion.dev/profile": '{"latencyScale": 1.0, "errorRate": 0.005}'}


def ctx(
    example: str, replicas: int = 3, pool: GPUPoolSpec | None = POOL, **spec: Any
) -> VersionContext:
    doc = yaml.safe_load((ROOT / "examples" / example).read_text())
    doc["spec"]["serving"].update(spec)
    return VersionContext(
        namespace="demo", rollout="chat", version=doc["metadata"]["name"], spec=ModelVersionSpec.model_validate(doc["spec"]),
        fingerprint=FINGERPRINT, owner=OWNER, replicas=replicas, pool=pool,
        annotations={**(doc["metadata"].get("annotations") or {}), **PROFILE, "unrelated": "not copied"},
    )  # fmt: skip


def golden(name: str, docs: list[dict[str, Any]]) -> None:
    path = GOLDEN / f"{name}.yaml"
    text = yaml.safe_dump_all(docs, sort_keys=True)
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1 to write it"
    assert text == path.read_text(), f"{path} changed: run with UPDATE_GOLDEN=1 if that is intended"


def kserve_round_trip(manifest: dict[str, Any]) -> dict[str, Any]:
    """Deserialises into kserve.V1beta1InferenceService with KServe's ApiClient and serialises back.

    KServe 0.21's generated ApiClient resolves type names only in `kserve.models`
    and only in the old `list[...]`/`dict(...)` spelling, while the Kubernetes
    client (37) its models embed spells them `List[...]`/`Dict[...]`: this
    subclass teaches it both, nothing else. Keys the model classes do not know
    are dropped on the way in, so they show up as a difference.
    """
    import kserve
    from kserve.api_client import ApiClient
    from kubernetes.client import models as k8s_models

    class Client(ApiClient):  # type: ignore[misc]
        def _ApiClient__deserialize(self, data: Any, klass: Any) -> Any:
            if isinstance(klass, str):
                if m := re.fullmatch(r"List\[(.+)\]", klass):
                    klass = f"list[{m.group(1)}]"
                elif m := re.fullmatch(r"Dict\[(\w+), (.+)\]", klass):
                    klass = f"dict({m.group(1)}, {m.group(2)})"
                known = klass.startswith(("list[", "dict(")) or klass in self.NATIVE_TYPES_MAPPING
                if not known and not hasattr(kserve.models, klass):
                    klass = getattr(k8s_models, klass)
            return super()._ApiClient__deserialize(data, klass)

    class Response:
        data = json.dumps(manifest)

    client = Client()
    isvc = client.deserialize(Response(), "V1beta1InferenceService")
    assert isinstance(isvc, kserve.V1beta1InferenceService)
    out: dict[str, Any] = client.sanitize_for_serialization(isvc)
    return out


def test_vllm_deployment_and_service() -> None:
    c = ctx("modelversion-llm-v1.yaml", replicas=3)
    docs = workload(c)
    golden("vllm-deployment", docs)
    for doc in docs:
        kubernetes_validate.validate(doc, K8S, strict=True)
    dep, svc = docs
    assert [d["metadata"]["name"] for d in docs] == ["chat-support-llm-v1"] * 2
    assert dep["spec"]["replicas"] == 3, "the Rollout's replicas override the spec's"
    pod = dep["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    assert pod["affinity"] == POOL.affinity
    res = pod["containers"][0]["resources"]
    # The pool's resource (a MIG slice here), requests == limits as extended resources require.
    assert (
        res["requests"]["nvidia.com/mig-3g.40gb"] == res["limits"]["nvidia.com/mig-3g.40gb"] == "1"
    )
    template = dep["spec"]["template"]["metadata"]
    assert template["labels"] == {
        "champion.dev/rollout": "chat",
        "champion.dev/model-version": "support-llm-v1",
        "champion.dev/fingerprint": "abababababab",
    }
    assert template["annotations"]["champion.dev/fingerprint"] == FINGERPRINT
    assert "unrelated" not in template["annotations"]
    assert json.loads(template["annotations"]["sandbox.champion.dev/profile"])["errorRate"] == 0.005
    assert dep["metadata"]["ownerReferences"] == [OWNER.reference()]
    assert svc["metadata"]["ownerReferences"] == [OWNER.reference()]
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    assert service_name(c) == "chat-support-llm-v1"


def test_gpus_without_a_pool_default_to_nvidia_gpu_and_no_placement() -> None:
    dep = workload(ctx("modelversion-llm-v1.yaml", pool=None, gpusPerReplica=2))[0]
    pod = dep["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": "2"}
    assert not {"nodeSelector", "tolerations", "affinity"} & set(pod)


def test_cpu_only_version_requests_no_gpu() -> None:
    dep = workload(ctx("modelversion-llm-v1.yaml", gpusPerReplica=0))[0]
    resources = dep["spec"]["template"]["spec"]["containers"][0].get("resources", {})
    assert "limits" not in resources


def test_kserve_predictive_inference_service() -> None:
    c = ctx("modelversion-predictive.yaml", replicas=2, pool=None)
    docs = workload(c)
    golden("kserve-inferenceservice", docs)
    (isvc,) = docs
    assert kserve_round_trip(isvc) == isvc
    assert isvc["metadata"]["annotations"] == {"serving.kserve.io/deploymentMode": "Standard"}
    predictor = isvc["spec"]["predictor"]
    assert predictor["minReplicas"] == predictor["maxReplicas"] == 2
    assert predictor["model"]["modelFormat"] == {"name": "sklearn"}
    assert predictor["model"]["runtime"] == "kserve-sklearnserver"
    assert predictor["labels"]["champion.dev/model-version"] == "churn-v7"
    assert service_name(c) == "chat-churn-v7-predictor"


def test_kserve_llm_on_a_gpu_pool() -> None:
    c = ctx("modelversion-llm-v1.yaml", replicas=1, backend="kserve", runtime="kserve-huggingfaceserver", gpusPerReplica=2)  # fmt: skip
    docs = workload(c)
    golden("kserve-gpu-inferenceservice", docs)
    (isvc,) = docs
    assert kserve_round_trip(isvc) == isvc
    predictor = isvc["spec"]["predictor"]
    assert predictor["nodeSelector"] == POOL.node_selector
    assert predictor["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert predictor["model"]["resources"]["limits"] == {"nvidia.com/mig-3g.40gb": "2"}
    # KServe runs vLLM models with its huggingface runtime, which declares that format.
    assert predictor["model"]["modelFormat"] == {"name": "huggingface"}
    assert predictor["annotations"]["sandbox.champion.dev/profile"]


def test_kserve_round_trip_catches_a_field_kserve_does_not_know() -> None:
    isvc = workload(ctx("modelversion-predictive.yaml", pool=None))[0]
    isvc["spec"]["predictor"]["model"]["modelFromat"] = {"name": "sklearn"}
    assert kserve_round_trip(isvc) != isvc


@pytest.mark.parametrize(
    ("kind", "status", "generation", "ready"),
    [
        ("Deployment", None, 2, False),
        ("Deployment", {"observedGeneration": 2, "availableReplicas": 3, "updatedReplicas": 3}, 2, True),
        ("Deployment", {"observedGeneration": 1, "availableReplicas": 3, "updatedReplicas": 3}, 2, False),
        ("Deployment", {"observedGeneration": 2, "availableReplicas": 2, "updatedReplicas": 3}, 2, False),
        ("Deployment", {"observedGeneration": 2, "availableReplicas": 3, "updatedReplicas": 1}, 2, False),
        ("InferenceService", {"conditions": [{"type": "Ready", "status": "True"}]}, 1, True),
        ("InferenceService", {"conditions": [{"type": "Ready", "status": "False"}]}, 1, False),
        ("InferenceService", {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}, 2, False),
    ],
)  # fmt: skip
def test_readiness_from_child_status(
    kind: str, status: dict[str, Any] | None, generation: int, ready: bool
) -> None:
    example = "modelversion-llm-v1.yaml" if kind == "Deployment" else "modelversion-predictive.yaml"
    child = workload(ctx(example, replicas=3))[0]
    assert child["kind"] == kind
    child["metadata"]["generation"] = generation
    if status is not None:
        child["status"] = status
    assert is_ready(child) is ready
    assert not is_ready(None)


DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


@pytest.mark.parametrize(
    ("rollout", "version"),
    [
        ("chat", "chat-v1"),
        ("a" * 40, "v" * 40),
        ("UPPER_case", "Model.V2"),
        ("9lives", "v1"),
        ("chat", "0" * 70),
    ],
)
@pytest.mark.parametrize("kserve", [False, True])
def test_child_names_are_dns_1035_labels(rollout: str, version: str, kserve: bool) -> None:
    name = child_name(rollout, version, kserve=kserve)
    assert DNS1035.match(name), name
    assert len(name) <= 63
    if kserve:
        assert len(name + "-predictor") <= 63, "KServe's Service <name>-predictor must fit too"
    assert child_name(rollout, version, kserve=kserve) == name, "stable"


def test_long_names_stay_distinct() -> None:
    a = child_name("r" * 40, "version-" + "x" * 30 + "1")
    b = child_name("r" * 40, "version-" + "x" * 30 + "2")
    assert a != b and len(a) == len(b) == 63
    assert child_name("chat", "chat-v1") == "chat-chat-v1", "short names are kept as they are"


def test_httproute_weights_and_mirror_golden() -> None:
    endpoint = Endpoint.model_validate(
        {"parentRefs": [{"name": "gw"}], "hostnames": ["chat.example.com"], "path": "/v1"}
    )
    shadow = httproute(
        "chat",
        "demo",
        OWNER,
        endpoint,
        TrafficState(Backend("chat-chat-v1", 8000), Backend("chat-chat-v2", 8000), 100, 0, 30),
    )
    canary = httproute(
        "chat",
        "demo",
        OWNER,
        endpoint,
        TrafficState(Backend("chat-chat-v1", 8000), Backend("chat-chat-v2", 8000), 80, 20, 0),
    )
    golden("httproute", [shadow, canary])
    assert shadow["spec"]["rules"][0]["filters"][0]["requestMirror"]["percent"] == 30
    assert [b["weight"] for b in canary["spec"]["rules"][0]["backendRefs"]] == [80, 20]
    assert canary["spec"]["rules"][0]["filters"] == []  # no mirror, said explicitly
