"""A real kube-apiserver with Champion's CRDs, shared by the fuzz tests that need one.

Only the control plane and `kubectl apply -f crds/` (about 8 s), not the whole sandbox: the
fuzz asks what the API server admits, and admission is the CRDs' schemas and CEL rules.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from champion.sandbox.controlplane import ROOT, ControlPlane, ensure_binaries
from champion.sandbox.install import kubectl, wait_established

NAMESPACE = "fuzz"


@dataclass(frozen=True)
class RealApiServer:
    url: str
    pki: Path
    kubeconfig: Path

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        ctx.load_cert_chain(str(self.pki / "admin.crt"), str(self.pki / "admin.key"))
        return ctx


@pytest.fixture(scope="module")
def real_apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealApiServer]:
    ensure_binaries()
    plane = ControlPlane(tmp_path_factory.mktemp("fuzz-cp"))
    try:
        plane.start()
        admin = plane.admin_kubeconfig
        kubectl(admin, "apply", "--server-side", "-f", str(ROOT / "crds"))
        wait_established(admin)
        kubectl(admin, "create", "namespace", NAMESPACE)
        yield RealApiServer(plane.url, plane.pki, admin)
    finally:
        plane.stop()
