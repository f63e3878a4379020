"""Jobs of the auth domain."""

from __future__ import annotations

import logging

from sqlalchemy import select

from vigilare.auth.models import User
from vigilare.jobs import JobContext, Retry, job
from vigilare.mail import MailDeliveryError, send_email

logger = logging.getLogger("vigilare.auth")


@job("notify_signup_attempt")
async def notify_signup_attempt(ctx: JobContext, email: str) -> None:
    """Tell the owner of an email that someone tried to sign up with it.

    Sign-up answers such an attempt exactly as a new account, so this email is how the owner (and
    only the owner) learns of it.
    """
    async with ctx.unit_of_work(cross_tenant=True) as session:
        user = await session.scalar(select(User).where(User.email == email))
    if user is None:
        return  # removed meanwhile
    text = (
        f"Hello {user.name},\n\n"
        f"Someone just tried to create a new Vigilare account with this email address ({email}), "
        "which already has one. No account was created and nothing about yours has changed.\n\n"
        f"If it was you, log in with your existing password: {ctx.settings.public_url.rstrip('/')}\n\n"
        "If it was not you, you can ignore this email.\n"
    )
    try:
        await send_email(ctx.settings, [email], "Someone tried to sign up to Vigilare with your email", text)
    except MailDeliveryError as exc:
        logger.warning("sign-up attempt notice to user %s failed: %s", user.id, exc)
        if exc.retryable and not ctx.is_last_attempt:
            raise Retry(defer_seconds=10 * ctx.attempt) from exc
