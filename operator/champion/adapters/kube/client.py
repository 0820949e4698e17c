"""A small async Kubernetes client on aiohttp.

kopf watches and patches the objects it handles; the reconcilers also need to
read other objects and own children. The official `kubernetes` client is
synchronous and would block kopf's event loop, so this client speaks the REST
API directly and borrows only kubeconfig/in-cluster loading from it.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from typing import Any

import aiohttp

from champion.adapters.kube.resources import Resource, resource_for


class ApiError(Exception):
    """An error answer from the API server, with its Status message."""

    def __init__(
        self, status: int, message: str, reason: str = "", method: str = "", path: str = ""
    ) -> None:
        super().__init__(f"{status} {reason}: {message}".strip())
        self.status = status
        self.message = message
        self.reason = reason
        # The request that failed, so a report can name the kind and verb (a 404 from an
        # unserved API says only "404 page not found").
        self.method = method
        self.path = path


class NotFound(ApiError):
    pass


class Conflict(ApiError):
    pass


PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}


class KubeApi:
    """CRUD on any resource in `resources.py`; every call is one HTTP request."""

    def __init__(
        self, server: str, session: aiohttp.ClientSession, headers: Mapping[str, str]
    ) -> None:
        self._server = server.rstrip("/")
        self._session = session
        self._headers = dict(headers)
        self.requests = 0

    async def close(self) -> None:
        await self._session.close()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        self.requests += 1
        headers = {**self._headers, "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body)
        async with self._session.request(
            method, self._server + path, data=data, params=params, headers=headers
        ) as resp:
            text = await resp.text()
            if resp.status >= 400:
                try:
                    status = json.loads(text)
                    message = status.get("message", text)
                    reason = status.get("reason", "")
                except ValueError:
                    message, reason = text, ""
                cls = (
                    NotFound if resp.status == 404 else Conflict if resp.status == 409 else ApiError
                )
                raise cls(resp.status, message, reason, method, path)
            return json.loads(text) if text else None

    async def get(
        self, res: Resource, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = await self._call("GET", res.path(namespace, name))
        except NotFound:
            return None
        return result

    async def list(
        self, res: Resource, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        params = {"labelSelector": label_selector} if label_selector else None
        result = await self._call("GET", res.path(namespace), params=params)
        items: list[dict[str, Any]] = result.get("items", [])
        return items

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        res = resource_for(obj["apiVersion"], obj["kind"])
        ns = obj.get("metadata", {}).get("namespace")
        result: dict[str, Any] = await self._call("POST", res.path(ns), body=obj)
        return result

    async def patch(
        self,
        res: Resource,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        subresource: str | None = None,
        patch_type: str = "merge",
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(
            "PATCH",
            res.path(namespace, name, subresource),
            body=patch,
            content_type=PATCH_TYPES[patch_type],
        )
        return result

    async def delete(self, res: Resource, name: str, namespace: str | None = None) -> bool:
        try:
            await self._call(
                "DELETE", res.path(namespace, name), body={"propagationPolicy": "Background"}
            )
        except NotFound:
            return False
        return True

    async def ensure(self, obj: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Create `obj` or merge-patch its labels, annotations and spec; returns (object, changed).

        Owned children are fully described by their manifest, so a merge patch
        of the desired fields converges them without clobbering status.
        """
        res = resource_for(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        current = await self.get(res, meta["name"], meta.get("namespace"))
        if current is None:
            return await self.create(obj), True
        desired = {
            k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata", "status")
        }
        desired_meta = {k: meta[k] for k in ("labels", "annotations") if k in meta}
        if _contains(current, desired) and _contains(current.get("metadata", {}), desired_meta):
            return current, False
        patch: dict[str, Any] = {**desired}
        if desired_meta:
            patch["metadata"] = desired_meta
        return await self.patch(res, meta["name"], patch, meta.get("namespace")), True


def _contains(actual: Any, desired: Any) -> bool:
    """True when every field in `desired` has the same value in `actual`.

    Lists match item by item, each item by containment: a real API server fills defaults into
    list items (a backendRef's `group` and `kind`, a container's `terminationMessagePath`), and
    comparing them with `==` made every tick PATCH an unchanged object."""
    if isinstance(desired, dict):
        if not isinstance(actual, dict):
            return False
        return all(_contains(actual.get(k), v) for k, v in desired.items())
    if isinstance(desired, list):
        if not isinstance(actual, list) or len(actual) != len(desired):
            return False
        return all(_contains(a, d) for a, d in zip(actual, desired, strict=True))
    return bool(actual == desired)


async def connect(
    kubeconfig: str | None = None, context: str | None = None, user_agent: str = "champion-operator"
) -> KubeApi:
    """A client from a kubeconfig file, or in-cluster service-account credentials.

    `user_agent` names the caller in the API server's audit log (the operator, or an eval Job).
    """
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config

    cfg = k8s_client.Configuration()
    if kubeconfig is None:
        try:
            k8s_config.load_incluster_config(client_configuration=cfg)
        except k8s_config.ConfigException:
            k8s_config.load_kube_config(context=context, client_configuration=cfg)
    else:
        k8s_config.load_kube_config(
            config_file=kubeconfig, context=context, client_configuration=cfg
        )
    headers: dict[str, str] = {"User-Agent": user_agent}
    token = cfg.api_key.get("authorization") or cfg.api_key.get("BearerToken")
    if token:
        headers["Authorization"] = token if token.startswith("Bearer ") else f"Bearer {token}"
    ssl_ctx: ssl.SSLContext | bool = False
    if cfg.host.startswith("https"):
        ctx = (
            ssl.create_default_context(cafile=cfg.ssl_ca_cert)
            if cfg.ssl_ca_cert
            else ssl.create_default_context()
        )
        if cfg.cert_file and cfg.key_file:
            ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
        if not cfg.verify_ssl:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        ssl_ctx = ctx
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=ssl_ctx),
        timeout=aiohttp.ClientTimeout(total=30),
    )
    return KubeApi(cfg.host, session, headers)
