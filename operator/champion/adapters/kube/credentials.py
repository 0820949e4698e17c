"""Where the client's credentials come from, and re-reading them when they may have changed.

Projected ServiceAccount tokens are rotated by the kubelet (an hour by default) and exec-plugin
tokens expire, so a token copied once is refused after a while. kopf logs in again when the API
server answers 401 (its vault, fed by `@kopf.on.login`, whose default handler calls the
`kubernetes` package's loaders anew). Its vault lives in kopf's private modules and in a
ContextVar that only kopf's own tasks see, while this client also runs in the CLI, eval Jobs and
the sandbox, so it does the same thing on its own:

- `kube_login()` loads the kubeconfig, or the in-cluster ServiceAccount files, with the same
  loaders as kopf's default login: a `tokenFile` or the projected token file is read, an exec
  plugin is run. It blocks (files, a subprocess), so it runs in a thread.
- `Credentials` keeps the last login, logs in again when it is older than `max_age` (60 s, the
  period the `kubernetes` package and client-go re-read a token file with), and at once after a
  401 (`refused()`): one new login per refused login however many requests saw the 401.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("champion.kube")


@dataclass(frozen=True)
class Login:
    """One set of credentials: the server, the Authorization header value, the TLS context."""

    server: str
    authorization: str | None = field(default=None, repr=False)
    ssl: ssl.SSLContext | bool = True  # True: the session's own (aiohttp's per-request `ssl`)
    tls: tuple[object, ...] = field(default=(), repr=False)
    """What the TLS context was built from (file contents), to reuse it while unchanged."""


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


def kube_login(
    kubeconfig: str | None = None, context: str | None = None, previous: Login | None = None
) -> Login:
    """Credentials from a kubeconfig file, or in-cluster ServiceAccount files (blocking).

    With no `kubeconfig`, the in-cluster files first, then the default kubeconfig. `previous`
    lends its TLS context when the CA and client certificate are unchanged, so pooled
    connections stay usable."""
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
    token = cfg.api_key.get("authorization") or cfg.api_key.get("BearerToken")
    authorization = None
    if token:
        # The in-cluster loader stores "bearer <token>" (lower case), the kubeconfig loader
        # "Bearer <token>": a case-sensitive check sent "Bearer bearer <token>", refused (401).
        scheme, _, rest = token.strip().partition(" ")
        authorization = (
            f"Bearer {rest.strip()}" if scheme.lower() == "bearer" else f"Bearer {token.strip()}"
        )
    server = str(cfg.host).rstrip("/")
    if not server.startswith("https"):
        return Login(server, authorization)
    tls = (
        _read(cfg.ssl_ca_cert),
        _read(cfg.cert_file),
        _read(cfg.key_file),
        bool(cfg.verify_ssl),
    )
    if previous is not None and previous.tls == tls:
        return Login(server, authorization, previous.ssl, tls)
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
    return Login(server, authorization, ctx, tls)


LoginFn = Callable[[Login | None], Login]


class Credentials:
    """The current `Login`, renewed periodically and after a 401."""

    def __init__(
        self,
        login: LoginFn,
        first: Login,
        *,
        max_age: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._login = login
        self._current = first
        self._max_age = max_age
        self._clock = clock
        self._loaded_at = clock()
        self._lock = asyncio.Lock()
        self.logins = 1  # how many times credentials were loaded (tests read it)

    @property
    def current(self) -> Login:
        return self._current

    async def fresh(self) -> Login:
        """The current login, re-read first when older than `max_age`.

        A periodic re-read that fails keeps the previous credentials: they may still be valid,
        and a 401 will try again."""
        if self._clock() - self._loaded_at < self._max_age:
            return self._current
        async with self._lock:
            if self._clock() - self._loaded_at >= self._max_age:
                try:
                    await self._reload()
                except Exception as exc:
                    self._loaded_at = self._clock()  # not again on every request
                    log.warning("could not re-read the Kubernetes credentials: %s", exc)
        return self._current

    async def refused(self, used: Login) -> Login | None:
        """The API server answered 401 to `used`: log in again.

        Returns credentials to retry with, or None when the new login is the same as the
        refused one (retrying would only be refused again). Requests that were refused
        together share one new login."""
        async with self._lock:
            if self._current is not used:
                return self._current  # another request already logged in again
            try:
                new = await self._reload()
            except Exception as exc:
                log.warning("the API server refused the credentials (401) and re-reading them failed: %s", exc)  # fmt: skip
                return None
        if new.authorization == used.authorization and new.tls == used.tls:
            log.warning("the API server refused the credentials (401); re-read, they are unchanged")  # fmt: skip
            return None
        log.info("the API server refused the credentials (401); re-read them, they changed")
        return new

    async def _reload(self) -> Login:
        new = await asyncio.to_thread(self._login, self._current)
        self._current = new
        self._loaded_at = self._clock()
        self.logins += 1
        return new
