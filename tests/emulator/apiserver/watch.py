"""Watch streams (`?watch=true`): JSON lines of ADDED/MODIFIED/DELETED events.

- no resourceVersion (or "0"): synthetic ADDED events for what exists, then live events;
- resourceVersion=N: the events after N, replayed from the bounded history; if N is older
  than the history, an ERROR event with a 410 Expired Status (a real server also answers 200
  and streams that error, so kopf and client-go restart their watch);
- sendInitialEvents=true (the WatchList protocol kopf and client-go can use): ADDED events,
  then a BOOKMARK annotated `k8s.io/initial-events-end`;
- allowWatchBookmarks=true: a BOOKMARK every `bookmark_interval` seconds when idle and one
  just before timeoutSeconds closes the stream, so clients resume from a fresh version.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.emulator.apiserver import errors, wire
from tests.emulator.apiserver.store import Store, Watcher
from tests.emulator.apiserver.types import ResourceType

DEFAULT_TIMEOUT = 1800.0
INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def _line(event_type: str, obj: Any) -> bytes:
    return (json.dumps({"type": event_type, "object": obj}) + "\n").encode()


def _bookmark(rt: ResourceType, rv: int, initial_end: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {INITIAL_EVENTS_END: "true"}
    return {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}


def _flag(request: web.BaseRequest, name: str) -> bool:
    return request.query.get(name, "").lower() in ("true", "1")


async def stream(
    request: web.BaseRequest,
    store: Store,
    rt: ResourceType,
    namespace: str | None,
    matcher: Callable[[dict[str, Any]], bool],
    render: Callable[[dict[str, Any]], Any],
    stopping: asyncio.Event,
    bookmark_interval: float,
) -> web.StreamResponse:
    q = request.query
    try:
        timeout = float(q.get("timeoutSeconds") or DEFAULT_TIMEOUT)
    except ValueError as exc:
        raise errors.bad_request(f"invalid timeoutSeconds: {q.get('timeoutSeconds')}") from exc
    bookmarks = _flag(request, "allowWatchBookmarks")
    initial_stream = _flag(request, "sendInitialEvents")
    if initial_stream and q.get("resourceVersionMatch") != "NotOlderThan":
        raise errors.invalid(
            "ListOptions",
            "meta.k8s.io",
            "",
            [
                errors.Cause(
                    "resourceVersionMatch",
                    "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                    "FieldValueForbidden",
                )
            ],
        )
    if initial_stream and not bookmarks:
        raise errors.invalid(
            "ListOptions",
            "meta.k8s.io",
            "",
            [
                errors.Cause(
                    "allowWatchBookmarks",
                    "Forbidden: allowWatchBookmarks must be set to true when sendInitialEvents is set",
                    "FieldValueForbidden",
                )
            ],
        )
    rv_param = q.get("resourceVersion") or ""
    initial: list[tuple[str, Any]] = []
    failure: errors.ApiStatusError | None = None
    # Registering the watcher and reading what exists happen with no await in between,
    # so no event falls between them.
    if rv_param in ("", "0") or initial_stream:
        initial = [("ADDED", render(o)) for o in store.select(rt, namespace, matcher)]
    else:
        try:
            since = int(rv_param)
        except ValueError as exc:
            raise errors.bad_request(f"invalid resource version: {rv_param}") from exc
        try:
            initial = [(t, render(o)) for t, o in store.events_since(rt, namespace, since, matcher)]
        except errors.ApiStatusError as exc:
            failure = exc
    if initial_stream:
        initial.append(("BOOKMARK", _bookmark(rt, store.rv, initial_end=True)))
    watcher = Watcher(rt.group, rt.plural, namespace, matcher)
    if failure is None:
        store.watchers.append(watcher)
    response = web.StreamResponse(headers={"Content-Type": wire.JSON})
    try:
        await response.prepare(request)
        if failure is not None:
            await response.write(_line("ERROR", failure.body()))
            await response.write_eof()
            return response
        for event_type, obj in initial:
            await response.write(_line(event_type, obj))
        await _live(
            response, store, rt, watcher, render, stopping, timeout, bookmarks, bookmark_interval
        )
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(ValueError):
            store.watchers.remove(watcher)
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await response.write_eof()
    return response


async def _live(
    response: web.StreamResponse,
    store: Store,
    rt: ResourceType,
    watcher: Watcher,
    render: Callable[[dict[str, Any]], Any],
    stopping: asyncio.Event,
    timeout: float,
    bookmarks: bool,
    bookmark_interval: float,
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not stopping.is_set():
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        wait = min(remaining, bookmark_interval) if bookmarks else remaining
        try:
            item = await asyncio.wait_for(watcher.queue.get(), timeout=wait)
        except TimeoutError:
            # The queue is empty: every event up to store.rv has been written, so a
            # bookmark at store.rv loses nothing.
            if bookmarks:
                await response.write(_line("BOOKMARK", _bookmark(rt, store.rv)))
            continue
        if item is None:
            break
        event_type, obj = item
        await response.write(_line(event_type, render(obj)))
