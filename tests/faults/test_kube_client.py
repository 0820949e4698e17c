"""Champion's Kubernetes client against a real kube-apiserver: rotating tokens and API faults.

Issue 16: the client copied its bearer token once, so a rotated projected ServiceAccount token
or an expired exec-plugin token left it refused (401) while kopf logged in again; and a 429,
a 5xx or a dropped connection failed the reconcile at once. Here:

- tokens rotate for real: each token is bound to a Secret (TokenRequest with a bound object),
  and deleting that Secret makes the real API server refuse it with 401. The client must pick
  up the new token from where it came from (a kubeconfig `tokenFile`, an exec plugin, the
  in-cluster token file) and succeed;
- faults come from tests/faults/proxy.py in front of the same server: 429 with Retry-After,
  503 once, a connection dropped mid-answer, a persistent 500, connection refused.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from champion.adapters.kube import ApiError, KubeApi, connect, resource_for
from champion.adapters.kube.client import RetryPolicy
from champion.sandbox.controlplane import ControlPlane, ensure_binaries, kubeconfig, tool
from champion.sandbox.prometheus import free_port
from tests.faults.proxy import FaultProxy, Rule
from tests.helpers import eventually

NS = "client-faults"
SA = "reader"
CONFIGMAP = resource_for("v1", "ConfigMap")


@dataclass
class Plane:
    url: str
    ca: Path
    admin: Path
    workdir: Path

    def kubectl(self, *args: str) -> str:
        done = subprocess.run(
            [tool("kubectl"), "--kubeconfig", str(self.admin), *args],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    def token(self, secret: str) -> str:
        """A ServiceAccount token (TokenRequest) valid while Secret `secret` exists."""
        self.kubectl("-n", NS, "create", "secret", "generic", secret)
        return self.kubectl(
            "-n", NS, "create", "token", SA, "--duration", "600s",
            "--bound-object-kind", "Secret", "--bound-object-name", secret,
        ).strip()  # fmt: skip

    def ssl(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plane]:
    ensure_binaries()
    workdir = tmp_path_factory.mktemp("client-cp")
    cp = ControlPlane(workdir)
    try:
        cp.start()
        p = Plane(cp.url, cp.pki / "ca.crt", cp.admin_kubeconfig, workdir)
        p.kubectl("create", "namespace", NS)
        p.kubectl("-n", NS, "create", "serviceaccount", SA)
        p.kubectl("create", "clusterrolebinding", "client-faults-reader",
                  "--clusterrole", "cluster-admin", f"--serviceaccount={NS}:{SA}")  # fmt: skip
        yield p
    finally:
        cp.stop()


_secrets = iter(range(1_000_000))


def _name(prefix: str) -> str:
    return f"{prefix}-{next(_secrets)}"


async def _refused(plane: Plane, token: str) -> bool:
    """True once the real API server answers this token with 401."""
    async with (
        aiohttp.ClientSession() as s,
        s.get(
            f"{plane.url}/api/v1/namespaces/{NS}",
            headers={"Authorization": f"Bearer {token}"},
            ssl=plane.ssl(),
        ) as r,
    ):
        return r.status == 401


async def _revoke(plane: Plane, secret: str, token: str) -> None:
    """Deletes the Secret the token is bound to, and waits until the server refuses it (the
    server caches a token's authentication for about 10 s)."""
    plane.kubectl("-n", NS, "delete", "secret", secret, "--wait=true")
    await eventually(lambda: _refused(plane, token), timeout=60, every=0.5, what="401")


# Token rotation, three ways the token reaches the client.


def _exec_user(script_dir: Path, token_file: Path) -> dict[str, Any]:
    """A kubeconfig exec plugin printing the token currently in `token_file`."""
    script = script_dir / "token-plugin.py"
    script.write_text(
        "import json, sys\n"
        f"token = open({str(token_file)!r}).read().strip()\n"
        "json.dump({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',"
        " 'status': {'token': token}}, sys.stdout)\n"
    )
    return {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": [str(script)],
            "interactiveMode": "Never",
        }
    }


