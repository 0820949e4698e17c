"""Conformance: the same assertions against a real kube-apiserver 1.36.3 (with its real
controller-manager, from `champion.sandbox.controlplane`) and against the emulated API server.

- `control_plane` (session): ONE real control plane for the whole session, in a temporary
  directory, with Champion's `crds/` and the conformance CRD (testdata/widgets-crd.yaml) applied
  server-side and Established; stopped at the end.
- `server` (per test, parametrized `real` / `emulated`): an `Api` on one of them, in a fresh
  namespace of its own (so tests never see each other's objects on the shared real server),
  with a kubeconfig whose context is that namespace, an HTTP session, the real kubectl and the
  operator's own client (`champion.adapters.kube.connect`). The emulated one is a new
  `ApiServer` per test with the same CRDs seeded, as `tests/conftest.py::apiserver` does.
- `@pytest.mark.emulator_differs("...")` on a test records a known difference: its emulated
  case becomes `xfail(strict=True, reason="emulator differs: ...")`, so the test keeps the real
  server's assertion and says so when the emulator is fixed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import functools
import json
import ssl
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from tests.conftest import ROOT
from tests.emulator.apiserver import ApiServer
from tests.helpers import Result, eventually, run

from champion.adapters.kube import KubeApi, connect
from champion.sandbox.controlplane import ControlPlane, ensure_binaries

REAL, EMULATED = "real", "emulated"
TESTDATA = Path(__file__).parent / "testdata"
CRD_FILES = [*sorted((ROOT / "crds").glob("*.yaml")), TESTDATA / "widgets-crd.yaml"]

GROUP = "conformance.champion.dev"
WIDGETS = (f"{GROUP}/v1", "widgets")
CONFIGMAPS = ("v1", "configmaps")
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "emulator_differs(reason): a known difference; the emulated case is a strict xfail",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("emulator_differs")
        callspec = getattr(item, "callspec", None)
        if marker is None or callspec is None or callspec.params.get("server") != EMULATED:
            continue
        item.add_marker(
            pytest.mark.xfail(strict=True, reason=f"emulator differs: {marker.args[0]}")
        )


# --- the real control plane ----------------------------------------------------------------


def kubectl_sync(kubeconfig: Path, *args: str, timeout: float = 60) -> str:
    result = subprocess.run(
        [str(ROOT / ".tools" / "bin" / "kubectl"), "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def install_crds(kubeconfig: Path) -> None:
    args = ["apply", "--server-side", "--field-manager", "conformance"]
    for f in CRD_FILES:
        args += ["-f", str(f)]
    kubectl_sync(kubeconfig, *args)
    deadline = time.monotonic() + 30
    while True:  # a CRD created a moment ago may have no conditions yet: `wait` then fails
        try:
            kubectl_sync(kubeconfig, "wait", "--for=condition=Established", "crd", "--all",
                         "--timeout=20s")  # fmt: skip
            return
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class ConformanceControlPlane(ControlPlane):
    """A ControlPlane that installs the CRDs as soon as kube-apiserver is ready, before the
    controller-manager starts: its garbage collector then watches the custom resources from its
    first discovery, instead of after its next 30-second resync."""

    def _wait_ready(self, deadline: float) -> None:
        super()._wait_ready(deadline)
        install_crds(self.admin_kubeconfig)


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    ensure_binaries()
    cp = ConformanceControlPlane(tmp_path_factory.mktemp("controlplane"))
    try:
        cp.start()
        install_crds(cp.admin_kubeconfig)  # idempotent: in case the early hook did not run
        yield cp
    finally:
        _stop_in_order(cp)


def _stop_in_order(cp: ControlPlane) -> None:
    """Stops the processes one at a time, newest first, then lets `stop()` close the logs.
    (`ControlPlane.stop()` signals all five at once; kube-apiserver, finding etcd gone, then
    spends its whole 10 s grace period retrying: stopping etcd last takes 0.1 s.)"""
    for p in reversed(cp.procs):
        if p.popen.poll() is None:
            p.popen.terminate()
            try:
                p.popen.wait(10)
            except subprocess.TimeoutExpired:
                p.popen.kill()
    cp.stop()


# --- one API server, as a test sees it -----------------------------------------------------


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, list[str]]

    @property
    def warnings(self) -> list[str]:
        return self.headers.get("warning", [])


# The real controller-manager's root-CA publisher puts this ConfigMap into every namespace, at a
# moment of its own choosing; the emulator has no such controller. Lists and watches skip it.
ROOT_CA = "kube-root-ca.crt"


class Watch:
    """A watch stream: `await w.next(n)` reads n events (failing after `timeout` seconds);
    events about the root-CA ConfigMap are skipped."""

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self.resp = resp

    @property
    def status(self) -> int:
        return self.resp.status

    async def next(self, count: int = 1, timeout: float = 10) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout):
            while len(events) < count:
                line = await self.resp.content.readline()
                assert line, f"the stream ended after {events}"
                event = json.loads(line)
                if not _about_root_ca(event):
                    events.append(event)
        return events

    async def rest(self, timeout: float = 10) -> list[dict[str, Any]]:
        """Every event until the server ends the stream."""
        async with asyncio.timeout(timeout):
            text = await self.resp.text()
        events = [json.loads(line) for line in text.splitlines() if line.strip()]
        return [e for e in events if not _about_root_ca(e)]


def _about_root_ca(event: dict[str, Any]) -> bool:
    obj = event.get("object") or {}
    return bool(obj.get("kind") == "ConfigMap" and obj["metadata"].get("name") == ROOT_CA)


@dataclass
class Api:
    flavour: str  # REAL or EMULATED
    url: str
    kubeconfig: Path  # context namespace: `namespace`
    namespace: str
    http: aiohttp.ClientSession
    client: KubeApi  # the operator's own client
    kubectl_bin: str
    cache_dir: Path
    service_cidr: str
    emulator: ApiServer | None = None
    etcd_url: str | None = None  # the real server's etcd, to compact its history
    cluster_scoped: list[str] = field(default_factory=list)  # paths deleted at teardown

    @property
    def real(self) -> bool:
        return self.flavour == REAL

    @property
    def controller_timeout(self) -> float:
        """How long to wait for what controllers do: the real ones act within seconds; the
        emulator's cascades are synchronous, so what has not happened by then never will."""
        return 20.0 if self.real else 1.0

    async def compact(self) -> None:
        """Compacts the real server's etcd at the current revision, as kube-apiserver itself
        does every 5 minutes. The emulator has no etcd: its watch history is bounded by count
        alone and its lists are always current, so there is nothing to compact."""
        if self.emulator is not None:
            return
        listed = await self.get("/api/v1/namespaces")
        revision = int(listed.body["metadata"]["resourceVersion"])
        async with self.http.post(
            f"{self.etcd_url}/v3/kv/compaction", json={"revision": revision, "physical": True}
        ) as resp:
            assert resp.status == 200, await resp.text()

    def unique(self, name: str) -> str:
        """A cluster-scoped name no other test uses on the shared real server."""
        return f"{name}-{self.namespace}"

    def path(
        self,
        resource: tuple[str, str],
        name: str | None = None,
        sub: str | None = None,
        *,
        namespaced: bool = True,
    ) -> str:
        gv, plural = resource
        base = "/api/v1" if gv == "v1" else f"/apis/{gv}"
        parts = [base]
        if namespaced:
            parts.append(f"namespaces/{self.namespace}")
        parts.append(plural)
        if name is not None:
            parts.append(name)
        if sub is not None:
            parts.append(sub)
        return "/".join(parts)

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        params: dict[str, str] | None = None,
        accept: str = "application/json",
        raw: str | None = None,
    ) -> Response:
        """One request; `body` is sent as JSON, `raw` as it is."""
        headers = {"Accept": accept}
        data = raw
        if body is not None:
            data = json.dumps(body)
        if data is not None:
            headers["Content-Type"] = content_type
        async with self.http.request(
            method, self.url + path, data=data, params=params, headers=headers
        ) as resp:
            text = await resp.text()
            collected: dict[str, list[str]] = {}
            for k, v in resp.headers.items():
                collected.setdefault(k.lower(), []).append(v)
            try:
                parsed = json.loads(text) if text else None
            except ValueError:
                parsed = text
            return Response(resp.status, parsed, collected)

    async def get(self, path: str, **kw: Any) -> Response:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, body: Any, **kw: Any) -> Response:
        return await self.call("POST", path, body, **kw)

    async def put(self, path: str, body: Any, **kw: Any) -> Response:
        return await self.call("PUT", path, body, **kw)

    async def patch(self, path: str, body: Any, content_type: str = MERGE, **kw: Any) -> Response:
        return await self.call("PATCH", path, body, content_type=content_type, **kw)

    async def delete(self, path: str, body: Any = None, **kw: Any) -> Response:
        return await self.call("DELETE", path, body, **kw)

    async def create(
        self, resource: tuple[str, str], obj: dict[str, Any], *, namespaced: bool = True
    ) -> Any:
        """POST that must succeed (201); the created object. Cluster-scoped objects are
        deleted at teardown on the real server."""
        resp = await self.post(self.path(resource, namespaced=namespaced), obj)
        assert resp.status == 201, resp.body
        if not namespaced:
            self.cluster_scoped.append(
                self.path(resource, obj["metadata"]["name"], namespaced=False)
            )
        return resp.body

    @contextlib.asynccontextmanager
    async def watch(self, path: str, **params: str) -> AsyncIterator[Watch]:
        query = {"watch": "true", **params}
        async with self.http.get(
            self.url + path,
            params=query,
            headers={"Accept": "application/json"},
            timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
        ) as resp:
            yield Watch(resp)

    async def kubectl(self, *args: str, stdin: str | None = None) -> Result:
        env = {"KUBECONFIG": str(self.kubeconfig), "KUBECACHEDIR": str(self.cache_dir),
               "HOME": str(self.cache_dir), "PATH": "/usr/bin:/bin"}  # fmt: skip
        return await run(self.kubectl_bin, *args, env=env, stdin=stdin)


