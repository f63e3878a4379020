"""Alert delivery channels: email, Slack and PagerDuty.

One notification in, one :class:`DeliveryResult` out; channels never raise for a failed delivery and
never retry by themselves (slack-sdk's single reconnect aside): the job layer reads ``retryable`` and
``retry_after`` and schedules the next attempt.
"""

from vigilare.alerts.channels.base import (
    AlertChannel,
    AlertEventType,
    AlertNotification,
    ChannelType,
    DeliveryResult,
    TriggeringSignal,
)
from vigilare.alerts.channels.dispatch import (
    ChannelConfig,
    ChannelDependencies,
    ChannelNotConfiguredError,
    EmailChannelConfig,
    PagerDutyChannelConfig,
    SlackChannelConfig,
    build_channel,
    deliver,
)

__all__ = [
    "AlertChannel",
    "AlertEventType",
    "AlertNotification",
    "ChannelConfig",
    "ChannelDependencies",
    "ChannelNotConfiguredError",
    "ChannelType",
    "DeliveryResult",
    "EmailChannelConfig",
    "PagerDutyChannelConfig",
    "SlackChannelConfig",
    "TriggeringSignal",
    "build_channel",
    "deliver",
]
