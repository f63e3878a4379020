"""Local stand-ins used by the delivery-channel tests: SMTP recorder, fake Slack Web API."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

from vigilare.mail import SmtpConfig


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RecordingSmtpHandler:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    handler: RecordingSmtpHandler
    config: SmtpConfig


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.body.decode()).items()}


@dataclass
class CannedResponse:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeSlackApi:
    """A local stand-in for https://slack.com/api/: records requests, answers what a test queued."""

    base_url: str
    requests: list[RecordedRequest] = field(default_factory=list)
    responses: dict[str, list[CannedResponse]] = field(default_factory=dict)

    def respond(
        self, method: str, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        self.responses.setdefault(method, []).append(CannedResponse(status, body, headers or {}))

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.requests.append(
            RecordedRequest(request.method, request.path, dict(request.headers), await request.read())
        )
        queued = self.responses.get(method)
        if not queued:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        canned = queued.pop(0)
        return web.json_response(canned.body, status=canned.status, headers=canned.headers)
