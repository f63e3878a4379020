"""A local stand-in for Slack's Web API (https://slack.com/api/): records requests, answers what a
test queued. It runs on its own thread and event loop, so it answers whichever loop calls it (a
channel awaited by the test, or the API under test while the test's loop waits for the API)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from tests.support.net import free_port


@dataclass
class SlackRequest:
    method: str  # HTTP method
    path: str  # /api/<Web API method>
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival

    @property
    def api_method(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.body.decode()).items()}


@dataclass
class FakeSlack:
    base_url: str
    requests: list[SlackRequest] = field(default_factory=list)
    answers: dict[str, list[tuple[int, dict[str, Any], dict[str, str]]]] = field(default_factory=dict)

    def respond(
        self, method: str, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        """Queue the answer to the next call of Web API `method` (e.g. "chat.postMessage")."""
        self.answers.setdefault(method, []).append((status, body, headers or {}))

    def calls(self, method: str) -> list[SlackRequest]:
        return [request for request in self.requests if request.api_method == method]

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.requests.append(
            SlackRequest(
                request.method, request.path, dict(request.headers), await request.read(), time.monotonic()
            )
        )
        queued = self.answers.get(method)
        if not queued:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        status, body, headers = queued.pop(0)
        return web.json_response(body, status=status, headers=headers)


@contextmanager
def start_fake_slack() -> Iterator[FakeSlack]:
    port = free_port()
    fake = FakeSlack(base_url=f"http://127.0.0.1:{port}/api/")
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_post("/api/{method}", fake.handle)
    runner = web.AppRunner(app)

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
