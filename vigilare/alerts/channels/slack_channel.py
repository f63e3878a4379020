"""Slack alerts: ``chat.postMessage`` with the workspace's bot token, or an incoming webhook.

Rate limits: Slack answers HTTP 429 with ``Retry-After``. We do not wait inside the call (a worker
slot would sit idle and arq's job timeout would be at risk); the result carries ``retry_after`` and
``retryable=True`` and the job layer re-schedules the delivery after that delay.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from vigilare.alerts.channels.base import (
    AlertNotification,
    ChannelType,
    DeliveryResult,
    is_retryable_http_status,
    parse_retry_after,
)
from vigilare.alerts.channels.formatting import headline, slack_blocks
from vigilare.crypto import mask_secret
from vigilare.text import has_control_characters

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
SLACK_WEBHOOK_HOSTS = frozenset({"hooks.slack.com"})
DEFAULT_TIMEOUT_SECONDS = 10

# Slack ``error`` codes that a later attempt may get past; every other code needs a human.
_TRANSIENT_SLACK_ERRORS = frozenset(
    {"ratelimited", "rate_limited", "service_unavailable", "internal_error", "fatal_error", "request_timeout"}
)


class InvalidWebhookUrlError(ValueError):
    """The URL is not a Slack incoming webhook (we refuse to post tenant data anywhere else)."""


def validate_slack_webhook_url(url: str, allowed_hosts: frozenset[str] = SLACK_WEBHOOK_HOSTS) -> str:
    """Accept only ``https://hooks.slack.com/...``: a tenant-supplied URL must not reach internal hosts.

    Control characters are refused outright: ``urlsplit`` silently drops tab, CR and LF, so the
    URL it approves is not the one an HTTP client would later be asked to send.
    """
    if has_control_characters(url):
        raise InvalidWebhookUrlError("webhook_url must not contain control characters (tab, CR, LF, ...)")
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or parts.hostname not in allowed_hosts or parts.port not in (None, 443):
        raise InvalidWebhookUrlError(
            "webhook_url must be a Slack incoming webhook (https://hooks.slack.com/...)"
        )
    if parts.username or parts.password or not parts.path.strip("/"):
        raise InvalidWebhookUrlError(
            "webhook_url must be a Slack incoming webhook (https://hooks.slack.com/...)"
        )
    return url.strip()


def slack_message(notification: AlertNotification) -> dict[str, Any]:
    """``text`` is the fallback shown in notifications and by clients that cannot draw blocks."""
    return {"text": headline(notification), "blocks": slack_blocks(notification)}


class SlackBotChannel:
    """Posts with the bot token of the workspace the tenant installed the Vigilare app into."""

    channel_type = ChannelType.SLACK

    def __init__(
        self,
        bot_token: str,
        channel: str,
        *,
        api_url: str = DEFAULT_SLACK_API_URL,
        timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        if not channel:
            raise ValueError("a Slack channel (id or #name) is required")
        self._bot_token = bot_token
        self._channel = channel
        self._api_url = api_url
        self._timeout_seconds = timeout_seconds

    @property
    def target(self) -> str:
        return self._channel

    async def deliver(self, notification: AlertNotification) -> DeliveryResult:
        # Built per delivery: the token differs per tenant, and the client holds no pooled session.
        client = AsyncWebClient(token=self._bot_token, base_url=self._api_url, timeout=self._timeout_seconds)
        try:
            response = await client.chat_postMessage(channel=self._channel, **slack_message(notification))
        except SlackApiError as exc:
            return self._api_error_result(exc)
        except (SlackClientError, OSError, TimeoutError) as exc:
            # aiohttp connection failures derive from OSError; slack-sdk already retried once.
            return self._result(ok=False, error=f"cannot reach Slack: {exc!r}", retryable=True)
        return self._result(ok=True, status_code=response.status_code)

    def _api_error_result(self, exc: SlackApiError) -> DeliveryResult:
        response = exc.response
        # On an unparseable body slack-sdk passes the raw aiohttp response (``status``, not ``status_code``).
        status = getattr(response, "status_code", None) or getattr(response, "status", None)
        headers = getattr(response, "headers", None) or {}
        data = getattr(response, "data", None)
        code = data.get("error") if isinstance(data, dict) else None
        retry_after = parse_retry_after(headers.get("Retry-After"))
        retryable = (
            (status is not None and is_retryable_http_status(status))
            or code in _TRANSIENT_SLACK_ERRORS
            or retry_after is not None
        )
        return self._result(
            ok=False,
            status_code=status,
            error=f"Slack API error: {code or exc}",
            error_code=code,
            retryable=retryable,
            retry_after=retry_after,
        )

    def _result(self, **fields: Any) -> DeliveryResult:
        return DeliveryResult(channel_type=self.channel_type, target=self.target, **fields)


class SlackWebhookChannel:
    """Posts to an incoming webhook URL (the URL is the secret: it is masked in results)."""

    channel_type = ChannelType.SLACK

    def __init__(self, webhook_url: str, *, http: httpx.AsyncClient) -> None:
        self._webhook_url = validate_slack_webhook_url(webhook_url)
        self._http = http

    @property
    def target(self) -> str:
        return f"webhook {mask_secret(self._webhook_url)}"

    async def deliver(self, notification: AlertNotification) -> DeliveryResult:
        try:
            response = await self._http.post(
                self._webhook_url, json=slack_message(notification), follow_redirects=False
            )
        except httpx.TransportError as exc:
            return self._result(ok=False, error=f"cannot reach Slack: {exc!r}", retryable=True)
        if response.status_code == 200:
            return self._result(ok=True, status_code=200)
        return self._result(
            ok=False,
            status_code=response.status_code,
            # Webhooks answer errors as a short text code: invalid_payload, no_service, channel_not_found...
            error=f"Slack webhook error: {response.text[:200] or response.reason_phrase}",
            error_code=response.text.strip()[:64] or None,
            retryable=is_retryable_http_status(response.status_code),
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )

    def _result(self, **fields: Any) -> DeliveryResult:
        return DeliveryResult(channel_type=self.channel_type, target=self.target, **fields)
