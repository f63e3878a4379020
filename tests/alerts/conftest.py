"""Fixtures of the alerts tests: the delivery channels' HTTP client and sample alert, and the API wired
to local SMTP, a fake Slack and mocked PagerDuty (the SMTP server and the fake Slack are the shared
`smtp_sink` and `fake_slack`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx
from litestar.testing import AsyncTestClient

from tests.support.alerts import alert_settings
from tests.support.slack import FakeSlack
from tests.support.smtp import SmtpSink
from vigilare.alerts.channels.base import AlertNotification, TriggeringSignal
from vigilare.api.app import create_app
from vigilare.config import Settings
from vigilare.plugin import Severity


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


@pytest.fixture
def pagerduty() -> Any:
    """respx around every test that uses it; unmatched httpx calls fail instead of leaving the box."""
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
async def alerts_client(
    settings: Settings, smtp_sink: SmtpSink, fake_slack: FakeSlack
) -> AsyncIterator[AsyncTestClient[Any]]:
    """The API without AWS: rules, alerts listing, Slack install.

    Over https, as browsers reach a public service: the Slack install's cookie is ``Secure``.
    """
    app = create_app(alert_settings(settings, smtp_sink, fake_slack))
    async with AsyncTestClient(app=app, base_url="https://testserver.local") as client:
        yield client


@pytest.fixture
async def alerts_aws_client(
    aws_settings: Settings, smtp_sink: SmtpSink, fake_slack: FakeSlack
) -> AsyncIterator[AsyncTestClient[Any]]:
    """The API with AWS in the sandbox, for scan-driven alerts."""
    app = create_app(alert_settings(aws_settings, smtp_sink, fake_slack))
    async with AsyncTestClient(app=app) as client:
        yield client
