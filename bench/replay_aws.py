"""A fast local AWS stand-in for benchmarks: records real answers once, then replays them with a
fixed latency per call.

moto answers a few hundred requests a second, which would measure moto, not the scanner. This
server first forwards each distinct request (by service and operation) to an upstream stand-in
(the sandbox) and keeps its answer; afterwards it answers from what it kept, after sleeping the
configured latency, so the scanner's own concurrency and overhead are what the figures show.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import aiohttp
from aiohttp import web

_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/aws4_request")
# Answers that describe work in progress (a credential report being generated) are asked again
# until they are final, or a replay would keep saying "not ready" forever.
_IN_PROGRESS = (b"<State>STARTED</State>", b"<State>INPROGRESS</State>")
_HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "content-encoding", "date", "server"}


@dataclass
class Recorded:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class ReplayAws:
    upstream: str
    latency_ms: float = 0.0
    recorded: dict[tuple[str, str], Recorded] = field(default_factory=dict)
    calls: int = 0
    recording: bool = True

    @staticmethod
    def key(request: web.Request, body: bytes) -> tuple[str, str]:
        match = _SCOPE.search(request.headers.get("Authorization", ""))
        service = match.group(2) if match else "unknown"
        target = request.headers.get("X-Amz-Target")
        if target:
            return service, target
        if request.method == "POST" and body and b"Action=" in body:
            action = parse_qs(body.decode(errors="replace")).get("Action", ["?"])[0]
            return service, action
        # REST protocols: the path names the operation (bucket and detector ids folded away).
        path = re.sub(r"/[0-9a-f]{32}", "/{id}", request.path)
        return service, f"{request.method} {path}?{'&'.join(sorted(request.query))}"

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        key = self.key(request, body)
        self.calls += 1
        answer = self.recorded.get(key)
        if answer is None:
            if not self.recording:
                return web.Response(status=500, text=f"not recorded: {key}")
            answer = await self._forward(request, body)
            if answer.status < 500 and not any(marker in answer.body for marker in _IN_PROGRESS):
                self.recorded[key] = answer
        elif self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        return web.Response(status=answer.status, headers=answer.headers, body=answer.body)

    async def _forward(self, request: web.Request, body: bytes) -> Recorded:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method, self.upstream + request.path_qs, data=body, headers=headers
            ) as response,
        ):
            content = await response.read()
            kept = {k: v for k, v in response.headers.items() if k.lower() not in _HOP_HEADERS}
            return Recorded(response.status, kept, content)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, str]:
        app = web.Application(client_max_size=64 << 20)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port, backlog=4096)
        await site.start()
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        bound_port = sockets[0].getsockname()[1]
        return runner, f"http://{host}:{bound_port}"
