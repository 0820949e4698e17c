"""A real Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and KWOK, from the binaries `hack/build-k8s.sh` builds from pinned Go modules.

Real TLS (a CA made here, a serving certificate with IP SAN 127.0.0.1), real authentication (an
admin client certificate in `system:masters`; ServiceAccount tokens signed with a key made here)
and RBAC authorization. Nothing here is simulated: KWOK only plays the kubelets of the Nodes it
is given (`type=kwok`), marking scheduled Pods Running and Ready (DESIGN.md §7).

Service ClusterIPs are allocated from a /24 on loopback chosen per control plane, so the
sandbox's model servers can bind the very address a Service was given (there is no kube-proxy).
"""

from __future__ import annotations

import base64
import json
import logging
import random
import shutil
import signal
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from champion.sandbox.prometheus import free_port

log = logging.getLogger("champion.sandbox")
ROOT = Path(__file__).resolve().parents[3]
K8S_VERSION = "v1.36.3"


class ControlPlaneError(RuntimeError):
    pass


def k8s_dir() -> Path:
    return ROOT / ".tools" / "k8s" / K8S_VERSION


def binaries_present() -> bool:
    bin_dir = k8s_dir() / "bin"
    return all(
        (bin_dir / b).exists()
        for b in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
    )


def ensure_binaries() -> Path:
    """Builds the control plane once (hack/build-k8s.sh prints its progress), then reuses it."""
    if not binaries_present():
        subprocess.run(["bash", str(ROOT / "hack" / "build-k8s.sh")], check=True)
    return k8s_dir()


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise ControlPlaneError(f"openssl {' '.join(args[:2])} failed: {result.stderr.strip()}")


def make_pki(pki: Path, service_ip: str) -> None:
    """CA, apiserver serving cert, admin client cert, ServiceAccount signing key."""
    pki.mkdir(parents=True, exist_ok=True)
    if (pki / "admin.crt").exists():
        return
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj",
             "/CN=champion-sandbox-ca", "-keyout", "ca.key", "-out", "ca.crt", cwd=pki)  # fmt: skip
    (pki / "san.cnf").write_text(
        "[v3]\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:"
        f"{service_ip},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,"
        "DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n"
        "[client]\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=clientAuth\n"
    )
    for name, subj, ext in (
        ("apiserver", "/CN=kube-apiserver", "v3"),
        ("admin", "/O=system:masters/CN=sandbox-admin", "client"),
    ):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subj,
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=pki)  # fmt: skip
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "30", "-extfile", "san.cnf", "-extensions", ext,
                 "-out", f"{name}.crt", cwd=pki)  # fmt: skip
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=pki)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)


def kubeconfig(server: str, ca: Path, user: dict[str, str], name: str = "sandbox") -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": name,
                    "cluster": {
                        "server": server,
                        "certificate-authority-data": base64.b64encode(ca.read_bytes()).decode(),
                    },
                }
            ],
            "users": [{"name": name, "user": user}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
        }
    )


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: IO[bytes]


