"""From a rule's channel configuration to a ready :class:`AlertChannel`.

Channel configs mirror the API's ``ChannelConfig`` objects (``{"type": "pagerduty", "routing_key": ...}``)
with secrets already decrypted. The clients they need (SMTP settings, the shared httpx client, the
tenant's Slack bot token) come in :class:`ChannelDependencies`, built at worker start-up.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import msgspec

from vigilare.alerts.channels.base import AlertChannel, AlertNotification, ChannelType, DeliveryResult
from vigilare.alerts.channels.email_channel import EmailChannel
from vigilare.alerts.channels.pagerduty_channel import DEFAULT_PAGERDUTY_EVENTS_URL, PagerDutyChannel
from vigilare.alerts.channels.slack_channel import (
    DEFAULT_SLACK_API_URL,
    SlackBotChannel,
    SlackWebhookChannel,
)
from vigilare.mail import SmtpSettingsLike


class EmailChannelConfig(msgspec.Struct, frozen=True, tag="email", tag_field="type"):
    to: list[str]


class SlackChannelConfig(msgspec.Struct, frozen=True, tag="slack", tag_field="type"):
    """``channel`` posts with the tenant's installed bot; ``webhook_url`` uses an incoming webhook."""

    channel: str | None = None
    webhook_url: str | None = None


class PagerDutyChannelConfig(msgspec.Struct, frozen=True, tag="pagerduty", tag_field="type"):
    routing_key: str


ChannelConfig = EmailChannelConfig | SlackChannelConfig | PagerDutyChannelConfig


class ChannelNotConfiguredError(Exception):
    """The channel cannot be used as configured (e.g. Slack channel but no workspace installed)."""


@dataclass(frozen=True, slots=True)
class ChannelDependencies:
    smtp: SmtpSettingsLike
    http: httpx.AsyncClient
    slack_api_url: str = DEFAULT_SLACK_API_URL
    pagerduty_events_url: str = DEFAULT_PAGERDUTY_EVENTS_URL
    # The decrypted bot token of the tenant's Slack installation, if it has one.
    slack_bot_token: str | None = None


def build_channel(config: ChannelConfig, deps: ChannelDependencies) -> AlertChannel:
    if isinstance(config, EmailChannelConfig):
        return EmailChannel(deps.smtp, config.to)
    if isinstance(config, PagerDutyChannelConfig):
        return PagerDutyChannel(config.routing_key, http=deps.http, events_url=deps.pagerduty_events_url)
    if config.webhook_url:
        return SlackWebhookChannel(config.webhook_url, http=deps.http)
    if not config.channel:
        raise ChannelNotConfiguredError("a Slack channel needs a channel or a webhook_url")
    if not deps.slack_bot_token:
        raise ChannelNotConfiguredError("Slack is not connected for this tenant")
    return SlackBotChannel(deps.slack_bot_token, config.channel, api_url=deps.slack_api_url)


async def deliver(
    config: ChannelConfig, notification: AlertNotification, deps: ChannelDependencies
) -> DeliveryResult:
    """Build the channel and deliver once. Never raises for a failed delivery; see the result."""
    try:
        channel = build_channel(config, deps)
    except (ChannelNotConfiguredError, ValueError) as exc:
        # Misconfiguration needs a human (reconnect Slack, fix the rule): retrying cannot help.
        return DeliveryResult(
            channel_type=ChannelType(str(config.__struct_config__.tag)),
            target="(not configured)",
            ok=False,
            error=str(exc),
        )
    return await channel.deliver(notification)
