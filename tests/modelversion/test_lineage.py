"""`kubectl champion lineage`: the pure tree, and the plugin against the emulated API server."""

from __future__ import annotations

import asyncio
import copy
import hashlib
from typing import Any

import yaml
from typer.testing import CliRunner

from champion.adapters.kube import connect, resource_for
from champion.api.v1alpha1.modelversion import ModelVersionSpec
from champion.cli.plugin import app
from champion.domain.fingerprint import policy_hash
from champion.domain.lineage import LineageVersion, lineage_tree
from tests.conftest import ROOT
from tests.emulator.apiserver import ApiServer
from tests.gpupool.seed import example, seed_examples

PROMPT = example("system-prompt-configmap.yaml")["data"]["v1.txt"]


def version(name: str, base: dict[str, Any] | None, digest: bool = True) -> dict[str, Any]:
    doc = copy.deepcopy(example("modelversion-llm-v1.yaml"))
    doc["metadata"]["name"] = name
    doc["status"] = {"stage": "Champion", "fingerprint": f"sha256:{name:0>64}"[:71]}
    if base is None:
        doc["spec"]["lineage"].pop("baseModel")
    else:
        doc["spec"]["lineage"]["baseModel"] = base
    if not digest:
        del doc["spec"]["model"]["digest"]
    return doc


def test_the_tree_follows_base_models_and_names_every_part() -> None:
    chain = {
        "v2": LineageVersion("v2", "demo", version("v2", {"modelVersion": "v1"}), PROMPT),
        "v1": LineageVersion("v1", "demo", version("v1", {"external": "hf://meta-llama/Llama-3.1-8B"}, digest=False), PROMPT),
    }  # fmt: skip
    lines = lineage_tree(chain, "v2").lines()
    text = "\n".join(lines)
    spec = ModelVersionSpec.model_validate(chain["v2"].body["spec"])  # type: ignore[index]
    assert lines[0] == "ModelVersion v2  stage=Champion"
    for expected in (
        "fingerprint sha256:",
        "artifact hf://acme/support-llm-8b-v1 (vllm) digest sha256:3f5a9c0d",
        "runtime deployment: image vllm/vllm-openai:v0.11.0 args --model acme/support-llm-8b-v1",
        f"policy {policy_hash(spec, PROMPT)}",
        "system prompt support-assistant-prompts/v1.txt sha256:"
        + hashlib.sha256(PROMPT.encode()).hexdigest(),
        "guardrails pii-redaction, no-internal-notes",
        "data classification confidential",
        "support-tickets-2026q3 s3://acme-data/support/tickets-2026q3.parquet sha256:aaaa",
        "training run mlflow-run-7781 https://mlflow.acme.internal/#/experiments/12/runs/7781",
        "code https://git.acme.internal/ml/support-llm@4e1f0c9b7a2d",
        "lora: supervised fine-tune on resolved tickets: alpha=32, epochs=2, rank=16",
        "quantize-awq: 4-bit AWQ for one-GPU serving: bits=4, groupSize=128",
        "owner support-ml (support-ml-oncall@acme.example)",
    ):
        assert expected in text, expected
    # The base ModelVersion is nested under "base model", with its own external base.
    base_at = lines.index("  base model")
    assert lines[base_at + 1] == "    ModelVersion v1  stage=Champion"
    assert "      artifact hf://acme/support-llm-8b-v1 (vllm) unpinned: no digest" in lines
    assert "      base model hf://meta-llama/Llama-3.1-8B (external)" in lines