def _ssl_context(kubeconfig: Path) -> ssl.SSLContext | bool:
    config = yaml.safe_load(kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    if not cluster["server"].startswith("https"):
        return False
    ctx = ssl.create_default_context(
        cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
    )
    user = config["users"][0]["user"]
    ctx.load_cert_chain(user["client-certificate"], user["client-key"])
    return ctx


def _namespaced_kubeconfig(source: Path, namespace: str, target: Path) -> Path:
    config = yaml.safe_load(source.read_text())
    for ctx in config["contexts"]:
        ctx["context"]["namespace"] = namespace
    target.write_text(yaml.safe_dump(config))
    return target


@functools.cache
def _crd_docs() -> tuple[dict[str, Any], ...]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return tuple(yaml.load(f.read_text(), Loader=loader) for f in CRD_FILES)


async def start_emulator(kubeconfig: Path) -> ApiServer:
    """A fresh emulated server with the same CRDs as the real one (`seed` copies them)."""
    api = await ApiServer().start()
    for doc in _crd_docs():
        api.seed(doc)
    api.write_kubeconfig(kubeconfig)
    return api


@pytest.fixture(params=[REAL, EMULATED])
async def server(
    request: pytest.FixtureRequest, tmp_path: Path, kubectl_bin: str
) -> AsyncIterator[Api]:
    if request.param == REAL:
        cp: ControlPlane = request.getfixturevalue("control_plane")
        url, source, emulator = cp.url, cp.admin_kubeconfig, None
        service_cidr = cp.service_cidr
        etcd_url: str | None = f"http://127.0.0.1:{cp.etcd_port}"
    else:
        emulator = await start_emulator(tmp_path / "emulated-kubeconfig")
        assert emulator.kubeconfig is not None
        url, source = emulator.url, emulator.kubeconfig
        service_cidr = emulator.store.service_cidr_prefix + "0/24"
        etcd_url = None
    namespace = f"conf-{uuid.uuid4().hex[:10]}"
    kubeconfig = _namespaced_kubeconfig(source, namespace, tmp_path / "kubeconfig")
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=_ssl_context(kubeconfig)),
        timeout=aiohttp.ClientTimeout(total=30),
    )
    client = await connect(str(kubeconfig))
    api = Api(request.param, url, kubeconfig, namespace, session, client, kubectl_bin,
              tmp_path / "kube-cache", service_cidr, emulator, etcd_url)  # fmt: skip
    try:
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        created = await api.post("/api/v1/namespaces", ns)
        assert created.status == 201, created.body
        yield api
    finally:
        if api.real:  # the emulator goes with its namespace; the real server is shared
            for path in api.cluster_scoped:
                await api.delete(path)
            await api.delete(f"/api/v1/namespaces/{namespace}")
        await client.close()
        await session.close()
        if emulator is not None:
            errors = emulator.errors
            await emulator.stop()
            assert errors == [], "the emulator raised (answered 500)"


