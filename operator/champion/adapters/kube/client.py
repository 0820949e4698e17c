"""A small async Kubernetes client on aiohttp.

kopf watches and patches the objects it handles; the reconcilers also need to
read other objects and own children. The official `kubernetes` client is
synchronous and would block kopf's event loop, so this client speaks the REST
API directly and borrows only kubeconfig/in-cluster loading from it.

It survives what a real API server does over hours (issue 16): credentials are
re-read periodically and after a 401 (`credentials.py`), and throttling, 5xx
answers and dropped connections are retried a bounded number of times
(`_call`). A maintained async client (`kubernetes_asyncio`, lightkube) was
considered: every caller relies on this one's few methods and its errors
(`NotFound`, `Conflict`, `ApiError.status`), so teaching this one to refresh
and retry was the smaller correct change.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from champion.adapters.kube.credentials import Credentials, Login, kube_login
from champion.adapters.kube.resources import Resource, resource_for

log = logging.getLogger("champion.kube")


class ApiError(Exception):
    """An error answer from the API server, with its Status message."""

    def __init__(
        self,
        status: int,
        message: str,
        reason: str = "",
        method: str = "",
        path: str = "",
        *,
        maybe_applied: bool = False,
    ) -> None:
        super().__init__(f"{status} {reason}: {message}".strip())
        self.status = status
        self.message = message
        self.reason = reason
        # The request that failed, so a report can name the kind and verb (a 404 from an
        # unserved API says only "404 page not found").
        self.method = method
        self.path = path
        # An earlier attempt of this same request failed in a way that leaves it unknown
        # whether the server applied it (a 5xx, a dropped connection), and it was retried.
        self.maybe_applied = maybe_applied


class NotFound(ApiError):
    pass


class Conflict(ApiError):
    pass


PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}

# Answers worth another attempt. 429: the API server's priority-and-fairness and max-in-flight
# filters refuse before the request is handled, so it was not applied, whatever the verb. 5xx: the
# request may or may not have been applied (a 504 is a timeout whose write can still land), so
# only a request that is safe to repeat is retried (`_call`'s `replayable`).
THROTTLED = 429
SERVER_ERRORS = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: at most `attempts` in all, exponential backoff with jitter between them,
    and none that would start later than `budget` seconds after the first.

    The budget keeps a reconcile short when the server is slow and failing: kopf waits for a
    running timer tick before it lets a deleted object go (tests/operator/test_serving_deletion),
    and kopf retries a failed handler anyway, so a longer outage is its business."""

    attempts: int = 5
    backoff: float = 0.25  # before the 2nd attempt; doubles, up to `max_backoff`
    max_backoff: float = 2.0
    max_retry_after: float = 5.0  # a server's Retry-After is honoured up to this
    budget: float = 6.0

    def delay(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1-based)."""
        base = min(self.backoff * 2 ** (attempt - 1), self.max_backoff)
        return base * random.uniform(0.5, 1.0)

    def retry_after(self, header: str | None, details: Any, attempt: int) -> float:
        """The server's Retry-After (header, or the Status's details.retryAfterSeconds), capped;
        our own backoff when it gave none."""
        for value in (header, details.get("retryAfterSeconds") if isinstance(details, dict) else None):  # fmt: skip
            try:
                seconds = float(value) if value is not None else None
            except (TypeError, ValueError):
                seconds = None  # an HTTP date: not sent by kube-apiserver; use our backoff
            if seconds is not None and seconds >= 0:
                return min(seconds, self.max_retry_after)
        return self.delay(attempt)


class KubeApi:
    """CRUD on any resource in `resources.py`; every call is one HTTP request, or a few when
    the first is throttled, fails with a 5xx or a dropped connection, or is refused with 401
    (then credentials are re-read once)."""

    def __init__(
        self,
        server: str,
        session: aiohttp.ClientSession,
        headers: Mapping[str, str],
        *,
        credentials: Credentials | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._session = session
        self._headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        self._credentials = credentials or Credentials(
            lambda previous: previous or Login(server.rstrip("/"), auth),
            Login(server.rstrip("/"), auth),
            max_age=float("inf"),
        )
        self._retry = retry or RetryPolicy()
        self.requests = 0  # HTTP requests sent, retries included
        self.retries = 0

    @property
    def credentials(self) -> Credentials:
        return self._credentials

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
        replayable: bool | None = None,
    ) -> Any:
        """One API request, retried when that is safe.

        `replayable`: whether sending the request twice has the effect of sending it once, so
        that it may be retried after a failure that leaves unknown whether it was applied (a
        5xx, a connection dropped after sending). Default: GET yes, others no. A failure to
        connect, or a 429, left the request unapplied and is retried for every verb."""
        if replayable is None:
            replayable = method == "GET"
        data = json.dumps(body) if body is not None else None
        policy = self._retry
        reauthenticated = False
        maybe_applied = False
        attempt = 0
        started = time.monotonic()

        async def wait(what: str, delay: float) -> bool:
            """Sleeps before the next attempt; False when there is none to make."""
            if attempt >= policy.attempts or time.monotonic() - started + delay > policy.budget:
                return False
            await self._wait(method, path, what, attempt, delay)
            return True

        while True:
            attempt += 1
            login = await self._credentials.fresh()
            headers = {**self._headers, "Accept": "application/json"}
            if login.authorization:
                headers["Authorization"] = login.authorization
            if data is not None:
                headers["Content-Type"] = content_type
            self.requests += 1
            try:
                async with self._session.request(
                    method,
                    login.server + path,
                    data=data,
                    params=params,
                    headers=headers,
                    ssl=login.ssl,
                ) as resp:
                    text = await resp.text()
                    status, retry_after = resp.status, resp.headers.get("Retry-After")
            except aiohttp.ClientSSLError:
                raise  # a certificate that does not verify will not verify on a retry
            except aiohttp.ClientConnectorError as exc:
                # Not connected (refused, unreachable): the request was never sent.
                if await wait(type(exc).__name__, policy.delay(attempt)):
                    continue
                raise
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
                # Sent, and the connection dropped before the whole answer came back.
                if replayable and await wait(type(exc).__name__, policy.delay(attempt)):
                    maybe_applied = True
                    continue
                raise
            if status < 400:
                return json.loads(text) if text else None
            try:
                answer = json.loads(text)
                message = answer.get("message", text)
                reason = answer.get("reason", "")
                details = answer.get("details")
            except (ValueError, AttributeError):
                message, reason, details = text, "", None
            if status == 401 and not reauthenticated:
                reauthenticated = True
                if await self._credentials.refused(login) is not None:
                    attempt -= 1  # the new credentials get the full set of attempts
                    continue
            what = f"{status} {reason}".strip()
            if status == THROTTLED:
                if await wait(what, policy.retry_after(retry_after, details, attempt)):
                    continue
            elif status in SERVER_ERRORS and replayable and await wait(what, policy.delay(attempt)):
                maybe_applied = True
                continue
            cls = NotFound if status == 404 else Conflict if status == 409 else ApiError
            raise cls(status, message, reason, method, path, maybe_applied=maybe_applied)

    async def _wait(self, method: str, path: str, what: str, attempt: int, delay: float) -> None:
        # The path names the object; headers (the token) are never logged.
        log.warning(
            "%s %s: %s (attempt %d of %d); retrying in %.1fs",
            method, path, what, attempt, self._retry.attempts, delay,
        )  # fmt: skip
        self.retries += 1
        await asyncio.sleep(delay)

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
        """POST `obj`.

        A named object is retried after a 5xx or a dropped connection: the name makes a second
        POST harmless, since the server refuses a duplicate with 409 AlreadyExists. That 409 on
        a retry means the first attempt most likely created it, so the object is read back and
        returned (had someone else created it first, the caller would have met it anyway: every
        create here is an `ensure()` of an object whose name we own, and the next `ensure()`
        converges it). With `generateName` and no name, a repeated POST makes a second object,
        so it is not retried after a failure that may have been applied; it raises.
        """
        res = resource_for(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata", {})
        ns, name = meta.get("namespace"), meta.get("name")
        try:
            result: dict[str, Any] = await self._call(
                "POST", res.path(ns), body=obj, replayable=bool(name)
            )
        except Conflict as exc:
            if not (exc.maybe_applied and exc.reason == "AlreadyExists" and name):
                raise
            existing = await self.get(res, name, ns)
            if existing is None:
                raise
            log.info("POST %s: AlreadyExists after a retry; the first attempt created it", exc.path)
            return existing
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
        """PATCH `name`. A merge (or strategic-merge) patch sets fields to given values, so applying
        it twice is applying it once: it is retried after a 5xx or a dropped connection. One that
        carries `metadata.resourceVersion` as a precondition and was applied the first time gets
        409 on the retry, which the callers already handle by reading again. A JSON patch can
        append or move, so it is not retried after a failure that may have been applied."""
        result: dict[str, Any] = await self._call(
            "PATCH",
            res.path(namespace, name, subresource),
            body=patch,
            content_type=PATCH_TYPES[patch_type],
            replayable=patch_type != "json",
        )
        return result

    async def delete(self, res: Resource, name: str, namespace: str | None = None) -> bool:
        """DELETE `name`; False when it was not there. Retried like a GET: the object is gone
        either way, and a 404 on a retry means the first attempt deleted it (True)."""
        try:
            await self._call(
                "DELETE",
                res.path(namespace, name),
                body={"propagationPolicy": "Background"},
                replayable=True,
            )
        except NotFound as exc:
            return exc.maybe_applied
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
    kubeconfig: str | None = None,
    context: str | None = None,
    user_agent: str = "champion-operator",
    *,
    retry: RetryPolicy | None = None,
    credentials_max_age: float = 60.0,
) -> KubeApi:
    """A client from a kubeconfig file, or in-cluster service-account credentials.

    `user_agent` names the caller in the API server's audit log (the operator, or an eval Job).
    The credentials are loaded again (token file re-read, exec plugin re-run) every
    `credentials_max_age` seconds and after a 401.
    """

    def login(previous: Login | None) -> Login:
        return kube_login(kubeconfig, context, previous)

    first = await asyncio.to_thread(login, None)
    credentials = Credentials(login, first, max_age=credentials_max_age)
    # The TLS context goes with each request (`Login.ssl`), so re-read certificates apply.
    session = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=30),
    )
    return KubeApi(
        first.server, session, {"User-Agent": user_agent}, credentials=credentials, retry=retry
    )
