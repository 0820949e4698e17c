"""Helpers for the plugin's tests: seed a Rollout, play the operator by writing its status,
run a command in a thread while the test's event loop serves the API."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from champion.cli.plugin import app
from tests.conftest import ROOT
from tests.emulator.apiserver import ApiServer

ROLLOUT_PATH = "/apis/champion.dev/v1alpha1/namespaces/demo/rollouts/chat"


def seed_rollout(
    server: ApiServer,
    *,
    model_version: str = "chat-v1",
    status: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    server.seed(yaml.safe_load((ROOT / "examples" / "demo" / "00-namespace.yaml").read_text()))
    ro = yaml.safe_load((ROOT / "examples" / "demo" / "40-rollout.yaml").read_text())
    ro["spec"]["modelVersion"] = model_version
    if annotations:
        ro["metadata"]["annotations"] = dict(annotations)
    if status is not None:
        ro["status"] = status
    return server.seed(ro)


def rollout(server: ApiServer) -> dict[str, Any]:
    rt = server.store.type_for("champion.dev", "rollouts")
    return copy.deepcopy(server.store.get(rt, "demo", "chat"))


def set_status(server: ApiServer, status: dict[str, Any]) -> dict[str, Any]:
    """What the operator does: one write of the whole status."""
    rt = server.store.type_for("champion.dev", "rollouts")
    current = server.store.get(rt, "demo", "chat")
    return server.store.update(rt, "demo", "chat", {**current, "status": status}, "status")


def reads(server: ApiServer) -> int:
    return server.count("GET", ROLLOUT_PATH)


def kubeconfig(
    server: ApiServer, path: Path, contexts: dict[str, str | None], current: str
) -> Path:
    """A kubeconfig with a context per entry, each with that namespace (None: no namespace)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "sandbox", "cluster": {"server": server.url}}],
        "users": [{"name": "admin", "user": {"token": "sandbox"}}],
        "contexts": [
            {
                "name": name,
                "context": {
                    "cluster": "sandbox",
                    "user": "admin",
                    **({"namespace": ns} if ns else {}),
                },
            }
            for name, ns in contexts.items()
        ],
        "current-context": current,
    }
    path.write_text(yaml.safe_dump(config))
    return path


def invoke(*args: str) -> asyncio.Task[Any]:
    """The command in a thread of its own (the plugin runs its own event loop)."""
    return asyncio.create_task(asyncio.to_thread(CliRunner().invoke, app, list(args)))


async def until(check: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.01)


async def seen(server: ApiServer, task: asyncio.Task[Any] | None = None) -> None:
    """Waits until the command has read the Rollout twice more: it has seen what the test
    wrote last (a read already in flight when the test wrote may have missed it)."""
    start = reads(server)
    await until(
        lambda: reads(server) >= start + 2 or (task is not None and task.done()),
        what="the plugin to read the Rollout",
    )
