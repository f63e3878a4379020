"""Delivery jobs through the real in-process queue: exact requests, retries, Retry-After, isolation
of a failing channel from the others, and each attempt recorded on the delivery."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import respx
from sqlalchemy import select

from tests.support.alerts import (
    PAGERDUTY_URL,
    ROUTING_KEY,
    WEBHOOK_URL,
    alert_settings,
    new_signal,
    new_tenant_and_account,
)
from vigilare.alerts.channel_configs import parse_channels
from vigilare.alerts.channels.pagerduty_channel import PagerDutyChannel
from vigilare.alerts.evaluation import evaluate_rules
from vigilare.alerts.models import Alert, AlertDelivery, AlertRule, SlackInstallation
from vigilare.config import Settings
from vigilare.crypto import SecretBox
from vigilare.ids import new_id, utcnow
from vigilare.jobs import flush_after_commit
from vigilare.jobs.queue import InProcessQueue

CHANNELS = [
    {"type": "email", "to": ["oncall@acme.test"]},
    {"type": "pagerduty", "routing_key": ROUTING_KEY},
    {"type": "slack", "webhook_url": WEBHOOK_URL},
]


async def _fire_and_deliver(
    settings: Settings,
    db,
    channels: list[dict[str, Any]] = CHANNELS,
    slack_token: str | None = None,
    stored_channels: list[dict[str, Any]] | None = None,
    severity_on_record: str | None = None,
) -> dict[str, AlertDelivery]:
    """Seed an account with a CRITICAL signal and a rule on ``channels``; run its deliveries.

    ``stored_channels`` are written as they are, past validation: rows stored by older versions;
    ``severity_on_record`` overwrites the severity in the alerts' signal snapshots.
    """
    tenant, account = new_tenant_and_account(srs=10)
    box = SecretBox(settings.secret_key)
    async with db() as session:
        session.add(tenant)
        await session.flush()
        session.add(account)
        if slack_token:
            session.add(
                SlackInstallation(
                    tenant_id=tenant.id,
                    team_id="T0ACME",
                    team_name="Acme",
                    bot_user_id="U0BOT",
                    bot_token_encrypted=box.encrypt(slack_token),
                    scopes=["chat:write"],
                )
            )
        await session.flush()
        session.add(new_signal(account, "iam", "CRITICAL"))
        session.add(
            AlertRule(
                id=new_id(),
                tenant_id=tenant.id,
                name="Critical",
                min_srs=40,
                min_severity="HIGH",
                scenarios=[],
                channels=stored_channels
                or parse_channels(channels, box, slack_installed=slack_token is not None),
                enabled=True,
            )
        )
        await session.flush()
        await evaluate_rules(session, account, utcnow())
        if severity_on_record is not None:
            for alert in await session.scalars(select(Alert)):
                alert.signals = [{**item, "severity": severity_on_record} for item in alert.signals]
        await session.commit()
        queue = InProcessQueue(settings, db)
        try:
            await flush_after_commit(session, queue)
            await queue.drain(timeout=30)
        finally:
            await queue.close()
    async with db() as session:
        return {d.channel_type: d for d in await session.scalars(select(AlertDelivery))}


def _recording(responses: list[httpx.Response], times: list[float]) -> Any:
    def respond(request: httpx.Request) -> httpx.Response:
        times.append(time.monotonic())
        return responses[min(len(times), len(responses)) - 1]

    return respond


async def test_every_channel_gets_the_alert(settings, db, smtp_sink, fake_slack):
    settings = alert_settings(settings, smtp_sink, fake_slack)
    with respx.mock:
        pagerduty = respx.post(PAGERDUTY_URL).mock(return_value=httpx.Response(202, json={}))
        webhook = respx.post(WEBHOOK_URL).mock(return_value=httpx.Response(200, text="ok"))
        deliveries = await _fire_and_deliver(settings, db)

    assert {kind: (d.status, d.attempts) for kind, d in deliveries.items()} == {
        "email": ("delivered", 1),
        "pagerduty": ("delivered", 1),
        "slack": ("delivered", 1),
    }
    alert_id = deliveries["email"].alert_id
    [(recipients, message)] = smtp_sink.wait_for(1)
    assert recipients == ["oncall@acme.test"]
    assert message["Subject"] == (
        "[Vigilare] Alert: prod (210987654321) \u2014 Security Risk Score 10, 1 signal"
    )
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    checklist = "https://vigilare.test/app/accounts/210987654321/recovery-checklist"
    for body in (text, html):
        assert checklist in body and "Quarantine policy attached to ci-deployer" in body
        # Every link opens a console page: the account, and this alert (to acknowledge it).
        assert "https://vigilare.test/app/accounts/210987654321" in body
        assert f"https://vigilare.test/app/alerts/{alert_id}" in body
    assert "Security Risk Score: 10/100" in text and "[CRITICAL] iam:" in text

    event = json.loads(pagerduty.calls.last.request.content)
    assert event["routing_key"] == ROUTING_KEY and event["event_action"] == "trigger"
    assert event["dedup_key"] == f"vigilare-alert-{alert_id}"
    assert event["payload"]["severity"] == "critical"
    assert event["payload"]["custom_details"]["checklist_url"] == checklist
    posted = json.loads(webhook.calls.last.request.content)
    assert posted["text"] == "Alert: prod (210987654321) \u2014 Security Risk Score 10, 1 signal"


async def test_server_errors_are_retried_with_backoff_and_slack_retry_after_is_honoured(
    settings, db, smtp_sink, fake_slack
):
    settings = alert_settings(settings, smtp_sink, fake_slack)
    pagerduty_times: list[float] = []
    slack_times: list[float] = []
    with respx.mock:
        respx.post(PAGERDUTY_URL).mock(
            side_effect=_recording(
                [httpx.Response(500), httpx.Response(502), httpx.Response(202, json={})], pagerduty_times
            )
        )
        respx.post(WEBHOOK_URL).mock(
            side_effect=_recording(
                [httpx.Response(429, text="rate_limited", headers={"Retry-After": "1"}), httpx.Response(200)],
                slack_times,
            )
        )
        deliveries = await _fire_and_deliver(settings, db)

    assert (deliveries["pagerduty"].status, deliveries["pagerduty"].attempts) == ("delivered", 3)
    assert deliveries["pagerduty"].last_status_code == 202 and deliveries["pagerduty"].delivered_at
    assert (deliveries["slack"].status, deliveries["slack"].attempts) == ("delivered", 2)
    # Slack said "Retry-After: 1": the second attempt waited at least that long, not the 0.05 s backoff.
    assert slack_times[1] - slack_times[0] >= 1.0
    # Backoff doubles: 0.05 s, then 0.1 s.
    assert pagerduty_times[2] - pagerduty_times[1] >= 0.1
    assert deliveries["email"].attempts == 1 and len(smtp_sink.wait_for(1)) == 1


async def test_a_channel_that_is_down_fails_alone_after_its_retries(settings, db, smtp_sink, fake_slack):
    settings = alert_settings(settings, smtp_sink, fake_slack)
    with respx.mock:
        pagerduty = respx.post(PAGERDUTY_URL).mock(side_effect=httpx.ConnectError("connection refused"))
        respx.post(WEBHOOK_URL).mock(return_value=httpx.Response(404, text="no_service"))
        deliveries = await _fire_and_deliver(settings, db)

    down = deliveries["pagerduty"]
    assert (down.status, down.attempts, down.delivered_at) == ("failed", 5, None)
    assert "cannot reach PagerDuty" in (down.last_error or "") and pagerduty.call_count == 5
    # A permanent error is not retried.
    gone = deliveries["slack"]
    assert (gone.status, gone.attempts, gone.last_status_code) == ("failed", 1, 404)
    assert "no_service" in (gone.last_error or "")
    assert deliveries["email"].status == "delivered" and len(smtp_sink.wait_for(1)) == 1


async def test_slack_bot_posts_with_the_installed_token_and_waits_out_a_rate_limit(
    settings, db, smtp_sink, fake_slack
):
    settings = alert_settings(settings, smtp_sink, fake_slack)
    fake_slack.respond("chat.postMessage", 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
    fake_slack.respond("chat.postMessage", 200, {"ok": True, "channel": "C0SEC", "ts": "1.0"})

    deliveries = await _fire_and_deliver(
        settings, db, [{"type": "slack", "channel": "#sec"}], slack_token="xoxb-installed-token"
    )

    assert (deliveries["slack"].status, deliveries["slack"].attempts) == ("delivered", 2)
    first, second = fake_slack.calls("chat.postMessage")
    assert second.at - first.at >= 1.0
    assert second.headers["Authorization"] == "Bearer xoxb-installed-token"
    body = second.json()
    assert body["channel"] == "#sec"
    assert body["text"] == "Alert: prod (210987654321) \u2014 Security Risk Score 10, 1 signal"


async def test_a_stored_webhook_url_with_a_tab_fails_the_delivery_visibly(
    settings, db, smtp_sink, fake_slack
):
    """Stored before such URLs were refused: httpx would raise on it; the delivery says why instead."""
    settings = alert_settings(settings, smtp_sink, fake_slack)
    box = SecretBox(settings.secret_key)
    broken = {"type": "slack", "webhook_url_encrypted": box.encrypt(WEBHOOK_URL.replace("B000", "B0\t00"))}
    with respx.mock:
        respx.post(PAGERDUTY_URL).mock(return_value=httpx.Response(202, json={}))
        deliveries = await _fire_and_deliver(
            settings, db, stored_channels=[broken, *parse_channels([CHANNELS[1]], box, slack_installed=False)]
        )
    slack = deliveries["slack"]
    assert (slack.status, slack.attempts) == ("failed", 1)
    assert slack.last_error and "control characters" in slack.last_error
    assert deliveries["pagerduty"].status == "delivered"  # the others are not held up


async def test_an_exception_in_a_delivery_is_recorded_on_it(settings, db, smtp_sink, fake_slack, monkeypatch):
    settings = alert_settings(settings, smtp_sink, fake_slack)

    async def crash(self: PagerDutyChannel, notification: Any) -> Any:
        raise RuntimeError("a bug in the channel")

    monkeypatch.setattr(PagerDutyChannel, "deliver", crash)
    with respx.mock:
        respx.post(WEBHOOK_URL).mock(return_value=httpx.Response(200, text="ok"))
        deliveries = await _fire_and_deliver(settings, db)
    pagerduty = deliveries["pagerduty"]
    assert (pagerduty.status, pagerduty.attempts) == ("failed", 1)
    assert pagerduty.last_error == "delivery failed: RuntimeError: a bug in the channel"
    assert (deliveries["email"].status, deliveries["slack"].status) == ("delivered", "delivered")


async def test_an_alert_that_cannot_be_announced_fails_its_deliveries_visibly(
    settings, db, smtp_sink, fake_slack
):
    """A stored alert snapshot this version cannot read (an unknown severity) is recorded, not lost."""
    settings = alert_settings(settings, smtp_sink, fake_slack)
    with respx.mock:
        respx.post(PAGERDUTY_URL).mock(return_value=httpx.Response(202, json={}))
        respx.post(WEBHOOK_URL).mock(return_value=httpx.Response(200, text="ok"))
        deliveries = await _fire_and_deliver(settings, db, severity_on_record="URGENT")
    for delivery in deliveries.values():
        assert delivery.status == "failed"
        assert delivery.last_error and "URGENT" in delivery.last_error
