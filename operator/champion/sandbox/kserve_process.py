"""A real KServe `ModelServer` as a child process, and KServe's InferenceService status shape.

Used by the sandbox's KServe stand-in (`kserve_cluster.py`). KServe's own predictor Service maps
port 80 to the container's 8080. The sandbox has no kube-proxy: the process binds the Service's
address and port itself, and port 80 would need root, so the Service here exposes 8080 directly.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import aiohttp

log = logging.getLogger("champion.sandbox")
ISVC = ("serving.kserve.io", "inferenceservices")
ISVC_LABEL = "serving.kserve.io/inferenceservice"
PREDICTOR_SUFFIX = "-predictor"
KSERVE_PORT = 8080
PROFILE = "sandbox.champion.dev/profile"


class ModelServerProcess:
    """One `python -m champion.sandbox.kserve_model` child process."""

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        profile: str | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.name, self.host, self.port, self.profile = name, host, port, profile
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ModelServerProcess:
        args = [
            sys.executable,
            "-m",
            "champion.sandbox.kserve_model",
            "--name",
            self.name,
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]
        if self.profile:
            args += ["--profile", self.profile]
        # A log file, not a pipe: nobody reads a pipe, and a full one would stall the server.
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            args,
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        return self

    def exited(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    async def ready(self, session: aiohttp.ClientSession) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            return False
        try:
            async with session.get(
                f"{self.url}/v2/health/ready", timeout=aiohttp.ClientTimeout(total=0.5)
            ) as resp:
                return resp.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def isvc_status(
    isvc: dict[str, Any], svc: dict[str, Any], ready: bool, reason: str, message: str
) -> dict[str, Any]:
    """An InferenceService's status in KServe's shape: conditions IngressReady, PredictorReady
    and Ready (transition times kept while unchanged), components, modelStatus, url, address."""
    meta = isvc["metadata"]
    ns, name = meta["namespace"], meta["name"]
    old = isvc.get("status") or {}
    old_conditions = {c.get("type"): c for c in old.get("conditions") or []}

    def condition(kind: str, ok: bool) -> dict[str, Any]:
        status = "True" if ok else "False"
        previous = old_conditions.get(kind) or {}
        c: dict[str, Any] = {
            "type": kind,
            "status": status,
            "lastTransitionTime": previous.get("lastTransitionTime", _now())
            if previous.get("status") == status
            else _now(),
        }
        if not ok:
            c.update(reason=reason, message=message, severity="Info")
        return c

    address = f"http://{svc['metadata']['name']}.{ns}.svc.cluster.local"
    status: dict[str, Any] = {
        "observedGeneration": meta.get("generation", 1),
        "conditions": [
            condition("IngressReady", ready),
            condition("PredictorReady", ready),
            condition("Ready", ready),
        ],
        "components": {"predictor": {"url": address}},
        "modelStatus": {
            "states": {
                "activeModelState": "Loaded" if ready else "Pending",
                "targetModelState": "Loaded",
            },
            "transitionStatus": "UpToDate" if ready else "InProgress",
        },
    }
    if ready:
        # KServe's default domain template, {{.Name}}-{{.Namespace}}.{{.IngressDomain}}.
        status["url"] = f"http://{name}-{ns}.example.com"
        status["address"] = {"url": address}
    return status


@dataclass
class KServeChild:
    key: tuple[str, str]
    process: ModelServerProcess
    labels: dict[str, str]
    ready: bool = False


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CrashLoop:
    """A kubelet's CrashLoopBackOff for model-server processes: a server that cannot bind is
    restarted after 2, 4, 8… seconds (at most 30), not in a loop that spins the CPU."""

    def __init__(self) -> None:
        self._crashes: dict[tuple[str, str], tuple[int, float]] = {}

    def waiting(self, key: tuple[str, str]) -> bool:
        return time.monotonic() < self._crashes.get(key, (0, 0.0))[1]

    def crashed(self, key: tuple[str, str]) -> None:
        crashes = self._crashes.get(key, (0, 0.0))[0] + 1
        self._crashes[key] = (crashes, time.monotonic() + min(30.0, 2.0**crashes))

    def keep_only(self, keys: set[tuple[str, str]]) -> None:
        for key in list(self._crashes):
            if key not in keys:
                del self._crashes[key]


async def probe(child: KServeChild, session: aiohttp.ClientSession) -> tuple[str, str, bool]:
    """(reason, message, exited) of a running model server; reason "" when it is ready."""
    child.ready = await child.process.ready(session)
    code = child.process.exited()
    if code is not None:
        return "ModelServerExited", f"the model server exited with code {code}", True
    if not child.ready:
        return "ModelServerStarting", "waiting for /v2/health/ready", False
    return "", "", False
