from __future__ import annotations

import json

import httpx
import msgspec
import pytest
import respx

from vigilare.alerts.channels.base import AlertEventType, AlertNotification, ChannelType
from vigilare.alerts.channels.pagerduty_channel import DEFAULT_PAGERDUTY_EVENTS_URL, PagerDutyChannel

ROUTING_KEY = "R0UT1NGKEY00000000000000000fe12"
ACCEPTED = httpx.Response(
    202, json={"status": "success", "message": "Event processed", "dedup_key": "vigilare-alert-x"}
)


@respx.mock
async def test_trigger_sends_full_event(
    http_client: httpx.AsyncClient, notification: AlertNotification
) -> None:
    route = respx.post(DEFAULT_PAGERDUTY_EVENTS_URL).mock(return_value=ACCEPTED)

    result = await PagerDutyChannel(ROUTING_KEY, http=http_client).deliver(notification)

    assert result.ok and result.status_code == 202
    assert result.channel_type is ChannelType.PAGERDUTY
    assert ROUTING_KEY not in result.target and result.target.endswith("fe12")
    assert json.loads(route.calls.last.request.content) == {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": "vigilare-alert-01JABCDJ0000000000000000AA",
        "payload": {
            "summary": "Alert: prod (123456789012) \u2014 Security Risk Score 38, 2 signals",
            "severity": "critical",
            "source": "aws-account:123456789012",
            "component": "prod",
            "group": "Acme <Corp>",
            "class": "iam,root",
            "custom_details": {
                "alert_id": "01JABCDJ0000000000000000AA",
                "tenant": "Acme <Corp>",
                "aws_account_id": "123456789012",
                "account_name": "prod",
                "security_risk_score": 38,
                "rule": "Critical alerts",
                "signals": [
                    {
                        "severity": "CRITICAL",
                        "scenario": "iam",
                        "title": "Compromised-key quarantine policy attached",
                        "region": None,
                        "resource": "arn:aws:iam::123456789012:user/deploy",
                    },
                    {
                        "severity": "HIGH",
                        "scenario": "root",
                        "title": "Root console login",
                        "region": "us-east-1",
                        "resource": None,
                    },
                ],
                "checklist_url": notification.checklist_url,
            },
        },
        "client": "Vigilare",
        "client_url": notification.dashboard_url,
        "links": [
            {"href": notification.checklist_url, "text": "Recovery checklist"},
            {"href": notification.dashboard_url, "text": "Vigilare dashboard"},
        ],
    }


@respx.mock
@pytest.mark.parametrize("event", [AlertEventType.ACKNOWLEDGE, AlertEventType.RESOLVE])
async def test_acknowledge_and_resolve_reach_the_same_incident(
    http_client: httpx.AsyncClient, notification: AlertNotification, event: AlertEventType
) -> None:
    events_url = "http://127.0.0.1:9/v2/enqueue"  # VIGILARE_PAGERDUTY_EVENTS_URL override
    route = respx.post(events_url).mock(return_value=ACCEPTED)
    channel = PagerDutyChannel(ROUTING_KEY, http=http_client, events_url=events_url)

    trigger = await channel.deliver(notification)
    follow_up = await channel.deliver(msgspec.structs.replace(notification, event=event))

    assert trigger.ok and follow_up.ok
    first, second = (json.loads(call.request.content) for call in route.calls)
    assert second == {
        "routing_key": ROUTING_KEY,
        "event_action": event.value,
        "dedup_key": "vigilare-alert-01JABCDJ0000000000000000AA",
    }
    assert first["dedup_key"] == second["dedup_key"]


@respx.mock
async def test_dedup_key_differs_per_alert(
    http_client: httpx.AsyncClient, notification: AlertNotification
) -> None:
    route = respx.post(DEFAULT_PAGERDUTY_EVENTS_URL).mock(return_value=ACCEPTED)
    channel = PagerDutyChannel(ROUTING_KEY, http=http_client)

    await channel.deliver(notification)
    await channel.deliver(notification)
    await channel.deliver(msgspec.structs.replace(notification, alert_id="01JABCDJ0000000000000000BB"))

    keys = [json.loads(call.request.content)["dedup_key"] for call in route.calls]
    assert keys[0] == keys[1] != keys[2]


@respx.mock
@pytest.mark.parametrize(
    ("response", "retryable", "retry_after"),
    [
        (httpx.Response(429, headers={"Retry-After": "7"}), True, 7.0),
        (httpx.Response(429), True, None),
        (httpx.Response(500, text="Internal Server Error"), True, None),
        (httpx.Response(502), True, None),
        (
            httpx.Response(
                400,
                json={
                    "status": "invalid event",
                    "message": "Event object is invalid",
                    "errors": ["Length of 'routing_key' is incorrect"],
                },
            ),
            False,
            None,
        ),
    ],
)
async def test_failures_say_whether_to_retry(
    http_client: httpx.AsyncClient,
    notification: AlertNotification,
    response: httpx.Response,
    retryable: bool,
    retry_after: float | None,
) -> None:
    respx.post(DEFAULT_PAGERDUTY_EVENTS_URL).mock(return_value=response)

    result = await PagerDutyChannel(ROUTING_KEY, http=http_client).deliver(notification)

    assert not result.ok
    assert (result.status_code, result.retryable, result.retry_after) == (
        response.status_code,
        retryable,
        retry_after,
    )
    if response.status_code == 400:
        assert "Length of 'routing_key' is incorrect" in (result.error or "")


@respx.mock
async def test_connection_failure_is_retryable(
    http_client: httpx.AsyncClient, notification: AlertNotification
) -> None:
    respx.post(DEFAULT_PAGERDUTY_EVENTS_URL).mock(side_effect=httpx.ConnectError("connection refused"))

    result = await PagerDutyChannel(ROUTING_KEY, http=http_client).deliver(notification)

    assert not result.ok and result.retryable and result.status_code is None


@pytest.mark.parametrize(("srs", "expected"), [(10, "critical"), (30, "error"), (60, "warning")])
@respx.mock
async def test_score_only_alert_severity_follows_the_score(
    http_client: httpx.AsyncClient, notification: AlertNotification, srs: int, expected: str
) -> None:
    route = respx.post(DEFAULT_PAGERDUTY_EVENTS_URL).mock(return_value=ACCEPTED)

    await PagerDutyChannel(ROUTING_KEY, http=http_client).deliver(
        msgspec.structs.replace(notification, srs=srs, signals=())
    )

    payload = json.loads(route.calls.last.request.content)["payload"]
    assert payload["severity"] == expected
    assert payload["class"] == "security-risk-score"
