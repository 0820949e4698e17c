"""Issue 16, writes: a Rollout's status is written only over what was read, and a write the
reconcile goes on without is never dropped in silence."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import kmock
import pytest
import yaml

from champion.adapters.kube import Conflict, KubeApi, connect, resource_for
from champion.builders.eval_job import EvalRunner
from champion.reconcile.rollout import reconcile_rollout
from tests.conftest import ROOT
from tests.emulator.apiserver import ApiServer

RO = resource_for("champion.dev/v1alpha1", "Rollout")
NOW = datetime.now(UTC).replace(microsecond=0)


def demo(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "demo" / name).read_text())
    return doc


@pytest.fixture
async def api(apiserver: ApiServer) -> AsyncIterator[KubeApi]:
    client = await connect(str(apiserver.kubeconfig))
    try:
        for f in ("00-namespace.yaml", "10-gpupool.yaml", "21-modelversion-v1.yaml"):
            await client.create(demo(f))
        await client.create(demo("40-rollout.yaml"))
        yield client
    finally:
        await client.close()


async def test_a_status_written_meanwhile_is_not_overwritten_from_a_stale_read(
    api: KubeApi,
) -> None:
    stale = await api.get(RO, "chat", "demo")
    assert stale is not None
    # Another writer (a second replica, a tool) writes the status after this read.
    await api.patch(
        RO, "chat", {"status": {"message": "written meanwhile"}}, "demo", subresource="status"
    )
    with pytest.raises(Conflict):
        await reconcile_rollout(api, None, stale, NOW, EvalRunner("champion:test"))
    kept = await api.get(RO, "chat", "demo")
    assert kept is not None and kept["status"]["message"] == "written meanwhile"
    # From a fresh read the reconcile goes ahead.
    result = await reconcile_rollout(api, None, kept, NOW, EvalRunner("champion:test"))
    assert result.status_written
    after = await api.get(RO, "chat", "demo")
    assert after is not None and after["status"]["phase"] == "Pending"


async def test_a_refused_side_write_is_a_warning_event_and_a_log_line(
    api: KubeApi, apiserver: ApiServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Old children are deleted by a list then deletes; RBAC refusing the list used to be
    swallowed (`contextlib.suppress(Exception)`): nothing said the old version kept running."""
    caplog.set_level(logging.WARNING)
    forbidden = {"kind": "Status", "code": 403, "reason": "Forbidden", "message": "no list for you"}
    apiserver.kmock["list", kmock.resource("apps/v1/deployments")] << 403 << forbidden
    body = await api.get(RO, "chat", "demo")
    assert body is not None
    result = await reconcile_rollout(api, None, body, NOW, EvalRunner("champion:test"))
    warnings = [e for e in result.events if e.type == "Warning" and e.reason == "Forbidden"]
    assert warnings, result.events
    assert "deleting Deployments no version uses any more" in warnings[0].message
    assert "charts/champion/templates/rbac.yaml" in warnings[0].message
    assert any(
        "Rollout demo/chat: deleting Deployments" in r.getMessage() and "403" in r.getMessage()
        for r in caplog.records
    ), caplog.text


async def test_a_409_on_the_status_write_recomputes_from_a_fresh_read_at_once(
    api: KubeApi,
) -> None:
    """Not after kopf's 5 s retry delay: the handler re-reads and reconciles again."""
    from types import SimpleNamespace

    from champion.handlers.common import run_reconciler
    from champion.handlers.runtime import Runtime
    from champion.reconcile.settings import OperatorSettings
    from champion.reconcile.status import ReconcileResult

    runtime = Runtime(OperatorSettings(metrics_port=None))
    runtime.api = api
    seen: list[str] = []

    async def reconciler(_: Runtime, body: dict[str, Any], now: datetime) -> ReconcileResult:
        seen.append((body.get("status") or {}).get("message", ""))
        if len(seen) == 1:
            await api.patch(
                RO, "chat", {"status": {"message": "meanwhile"}}, "demo", subresource="status"
            )
            raise Conflict(409, "the object has been modified", "Conflict", "PATCH", "/status")
        return ReconcileResult(True)

    body = await api.get(RO, "chat", "demo")
    assert body is not None
    result = await run_reconciler("Rollout", reconciler, body, SimpleNamespace(runtime=runtime))
    assert result is not None and result.status_written
    assert seen == ["", "meanwhile"]  # the second reconcile started from the write it met
