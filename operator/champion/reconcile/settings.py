"""Operator settings: flags of `champion run`, each also a CHAMPION_* environment variable."""

from __future__ import annotations

from dataclasses import dataclass, field

from champion.builders.eval_job import EvalRunner


@dataclass(frozen=True)
class OperatorSettings:
    prometheus_url: str | None = None
    """Where analysis and GPU utilisation queries go; None disables analysis (holds rollouts)."""
    namespaces: tuple[str, ...] = field(default_factory=tuple)
    """Namespaces to watch; empty means the whole cluster."""
    kubeconfig: str | None = None
    peering: str | None = None
    """kopf peering object name for HA; None runs standalone."""
    liveness_endpoint: str | None = None
    metrics_port: int | None = 9090
    metrics_host: str = "0.0.0.0"
    rollout_tick_seconds: float = 5.0
    """How often each Rollout is re-evaluated (analysis itself follows spec.analysis.intervalSeconds)."""
    gpupool_tick_seconds: float = 15.0
    modelversion_tick_seconds: float = 30.0
    deletion_recheck_seconds: float = 2.0
    """First wait before a held ModelVersion deletion is checked again; doubles each time."""
    deletion_recheck_max_seconds: float = 60.0
    """The longest wait between checks (a Rollout that changes wakes the check sooner)."""
    eval_image: str = "champion:0.1.0"
    """Image for eval gate Jobs (the operator's own image runs `champion eval run`)."""
    eval_service_account: str | None = "champion-eval"
    """ServiceAccount eval Jobs run as (reads EvalSuites, writes result ConfigMaps); None: the
    namespace's default."""
    log_format: str = "json"
    log_level: str = "INFO"

    def eval_runner(self) -> EvalRunner:
        return EvalRunner(self.eval_image, self.eval_service_account)
