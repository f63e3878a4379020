"""Jobs of the users domain."""

from __future__ import annotations

import logging

from sqlalchemy import select, update

from vigilare.auth.models import Invitation, Tenant, User
from vigilare.auth.tokens import hash_token
from vigilare.jobs import JobContext, Retry, job
from vigilare.links import accept_invite_url
from vigilare.mail import MailDeliveryError, send_email
from vigilare.users.invitations import INVITATION_TTL, create_invitation

logger = logging.getLogger("vigilare.users")

MAX_SEND_ERROR = 500


@job("send_invitation")
async def send_invitation(ctx: JobContext, user_id: str, invited_by: str | None) -> None:
    """Create a single-use invitation link for an invited user and email it.

    When the email cannot be sent, the reason is recorded on the invitation (``GET /users`` shows
    it on the invited user) instead of vanishing with the job.
    """
    async with ctx.unit_of_work(cross_tenant=True) as session:
        user = await session.scalar(select(User).where(User.id == user_id))
        if user is None or user.status != "invited":
            return  # removed or already accepted meanwhile: nothing to send
        tenant = await session.get_one(Tenant, user.tenant_id)
        inviter = await session.get(User, invited_by) if invited_by else None
        token = await create_invitation(session, user, invited_by)
    link = accept_invite_url(ctx.settings, token)
    hours = int(INVITATION_TTL.total_seconds() // 3600)
    who = inviter.name if inviter else "A teammate"
    text = (
        f"Hello {user.name},\n\n{who} invited you to join {tenant.name} on Vigilare as {user.role}.\n\n"
        f"Accept the invitation and choose a password:\n{link}\n\n"
        f"Or call POST /auth/accept-invite with this token: {token}\n\n"
        f"The link works once and expires in {hours} hours.\n"
    )
    try:
        await send_email(ctx.settings, [user.email], f"You're invited to {tenant.name} on Vigilare", text)
    except MailDeliveryError as exc:
        logger.warning("invitation email to user %s failed: %s", user_id, exc)
        retry = exc.retryable and not ctx.is_last_attempt
        await _record_send_error(ctx, token, f"{exc}; trying again" if retry else str(exc))
        if retry:
            raise Retry(defer_seconds=10 * ctx.attempt) from exc
    except Exception as exc:
        logger.exception("invitation email to user %s could not be built or sent", user_id)
        await _record_send_error(ctx, token, f"the invitation email could not be sent: {exc}")


async def _record_send_error(ctx: JobContext, token: str, error: str) -> None:
    async with ctx.unit_of_work(cross_tenant=True) as session:
        await session.execute(
            update(Invitation)
            .where(Invitation.token_hash == hash_token(token))
            .values(send_error=error[:MAX_SEND_ERROR])
        )
