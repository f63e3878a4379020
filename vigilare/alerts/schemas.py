"""Request and response bodies of the alert rules, alerts and integrations routes."""

from __future__ import annotations

from typing import Any

import msgspec

from vigilare.alerts.channels.dispatch import ChannelConfig


class RuleIn(msgspec.Struct):
    # Like every body of the API, unknown fields are ignored (README, API conventions).

    name: str
    # Channel objects are validated by hand so each error names the channel and field at fault.
    channels: list[dict[str, Any]]
    min_srs: int = 40
    min_severity: str = "HIGH"
    scenarios: list[str] = msgspec.field(default_factory=list)
    enabled: bool = True


class RulePatch(msgspec.Struct):
    name: str | msgspec.UnsetType = msgspec.UNSET
    channels: list[dict[str, Any]] | msgspec.UnsetType = msgspec.UNSET
    min_srs: int | msgspec.UnsetType = msgspec.UNSET
    min_severity: str | msgspec.UnsetType = msgspec.UNSET
    scenarios: list[str] | msgspec.UnsetType = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET


class RuleOut(msgspec.Struct):
    rule_id: str
    name: str
    min_srs: int
    min_severity: str
    scenarios: list[str]
    channels: list[ChannelConfig]
    enabled: bool
    created_at: str
    updated_at: str


class RulesOut(msgspec.Struct):
    rules: list[RuleOut]
    count: int


class MessageOut(msgspec.Struct):
    message: str


# gc=False: a listing builds thousands of these a second; plain data, they are never in a reference
# cycle, so the garbage collector need not track them.
class DeliveryOut(msgspec.Struct, gc=False):
    event: str
    channel_type: str
    target: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_attempt_at: str | None
    delivered_at: str | None


# gc=False: a listing builds thousands of these a second; plain data, they are never in a reference
# cycle, so the garbage collector need not track them.
class AlertOut(msgspec.Struct, gc=False):
    alert_id: str
    aws_account_id: str
    rule_id: str | None
    rule_name: str
    srs_at_trigger: int | None
    scenarios_triggered: list[str]
    signal_ids: list[str]
    fired_at: str
    acknowledged_at: str | None
    acknowledged_by: str | None
    resolved_at: str | None
    deliveries: list[DeliveryOut]


class AlertsOut(msgspec.Struct):
    alerts: list[AlertOut]
    count: int
    next_token: str | None


class AckOut(msgspec.Struct):
    alert_id: str
    acknowledged_at: str
    acknowledged_by: str | None


class OAuthStartOut(msgspec.Struct):
    oauth_url: str
