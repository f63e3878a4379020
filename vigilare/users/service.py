"""Profile and team management. Every query runs on a tenant-scoped session."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.auth.models import Invitation, RefreshToken, Tenant, User
from vigilare.auth.roles import INVITABLE_ROLES, OWNER, Principal
from vigilare.auth.service import clean_name, email_taken, normalise_email
from vigilare.errors import BadRequest, Conflict, Forbidden, NotFound
from vigilare.ids import new_id, utcnow
from vigilare.jobs import enqueue_after_commit
from vigilare.users.jobs import send_invitation

CANNOT_INVITE = "email: this address cannot be invited"


async def get_me(session: AsyncSession, principal: Principal) -> tuple[User, Tenant]:
    user = await get_user(session, principal.user_id)
    tenant = await session.get_one(Tenant, principal.tenant_id)
    return user, tenant


async def rename_me(session: AsyncSession, principal: Principal, name: str) -> User:
    user = await get_user(session, principal.user_id)
    user.name = clean_name(name)
    return user


async def get_user(session: AsyncSession, user_id: str) -> User:
    user = await session.scalar(select(User).where(User.id == user_id))
    if user is None:
        raise NotFound("user not found")
    return user


async def list_users(session: AsyncSession) -> list[User]:
    return list(await session.scalars(select(User).order_by(User.created_at, User.id)))


async def invitation_errors(session: AsyncSession, users: list[User]) -> dict[str, str | None]:
    """For each invited user, why their latest invitation email could not be sent (None: it was)."""
    invited = [user.id for user in users if user.status == "invited"]
    if not invited:
        return {}
    rows = await session.execute(
        select(Invitation.user_id, Invitation.send_error)
        .where(Invitation.user_id.in_(invited))
        .order_by(Invitation.created_at, Invitation.id)
    )
    return dict(rows.tuples().all())  # the latest invitation of each user wins


def _check_invitable_role(role: str) -> str:
    if role not in INVITABLE_ROLES:
        raise BadRequest(f"role: must be one of {', '.join(INVITABLE_ROLES)}")
    return role


async def invite(session: AsyncSession, principal: Principal, email: str, name: str, role: str) -> User:
    email, name, role = normalise_email(email), clean_name(name), _check_invitable_role(role)
    # Emails are unique across tenants. The refusal is the same whether the address is in this
    # team or in another tenant, and never says which: it must not reveal who has an account.
    if await email_taken(session, email):
        raise Conflict(CANNOT_INVITE)
    user = User(
        id=new_id(),
        tenant_id=principal.tenant_id,
        email=email,
        name=name,
        role=role,
        status="invited",
        password_hash=None,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(CANNOT_INVITE) from exc
    enqueue_after_commit(session, send_invitation, user.id, principal.user_id)
    return user


async def change_role(session: AsyncSession, principal: Principal, user_id: str, role: str) -> User:
    user = await get_user(session, user_id)
    if user.role == OWNER:
        raise Forbidden("the owner's role cannot be changed")
    user.role = _check_invitable_role(role)
    await _invalidate_tokens(session, user)
    return user


async def remove_user(session: AsyncSession, principal: Principal, user_id: str) -> None:
    user = await get_user(session, user_id)
    if user.id == principal.user_id:
        raise Forbidden("you cannot remove yourself")
    if user.role == OWNER:
        raise Forbidden("the owner cannot be removed")
    await session.delete(user)


async def _invalidate_tokens(session: AsyncSession, user: User) -> None:
    # Outstanding id tokens carry the old version and stop working; refresh families are revoked.
    user.token_version += 1
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
