"""Installing the Vigilare Slack app for a tenant: the signed start URL and the OAuth callback.

The ``state`` is signed, expires after ``STATE_TTL_SECONDS``, names the tenant and the admin who
started the flow, and works once: its nonce is stored when redeemed, before the code is exchanged.
"""

from __future__ import annotations

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


def redirect_uri(settings: Settings) -> str:
    return f"{settings.public_url.rstrip('/')}/webhooks/slack/install"


def _require_configured(settings: Settings) -> None:
    if not settings.slack_client_id or not settings.slack_client_secret:
        raise ServiceUnavailable(
            "Slack is not configured on this server: set VIGILARE_SLACK_CLIENT_ID and "
            "VIGILARE_SLACK_CLIENT_SECRET"
        )


def oauth_start_url(settings: Settings, principal: Principal, now: datetime | None = None) -> str:
    _require_configured(settings)
    state = sign_state(
        {"tenant_id": principal.tenant_id, "user_id": principal.user_id},
        STATE_TTL_SECONDS,
        secret_key=settings.secret_key,
        now=now,
    )
    return slack_authorize_url(
        client_id=settings.slack_client_id, redirect_uri=redirect_uri(settings), state=state
    )


async def redeem_state(session: AsyncSession, settings: Settings, state: str) -> VerifiedState:
    """Check the state and mark it used; the request commits that even if a later step fails."""
    try:
        verified = verify_state(state, secret_key=settings.secret_key)
    except ExpiredStateError as exc:
        raise BadRequest("state: the Slack install link has expired; start again") from exc
    except InvalidStateError as exc:
        raise BadRequest("state: invalid Slack install state") from exc
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
    session: AsyncSession, settings: Settings, code: str | None, state: str | None, error: str | None
) -> SlackInstallation:
    _require_configured(settings)
    if not state:
        raise BadRequest("state: required")
    verified = await redeem_state(session, settings, state)
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
