"""Fixtures of the delivery-channel tests: an HTTP client and a sample alert (the SMTP server and the
fake Slack are the shared `smtp_sink` and `fake_slack`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from vigilare.alerts.channels.base import AlertNotification, TriggeringSignal
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