@pytest.mark.parametrize("source", ["tokenFile", "exec", "in-cluster"])
async def test_a_token_that_rotates_mid_run_is_picked_up_after_the_401(
    plane: Plane,
    source: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="champion.kube")
    first, second = _name("s"), _name("s")
    old = plane.token(first)
    token_file = tmp_path / "token"
    token_file.write_text(old)
    cfg: str | None = None
    if source == "in-cluster":
        from kubernetes.config import incluster_config

        host, port = plane.url.removeprefix("https://").rsplit(":", 1)
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", host)
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", port)
        monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token_file))
        monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(plane.ca))
    else:
        user = (
            {"tokenFile": str(token_file)}
            if source == "tokenFile"
            else _exec_user(tmp_path, token_file)
        )
        (tmp_path / "kubeconfig").write_text(kubeconfig(plane.url, plane.ca, user))
        cfg = str(tmp_path / "kubeconfig")
    # No periodic re-read within the test: the rotation must be noticed by the 401.
    api = await connect(cfg, credentials_max_age=3600)
    try:
        assert (await api.get(resource_for("v1", "Namespace"), NS)) is not None
        # The kubelet (or the plugin's issuer) rotates: a new token where the old one came
        # from, and the old one revoked.
        token_file.write_text(plane.token(second))
        await _revoke(plane, first, old)
        ns = await api.get(resource_for("v1", "Namespace"), NS)
        assert ns is not None and ns["metadata"]["name"] == NS
        assert api.credentials.logins == 2  # the first login, and one after the 401
        assert any("401" in r.getMessage() and "changed" in r.getMessage() for r in caplog.records)
        assert not any(old in r.getMessage() for r in caplog.records)
    finally:
        await api.close()


async def test_a_token_file_is_re_read_periodically_without_waiting_for_a_401(
    plane: Plane, tmp_path: Path
) -> None:
    first, second = _name("s"), _name("s")
    token_file = tmp_path / "token"
    old = plane.token(first)
    token_file.write_text(old)
    (tmp_path / "kubeconfig").write_text(
        kubeconfig(plane.url, plane.ca, {"tokenFile": str(token_file)})
    )
    api = await connect(str(tmp_path / "kubeconfig"), credentials_max_age=0.2)
    try:
        await api.get(resource_for("v1", "Namespace"), NS)
        token_file.write_text(plane.token(second))
        await _revoke(plane, first, old)  # longer than max_age
        refused = api.credentials.refused

        async def no_401(*args: Any) -> None:
            raise AssertionError("refused with 401: the token file was not re-read")

        api.credentials.refused = no_401  # type: ignore[method-assign]
        assert await api.get(resource_for("v1", "Namespace"), NS) is not None
        api.credentials.refused = refused  # type: ignore[method-assign]
    finally:
        await api.close()


async def test_a_token_that_stays_refused_surfaces_the_401_after_one_re_read(
    plane: Plane, tmp_path: Path
) -> None:
    secret = _name("s")
    token = plane.token(secret)
    token_file = tmp_path / "token"
    token_file.write_text(token)
    (tmp_path / "kubeconfig").write_text(
        kubeconfig(plane.url, plane.ca, {"tokenFile": str(token_file)})
    )
    api = await connect(str(tmp_path / "kubeconfig"), credentials_max_age=3600)
    try:
        await _revoke(plane, secret, token)
        with pytest.raises(ApiError) as err:
            await api.get(resource_for("v1", "Namespace"), NS)
        assert err.value.status == 401
        assert api.credentials.logins == 2
        assert api.requests == 1  # the re-read token is the refused one: not sent again
    finally:
        await api.close()


# API faults, through the fault proxy.


