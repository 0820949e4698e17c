"""Stand-in for the Job controller: runs eval Jobs' container command as a local process.

The operator's image runs `champion ...`; here the same arguments run through
this Python's `champion` CLI, with the sandbox's kubeconfig standing in for the
pod's service-account credentials.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from champion.sandbox.job_pods import resolve_env
from tests.emulator.apiserver.errors import ApiStatusError
from tests.emulator.apiserver.server import ApiServer


class JobRunner:
    def __init__(self, api: ApiServer, workdir: Path) -> None:
        self.api = api
        self.store = api.store
        self.workdir = workdir
        self.running: dict[tuple[str, str], subprocess.Popen[bytes]] = {}

    def reconcile(self) -> None:
        jobs_t = self.store.type_for("batch", "jobs")
        for job in self.store.select(jobs_t, None, lambda o: True):
            key = (job["metadata"]["namespace"], job["metadata"]["name"])
            status = job.get("status") or {}
            if status.get("succeeded") or status.get("failed"):
                continue
            proc = self.running.get(key)
            if proc is None:
                self.running[key] = self._start(job)
                with contextlib.suppress(ApiStatusError):
                    self.store.update(
                        jobs_t,
                        key[0],
                        key[1],
                        {
                            **job,
                            "status": {
                                "active": 1,
                                "startTime": job["metadata"]["creationTimestamp"],
                            },
                        },
                        "status",
                    )
                continue
            code = proc.poll()
            if code is None:
                continue
            self.running.pop(key)
            done: dict[str, Any] = (
                {"succeeded": 1}
                if code == 0
                else {
                    "failed": 1,
                    "conditions": [
                        {
                            "type": "Failed",
                            "status": "True",
                            "reason": "BackoffLimitExceeded",
                            "message": f"exit code {code}",
                        }
                    ],
                }
            )
            with contextlib.suppress(ApiStatusError):
                self.store.update(jobs_t, key[0], key[1], {**job, "status": done}, "status")

    def _container_env(self, namespace: str, container: dict[str, Any]) -> dict[str, str]:
        """The container's env as the kubelet would resolve it (`job_pods.resolve_env`)."""

        def secret(name: str) -> dict[str, Any] | None:
            try:
                return self.store.get(self.store.type_for("", "secrets"), namespace, name)
            except ApiStatusError:
                return None

        return resolve_env(container, secret)

    def _start(self, job: dict[str, Any]) -> subprocess.Popen[bytes]:
        container = job["spec"]["template"]["spec"]["containers"][0]
        log = open(self.workdir / f"job-{job['metadata']['name']}.log", "wb")  # noqa: SIM115 - owned by the child
        env = {
            **os.environ,
            **self._container_env(job["metadata"]["namespace"], container),
            "KUBECONFIG": str(self.workdir / "kubeconfig"),
        }
        return subprocess.Popen(
            [sys.executable, "-m", "champion.cli", *container.get("args", [])],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def close(self) -> None:
        for proc in self.running.values():
            proc.kill()