@dataclass
class ControlPlane:
    """Starts and stops the five processes; `admin_kubeconfig` once `start()` returns."""

    workdir: Path
    bin_dir: Path = field(default_factory=lambda: k8s_dir() / "bin")
    procs: list[Proc] = field(default_factory=list)
    audit: bool = False
    """Write the API server's audit log (one JSON line per request, with its user) to
    `audit_log`: how the scale benchmark counts the operator's requests."""

    def __post_init__(self) -> None:
        rnd = random.SystemRandom()
        # One /24 on loopback per control plane, so two sandboxes never share an address.
        self.service_cidr = f"127.{rnd.randrange(20, 250)}.{rnd.randrange(0, 256)}.0/24"
        self.etcd_port, self.peer_port, self.api_port = free_port(), free_port(), free_port()
        self.pki = self.workdir / "pki"
        self.admin_kubeconfig = self.workdir / "kubeconfig"
        self.audit_log = self.workdir / "logs" / "audit.log"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def pids(self) -> dict[str, int]:
        return {p.name: p.popen.pid for p in self.procs}

    def _spawn(self, name: str, args: list[str]) -> Proc:
        logs = self.workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        out = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        popen = subprocess.Popen(
            [str(self.bin_dir / name), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        proc = Proc(name, popen, out)
        self.procs.append(proc)
        return proc

    def _check_alive(self) -> None:
        for p in self.procs:
            code = p.popen.poll()
            if code is not None:
                tail = (self.workdir / "logs" / f"{p.name}.log").read_text(errors="replace")
                tail = "\n".join(tail.splitlines()[-15:])
                raise ControlPlaneError(f"{p.name} exited with code {code}:\n{tail}")

    def start(self, timeout: float = 60.0) -> ControlPlane:
        started = time.monotonic()
        service_ip = self.service_cidr.rsplit(".", 1)[0] + ".1"
        make_pki(self.pki, service_ip)
        pki = self.pki
        audit: list[str] = []
        if self.audit:
            policy = self.workdir / "audit-policy.yaml"
            policy.write_text(
                "apiVersion: audit.k8s.io/v1\nkind: Policy\n"
                "omitStages: [RequestReceived]\nrules:\n- level: Metadata\n"
            )
            self.audit_log.parent.mkdir(parents=True, exist_ok=True)
            audit = ["--audit-policy-file", str(policy), "--audit-log-path", str(self.audit_log),
                     "--audit-log-mode", "batch", "--audit-log-batch-max-wait", "1s"]  # fmt: skip
        self._spawn("etcd", [
            "--name", "sandbox", "--data-dir", str(self.workdir / "etcd"),
            "--listen-client-urls", f"http://127.0.0.1:{self.etcd_port}",
            "--advertise-client-urls", f"http://127.0.0.1:{self.etcd_port}",
            "--listen-peer-urls", f"http://127.0.0.1:{self.peer_port}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer_port}",
            "--initial-cluster", f"sandbox=http://127.0.0.1:{self.peer_port}",
            "--listen-metrics-urls", "", "--unsafe-no-fsync", "--log-level", "warn",
        ])  # fmt: skip
        self._spawn("kube-apiserver", [
            "--etcd-servers", f"http://127.0.0.1:{self.etcd_port}",
            "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
            "--secure-port", str(self.api_port),
            "--tls-cert-file", str(pki / "apiserver.crt"),
            "--tls-private-key-file", str(pki / "apiserver.key"),
            "--client-ca-file", str(pki / "ca.crt"),
            "--authorization-mode", "Node,RBAC",
            "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file", str(pki / "sa.pub"),
            "--service-account-signing-key-file", str(pki / "sa.key"),
            "--service-account-max-token-expiration", "48h",
            "--service-cluster-ip-range", self.service_cidr,
            "--endpoint-reconciler-type", "none",
            "--profiling=false", "--v", "1", *audit,
        ])  # fmt: skip
        (self.admin_kubeconfig).write_text(
            kubeconfig(
                self.url,
                pki / "ca.crt",
                {
                    "client-certificate": str(pki / "admin.crt"),
                    "client-key": str(pki / "admin.key"),
                },
            )
        )
        self._wait_ready(started + timeout)
        kc = str(self.admin_kubeconfig)
        self._spawn("kube-controller-manager", [
            "--kubeconfig", kc, "--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
            "--use-service-account-credentials",
            "--service-account-private-key-file", str(pki / "sa.key"),
            "--root-ca-file", str(pki / "ca.crt"),
            "--leader-elect=false", "--secure-port", "0",
            # nodelifecycle stays on: only it lifts the not-ready taint new Nodes get.
            "--controllers", "*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-route",
            "--concurrent-gc-syncs", "5", "--v", "1",
        ])  # fmt: skip
        self._spawn("kube-scheduler", [
            "--kubeconfig", kc, "--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
            "--leader-elect=false", "--secure-port", "0", "--v", "1",
        ])  # fmt: skip
        stages: list[str] = []
        # KWOK's own stages, but for pod-complete: eval Job pods are run for real by the
        # sandbox (jobs.py), which reports their exit code in the Pod's status.
        for stage in sorted((self.bin_dir.parent / "kwok-stages").glob("*.yaml")):
            if stage.name != "pod-complete.yaml":
                stages += ["-c", str(stage)]
        self._spawn("kwok", [
            "--kubeconfig", kc, *stages,
            "--manage-all-nodes=false", "--manage-nodes-with-label-selector", "type=kwok",
            "--server-address", "", "--cidr", "10.244.0.1/16", "--node-ip", "10.99.0.1",
            # The heartbeat-with-lease stage renews each Node's Lease; without a lease duration
            # nothing does, and nodelifecycle marks the Nodes NotReady after 50 s.
            "--node-lease-duration-seconds", "40",
        ])  # fmt: skip
        log.info("control plane %s up in %.1fs", self.url, time.monotonic() - started)
        return self

    def _wait_ready(self, deadline: float) -> None:
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        ctx.load_cert_chain(str(self.pki / "admin.crt"), str(self.pki / "admin.key"))
        last = ""
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", context=ctx, timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError as exc:
                last = str(exc)
            time.sleep(0.2)
        raise ControlPlaneError(f"kube-apiserver was not ready at {self.url}/readyz: {last}")

    def stop(self, grace: float = 5.0) -> None:
        """Stops the processes in reverse start order, each before the next: clients first, so
        the API server has no watches left to drain, then etcd. The sandbox's state is thrown
        away, so a process slower than `grace` to stop is killed."""
        for p in reversed(self.procs):
            if p.popen.poll() is None:
                p.popen.send_signal(signal.SIGTERM)
                try:
                    p.popen.wait(grace)
                except subprocess.TimeoutExpired:
                    p.popen.kill()
                    p.popen.wait()
            p.log.close()
        self.procs.clear()


def read_pids(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def tool(name: str) -> str:
    local = ROOT / ".tools" / "bin" / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if not found:
        raise ControlPlaneError(f"{name} not found: run `bash hack/install-tools.sh`")
    return found
