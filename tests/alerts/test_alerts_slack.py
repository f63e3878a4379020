from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

from tests.support.slack import FakeSlack
from vigilare.alerts.channels.base import AlertNotification, ChannelType
from vigilare.alerts.channels.slack_channel import (
    InvalidWebhookUrlError,
    SlackBotChannel,
    SlackWebhookChannel,
    validate_slack_webhook_url,
)
from vigilare.alerts.channels.slack_oauth import SlackOAuthError, exchange_slack_code, slack_authorize_url

WEBHOOK_URL = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXabcd"


async def test_bot_posts_block_kit_message_with_bearer_token(
    fake_slack: FakeSlack, notification: AlertNotification
) -> None:
    fake_slack.respond(
        "chat.postMessage", 200, {"ok": True, "channel": "C0ALERTS", "ts": "1716372000.000100"}
    )
    channel = SlackBotChannel("xoxb-test-token", "#security-alerts", api_url=fake_slack.base_url)

    result = await channel.deliver(notification)

    assert result.ok and result.status_code == 200
    assert (result.channel_type, result.target) == (ChannelType.SLACK, "#security-alerts")
    [request] = fake_slack.requests
    assert (request.method, request.path) == ("POST", "/api/chat.postMessage")
    assert request.headers["Authorization"] == "Bearer xoxb-test-token"
    body = request.json()
    assert set(body) == {"channel", "text", "blocks"}
    assert body["channel"] == "#security-alerts"
    assert body["text"] == "Alert: prod (123456789012) \u2014 Security Risk Score 38, 2 signals"
    header, fields, first_signal, second_signal, actions = body["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": body["text"]}}
    assert {"type": "mrkdwn", "text": "*Security Risk Score*\n38/100"} in fields["fields"]
    # Tenant names are escaped for mrkdwn so "<Corp>" cannot become a link or mention.
    assert {"type": "mrkdwn", "text": "*Tenant*\nAcme &lt;Corp&gt;"} in fields["fields"]
    assert "*CRITICAL*" in first_signal["text"]["text"]
    assert "arn:aws:iam::123456789012:user/deploy" in first_signal["text"]["text"]
    assert "*HIGH*" in second_signal["text"]["text"]
    assert [button["url"] for button in actions["elements"]] == [
        notification.checklist_url,
        notification.dashboard_url,
    ]


async def test_bot_rate_limit_reports_retry_after(
    fake_slack: FakeSlack, notification: AlertNotification
) -> None:
    fake_slack.respond("chat.postMessage", 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "30"})
    channel = SlackBotChannel("xoxb-test-token", "C0ALERTS", api_url=fake_slack.base_url)

    result = await channel.deliver(notification)

    assert not result.ok
    assert result.status_code == 429
    assert result.retryable is True
    assert result.retry_after == 30.0
    # Not retried inside the call: the job layer schedules the retry.
    assert len(fake_slack.requests) == 1


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "token_revoked", "invalid_auth"])
async def test_bot_permanent_slack_errors_are_not_retryable(
    fake_slack: FakeSlack, notification: AlertNotification, error: str
) -> None:
    fake_slack.respond("chat.postMessage", 200, {"ok": False, "error": error})
    channel = SlackBotChannel("xoxb-test-token", "C0ALERTS", api_url=fake_slack.base_url)

    result = await channel.deliver(notification)

    assert not result.ok and not result.retryable
    assert result.retry_after is None
    assert result.error_code == error


async def test_bot_slack_server_error_is_retryable(
    fake_slack: FakeSlack, notification: AlertNotification
) -> None:
    fake_slack.respond("chat.postMessage", 503, {"ok": False, "error": "service_unavailable"})
    # slack-sdk's default retry handlers only retry connection errors, so one 503 reaches us.
    result = await SlackBotChannel("xoxb-t", "C1", api_url=fake_slack.base_url).deliver(notification)

    assert not result.ok and result.retryable and result.status_code == 503


@respx.mock
async def test_webhook_posts_text_and_blocks(
    http_client: httpx.AsyncClient, notification: AlertNotification
) -> None:
    route = respx.post(WEBHOOK_URL).mock(return_value=httpx.Response(200, text="ok"))

    result = await SlackWebhookChannel(WEBHOOK_URL, http=http_client).deliver(notification)

    assert result.ok and result.status_code == 200
    assert result.target == "webhook \u2022\u2022\u2022\u2022\u2022\u2022\u2022\u2022abcd"
    body = json.loads(route.calls.last.request.content)
    assert body["text"] == "Alert: prod (123456789012) \u2014 Security Risk Score 38, 2 signals"
    assert body["blocks"][0]["type"] == "header"
    assert body["blocks"][-1]["elements"][0]["url"] == notification.checklist_url
    assert route.calls.last.request.headers["content-type"] == "application/json"