@pytest.fixture
async def proxied(plane: Plane, tmp_path: Path) -> AsyncIterator[tuple[FaultProxy, KubeApi]]:
    proxy = FaultProxy(
        upstream=plane.url, ca_data=plane.ca.read_bytes(), token=plane.token(_name("p"))
    )
    await asyncio.to_thread(proxy.start)
    api = await connect(str(proxy.write_kubeconfig(tmp_path / "kubeconfig")))
    try:
        yield proxy, api
    finally:
        await api.close()
        await asyncio.to_thread(proxy.stop)


def _configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": NS}, "data": data}  # fmt: skip


def _retries(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]


async def test_a_429_waits_for_retry_after_then_succeeds_without_hammering(
    proxied: tuple[FaultProxy, KubeApi], caplog: pytest.LogCaptureFixture
) -> None:
    proxy, api = proxied
    name = _name("cm")
    await api.create(_configmap(name, a="1"))
    rule = proxy.add(
        Rule(frozenset({"GET"}), path=f"/configmaps/{name}$", status=429, retry_after=2)
    )
    started = time.monotonic()
    got = await api.get(CONFIGMAP, name, NS)
    took = time.monotonic() - started
    assert got is not None and got["data"] == {"a": "1"}
    assert rule.fired == 1 and rule.seen == 2  # one refused, one answered: nothing in between
    assert 1.9 <= took < 6, took
    [line] = _retries(caplog)
    assert f"GET /api/v1/namespaces/{NS}/configmaps/{name}: 429 TooManyRequests" in line
    assert "attempt 1 of 5" in line and "retrying in 2.0s" in line
    assert proxy.token and not any(proxy.token in r.getMessage() for r in caplog.records)


async def test_a_429_on_a_write_is_retried_since_the_server_did_not_apply_it(
    proxied: tuple[FaultProxy, KubeApi],
) -> None:
    proxy, api = proxied
    name = _name("cm")
    rule = proxy.add(Rule(frozenset({"POST"}), path="/configmaps$", status=429, retry_after=1))
    created = await api.create(_configmap(name, a="1"))
    assert created["metadata"]["name"] == name and rule.seen == 2


async def test_a_503_then_success(
    proxied: tuple[FaultProxy, KubeApi], caplog: pytest.LogCaptureFixture
) -> None:
    proxy, api = proxied
    name = _name("cm")
    await api.create(_configmap(name))
    rule = proxy.add(Rule(frozenset({"GET"}), path=f"/configmaps/{name}$", status=503))
    assert await api.get(CONFIGMAP, name, NS) is not None
    assert rule.seen == 2
    assert "503 ServiceUnavailable (attempt 1 of 5)" in _retries(caplog)[0]


async def test_a_connection_dropped_mid_answer_then_success(
    proxied: tuple[FaultProxy, KubeApi],
) -> None:
    proxy, api = proxied
    name = _name("cm")
    await api.create(_configmap(name, a="1"))
    rule = proxy.add(Rule(frozenset({"GET"}), path=f"/configmaps/{name}$", cut_after_chunks=1))
    got = await api.get(CONFIGMAP, name, NS)
    assert got is not None and got["data"] == {"a": "1"}
    assert rule.fired == 1 and rule.seen == 2


