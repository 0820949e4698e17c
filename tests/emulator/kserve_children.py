"""The emulated API server's stand-in for KServe's controller (Standard mode) and kubelet, for InferenceServices.

For each `serving.kserve.io/v1beta1` InferenceService in the emulated API
server's store, it creates the `<isvc>-predictor` Service as KServe's
controller does (owned by the InferenceService, so deleting it takes the
Service along), runs a real KServe `ModelServer` process
(`champion.sandbox.kserve_model`) on the Service's ClusterIP, and reports
status in KServe's shape: conditions IngressReady, PredictorReady and Ready,
`observedGeneration`, `url` and `address.url`. The served model is named after
the InferenceService, as KServe's runtimes name it.

KServe's own predictor Service maps port 80 to the container's 8080. The
sandbox has no kube-proxy: the process binds the Service's address and port
itself, and port 80 would need root, so the Service here exposes 8080 directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from champion.sandbox.kserve_process import (
    ISVC,
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
from tests.emulator.apiserver.errors import ApiStatusError
from tests.emulator.apiserver.server import ApiServer

log = logging.getLogger("champion.sandbox")
__all__ = ["KSERVE_PORT", "InferenceServiceController", "ModelServerProcess"]


class InferenceServiceController:
    """Reconciles InferenceServices into Services, ModelServer processes and status."""

    def __init__(
        self,
        api: ApiServer,
        log_dir: Path | None = None,
        schedule: Callable[[dict[str, Any]], tuple[int, int]] | None = None,
    ) -> None:
        self.store = api.store
        self.log_dir = log_dir
        # Binds the predictor's pods to nodes (scheduled, wanted); None: no GPU accounting.
        self.schedule = schedule
        self.running: dict[tuple[str, str], KServeChild] = {}
        self._crashes = CrashLoop()
        self._session: aiohttp.ClientSession | None = None

    def _isvcs(self) -> list[dict[str, Any]] | None:
        try:
            rt = self.store.type_for(*ISVC)
        except ApiStatusError:
            return None  # no InferenceService CRD applied: nothing to emulate
        return list(self.store.select(rt, None, lambda o: True))

    async def reconcile(self) -> None:
        isvcs = self._isvcs() or []
        wanted = {(i["metadata"]["namespace"], i["metadata"]["name"]): i for i in isvcs}
        for key in list(self.running):
            if key not in wanted:
                await self._stop(key)
        self._crashes.keep_only(set(wanted))
        for key, isvc in wanted.items():
            await self._ensure(key, isvc)

    def _service(self, isvc: dict[str, Any]) -> dict[str, Any] | None:
        meta = isvc["metadata"]
        ns, name = meta["namespace"], meta["name"]
        svc_t = self.store.type_for("", "services")
        svc_name = f"{name}{PREDICTOR_SUFFIX}"
        with contextlib.suppress(ApiStatusError):
            return self.store.get(svc_t, ns, svc_name)
        app = f"isvc.{svc_name}"
        body = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": svc_name,
                "namespace": ns,
                "labels": {"app": app, "component": "predictor", ISVC_LABEL: name},
                "ownerReferences": [
                    {
                        "apiVersion": "serving.kserve.io/v1beta1",
                        "kind": "InferenceService",
                        "name": name,
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {
                "selector": {"app": app},
                "ports": [
                    {
                        "name": "http",
                        "port": KSERVE_PORT,
                        "targetPort": KSERVE_PORT,
                        "protocol": "TCP",
                    }
                ],
            },
        }
        try:
            return self.store.create(svc_t, ns, body)
        except ApiStatusError as exc:
            log.warning("cannot create Service %s/%s: %s", ns, svc_name, exc)
            return None

    async def _ensure(self, key: tuple[str, str], isvc: dict[str, Any]) -> None:
        ns, name = key
        svc = self._service(isvc)
        if svc is None:
            return
        predictor = (isvc.get("spec") or {}).get("predictor") or {}
        labels = {**(isvc["metadata"].get("labels") or {}), **(predictor.get("labels") or {})}
        profile = (predictor.get("annotations") or {}).get(PROFILE)
        if self.schedule is not None:
            scheduled, wanted = self.schedule(isvc)
            if scheduled < wanted:
                # As KServe reports a predictor whose pods are Pending: not Ready, and why.
                self._write_status(
                    isvc, svc, False, "InsufficientGPUs",
                    f"{wanted - scheduled} of {wanted} predictor replicas cannot be scheduled: no node has the GPUs",
                )  # fmt: skip
                return
        address = svc["spec"]["clusterIP"]
        port = int(svc["spec"]["ports"][0]["port"])
        child = self.running.get(key)
        if child is not None and (
            child.process.profile != profile
            or (child.process.host, child.process.port) != (address, port)
        ):
            await self._stop(key)  # a pod template change rolls the pod
            child = None
        if child is None:
            if self._crashes.waiting(key):
                return  # CrashLoopBackOff
            log_path = self.log_dir / f"kserve-{ns}-{name}.log" if self.log_dir else None
            process = ModelServerProcess(name, address, port, profile, log_path).start()
            child = KServeChild(key, process, labels)
            self.running[key] = child
            log.info("KServe ModelServer for %s/%s starting on %s:%s", ns, name, address, port)
        child.labels = labels
        if self._session is None:
            self._session = aiohttp.ClientSession()
        reason, message, exited = await probe(child, self._session)
        if exited:
            self._crashes.crashed(key)
            await self._stop(key)  # started again later, as the kubelet restarts a container
        self._write_status(isvc, svc, child.ready, reason, message)

    def _write_status(
        self, isvc: dict[str, Any], svc: dict[str, Any], ready: bool, reason: str, message: str
    ) -> None:
        meta = isvc["metadata"]
        ns, name = meta["namespace"], meta["name"]
        old = isvc.get("status") or {}
        status = isvc_status(isvc, svc, ready, reason, message)
        if old == status:
            return
        with contextlib.suppress(ApiStatusError):
            self.store.update(
                self.store.type_for(*ISVC), ns, name, {**isvc, "status": status}, "status"
            )

    async def _stop(self, key: tuple[str, str]) -> None:
        child = self.running.pop(key)
        # Off the event loop: the emulated API server may share it, and a graceful stop takes ~0.5 s.
        await asyncio.to_thread(child.process.stop)
        log.info("KServe ModelServer for %s/%s stopped", *key)

    def targets(self) -> list[tuple[tuple[str, str], str, int, dict[str, str]]]:
        """(key, address, port, labels) of every running model server, for Prometheus."""
        return [(c.key, c.process.host, c.process.port, c.labels) for c in self.running.values()]

    async def close(self) -> None:
        for key in list(self.running):
            await self._stop(key)
        if self._session is not None:
            await self._session.close()
            self._session = None
