"""The eval gate tells the truth: what the challenger answered on the failing cases reaches the
Rollout, and a Job that fails without a result says why (its reason, the pod's last lines)."""

from __future__ import annotations

import json
import shlex
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from champion.adapters.kube import KubeApi, connect, resource_for
from champion.api.v1alpha1.rollout import RolloutSpec, RolloutStatus
from champion.builders.eval_job import EvalRunner, eval_job, eval_job_name
from champion.builders.workloads import Owner
from champion.reconcile.rollout import reconcile_rollout
from champion.reconcile.rollout_observe import eval_states
from tests.conftest import ROOT
from tests.emulator.apiserver import ApiServer

ROLLOUT = resource_for("champion.dev/v1alpha1", "Rollout")
JOB = resource_for("batch/v1", "Job")
POD = resource_for("v1", "Pod")
NOW = datetime.now(UTC).replace(microsecond=0)
JOB_NAME = eval_job_name("chat", "arithmetic", "chat-v2")


def demo(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "demo" / name).read_text())
    return doc


@pytest.fixture
async def api(apiserver: ApiServer) -> AsyncIterator[KubeApi]:
    client = await connect(str(apiserver.kubeconfig))
    try:
        for f in (
            "00-namespace.yaml",
            "10-gpupool.yaml",
            "21-modelversion-v1.yaml",
            "22-modelversion-v2.yaml",
            "30-evalsuite.yaml",
        ):
            await client.create(demo(f))
        yield client
    finally:
        await client.close()


async def gated(api: KubeApi) -> dict[str, Any]:
    """The demo Rollout in its eval gate: chat-v1 serves, chat-v2 is being evaluated."""
    rollout = demo("40-rollout.yaml")
    rollout["spec"]["modelVersion"] = "chat-v2"
    await api.create(rollout)
    stamp = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    return await api.patch(
        ROLLOUT,
        "chat",
        {
            "status": {
                "phase": "EvalGate",
                "champion": "chat-v1",
                "challenger": "chat-v2",
                "phaseStartedAt": stamp,
            }
        },
        "demo",
        subresource="status",
    )


async def states(api: KubeApi) -> dict[str, Any]:
    body = await api.get(ROLLOUT, "chat", "demo")
    assert body is not None
    spec = RolloutSpec.model_validate(body["spec"])
    status = RolloutStatus.model_validate(body["status"])
    return await eval_states(api, body, spec, status)


def failing(i: int, answer: str | None, reference: str, error: str | None = None) -> dict[str, Any]:
    return {
        "id": f"add-{i}",
        "tags": ["small"],
        "passed": False,
        "score": 0.0,
        "scores": {"contains": 0.0} if error is None else {},
        "latency_seconds": 0.1,
        "error": error,
        **({"answer": answer} if answer is not None else {}),
        "reference": reference,
    }


async def write_result(api: KubeApi, result: dict[str, Any]) -> None:
    await api.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": JOB_NAME, "namespace": "demo"},
            "data": {"result.json": json.dumps(result)},
        }
    )


def result_with(cases: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "passed": False,
        "score": 0.6,
        "reasons": ["score 0.600 < minScore 0.9"],
        "slices": {"small": 0.6},
        "errors": 0,
        "cases": cases,
        "failing_cases": [c["id"] for c in cases if not c["passed"]],
    }


# --- failing cases' answers --------------------------------------------------------------------


async def test_the_failing_answers_and_references_reach_the_rollouts_status(api: KubeApi) -> None:
    body = await gated(api)
    cases = [
        failing(0, "The answer is 2.", "1"),
        failing(1, "I cannot do arithmetic, sorry.", "5"),
        failing(2, None, "9", error="timeout after 10s"),
        {"id": "add-3", "passed": True, "score": 1.0, "tags": [], "scores": {}, "error": None},
    ]
    await write_result(api, result_with(cases))
    await reconcile_rollout(api, None, body, NOW, EvalRunner("champion:test"))
    after = await api.get(ROLLOUT, "chat", "demo")
    assert after is not None
    st = after["status"]
    assert st["phase"] == "RolledBack", st["message"]
    message = st["message"]
    assert "score 0.600 < minScore 0.9" in message
    assert 'add-0 answered "The answer is 2." (expected "1")' in message
    assert 'add-1 answered "I cannot do arithmetic, sorry." (expected "5")' in message
    assert 'add-2 failed: timeout after 10s (expected "9")' in message
    assert "add-3" not in message
    # The same evidence is in the Rollout's decision record and its Warning event.
    assert any('answered "The answer is 2."' in h.get("message", "") for h in st["history"])


