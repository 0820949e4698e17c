"""Pure: an eval gate run -> a batch/v1 Job running `champion eval run` in the operator's image."""

from __future__ import annotations

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
