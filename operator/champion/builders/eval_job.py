"""Pure: an eval gate run -> a batch/v1 Job running `champion eval run` in the operator's image."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from champion.api.v1alpha1.evalsuite import EvalSuiteSpec, ScorerType
from champion.builders.naming import MANAGED_BY, ROLLOUT_LABEL, VERSION_LABEL, dns_label
from champion.builders.workloads import Owner

SUITE_LABEL = "champion.dev/eval-suite"


@dataclass(frozen=True)
class EvalRunner:
    """How eval Jobs run: the operator's image, as a ServiceAccount that may read EvalSuites
    and write result ConfigMaps in the Job's namespace (the chart creates it)."""

    image: str = "champion:0.1.0"
    service_account: str | None = "champion-eval"


RESULT_KEY = "result.json"


def llm_judge_env(spec: EvalSuiteSpec) -> list[dict[str, Any]]:
    """Env entries giving each llm_judge scorer its API key from its Secret: the key reaches
    the process, never the Job's spec or its logs. Names match adapters/evals/llm_judge."""
    return [
        {
            "name": f"CHAMPION_LLM_JUDGE_API_KEY_{i}",
            "valueFrom": {
                "secretKeyRef": {
                    "name": scorer.api_key_secret.name,
                    "key": scorer.api_key_secret.key,
                }
            },
        }
        for i, scorer in enumerate(spec.scorers)
        if scorer.type == ScorerType.LLM_JUDGE and scorer.api_key_secret is not None
    ]


