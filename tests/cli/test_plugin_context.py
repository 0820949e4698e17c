"""kubectl-champion picks the namespace as kubectl does, takes --context, and prints -o json|yaml."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.cli.support import invoke, kubeconfig, seed_rollout
from tests.emulator.apiserver import ApiServer

STATUS = {
    "phase": "Canary",
    "step": 0,
    "champion": "chat-v1",
    "challenger": "chat-v2",
    "weights": {"champion": 80, "challenger": 20},
    "observedGeneration": 1,
    "message": "canary step 1/2: 20% of live traffic to chat-v2 for at least 20s",
    "history": [
        {
            "time": "2026-01-01T00:00:00Z",
            "phase": "Canary",
            "step": 0,
            "decision": "transition",
            "reason": "CanaryStep",
            "message": "canary step 1/2",
        }
    ],
}


async def test_the_namespace_is_the_contexts(apiserver: ApiServer, tmp_path: Path) -> None:
    seed_rollout(apiserver, model_version="chat-v2", status=STATUS)
    config = str(apiserver.write_kubeconfig(tmp_path / "demo.kubeconfig", namespace="demo"))
    result = await invoke("status", "chat", "--kubeconfig", config)
    assert result.exit_code == 0, result.output
    assert "Rollout demo/chat" in result.output
    assert "1/2" in result.output  # the step as the messages number it


async def test_no_namespace_in_the_context_is_default_and_n_wins(
    apiserver: ApiServer, tmp_path: Path
) -> None:
    seed_rollout(apiserver, model_version="chat-v2", status=STATUS)
    config = str(kubeconfig(apiserver, tmp_path / "kc", {"plain": None}, "plain"))
    result = await invoke("status", "chat", "--kubeconfig", config)
    assert result.exit_code == 2
    assert 'Rollout "chat" not found in namespace default' in result.output
    result = await invoke("status", "chat", "-n", "demo", "--kubeconfig", config)
    assert result.exit_code == 0, result.output


async def test_context_chooses_the_context_and_its_namespace(
    apiserver: ApiServer, tmp_path: Path
) -> None:
    seed_rollout(apiserver, model_version="chat-v2", status=STATUS)
    config = str(kubeconfig(apiserver, tmp_path / "kc", {"a": "other", "b": "demo"}, "a"))
    result = await invoke("status", "chat", "--kubeconfig", config)
    assert "not found in namespace other" in result.output
    result = await invoke("status", "chat", "--context", "b", "--kubeconfig", config)
    assert result.exit_code == 0, result.output
    result = await invoke("lineage", "nope", "--context", "b", "--kubeconfig", config)
    assert "nope" in result.output and result.exit_code == 1  # lineage too: namespace demo
    result = await invoke("status", "chat", "--context", "c", "--kubeconfig", config)
    assert result.exit_code == 2
    assert 'context "c" not found' in result.output and "a, b" in result.output


async def test_a_kubeconfig_list_merges_as_kubectl_does(
    apiserver: ApiServer, tmp_path: Path
) -> None:
    seed_rollout(apiserver, model_version="chat-v2", status=STATUS)
    first = kubeconfig(apiserver, tmp_path / "one", {"b": "demo"}, "b")
    second = kubeconfig(apiserver, tmp_path / "two", {"b": "other", "x": "other"}, "x")
    missing = tmp_path / "missing"
    result = await invoke("status", "chat", "--kubeconfig", f"{missing}:{first}:{second}")
    assert result.exit_code == 0, result.output  # first current-context, first definition
    assert "Rollout demo/chat" in result.output


async def test_status_and_history_print_json_and_yaml(apiserver: ApiServer, tmp_path: Path) -> None:
    seed_rollout(apiserver, model_version="chat-v2", status=STATUS)
    config = str(apiserver.write_kubeconfig(tmp_path / "kc", namespace="demo"))
    result = await invoke("status", "chat", "-o", "json", "--kubeconfig", config)
    assert result.exit_code == 0, result.output
    obj = json.loads(result.stdout)
    assert obj["metadata"]["name"] == "chat" and obj["status"]["phase"] == "Canary"
    result = await invoke("status", "chat", "-o", "yaml", "--kubeconfig", config)
    assert yaml.safe_load(result.stdout)["status"]["challenger"] == "chat-v2"
    result = await invoke("history", "chat", "-o", "json", "--kubeconfig", config)
    assert json.loads(result.stdout)[0]["reason"] == "CanaryStep"
    result = await invoke("history", "chat", "-o", "yaml", "--kubeconfig", config)
    assert yaml.safe_load(result.stdout)[0]["message"] == "canary step 1/2"
    result = await invoke("status", "chat", "-o", "wide", "--kubeconfig", config)
    assert result.exit_code == 2
