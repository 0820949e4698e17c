"""kmock as the server's front: every request is parsed (method, Kubernetes action, resource,
namespace, name, subresource) and journaled by kmock, and reactions declared with kmock's DSL
take precedence over the emulation, so a test can inject faults or slowness on chosen
requests:

    apiserver.kmock["patch", kmock.resource("champion.dev/v1alpha1/rollouts"),
                    kmock.subresource("status")][:1] << 409 << {"kind": "Status", ...}

and assert on what was sent:

    assert len(apiserver.kmock["patch", kmock.subresource("status")]) == 1

Requests no reaction claims go to the emulator (server.py). Exceptions in the emulator are
kmock's: journaled in `.errors` and answered as a 500 `Status` with the traceback.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp.web
import attrs
import kmock

from tests.emulator.apiserver import protobuf

Emulate = Callable[[aiohttp.web.BaseRequest], Awaitable[aiohttp.web.StreamResponse]]


@attrs.define(kw_only=True)
class KmockFront(kmock.KubernetesScaffold):
    emulate: Emulate
    journal_limit: int | None = 10_000

    def __attrs_post_init__(self) -> None:
        # Deliberately not the scaffold's fallbacks: discovery, like everything else that no
        # reaction claims, is the emulator's (kmock 0.8's scaffold reports core as "/v1").
        pass

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        if raw_request.content_type == protobuf.MEDIA_TYPE or _unparseable(raw_request.path):
            # kmock 0.8's parser reads every body as UTF-8 text and fails on the namespaces
            # collection (/api/v1/namespaces): those requests bypass the journal and the DSL.
            return await self.emulate(raw_request)
        try:
            return await super().__call__(raw_request)
        finally:
            self._trim_journal()

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        try:
            return await super()._handle(request)
        except NotImplementedError:  # no reaction matched: the emulator answers
            assert request._raw_request is not None
            return await self.emulate(request._raw_request)

    def _trim_journal(self) -> None:
        # kmock keeps every request (bodies included); a long sandbox run must not grow
        # without bound, so only the newest `journal_limit` are kept.
        limit = self.journal_limit
        if limit is not None and len(self._requests) > limit + limit // 2:
            del self._requests[: len(self._requests) - limit]


def _unparseable(path: str) -> bool:
    return path.rstrip("/") == "/api/v1/namespaces"
