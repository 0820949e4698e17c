"""A tiny real kopf operator against the emulated API server: finalizers, a status write
through /status, and exactly one update-handler call per spec change."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import kopf
import pytest
from kopf.testing import KopfRunner

from tests.apiserver.conftest import RO, rollout
from tests.emulator.apiserver import ApiServer
from tests.helpers import eventually

FINALIZER = "testing.champion.dev/kopf"
MERGE = {"Content-Type": "application/merge-patch+json"}


def _operator(calls: dict[str, list[Any]]) -> tuple[kopf.OperatorRegistry, kopf.OperatorSettings]:
    registry = kopf.OperatorRegistry()
    resource = ("testing.champion.dev", "v1", "rollouts")

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> Any:
        return kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.create(*resource, registry=registry)
    def created(spec: Any, patch: Any, **_: Any) -> None:
        calls["create"].append(spec["model"])
        patch.status["phase"] = "Created"

    @kopf.on.update(*resource, field="spec", registry=registry)
    def updated(old: Any, new: Any, **_: Any) -> None:
        calls["update"].append((old["model"], new["model"]))

    @kopf.on.delete(*resource, registry=registry)
    def deleted(**_: Any) -> None:
        calls["delete"].append(True)

    settings = kopf.OperatorSettings()
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage()
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage()
    settings.persistence.finalizer = FINALIZER
    settings.posting.enabled = True
    return registry, settings


async def _get(http: aiohttp.ClientSession, name: str = "chat") -> dict[str, Any] | None:
    async with http.get(f"{RO}/{name}") as resp:
        return await resp.json() if resp.status == 200 else None


def _poll(http: aiohttp.ClientSession, test: Callable[[dict[str, Any] | None], bool]) -> Callable[[], Awaitable[bool]]:  # fmt: skip
    async def check() -> bool:
        return test(await _get(http))

    return check


async def _spec(http: aiohttp.ClientSession, model: str) -> None:
    body = json.dumps({"spec": {"model": model}})
    assert (await http.patch(f"{RO}/chat", data=body, headers=MERGE)).status == 200


async def test_real_kopf_operator(
    server: ApiServer,
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(server.kubeconfig))
    caplog.set_level(logging.DEBUG)
    calls: dict[str, list[Any]] = {"create": [], "update": [], "delete": []}
    registry, settings = _operator(calls)
    runner = KopfRunner(
        ["run", "--standalone", "--namespace", "default"],
        registry=registry, settings=settings, timeout=30,
    )  # fmt: skip
    runner.__enter__()
    try:
        assert (await http.post(RO, json=rollout())).status == 201

        def handled(obj: dict[str, Any] | None) -> bool:
            return bool(obj and FINALIZER in obj["metadata"].get("finalizers", []) and obj.get("status", {}).get("phase") == "Created")  # fmt: skip

        obj = await eventually(_poll(http, handled), what="finalizer added and status written")
        assert calls["create"] == ["llama"]
        assert server.count("PATCH", "/rollouts/chat/status") >= 1, "status went through /status"
        assert "kopf" not in json.dumps(obj.get("status") if isinstance(obj, dict) else {}), "progress in annotations"  # fmt: skip

        for model in ("mistral", "qwen"):
            await _spec(http, model)
            await eventually(
                lambda n=len(calls["update"]) + 1: asyncio.sleep(0, len(calls["update"]) >= n),
                what=f"the update handler for {model}",
            )
        labelled = json.dumps({"metadata": {"labels": {"team": "a"}}})
        assert (await http.patch(f"{RO}/chat", data=labelled, headers=MERGE)).status == 200

        assert (await http.delete(f"{RO}/chat")).status == 200
        await eventually(_poll(http, lambda o: o is None), what="the finalizer released")
        assert calls["delete"] == [True]
        # Deletion is processed after every earlier event of the object: a loop would show here.
        assert calls["update"] == [("llama", "mistral"), ("mistral", "qwen")]
    finally:
        await asyncio.to_thread(runner.__exit__, None, None, None)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [] and "ERROR" not in runner.output, errors or runner.output[-2000:]
