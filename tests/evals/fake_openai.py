"""An OpenAI-compatible test server with scripted answers per case (keyed by the question)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

Answer = Callable[[str], tuple[int, Any]]


async def serve(answer: Answer) -> tuple[web.AppRunner, str]:
    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        status, content = answer(body["messages"][-1]["content"])
        if status == 599:
            await asyncio.sleep(3)
        if status >= 500 or content is None:
            return web.json_response(
                {"error": "boom"}, status=max(status, 500) if status != 200 else 200
            )
        if isinstance(content, dict):
            return web.json_response(content)
        return web.json_response(
            {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}
        )

    return await start(chat)


async def start(
    chat: Callable[[web.Request], Awaitable[web.Response]],
) -> tuple[web.AppRunner, str]:
    """Serves `chat` at /v1/chat/completions on a free loopback port; (runner, base URL)."""
    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"
