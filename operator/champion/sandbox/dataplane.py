"""The data plane of the sandbox on the real control plane: what a kubelet, KServe's controller
and a gateway would do, for what cannot run here (GPUs, vLLM, container images).

The real controller-manager turns the operator's Deployments into ReplicaSets and Pods, the real
scheduler binds them to KWOK's GPU Nodes, and KWOK marks them Running and Ready. This module
then, every half second, reading the real API server as any client would:

- starts a simulated vLLM server for each model Deployment that has a ready replica, on the
  ClusterIP and port the real API server gave its Service (Service CIDRs are on loopback here),
  and stops it when the Deployment is gone or has no ready replica;
- plays KServe's controller for InferenceServices (`kserve_cluster.py`);
- runs eval Job pods as local processes (`job_pods.py`);
- keeps the routes and Services the load generator splits traffic by;
- writes Prometheus's file_sd targets with the version labels relabelling would add.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from champion.adapters.kube import KubeApi, resource_for
from champion.sandbox.job_pods import JobPodRunner
from champion.sandbox.kserve_cluster import KServeStandIn
from champion.sandbox.prometheus import PrometheusServer, target_groups
from champion.sandbox.vllm_sim import Profile, SimulatedVLLM

log = logging.getLogger("champion.sandbox")
ROLLOUT_LABEL = "champion.dev/rollout"
VERSION_LABEL = "champion.dev/model-version"
PROFILE = "sandbox.champion.dev/profile"
DEPLOYMENT = resource_for("apps/v1", "Deployment")
SERVICE = resource_for("v1", "Service")
HTTPROUTE = resource_for("gateway.networking.k8s.io/v1", "HTTPRoute")

Key = tuple[str, str]


@dataclass
class ClusterView:
    """What the data plane last read from the API server."""

    services: dict[Key, dict[str, Any]] = field(default_factory=dict)
    routes: list[dict[str, Any]] = field(default_factory=list)

    def service(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.services.get((namespace, name))

    def http_routes(self) -> list[dict[str, Any]]:
        return self.routes


@dataclass
class VLLMServer:
    key: Key
    address: str
    port: int
    runner: web.AppRunner
    sim: SimulatedVLLM
    labels: dict[str, str]


class DataPlane:
    def __init__(
        self,
        api: KubeApi,
        prometheus: PrometheusServer | None,
        workdir: Path,
        kubeconfig_for: Any,
    ) -> None:
        self.api = api
        self.prometheus = prometheus
        self.view = ClusterView()
        self.servers: dict[Key, VLLMServer] = {}
        self.kserve = KServeStandIn(api, workdir / "model-servers")
        self.jobs = JobPodRunner(api, workdir, kubeconfig_for)

    async def reconcile(self) -> None:
        services = await self.api.list(SERVICE)
        self.view.services = {
            (s["metadata"]["namespace"], s["metadata"]["name"]): s for s in services
        }
        with contextlib.suppress(Exception):  # the Gateway API CRDs may not be installed
            self.view.routes = await self.api.list(HTTPROUTE)
        deployments = await self.api.list(DEPLOYMENT, label_selector=VERSION_LABEL)
        wanted = {
            (d["metadata"]["namespace"], d["metadata"]["name"]): d
            for d in deployments
            if int((d.get("status") or {}).get("readyReplicas") or 0) > 0
            and not d["metadata"].get("deletionTimestamp")
        }
        for key in list(self.servers):
            if key not in wanted:
                await self._stop(key)
        for key, dep in wanted.items():
            await self._ensure(key, dep)
        await self.kserve.reconcile()
        await self.jobs.reconcile()
        self._publish_targets()

    async def _ensure(self, key: Key, dep: dict[str, Any]) -> None:
        svc = self.view.service(*key)
        if svc is None:
            return  # the Service comes with the Deployment; wait for it
        address = svc["spec"].get("clusterIP")
        port = int(svc["spec"]["ports"][0]["port"])
        template = dep["spec"]["template"]
        labels = template["metadata"].get("labels") or {}
        profile = Profile.parse((template["metadata"].get("annotations") or {}).get(PROFILE))
        current = self.servers.get(key)
        if current is not None and (current.address, current.port) != (address, port):
            await self._stop(key)  # the Service was re-created with another ClusterIP
            current = None
        if current is None:
            sim = SimulatedVLLM(served_model=labels.get(VERSION_LABEL, key[1]), profile=profile)
            runner = web.AppRunner(sim.app(), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, address, port).start()
            self.servers[key] = VLLMServer(key, address, port, runner, sim, labels)
            log.info("model server for %s/%s on %s:%s", *key, address, port)
        else:
            current.sim.profile = profile
            current.labels = labels

    async def _stop(self, key: Key) -> None:
        server = self.servers.pop(key)
        await server.runner.cleanup()
        log.info("model server for %s/%s stopped", *key)

    def _publish_targets(self) -> None:
        servers = [(s.key, s.address, s.port, s.labels) for s in self.servers.values()]
        if self.prometheus is not None:
            self.prometheus.write_targets(target_groups(servers + self.kserve.targets()))

    async def close(self) -> None:
        for key in list(self.servers):
            await self._stop(key)
        await self.kserve.close()
        self.jobs.close()


async def run_forever(plane: DataPlane, stop: asyncio.Event, period: float = 0.5) -> None:
    while not stop.is_set():
        try:
            await plane.reconcile()
        except Exception:  # a stand-in controller keeps going, like a real one
            log.exception("data plane reconcile failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), period)
