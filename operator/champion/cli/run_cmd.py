"""`champion run`: the operator."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

import typer


def run(
    prometheus_url: Annotated[
        str | None,
        typer.Option(envvar="CHAMPION_PROMETHEUS_URL", help="Prometheus base URL for analysis."),
    ] = None,
    namespace: Annotated[
        list[str] | None,
        typer.Option(
            "--namespace",
            "-n",
            envvar="CHAMPION_NAMESPACES",
            help="Namespace to watch (repeatable; env: comma-separated). Default: all.",
        ),
    ] = None,
    kubeconfig: Annotated[
        str | None, typer.Option(envvar="KUBECONFIG", help="kubeconfig path; default in-cluster.")
    ] = None,
    peering: Annotated[
        str | None,
        typer.Option(
            envvar="CHAMPION_PEERING", help="kopf peering name for HA; default standalone."
        ),
    ] = None,
    liveness: Annotated[
        str | None,
        typer.Option(
            envvar="CHAMPION_LIVENESS", help="Liveness endpoint, e.g. http://0.0.0.0:8080/healthz."
        ),
    ] = None,
    metrics_port: Annotated[
        int, typer.Option(envvar="CHAMPION_METRICS_PORT", help="Port of /metrics; 0 disables.")
    ] = 9090,
    rollout_tick: Annotated[
        float,
        typer.Option(
            envvar="CHAMPION_ROLLOUT_TICK_SECONDS", help="Seconds between Rollout re-evaluations."
        ),
    ] = 5.0,
    gpupool_tick: Annotated[
        float,
        typer.Option(
            envvar="CHAMPION_GPUPOOL_TICK_SECONDS", help="Seconds between GPUPool recounts."
        ),
    ] = 15.0,
    eval_image: Annotated[
        str, typer.Option(envvar="CHAMPION_EVAL_IMAGE", help="Image for eval gate Jobs.")
    ] = "champion:0.1.0",
    eval_service_account: Annotated[
        str,
        typer.Option(
            envvar="CHAMPION_EVAL_SERVICE_ACCOUNT",
            help="ServiceAccount eval Jobs run as ('' for the namespace's default).",
        ),
    ] = "champion-eval",
    log_format: Annotated[
        str, typer.Option(envvar="CHAMPION_LOG_FORMAT", help="json or console.")
    ] = "json",
    log_level: Annotated[
        str,
        typer.Option(envvar="CHAMPION_LOG_LEVEL", help="DEBUG, INFO, WARNING or ERROR."),
    ] = "INFO",
) -> None:
    """Run the Champion operator (kopf) against the current cluster."""
    from champion.adapters.logging import configure
    from champion.handlers.run import run_operator
    from champion.reconcile.settings import OperatorSettings

    namespaces: list[str] = []
    for item in namespace or []:
        namespaces.extend(n.strip() for n in item.split(",") if n.strip())
    settings = OperatorSettings(
        prometheus_url=prometheus_url or None,
        namespaces=tuple(namespaces),
        kubeconfig=kubeconfig or None,
        peering=peering or None,
        liveness_endpoint=liveness or None,
        metrics_port=metrics_port or None,
        rollout_tick_seconds=rollout_tick,
        gpupool_tick_seconds=gpupool_tick,
        eval_image=eval_image,
        eval_service_account=eval_service_account or None,
        log_format=log_format,
        log_level=log_level,
    )
    configure(settings.log_format, settings.log_level)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_operator(settings))


app = run
