"""Scheduled EvalSuite runs: the suite against the serving champion, on its cron.

Whose champion: the Rollouts in the suite's namespace that list it in
`spec.strategy.evalGate.suites` (the first by name when several do; the status
names it). Each due slot starts one eval Job owned by the suite; a slot that
comes while the previous run is still going is skipped and counted, like a
CronJob with `concurrencyPolicy: Forbid`. A failed run is a Warning event
naming the failing cases: quality drift on the version that serves.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from champion.adapters import metrics as operator_metrics
from champion.adapters.kube import KubeApi, resource_for
from champion.api.v1alpha1 import reasons
from champion.api.v1alpha1.common import ConditionType
from champion.api.v1alpha1.evalsuite import EvalSuiteSpec, EvalSuiteStatus, ScheduleStatus
from champion.builders.eval_job import (
    RESULT_KEY,
    EvalRunner,
    eval_job,
    job_failed,
    llm_judge_env,
)
from champion.builders.naming import VERSION_LABEL
from champion.builders.workloads import Owner
from champion.domain.conditions import parse_time, rfc3339, set_condition
from champion.domain.evals.schedule import BadSchedule, due
from champion.reconcile.eval_access import SERVICE_ACCOUNT, missing_service_account
from champion.reconcile.rollout_observe import load_versions, served_model, version_endpoint
from champion.reconcile.status import Event

ROLLOUT = resource_for("champion.dev/v1alpha1", "Rollout")
JOB = resource_for("batch/v1", "Job")
CONFIGMAP = resource_for("v1", "ConfigMap")


def _lists_suite(rollout: dict[str, Any], suite: str) -> bool:
    gate = ((rollout.get("spec") or {}).get("strategy") or {}).get("evalGate") or {}
    return suite in (gate.get("suites") or [])


async def _collect(
    api: KubeApi, namespace: str, suite: str, sched: ScheduleStatus, status: EvalSuiteStatus
) -> tuple[list[Event], bool]:
    """Records the latest run's result once; returns (events, whether it is still running)."""
    job_name = sched.last_job
    if not job_name or sched.recorded_job == job_name:
        return [], False
    cm = await api.get(CONFIGMAP, job_name, namespace)
    raw = ((cm or {}).get("data") or {}).get(RESULT_KEY)
    job = await api.get(JOB, job_name, namespace)
    if raw is None:
        if job is not None and not job_failed(job):
            return [], True
        sched.recorded_job = job_name
        why = "failed without a result" if job is not None else "is gone without a result"
        return [
            Event(
                "Warning",
                reasons.SCHEDULED_RUN_FAILED,
                f"scheduled run {job_name} {why}: kubectl logs -n {namespace} job/{job_name}",
            )
        ], False
    sched.recorded_job = job_name
    try:
        result = json.loads(raw)
    except ValueError:
        return [
            Event("Warning", reasons.SCHEDULED_RUN_FAILED, f"unreadable result in {job_name}")
        ], False
    version = ((job or {}).get("metadata") or {}).get("labels", {}).get(VERSION_LABEL)
    status.last_run_at = sched.last_schedule_time
    status.model_version = version
    status.score = result.get("score")
    status.passed = bool(result.get("passed"))
    status.cases = len(result.get("cases") or []) or None
    status.failing_cases = list(result.get("failing_cases") or [])[:50]
    if status.score is not None and version:
        operator_metrics.EVAL_SCORE.labels(namespace, suite, version, "all").set(status.score)
        for slice_, value in (result.get("slices") or {}).items():
            operator_metrics.EVAL_SCORE.labels(namespace, suite, version, slice_).set(value)
    score = f"{status.score:.3f}" if status.score is not None else "n/a"
    if status.passed:
        message = f"scheduled run on champion {version} passed (score {score})"
        return [Event("Normal", reasons.SCHEDULED_RUN_PASSED, message)], False
    failing = ", ".join(status.failing_cases[:10]) or "none listed"
    why = "; ".join(result.get("reasons") or []) or "below its thresholds"
    message = (
        f"scheduled run on champion {version} failed (score {score}): {why}; "
        f"failing cases: {failing}"
    )
    return [Event("Warning", reasons.SCHEDULED_RUN_FAILED, message)], False


