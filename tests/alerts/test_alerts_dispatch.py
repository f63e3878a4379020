from __future__ import annotations

import httpx
import msgspec
import pytest
import respx

from tests.support.slack import FakeSlack
from tests.support.smtp import SmtpSink
from vigilare.alerts.channels.base import AlertNotification, ChannelType
from vigilare.alerts.channels.dispatch import (
    ChannelConfig,
    ChannelDependencies,
    PagerDutyChannelConfig,
    SlackChannelConfig,
    deliver,
)
from vigilare.alerts.channels.pagerduty_channel import DEFAULT_PAGERDUTY_EVENTS_URL


def test_api_channel_objects_decode_to_configs() -> None:
    raw = (
        b'[{"type": "pagerduty", "routing_key": "abc123"}, {"type": "slack", "channel": "#ops"},'
        b' {"type": "email", "to": ["a@example.com"]}]'
    )

    configs = msgspec.json.decode(raw, type=list[ChannelConfig])

    assert [type(c).__name__ for c in configs] == [
        "PagerDutyChannelConfig",
        "SlackChannelConfig",
        "EmailChannelConfig",
    ]
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'[{"type": "fax", "number": "1"}]', type=list[ChannelConfig])


async def test_each_config_reaches_its_channel(
    smtp_sink: SmtpSink,
    fake_slack: FakeSlack,
    http_client: httpx.AsyncClient,
    notification: AlertNotification,
) -> None:
    fake_slack.respond("chat.postMessage", 200, {"ok": True})
    deps = ChannelDependencies(
        smtp=smtp_sink.config, http=http_client, slack_api_url=fake_slack.base_url, slack_bot_token="xoxb-t"
    )
    configs = msgspec.json.decode(
        b'[{"type": "email", "to": ["a@example.com"]}, {"type": "slack", "channel": "C1"},'
        b' {"type": "pagerduty", "routing_key": "abc123"}]',
        type=list[ChannelConfig],
    )

    with respx.mock:
        respx.post(DEFAULT_PAGERDUTY_EVENTS_URL).mock(
            return_value=httpx.Response(202, json={"status": "success"})
        )
        results = [await deliver(config, notification, deps) for config in configs]

    assert [(r.channel_type, r.ok) for r in results] == [
        (ChannelType.EMAIL, True),
        (ChannelType.SLACK, True),
        (ChannelType.PAGERDUTY, True),
    ]
    assert len(smtp_sink.envelopes) == 1 and len(fake_slack.requests) == 1


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (SlackChannelConfig(channel="C1"), "Slack is not connected"),
        (SlackChannelConfig(), "needs a channel or a webhook_url"),
        (SlackChannelConfig(webhook_url="http://10.0.0.1/hook"), "Slack incoming webhook"),
        (PagerDutyChannelConfig(routing_key=""), "routing key is required"),
    ],
)
async def test_misconfigured_channel_fails_without_retry(
    smtp_sink: SmtpSink,
    http_client: httpx.AsyncClient,
    notification: AlertNotification,
    config: ChannelConfig,
    message: str,
) -> None:
    deps = ChannelDependencies(smtp=smtp_sink.config, http=http_client)

    result = await deliver(config, notification, deps)

    assert not result.ok and not result.retryable
    assert message in (result.error or "")
