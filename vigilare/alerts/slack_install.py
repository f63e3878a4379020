"""Installing the Vigilare Slack app for a tenant: the signed start URL and the OAuth callback.

The ``state`` is signed, expires after ``STATE_TTL_SECONDS``, names the tenant and the admin who
started the flow, and works once: its nonce is stored when redeemed, before the code is exchanged.

The state is also bound to the browser that started the install. Anyone who sees the ``oauth_url``
could otherwise open it and install *their* workspace into the tenant. Starting the install sets a
short-lived HttpOnly cookie holding a random nonce, and the signed state carries that nonce's hash.
The callback is refused unless the browser that reaches it sends the cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.alerts.channels.slack_oauth import (
    SlackInstallation as InstalledWorkspace,
)
from vigilare.alerts.channels.slack_oauth import (
    SlackOAuthError,
    exchange_slack_code,
    slack_authorize_url,
)
from vigilare.alerts.models import SlackInstallation, UsedOAuthState
from vigilare.auth.models import User
from vigilare.auth.roles import ADMIN, Principal, role_at_least
from vigilare.config import Settings
from vigilare.crypto import (
    ExpiredStateError,
    InvalidStateError,
    SecretBox,
    VerifiedState,
    sign_state,
    verify_state,
)
from vigilare.errors import BadRequest, Forbidden, ServiceUnavailable
from vigilare.ids import new_id, utcnow

STATE_TTL_SECONDS = 600
BROWSER_COOKIE = "vigilare_slack_install"
CALLBACK_PATH = "/webhooks/slack/install"


def redirect_uri(settings: Settings) -> str:
    return f"{settings.public_url.rstrip('/')}{CALLBACK_PATH}"


def _require_configured(settings: Settings) -> None:
    if not settings.slack_client_id or not settings.slack_client_secret:
        raise ServiceUnavailable(
            "Slack is not configured on this server: set VIGILARE_SLACK_CLIENT_ID and "
            "VIGILARE_SLACK_CLIENT_SECRET"
        )


@dataclass(frozen=True)
class InstallStart:
    oauth_url: str
    # Goes to the starting browser only, in a cookie the callback checks.
    browser_nonce: str


def _browser_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def start_install(settings: Settings, principal: Principal, now: datetime | None = None) -> InstallStart:
    _require_configured(settings)
    nonce = secrets.token_urlsafe(32)
    state = sign_state(
        {"tenant_id": principal.tenant_id, "user_id": principal.user_id, "browser": _browser_hash(nonce)},
        STATE_TTL_SECONDS,
        secret_key=settings.secret_key,
        now=now,
    )
    url = slack_authorize_url(
        client_id=settings.slack_client_id, redirect_uri=redirect_uri(settings), state=state
    )
    return InstallStart(oauth_url=url, browser_nonce=nonce)


def _check_browser(verified: VerifiedState, browser_nonce: str | None) -> None:
    expected = verified.payload.get("browser")
    if (
        not isinstance(expected, str)
        or not browser_nonce
        or not hmac.compare_digest(expected, _browser_hash(browser_nonce))
    ):
        raise BadRequest(
            "state: this Slack install was started in another browser (or its cookie expired); "
            "start it again from the browser you are using"
        )


async def redeem_state(
    session: AsyncSession, settings: Settings, state: str, browser_nonce: str | None
) -> VerifiedState:
    """Check the state and the browser, then mark the state used; the request commits that even
    if a later step fails. A callback from another browser does not spend the state."""
    try:
        verified = verify_state(state, secret_key=settings.secret_key)
    except ExpiredStateError as exc:
        raise BadRequest("state: the Slack install link has expired; start again") from exc
    except InvalidStateError as exc:
        raise BadRequest("state: invalid Slack install state") from exc
    _check_browser(verified, browser_nonce)
    session.add(
        UsedOAuthState(
            nonce=verified.nonce,
            tenant_id=verified.tenant_id,
            used_at=utcnow(),
            expires_at=verified.expires_at,
        )
    )
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise BadRequest("state: this Slack install link was already used; start again") from exc
    # The nonce is spent whatever happens next: keep it even if a later step fails.
    session.info["commit_even_on_error"] = True
    user = await session.scalar(
        select(User).where(User.id == verified.user_id, User.tenant_id == verified.tenant_id)
    )
    if user is None or user.status != "active" or not role_at_least(user.role, ADMIN):
        raise Forbidden("the user who started the Slack install may no longer connect Slack")
    return verified


async def complete_install(
    session: AsyncSession,
    settings: Settings,
    code: str | None,
    state: str | None,
    error: str | None,
    browser_nonce: str | None,
) -> SlackInstallation:
    _require_configured(settings)
    if not state:
        raise BadRequest("state: required")
    verified = await redeem_state(session, settings, state, browser_nonce)
    if error:
        raise BadRequest(f"Slack install was not completed: {error}")
    if not code:
        raise BadRequest("code: required")
    try:
        workspace = await exchange_slack_code(
            code,
            settings.slack_client_id,
            settings.slack_client_secret,
            redirect_uri(settings),
            api_url=settings.slack_api_url,
        )
    except SlackOAuthError as exc:
        if exc.retryable:
            raise ServiceUnavailable(f"{exc}; try again shortly") from exc
        raise BadRequest(str(exc)) from exc
    return await _store(session, settings, verified, workspace)


async def _store(
    session: AsyncSession, settings: Settings, verified: VerifiedState, workspace: InstalledWorkspace
) -> SlackInstallation:
    box = SecretBox(settings.secret_key)
    installation = await session.scalar(
        select(SlackInstallation).where(SlackInstallation.tenant_id == verified.tenant_id)
    )
    if installation is None:
        installation = SlackInstallation(id=new_id(), tenant_id=verified.tenant_id)
        session.add(installation)
    installation.team_id = workspace.team_id
    installation.team_name = workspace.team_name
    installation.bot_user_id = workspace.bot_user_id
    installation.bot_token_encrypted = box.encrypt(workspace.bot_token)
    installation.scopes = list(workspace.scopes)
    installation.installed_by = verified.user_id
    installation.updated_at = utcnow()
    await session.flush()
    return installation
