"""A Rollout's challenger reservation lands in its GPUPool's status, and leaves it, without
touching other rollouts' reservations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from champion.adapters.kube import KubeApi, connect, resource_for
from champion.reconcile.rollout import _act_reservation
from champion.reconcile.rollout_observe import load_versions
from tests.conftest import ROOT
from tests.emulator.apiserver import ApiServer

POOL = resource_for("champion.dev/v1alpha1", "GPUPool")
OTHER = {"rollout": "team-b/search", "modelVersion": "s-v2", "namespace": "team-b", "gpus": 2}


def demo(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "demo" / name).read_text())
    return doc


@pytest.fixture
async def api(apiserver: ApiServer) -> AsyncIterator[KubeApi]:
    for f in (
        "00-namespace.yaml",
        "10-gpupool.yaml",
        "21-modelversion-v1.yaml",
        "22-modelversion-v2.yaml",
    ):
        apiserver.seed(demo(f))
    client = await connect(str(apiserver.kubeconfig))
    await client.patch(POOL, "h100", {"status": {"reservations": [OTHER]}}, subresource="status")
    try:
        yield client
    finally:
        await client.close()


def decision(reserve: int | None) -> Any:
    status = SimpleNamespace(challenger="chat-v2", rollout_started_at="2026-11-30T12:00:00Z")
    return SimpleNamespace(reserve=reserve, status=status)


async def reservations(api: KubeApi) -> list[dict[str, Any]]:
    pool = await api.get(POOL, "h100")
    assert pool is not None
    found: list[dict[str, Any]] = (pool.get("status") or {}).get("reservations", [])
    return found


async def test_the_challenger_is_reserved_then_released_and_others_are_kept(api: KubeApi) -> None:
    rollout = {
        **demo("40-rollout.yaml"),
        "metadata": {"name": "chat", "namespace": "demo", "uid": "u1"},
    }
    views = await load_versions(api, "demo", {"chat-v1", "chat-v2"})
    await _act_reservation(api, rollout, decision(2), views)
    held = await reservations(api)
    ours = next(r for r in held if r["rollout"] == "demo/chat")
    assert ours["modelVersion"] == "chat-v2" and ours["gpus"] == 2
    assert ours["gpusPerReplica"] == views["chat-v2"].spec.serving.gpus_per_replica  # type: ignore[union-attr]
    assert ours["replicas"] == views["chat-v2"].spec.serving.replicas  # type: ignore[union-attr]
    assert any(r["rollout"] == "team-b/search" for r in held)

    await _act_reservation(api, rollout, decision(None), views)  # nothing decided: untouched
    assert await reservations(api) == held

    await _act_reservation(api, rollout, decision(0), views)
    assert [r["rollout"] for r in await reservations(api)] == ["team-b/search"]
