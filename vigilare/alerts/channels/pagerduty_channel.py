"""PagerDuty alerts through the Events API v2 (``POST /v2/enqueue``).

The ``dedup_key`` is derived from the alert id alone, so a repeated trigger for the same alert joins
the open incident instead of paging again, and acknowledge/resolve reach that same incident.
"""

from __future__ import annotations

from typing import Any

import httpx

from vigilare.alerts.channels.base import (
    AlertEventType,
    AlertNotification,
    ChannelType,
    DeliveryResult,
    is_retryable_http_status,
    parse_retry_after,
)
from vigilare.alerts.channels.formatting import headline
from vigilare.crypto import mask_secret
from vigilare.plugin.model import Severity

DEFAULT_PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
_SUMMARY_LIMIT = 1024  # PagerDuty truncates longer summaries; we do it ourselves, visibly.

_PAGERDUTY_SEVERITY = {
    Severity.CRITICAL: "critical",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "info",
}


def dedup_key_for(alert_id: str) -> str:
    return f"vigilare-alert-{alert_id}"


def pagerduty_severity(notification: AlertNotification) -> str:
    """Worst signal's severity; for a score-only alert (no signals), a band of the score."""
    worst = notification.worst_severity
    if worst is not None:
        return _PAGERDUTY_SEVERITY[worst]
    if notification.srs < 25:
        return "critical"
    if notification.srs < 50:
        return "error"
    return "warning"


def pagerduty_event(routing_key: str, notification: AlertNotification) -> dict[str, Any]:
    """The exact Events API v2 body for this notification."""
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": notification.event.value,
        "dedup_key": dedup_key_for(notification.alert_id),
    }
    if notification.event is not AlertEventType.TRIGGER:
        # acknowledge/resolve only need the key of the incident they close.
        return event
    summary = headline(notification)
    scenarios = sorted({signal.scenario for signal in notification.signals})
    event["payload"] = {
        "summary": summary if len(summary) <= _SUMMARY_LIMIT else summary[: _SUMMARY_LIMIT - 1] + "\u2026",
        "severity": pagerduty_severity(notification),
        "source": f"aws-account:{notification.aws_account_id}",
        "component": notification.account_name or notification.aws_account_id,
        "group": notification.tenant_name,
        "class": ",".join(scenarios) or "security-risk-score",
        "custom_details": {
            "alert_id": notification.alert_id,
            "tenant": notification.tenant_name,
            "aws_account_id": notification.aws_account_id,
            "account_name": notification.account_name,
            "security_risk_score": notification.srs,
            "rule": notification.rule_name,
            "signals": [
                {
                    "severity": signal.severity.value,
                    "scenario": signal.scenario,
                    "title": signal.title,
                    "region": signal.region,
                    "resource": signal.resource,
                }
                for signal in notification.signals_by_severity()
            ],
            "checklist_url": notification.checklist_url,
        },
    }
    event["client"] = "Vigilare"
    event["client_url"] = notification.dashboard_url
    event["links"] = [
        {"href": notification.checklist_url, "text": "Recovery checklist"},
        {"href": notification.dashboard_url, "text": "Vigilare dashboard"},
    ]
    return event


class PagerDutyChannel:
    channel_type = ChannelType.PAGERDUTY

    def __init__(
        self,
        routing_key: str,
        *,
        http: httpx.AsyncClient,
        events_url: str = DEFAULT_PAGERDUTY_EVENTS_URL,
    ) -> None:
        if not routing_key:
            raise ValueError("a PagerDuty routing key is required")
        self._routing_key = routing_key
        self._http = http
        self._events_url = events_url

    @property
    def target(self) -> str:
        return f"routing key {mask_secret(self._routing_key)}"

    async def deliver(self, notification: AlertNotification) -> DeliveryResult:
        try:
            response = await self._http.post(
                self._events_url, json=pagerduty_event(self._routing_key, notification)
            )
        except httpx.TransportError as exc:
            return self._result(ok=False, error=f"cannot reach PagerDuty: {exc!r}", retryable=True)
        if response.status_code == 202:
            return self._result(ok=True, status_code=202)
        return self._result(
            ok=False,
            status_code=response.status_code,
            error=f"PagerDuty rejected the event: {_error_text(response)}",
            retryable=is_retryable_http_status(response.status_code),
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )

    def _result(self, **fields: Any) -> DeliveryResult:
        return DeliveryResult(channel_type=self.channel_type, target=self.target, **fields)


def _error_text(response: httpx.Response) -> str:
    """PagerDuty's 400 body is ``{"status", "message", "errors": [...]}``; fall back to raw text."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        errors = body.get("errors")
        details = "; ".join(str(e) for e in errors) if isinstance(errors, list) else ""
        message = str(body.get("message") or body.get("status") or response.reason_phrase)
        return f"{message}: {details}" if details else message
    return response.text[:200]
