"""`champion sandbox up` / `down`: start the supervisor detached, wait for it; stop it by PID."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def up(workdir: Path, rps: float, gpu_nodes: int, timeout: float = 120.0) -> dict[str, str]:
    from champion.sandbox.controlplane import ensure_binaries

    ensure_binaries()  # builds the control plane the first time, with progress on stderr
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    if (workdir / "ready").exists() and _alive(workdir):
        return json.loads((workdir / "ready").read_text())
    for stale in ("ready", "kubeconfig", "env"):
        (workdir / stale).unlink(missing_ok=True)
    log = open(workdir / "sandbox.log", "wb")  # noqa: SIM115 - owned by the child
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "champion.sandbox.supervisor",
            "--dir",
            str(workdir),
            "--rps",
            str(rps),
            "--gpu-nodes",
            str(gpu_nodes),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    (workdir / "supervisor.pid").write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (workdir / "ready").exists():
            return json.loads((workdir / "ready").read_text())
        if proc.poll() is not None:
            raise RuntimeError(
                f"the sandbox exited ({proc.returncode}); see {workdir / 'sandbox.log'}"
            )
        time.sleep(0.1)
    down(workdir)
    raise RuntimeError(
        f"the sandbox was not ready within {timeout}s; see {workdir / 'sandbox.log'}"
    )


def _pid(workdir: Path) -> int | None:
    try:
        return int((workdir / "supervisor.pid").read_text())
    except (FileNotFoundError, ValueError):
        return None


def _alive(workdir: Path) -> bool:
    pid = _pid(workdir)
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def down(workdir: Path, timeout: float = 20.0) -> bool:
    """Stops the sandbox; True if something was running. Idempotent."""
    workdir = workdir.resolve()
    pid = _pid(workdir)
    if pid is None:
        return False
    from champion.sandbox.controlplane import read_pids

    pids = read_pids(workdir / "pids.json")
    was_running = _alive(workdir)
    if was_running:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(workdir):
            time.sleep(0.1)
        if _alive(workdir):
            os.kill(pid, signal.SIGKILL)
    # Whatever a supervisor that died left running: the control plane and Prometheus.
    for name, child in pids.items():
        if name != "supervisor" and isinstance(child, int):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(child, signal.SIGKILL)
    for name in ("supervisor.pid", "pids.json", "ready"):
        (workdir / name).unlink(missing_ok=True)
    return was_running


def read_env(workdir: Path) -> dict[str, str]:
    """The process environment plus what DIR/env exports (KUBECONFIG, CHAMPION_PROMETHEUS_URL)."""
    env = dict(os.environ)
    for line in (workdir / "env").read_text().splitlines():
        line = line.strip().removeprefix("export ").strip()
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            env[key] = value.strip().strip("'\"")
    return env


def operator_command(
    rollout_tick: float = 1, gpupool_tick: float = 3, kubeconfig: str | None = None
) -> list[str]:
    """`champion run` as the sandbox's users (demo, e2e, benchmarks) start it: no metrics port,
    fast ticks, and on the sandbox the kubeconfig holding the chart's ServiceAccount's token."""
    extra = ["--kubeconfig", kubeconfig] if kubeconfig else []
    return [
        sys.executable,
        "-m",
        "champion.cli",
        "run",
        "--metrics-port",
        "0",
        "--rollout-tick",
        str(rollout_tick),
        "--gpupool-tick",
        str(gpupool_tick),
        *extra,
    ]