async def test_the_gate_message_stays_bounded_with_many_long_failing_answers(
    api: KubeApi,
) -> None:
    await gated(api)
    long = "x" * 5000
    cases = [failing(i, long + str(i), "y" * 3000) for i in range(40)]
    await write_result(api, result_with(cases))
    state = (await states(api))["arithmetic"]
    assert state.status == "failed"
    shown = [f"add-{i} answered" for i in range(40) if f"add-{i} answered" in state.message]
    assert shown == [f"add-{i} answered" for i in range(5)]
    assert "and 35 more failing cases" in state.message
    assert "…" in state.message
    assert len(state.message) < 1500, len(state.message)
    assert len(state.failing_cases) == 40  # every id, for the suite's status (bounded there)


async def test_a_result_without_answers_still_names_the_reasons(api: KubeApi) -> None:
    """A result written by an older runner: no answers, the reasons and the ids are kept."""
    await gated(api)
    await write_result(
        api,
        {"passed": False, "score": 0.5, "reasons": ["score 0.500 < minScore 0.9"],
         "cases": [{"id": "q1"}], "failing_cases": ["q1"]},
    )  # fmt: skip
    state = (await states(api))["arithmetic"]
    assert state.message == "score 0.500 < minScore 0.9" and state.failing_cases == ("q1",)


# --- a Job that fails without a result ---------------------------------------------------------


async def make_job(api: KubeApi, body: dict[str, Any], condition: dict[str, Any] | None) -> Any:
    job = eval_job(
        namespace="demo",
        rollout="chat",
        suite="arithmetic",
        version="chat-v2",
        endpoint="http://10.96.0.2:8000",
        baseline_endpoint=None,
        runner=EvalRunner("champion:test"),
        timeout_seconds=60,
        owner=Owner("champion.dev/v1alpha1", "Rollout", "chat", body["metadata"]["uid"]),
    )
    created = await api.create(job)
    if condition is not None:
        await api.patch(
            JOB,
            JOB_NAME,
            {"status": {"failed": 1, "conditions": [{"status": "True", **condition}]}},
            "demo",
            subresource="status",
        )
    return created


async def make_pod(api: KubeApi, job: dict[str, Any], state: dict[str, Any], **extra: Any) -> None:
    """The pod the Job controller makes (its labels and owner), with a container state."""
    await api.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{JOB_NAME}-x7k2p",
                "namespace": "demo",
                "labels": {
                    "batch.kubernetes.io/job-name": JOB_NAME,
                    "job-name": JOB_NAME,
                    "batch.kubernetes.io/controller-uid": job["metadata"]["uid"],
                },
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": JOB_NAME,
                        "uid": job["metadata"]["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": job["spec"]["template"]["spec"],
        }
    )
    await api.patch(
        POD,
        f"{JOB_NAME}-x7k2p",
        {"status": {"containerStatuses": [{"name": "eval", "state": state}], **extra}},
        "demo",
        subresource="status",
    )


BACKOFF = {
    "type": "Failed",
    "reason": "BackoffLimitExceeded",
    "message": "Job has reached the specified backoff limit",
}


def hint(message: str) -> list[str]:
    """The `kubectl logs ...` command the message gives, as a shell would split it."""
    assert "kubectl logs" in message, message
    return shlex.split(message[message.index("kubectl logs") :])


async def test_a_failed_job_names_its_reason_the_exit_code_and_the_pods_last_lines(
    api: KubeApi,
) -> None:
    body = await gated(api)
    job = await make_job(api, body, BACKOFF)
    lines = [f"progress line {i}" for i in range(60)]
    lines.append("error: spec.scorers[0].pattern: '[0-9' does not compile")
    terminated = {"exitCode": 2, "reason": "Error", "message": "\n".join(lines) + "\n"}
    await make_pod(api, job, {"terminated": terminated})
    state = (await states(api))["arithmetic"]
    assert state.status == "failed"
    m = state.message
    assert f"eval Job {JOB_NAME} failed without a result" in m
    assert "BackoffLimitExceeded: Job has reached the specified backoff limit" in m
    assert "exit code 2 (bad input)" in m and "Error" in m
    assert "error: spec.scorers[0].pattern: '[0-9' does not compile" in m
    assert "progress line 59" in m and "progress line 10" not in m  # only the last lines
    assert len(m) < 1200, len(m)
    # The hint works as written: the Job's namespace and the job/NAME form kubectl resolves.
    cmd = hint(m)
    assert cmd == ["kubectl", "logs", "-n", "demo", f"job/{JOB_NAME}"]
    assert await api.get(JOB, cmd[4].split("/", 1)[1], cmd[3]) is not None


async def test_a_job_past_its_deadline_with_no_pod_left_says_so_without_a_dead_hint(
    api: KubeApi,
) -> None:
    body = await gated(api)
    await make_job(
        api,
        body,
        {
            "type": "Failed",
            "reason": "DeadlineExceeded",
            "message": "Job was active longer than specified deadline",
        },
    )
    state = (await states(api))["arithmetic"]
    assert state.status == "failed"
    assert "DeadlineExceeded: Job was active longer than specified deadline" in state.message
    assert "spec.strategy.evalGate.timeoutSeconds" in state.message
    assert "no pod left" in state.message and "kubectl logs" not in state.message


