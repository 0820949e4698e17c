"""The kubelet's part for eval Job pods on the real control plane: run the container, report it.

The real Job controller creates the Pod, the real scheduler binds it, KWOK marks it Running
(KWOK's own pod-complete stage is left out, so it never fakes the result). This runs the
container's arguments through this Python's `champion` CLI as a local process, with the
environment a kubelet would resolve (values and Secret keys) and, for credentials, a token of
the Pod's own ServiceAccount: the eval Job's RBAC is the chart's, checked by the real
authorizer. When the process exits, the Pod's status says so (phase and exit code), and the
real Job controller marks the Job complete or failed from it.
"""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from champion.adapters.kube import KubeApi, resource_for

log = logging.getLogger("champion.sandbox")
POD = resource_for("v1", "Pod")
SECRET = resource_for("v1", "Secret")

Key = tuple[str, str]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def resolve_env(
    container: dict[str, Any], secret: Callable[[str], dict[str, Any] | None]
) -> dict[str, str]:
    """The container's env as the kubelet resolves it: values, and Secret keys (an llm_judge
    scorer's API key); a missing Secret or key leaves the variable unset."""
    out: dict[str, str] = {}
    for item in container.get("env") or []:
        if "value" in item:
            out[item["name"]] = str(item["value"])
            continue
        ref = (item.get("valueFrom") or {}).get("secretKeyRef")
        if not ref:
            continue
        found = secret(ref["name"])
        if found is None:
            continue
        data = (found.get("data") or {}).get(ref["key"])
        if data is not None:
            out[item["name"]] = base64.b64decode(data).decode()
        elif ref["key"] in (found.get("stringData") or {}):
            out[item["name"]] = str(found["stringData"][ref["key"]])
    return out


def _owned_by_job(pod: dict[str, Any]) -> bool:
    return any(o.get("kind") == "Job" for o in pod["metadata"].get("ownerReferences") or [])


class JobPodRunner:
    def __init__(
        self, api: KubeApi, workdir: Path, kubeconfig_for: Callable[[str, str], Path]
    ) -> None:
        self.api = api
        self.workdir = workdir
        self.kubeconfig_for = kubeconfig_for
        self.running: dict[Key, tuple[subprocess.Popen[bytes], str]] = {}

    async def reconcile(self) -> None:
        pods = [p for p in await self.api.list(POD) if _owned_by_job(p)]
        live = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in pods}
        for key in list(self.running):
            if key not in live:  # deleted (the Job was removed): stop its process
                self.running.pop(key)[0].kill()
        for key, pod in live.items():
            phase = (pod.get("status") or {}).get("phase")
            if key in self.running:
                await self._finish_if_done(key, pod)
            elif phase == "Running" and not pod["metadata"].get("deletionTimestamp"):
                self.running[key] = (await self._start(pod), _now())

    async def _start(self, pod: dict[str, Any]) -> subprocess.Popen[bytes]:
        ns = pod["metadata"]["namespace"]
        container = pod["spec"]["containers"][0]
        secrets: dict[str, dict[str, Any] | None] = {}
        for item in container.get("env") or []:
            ref = (item.get("valueFrom") or {}).get("secretKeyRef")
            if ref and ref["name"] not in secrets:
                secrets[ref["name"]] = await self.api.get(SECRET, ref["name"], ns)
        sa = pod["spec"].get("serviceAccountName") or "default"
        env = {
            **os.environ,
            **resolve_env(container, secrets.get),
            "KUBECONFIG": str(self.kubeconfig_for(ns, sa)),
        }
        owner = next(o["name"] for o in pod["metadata"]["ownerReferences"] if o["kind"] == "Job")
        out = open(self.workdir / f"job-{owner}.log", "ab")  # noqa: SIM115 - owned by the child
        log.info("eval Job pod %s/%s runs as %s", ns, pod["metadata"]["name"], sa)
        return subprocess.Popen(
            [sys.executable, "-m", "champion.cli", *container.get("args", [])],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )

    async def _finish_if_done(self, key: Key, pod: dict[str, Any]) -> None:
        proc, started = self.running[key]
        code = proc.poll()
        if code is None:
            return
        container = pod["spec"]["containers"][0]
        status = {
            "phase": "Succeeded" if code == 0 else "Failed",
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "PodCompleted",
                 "lastTransitionTime": _now()},
                {"type": "ContainersReady", "status": "False", "reason": "PodCompleted",
                 "lastTransitionTime": _now()},
            ],
            "containerStatuses": [
                {
                    "name": container["name"],
                    "image": container.get("image", ""),
                    "imageID": "",
                    "ready": False,
                    "started": False,
                    "restartCount": 0,
                    "state": {
                        "terminated": {
                            "exitCode": code,
                            "reason": "Completed" if code == 0 else "Error",
                            "startedAt": started,
                            "finishedAt": _now(),
                        }
                    },
                }
            ],
        }  # fmt: skip
        await self.api.patch(POD, key[1], {"status": status}, key[0], subresource="status")
        self.running.pop(key)
        log.info("eval Job pod %s/%s exited with code %s", *key, code)

    def close(self) -> None:
        for proc, _ in self.running.values():
            proc.kill()
        self.running.clear()
