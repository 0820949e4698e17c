"""e2e fixtures: a cluster reached only through kubectl and a kubeconfig.

By default the local sandbox (emulated API server, real Prometheus, simulated
model servers) with the operator running against it. Set E2E_KUBECONFIG to run
the same tests against a real cluster where Champion is installed (see
hack/e2e-kind.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def kubectl() -> str:
    local = ROOT / ".tools" / "bin" / "kubectl"
    return str(local) if local.exists() else "kubectl"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    external = os.environ.get("E2E_KUBECONFIG")
    if external:
        yield {**os.environ, "KUBECONFIG": external}
        return
    from champion.sandbox.lifecycle import down, up

    workdir = tmp_path_factory.mktemp("sandbox")
    up(workdir, rps=20, gpu_nodes=2)
    env = dict(os.environ)
    for line in (workdir / "env").read_text().splitlines():
        key, value = line.removeprefix("export ").split("=", 1)
        env[key] = value
    operator = None
    try:
        subprocess.run(
            [kubectl(), "apply", "-f", str(ROOT / "crds")], env=env, check=True, capture_output=True
        )
        log = open(workdir / "operator.log", "wb")  # noqa: SIM115 - closed with the process
        operator = subprocess.Popen(
            [sys.executable, "-m", "champion.cli", "run", "--metrics-port", "0", "--rollout-tick", "1", "--gpupool-tick", "2"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        yield env
    finally:
        if operator is not None:
            operator.terminate()
            operator.wait(timeout=20)
        down(workdir)
