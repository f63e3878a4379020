"""Slack app installation: the authorize URL and the ``oauth.v2.access`` code exchange.

The ``state`` parameter is minted and checked with :func:`vigilare.crypto.sign_state` /
:func:`vigilare.crypto.verify_state`; the caller marks its nonce used so a state works once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from vigilare.alerts.channels.slack_channel import DEFAULT_SLACK_API_URL

SLACK_AUTHORIZE_URL = "https://slack.com/oauth/v2/authorize"
# chat:write.public lets the bot post in public channels without being invited to each one first.
DEFAULT_SLACK_SCOPES = ("chat:write", "chat:write.public")


class SlackOAuthError(Exception):
    """The code exchange failed. ``code`` is Slack's error (e.g. ``invalid_code``) or ``unreachable``."""

    def __init__(self, code: str, *, retryable: bool = False) -> None:
        super().__init__(f"Slack installation failed: {code}")
        self.code = code
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class SlackInstallation:
    """What to store for an installed workspace. ``bot_token`` is a secret: encrypt it (SecretBox)."""

    team_id: str
    team_name: str
    bot_token: str
    bot_user_id: str
    scopes: tuple[str, ...]
    app_id: str | None = None
    enterprise_id: str | None = None
    # Present only when the app requested the ``incoming-webhook`` scope.
    incoming_webhook_url: str | None = None
    incoming_webhook_channel: str | None = None


def slack_authorize_url(
    *,
    client_id: str,
    redirect_uri: str,
    state: str,
    scopes: Sequence[str] = DEFAULT_SLACK_SCOPES,
    authorize_url: str = SLACK_AUTHORIZE_URL,
) -> str:
    """The URL ``GET /integrations/slack/oauth-start`` returns as ``oauth_url``."""
    query = urlencode(
        {"client_id": client_id, "scope": ",".join(scopes), "redirect_uri": redirect_uri, "state": state}
    )
    return f"{authorize_url}?{query}"


async def exchange_slack_code(
    code: str,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    api_url: str = DEFAULT_SLACK_API_URL,
) -> SlackInstallation:
    """Trade the ``code`` from Slack's redirect for the workspace's bot token."""
    client = AsyncWebClient(base_url=api_url)
    try:
        response = await client.oauth_v2_access(
            client_id=client_id, client_secret=client_secret, code=code, redirect_uri=redirect_uri
        )
    except SlackApiError as exc:
        data = getattr(exc.response, "data", None)
        error = data.get("error") if isinstance(data, dict) else None
        status = getattr(exc.response, "status_code", None) or getattr(exc.response, "status", None)
        retryable = status is not None and (status == 429 or status >= 500)
        raise SlackOAuthError(str(error or f"http_{status}"), retryable=retryable) from exc
    except (SlackClientError, OSError, TimeoutError) as exc:
        raise SlackOAuthError("unreachable", retryable=True) from exc

    data = response.data if isinstance(response.data, dict) else {}
    team = data.get("team") or {}
    token, bot_user_id = data.get("access_token"), data.get("bot_user_id")
    if data.get("token_type") != "bot" or not token or not bot_user_id or not team.get("id"):
        # A user-token-only install gives us nothing we can post with.
        raise SlackOAuthError("no_bot_token")
    webhook = data.get("incoming_webhook") or {}
    enterprise = data.get("enterprise") or {}
    return SlackInstallation(
        team_id=str(team["id"]),
        team_name=str(team.get("name") or ""),
        bot_token=str(token),
        bot_user_id=str(bot_user_id),
        scopes=tuple(scope for scope in str(data.get("scope") or "").split(",") if scope),
        app_id=data.get("app_id"),
        enterprise_id=enterprise.get("id"),
        incoming_webhook_url=webhook.get("url"),
        incoming_webhook_channel=webhook.get("channel"),
    )
