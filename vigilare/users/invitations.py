"""Invitation tokens: single-use, expiring, stored as a hash."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.auth.models import Invitation, User
from vigilare.auth.tokens import hash_token
from vigilare.ids import utcnow

INVITATION_TTL = timedelta(hours=72)


async def create_invitation(session: AsyncSession, user: User, invited_by: str | None) -> str:
    """A new single-use invitation token for an invited user; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        Invitation(
            tenant_id=user.tenant_id,
            user_id=user.id,
            token_hash=hash_token(token),
            invited_by=invited_by,
            created_at=now,
            expires_at=now + INVITATION_TTL,
        )
    )
    await session.flush()
    return token
