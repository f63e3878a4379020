"""Fixtures for the alerts API: an app wired to local SMTP, a fake Slack and mocked PagerDuty."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import msgspec
import pytest
import respx
from litestar.testing import AsyncTestClient

from tests.alerts_api.alerts_api_support import PAGERDUTY_URL, FakeSlack, start_fake_slack
from tests.support.smtp import SmtpSink
from vigilare.api.app import create_app
from vigilare.config import Settings
from vigilare.db.engine import SessionFactory, create_engine, create_session_factory


def alert_settings(base: Settings, smtp_sink: SmtpSink, slack: FakeSlack) -> Settings:
    return msgspec.structs.replace(
        base,
        **smtp_sink.smtp_settings(),
        pagerduty_events_url=PAGERDUTY_URL,
        slack_api_url=slack.base_url,
        slack_client_id="1234.5678",
        slack_client_secret="slack-client-secret",
        # Fast backoff so retries happen within a test; Retry-After still wins when given.
        alert_retry_base_seconds=0.05,
    )


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with start_fake_slack() as slack:
        yield slack


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


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[SessionFactory]:
    """Sessions on the test's own event loop, for rows a test inserts or inspects directly."""
    engine = create_engine(settings.database_url)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()