async def scheduled_runs(
    api: KubeApi,
    body: dict[str, Any],
    spec: EvalSuiteSpec,
    status: EvalSuiteStatus,
    now: datetime,
    runner: EvalRunner,
) -> list[Event]:
    """Starts the due run and records finished ones; mutates `status`."""
    meta = body["metadata"]
    namespace, name, generation = meta["namespace"], meta["name"], meta.get("generation")
    if not spec.schedule:
        status.schedule = None
        return []
    sched = status.schedule or ScheduleStatus()
    status.schedule = sched
    events, running = await _collect(api, namespace, name, sched, status)

    def condition(ok: bool, reason: str, message: str) -> None:
        status.conditions = set_condition(
            status.conditions, ConditionType.SCHEDULED, ok, reason, message, now, generation
        )

    created = parse_time(meta.get("creationTimestamp")) or now
    try:
        slot = due(spec.schedule, parse_time(sched.last_schedule_time), created, now)
    except BadSchedule as err:
        condition(False, reasons.INVALID_SCHEDULE, str(err))
        return events
    sched.next_schedule_time = rfc3339(slot.next_at)
    rollouts = sorted(
        (r for r in await api.list(ROLLOUT, namespace) if _lists_suite(r, name)),
        key=lambda r: r["metadata"]["name"],
    )
    serving = [r for r in rollouts if (r.get("status") or {}).get("champion")]
    if not serving:
        condition(
            False,
            reasons.NO_CHAMPION,
            f"no Rollout in namespace {namespace} lists this suite in "
            "spec.strategy.evalGate.suites and has a champion: add it there to monitor that champion",
        )
    else:
        sched.rollout = serving[0]["metadata"]["name"]
        condition(
            True,
            reasons.SCHEDULE_ACTIVE,
            f"runs against Rollout {sched.rollout}'s champion on '{spec.schedule}' (UTC); "
            f"next at {sched.next_schedule_time}",
        )
    if slot.run_at is None:
        return events
    stamp = rfc3339(slot.run_at)
    sched.last_schedule_time = stamp
    if running or not serving:
        sched.missed += 1 + slot.missed
        why = f"run {sched.last_job} is still going" if running else "no champion to evaluate"
        events.append(
            Event("Warning", reasons.SCHEDULED_RUN_SKIPPED, f"skipped the {stamp} run: {why}")
        )
        return events
    sched.missed += slot.missed
    rollout = serving[0]
    champion = rollout["status"]["champion"]
    views = await load_versions(api, namespace, {champion})
    endpoint = await version_endpoint(api, rollout, views.get(champion))
    if endpoint is None:
        events.append(
            Event(
                "Warning",
                reasons.SCHEDULED_RUN_SKIPPED,
                f"skipped the {stamp} run: champion {champion}'s Service cannot be resolved",
            )
        )
        return events
    account = runner.service_account
    if account and await api.get(SERVICE_ACCOUNT, account, namespace) is None:
        skipped = missing_service_account(namespace, account)
        events.append(
            Event("Warning", skipped.reason, f"skipped the {stamp} run: {skipped.message}")
        )
        return events
    job = eval_job(
        namespace=namespace,
        rollout=rollout["metadata"]["name"],
        suite=name,
        version=champion,
        endpoint=endpoint,
        baseline_endpoint=None,
        runner=runner,
        timeout_seconds=int(min(86400, max(600, spec.timeout_seconds * 20))),
        owner=Owner(body["apiVersion"], body["kind"], name, meta["uid"]),
        env=llm_judge_env(spec),
        run=slot.run_at.strftime("s%Y%m%d%H%M"),
        model=served_model(rollout, views.get(champion)),
    )
    await api.ensure(job)
    sched.last_job = job["metadata"]["name"]
    missed = f" ({slot.missed} earlier slots missed)" if slot.missed else ""
    events.append(
        Event(
            "Normal",
            reasons.SCHEDULED_RUN_STARTED,
            f"scheduled run {sched.last_job} against champion {champion}{missed}",
        )
    )
    return events
