"""Fixtures for delivery-channel tests: a real SMTP server, a fake Slack Web API, a sample alert."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from alerts_fakes import FakeSlackApi, RecordingSmtpHandler, SmtpServer, free_loopback_port

from vigilare.alerts.channels.base import AlertNotification, TriggeringSignal
from vigilare.mail import SmtpConfig
from vigilare.plugin import Severity


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    handler = RecordingSmtpHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_loopback_port())
    controller.start()
    try:
        yield SmtpServer(
            handler=handler,
            config=SmtpConfig(
                smtp_host="127.0.0.1",
                smtp_port=controller.port,
                smtp_from="Vigilare Alerts <alerts@vigilare.test>",
                smtp_starttls=False,
                timeout_seconds=5,
            ),
        )
    finally:
        controller.stop()


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlackApi]:
    port = free_loopback_port()
    fake = FakeSlackApi(base_url=f"http://127.0.0.1:{port}/api/")
    app = web.Application()
    app.router.add_post("/api/{method}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield fake
    finally:
        await runner.cleanup()


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


@pytest.fixture
def notification() -> AlertNotification:
    return AlertNotification(
        alert_id="01JABCDJ0000000000000000AA",
        tenant_name="Acme <Corp>",
        aws_account_id="123456789012",
        account_name="prod",
        srs=38,
        signals=(
            TriggeringSignal(
                severity=Severity.HIGH,
                scenario="root",
                title="Root console login",
                region="us-east-1",
            ),
            TriggeringSignal(
                severity=Severity.CRITICAL,
                scenario="iam",
                title="Compromised-key quarantine policy attached",
                resource="arn:aws:iam::123456789012:user/deploy",
            ),
        ),
        checklist_url="https://app.vigilare.test/accounts/123456789012/checklist",
        dashboard_url="https://app.vigilare.test/accounts/123456789012",
        rule_name="Critical alerts",
    )
