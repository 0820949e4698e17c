"""Stand-ins for the cluster's controllers: the Deployment controller, the scheduler, the kubelet.

When a Deployment for a ModelVersion appears, a simulated model server starts
on the address its Service was given (the emulated API server hands Services
ClusterIPs on loopback), Pods are bound to GPU nodes first-fit (a replica that
does not fit stays Pending, as it would), and the Deployment's status reports
what is really running. KServe InferenceServices get a real KServe ModelServer
process each (`kserve_children`). Scrape targets for Prometheus carry the
version labels that relabelling would add in a real cluster.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from champion.sandbox.prometheus import PrometheusServer, target_groups
from champion.sandbox.vllm_sim import Profile, SimulatedVLLM
from tests.emulator.apiserver.errors import ApiStatusError
from tests.emulator.apiserver.server import ApiServer
from tests.emulator.kserve_children import InferenceServiceController

log = logging.getLogger("champion.sandbox")
ROLLOUT_LABEL = "champion.dev/rollout"
VERSION_LABEL = "champion.dev/model-version"
PROFILE = "sandbox.champion.dev/profile"
GPU_RESOURCES = ("nvidia.com/gpu",)


@dataclass
class Running:
    key: tuple[str, str]
    address: str
    port: int
    runner: web.AppRunner
    sim: SimulatedVLLM
    labels: dict[str, str]


def sandbox_nodes(count: int, gpus: int = 8) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": f"gpu-node-{i + 1}",
                "labels": {
                    "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3",
                    "kubernetes.io/hostname": f"gpu-node-{i + 1}",
                },
            },
            "spec": {},
            "status": {
                "capacity": {"nvidia.com/gpu": str(gpus), "cpu": "64", "memory": "512Gi"},
                "allocatable": {"nvidia.com/gpu": str(gpus), "cpu": "64", "memory": "512Gi"},
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            },
        }
        for i in range(count)
    ]


class ClusterStandIn:
    def __init__(
        self, api: ApiServer, prometheus: PrometheusServer | None, log_dir: Path | None = None
    ) -> None:
        self.api = api
        self.store = api.store
        self.prometheus = prometheus
        self.running: dict[tuple[str, str], Running] = {}
        self.kserve = InferenceServiceController(api, log_dir, schedule=self.schedule_predictor)

    def _t(self, group: str, plural: str):  # type: ignore[no-untyped-def]
        return self.store.type_for(group, plural)

    async def reconcile(self) -> None:
        deployments = self.store.select(
            self._t("apps", "deployments"),
            None,
            lambda o: VERSION_LABEL in (o["metadata"].get("labels") or {}),
        )
        wanted = {(d["metadata"]["namespace"], d["metadata"]["name"]): d for d in deployments}
        for key in list(self.running):
            if key not in wanted:
                await self._stop(key)
        for key, dep in wanted.items():
            await self._ensure(key, dep)
        await self.kserve.reconcile()
        self._publish_targets()

    async def _ensure(self, key: tuple[str, str], dep: dict[str, Any]) -> None:
        ns, name = key
        try:
            svc = self.store.get(self._t("", "services"), ns, name)
        except ApiStatusError:
            return  # the Service comes with the Deployment; wait for it
        address = svc["spec"].get("clusterIP")
        port = int(svc["spec"]["ports"][0]["port"])
        template = dep["spec"]["template"]
        labels = template["metadata"].get("labels") or {}
        profile = Profile.parse((template["metadata"].get("annotations") or {}).get(PROFILE))
        current = self.running.get(key)
        if current is None:
            sim = SimulatedVLLM(served_model=labels.get(VERSION_LABEL, name), profile=profile)
            runner = web.AppRunner(sim.app(), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, address, port).start()
            current = Running(key, address, port, runner, sim, labels)
            self.running[key] = current
            log.info("model server for %s/%s on %s:%s", ns, name, address, port)
        else:
            current.sim.profile = profile
        replicas = int(dep["spec"].get("replicas", 1))
        owner = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
            "uid": dep["metadata"]["uid"],
        }
        scheduled = self._schedule_pods(ns, name, dep["spec"]["template"], replicas, owner)
        status = {
            "observedGeneration": dep["metadata"].get("generation", 1),
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": scheduled,
            "availableReplicas": scheduled,
            "conditions": [
                {
                    "type": "Available",
                    "status": "True" if scheduled >= replicas else "False",
                    "reason": "MinimumReplicasAvailable"
                    if scheduled >= replicas
                    else "InsufficientGPUs",
                }
            ],
        }
        if dep.get("status") != status:
            with contextlib.suppress(ApiStatusError):
                self.store.update(
                    self._t("apps", "deployments"), ns, name, {**dep, "status": status}, "status"
                )

    def _gpus(self, template: dict[str, Any]) -> tuple[str, int]:
        for c in template["spec"].get("containers", []):
            for resource, value in ((c.get("resources") or {}).get("requests") or {}).items():
                if resource.startswith("nvidia.com/"):
                    return resource, int(value)
        return "nvidia.com/gpu", 0

    def schedule_predictor(self, isvc: dict[str, Any]) -> tuple[int, int]:
        """KServe's predictor Deployment, as pods: (scheduled, wanted) replicas, so that a
        KServe version's GPUs are counted in its pool like any other pod's."""
        predictor = (isvc.get("spec") or {}).get("predictor") or {}
        meta = isvc["metadata"]
        template = {
            "metadata": {
                "labels": {**(meta.get("labels") or {}), **(predictor.get("labels") or {})}
            },
            "spec": {
                "containers": [predictor.get("model") or {}],
                "nodeSelector": predictor.get("nodeSelector") or {},
            },
        }
        wanted = int(predictor.get("minReplicas") or 1)
        owner = {
            "apiVersion": isvc["apiVersion"],
            "kind": "InferenceService",
            "name": meta["name"],
            "uid": meta["uid"],
        }
        name = f"{meta['name']}-predictor"
        return self._schedule_pods(meta["namespace"], name, template, wanted, owner), wanted

    def _schedule_pods(
        self, ns: str, name: str, template: dict[str, Any], replicas: int, owner: dict[str, Any]
    ) -> int:
        pods_t = self._t("", "pods")
        mine = self.store.select(
            pods_t,
            ns,
            lambda o: (o["metadata"].get("labels") or {}).get("sandbox.champion.dev/owner") == name,
        )
        for extra in mine:
            if int(extra["metadata"]["name"].rsplit("-", 1)[1]) >= replicas:
                with contextlib.suppress(ApiStatusError):
                    self.store.delete(pods_t, ns, extra["metadata"]["name"])
        resource, gpus = self._gpus(template)
        scheduled = 0
        for i in range(replicas):
            pod_name = f"{name}-{i}"
            pod: dict[str, Any] | None
            try:
                pod = self.store.get(pods_t, ns, pod_name)
            except ApiStatusError:
                pod = None
            if pod is not None and pod["spec"].get("nodeName"):
                scheduled += 1
                continue
            node = self._fit(resource, gpus, template["spec"].get("nodeSelector") or {})
            body = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": pod_name,
                    "namespace": ns,
                    "labels": {
                        **(template["metadata"].get("labels") or {}),
                        "sandbox.champion.dev/owner": name,
                    },
                    "ownerReferences": [owner],
                },
                "spec": {
                    **({"nodeName": node} if node else {}),
                    "containers": [
                        {
                            "name": "server",
                            "resources": {
                                "requests": {resource: str(gpus)},
                                "limits": {resource: str(gpus)},
                            },
                        }
                    ],
                },
            }
            if pod is None:
                created = self.store.create(pods_t, ns, body)
            else:
                created = self.store.update(pods_t, ns, pod_name, {**pod, "spec": body["spec"]})
            phase = "Running" if node else "Pending"
            self.store.update(
                pods_t, ns, pod_name, {**created, "status": {"phase": phase}}, "status"
            )
            scheduled += 1 if node else 0
        return scheduled

    def _fit(self, resource: str, gpus: int, selector: dict[str, str]) -> str | None:
        nodes = self.store.select(
            self._t("", "nodes"),
            None,
            lambda n: all(
                (n["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items()
            ),
        )
        used: dict[str, int] = {}
        for pod in self.store.select(self._t("", "pods"), None, lambda o: True):
            node = pod["spec"].get("nodeName")
            if node:
                for c in pod["spec"].get("containers", []):
                    used[node] = used.get(node, 0) + int(
                        ((c.get("resources") or {}).get("requests") or {}).get(resource, 0)
                    )
        for n in nodes:
            free = int((n.get("status", {}).get("allocatable") or {}).get(resource, 0)) - used.get(
                n["metadata"]["name"], 0
            )
            if free >= gpus:
                return str(n["metadata"]["name"])
        return None

    async def _stop(self, key: tuple[str, str]) -> None:
        running = self.running.pop(key)
        await running.runner.cleanup()
        pods_t = self._t("", "pods")
        for pod in self.store.select(
            pods_t,
            key[0],
            lambda o: (
                (o["metadata"].get("labels") or {}).get("sandbox.champion.dev/owner") == key[1]
            ),
        ):
            with contextlib.suppress(ApiStatusError):
                self.store.delete(pods_t, key[0], pod["metadata"]["name"])
        log.info("model server for %s/%s stopped", *key)

    def _publish_targets(self) -> None:
        servers = [(r.key, r.address, r.port, r.labels) for r in self.running.values()]
        if self.prometheus is not None:
            self.prometheus.write_targets(target_groups(servers + self.kserve.targets()))

    async def close(self) -> None:
        for key in list(self.running):
            await self._stop(key)
        await self.kserve.close()
