"""What the sandbox puts into a fresh real control plane, as a platform team would.

- KWOK GPU Nodes with `nvidia.com/gpu` capacity and the labels GPU pools select (a real server
  keeps a Node's status as created; KWOK keeps it alive with heartbeats and leases);
- Gateway API's CRDs (standard channel, from the `sigs.k8s.io/gateway-api` module) and KServe's
  InferenceService CRD (from the `github.com/kserve/kserve` module's release files);
- Champion itself with the real `helm install` of `charts/champion` (CRDs, ClusterRole,
  ServiceAccount, the eval Jobs' Role), with `replicas=0`: the operator runs as a local process
  with a token of the chart's ServiceAccount, so every request it makes passes the chart's RBAC
  through the real authorizer or fails as it would in a cluster.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from champion.sandbox.controlplane import ROOT, ControlPlaneError, k8s_dir, kubeconfig, tool

RELEASE = "champion"
RELEASE_NAMESPACE = "champion-system"
OPERATOR_SA = "champion"  # the chart's full name for release `champion`
GPU_PRODUCT = "NVIDIA-H100-80GB-HBM3"


def gpu_nodes(count: int, gpus: int = 8) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": f"gpu-node-{i + 1}",
                "labels": {
                    "type": "kwok",
                    "nvidia.com/gpu.product": GPU_PRODUCT,
                    "kubernetes.io/hostname": f"gpu-node-{i + 1}",
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                },
                "annotations": {"kwok.x-k8s.io/node": "fake"},
            },
            "spec": {},
            "status": {
                "capacity": {
                    "nvidia.com/gpu": str(gpus),
                    "cpu": "64",
                    "memory": "512Gi",
                    "pods": "110",
                },
                "allocatable": {
                    "nvidia.com/gpu": str(gpus),
                    "cpu": "64",
                    "memory": "512Gi",
                    "pods": "110",
                },
            },
        }
        for i in range(count)
    ]


def kubectl(admin: Path, *args: str, stdin: str | None = None, timeout: float = 120) -> str:
    result = subprocess.run(
        [tool("kubectl"), "--kubeconfig", str(admin), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise ControlPlaneError(f"kubectl {' '.join(args[:3])} failed: {result.stderr.strip()}")
    return result.stdout


def wait_established(admin: Path, timeout: float = 60) -> None:
    """Every CRD Established; a CRD created a moment ago has no conditions yet, so retry."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            kubectl(admin, "wait", "--for=condition=Established", "--timeout=30s", "crd", "--all")
            return
        except ControlPlaneError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def third_party_crds() -> list[Path]:
    base = k8s_dir()
    files = sorted((base / "gateway-api-crds").glob("*.yaml"))
    files.append(base / "kserve-crds" / "serving.kserve.io_inferenceservices.yaml")
    missing = [f for f in files if not f.exists()]
    if missing or len(files) < 2:
        raise ControlPlaneError(f"third-party CRDs missing ({missing}): run hack/build-k8s.sh")
    return files


def install(
    admin: Path, gpu_node_count: int, prometheus_url: str, eval_namespaces: list[str]
) -> None:
    nodes = yaml.safe_dump_all(gpu_nodes(gpu_node_count))
    kubectl(admin, "create", "-f", "-", stdin=nodes)
    # Server-side: KServe's CRD is too large for client-side apply's annotation.
    args = ["apply", "--server-side", "--field-manager", "champion-sandbox"]
    for crd in third_party_crds():
        args += ["-f", str(crd)]
    kubectl(admin, *args)
    wait_established(admin)
    # The eval Jobs' Role and ServiceAccount go into these namespaces, which must exist first.
    for ns in eval_namespaces:
        kubectl(admin, "create", "namespace", ns, "--save-config")  # apply-able later
    helm = [
        tool("helm"), "install", RELEASE, str(ROOT / "charts" / "champion"),
        "--kubeconfig", str(admin), "-n", RELEASE_NAMESPACE, "--create-namespace",
        "--set", "replicas=0", "--set", "image.repository=local/champion-not-pulled", "--set", f"prometheus.url={prometheus_url}",
        "--set", "evalJobs.namespaces={" + ",".join(eval_namespaces) + "}",
    ]  # fmt: skip
    result = subprocess.run(helm, capture_output=True, text=True, timeout=180)
    if result.returncode != 0:
        raise ControlPlaneError(f"helm install failed: {result.stderr.strip()}")
    wait_established(admin)


def token_kubeconfig(
    admin: Path, server: str, ca: Path, namespace: str, sa: str, out: Path
) -> Path:
    """A kubeconfig holding a token of ServiceAccount `namespace/sa` (`kubectl create token`)."""
    token = kubectl(admin, "create", "token", sa, "-n", namespace, "--duration", "24h").strip()
    out.write_text(kubeconfig(server, ca, {"token": token}, name=f"{namespace}-{sa}"))
    out.chmod(0o600)
    return out
