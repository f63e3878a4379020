"""Helpers for the alerts API tests: a fake Slack Web API, rows inserted directly, polling."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs

from aiohttp import web

from vigilare.accounts.models import ACTIVE, AwsAccount
from vigilare.auth.models import Tenant
from vigilare.ids import new_id, utcnow
from vigilare.signals.models import Signal

PAGERDUTY_URL = "https://events.pagerduty.test/v2/enqueue"
ROUTING_KEY = "R0UT1NGKEY0000000000000000c0de"
WEBHOOK_URL = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXwxyz"

T = TypeVar("T")


@dataclass
class SlackRequest:
    method: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.body.decode()).items()}


@dataclass
class FakeSlack:
    """A local stand-in for https://slack.com/api/: records requests, answers what a test queued."""

    base_url: str
    requests: list[SlackRequest] = field(default_factory=list)
    answers: dict[str, list[tuple[int, dict[str, Any], dict[str, str]]]] = field(default_factory=dict)

    def respond(
        self, method: str, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        self.answers.setdefault(method, []).append((status, body, headers or {}))

    def calls(self, method: str) -> list[SlackRequest]:
        return [request for request in self.requests if request.method == method]

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.requests.append(
            SlackRequest(method, dict(request.headers), await request.read(), time.monotonic())
        )
        queued = self.answers.get(method)
        if not queued:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        status, body, headers = queued.pop(0)
        return web.json_response(body, status=status, headers=headers)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def start_fake_slack() -> Iterator[FakeSlack]:
    """Serve the fake on its own thread and loop: the API under test calls it from another loop
    while the test's loop may be blocked waiting for the API's answer."""
    port = _free_port()
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


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = 20.0) -> T:
    """Poll ``check`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met before the deadline"
        await asyncio.sleep(0.05)


def new_tenant_and_account(srs: int | None = 100, name: str = "Acme") -> tuple[Tenant, AwsAccount]:
    tenant = Tenant(id=new_id(), name=name, plan="team", status="active")
    account = AwsAccount(
        id=new_id(),
        tenant_id=tenant.id,
        aws_account_id="210987654321",
        display_name="prod",
        external_id="ext-" + new_id(),
        role_name="VigilareAudit",
        status=ACTIVE,
        connected_at=utcnow(),
        current_srs=srs,
    )
    return tenant, account


def new_signal(
    account: AwsAccount,
    scenario: str = "iam",
    severity: str = "CRITICAL",
    title: str = "Quarantine policy attached to ci-deployer",
    detected_at: datetime | None = None,
) -> Signal:
    now = detected_at or utcnow()
    return Signal(
        id=new_id(),
        tenant_id=account.tenant_id,
        account_id=account.id,
        fingerprint=new_id(),
        scenario=scenario,
        kind=f"{scenario}_finding",
        severity=severity,
        title=title,
        description="",
        region="us-east-1",
        resource=f"arn:aws:iam::{account.aws_account_id}:user/ci-deployer",
        remediation="",
        docs_url="",
        details={},
        detected_at=now,
        last_seen_at=now,
    )


def pagerduty_channel() -> dict[str, str]:
    return {"type": "pagerduty", "routing_key": ROUTING_KEY}


def email_channel(*to: str) -> dict[str, Any]:
    return {"type": "email", "to": list(to or ("oncall@acme.test",))}
