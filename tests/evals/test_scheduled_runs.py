"""EvalSuite spec.schedule: runs against the serving champion, results and drift in status and events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from champion.adapters import metrics as operator_metrics
from champion.adapters.kube import KubeApi, connect, resource_for
from champion.builders.eval_job import EvalRunner
from champion.builders.workloads import service_name
from champion.reconcile.evalsuite import reconcile_evalsuite
from champion.reconcile.rollout_observe import load_versions
from tests.conftest import ROOT
from tests.emulator.apiserver import ApiServer

SUITE = resource_for("champion.dev/v1alpha1", "EvalSuite")
ROLLOUT = resource_for("champion.dev/v1alpha1", "Rollout")
JOB = resource_for("batch/v1", "Job")
CM = resource_for("v1", "ConfigMap")
SVC = resource_for("v1", "Service")


def demo(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "demo" / name).read_text())
    return doc


@pytest.fixture
async def api(apiserver: ApiServer) -> AsyncIterator[KubeApi]:
    client = await connect(str(apiserver.kubeconfig))
    try:
        for f in ("00-namespace.yaml", "10-gpupool.yaml", "21-modelversion-v1.yaml"):
            await client.create(demo(f))
        suite = demo("30-evalsuite.yaml")
        suite["spec"]["schedule"] = "*/10 * * * *"
        await client.create(suite)
        # What the chart makes in evalJobs.namespaces; without it a slot is skipped.
        await client.create(
            {"apiVersion": "v1", "kind": "ServiceAccount",
             "metadata": {"name": "champion-eval", "namespace": "demo"}}
        )  # fmt: skip
        yield client
    finally:
        await client.close()


async def serving(api: KubeApi, champion: str = "chat-v1") -> dict[str, Any]:
    """The demo Rollout with `champion` serving, and that version's Service."""
    rollout = await api.create(demo("40-rollout.yaml"))
    await api.patch(
        ROLLOUT, "chat", {"status": {"champion": champion}}, "demo", subresource="status"
    )
    view = (await load_versions(api, "demo", {champion}))[champion]
    ctx = view.context(rollout, 1)
    assert ctx is not None
    await api.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": service_name(ctx), "namespace": "demo"},
            "spec": {"ports": [{"port": 8000}], "clusterIP": "10.96.0.42"},
        }
    )
    return rollout


async def tick(api: KubeApi, at: datetime) -> tuple[dict[str, Any], list[Any]]:
    body = await api.get(SUITE, "arithmetic", "demo")
    assert body is not None
    result = await reconcile_evalsuite(api, body, at, EvalRunner("champion:test"))
    fresh = await api.get(SUITE, "arithmetic", "demo")
    assert fresh is not None
    return fresh, result.events


def condition(body: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(c for c in body["status"]["conditions"] if c["type"] == type_)


async def created_at(api: KubeApi) -> datetime:
    body = await api.get(SUITE, "arithmetic", "demo")
    assert body is not None
    return datetime.strptime(body["metadata"]["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=UTC
    )


def next_slot(t: datetime, minutes: int = 10) -> datetime:
    base = t.replace(second=0, microsecond=0)
    return base + timedelta(minutes=minutes - base.minute % minutes)


async def test_a_due_slot_runs_the_suite_against_the_champion_and_a_failure_is_drift(
    api: KubeApi,
) -> None:
    await serving(api)
    slot = next_slot(await created_at(api))
    before, events = await tick(api, slot - timedelta(seconds=5))
    assert not events and condition(before, "Scheduled")["reason"] == "ScheduleActive"
    assert before["status"]["schedule"]["nextScheduleTime"] == slot.strftime("%Y-%m-%dT%H:%M:%SZ")

    body, events = await tick(api, slot + timedelta(seconds=20))
    job_name = body["status"]["schedule"]["lastJob"]
    job = await api.get(JOB, job_name, "demo")
    assert job is not None and [e.reason for e in events] == ["ScheduledRunStarted"]
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--endpoint") + 1] == "http://10.96.0.42:8000"
    assert "--baseline-endpoint" not in args
    assert job["metadata"]["ownerReferences"][0]["kind"] == "EvalSuite"
    assert job["metadata"]["labels"]["champion.dev/model-version"] == "chat-v1"
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "champion-eval"

    # Still running at the same slot: nothing new is started, nothing is recorded.
    again, events = await tick(api, slot + timedelta(seconds=50))
    assert not events and again["status"]["schedule"]["lastJob"] == job_name

    # The Job writes its result (as `champion eval run --output-configmap` does).
    result = {
        "passed": False,
        "score": 0.6,
        "slices": {"add": 0.5},
        "cases": [{"id": "q1"}, {"id": "q2"}],
        "failing_cases": ["q2"],
        "reasons": ["score 0.600 below minScore 0.9"],
    }
    await api.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": job_name, "namespace": "demo"},
            "data": {"result.json": json.dumps(result)},
        }
    )
    done, events = await tick(api, slot + timedelta(seconds=80))
    assert done["status"]["passed"] is False and done["status"]["score"] == 0.6
    assert done["status"]["modelVersion"] == "chat-v1" and done["status"]["failingCases"] == ["q2"]
    assert [(e.type, e.reason) for e in events] == [("Warning", "ScheduledRunFailed")]
    assert "failing cases: q2" in events[0].message and "below minScore" in events[0].message
    gauge = operator_metrics.EVAL_SCORE.labels("demo", "arithmetic", "chat-v1", "add")
    assert gauge._value.get() == 0.5  # type: ignore[attr-defined]

    # Down for three slots: one run, with the skipped ones counted.
    later, events = await tick(api, slot + timedelta(minutes=30, seconds=10))
    assert [e.reason for e in events] == ["ScheduledRunStarted"]
    assert "2 earlier slots missed" in events[0].message
    assert later["status"]["schedule"]["missed"] == 2
    assert later["status"]["schedule"]["lastJob"] != job_name


async def test_without_a_rollout_serving_a_champion_the_slot_is_skipped_and_said(
    api: KubeApi,
) -> None:
    slot = next_slot(await created_at(api))
    body, events = await tick(api, slot + timedelta(seconds=1))
    cond = condition(body, "Scheduled")
    assert cond["status"] == "False" and cond["reason"] == "NoChampion"
    assert "spec.strategy.evalGate.suites" in cond["message"]
    assert [(e.type, e.reason) for e in events] == [("Warning", "ScheduledRunSkipped")]
    assert await api.list(JOB, "demo") == []


async def test_an_expression_cron_cannot_read_is_a_condition_not_a_crash(api: KubeApi) -> None:
    await api.patch(SUITE, "arithmetic", {"spec": {"schedule": "61 * * * *"}}, "demo")
    body, _ = await tick(api, datetime.now(UTC))
    cond = condition(body, "Scheduled")
    assert cond["status"] == "False" and cond["reason"] == "InvalidSchedule"
    assert "spec.schedule" in cond["message"]
