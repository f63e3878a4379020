"""Helpers for the alerts tests: rows inserted directly, channel settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from tests.support.slack import FakeSlack
from tests.support.smtp import SmtpSink
from vigilare.accounts.models import ACTIVE, AwsAccount
from vigilare.auth.models import Tenant
from vigilare.config import Settings
from vigilare.ids import new_id, utcnow
from vigilare.signals.models import Signal

PAGERDUTY_URL = "https://events.pagerduty.test/v2/enqueue"
ROUTING_KEY = "R0UT1NGKEY0000000000000000c0de"
WEBHOOK_URL = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXwxyz"


def alert_settings(base: Settings, smtp_sink: SmtpSink, slack: FakeSlack) -> Settings:
    """Settings that send alerts to the local SMTP server, the fake Slack and PagerDuty's URL (mock
    it with respx)."""
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
