"""What every delivery channel receives (:class:`AlertNotification`) and returns (:class:`DeliveryResult`).

Channels never raise for a failed delivery: they return a result saying whether it is worth retrying
and, when the remote said so, after how long. The job layer owns retries and scheduling.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol

import msgspec

from vigilare.plugin.model import Severity


class ChannelType(enum.StrEnum):
    EMAIL = "email"
    SLACK = "slack"
    PAGERDUTY = "pagerduty"


class AlertEventType(enum.StrEnum):
    """Which moment of an alert's life is being announced (PagerDuty's event_action vocabulary)."""

    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


class TriggeringSignal(msgspec.Struct, frozen=True, kw_only=True):
    """One finding that made the rule fire."""

    severity: Severity
    scenario: str
    title: str
    region: str | None = None
    resource: str | None = None


class AlertNotification(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a channel needs to announce one alert; serialisable for job payloads (msgspec)."""

    alert_id: str
    tenant_name: str
    aws_account_id: str
    account_name: str
    srs: int
    signals: tuple[TriggeringSignal, ...] = ()
    event: AlertEventType = AlertEventType.TRIGGER
    checklist_url: str
    dashboard_url: str
    rule_name: str | None = None
    # The console page of this alert, where it is acknowledged.
    alert_url: str | None = None
    # The delivery this notification is (one alert, one channel, one event): the key that makes a
    # second send of it a copy the receiver drops (the email's Message-ID).
    delivery_id: str | None = None

    @property
    def account_label(self) -> str:
        if self.account_name and self.account_name != self.aws_account_id:
            return f"{self.account_name} ({self.aws_account_id})"
        return self.aws_account_id

    @property
    def worst_severity(self) -> Severity | None:
        return Severity.highest(signal.severity for signal in self.signals)

    def signals_by_severity(self) -> list[TriggeringSignal]:
        """Most severe first; signals of one severity keep their order."""
        return sorted(self.signals, key=lambda signal: -signal.severity.rank)


class DeliveryResult(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of one delivery attempt. ``target`` never holds a secret in full."""

    channel_type: ChannelType
    target: str
    ok: bool
    status_code: int | None = None
    error: str | None = None
    # The remote's machine-readable reason, e.g. Slack's ``token_revoked`` or ``channel_not_found``:
    # lets the caller flag a broken integration instead of retrying forever.
    error_code: str | None = None
    # Seconds the remote asked us to wait (HTTP Retry-After), when it said so.
    retry_after: float | None = None
    retryable: bool = False
    # Email only: no SMTP host is configured, so the message went to the log instead.
    logged_only: bool = False


class AlertChannel(Protocol):
    """A configured destination that can announce one notification."""

    channel_type: ChannelType

    @property
    def target(self) -> str:
        """The destination for display and logs, masked where it is a secret."""
        ...

    async def deliver(self, notification: AlertNotification) -> DeliveryResult: ...


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from an HTTP ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def is_retryable_http_status(status_code: int) -> bool:
    """Rate limits, timeouts and server errors may succeed later; other 4xx never will."""
    return status_code in {408, 429} or status_code >= 500
