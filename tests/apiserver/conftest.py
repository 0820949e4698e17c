"""Fixtures for the emulated API server's own tests: a server with only the test CRD, an HTTP
session on it, and the real kubectl pointed at it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.emulator.apiserver import ApiServer
from tests.helpers import Result, run

TESTDATA = Path(__file__).parent / "testdata"
CRD = yaml.safe_load((TESTDATA / "rollouts-crd.yaml").read_text())
RO = "/apis/testing.champion.dev/v1/namespaces/default/rollouts"
CM = "/api/v1/namespaces/default/configmaps"


def rollout(name: str = "chat", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "testing.champion.dev/v1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"model": "llama", **spec},
    }


def configmap(name: str, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **meta}}


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ApiServer]:
    """A bare emulated server (no Champion CRDs) with the test Rollout CRD applied."""
    async with ApiServer() as api:
        api.seed(CRD)
        api.write_kubeconfig(tmp_path / "kubeconfig")
        yield api
        assert api.errors == [], "the emulator raised (answered 500)"


@pytest.fixture
async def http(server: ApiServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(server.url) as session:
        yield session


Kubectl = Callable[..., Awaitable[Result]]


@pytest.fixture
def kubectl(server: ApiServer, kubectl_bin: str, tmp_path: Path) -> Kubectl:
    """Runs the real kubectl against `server`; a fresh discovery cache per test."""
    env = {
        **os.environ,
        "KUBECONFIG": str(server.kubeconfig),
        "KUBECACHEDIR": str(tmp_path / "kube-cache"),
    }

    async def kubectl(*args: str, stdin: str | None = None) -> Result:
        return await run(kubectl_bin, *args, env=env, stdin=stdin)

    return kubectl