def job_failed(job: dict[str, Any] | None) -> bool:
    """Whether the Job controller reports the Job Failed (it ran out of retries or time)."""
    conditions = ((job or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Failed" and c.get("status") == "True" for c in conditions)


def job_complete(job: dict[str, Any] | None) -> bool:
    """Whether the Job controller reports the Job Complete (its pod exited 0)."""
    conditions = ((job or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Complete" and c.get("status") == "True" for c in conditions)


JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
"""The label the Job controller puts on the pods it makes (the Job's name)."""
EXIT_CODES = {2: "bad input", 137: "killed", 143: "terminated"}
"""What `champion eval run`'s exit codes mean (0 passed, 1 failed or crashed, 2 bad input)."""
TAIL_LINES = 5
TAIL_CHARS = 400
"""A pod's termination message (its last log lines) is kept to this many lines and characters."""


def job_failure(job: dict[str, Any]) -> str:
    """The Job controller's own words for a failed Job: `BackoffLimitExceeded: Job has reached
    the specified backoff limit`, `DeadlineExceeded: Job was active longer than …`."""
    conditions = (job.get("status") or {}).get("conditions") or []
    failed: dict[str, Any] = next(
        (c for c in conditions if c.get("type") == "Failed" and c.get("status") == "True"), {}
    )
    reason, message = failed.get("reason") or "Failed", failed.get("message") or ""
    return f"{reason}: {message}" if message else reason


def _tail(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    tail = "\n".join(lines[-TAIL_LINES:])
    return tail if len(tail) <= TAIL_CHARS else "…" + tail[-(TAIL_CHARS - 1) :]


def job_pod(job: dict[str, Any], pods: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The Job's latest pod among `pods` (listed by JOB_NAME_LABEL), owned by this very Job."""
    uid = job.get("metadata", {}).get("uid")
    owned = [
        p
        for p in pods
        if uid is None
        or any(o.get("uid") == uid for o in p.get("metadata", {}).get("ownerReferences") or [])
    ]
    owned.sort(key=lambda p: p.get("metadata", {}).get("creationTimestamp") or "")
    return owned[-1] if owned else None


def pod_state(pod: dict[str, Any], container: str = "eval") -> str | None:
    """Why the eval container is not running or how it ended, from the pod's status (bounded):
    `container eval terminated: Error, exit code 2 (bad input): "error: …"`, `waiting:
    ImagePullBackOff: …`, `unschedulable: 0/3 nodes are available …`; None when it runs."""
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    cs = next((c for c in statuses if c.get("name") == container), statuses[0] if statuses else {})
    state = cs.get("state") or {}
    terminated = state.get("terminated") or (cs.get("lastState") or {}).get("terminated")
    name = pod.get("metadata", {}).get("name", "?")
    if terminated:
        code = terminated.get("exitCode")
        meaning = f" ({EXIT_CODES[code]})" if code in EXIT_CODES else ""
        reason = terminated.get("reason") or "Terminated"
        text = f"pod {name}: container {container} terminated: {reason}, exit code {code}{meaning}"
        tail = _tail(str(terminated.get("message") or ""))
        return f"{text}; its last lines: {json.dumps(tail, ensure_ascii=False)}" if tail else text
    waiting = state.get("waiting") or {}
    if waiting.get("reason") and waiting["reason"] not in ("ContainerCreating", "PodInitializing"):
        message = _tail(str(waiting.get("message") or ""))
        detail = f": {message}" if message else ""
        return f"pod {name}: container {container} waiting: {waiting['reason']}{detail}"
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            why = _tail(str(cond.get("message") or cond.get("reason") or ""))
            return f"pod {name} is not scheduled: {why}"
    if status.get("reason"):  # e.g. Evicted, DeadlineExceeded
        why = _tail(str(status.get("message") or ""))
        return f"pod {name}: {status['reason']}" + (f": {why}" if why else "")
    return None


def failure_message(
    job: dict[str, Any], pod: dict[str, Any] | None, deadline_field: str | None = None
) -> str:
    """Why an eval Job ended without a result, bounded: `eval Job NAME failed without a result:
    REASON: MESSAGE; pod …: container eval terminated: Error, exit code 2 (bad input); its last
    lines: "…"; logs (kept 3600 s after the Job ends): kubectl logs -n NS job/NAME`. The logs
    hint only while a pod is left to read; `deadline_field` names what set the Job's deadline."""
    ns, name = job["metadata"]["namespace"], job["metadata"]["name"]
    if job_failed(job):
        failure = job_failure(job)
        parts = [f"eval Job {name} failed without a result: {failure}"]
        if failure.startswith("DeadlineExceeded") and deadline_field:
            parts.append(f"the Job's activeDeadlineSeconds is {deadline_field}")
    else:
        parts = [
            f"eval Job {name} completed but left no result (ConfigMap {name}, key {RESULT_KEY})"
        ]
    if pod is None:
        parts.append("no pod left to read logs from (the Job controller removed it)")
        return "; ".join(parts)
    parts.append(pod_state(pod) or f"pod {pod.get('metadata', {}).get('name', '?')}")
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    kept = f" (kept {ttl} s after the Job ends)" if ttl else ""
    return "; ".join(parts) + f"; logs{kept}: kubectl logs -n {ns} job/{name}"


def eval_job_name(rollout: str, suite: str, version: str, run: str = "") -> str:
    """A gate run is one per (suite, version); a scheduled run adds its slot (`run`)."""
    return dns_label(rollout, "eval", suite, version, run)


def eval_job(
    *,
    namespace: str,
    rollout: str,
    suite: str,
    version: str,
    endpoint: str,
    baseline_endpoint: str | None,
    runner: EvalRunner,
    timeout_seconds: int,
    owner: Owner,
    env: list[dict[str, Any]] | None = None,
    run: str = "",
    model: str | None = None,
    baseline_model: str | None = None,
) -> dict[str, Any]:
    name = eval_job_name(rollout, suite, version, run)
    args = [
        "eval", "run",
        "--suite-ref", f"{namespace}/{suite}",
        "--endpoint", endpoint,
        "--output-configmap", f"{namespace}/{name}",
        "--format", "json",
    ]  # fmt: skip
    if baseline_endpoint:
        args += ["--baseline-endpoint", baseline_endpoint]
    if model:
        args += ["--model", model]
    if baseline_endpoint and baseline_model:
        args += ["--baseline-model", baseline_model]
    labels = {**MANAGED_BY, ROLLOUT_LABEL: rollout, VERSION_LABEL: version, SUITE_LABEL: suite}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "ownerReferences": [owner.reference()],
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": timeout_seconds,
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    **(
                        {"serviceAccountName": runner.service_account}
                        if runner.service_account
                        else {}
                    ),
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 65532,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": "eval",
                            "image": runner.image,
                            "args": args,
                            # A failed run's last log lines become the pod's termination
                            # message, which the operator quotes in the Rollout's status.
                            "terminationMessagePolicy": "FallbackToLogsOnError",
                            **({"env": env} if env else {}),
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "256Mi"},
                                "limits": {"memory": "1Gi"},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                        }
                    ],
                },
            },
        },
    }
