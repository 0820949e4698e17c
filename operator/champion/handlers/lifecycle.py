"""Startup, login and cleanup: kopf settings chosen on purpose, clients opened and closed."""

from __future__ import annotations

import os
import socket
from typing import Any

import kopf

from champion.adapters import metrics
from champion.adapters.kube import connect
from champion.adapters.logging import get_logger
from champion.reconcile.settings import OperatorSettings

ANNOTATION_PREFIX = "champion.dev"


def register(registry: kopf.OperatorRegistry, settings: OperatorSettings) -> None:
    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
        # Progress and diff-base in annotations: status belongs to the
        # reconcilers, which write it on purpose, once per reconcile.
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
            prefix=ANNOTATION_PREFIX
        )
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=ANNOTATION_PREFIX, key="last-handled-configuration"
        )
        settings.persistence.finalizer = f"{ANNOTATION_PREFIX}/finalizer"
        settings.posting.level = 20  # INFO and above become Events.
        # Events say who wrote them: `kubectl describe` shows "From champion-operator", not kopf.
        settings.posting.reporting_component = "champion-operator"
        settings.posting.reporting_instance = os.environ.get("HOSTNAME") or socket.gethostname()
        settings.watching.server_timeout = 60
        # A Rollout deleted while its timer runs keeps kopf's finalizer until the tick
        # returns; kopf looks again only after this polling (60 s by default), and
        # `kubectl delete` waited that minute. A tick lasts well under a second.
        settings.background.cancellation_polling = 1
        settings.networking.request_timeout = 30
        runtime = memo.runtime
        runtime.api = await connect(runtime.settings.kubeconfig)
        if runtime.settings.prometheus_url:
            from champion.adapters.prometheus import PrometheusClient

            runtime.prometheus = PrometheusClient(runtime.settings.prometheus_url)
        if runtime.settings.metrics_port:
            metrics.serve(runtime.settings.metrics_port, runtime.settings.metrics_host)
        get_logger("champion").info(
            "operator started",
            prometheus=runtime.settings.prometheus_url,
            namespaces=list(runtime.settings.namespaces) or "all",
        )

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        if settings.kubeconfig:
            import os

            os.environ["KUBECONFIG"] = settings.kubeconfig
            return kopf.login_with_kubeconfig(**kwargs)
        return kopf.login_via_client(**kwargs) or kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.cleanup(registry=registry)
    async def cleanup(memo: Any, **_: Any) -> None:
        if memo.runtime.api is not None:
            await memo.runtime.api.close()
