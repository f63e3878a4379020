"""Fixtures for the alerts API: an app wired to local SMTP, a fake Slack and mocked PagerDuty."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import respx
from litestar.testing import AsyncTestClient

from tests.support.alerts import alert_settings
from tests.support.slack import FakeSlack
from tests.support.smtp import SmtpSink
from vigilare.api.app import create_app
from vigilare.config import Settings


@pytest.fixture
def pagerduty() -> Any:
    """respx around every test that uses it; unmatched httpx calls fail instead of leaving the box."""
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
async def alerts_client(
    settings: Settings, smtp_sink: SmtpSink, fake_slack: FakeSlack
) -> AsyncIterator[AsyncTestClient[Any]]:
    """The API without AWS: rules, alerts listing, Slack install."""
    async with AsyncTestClient(app=create_app(alert_settings(settings, smtp_sink, fake_slack))) as client:
        yield client


@pytest.fixture
async def alerts_aws_client(
    aws_settings: Settings, smtp_sink: SmtpSink, fake_slack: FakeSlack
) -> AsyncIterator[AsyncTestClient[Any]]:
    """The API with AWS in the sandbox, for scan-driven alerts."""
    app = create_app(alert_settings(aws_settings, smtp_sink, fake_slack))
    async with AsyncTestClient(app=app) as client:
        yield client
