"""Child manifests: golden files, valid built-in kinds, and KServe's own model classes agree."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from champion.api.v1alpha1.gpupool import GPUPoolSpec
from champion.api.v1alpha1.modelversion import ModelVersionSpec
from champion.api.v1alpha1.rollout import Endpoint
from champion.builders.httproute import Backend, TrafficState, httproute
from champion.builders.workloads import Owner, VersionContext, is_ready, service_name, workload

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
OWNER = Owner("champion.dev/v1alpha1", "Rollout", "chat", "00000000-0000-0000-0000-000000000001")
POOL = GPUPoolSpec.model_validate(
    {"nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}, "gpuResource": "nvidia.com/mig-3g.40gb",
     "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
     "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "x"}}}}]}}}
)  # fmt: skip


def ctx(example: str, replicas: int = 2, pool: GPUPoolSpec | None = POOL) -> VersionContext:
    doc = yaml.safe_load((ROOT / "examples" / example).read_text())
    return VersionContext(
        namespace="demo", rollout="chat", version=doc["metadata"]["name"], spec=ModelVersionSpec.model_validate(doc["spec"]),
        fingerprint="sha256:" + "ab" * 32, owner=OWNER, replicas=replicas, pool=pool,
        annotations=doc["metadata"].get("annotations") or {},
    )  # fmt: skip


def golden(name: str, docs: list[dict[str, Any]]) -> None:
    path = GOLDEN / f"{name}.yaml"
    text = yaml.safe_dump_all(docs, sort_keys=True)
    if os.environ.get("UPDATE_GOLDEN") or not path.exists():
        path.write_text(text)
    assert text == path.read_text(), f"{path} changed: run with UPDATE_GOLDEN=1 if that is intended"


def test_vllm_deployment_and_service_golden_and_valid() -> None:
    docs = workload(ctx("demo/21-modelversion-v1.yaml"))
    golden("vllm-deployment", docs)
    for doc in docs:
        kubernetes_validate.validate(doc, "1.30", strict=True)
    dep = docs[0]
    pod = dep["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert (
        pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0][
            "weight"
        ]
        == 100
    )
    res = pod["containers"][0]["resources"]
    assert (
        res["requests"]["nvidia.com/mig-3g.40gb"] == res["limits"]["nvidia.com/mig-3g.40gb"] == "1"
    )
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert labels == {
        "champion.dev/rollout": "chat",
        "champion.dev/model-version": "chat-v1",
        "champion.dev/fingerprint": "abababababab",
    }
    assert "sandbox.champion.dev/profile" in dep["spec"]["template"]["metadata"]["annotations"]
    assert dep["metadata"]["ownerReferences"][0]["uid"] == OWNER.uid


def _check_against_model(value: Any, type_name: str, path: str) -> None:
    """Every key we emit exists, under that camelCase name, in KServe's (or Kubernetes') model class."""
    import re

    import kserve.models
    from kubernetes.client import models as k8s_models

    if m := re.fullmatch(r"(?:list|List)\[(.+)\]", type_name):
        assert isinstance(value, list), path
        for n, item in enumerate(value):
            _check_against_model(item, m.group(1), f"{path}[{n}]")
        return
    if re.fullmatch(r"(?:dict\(|Dict\[).*", type_name) or type_name in (
        "object",
        "str",
        "int",
        "bool",
        "float",
    ):
        return
    cls = getattr(kserve.models, type_name, None) or getattr(k8s_models, type_name, None)
    assert cls is not None, f"{path}: unknown model type {type_name}"
    assert isinstance(value, dict), path
    by_wire = {wire: attr for attr, wire in cls.attribute_map.items()}
    for key, sub in value.items():
        assert key in by_wire, f"{path}.{key} is not a field of KServe's {type_name}"
        _check_against_model(sub, cls.openapi_types[by_wire[key]], f"{path}.{key}")


def test_inference_service_matches_kserve_model_classes() -> None:
    docs = workload(ctx("modelversion-predictive.yaml", pool=None))
    golden("kserve-inferenceservice", docs)
    isvc = docs[0]
    _check_against_model(isvc, "V1beta1InferenceService", "InferenceService")
    assert isvc["spec"]["predictor"]["model"]["modelFormat"] == {"name": "sklearn"}
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"
    assert service_name(ctx("modelversion-predictive.yaml", pool=None)) == "chat-churn-v7-predictor"


def test_readiness_from_child_status() -> None:
    dep = workload(ctx("demo/21-modelversion-v1.yaml"))[0]
    dep["metadata"]["generation"] = 2
    assert not is_ready(dep)
    dep["status"] = {"observedGeneration": 2, "availableReplicas": 2, "updatedReplicas": 2}
    assert is_ready(dep)
    dep["status"]["observedGeneration"] = 1
    assert not is_ready(dep), "a status from an older generation says nothing about this one"
    isvc = workload(ctx("modelversion-predictive.yaml", pool=None))[0]
    isvc["status"] = {"conditions": [{"type": "Ready", "status": "True"}]}
    assert is_ready(isvc)


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
    assert "filters" not in canary["spec"]["rules"][0]


@pytest.mark.parametrize("name", ["a" * 40, "UPPER_case", "9lives"])
def test_child_names_are_valid_dns_labels(name: str) -> None:
    from champion.builders.naming import child_name

    out = child_name(name, "v" * 40)
    assert len(out) <= 63 and out[0].isalpha() and out == out.lower()
