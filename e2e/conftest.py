"""e2e fixtures: a cluster reached only through kubectl and a kubeconfig.

By default the local sandbox: a real control plane (etcd, kube-apiserver,
controller-manager, scheduler, KWOK nodes) with Champion installed by helm, real
Prometheus and simulated model servers, and the operator running as the chart's
ServiceAccount. Set E2E_KUBECONFIG to run the same tests against a cluster where
Champion is installed (see hack/e2e-kind.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def kubectl() -> str:
    local = ROOT / ".tools" / "bin" / "kubectl"
    return str(local) if local.exists() else "kubectl"


def k(env: dict[str, str], *args: str) -> str:
    """Runs the real kubectl; fails the test with kubectl's own message."""
    result = subprocess.run([kubectl(), *args], env=env, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
    return result.stdout


def apply(env: dict[str, str], *docs: dict[str, Any], verb: str = "apply") -> None:
    """`kubectl apply -f -` (or `replace`) of these objects; fails the test with kubectl's message."""
    result = subprocess.run(
        [kubectl(), verb, "-f", "-"], input=yaml.safe_dump_all(docs), env=env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if result.returncode != 0:
        raise AssertionError(f"kubectl {verb} failed: {result.stderr}")


needs_sandbox_behaviour = pytest.mark.skipif(
    bool(os.environ.get("E2E_KUBECONFIG")),
    reason="makes a version slow or faulty through the sandbox's sandbox.champion.dev/profile "
    "annotation, which real model servers ignore",
)


def wait_rollout(
    env: dict[str, str],
    field: str,
    version: str,
    phase: str,
    timeout: float,
    name: str = "chat",
    namespace: str = "demo",
) -> dict:
    """Polls `kubectl get rollout` until it is in `phase` with status.<field> = version."""
    deadline = time.monotonic() + timeout
    last: dict = {}
    while time.monotonic() < deadline:
        last = json.loads(
            k(env, "get", "rollouts.champion.dev", name, "-n", namespace, "-o", "json")
        )
        status = last.get("status") or {}
        if status.get("phase") == phase and status.get(field) == version:
            return last
        time.sleep(1)
    raise AssertionError(
        f"rollout {name} never reached {phase} with {field}={version}: {last.get('status')}"
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    external = os.environ.get("E2E_KUBECONFIG")
    if external:
        yield {**os.environ, "KUBECONFIG": external}
        return
    from champion.sandbox.lifecycle import down, operator_command, read_env, up

    workdir = tmp_path_factory.mktemp("sandbox")
    up(workdir, rps=20, gpu_nodes=2)
    env = read_env(workdir)
    operator = None
    try:
        log = open(workdir / "operator.log", "wb")  # noqa: SIM115 - closed with the process
        operator = subprocess.Popen(
            operator_command(
                rollout_tick=1, gpupool_tick=2, kubeconfig=env["CHAMPION_OPERATOR_KUBECONFIG"]
            ),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        yield env
        # A test that passes while the operator is dead proves nothing: say so at the end.
        died = operator.poll()
        if died is not None:
            tail = (workdir / "operator.log").read_text(errors="replace")[-3000:]
            raise AssertionError(f"the operator exited ({died}) during the tests:\n{tail}")
    finally:
        if operator is not None and operator.poll() is None:
            operator.terminate()
            operator.wait(timeout=20)
        down(workdir)
