"""Runs a real Prometheus server for the sandbox and tests: config, start, readiness, stop."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]


def prometheus_binary() -> str:
    local = ROOT / ".tools" / "bin" / "prometheus"
    if local.exists():
        return str(local)
    found = shutil.which("prometheus")
    if found is None:
        raise RuntimeError("prometheus not found: run `bash hack/install-tools.sh`")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrometheusServer:
    """A Prometheus process scraping targets listed in a file_sd JSON file."""

    def __init__(self, workdir: Path, scrape_interval: str = "1s", port: int | None = None) -> None:
        self.dir = workdir
        self.port = port or free_port()
        self.targets_file = workdir / "targets.json"
        self.scrape_interval = scrape_interval
        self.proc: subprocess.Popen[bytes] | None = None
        self._written: list[dict[str, Any]] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_targets(self, groups: list[dict[str, Any]]) -> None:
        """Replaces the file_sd list atomically; the same list again writes nothing."""
        if groups == self._written:
            return
        self._written = groups
        tmp = self.targets_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(groups))
        os.replace(tmp, self.targets_file)

    def start(self, timeout: float = 30.0) -> PrometheusServer:
        self.dir.mkdir(parents=True, exist_ok=True)
        if not self.targets_file.exists():
            self.write_targets([])
        config = {
            "global": {"scrape_interval": self.scrape_interval, "evaluation_interval": "15s"},
            "scrape_configs": [
                {
                    "job_name": "model-servers",
                    "file_sd_configs": [
                        {"files": [str(self.targets_file)], "refresh_interval": "1s"}
                    ],
                }
            ],
        }
        (self.dir / "prometheus.yml").write_text(yaml.safe_dump(config))
        log = open(self.dir / "prometheus.log", "wb")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [
                prometheus_binary(),
                f"--config.file={self.dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
                "--storage.tsdb.retention.time=1d",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"prometheus exited with {self.proc.returncode}; see {self.dir / 'prometheus.log'}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"prometheus was not ready within {timeout}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


ServerTarget = tuple[tuple[str, str], str, int, dict[str, str]]
"""(namespace/name key, address, port, pod labels) of one model server."""


def target_groups(servers: list[ServerTarget]) -> list[dict[str, Any]]:
    """file_sd groups with the labels relabelling adds in a cluster: model_version, rollout,
    namespace (from the pod labels the operator sets)."""
    return [
        {
            "targets": [f"{address}:{port}"],
            "labels": {
                "model_version": labels.get("champion.dev/model-version", ""),
                "rollout": labels.get("champion.dev/rollout", ""),
                "namespace": key[0],
            },
        }
        for key, address, port, labels in sorted(servers, key=lambda s: (s[0], s[1], s[2]))
    ]
