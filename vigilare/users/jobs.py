"""Jobs of the users domain."""

from __future__ import annotations

import logging

from sqlalchemy import select

from vigilare.auth.models import Tenant, User
from vigilare.jobs import JobContext, Retry, job
from vigilare.links import accept_invite_url
from vigilare.mail import MailDeliveryError, send_email
from vigilare.users.invitations import INVITATION_TTL, create_invitation

logger = logging.getLogger("vigilare.users")


@job("send_invitation")
async def send_invitation(ctx: JobContext, user_id: str, invited_by: str | None) -> None:
    """Create a single-use invitation link for an invited user and email it."""
    async with ctx.unit_of_work() as session:
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
        if exc.retryable:
            raise Retry(defer_seconds=10 * ctx.attempt) from exc
        raise
