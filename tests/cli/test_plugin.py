"""kubectl-champion against the emulated API server."""

from __future__ import annotations

import asyncio
from typing import Any

import yaml
from typer.testing import CliRunner

from champion.cli.plugin import app
from tests.conftest import ROOT
from tests.emulator.apiserver import ApiServer


def _seed_demo(server: ApiServer) -> None:
    for name in (
        "00-namespace.yaml",
        "10-gpupool.yaml",
        "21-modelversion-v1.yaml",
        "40-rollout.yaml",
    ):
        server.seed(yaml.safe_load((ROOT / "examples" / "demo" / name).read_text()))


async def _invoke(*args: str) -> Any:
    # The plugin runs its own event loop: give it a thread of its own.
    return await asyncio.to_thread(CliRunner().invoke, app, list(args))


async def test_abort_sets_a_gitops_safe_annotation(apiserver: ApiServer) -> None:
    _seed_demo(apiserver)
    result = await _invoke(
        "abort", "chat", "-n", "demo", "--kubeconfig", str(apiserver.kubeconfig), "--no-wait"
    )
    assert result.exit_code == 0, result.output
    ro = apiserver.store.get(apiserver.store.type_for("champion.dev", "rollouts"), "demo", "chat")
    assert "champion.dev/abort" in ro["metadata"]["annotations"]
    assert ro["metadata"]["generation"] == 1  # an annotation is not a spec change


async def test_unknown_rollout_is_a_clear_error(apiserver: ApiServer) -> None:
    _seed_demo(apiserver)
    result = await _invoke(
        "status", "nope", "-n", "demo", "--kubeconfig", str(apiserver.kubeconfig)
    )
    assert result.exit_code != 0
    assert 'Rollout "nope" not found in namespace demo' in result.output


async def test_lineage_prints_the_artifact_datasets_and_base_model(apiserver: ApiServer) -> None:
    _seed_demo(apiserver)
    result = await _invoke(
        "lineage", "chat-v1", "-n", "demo", "--kubeconfig", str(apiserver.kubeconfig)
    )
    assert result.exit_code == 0, result.output
    assert "hf://acme/chat-8b-v1" in result.output
    assert "support-tickets-2026q3" in result.output
    assert "hf://meta-llama/Llama-3.1-8B-Instruct" in result.output
