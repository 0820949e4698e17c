"""Before an eval Job is made: the ServiceAccount it runs as must exist in its namespace.

Without it the Job is created, but the API server's ServiceAccount admission refuses every pod
the Job controller makes; the gate would read "running" until its deadline. Checking first turns
that into Degraded=True (EvalServiceAccountMissing) on the Rollout, with the fix.
"""

from __future__ import annotations

from champion.adapters.kube import KubeApi, resource_for
from champion.api.v1alpha1 import reasons
from champion.builders.eval_job import EvalRunner
from champion.domain.api_failures import ApiFailure
from champion.reconcile.failures import UserFixableError

SERVICE_ACCOUNT = resource_for("v1", "ServiceAccount")


def missing_service_account(namespace: str, name: str) -> ApiFailure:
    return ApiFailure(
        reasons.EVAL_SERVICE_ACCOUNT_MISSING,
        f'eval Jobs run as ServiceAccount "{name}", which does not exist in namespace '
        f"{namespace}: add {namespace} to the chart's evalJobs.namespaces (helm upgrade … "
        f"--set 'evalJobs.namespaces={{{namespace}}}'), or create the ServiceAccount with "
        "the Role of docs/helm.md",
        permanent=True,
    )


async def require_eval_service_account(api: KubeApi, namespace: str, runner: EvalRunner) -> None:
    """Raises UserFixableError when the runner's ServiceAccount is not in `namespace`."""
    name = runner.service_account
    if name and await api.get(SERVICE_ACCOUNT, name, namespace) is None:
        raise UserFixableError(missing_service_account(namespace, name))