def test_missing_bases_cycles_and_unreadable_prompts_are_shown_not_fatal() -> None:
    cycle = {
        "a": LineageVersion("a", "demo", version("a", {"modelVersion": "b"}), None, 'ConfigMap "x" not found'),
        "b": LineageVersion("b", "demo", version("b", {"modelVersion": "a"}), PROMPT),
    }  # fmt: skip
    tree = lineage_tree(cycle, "a")
    text = "\n".join(tree.lines())
    assert "ModelVersion a: cycle, already shown above" in text
    assert "policy (hash unknown)" in text and 'ConfigMap "x" not found' in text
    missing = {"a": LineageVersion("a", "demo", version("a", {"modelVersion": "gone"}), PROMPT)}
    assert "ModelVersion gone: not found in namespace ?" in "\n".join(
        lineage_tree(missing, "a").lines()
    )
    assert lineage_tree({}, "nope").style == "error"


async def _invoke(*args: str) -> Any:
    # The plugin runs its own event loop: give it a thread of its own.
    return await asyncio.to_thread(CliRunner().invoke, app, list(args))


async def test_kubectl_champion_lineage(apiserver: ApiServer) -> None:
    seed_examples(apiserver)
    apiserver.seed(version("support-llm-v0", {"external": "hf://meta-llama/Llama-3.1-8B-Instruct"}))
    apiserver.seed(version("support-llm-v1", {"modelVersion": "support-llm-v0"}))
    kc = str(apiserver.kubeconfig)
    result = await _invoke("lineage", "support-llm-v1", "-n", "demo", "--kubeconfig", kc)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "ModelVersion support-llm-v1" in out and "ModelVersion support-llm-v0" in out
    assert "hf://meta-llama/Llama-3.1-8B-Instruct (external)" in out
    assert "sha256:" + hashlib.sha256(PROMPT.encode()).hexdigest() in out
    assert "product-docs-2026-10" in out
    gone = await _invoke("lineage", "nope", "-n", "demo", "--kubeconfig", kc)
    assert gone.exit_code == 1 and "ModelVersion nope: not found in namespace demo" in gone.output


async def test_kubectl_champion_lineage_says_who_serves_it_now(apiserver: ApiServer) -> None:
    seed_examples(apiserver)
    stale = version("support-llm-v1", {"external": "hf://meta-llama/Llama-3.1-8B-Instruct"})
    stale["status"]["stage"] = "RolledBack"  # what a Rollout wrote once: not what serves now
    apiserver.seed(stale)
    apiserver.seed(version("support-llm-v2", {"modelVersion": "support-llm-v1"}))
    ro = yaml.safe_load((ROOT / "examples" / "demo" / "40-rollout.yaml").read_text())
    ro["spec"]["modelVersion"] = "support-llm-v2"
    ro["status"] = {
        "phase": "Canary",
        "champion": "support-llm-v1",
        "challenger": "support-llm-v2",
        "weights": {"champion": 80, "challenger": 20},
    }
    apiserver.seed(ro)
    kc = str(apiserver.kubeconfig)
    result = await _invoke("lineage", "support-llm-v1", "-n", "demo", "--kubeconfig", kc)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "ModelVersion support-llm-v1  stage=Champion"
    assert "served by Rollout chat as champion: 80% of live traffic" in lines[2]
    result = await _invoke("lineage", "support-llm-v2", "-n", "demo", "--kubeconfig", kc)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "ModelVersion support-llm-v2  stage=Canary" in out
    assert "served by Rollout chat as challenger: 20% of live traffic" in out
    # Its base model, further down the tree, gets its stage from the Rollouts too.
    assert "ModelVersion support-llm-v1  stage=Champion" in out
    ro["status"]["phase"] = "RolledBack"
    ro["status"]["weights"] = {"champion": 100, "challenger": 0}
    rollouts = resource_for("champion.dev/v1alpha1", "Rollout")
    api = await connect(kc)
    try:
        await api.patch(rollouts, "chat", {"status": ro["status"]}, "demo", subresource="status")
    finally:
        await api.close()
    result = await _invoke("lineage", "support-llm-v2", "-n", "demo", "--kubeconfig", kc)
    assert "ModelVersion support-llm-v2  stage=RolledBack" in result.output
    assert "served by no Rollout" in result.output