@respx.mock
@pytest.mark.parametrize(
    ("status", "headers", "retryable", "retry_after"),
    [
        (429, {"Retry-After": "12"}, True, 12.0),
        (500, {}, True, None),
        (404, {}, False, None),  # no_service: the webhook was revoked
        (400, {}, False, None),  # invalid_payload
    ],
)
async def test_webhook_failures(
    http_client: httpx.AsyncClient,
    notification: AlertNotification,
    status: int,
    headers: dict[str, str],
    retryable: bool,
    retry_after: float | None,
) -> None:
    respx.post(WEBHOOK_URL).mock(return_value=httpx.Response(status, text="no_service", headers=headers))

    result = await SlackWebhookChannel(WEBHOOK_URL, http=http_client).deliver(notification)

    assert not result.ok
    assert (result.status_code, result.retryable, result.retry_after) == (status, retryable, retry_after)
    assert result.error_code == "no_service"
    assert WEBHOOK_URL not in (result.error or "") + result.target


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.slack.com/services/T/B/X",
        "https://169.254.169.254/latest/meta-data",
        "https://hooks.slack.com.evil.test/services/T/B/X",
        "https://user:pw@hooks.slack.com/services/T/B/X",
        "https://hooks.slack.com:8443/services/T/B/X",
        "https://hooks.slack.com/",
    ],
)
def test_only_slack_webhook_urls_are_accepted(url: str) -> None:
    with pytest.raises(InvalidWebhookUrlError):
        validate_slack_webhook_url(url)


async def test_oauth_code_exchange_returns_installation(fake_slack: FakeSlack) -> None:
    fake_slack.respond(
        "oauth.v2.access",
        200,
        {
            "ok": True,
            "access_token": "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
            "token_type": "bot",
            "scope": "chat:write,chat:write.public",
            "bot_user_id": "U0KRQLJ9H",
            "app_id": "A0KRD7HC3",
            "team": {"name": "Slack Softball Team", "id": "T9TK3CUKW"},
            "enterprise": None,
            "authed_user": {"id": "U1234", "scope": "", "access_token": None, "token_type": "user"},
        },
    )

    installation = await exchange_slack_code(
        "code-123",
        "client-id",
        "client-secret",
        "https://app.vigilare.test/webhooks/slack/install",
        api_url=fake_slack.base_url,
    )

    assert installation.team_id == "T9TK3CUKW"
    assert installation.team_name == "Slack Softball Team"
    assert installation.bot_token == "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
    assert installation.bot_user_id == "U0KRQLJ9H"
    assert installation.scopes == ("chat:write", "chat:write.public")
    [request] = fake_slack.requests
    assert request.path == "/api/oauth.v2.access"
    expected_auth = "Basic " + base64.b64encode(b"client-id:client-secret").decode()
    assert request.headers["Authorization"] == expected_auth
    assert request.form() == {
        "code": "code-123",
        "redirect_uri": "https://app.vigilare.test/webhooks/slack/install",
    }


@pytest.mark.parametrize(
    ("status", "body", "code", "retryable"),
    [
        (200, {"ok": False, "error": "invalid_code"}, "invalid_code", False),
        (200, {"ok": False, "error": "bad_redirect_uri"}, "bad_redirect_uri", False),
        (
            200,
            {"ok": True, "access_token": "xoxp-1", "token_type": "user", "team": {"id": "T1"}},
            "no_bot_token",
            False,
        ),
        (500, {"ok": False, "error": "fatal_error"}, "fatal_error", True),
    ],
)
async def test_oauth_code_exchange_failure_raises_typed_error(
    fake_slack: FakeSlack, status: int, body: dict[str, object], code: str, retryable: bool
) -> None:
    fake_slack.respond("oauth.v2.access", status, body)

    with pytest.raises(SlackOAuthError) as caught:
        await exchange_slack_code("stale", "id", "secret", "https://x.test/cb", api_url=fake_slack.base_url)

    assert (caught.value.code, caught.value.retryable) == (code, retryable)


def test_authorize_url_carries_encoded_parameters() -> None:
    url = slack_authorize_url(
        client_id="123.456",
        redirect_uri="https://app.vigilare.test/webhooks/slack/install?x=1",
        state="s.t.u",
    )

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://slack.com/oauth/v2/authorize"
    assert parse_qs(parts.query) == {
        "client_id": ["123.456"],
        "scope": ["chat:write,chat:write.public"],
        "redirect_uri": ["https://app.vigilare.test/webhooks/slack/install?x=1"],
        "state": ["s.t.u"],
    }
