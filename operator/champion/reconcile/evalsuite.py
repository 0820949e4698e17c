"""EvalSuite: validate the spec, its case source and its scorers; running suites is the eval
runner's job. A suite that could score nothing (no cases, repeated ids, a regex or JSON Schema
that does not compile) is Valid=False with a reason that names the problem."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from champion.adapters.kube import KubeApi, resource_for
from champion.api.v1alpha1 import reasons
from champion.api.v1alpha1.common import ConditionType
from champion.api.v1alpha1.evalsuite import EvalSuiteSpec, EvalSuiteStatus
from champion.builders.eval_job import EvalRunner
from champion.domain.conditions import set_condition
from champion.domain.evals.validity import case_problems, parse_cases, scorer_problems
from champion.reconcile.evalsuite_schedule import scheduled_runs
from champion.reconcile.references import configmap_key
from champion.reconcile.spec_validity import parse_spec
from champion.reconcile.status import Event, ReconcileResult, write_status

SECRET = resource_for("v1", "Secret")


async def reconcile_evalsuite(
    api: KubeApi, body: dict[str, Any], now: datetime, runner: EvalRunner = EvalRunner()
) -> ReconcileResult:
    meta = body["metadata"]
    namespace, generation = meta["namespace"], meta.get("generation")
    status = EvalSuiteStatus.model_validate(body.get("status") or {})
    spec, error = parse_spec(EvalSuiteSpec, body)
    problems: list[tuple[str, str]] = []
    if spec is None:
        problems.append((reasons.INVALID_SPEC, f"fix the spec: {error}"))
    else:
        if spec.cases.inline is not None:
            problems += case_problems(spec.cases.inline, "spec.cases.inline")
        ref = spec.cases.config_map
        if ref is not None:
            text, problem = await configmap_key(
                api,
                namespace,
                ref,
                "spec.cases.configMap",
                reasons.CASES_NOT_FOUND,
                reasons.CASES_NOT_FOUND,
            )
            if problem is not None:
                problems.append(problem)
            elif text is not None:
                where = f'spec.cases.configMap (ConfigMap "{ref.name}" key "{ref.key}")'
                problems += parse_cases(text, where)[1]
        problems += scorer_problems(spec.scorers)
        for i, scorer in enumerate(spec.scorers):
            secret = scorer.api_key_secret
            # Only existence is checked; the key's value is never read here nor logged.
            if secret is not None and await api.get(SECRET, secret.name, namespace) is None:
                problems.append(
                    (
                        reasons.INVALID_SPEC,
                        f'spec.scorers[{i}].apiKeySecret.name: Secret "{secret.name}" not found in namespace {namespace}',
                    )
                )
    if problems:
        status.conditions = set_condition(
            status.conditions,
            ConditionType.VALID,
            False,
            problems[0][0],
            "; ".join(m for _, m in problems),
            now,
            generation,
        )
    else:
        status.conditions = set_condition(
            status.conditions,
            ConditionType.VALID,
            True,
            reasons.VALID,
            "spec and case source are valid",
            now,
            generation,
        )
    scheduled: list[Event] = []
    if spec is not None and not problems:
        scheduled = await scheduled_runs(api, body, spec, status, now, runner)
    status.observed_generation = generation
    written = await write_status(api, body, status.to_wire())
    events = (
        [Event("Warning", problems[0][0], "; ".join(m for _, m in problems))]
        if problems and written
        else []
    )
    return ReconcileResult(written, events + scheduled)
