"""Sign-up, login, token refresh and rotation, logout, invitation acceptance."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.auth.models import TRIAL_DAYS, Invitation, RefreshToken, Tenant, User
from vigilare.auth.passwords import hash_password, verify_password
from vigilare.auth.roles import OWNER, Principal
from vigilare.auth.tokens import ID, REFRESH, TokenIssuer, TokenSet, hash_token
from vigilare.db.tenancy import tenant_scope
from vigilare.errors import BadRequest, Conflict, RateLimited, Unauthorized
from vigilare.ids import new_id, utcnow
from vigilare.ratelimit import Counter

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LOGIN_WINDOW_SECONDS = 15 * 60
MIN_PASSWORD = 8


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 320:
        raise BadRequest("email: not a valid email address")
    return email


def clean_name(name: str, field: str = "name") -> str:
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise BadRequest(f"{field}: must be 1 to 200 characters")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise BadRequest(f"password: must be at least {MIN_PASSWORD} characters")
    return password


async def email_taken(session: AsyncSession, email: str) -> bool:
    return (await session.scalar(select(User.id).where(User.email == email))) is not None


async def signup(session: AsyncSession, email: str, password: str, name: str) -> tuple[Tenant, User]:
    email, name, password = normalise_email(email), clean_name(name), check_password(password)
    if await email_taken(session, email):
        raise Conflict("an account with this email already exists")
    now = utcnow()
    tenant = Tenant(
        id=new_id(), name=name, plan="solo", status="trialing", trial_ends_at=now + timedelta(days=TRIAL_DAYS)
    )
    user = User(
        id=new_id(),
        tenant_id=tenant.id,
        email=email,
        name=name,
        role=OWNER,
        status="active",
        password_hash=await hash_password(password),
    )
    session.add(tenant)
    await session.flush()  # the user row references it
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent sign-up with the same email won the race
        raise Conflict("an account with this email already exists") from exc
    return tenant, user


async def _issue(session: AsyncSession, issuer: TokenIssuer, user: User, family_id: str) -> TokenSet:
    tokens = issuer.issue(
        user_id=user.id,
        tenant_id=user.tenant_id,
        role=user.role,
        email=user.email,
        name=user.name,
        token_version=user.token_version,
        family_id=family_id,
    )
    now = utcnow()
    session.add(
        RefreshToken(
            id=tokens.refresh_jti,
            tenant_id=user.tenant_id,
            user_id=user.id,
            family_id=family_id,
            token_hash=hash_token(tokens.refresh_token),
            issued_at=now,
            expires_at=now + timedelta(days=30),
        )
    )
    return tokens


async def login(
    session: AsyncSession,
    issuer: TokenIssuer,
    counter: Counter,
    email: str,
    password: str,
    client: str,
    max_failures: int,
) -> TokenSet:
    email = email.strip().lower()
    email_key, client_key = f"login:email:{email}", f"login:client:{client}"
    for key, limit in ((email_key, max_failures), (client_key, max_failures * 4)):
        count, retry_after = await counter.peek(key)
        if count >= limit:
            raise RateLimited("too many failed logins; try again later", retry_after=retry_after)
    user = await session.scalar(select(User).where(User.email == email))
    # Always verify (against a dummy hash when there is no user) so timing does not leak emails.
    ok = await verify_password(user.password_hash if user else None, password)
    if not ok or user is None or user.status != "active":
        await counter.hit(email_key, LOGIN_WINDOW_SECONDS)
        await counter.hit(client_key, LOGIN_WINDOW_SECONDS)
        raise Unauthorized("invalid email or password")
    await counter.reset(email_key)
    return await _issue(session, issuer, user, family_id=new_id())


async def revoke_family(session: AsyncSession, family_id: str) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def refresh(session: AsyncSession, issuer: TokenIssuer, refresh_token: str) -> TokenSet:
    claims = issuer.decode(refresh_token, REFRESH)
    stored = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == hash_token(refresh_token))
    )
    if stored is None or stored.revoked_at is not None:
        raise Unauthorized("refresh token revoked")
    # Mark it used atomically: of two concurrent presentations only one wins.
    claimed = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == stored.id, RefreshToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        # Reuse of a rotated token means it leaked: end the whole login, for the thief and the user.
        await revoke_family(session, stored.family_id)
        session.info["commit_even_on_error"] = True
        raise Unauthorized("refresh token already used; the session has been revoked")
    user = await session.get(User, stored.user_id)
    if user is None or user.status != "active" or user.token_version != claims.token_version:
        await revoke_family(session, stored.family_id)
        session.info["commit_even_on_error"] = True
        raise Unauthorized("refresh token no longer valid")
    return await _issue(session, issuer, user, family_id=stored.family_id)


async def authenticate(session: AsyncSession, issuer: TokenIssuer, authorization: str) -> Principal:
    """The caller of a request, from its ``Authorization: Bearer <id token>`` header.

    The token must still match the user: an inactive user or a bumped ``token_version`` (role
    change, removal) ends every token issued before. ``session`` is scoped to the token's tenant
    before it reads, so no query of an authenticated request ever runs unscoped.
    """
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing Bearer token")
    claims = issuer.decode(token.strip(), ID)
    tenant_scope(session, claims.tenant_id)
    user = await session.scalar(
        select(User).where(User.id == claims.user_id, User.tenant_id == claims.tenant_id)
    )
    if user is None or user.status != "active" or user.token_version != claims.token_version:
        raise Unauthorized("token no longer valid")
    return Principal(
        user_id=user.id,
        tenant_id=user.tenant_id,
        role=user.role,
        email=user.email,
        name=user.name,
        family_id=claims.family_id,
    )


async def logout(session: AsyncSession, principal: Principal) -> None:
    await revoke_family(session, principal.family_id)


async def accept_invite(session: AsyncSession, token: str, password: str) -> User:
    check_password(password)
    invitation = await session.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))
    now = utcnow()
    if invitation is None or invitation.accepted_at is not None or invitation.expires_at <= now:
        raise BadRequest("token: invitation is invalid, expired or already used")
    claimed = await session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.accepted_at.is_(None))
        .values(accepted_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise BadRequest("token: invitation is invalid, expired or already used")
    user = await session.get(User, invitation.user_id)
    if user is None:
        raise BadRequest("token: invitation is invalid, expired or already used")
    user.password_hash = await hash_password(password)
    user.status = "active"
    return user
