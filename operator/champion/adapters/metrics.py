"""The operator's own Prometheus metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

REGISTRY = CollectorRegistry(auto_describe=True)

PHASES = (
    "Pending", "CapacityPending", "EvalGate", "Shadow", "Canary", "Paused", "Promoting",
    "Succeeded", "RollingBack", "RolledBack", "Aborted",
)  # fmt: skip

ROLLOUT_PHASE = Gauge(
    "champion_rollout_phase",
    "1 for the Rollout's current phase, 0 for the others.",
    ["namespace", "rollout", "phase"],
    registry=REGISTRY,
)
ROLLOUT_WEIGHT = Gauge(
    "champion_rollout_weight",
    "Share of live traffic (percent) per role.",
    ["namespace", "rollout", "role"],
    registry=REGISTRY,
)
VERDICTS = Counter(
    "champion_analysis_verdict_total",
    "Analysis verdicts by decision and reason.",
    ["namespace", "rollout", "decision", "reason"],
    registry=REGISTRY,
)
ROLLOUT_DURATION = Histogram(
    "champion_rollout_duration_seconds",
    "Time from a rollout's start to its end (Succeeded, RolledBack or Aborted).",
    ["namespace", "outcome"],
    buckets=(60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400),
    registry=REGISTRY,
)
INCONCLUSIVE = Gauge(
    "champion_rollout_inconclusive_intervals",
    "Consecutive analysis intervals without enough evidence.",
    ["namespace", "rollout"],
    registry=REGISTRY,
)
EVAL_SCORE = Gauge(
    "champion_eval_score",
    "Latest eval score (0-1) per suite, model version and slice.",
    ["namespace", "suite", "model_version", "slice"],
    registry=REGISTRY,
)
RECONCILE_ERRORS = Counter(
    "champion_reconcile_errors_total",
    "Reconciliations that failed and will be retried.",
    ["kind"],
    registry=REGISTRY,
)


def record_rollout(
    namespace: str, rollout: str, phase: str | None, champion_weight: int, challenger_weight: int
) -> None:
    for p in PHASES:
        ROLLOUT_PHASE.labels(namespace, rollout, p).set(1 if p == phase else 0)
    ROLLOUT_WEIGHT.labels(namespace, rollout, "champion").set(champion_weight)
    ROLLOUT_WEIGHT.labels(namespace, rollout, "challenger").set(challenger_weight)


def serve(port: int, host: str = "0.0.0.0") -> None:
    start_http_server(port, addr=host, registry=REGISTRY)
