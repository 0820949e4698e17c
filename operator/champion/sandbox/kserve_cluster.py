"""KServe's controller (Standard mode) for the sandbox on the real control plane.

KServe's controller cannot run here (it needs its webhook and images), so for each
InferenceService this creates what KServe would: the `<isvc>-predictor` Deployment (the real
controller-manager and scheduler place its pods on KWOK's GPU Nodes, so its GPUs count in the
pool) and the `<isvc>-predictor` Service, both owned by the InferenceService so the real garbage
collector removes them with it. Once the Deployment has its replicas ready it runs a real KServe
`ModelServer` process on the Service's ClusterIP, and writes the InferenceService's status in
KServe's shape (`kserve_children.isvc_status`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import aiohttp

from champion.adapters.kube import ApiError, KubeApi, resource_for
from champion.sandbox.kserve_process import (
    ISVC_LABEL,
    KSERVE_PORT,
    PREDICTOR_SUFFIX,
    PROFILE,
    CrashLoop,
    KServeChild,
    ModelServerProcess,
    isvc_status,
    probe,
)

log = logging.getLogger("champion.sandbox")
ISVC = resource_for("serving.kserve.io/v1beta1", "InferenceService")
DEPLOYMENT = resource_for("apps/v1", "Deployment")
SERVICE = resource_for("v1", "Service")
Key = tuple[str, str]


def _owner(isvc: dict[str, Any]) -> list[dict[str, Any]]:
    meta = isvc["metadata"]
    return [
        {
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "name": meta["name"],
            "uid": meta["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def predictor_children(isvc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The predictor Service and Deployment KServe's controller would create."""
    meta = isvc["metadata"]
    ns, name = meta["namespace"], meta["name"]
    predictor = (isvc.get("spec") or {}).get("predictor") or {}
    child = f"{name}{PREDICTOR_SUFFIX}"
    app = f"isvc.{child}"
    selector = {"app": app}
    labels = {
        **(meta.get("labels") or {}),
        **(predictor.get("labels") or {}),
        "app": app,
        "component": "predictor",
        ISVC_LABEL: name,
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": child,
            "namespace": ns,
            "labels": {"app": app, "component": "predictor", ISVC_LABEL: name},
            "ownerReferences": _owner(isvc),
        },
        "spec": {
            "selector": selector,
            "ports": [
                {"name": "http", "port": KSERVE_PORT, "targetPort": KSERVE_PORT, "protocol": "TCP"}
            ],
        },
    }
    model = predictor.get("model") or {}
    container = {
        "name": "kserve-container",
        "image": model.get("image") or "kserve/sklearnserver:v0.21.0",
        "resources": model.get("resources") or {},
    }
    pod_spec: dict[str, Any] = {"containers": [container]}
    for key in ("nodeSelector", "tolerations", "affinity", "serviceAccountName"):
        if predictor.get(key):
            pod_spec[key] = predictor[key]
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": child,
            "namespace": ns,
            "labels": {"component": "predictor", ISVC_LABEL: name},
            "ownerReferences": _owner(isvc),
        },
        "spec": {
            "replicas": int(predictor.get("minReplicas") or 1),
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": predictor.get("annotations") or {},
                },
                "spec": pod_spec,
            },
        },
    }
    return service, deployment


class KServeStandIn:
    def __init__(self, api: KubeApi, log_dir: Path) -> None:
        self.api = api
        self.log_dir = log_dir
        self.running: dict[Key, KServeChild] = {}
        self._crashes = CrashLoop()
        self._session: aiohttp.ClientSession | None = None

    async def reconcile(self) -> None:
        try:
            isvcs = await self.api.list(ISVC)
        except ApiError:
            return  # KServe's CRD not installed: nothing to play
        wanted = {(i["metadata"]["namespace"], i["metadata"]["name"]): i for i in isvcs}
        for key in list(self.running):
            if key not in wanted:
                await self._stop(key)
        self._crashes.keep_only(set(wanted))
        for key, isvc in wanted.items():
            if not isvc["metadata"].get("deletionTimestamp"):
                await self._ensure(key, isvc)

    async def _ensure(self, key: Key, isvc: dict[str, Any]) -> None:
        ns, name = key
        service, deployment = predictor_children(isvc)
        try:
            svc, _ = await self.api.ensure(service)
            dep, _ = await self.api.ensure(deployment)
        except ApiError as exc:
            log.warning("cannot create the predictor of %s/%s: %s", ns, name, exc)
            return
        wanted_replicas = int(deployment["spec"]["replicas"])
        ready_replicas = int((dep.get("status") or {}).get("readyReplicas") or 0)
        if ready_replicas < wanted_replicas:
            await self._stop_if_running(key)
            # As KServe reports a predictor whose pods are not ready yet: not Ready, and why.
            await self._write_status(
                isvc, svc, False, "PredictorNotReady",
                f"{ready_replicas} of {wanted_replicas} predictor replicas ready",
            )  # fmt: skip
            return
        predictor = (isvc.get("spec") or {}).get("predictor") or {}
        profile = (predictor.get("annotations") or {}).get(PROFILE)
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        address = svc["spec"]["clusterIP"]
        child = self.running.get(key)
        if child is not None and (
            child.process.profile != profile
            or (child.process.host, child.process.port) != (address, KSERVE_PORT)
        ):
            await self._stop(key)  # a pod template change rolls the pod
            child = None
        if child is None:
            if self._crashes.waiting(key):
                return  # CrashLoopBackOff
            log_path = self.log_dir / f"kserve-{ns}-{name}.log"
            process = ModelServerProcess(name, address, KSERVE_PORT, profile, log_path).start()
            child = KServeChild(key, process, labels)
            self.running[key] = child
            log.info(
                "KServe ModelServer for %s/%s starting on %s:%s", ns, name, address, KSERVE_PORT
            )
        child.labels = labels
        if self._session is None:
            self._session = aiohttp.ClientSession()
        reason, message, exited = await probe(child, self._session)
        if exited:
            self._crashes.crashed(key)
            await self._stop(key)  # started again later, as the kubelet restarts a container
        await self._write_status(isvc, svc, child.ready, reason, message)

    async def _write_status(
        self, isvc: dict[str, Any], svc: dict[str, Any], ready: bool, reason: str, message: str
    ) -> None:
        status = isvc_status(isvc, svc, ready, reason, message)
        if (isvc.get("status") or {}) == status:
            return
        meta = isvc["metadata"]
        with contextlib.suppress(ApiError):
            await self.api.patch(
                ISVC, meta["name"], {"status": status}, meta["namespace"], subresource="status"
            )

    async def _stop_if_running(self, key: Key) -> None:
        if key in self.running:
            await self._stop(key)

    async def _stop(self, key: Key) -> None:
        child = self.running.pop(key)
        await asyncio.to_thread(child.process.stop)
        log.info("KServe ModelServer for %s/%s stopped", *key)

    def targets(self) -> list[tuple[Key, str, int, dict[str, str]]]:
        """(key, address, port, labels) of every running model server, for Prometheus."""
        return [(c.key, c.process.host, c.process.port, c.labels) for c in self.running.values()]

    async def close(self) -> None:
        for key in list(self.running):
            await self._stop(key)
        if self._session is not None:
            await self._session.close()
            self._session = None