async def test_a_refused_connection_is_retried_until_the_server_is_back(
    plane: Plane, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The API server restarting: nothing listens for a moment, then it answers."""
    port = free_port()
    proxy = FaultProxy(plane.url, plane.ca.read_bytes(), token=plane.token(_name("p")), port=port)
    # More room than the default policy: how long the proxy takes to start is up to the machine.
    retry = RetryPolicy(attempts=20, max_backoff=0.5, budget=60)
    api = await connect(str(proxy.write_kubeconfig(tmp_path / "kubeconfig")), retry=retry)
    try:
        get = asyncio.ensure_future(api.get(resource_for("v1", "Namespace"), NS))

        async def refused_once() -> bool:
            return any("ClientConnectorError" in m for m in _retries(caplog))

        await eventually(refused_once, timeout=10, what="a refused connection retried")
        await asyncio.to_thread(proxy.start)
        assert (await asyncio.wait_for(get, 30)) is not None
    finally:
        await api.close()
        await asyncio.to_thread(proxy.stop)


async def test_a_persistent_500_surfaces_after_bounded_attempts(
    proxied: tuple[FaultProxy, KubeApi], caplog: pytest.LogCaptureFixture
) -> None:
    proxy, api = proxied
    name = _name("cm")
    rule = proxy.add(Rule(frozenset({"GET"}), path=f"/configmaps/{name}$", status=500, times=1000))
    started = time.monotonic()
    with pytest.raises(ApiError) as err:
        await api.get(CONFIGMAP, name, NS)
    assert err.value.status == 500 and err.value.method == "GET"
    assert rule.fired == 5  # RetryPolicy.attempts, then the error
    assert time.monotonic() - started < RetryPolicy().budget + 5
    assert [m.split("(attempt ")[1][:6] for m in _retries(caplog)] == ["1 of 5", "2 of 5", "3 of 5", "4 of 5"]  # fmt: skip


async def test_a_named_create_whose_answer_was_lost_returns_the_object_it_created(
    proxied: tuple[FaultProxy, KubeApi], caplog: pytest.LogCaptureFixture
) -> None:
    """The POST is applied, the connection drops before the answer: the retry meets 409
    AlreadyExists, and the object (one, not two) is read back."""
    caplog.set_level(logging.INFO, logger="champion.kube")
    proxy, api = proxied
    name = _name("cm")
    rule = proxy.add(Rule(frozenset({"POST"}), path="/configmaps$", cut_after_chunks=1))
    created = await api.create(_configmap(name, a="1"))
    assert rule.fired == 1 and rule.seen == 2
    assert created["metadata"]["name"] == name and created["data"] == {"a": "1"}
    assert any("AlreadyExists after a retry" in r.getMessage() for r in caplog.records)


async def test_a_generate_name_create_whose_answer_was_lost_is_not_repeated(
    proxied: tuple[FaultProxy, KubeApi],
) -> None:
    proxy, api = proxied
    prefix = _name("gen") + "-"
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"generateName": prefix, "namespace": NS}}  # fmt: skip
    rule = proxy.add(Rule(frozenset({"POST"}), path="/configmaps$", cut_after_chunks=1))
    with pytest.raises(aiohttp.ClientError):
        await api.create(body)
    assert rule.seen == 1
    made = [c for c in await api.list(CONFIGMAP, NS) if c["metadata"]["name"].startswith(prefix)]
    assert len(made) == 1  # the one the lost answer was about; a retry would have made two


async def test_a_merge_patch_is_retried_after_a_503_and_a_json_patch_is_not(
    proxied: tuple[FaultProxy, KubeApi],
) -> None:
    proxy, api = proxied
    name = _name("cm")
    await api.create(_configmap(name, a="1"))
    rule = proxy.add(Rule(frozenset({"PATCH"}), path=f"/configmaps/{name}$", status=503))
    patched = await api.patch(CONFIGMAP, name, {"data": {"b": "2"}}, NS)
    assert patched["data"] == {"a": "1", "b": "2"} and rule.seen == 2
    rule = proxy.add(Rule(frozenset({"PATCH"}), path=f"/configmaps/{name}$", status=503))
    ops = [{"op": "add", "path": "/data/c", "value": "3"}]
    with pytest.raises(ApiError) as err:
        await api.patch(CONFIGMAP, name, ops, NS, patch_type="json")
    assert err.value.status == 503 and rule.seen == 1


async def test_a_delete_whose_answer_was_lost_reports_the_object_deleted(
    proxied: tuple[FaultProxy, KubeApi],
) -> None:
    proxy, api = proxied
    name = _name("cm")
    await api.create(_configmap(name))
    rule = proxy.add(Rule(frozenset({"DELETE"}), path=f"/configmaps/{name}$", cut_after_chunks=1))
    assert await api.delete(CONFIGMAP, name, NS) is True
    assert rule.seen == 2 and await api.get(CONFIGMAP, name, NS) is None
    assert await api.delete(CONFIGMAP, name, NS) is False  # not there, and nothing retried
