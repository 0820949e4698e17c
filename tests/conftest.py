"""Shared fixtures: paths to the real external tools installed by hack/install-tools.sh."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".tools" / "bin"


def tool_path(name: str) -> str:
    """The real binary `name`: .tools/bin first, then PATH; skip-free: fail loudly if absent."""
    candidate = TOOLS / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run `bash hack/install-tools.sh`")
    return found


@pytest.fixture(scope="session")
def kubectl_bin() -> str:
    return tool_path("kubectl")


@pytest.fixture(scope="session")
def helm_bin() -> str:
    return tool_path("helm")


@pytest.fixture(scope="session")
def prometheus_bin() -> str:
    return tool_path("prometheus")


@pytest.fixture(scope="session")
def promtool_bin() -> str:
    return tool_path("promtool")


os.environ.setdefault("CHAMPION_LOG_FORMAT", "console")


@pytest.fixture
async def apiserver(tmp_path: Path):  # type: ignore[no-untyped-def]
    """An emulated API server on 127.0.0.1 with Champion's CRDs applied; `.kubeconfig` is written."""
    import yaml

    from tests.emulator.apiserver import ApiServer

    server = await ApiServer().start()
    for crd in sorted((ROOT / "crds").glob("*.yaml")):
        server.seed(yaml.safe_load(crd.read_text()))
    server.write_kubeconfig(tmp_path / "kubeconfig")
    try:
        yield server
    finally:
        await server.stop()