# --- objects --------------------------------------------------------------------------------

CRDS = ("apiextensions.k8s.io/v1", "customresourcedefinitions")
WIDGET_CRD: dict[str, Any] = yaml.safe_load((TESTDATA / "widgets-crd.yaml").read_text())


def crd_copy(server: Api, prefix: str) -> dict[str, Any]:
    """The widgets CRD under a kind and plural of this test's own (CRDs are cluster-scoped)."""
    suffix = server.namespace.removeprefix("conf-")
    plural = f"{prefix.lower()}{suffix}"
    crd = copy.deepcopy(WIDGET_CRD)
    crd["metadata"]["name"] = f"{plural}.{GROUP}"
    crd["spec"]["names"] = {"kind": f"{prefix}{suffix}", "plural": plural, "singular": plural}
    return crd


async def served_crd(server: Api, crd: dict[str, Any]) -> tuple[str, str]:
    """Creates `crd` and waits until its resource is served; the resource."""
    created = await server.create(CRDS, crd, namespaced=False)
    resource = (f"{GROUP}/v1", created["spec"]["names"]["plural"])

    async def served() -> bool:
        return (await server.get(server.path(resource))).status == 200

    await eventually(served, timeout=20, every=0.1, what=f"{crd['metadata']['name']} served")
    return resource


def widget(name: str = "chat", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"model": "llama", **spec},
    }


def configmap(name: str, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **meta}}


def owner_ref(owner: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        **extra,
    }