async def test_a_pod_that_never_started_names_the_waiting_reason(api: KubeApi) -> None:
    body = await gated(api)
    job = await make_job(api, body, None)
    waiting = {
        "reason": "ImagePullBackOff",
        "message": 'Back-off pulling image "champion:0.1.0"',
    }
    await make_pod(api, job, {"waiting": waiting})
    state = (await states(api))["arithmetic"]
    assert state.status == "running"
    assert 'ImagePullBackOff: Back-off pulling image "champion:0.1.0"' in state.message
    # Once the Job fails, the failure says it too.
    await api.patch(
        JOB, JOB_NAME, {"status": {"failed": 1, "conditions": [{"status": "True", **BACKOFF}]}},
        "demo", subresource="status",
    )  # fmt: skip
    failed = (await states(api))["arithmetic"]
    assert failed.status == "failed" and "ImagePullBackOff" in failed.message


async def test_a_job_that_completed_without_writing_a_result_is_a_failure(api: KubeApi) -> None:
    body = await gated(api)
    await make_job(api, body, None)
    await api.patch(
        JOB,
        JOB_NAME,
        {"status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}},
        "demo",
        subresource="status",
    )
    state = (await states(api))["arithmetic"]
    assert state.status == "failed"
    assert f"ConfigMap {JOB_NAME}" in state.message and "no result" in state.message


def test_eval_jobs_keep_the_last_log_lines_as_the_termination_message() -> None:
    job = eval_job(
        namespace="demo", rollout="chat", suite="arithmetic", version="chat-v2",
        endpoint="http://x:8000", baseline_endpoint=None, runner=EvalRunner("champion:test"),
        timeout_seconds=60, owner=Owner("champion.dev/v1alpha1", "Rollout", "chat", "u"),
    )  # fmt: skip
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"


# --- on a real control plane: the Job controller's own conditions and pods ----------------------


@pytest.mark.slow
async def test_on_a_real_control_plane_an_unscheduled_pod_then_the_deadline_are_named(
    tmp_path: Any,
) -> None:
    """kube-apiserver, kube-controller-manager (the real Job controller) and kube-scheduler
    1.36 with no node: the gate first says why the pod does not run, then, once the Job's
    deadline has passed and its pod is gone, the Job controller's reason, and no dead hint."""
    import asyncio
    import subprocess
    import time

    from champion.sandbox.controlplane import ControlPlane, binaries_present, tool

    if not binaries_present():
        pytest.fail("the control plane is not built: run `bash hack/build-k8s.sh`")
    plane = await asyncio.to_thread(ControlPlane(tmp_path).start)
    try:
        kubectl = [tool("kubectl"), "--kubeconfig", str(plane.admin_kubeconfig)]
        for args in (
            ["apply", "--server-side", "-f", str(ROOT / "crds")],
            ["wait", "--for=condition=Established", "--timeout=30s", "crd", "--all"],
        ):
            done = subprocess.run([*kubectl, *args], capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
        api = await connect(str(plane.admin_kubeconfig))
        try:
            await api.create(demo("00-namespace.yaml"))
            body = await gated(api)
            job = eval_job(
                namespace="demo", rollout="chat", suite="arithmetic", version="chat-v2",
                endpoint="http://10.96.0.2:8000", baseline_endpoint=None,
                runner=EvalRunner("champion:test", service_account=None), timeout_seconds=8,
                owner=Owner("champion.dev/v1alpha1", "Rollout", "chat", body["metadata"]["uid"]),
            )  # fmt: skip
            await api.create(job)

            async def until(status: str, words: str) -> Any:
                deadline = time.monotonic() + 60
                state = None
                while time.monotonic() < deadline:
                    state = (await states(api))["arithmetic"]
                    if state.status == status and words in state.message:
                        return state
                    await asyncio.sleep(0.5)
                pytest.fail(f"no {status} state saying {words!r}: {state}")

            waiting = await until("running", "is not scheduled")
            assert f"pod {JOB_NAME}-" in waiting.message, waiting.message
            failed = await until("failed", "DeadlineExceeded")
            assert "Job was active longer than specified deadline" in failed.message
            assert "spec.strategy.evalGate.timeoutSeconds" in failed.message
            if "kubectl logs" in failed.message:  # a pod still terminating: it is named
                assert hint(failed.message) == ["kubectl", "logs", "-n", "demo", f"job/{JOB_NAME}"]
            else:
                assert "no pod left" in failed.message
        finally:
            await api.close()
    finally:
        await asyncio.to_thread(plane.stop)
